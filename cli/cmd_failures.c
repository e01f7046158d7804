/* `failures` (instances that could not be rebuilt) and `runs` (the journal). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "util/alloc.h"

#define DETAILS_COLS 60     /* display columns of a run's details on a terminal */

static json_object *failure_json(const cli_ctx *ctx, const sm_failure *f)
{
	json_object *o = json_object_new_object();

	out_json_add(o, "source_uuid", out_json_string(f->source_uuid));
	out_json_add(o, "source_type", out_json_string(f->source_type));
	out_json_add(o, "label", out_json_string(cli_type_label(ctx, f->source_type)));
	out_json_add(o, "kind", json_object_new_string(sm_failure_kind_name(f->kind)));
	out_json_add(o, "stream_version", f->stream_version
		     ? json_object_new_int64(f->stream_version) : NULL);
	out_json_add(o, "event_type", out_json_string(f->event_type));
	out_json_add(o, "message", out_json_string(f->message));
	out_json_add(o, "run_id", json_object_new_int64(f->run_id));
	out_json_add(o, "recorded_at", out_json_string(f->recorded_at));
	return o;
}

/* With several -a and no --type the engine is asked for all types and the
 * list filtered here; the engine's filter takes one type. */
static bool failure_selected(const cli_ctx *ctx, const sm_failure *f, bool filter_here)
{
	if (!filter_here)
		return true;
	for (size_t i = 0; i < ctx->g.n_types; i++) {
		const sm_aggregate *a = sm_config_find_aggregate(ctx->cfg, ctx->g.types[i]);
		const char *type = a ? a->type : ctx->g.types[i];

		if (strcmp(type, f->source_type) == 0)
			return true;
	}
	return false;
}

int cli_cmd_failures(cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"SOURCE UUID", "TYPE", "KIND", "VERSION", "EVENT TYPE", "MESSAGE",
	};
	const char *kind_name = cli_opt_arg(ctx, CLI_OPT_KIND);
	const char *type_name = cli_opt_arg(ctx, CLI_OPT_TYPE);
	sm_failure_list *list = NULL;
	const char *type;
	bool filter_here;
	size_t shown = 0;
	int rc, kind = -1;
	sm_error err;

	(void)argc;
	(void)argv;
	if (kind_name && (kind = sm_failure_kind_parse(kind_name)) < 0) {
		cli_errorf("--kind %s: unknown kind; one of:", kind_name);
		for (int k = 0; k < SM_FAIL__COUNT; k++)
			fprintf(stderr, "%s%s", k ? ", " : "  ", sm_failure_kind_name((enum sm_failure_kind)k));
		fputc('\n', stderr);
		return CLI_EXIT_USAGE;
	}
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;
	type = type_name ? type_name : ctx->g.n_types == 1 ? ctx->g.types[0] : NULL;
	filter_here = !type_name && ctx->g.n_types > 1;
	for (size_t i = 0; filter_here && i < ctx->g.n_types; i++)
		if (!sm_config_find_aggregate(ctx->cfg, ctx->g.types[i]))
			return cli_usage_errorf("-a %s: no such aggregate type in the configuration",
						ctx->g.types[i]);
	sm_error_clear(&err);
	if (sm_failures_read(ctx->eng, type, kind, NULL, &list, &err) != SM_OK)
		return cli_report(&err);

	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);
		json_object *items = json_object_new_array();

		for (size_t i = 0; i < list->n; i++)
			if (failure_selected(ctx, &list->items[i], filter_here))
				json_object_array_add(items, failure_json(ctx, &list->items[i]));
		out_json_add(doc, "failures", items);
		cli_json_emit(ctx, doc);
	} else {
		out_table *t = out_table_new(6, headers, "lllrll");

		for (size_t i = 0; i < list->n; i++) {
			const sm_failure *f = &list->items[i];

			if (!failure_selected(ctx, f, filter_here))
				continue;
			out_table_cell(t, f->source_uuid);
			out_table_cell(t, cli_type_label(ctx, f->source_type));
			out_table_cell(t, sm_failure_kind_name(f->kind));
			if (f->stream_version)
				out_table_cellf(t, "%lld", f->stream_version);
			else
				out_table_cell(t, "-");
			out_table_cell(t, f->event_type ? f->event_type : "-");
			out_table_cell(t, f->message);
			shown++;
		}
		if (shown)
			out_table_print(t, stdout);
		else
			printf("no failures recorded\n");
		out_table_free(t);
	}
	sm_failure_list_free(list);
	return CLI_EXIT_OK;
}

/* ----------------------------------------------------------------- runs */

static json_object *run_json(const sm_run_record *r)
{
#define T(m) OUT_TEXT(sm_run_record, m)
	static const out_field fields[] = {
		OUT_FIELD(sm_run_record, run_id), T(kind), T(environment), T(os_user), T(db_user),
		T(started_at), T(finished_at), T(outcome),
	};
#undef T
	json_object *o = json_object_new_object();
	json_object *details = NULL;

	OUT_JSON_FIELDS(o, r, fields);
	/* The engine keeps details as JSON text: embed it as an object so that
	 * scripts need not parse twice; keep it as a string if it is not JSON. */
	if (r->details) {
		details = json_tokener_parse(r->details);
		if (!details)
			details = out_json_string(r->details);
	}
	out_json_add(o, "details", details);
	return o;
}

int cli_cmd_runs(cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"RUN", "KIND", "OUTCOME", "STARTED", "FINISHED", "BY", "DETAILS",
	};
	sm_run_list *list = NULL;
	const char *limit_arg = cli_opt_arg(ctx, CLI_OPT_LIMIT);
	bool wide = !isatty(STDOUT_FILENO);
	long long limit = 20;
	int rc;
	sm_error err;

	(void)argc;
	(void)argv;
	if (limit_arg && !cli_parse_ll(limit_arg, 1, 1000000, &limit))
		return cli_usage_errorf("--limit: expected a positive number, got \"%s\"", limit_arg);
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;
	sm_error_clear(&err);
	if (sm_runs_read(ctx->eng, (int)limit, NULL, &list, &err) != SM_OK)
		return cli_report(&err);

	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);
		json_object *items = json_object_new_array();

		for (size_t i = 0; i < list->n; i++)
			json_object_array_add(items, run_json(&list->items[i]));
		out_json_add(doc, "runs", items);
		cli_json_emit(ctx, doc);
	} else if (list->n == 0) {
		printf("no runs recorded\n");
	} else {
		out_table *t = out_table_new(7, headers, "rllllll");

		for (size_t i = 0; i < list->n; i++) {
			const sm_run_record *r = &list->items[i];
			/* Cut for a person at a terminal, whole for a pipe. */
			char *details = wide ? out_sanitize(r->details)
					     : out_truncate(r->details ? r->details : "", DETAILS_COLS);

			out_table_cellf(t, "%lld", r->run_id);
			out_table_cell(t, r->kind);
			out_table_cell(t, r->outcome);
			out_table_cell(t, r->started_at);
			out_table_cell(t, r->finished_at ? r->finished_at : "-");
			if (r->os_user && *r->os_user)
				out_table_cell(t, r->os_user);
			else
				out_table_cell(t, r->db_user ? r->db_user : "-");
			out_table_cell(t, details);
			free(details);
		}
		out_table_print(t, stdout);
		out_table_free(t);
	}
	sm_run_list_free(list);
	return CLI_EXIT_OK;
}
