/*
 * `status` (the overview: the same inventory the UI's overview shows) and
 * `preflight` (unknown event types before any replay).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "util/alloc.h"

/* Every -a must name a type that appears in the inventory. */
static int check_selected_types(const cli_ctx *ctx, const sm_inventory *inv)
{
	for (size_t i = 0; i < ctx->g.n_types; i++) {
		const char *want = ctx->g.types[i];
		bool found = false;

		for (size_t t = 0; t < inv->n_types && !found; t++)
			found = strcmp(inv->types[t].type, want) == 0 ||
				(inv->types[t].label && strcmp(inv->types[t].label, want) == 0);
		if (!found)
			return cli_usage_errorf("-a %s: no such aggregate type in the configuration or the store", want);
	}
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ reducers */

/* "reducers": each selected type's reducer; "version_mismatches": the
 * external ones whose application says another snapshot_version. */
static void reducers_json(const cli_ctx *ctx, json_object *doc, const sm_preflight *pf)
{
	json_object *list = json_object_new_array();
	json_object *mismatches = json_object_new_array();

	for (size_t i = 0; i < pf->n_reducers; i++) {
		const sm_reducer_desc *d = &pf->reducers[i];
		json_object *o = json_object_new_object();

		if (!cli_type_selected(ctx, d->type, cli_type_label(ctx, d->type)))
			continue;
		out_json_add(o, "type", out_json_string(d->type));
		out_json_add(o, "kind", json_object_new_string(d->external ? "exec" : "rules"));
		if (d->external) {
			out_json_add(o, "answered", json_object_new_boolean(d->answered));
			out_json_add(o, "error", out_json_string(d->error));
			out_json_add(o, "name", out_json_string(d->name));
			out_json_add(o, "raw", json_object_new_boolean(d->raw));
			out_json_add(o, "application_version", d->has_app_version
				     ? json_object_new_int64(d->app_version) : NULL);
		}
		out_json_add(o, "configured_version", json_object_new_int64(d->config_version));
		json_object_array_add(list, o);
		if (d->version_mismatch) {
			json_object *m = json_object_new_object();

			out_json_add(m, "type", out_json_string(d->type));
			out_json_add(m, "configured", json_object_new_int64(d->config_version));
			out_json_add(m, "application", json_object_new_int64(d->app_version));
			json_object_array_add(mismatches, m);
		}
	}
	out_json_add(doc, "reducers", list);
	out_json_add(doc, "version_mismatches", mismatches);
}

/* One line per external reducer: what it is, and whether its version
 * agrees with the configuration's. */
static void reducers_lines(const cli_ctx *ctx, const sm_preflight *pf)
{
	bool header = false;

	for (size_t i = 0; i < pf->n_reducers; i++) {
		const sm_reducer_desc *d = &pf->reducers[i];
		char *label, *name, *error;

		if (!d->external || !cli_type_selected(ctx, d->type, cli_type_label(ctx, d->type)))
			continue;
		if (!header)
			putchar('\n');
		header = true;
		label = out_sanitize(cli_type_label(ctx, d->type));
		name = out_sanitize(d->name ? d->name : "external reducer");
		error = out_sanitize(d->error ? d->error : "");
		if (!d->answered)
			printf("%s: external reducer did not answer its handshake: %s\n", label, error);
		else if (d->version_mismatch)
			printf("%s: %s%s; the application: %lld, snapmig.conf: %lld: "
			       "VERSIONS DISAGREE, rebuild refused until they agree\n", label, name,
			       d->raw ? " (raw mode)" : "", d->app_version, d->config_version);
		else if (d->has_app_version)
			printf("%s: %s%s; the application: %lld, as snapmig.conf\n", label, name,
			       d->raw ? " (raw mode)" : "", d->app_version);
		else
			printf("%s: %s%s\n", label, name, d->raw ? " (raw mode)" : "");
		free(label);
		free(name);
		free(error);
	}
}

json_object *cli_activity_json(const sm_activity *a)
{
	json_object *o = json_object_new_object();

	out_json_add(o, "operation", out_json_string(a->operation[0] ? a->operation : NULL));
	out_json_add(o, "environment", out_json_string(a->environment[0] ? a->environment : NULL));
	out_json_add(o, "host", out_json_string(a->host[0] ? a->host : NULL));
	out_json_add(o, "pid", a->pid ? json_object_new_int64(a->pid) : NULL);
	out_json_add(o, "os_user", out_json_string(a->os_user[0] ? a->os_user : NULL));
	out_json_add(o, "started_at", out_json_string(a->started_at[0] ? a->started_at : NULL));
	out_json_add(o, "run_id", a->run_id ? json_object_new_int64(a->run_id) : NULL);
	out_json_add(o, "server_pid", json_object_new_int64(a->backend_pid));
	return o;
}

static json_object *type_json(const sm_type_inventory *t)
{
#define F(m) OUT_FIELD(sm_type_inventory, m)
	static const out_field before[] = { F(target_version), F(snapshots) };
	static const out_field after[] = {
		F(stale), F(behind), F(events_to_fold), F(missing_streams), F(target_rows),
		F(target_stale), F(target_at_version), F(target_current), F(failures),
		OUT_TEXT(sm_type_inventory, fingerprint_error),
	};
#undef F
	static const out_field versions[] = {
		OUT_FIELD(sm_version_count, version), OUT_FIELD(sm_version_count, count),
	};
	json_object *o = json_object_new_object();

	out_json_add(o, "type", out_json_string(t->type));
	out_json_add(o, "label", out_json_string(t->label));
	out_json_add(o, "configured", json_object_new_boolean(t->configured));
	OUT_JSON_FIELDS(o, t, before);
	out_json_add(o, "versions", OUT_JSON_RECORDS(t->versions, t->n_versions, versions));
	OUT_JSON_FIELDS(o, t, after);
	return o;
}

static json_object *schema_json(const char *schema, enum sm_column_type data,
				enum sm_column_type meta)
{
	json_object *o = json_object_new_object();

	out_json_add(o, "schema", out_json_string(schema));
	out_json_add(o, "exists", json_object_new_boolean(data != SM_COL_MISSING));
	out_json_add(o, "data_type", out_json_string(sm_column_type_name(data)));
	out_json_add(o, "metadata_type", out_json_string(sm_column_type_name(meta)));
	return o;
}

static void status_json(cli_ctx *ctx, const sm_inventory *inv, const sm_preflight *red)
{
	const sm_settings *s = &ctx->env->settings;
	json_object *doc = cli_json_doc(ctx);
	json_object *types = json_object_new_array();
	json_object *src = schema_json(s->source_schema, inv->source_data, inv->source_metadata);
	char *where = sm_engine_describe(ctx->eng);

	out_json_add(src, "double_encoded", json_object_new_boolean(inv->source_double_encoded));
	out_json_add(doc, "database", out_json_string(where));
	out_json_add(doc, "protected", json_object_new_boolean(ctx->env->protected_env));
	out_json_add(doc, "source", src);
	out_json_add(doc, "target", schema_json(s->target_schema, inv->target_data,
						inv->target_metadata));
	out_json_add(doc, "last_run_id", inv->last_run_id
		     ? json_object_new_int64(inv->last_run_id) : NULL);
	out_json_add(doc, "in_progress", inv->activity.busy ? cli_activity_json(&inv->activity) : NULL);
	for (size_t i = 0; i < inv->n_types; i++)
		if (cli_type_selected(ctx, inv->types[i].type, inv->types[i].label))
			json_object_array_add(types, type_json(&inv->types[i]));
	out_json_add(doc, "types", types);
	reducers_json(ctx, doc, red);
	cli_json_emit(ctx, doc);
	free(where);
}

/* "v3 1,204 · v2 17" */
static char *versions_text(const sm_type_inventory *t)
{
	char *s = sm_xstrdup("");

	for (size_t v = 0; v < t->n_versions; v++) {
		char num[32];

		out_appendf(&s, " \xc2\xb7 ", "v%lld %s", t->versions[v].version,
			    sm_fmt_count(num, sizeof num, t->versions[v].count));
	}
	return s;
}

static void status_table(const cli_ctx *ctx, const sm_inventory *inv, const sm_preflight *red)
{
	static const char *const headers[] = {
		"TYPE", "SNAPSHOTS", "VERSIONS", "TARGET", "REBUILD", "CATCH UP",
		"EVENTS", "GENERATED", "CURRENT", "FAILED", "NOTE",
	};
#define F(m) OUT_FIELD(sm_type_inventory, m)
	static const out_field columns[] = {
		F(stale), F(behind), F(events_to_fold), F(target_at_version), F(target_current),
		F(failures),
	};
#undef F
	const sm_settings *s = &ctx->env->settings;
	out_table *t = out_table_new(11, headers, "lrlrrrrrrrl");
	char *where = sm_engine_describe(ctx->eng);
	char *env = out_sanitize(ctx->env->name), *w = out_sanitize(where);
	char *ss = out_sanitize(s->source_schema), *ts = out_sanitize(s->target_schema);
	size_t unconfigured = 0, unreachable = 0;
	long long stale = 0;

	printf("environment  %s (%s)%s\n", env, w, ctx->env->protected_env ? ", protected" : "");
	printf("source       %s.snapshots: data %s, metadata %s%s\n", ss,
	       sm_column_type_name(inv->source_data), sm_column_type_name(inv->source_metadata),
	       inv->source_double_encoded ? " (JSON text inside jsonb)" : "");
	if (inv->target_data == SM_COL_MISSING)
		printf("target       %s.snapshots: not created yet\n", ts);
	else
		printf("target       %s.snapshots: data %s, metadata %s\n", ts,
		       sm_column_type_name(inv->target_data),
		       sm_column_type_name(inv->target_metadata));
	if (inv->last_run_id)
		printf("last run     %lld\n", inv->last_run_id);
	if (inv->activity.busy) {
		char who[900], *clean;

		clean = out_sanitize(sm_activity_describe(&inv->activity, who, sizeof who));
		printf("in progress  %s\n", clean);
		free(clean);
	}
	putchar('\n');
	free(env);
	free(w);
	free(ss);
	free(ts);
	free(where);

	for (size_t i = 0; i < inv->n_types; i++) {
		const sm_type_inventory *ti = &inv->types[i];
		char *versions;

		if (!cli_type_selected(ctx, ti->type, ti->label))
			continue;
		versions = versions_text(ti);
		out_table_cell(t, ti->label ? ti->label : ti->type);
		out_table_count(t, ti->snapshots);
		out_table_cell(t, ti->n_versions ? versions : "-");
		if (ti->configured)
			out_table_cellf(t, "v%lld", ti->target_version);
		else
			out_table_cell(t, "-");
		OUT_TABLE_FIELDS(t, ti, columns);
		if (!ti->configured) {
			out_table_cell(t, "not configured");
			unconfigured++;
		} else if (ti->fingerprint_error) {
			out_table_cell(t, "reducer not reachable");
			unreachable++;
		} else if (ti->target_stale) {
			char num[32];

			out_table_cellf(t, "%s generated stale",
					sm_fmt_count(num, sizeof num, ti->target_stale));
			stale += ti->target_stale;
		} else if (ti->missing_streams) {
			char num[32];

			out_table_cellf(t, "%s missing streams",
					sm_fmt_count(num, sizeof num, ti->missing_streams));
		} else {
			out_table_cell(t, "");
		}
		free(versions);
	}
	if (out_table_rows(t) == 0)
		printf("no aggregate types configured or found in the store\n");
	else
		out_table_print(t, stdout);
	out_table_free(t);
	if (unconfigured)
		printf("\n%zu type%s found in the store but not in the configuration "
		       "(not rebuilt).\n", unconfigured, unconfigured == 1 ? "" : "s");
	if (stale)
		printf("\nStale generated rows were made by another reducer or configuration (or "
		       "by an older snapmig): a copy never ships them, a rebuild generates them "
		       "again.\n");
	for (size_t i = 0; unreachable && i < inv->n_types; i++)
		if (inv->types[i].fingerprint_error &&
		    cli_type_selected(ctx, inv->types[i].type, inv->types[i].label)) {
			char *msg = out_sanitize(inv->types[i].fingerprint_error);

			printf("\n%s: its reducer could not be asked for its fingerprint, so its "
			       "generated rows count as stale: %s\n", inv->types[i].label, msg);
			free(msg);
		}
	reducers_lines(ctx, red);
}

int cli_cmd_status(cli_ctx *ctx, int argc, char **argv)
{
	sm_inventory *inv = NULL;
	sm_error err;
	int rc;

	(void)argc;
	(void)argv;
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;
	sm_error_clear(&err);
	if (sm_inventory_read(ctx->eng, NULL, &inv, &err) != SM_OK)
		return cli_report(&err);
	rc = check_selected_types(ctx, inv);
	if (rc == CLI_EXIT_OK) {
		/* External reducers report what they are (and the Commanded
		 * bridge the application's snapshot_version) in a handshake. */
		sm_preflight *red = NULL;

		if (sm_reducers_describe(ctx->eng, ctx->g.types, ctx->g.n_types, &red, &err) != SM_OK) {
			sm_inventory_free(inv);
			return cli_report(&err);
		}
		if (ctx->g.json)
			status_json(ctx, inv, red);
		else
			status_table(ctx, inv, red);
		sm_preflight_free(red);
	}
	sm_inventory_free(inv);
	return rc;
}

/* ----------------------------------------------------------- preflight */

/* The counts of an unknown event type, in JSON and in the table. */
static const out_field unknown_counts[] = {
	OUT_FIELD(sm_unknown_event, events), OUT_FIELD(sm_unknown_event, streams),
};

static void preflight_json(cli_ctx *ctx, const sm_preflight *pf)
{
	json_object *doc = cli_json_doc(ctx);
	json_object *unknown = json_object_new_array();

	out_json_add(doc, "ok", json_object_new_boolean(pf->n_unknown == 0 && pf->n_mismatches == 0));
	for (size_t i = 0; i < pf->n_unknown; i++) {
		const sm_unknown_event *u = &pf->unknown[i];
		json_object *o = json_object_new_object();

		out_json_add(o, "source_type", out_json_string(u->source_type));
		out_json_add(o, "label", out_json_string(cli_type_label(ctx, u->source_type)));
		out_json_add(o, "event_type", out_json_string(u->event_type));
		OUT_JSON_FIELDS(o, u, unknown_counts);
		out_json_add(o, "examples", out_json_strings(u->examples, u->n_examples));
		if (u->message) {
			out_json_add(o, "kind", json_object_new_string(sm_failure_kind_name(u->kind)));
			out_json_add(o, "message", out_json_string(u->message));
		}
		json_object_array_add(unknown, o);
	}
	out_json_add(doc, "unknown_events", unknown);
	out_json_add(doc, "skipped_types", out_json_strings(pf->skipped_types, pf->n_skipped));
	reducers_json(ctx, doc, pf);
	cli_json_emit(ctx, doc);
}

static void preflight_table(const cli_ctx *ctx, const sm_preflight *pf)
{
	static const char *const headers[] = {
		"TYPE", "EVENT TYPE", "EVENTS", "STREAMS", "EXAMPLES",
	};

	if (pf->n_unknown == 0) {
		printf("no unknown event types: every event in the streams to rebuild has a handler\n");
	} else {
		out_table *t = out_table_new(5, headers, "llrrl");

		for (size_t i = 0; i < pf->n_unknown; i++) {
			const sm_unknown_event *u = &pf->unknown[i];
			char *ex = sm_xstrdup("");

			for (size_t e = 0; e < u->n_examples; e++)
				out_appendf(&ex, ", ", "%s", u->examples[e]);
			out_table_cell(t, cli_type_label(ctx, u->source_type));
			out_table_cell(t, u->event_type);
			OUT_TABLE_FIELDS(t, u, unknown_counts);
			out_table_cell(t, ex);
			free(ex);
		}
		out_table_print(t, stdout);
		out_table_free(t);
		printf("\n%zu unknown event type%s: the streams that contain them will fail "
		       "in a rebuild.\n", pf->n_unknown, pf->n_unknown == 1 ? "" : "s");
		for (size_t i = 0; i < pf->n_unknown; i++) {
			char *et, *m;

			if (!pf->unknown[i].message)
				continue;
			et = out_sanitize(pf->unknown[i].event_type);
			m = out_sanitize(pf->unknown[i].message);
			printf("  %s: %s\n", et, m);
			free(et);
			free(m);
		}
	}
	for (size_t i = 0; i < pf->n_skipped; i++) {
		char *s = out_sanitize(cli_type_label(ctx, pf->skipped_types[i]));

		printf("%s: not checked (its reducer handles every event type)\n", s);
		free(s);
	}
	reducers_lines(ctx, pf);
}

int cli_cmd_preflight(cli_ctx *ctx, int argc, char **argv)
{
	sm_preflight *pf = NULL;
	sm_error err;
	int rc;

	(void)argc;
	(void)argv;
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;
	sm_error_clear(&err);
	if (sm_preflight_run(ctx->eng, ctx->g.types, ctx->g.n_types, NULL, &pf, &err) != SM_OK)
		return cli_report(&err);
	if (ctx->g.json)
		preflight_json(ctx, pf);
	else
		preflight_table(ctx, pf);
	rc = pf->n_unknown || pf->n_mismatches ? CLI_EXIT_FINDINGS : CLI_EXIT_OK;
	sm_preflight_free(pf);
	return rc;
}
