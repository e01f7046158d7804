/*
 * `discard [TYPE]...`: drops the generated snapshots of the types (every
 * configured type when none is named, or those of -a) from the target
 * schema, on purpose, after the confirmation copy asks for
 * (cli/confirm.h).  The live table is not touched; a rebuild then
 * generates those instances afresh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/confirm.h"
#include "cli/output.h"
#include "util/alloc.h"

int cli_cmd_discard(cli_ctx *ctx, int argc, char **argv)
{
	const char **types;
	size_t n = 0;
	sm_inventory *inv = NULL;
	sm_discard_result *res = NULL;
	long long rows = 0;
	char *names, *what, *where, *env, num[32];
	sm_error err;
	int rc;

	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;
	/* Operands and -a name types alike. */
	types = sm_xcalloc((size_t)argc + ctx->g.n_types + 1, sizeof *types);
	for (int i = 0; i < argc; i++)
		types[n++] = argv[i];
	for (size_t i = 0; i < ctx->g.n_types; i++)
		types[n++] = ctx->g.types[i];
	for (size_t i = 0; i < n; i++)
		if (!sm_config_find_aggregate(ctx->cfg, types[i])) {
			rc = cli_usage_errorf("discard: no aggregate type or label \"%s\" in the configuration",
					      types[i]);
			free(types);
			return rc;
		}
	/* What would go, for the question. */
	sm_error_clear(&err);
	if (sm_inventory_read(ctx->eng, NULL, &inv, &err) != SM_OK) {
		free(types);
		return cli_report(&err);
	}
	names = sm_xstrdup("");
	for (size_t i = 0; i < inv->n_types; i++) {
		const sm_type_inventory *t = &inv->types[i];
		bool chosen = n == 0 ? t->configured : false;
		char *next;

		for (size_t k = 0; k < n && !chosen; k++)
			chosen = strcmp(types[k], t->type) == 0 || (t->label && strcmp(types[k], t->label) == 0);
		if (!chosen)
			continue;
		rows += t->target_rows;
		next = sm_xasprintf("%s%s%s", names, *names ? ", " : "", t->label ? t->label : t->type);
		free(names);
		names = next;
	}
	sm_inventory_free(inv);
	env = out_sanitize(ctx->env->name);
	{
		char *clean = out_sanitize(names);

		what = sm_xasprintf("the %s generated snapshot%s of %s in schema %s",
				    sm_fmt_count(num, sizeof num, rows), rows == 1 ? "" : "s", clean,
				    ctx->env->settings.target_schema);
		free(clean);
	}
	where = sm_xasprintf("of %s", env);
	rc = cli_confirm(ctx, "discard", "discarding", "discarded", what, where);
	free(what);
	free(where);
	free(names);
	free(env);
	if (rc == CLI_EXIT_OK) {
		sm_error_clear(&err);
		if (sm_discard_run(ctx->eng, types, n, NULL, &res, &err) != SM_OK)
			rc = cli_report(&err);
	}
	free(types);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);

		out_json_add(doc, "run_id", res->run_id ? json_object_new_int64(res->run_id) : NULL);
		out_json_add(doc, "rows", json_object_new_int64(res->rows));
		out_json_add(doc, "failures", json_object_new_int64(res->failures));
		cli_json_emit(ctx, doc);
	} else {
		char a[32], b[32];

		printf("discarded %s generated snapshots and %s recorded failures (journal run %lld); "
		       "a rebuild generates them again\n", sm_fmt_count(a, sizeof a, res->rows),
		       sm_fmt_count(b, sizeof b, res->failures), res->run_id);
	}
	sm_discard_result_free(res);
	return CLI_EXIT_OK;
}
