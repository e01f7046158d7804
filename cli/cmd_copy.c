/*
 * `copy` (generated snapshots into the live table: plan, confirmation,
 * copy, verified result).  It asks as cli/confirm.h says; `rollback` is in
 * cmd_rollback.c.  A copy while another operation holds the target
 * schema (a rebuild, say) is refused at once, and --dry-run says so.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/confirm.h"
#include "cli/output.h"
#include "util/alloc.h"

/* The engine's guards, in its order (SM_COPY_GUARDS). */
#define N_GUARDS SM_GUARD__COUNT
#define GUARD(i) (1u << (i))

typedef struct copy_args {
	bool dry_run, remove_stale;
	unsigned force;
} copy_args;

/* The options, and the guards to override: every --force-GUARD row of the
 * option table that was given names an engine guard.  Returns an exit
 * code. */
static int read_args(const cli_ctx *ctx, copy_args *a)
{
	memset(a, 0, sizeof *a);
	a->dry_run = cli_opt_given(ctx, CLI_OPT_DRY_RUN);
	a->remove_stale = cli_opt_given(ctx, CLI_OPT_REMOVE_STALE);
	for (int i = 0; i < CLI_OPT__COUNT; i++) {
		const char *name = cli_option_info(i)->name;
		int guard;

		if (strncmp(name, "force-", 6) != 0 || !cli_opt_given(ctx, (enum cli_option_id)i))
			continue;
		if ((guard = sm_copy_guard_parse(name + 6)) == 0) {
			/* A row of commands.h that the engine does not know. */
			cli_errorf("internal error: --%s names no copy guard", name);
			return CLI_EXIT_DB;
		}
		a->force |= (unsigned)guard;
	}
	return CLI_EXIT_OK;
}

/* The guards of bits: "failures, lag", or with prefix "--force-" and sep
 * " ", "--force-failures --force-lag" (caller frees). */
static char *guard_names(unsigned bits, const char *prefix, const char *sep)
{
	char *s = sm_xstrdup("");

	for (size_t i = 0; i < N_GUARDS; i++)
		if (bits & GUARD(i))
			out_appendf(&s, sep, "%s%s", prefix, sm_copy_guard_name(GUARD(i)));
	return s;
}

static json_object *guards_json(unsigned bits)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < N_GUARDS; i++)
		if (bits & GUARD(i))
			json_object_array_add(a, json_object_new_string(sm_copy_guard_name(GUARD(i))));
	return a;
}

static json_object *plan_json(const sm_copy_plan *plan)
{
#define F(m) OUT_FIELD(sm_copy_type_plan, m)
	static const out_field fields[] = {
		F(generated), F(off_version), F(failures), F(replace), F(insert), F(keep_newer),
		F(untouched), F(stale_without_replacement), F(lag_events), F(stale_generated),
		OUT_TEXT(sm_copy_type_plan, fingerprint_error),
	};
#undef F
	json_object *o = json_object_new_object();
	json_object *types = json_object_new_array();

	for (size_t i = 0; i < plan->n_types; i++) {
		const sm_copy_type_plan *t = &plan->types[i];
		json_object *tj = json_object_new_object();

		out_json_add(tj, "type", out_json_string(t->type));
		out_json_add(tj, "label", out_json_string(t->label));
		OUT_JSON_FIELDS(tj, t, fields);
		out_json_add(tj, "guards", guards_json(t->guards));
		out_json_add(tj, "guard_message", out_json_string(t->guard_message));
		json_object_array_add(types, tj);
	}
	out_json_add(o, "types", types);
	out_json_add(o, "guards", guards_json(plan->guards));
	out_json_add(o, "in_progress", plan->activity.busy ? cli_activity_json(&plan->activity) : NULL);
	return o;
}

static void plan_table(const sm_copy_plan *plan, const copy_args *a)
{
	static const char *const headers[] = {
		"TYPE", "GENERATED", "REPLACE", "INSERT", "KEEP NEWER", "UNTOUCHED",
		"STALE W/O NEW", "LAG", "GUARDS",
	};
#define F(m) OUT_FIELD(sm_copy_type_plan, m)
	static const out_field columns[] = {
		F(generated), F(replace), F(insert), F(keep_newer), F(untouched),
		F(stale_without_replacement), F(lag_events),
	};
#undef F
	out_table *t = out_table_new(9, headers, "lrrrrrrrl");
	long long stale = 0;

	for (size_t i = 0; i < plan->n_types; i++) {
		const sm_copy_type_plan *tp = &plan->types[i];
		char *g = guard_names(tp->guards, "", ", ");

		out_table_cell(t, tp->label ? tp->label : tp->type);
		OUT_TABLE_FIELDS(t, tp, columns);
		out_table_cell(t, *g ? g : "-");
		free(g);
		stale += tp->stale_without_replacement;
	}
	out_table_print(t, stdout);
	out_table_free(t);
	for (size_t i = 0; i < plan->n_types; i++) {
		const sm_copy_type_plan *tp = &plan->types[i];
		char num[32];

		if (tp->guard_message) {
			/* The engine's message names the type itself. */
			char *msg = out_sanitize(tp->guard_message);

			printf("%s\n", msg);
			free(msg);
		}
		if (tp->stale_generated && tp->generated)
			printf("%s: %s generated row%s %s stale (made by another reducer or configuration): "
			       "not copied; a rebuild generates them again\n",
			       tp->label ? tp->label : tp->type,
			       sm_fmt_count(num, sizeof num, tp->stale_generated),
			       tp->stale_generated == 1 ? "" : "s", tp->stale_generated == 1 ? "is" : "are");
		if (tp->fingerprint_error) {
			char *msg = out_sanitize(tp->fingerprint_error);

			printf("%s: its reducer could not be asked for its fingerprint, so none of its "
			       "rows is copied: %s\n", tp->label ? tp->label : tp->type, msg);
			free(msg);
		}
	}
	if (stale) {
		char num[32];

		sm_fmt_count(num, sizeof num, stale);
		if (a->remove_stale)
			printf("%s stale live snapshot%s without a replacement will be removed "
			       "(Commanded then replays those aggregates).\n", num, stale == 1 ? "" : "s");
		else
			printf("%s stale live snapshot%s without a replacement will be kept "
			       "(--remove-stale removes them).\n", num, stale == 1 ? "" : "s");
	}
}

/* ---------------------------------------------------------- shape */

static void shape_text(const sm_shape_summary *sum)
{
	char a[32], b[32], c[32];

	printf("\nShape of the new snapshots against the live ones they replace:\n");
	for (size_t i = 0; i < sum->n_types; i++) {
		const sm_shape_type *t = &sum->types[i];
		char *label = out_sanitize(t->label);

		if (!t->compared) {
			printf("  %s: nothing replaced\n", label);
		} else if (!t->n_changes) {
			printf("  %s: the same shape (%s compared)\n", label,
			       sm_fmt_count(a, sizeof a, t->compared));
		} else {
			printf("  %s (%s compared):\n", label, sm_fmt_count(a, sizeof a, t->compared));
			for (size_t k = 0; k < t->n_changes; k++) {
				char *path = out_sanitize(t->changes[k].path);
				char *what = sm_shape_change_text(&t->changes[k]);

				printf("    %-36s %s in %s (%s)\n", path, what,
				       sm_shape_share(b, sizeof b, t->changes[k].instances, t->compared),
				       sm_fmt_count(c, sizeof c, t->changes[k].instances));
				free(what);
				free(path);
			}
			if (t->cut)
				printf("    (more changes than are listed)\n");
		}
		if (t->unreadable)
			printf("    %s pair%s not compared: a side is not a JSON object\n",
			       sm_fmt_count(a, sizeof a, t->unreadable), t->unreadable == 1 ? "" : "s");
		free(label);
	}
}

static json_object *shape_json(const sm_shape_summary *sum)
{
	static const out_field fields[] = {
		OUT_TEXT(sm_shape_type, type), OUT_TEXT(sm_shape_type, label),
		OUT_FIELD(sm_shape_type, compared), OUT_FIELD(sm_shape_type, unreadable),
	};
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < sum->n_types; i++) {
		const sm_shape_type *t = &sum->types[i];
		json_object *o = json_object_new_object(), *changes = json_object_new_array();

		OUT_JSON_FIELDS(o, t, fields);
		for (size_t k = 0; k < t->n_changes; k++) {
			const sm_shape_change *x = &t->changes[k];
			json_object *c = json_object_new_object();

			out_json_add(c, "path", out_json_string(x->path));
			out_json_add(c, "change", json_object_new_string(sm_shape_kind_name(x->kind)));
			out_json_add(c, "live_types", *x->live_types ? out_json_string(x->live_types) : NULL);
			out_json_add(c, "new_types", *x->new_types ? out_json_string(x->new_types) : NULL);
			out_json_add(c, "instances", json_object_new_int64(x->instances));
			json_object_array_add(changes, c);
		}
		out_json_add(o, "changes", changes);
		out_json_add(o, "changes_cut", json_object_new_boolean(t->cut));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Returns CLI_EXIT_OK when the copy may go ahead, else an exit code (the
 * reason printed). */
static int confirm(const cli_ctx *ctx, const sm_copy_plan *plan)
{
	long long rows = 0;
	char *name = out_sanitize(ctx->env->name), *what, *where, num[32];
	int rc;

	for (size_t i = 0; i < plan->n_types; i++)
		rows += plan->types[i].replace + plan->types[i].insert;
	what = sm_xasprintf("%s snapshot%s into the live table", sm_fmt_count(num, sizeof num, rows),
			    rows == 1 ? "" : "s");
	where = sm_xasprintf("of %s", name);
	rc = cli_confirm(ctx, "copy", "copying", "copied", what, where);
	free(what);
	free(where);
	free(name);
	return rc;
}

static void on_lock_wait(void *data, double waited)
{
	const cli_ctx *ctx = data;

	if (!ctx->g.quiet)
		fprintf(stderr, "snapmig: waiting %.0f s for the lock on %s.snapshots "
			"(snapshot writers hold it)\n", waited, ctx->env->settings.source_schema);
}

static json_object *result_json(const sm_copy_result *r)
{
#define F(m) OUT_FIELD(sm_copy_result, m)
	static const out_field fields[] = {
		F(copy_id), F(replaced), F(inserted), F(kept_newer), F(removed), F(backed_up),
		F(stale_kept), F(stale_generated),
	};
#undef F
	json_object *o = json_object_new_object();

	OUT_JSON_FIELDS(o, r, fields);
	out_json_add(o, "verified", json_object_new_boolean(r->verified));
	out_json_add(o, "checksum", out_json_string(r->checksum));
	return o;
}

/* "snapmig -c FILE -e prod rollback 5", printable (caller frees). */
static char *undo_line(const cli_ctx *ctx, long long copy_id)
{
	char rest[64], *line, *clean;

	snprintf(rest, sizeof rest, "rollback %lld", copy_id);
	line = cli_command_line(ctx, rest);
	clean = out_sanitize(line);
	free(line);
	return clean;
}

int cli_cmd_copy(cli_ctx *ctx, int argc, char **argv)
{
	copy_args args;
	sm_copy_options opts;
	sm_copy_plan *plan = NULL;
	sm_copy_result *res = NULL;
	sm_shape_summary *shape = NULL;
	sm_error err;
	int rc;

	(void)argc;
	(void)argv;
	if ((rc = read_args(ctx, &args)) != CLI_EXIT_OK || (rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;

	memset(&opts, 0, sizeof opts);
	opts.types = ctx->g.types;
	opts.n_types = ctx->g.n_types;
	opts.remove_stale = args.remove_stale;
	opts.force = args.force;
	opts.on_lock_wait = on_lock_wait;
	opts.ctx = ctx;

	sm_error_clear(&err);
	if (sm_copy_plan_read(ctx->eng, &opts, NULL, &plan, &err) != SM_OK)
		return cli_report(&err);
	if (!ctx->g.json)
		plan_table(plan, &args);
	if (args.dry_run) {
		/* What a reviewer reads before approving the copy. */
		sm_error_clear(&err);
		if (sm_copy_shape_read(ctx->eng, &opts, NULL, &shape, &err) != SM_OK) {
			rc = cli_report(&err);
			sm_copy_plan_free(plan);
			return rc;
		}
		if (!ctx->g.json)
			shape_text(shape);
	}
	if (plan->activity.busy) {
		char who[900];

		/* A copy now would be refused at once: say so, also for a dry run. */
		sm_activity_describe(&plan->activity, who, sizeof who);
		if (args.dry_run)
			cli_notef(ctx, "target schema %s is in use: %s; a copy would be refused until it ends",
				  ctx->env->settings.target_schema, who);
		else
			cli_errorf("target schema %s is in use: %s; nothing copied",
				   ctx->env->settings.target_schema, who);
		rc = CLI_EXIT_BUSY;
	}

	if (plan->guards && rc == CLI_EXIT_OK) {
		char *g = guard_names(plan->guards, "", ", ");
		char *flags = guard_names(plan->guards, "--force-", " ");

		if (args.dry_run)
			cli_notef(ctx, "a copy would be refused by guard%s: %s (override: %s)",
				  strchr(g, ',') ? "s" : "", g, flags);
		else
			cli_errorf("copy refused by guard%s: %s; nothing copied (override: %s)",
				   strchr(g, ',') ? "s" : "", g, flags);
		free(g);
		free(flags);
		rc = CLI_EXIT_FINDINGS;
	}
	if (rc == CLI_EXIT_OK && !args.dry_run)
		rc = confirm(ctx, plan);
	if (rc == CLI_EXIT_OK && !args.dry_run) {
		sm_error_clear(&err);
		if (sm_copy_run(ctx->eng, &opts, NULL, &res, &err) != SM_OK)
			rc = cli_report(&err);
	}

	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);

		out_json_add(doc, "dry_run", json_object_new_boolean(args.dry_run));
		out_json_add(doc, "remove_stale", json_object_new_boolean(args.remove_stale));
		out_json_add(doc, "plan", plan_json(plan));
		if (shape)
			out_json_add(doc, "shape", shape_json(shape));
		out_json_add(doc, "result", res ? result_json(res) : NULL);
		cli_json_emit(ctx, doc);
	} else if (res) {
		char a[32], b[32], c[32], d[32], e[32];

		printf("\ncopy %lld: %s replaced, %s inserted, %s newer live kept, %s removed; "
		       "%s live rows backed up\n", res->copy_id,
		       sm_fmt_count(a, sizeof a, res->replaced), sm_fmt_count(b, sizeof b, res->inserted),
		       sm_fmt_count(c, sizeof c, res->kept_newer), sm_fmt_count(d, sizeof d, res->removed),
		       sm_fmt_count(e, sizeof e, res->backed_up));
		if (res->stale_kept)
			printf("%s stale live snapshots without a replacement were kept\n",
			       sm_fmt_count(a, sizeof a, res->stale_kept));
		char *sum = out_sanitize(res->checksum);
		char *undo = undo_line(ctx, res->copy_id);

		if (res->verified)
			printf("verified: counts and checksum read back match%s%s%s\n",
			       *sum ? " (" : "", sum, *sum ? ")" : "");
		printf("undo with: %s\n", undo);
		free(undo);
		free(sum);
	}
	if (res && !res->verified) {
		char *undo = undo_line(ctx, res->copy_id);

		cli_errorf("copy %lld committed but its verification did not match; "
			   "check it, and roll back with: %s", res->copy_id, undo);
		free(undo);
		rc = CLI_EXIT_FINDINGS;
	}
	sm_copy_result_free(res);
	sm_shape_summary_free(shape);
	sm_copy_plan_free(plan);
	return rc;
}
