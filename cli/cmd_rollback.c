/*
 * `rollback` (undo a copy: the live rows it replaced restored, the rows it
 * inserted deleted, rows changed since left alone and reported) and
 * `rollback --list` (the recorded copies and which of them can be undone).
 *
 * It asks as copy does (cli/confirm.h), naming the copy it undoes; the
 * default is the newest copy that changed the live table and was not
 * rolled back yet, so a copy that changed nothing is never "rolled back".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/confirm.h"
#include "cli/output.h"
#include "util/alloc.h"

/* "Counter, Team": the labels of a copy's types. */
static char *types_text(const cli_ctx *ctx, const sm_copy_record *c)
{
	char *s = sm_xstrdup("");

	for (size_t i = 0; i < c->n_types; i++) {
		char *next = sm_xasprintf("%s%s%s", s, i ? ", " : "", cli_type_label(ctx, c->types[i]));

		free(s);
		s = next;
	}
	return s;
}

/* The copy a rollback of copy_id (0: the default) undoes, or NULL with
 * the reason printed and *rc set. */
static const sm_copy_record *pick(const cli_ctx *ctx, const sm_copy_list *list,
				  long long copy_id, int *rc)
{
	*rc = CLI_EXIT_USAGE;
	for (size_t i = 0; i < list->n; i++) {
		const sm_copy_record *c = &list->items[i];

		if (copy_id == 0 && c->undoable) {
			*rc = CLI_EXIT_OK;
			return c;
		}
		if (c->copy_id != copy_id)
			continue;
		if (c->rolled_back_by)
			cli_errorf("copy %lld was already rolled back (run %lld)", copy_id,
				   c->rolled_back_by);
		else if (!c->undoable)
			cli_errorf("copy %lld changed nothing in the live table: there is nothing "
				   "to roll back", copy_id);
		else
			*rc = CLI_EXIT_OK;
		return *rc == CLI_EXIT_OK ? c : NULL;
	}
	if (copy_id)
		cli_errorf("no copy with id %lld in %s (rollback --list shows them)", copy_id,
			   ctx->env->settings.target_schema);
	else if (list->n)
		cli_errorf("no copy left to roll back in %s: the copies since the last rollback "
			   "changed nothing (rollback --list shows them)", ctx->env->settings.target_schema);
	else
		cli_errorf("no copy has been recorded in schema %s", ctx->env->settings.target_schema);
	return NULL;
}

static const char *state_text(const sm_copy_record *c, const sm_copy_record *dflt,
			      char *buf, size_t size)
{
	if (c->rolled_back_by)
		snprintf(buf, size, "rolled back (run %lld)", c->rolled_back_by);
	else if (!c->undoable)
		snprintf(buf, size, "changed nothing");
	else
		snprintf(buf, size, "can be rolled back%s", c == dflt ? " (the default)" : "");
	return buf;
}

static int list_copies(cli_ctx *ctx, const sm_copy_list *list)
{
	const sm_copy_record *dflt = NULL;
	char state[64];

	for (size_t i = 0; i < list->n && !dflt; i++)
		if (list->items[i].undoable)
			dflt = &list->items[i];
	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);
		json_object *copies = json_object_new_array();

		for (size_t i = 0; i < list->n; i++) {
			const sm_copy_record *c = &list->items[i];
			json_object *o = json_object_new_object();
			json_object *types = json_object_new_array();

			for (size_t k = 0; k < c->n_types; k++)
				json_object_array_add(types, out_json_string(c->types[k]));
			out_json_add(o, "copy_id", json_object_new_int64(c->copy_id));
			out_json_add(o, "copied_at", out_json_string(c->copied_at));
			out_json_add(o, "types", types);
			out_json_add(o, "replaced", c->replaced < 0 ? NULL : json_object_new_int64(c->replaced));
			out_json_add(o, "inserted", c->inserted < 0 ? NULL : json_object_new_int64(c->inserted));
			out_json_add(o, "removed", c->removed < 0 ? NULL : json_object_new_int64(c->removed));
			out_json_add(o, "rolled_back_by", c->rolled_back_by
				     ? json_object_new_int64(c->rolled_back_by) : NULL);
			out_json_add(o, "undoable", json_object_new_boolean(c->undoable));
			out_json_add(o, "default", json_object_new_boolean(c == dflt));
			json_object_array_add(copies, o);
		}
		out_json_add(doc, "copies", copies);
		cli_json_emit(ctx, doc);
		return CLI_EXIT_OK;
	}
	if (list->n == 0) {
		printf("no copy has been recorded in schema %s\n", ctx->env->settings.target_schema);
		return CLI_EXIT_OK;
	}
	{
		static const char *const headers[] = {
			"COPY", "COPIED AT", "TYPES", "REPLACED", "INSERTED", "REMOVED", "STATE",
		};
		out_table *t = out_table_new(7, headers, "rllrrrl");

		for (size_t i = 0; i < list->n; i++) {
			const sm_copy_record *c = &list->items[i];
			char *types = types_text(ctx, c);

			out_table_cellf(t, "%lld", c->copy_id);
			out_table_cell(t, c->copied_at);
			out_table_cell(t, types);
			if (c->replaced < 0) {
				/* Made by an older snapmig: counts not recorded. */
				out_table_cell(t, "?");
				out_table_cell(t, "?");
				out_table_cell(t, "?");
			} else {
				out_table_count(t, c->replaced);
				out_table_count(t, c->inserted);
				out_table_count(t, c->removed);
			}
			out_table_cell(t, state_text(c, dflt, state, sizeof state));
			free(types);
		}
		out_table_print(t, stdout);
		out_table_free(t);
	}
	return CLI_EXIT_OK;
}

static void print_result(cli_ctx *ctx, const sm_rollback_result *res)
{
#define F(m) OUT_FIELD(sm_rollback_result, m)
	static const out_field fields[] = {
		F(copy_id), F(rollback_id), F(restored), F(deleted), F(drifted),
	};
#undef F
	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);
		json_object *uuids = json_object_new_array();

		OUT_JSON_FIELDS(doc, res, fields);
		for (size_t i = 0; i < res->n_drifted_uuids; i++)
			json_object_array_add(uuids, out_json_string(res->drifted_uuids[i]));
		out_json_add(doc, "drifted_examples", uuids);
		cli_json_emit(ctx, doc);
		return;
	}
	{
		char a[32], b[32], c[32];

		printf("rolled back copy %lld (journal run %lld): %s rows restored, "
		       "%s inserted rows deleted\n", res->copy_id, res->rollback_id,
		       sm_fmt_count(a, sizeof a, res->restored), sm_fmt_count(b, sizeof b, res->deleted));
		if (res->drifted) {
			printf("%s rows changed after the copy and were left as they are:\n",
			       sm_fmt_count(c, sizeof c, res->drifted));
			for (size_t i = 0; i < res->n_drifted_uuids; i++) {
				char *u = out_sanitize(res->drifted_uuids[i]);

				printf("  %s\n", u);
				free(u);
			}
			if ((long long)res->n_drifted_uuids < res->drifted)
				printf("  ...\n");
		}
	}
}

int cli_cmd_rollback(cli_ctx *ctx, int argc, char **argv)
{
	sm_rollback_result *res = NULL;
	sm_copy_list *list = NULL;
	const sm_copy_record *c;
	long long copy_id = 0;
	sm_error err;
	int rc;

	if (argc == 1 && !cli_parse_ll(argv[0], 1, 0x7fffffffffffffffLL, &copy_id))
		return cli_usage_errorf("rollback: \"%s\" is not a copy id", argv[0]);
	if (argc == 1 && cli_opt_given(ctx, CLI_OPT_LIST))
		return cli_usage_errorf("rollback: --list takes no copy id");
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;
	sm_error_clear(&err);
	if (sm_copies_read(ctx->eng, NULL, &list, &err) != SM_OK)
		return cli_report(&err);
	if (cli_opt_given(ctx, CLI_OPT_LIST)) {
		rc = list_copies(ctx, list);
		sm_copy_list_free(list);
		return rc;
	}
	c = pick(ctx, list, copy_id, &rc);
	if (c) {
		char *types = types_text(ctx, c);
		char *what, *where, a[32], b[32], d[32];
		char *env = out_sanitize(ctx->env->name), *t = out_sanitize(types);

		if (c->replaced < 0)
			what = sm_xasprintf("copy %lld of %s (%s)", c->copy_id, c->copied_at, t);
		else
			what = sm_xasprintf("copy %lld of %s (%s: %s replaced, %s inserted, %s removed)",
					    c->copy_id, c->copied_at, t,
					    sm_fmt_count(a, sizeof a, c->replaced),
					    sm_fmt_count(b, sizeof b, c->inserted),
					    sm_fmt_count(d, sizeof d, c->removed));
		where = sm_xasprintf("in the live table of %s", env);
		copy_id = c->copy_id;
		rc = cli_confirm(ctx, "roll back", "rolling back", "rolled back", what, where);
		free(what);
		free(where);
		free(types);
		free(env);
		free(t);
	}
	sm_copy_list_free(list);
	if (rc != CLI_EXIT_OK)
		return rc;
	sm_error_clear(&err);
	if (sm_rollback_run(ctx->eng, copy_id, NULL, &res, &err) != SM_OK)
		return cli_report(&err);
	print_result(ctx, res);
	rc = res->drifted ? CLI_EXIT_FINDINGS : CLI_EXIT_OK;
	sm_rollback_result_free(res);
	return rc;
}
