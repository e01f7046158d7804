/*
 * `verify`: folds the instances whose live snapshot is at the configured
 * module version up to that snapshot's version and compares (engine:
 * sm_verify_start).  Progress as for a rebuild; then a table per type,
 * where instances differ (paths, with how many instances), and examples
 * with both values.  Exit 0 when every instance checked is equal, 1 when
 * one differs or failed, 130 when interrupted.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "util/alloc.h"

typedef struct verify_args {
	cli_ctx *ctx;
	sm_verify_options opts;
} verify_args;

/* --sample N or --sample P% (P may have decimals). */
static bool parse_sample(const char *s, sm_verify_options *o)
{
	size_t len = strlen(s);
	long long n;

	if (len > 1 && s[len - 1] == '%') {
		char *num = sm_xstrndup(s, len - 1), *end;
		double p;
		bool ok;

		errno = 0;
		p = strtod(num, &end);
		ok = !errno && end != num && !*end && p > 0 && p <= 100;
		free(num);
		if (!ok)
			return false;
		o->sample_percent = p;
		return true;
	}
	if (!cli_parse_ll(s, 1, (long long)1e15, &n))
		return false;
	o->sample = n;
	return true;
}

static int start_verify(void *arg, sm_run **run, sm_error *err)
{
	verify_args *a = arg;

	return sm_verify_start(a->ctx->eng, &a->opts, run, err);
}

/* ---------------------------------------------------------------- JSON */

/* A difference's value: the JSON value itself, or its cut text. */
static void add_value(json_object *o, const char *key, const char *text, bool cut)
{
	char cut_key[32];
	json_object *v = NULL;

	snprintf(cut_key, sizeof cut_key, "%s_cut", key);
	if (!cut && text)
		v = json_tokener_parse(text);
	if (!cut && text && strcmp(text, "null") != 0 && !v)
		cut = true;  /* never seen: our own text always parses */
	if (cut) {
		out_json_add(o, key, out_json_string(text));
		out_json_add(o, cut_key, json_object_new_boolean(1));
	} else {
		out_json_add(o, key, v);
	}
}

static json_object *instance_json(const sm_verify_instance *x)
{
	json_object *o = json_object_new_object();

	out_json_add(o, "source_uuid", out_json_string(x->source_uuid));
	out_json_add(o, "version", json_object_new_int64(x->version));
	out_json_add(o, "module_version", json_object_new_int64(x->module_version));
	out_json_add(o, "outcome", json_object_new_string(sm_verify_outcome_name(x->outcome)));
	if (x->outcome == SM_VERIFY_FAILED) {
		json_object *f = json_object_new_object();

		out_json_add(f, "kind", json_object_new_string(sm_failure_kind_name(x->kind)));
		out_json_add(f, "stream_version", x->fail_version
			     ? json_object_new_int64(x->fail_version) : NULL);
		out_json_add(f, "event_type", out_json_string(x->event_type));
		out_json_add(f, "message", out_json_string(x->message));
		out_json_add(o, "failure", f);
	} else {
		json_object *diffs = json_object_new_array();

		out_json_add(o, "differences", json_object_new_int64(x->differences));
		for (size_t i = 0; i < x->n_diffs; i++) {
			const sm_verify_difference *d = &x->diffs[i];
			json_object *dj = json_object_new_object();

			out_json_add(dj, "path", out_json_string(d->path));
			out_json_add(dj, "kind", json_object_new_string(sm_verify_diff_kind_name(d->kind)));
			if (d->kind != SM_VDIFF_ONLY_FOLDED)
				add_value(dj, "live", d->live, d->live_cut);
			if (d->kind != SM_VDIFF_ONLY_LIVE)
				add_value(dj, "folded", d->folded, d->folded_cut);
			json_object_array_add(diffs, dj);
		}
		out_json_add(o, "diffs", diffs);
	}
	return o;
}

static json_object *type_json(const sm_verify_type *t)
{
#define F(m) OUT_FIELD(sm_verify_type, m)
	static const out_field fields[] = {
		OUT_TEXT(sm_verify_type, type), OUT_TEXT(sm_verify_type, label),
		F(target_version), F(live), F(at_version), F(planned), F(checked), F(equal),
		F(different), F(failed), F(skipped), F(number_form),
	};
#undef F
	static const out_field path_fields[] = {
		OUT_TEXT(sm_verify_path, path), OUT_FIELD(sm_verify_path, instances),
	};
	json_object *o = json_object_new_object();
	json_object *kinds = json_object_new_object();
	json_object *inst = json_object_new_array();

	OUT_JSON_FIELDS(o, t, fields);
	for (int k = 0; k < SM_FAIL__COUNT; k++)
		if (t->failures[k])
			out_json_add(kinds, sm_failure_kind_name((enum sm_failure_kind)k),
				     json_object_new_int64(t->failures[k]));
	out_json_add(o, "failures", kinds);
	out_json_add(o, "paths", OUT_JSON_RECORDS(t->paths, t->n_paths, path_fields));
	out_json_add(o, "paths_cut", json_object_new_boolean(t->paths_cut));
	for (size_t i = 0; i < t->n_instances; i++)
		json_object_array_add(inst, instance_json(&t->instances[i]));
	out_json_add(o, "instances", inst);
	return o;
}

static void report_json(cli_ctx *ctx, const sm_verify_report *r, int status)
{
	json_object *doc = cli_json_doc(ctx);
	json_object *types = json_object_new_array();
	json_object *total = json_object_new_object();
	long long sums[5] = { 0 };

	out_json_add(doc, "state", json_object_new_string(sm_run_state_name(r->state)));
	out_json_add(doc, "jobs", json_object_new_int(r->jobs));
	out_json_add(doc, "elapsed_seconds", json_object_new_int64(llround(r->elapsed_seconds)));
	out_json_add(doc, "events", json_object_new_int64(r->events));
	out_json_add(doc, "sampled", json_object_new_boolean(r->sampled));
	out_json_add(doc, "seed", json_object_new_int64((int64_t)r->seed));
	for (size_t i = 0; i < r->n_types; i++) {
		const sm_verify_type *t = &r->types[i];

		json_object_array_add(types, type_json(t));
		sums[0] += t->checked;
		sums[1] += t->equal;
		sums[2] += t->different;
		sums[3] += t->failed;
		sums[4] += t->skipped;
	}
	out_json_add(total, "checked", json_object_new_int64(sums[0]));
	out_json_add(total, "equal", json_object_new_int64(sums[1]));
	out_json_add(total, "different", json_object_new_int64(sums[2]));
	out_json_add(total, "failed", json_object_new_int64(sums[3]));
	out_json_add(total, "skipped", json_object_new_int64(sums[4]));
	out_json_add(doc, "total", total);
	out_json_add(doc, "types", types);
	if (status != SM_OK && status != SM_ERR_CANCELLED) {
		char buf[1400];

		out_json_add(doc, "error", out_json_string(sm_error_format(&r->error, buf, sizeof buf)));
	}
	cli_json_emit(ctx, doc);
}

/* ---------------------------------------------------------------- text */

static void print_value(const char *side, const char *text, bool present)
{
	char *s = out_sanitize(present ? text : "(absent)");

	printf("      %-7s %s\n", side, s);
	free(s);
}

static void print_instance(const sm_verify_instance *x)
{
	char *uuid = out_sanitize(x->source_uuid);

	if (x->outcome == SM_VERIFY_FAILED) {
		char *ev = out_sanitize(x->event_type ? x->event_type : "");
		char *msg = out_sanitize(x->message);

		if (x->fail_version)
			printf("  %s (to v%lld): failed at v%lld %s: %s: %s\n", uuid, x->version,
			       x->fail_version, ev, sm_failure_kind_name(x->kind), msg);
		else
			printf("  %s (to v%lld): failed: %s: %s\n", uuid, x->version,
			       sm_failure_kind_name(x->kind), msg);
		free(ev);
		free(msg);
		free(uuid);
		return;
	}
	printf("  %s (v%lld): %lld difference%s\n", uuid, x->version, x->differences,
	       x->differences == 1 ? "" : "s");
	for (size_t i = 0; i < x->n_diffs; i++) {
		const sm_verify_difference *d = &x->diffs[i];
		char *path = out_sanitize(d->path);

		if (d->kind == SM_VDIFF_NUMBER_FORM) {
			free(path);
			continue;
		}
		printf("    %s\n", path);
		print_value("live", d->live, d->kind != SM_VDIFF_ONLY_FOLDED);
		print_value("folded", d->folded, d->kind != SM_VDIFF_ONLY_LIVE);
		free(path);
	}
	if ((long long)x->n_diffs < x->differences)
		printf("    ... %lld more\n", x->differences - (long long)x->n_diffs);
	free(uuid);
}

static void print_type_details(const sm_verify_type *t)
{
	char a[32], b[32], c[32];

	if (t->at_version < t->live)
		printf("%s: %s live snapshot%s at another module version than %lld: not checked\n",
		       t->label, sm_fmt_count(a, sizeof a, t->live - t->at_version),
		       t->live - t->at_version == 1 ? "" : "s", t->target_version);
	if (t->skipped)
		printf("%s: %s live snapshot%s changed while verifying: not compared\n", t->label,
		       sm_fmt_count(a, sizeof a, t->skipped), t->skipped == 1 ? "" : "s");
	if (t->number_form)
		printf("%s: %s equal instance%s hold an integer where the other side has a float"
		       " (1 vs 1.0: equal as jsonb, not as Elixir terms)\n", t->label,
		       sm_fmt_count(a, sizeof a, t->number_form), t->number_form == 1 ? "" : "s");
	if (!t->different && !t->failed)
		return;
	printf("\n%s: %s of %s checked differ, %s failed\n", t->label,
	       sm_fmt_count(a, sizeof a, t->different), sm_fmt_count(b, sizeof b, t->checked),
	       sm_fmt_count(c, sizeof c, t->failed));
	for (size_t i = 0; i < t->n_paths; i++) {
		char *p = out_sanitize(t->paths[i].path);

		printf("  %-40s differs in %s instance%s\n", p,
		       sm_fmt_count(a, sizeof a, t->paths[i].instances),
		       t->paths[i].instances == 1 ? "" : "s");
		free(p);
	}
	if (t->paths_cut)
		printf("  (more paths differ than are listed)\n");
	for (size_t i = 0; i < t->n_instances; i++)
		if (t->instances[i].outcome != SM_VERIFY_EQUAL)
			print_instance(&t->instances[i]);
}

static void report_text(const sm_verify_report *r)
{
	static const char *const headers[] = {
		"TYPE", "VERSION", "LIVE", "AT VERSION", "CHECKED", "EQUAL", "DIFFERENT", "FAILED",
	};
	out_table *t = out_table_new(8, headers, "lrrrrrrr");
	long long sums[6] = { 0 };
	char el[32], ev[32], c[32];

	for (size_t i = 0; i < r->n_types; i++) {
		const sm_verify_type *vt = &r->types[i];

		out_table_cell(t, vt->label);
		out_table_count(t, vt->target_version);
		out_table_count(t, vt->live);
		out_table_count(t, vt->at_version);
		out_table_count(t, vt->checked);
		out_table_count(t, vt->equal);
		out_table_count(t, vt->different);
		out_table_count(t, vt->failed);
		sums[0] += vt->live;
		sums[1] += vt->at_version;
		sums[2] += vt->checked;
		sums[3] += vt->equal;
		sums[4] += vt->different;
		sums[5] += vt->failed;
	}
	out_table_cell(t, "all");
	out_table_cell(t, "");
	for (int k = 0; k < 6; k++)
		out_table_count(t, sums[k]);
	out_table_print(t, stdout);
	out_table_free(t);
	for (size_t i = 0; i < r->n_types; i++)
		print_type_details(&r->types[i]);
	printf("\nverify %s in %s: %s instances checked, %s events folded",
	       sm_run_state_name(r->state), sm_fmt_duration(el, sizeof el, r->elapsed_seconds),
	       sm_fmt_count(c, sizeof c, sums[2]), sm_fmt_count(ev, sizeof ev, r->events));
	if (r->sampled)
		printf(" (a sample, seed %llu)", r->seed);
	printf(": %s\n", sums[4] || sums[5] ? "the reducer does NOT reproduce every live snapshot"
		 : sums[2] ? "every live snapshot checked is reproduced" : "nothing to check");
}

int cli_cmd_verify(cli_ctx *ctx, int argc, char **argv)
{
	progress_view view;
	sm_verify_report *report = NULL;
	sm_run *run = NULL;
	sm_error err;
	verify_args a;
	bool interrupted;
	long long n;
	int rc, status;

	(void)argc;
	(void)argv;
	memset(&a, 0, sizeof a);
	a.ctx = ctx;
	a.opts.types = ctx->g.types;
	a.opts.n_types = ctx->g.n_types;
	a.opts.uuids = cli_opt_args(ctx, CLI_OPT_UUID, &a.opts.n_uuids);
	a.opts.jobs = ctx->g.jobs;
	if (cli_opt_given(ctx, CLI_OPT_SAMPLE) && !parse_sample(cli_opt_arg(ctx, CLI_OPT_SAMPLE), &a.opts))
		return cli_usage_errorf("--sample: expected a count (100) or a percentage (5%%), got '%s'",
					cli_opt_arg(ctx, CLI_OPT_SAMPLE));
	if (cli_opt_given(ctx, CLI_OPT_SEED)) {
		if (!cli_parse_ll(cli_opt_arg(ctx, CLI_OPT_SEED), 0, (long long)1e18, &n))
			return cli_usage_errorf("--seed: expected a number, got '%s'",
						cli_opt_arg(ctx, CLI_OPT_SEED));
		a.opts.seed = (unsigned long long)n;
	}
	if (cli_opt_given(ctx, CLI_OPT_EXAMPLES)) {
		if (!cli_parse_ll(cli_opt_arg(ctx, CLI_OPT_EXAMPLES), 1, 100000, &n))
			return cli_usage_errorf("--examples: expected 1-100000, got '%s'",
						cli_opt_arg(ctx, CLI_OPT_EXAMPLES));
		a.opts.examples = (int)n;
	}
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;

	progress_init(&view, cli_progress_mode(ctx), stderr);
	view.what = "verify";
	sm_error_clear(&err);
	status = progress_run(&view, start_verify, &a, &run, &interrupted, &err);
	if (!run)
		return cli_report(&err);
	{
		sm_progress p;

		memset(&p, 0, sizeof p);
		sm_run_progress(run, &p);
		progress_finish(&view, &p);
		sm_progress_clear(&p);
	}
	rc = sm_verify_report_read(run, &report, &err);
	if (rc != SM_OK) {
		sm_run_free(run);
		return cli_report(&err);
	}
	if (ctx->g.json)
		report_json(ctx, report, status);
	else if (report->state != SM_RUN_FAILED)
		report_text(report);

	if (status == SM_OK) {
		rc = CLI_EXIT_OK;
		for (size_t i = 0; i < report->n_types; i++)
			if (report->types[i].different || report->types[i].failed)
				rc = CLI_EXIT_FINDINGS;
	} else if (status == SM_ERR_CANCELLED || interrupted) {
		rc = CLI_EXIT_INTERRUPTED;
	} else {
		rc = cli_report(err.code ? &err : &report->error);
	}
	sm_verify_report_free(report);
	sm_run_free(run);
	return rc;
}
