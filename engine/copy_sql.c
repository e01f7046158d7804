/*
 * Shared SQL of copy and rollback: the context, encodings, the row
 * classification, per-type plan counts with guards, the lock wait and the
 * copy's own tables.  See copy_internal.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cancel.h"
#include "engine/copy_internal.h"
#include "engine/target.h"
#include "util/alloc.h"

int sm_copy_ctx_open(sm_copy_ctx *ctx, const sm_engine *eng,
		     const char *const *types, size_t n_types, sm_cancel *cancel, sm_error *err)
{
	const sm_settings *st = &eng->env->settings;
	int rc;

	memset(ctx, 0, sizeof *ctx);
	ctx->eng = eng;
	ctx->src_name = st->source_schema;
	ctx->tgt_name = st->target_schema;
	rc = sm_engine_select_types(eng, types, n_types, &ctx->aggs, &ctx->n_aggs, err);
	if (rc != SM_OK)
		return rc;
	ctx->conn = sm_engine_connect(eng, cancel, err);
	if (!ctx->conn)
		return sm_error_code(err, SM_ERR_DB);
	ctx->src = sm_db_ident(ctx->conn, ctx->src_name);
	ctx->tgt = sm_db_ident(ctx->conn, ctx->tgt_name);
	if (!ctx->src || !ctx->tgt)
		return sm_db_error(ctx->conn, NULL, "quoting schema names", err);

	rc = sm_target_check(ctx->conn, eng, err);
	if (rc == SM_OK)
		rc = sm_store_prepare_session(ctx->conn, err);
	if (rc != SM_OK)
		return rc;
	sm_type_params_init(&ctx->params, ctx->aggs, ctx->n_aggs);
	rc = sm_store_layout_read(ctx->conn, st, &ctx->layout, err);
	if (rc != SM_OK)
		return rc;
	if (ctx->layout.snap_data == SM_COL_MISSING || ctx->layout.snap_meta == SM_COL_MISSING)
		return sm_error_set(err, SM_ERR_DB,
				    "no snapshots table with data/metadata columns of type bytea or jsonb "
				    "in the live schema %s", ctx->src_name);
	return sm_db_table_exists(ctx->conn, ctx->tgt_name, "snapmig_failures",
				  &ctx->have_failures, err);
}

int sm_copy_ctx_generated(sm_copy_ctx *ctx, sm_error *err)
{
	if (ctx->layout.tgt_data == SM_COL_MISSING || ctx->layout.tgt_meta == SM_COL_MISSING)
		return SM_OK;
	return sm_target_fingerprints(ctx->conn, ctx->eng, ctx->aggs, ctx->n_aggs, false,
				      &ctx->fps, err);
}

int sm_copy_ctx_lock(sm_copy_ctx *ctx, const char *operation, sm_error *err)
{
	int rc = sm_target_ensure(ctx->conn, ctx->eng, false, err);

	if (rc == SM_OK)
		rc = sm_target_lock(ctx->conn, ctx->eng, SM_LOCK_EXCLUSIVE, operation, err);
	ctx->locked = rc == SM_OK;
	return rc;
}

void sm_copy_ctx_close(sm_copy_ctx *ctx)
{
	if (ctx->locked)
		sm_target_unlock(ctx->conn, ctx->eng);
	sm_type_fps_free(ctx->fps, ctx->n_aggs);
	sm_engine_disconnect(ctx->conn);
	free(ctx->src);
	free(ctx->tgt);
	free(ctx->aggs);
	sm_type_params_clear(&ctx->params);
	memset(ctx, 0, sizeof *ctx);
}

char *sm_copy_version_expr(const sm_copy_ctx *ctx, const char *col)
{
	/* The same definition as the inventory and the rebuild use:
	 * missing key = 1, not a number = 0, undecodable = -1, so only a
	 * real match equals a target. */
	return sm_store_module_version(ctx->layout.snap_meta, col, "$1::text");
}

char *sm_copy_write_expr(const sm_copy_ctx *ctx, const char *col,
			 enum sm_column_type gen_type, enum sm_column_type live_type)
{
	/* A jsonb live table keeps its own form, object or JSON text in a
	 * string (double encoding), value by value. */
	return sm_store_json_convert(gen_type, live_type, ctx->layout.double_encoded, col);
}

static char *digest_of(const char *expr, enum sm_column_type type)
{
	if (type == SM_COL_BYTEA)
		return sm_xasprintf("md5(%s)", expr);
	return sm_xasprintf("md5((%s)::text)", expr);
}

char *sm_copy_fingerprint_expr(const sm_copy_ctx *ctx, const char *version,
			       const char *type, const char *data, const char *meta)
{
	char *d = digest_of(data, ctx->layout.snap_data);
	char *m = digest_of(meta, ctx->layout.snap_meta);
	char *s = sm_xasprintf("md5(concat_ws('|', (%s)::text, %s, %s, COALESCE(%s, '-')))",
			       version, type, d, m);

	free(d);
	free(m);
	return s;
}

char *sm_copy_classify_sql(const sm_copy_ctx *ctx)
{
	bool have_target = ctx->layout.tgt_data != SM_COL_MISSING && ctx->layout.tgt_meta != SM_COL_MISSING;
	char *gen = have_target ? sm_xstrdup("pg_temp.sm_gen")
		: sm_xstrdup("(SELECT NULL::text AS source_uuid, NULL::bigint AS source_version, "
			     "NULL::text AS source_type, NULL::jsonb AS metadata WHERE false)");
	char *gver = sm_copy_version_expr(ctx, "g.metadata");
	char *lver = sm_copy_version_expr(ctx, "l.metadata");
	char *sql = sm_xasprintf(
		"WITH sel(type, target) AS (SELECT * FROM unnest($2::text[], $3::bigint[])) "
		"SELECT g.source_uuid, g.source_type,"
		" CASE WHEN l.source_uuid IS NULL THEN 'insert'"
		"  WHEN %4$s IS NOT DISTINCT FROM sel.target AND l.source_version >= g.source_version"
		"  THEN 'keep' ELSE 'replace' END AS action,"
		" %3$s IS DISTINCT FROM sel.target AS off_version,"
		" GREATEST(COALESCE(st.stream_version, 0) - g.source_version, 0)::bigint AS lag"
		" FROM %2$s g JOIN sel ON sel.type = g.source_type"
		" LEFT JOIN %1$s.snapshots l ON l.source_uuid = g.source_uuid"
		" LEFT JOIN %1$s.streams st ON st.stream_uuid = g.source_uuid "
		"UNION ALL "
		"SELECT l.source_uuid, l.source_type,"
		" CASE WHEN %4$s IS NOT DISTINCT FROM sel.target THEN 'untouched' ELSE 'stale' END,"
		" false, 0::bigint"
		" FROM %1$s.snapshots l JOIN sel ON sel.type = l.source_type"
		" WHERE NOT EXISTS (SELECT 1 FROM %2$s g WHERE g.source_uuid = l.source_uuid"
		"  AND g.source_type = ANY($2::text[]))",
		ctx->src, gen, gver, lver);

	free(gen);
	free(gver);
	free(lver);
	return sql;
}

/* Appends one guard's text to the type's message. */
static void add_guard(sm_copy_type_plan *tp, unsigned guard, unsigned force,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void add_guard(sm_copy_type_plan *tp, unsigned guard, unsigned force,
		      const char *fmt, ...)
{
	char text[512];
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	tp->guards |= guard;
	msg = sm_xasprintf("%s%s%s: %s%s", tp->guard_message ? tp->guard_message : "",
			   tp->guard_message ? "; " : "", tp->type, text,
			   (force & guard) ? " (overridden)" : "");
	free(tp->guard_message);
	tp->guard_message = msg;
}

static void set_guards(const sm_copy_ctx *ctx, sm_copy_type_plan *tp,
		       long long failures, unsigned force)
{
	const sm_settings *st = &ctx->eng->env->settings;
	long long target = 0;

	for (size_t i = 0; i < ctx->n_aggs; i++)
		if (strcmp(ctx->aggs[i]->type, tp->type) == 0)
			target = ctx->aggs[i]->snapshot_version;
	/* A type with no rows at all, live or generated, has nothing to lose:
	 * copying "all types" must not stop on it. */
	if (tp->generated == 0 && tp->stale_generated > 0 &&
	    tp->untouched + tp->stale_without_replacement > 0)
		add_guard(tp, SM_GUARD_EMPTY, force,
			  "its %lld generated row%s in schema %s %s stale (made by another reducer or "
			  "configuration, or by an older snapmig): rebuild to generate them again",
			  tp->stale_generated, tp->stale_generated == 1 ? "" : "s", ctx->tgt_name,
			  tp->stale_generated == 1 ? "is" : "are");
	else if (tp->generated == 0 && tp->untouched + tp->stale_without_replacement > 0)
		add_guard(tp, SM_GUARD_EMPTY, force,
			  "nothing generated in schema %s: run a rebuild first, or override the %s guard",
			  ctx->tgt_name, sm_copy_guard_name(SM_GUARD_EMPTY));
	if (tp->off_version > 0)
		add_guard(tp, SM_GUARD_VERSION, force,
			  "%lld of %lld generated rows are not at the configured snapshot version %lld "
			  "(the configuration changed since the rebuild): rebuild again, or override "
			  "the %s guard", tp->off_version, tp->generated, target,
			  sm_copy_guard_name(SM_GUARD_VERSION));
	if (failures > 0)
		add_guard(tp, SM_GUARD_FAILURES, force,
			  "%lld failure%s recorded by the last run: fix and rebuild the failed "
			  "instances, or override the %s guard", failures, failures == 1 ? "" : "s",
			  sm_copy_guard_name(SM_GUARD_FAILURES));
	if (st->copy_max_lag >= 0 && tp->lag_events > st->copy_max_lag)
		add_guard(tp, SM_GUARD_LAG, force,
			  "generated rows are %lld events behind the live streams (limit %lld): "
			  "run a catch-up rebuild first (it resumes and is quick), or override "
			  "the %s guard", tp->lag_events, st->copy_max_lag,
			  sm_copy_guard_name(SM_GUARD_LAG));
}

int sm_copy_plan_from(sm_copy_ctx *ctx, const char *relation, int nparams,
		      unsigned force, sm_copy_plan **out, sm_error *err)
{
	const char *params[] = { ctx->eng->env->settings.metadata_key, ctx->params.types,
				 ctx->params.versions };
	char *sql = sm_xasprintf(
		"SELECT c.source_type,"
		" count(*) FILTER (WHERE c.action IN ('replace', 'insert', 'keep')),"
		" count(*) FILTER (WHERE c.action = 'replace'),"
		" count(*) FILTER (WHERE c.action = 'insert'),"
		" count(*) FILTER (WHERE c.action = 'keep'),"
		" count(*) FILTER (WHERE c.action = 'untouched'),"
		" count(*) FILTER (WHERE c.action = 'stale'),"
		" count(*) FILTER (WHERE c.off_version),"
		" COALESCE(sum(c.lag), 0)"
		" FROM %s GROUP BY c.source_type", relation);
	PGresult *res = sm_db_query(ctx->conn, sql, nparams, nparams ? params : NULL, err);
	PGresult *fres = NULL, *sres = NULL;
	sm_copy_plan *plan;

	free(sql);
	*out = NULL;
	if (!res) {
		sm_error_prefix(err, "planning the copy");
		return sm_error_code(err, SM_ERR_DB);
	}
	if (ctx->have_failures) {
		const char *fp[] = { ctx->params.types };

		sql = sm_xasprintf("SELECT source_type, count(*) FROM %s.snapmig_failures"
				   " WHERE source_type = ANY($1::text[]) GROUP BY 1", ctx->tgt);
		fres = sm_db_query(ctx->conn, sql, 1, fp, err);
		free(sql);
		if (!fres) {
			PQclear(res);
			sm_error_prefix(err, "reading recorded failures");
			return sm_error_code(err, SM_ERR_DB);
		}
	}
	if (ctx->fps) {
		/* Generated rows that take no part: not current. */
		const char *sp[] = { ctx->params.types };

		sql = sm_xasprintf("SELECT t.source_type, count(*) FROM %s.snapshots t"
				   " WHERE t.source_type = ANY($1::text[]) AND NOT EXISTS"
				   " (SELECT 1 FROM pg_temp.sm_gen g WHERE g.source_uuid = t.source_uuid)"
				   " GROUP BY 1", ctx->tgt);
		sres = sm_db_query(ctx->conn, sql, 1, sp, err);
		free(sql);
		if (!sres) {
			PQclear(res);
			PQclear(fres);
			sm_error_prefix(err, "counting stale generated rows");
			return sm_error_code(err, SM_ERR_DB);
		}
	}
	plan = sm_xcalloc(1, sizeof *plan);
	plan->types = sm_xcalloc(ctx->n_aggs + 1, sizeof *plan->types);
	plan->n_types = ctx->n_aggs;
	for (size_t i = 0; i < ctx->n_aggs; i++) {
		sm_copy_type_plan *tp = &plan->types[i];
		long long failures = 0;

		for (int r = 0; sres && r < PQntuples(sres); r++)
			if (strcmp(PQgetvalue(sres, r, 0), ctx->aggs[i]->type) == 0)
				tp->stale_generated = sm_db_ll(sres, r, 1);
		if (ctx->fps && ctx->fps[i].failed)
			tp->fingerprint_error = sm_xstrdup(ctx->fps[i].error);

		tp->type = sm_xstrdup(ctx->aggs[i]->type);
		tp->label = sm_xstrdup(ctx->aggs[i]->label ? ctx->aggs[i]->label : ctx->aggs[i]->type);
		for (int r = 0; r < PQntuples(res); r++) {
			if (strcmp(PQgetvalue(res, r, 0), tp->type) != 0)
				continue;
			tp->generated = sm_db_ll(res, r, 1);
			tp->replace = sm_db_ll(res, r, 2);
			tp->insert = sm_db_ll(res, r, 3);
			tp->keep_newer = sm_db_ll(res, r, 4);
			tp->untouched = sm_db_ll(res, r, 5);
			tp->stale_without_replacement = sm_db_ll(res, r, 6);
			tp->off_version = sm_db_ll(res, r, 7);
			tp->lag_events = sm_db_ll(res, r, 8);
		}
		for (int r = 0; fres && r < PQntuples(fres); r++)
			if (strcmp(PQgetvalue(fres, r, 0), tp->type) == 0)
				failures = sm_db_ll(fres, r, 1);
		tp->failures = failures;
		set_guards(ctx, tp, failures, force);
		plan->guards |= tp->guards & ~force;
	}
	PQclear(res);
	PQclear(fres);
	PQclear(sres);
	*out = plan;
	return SM_OK;
}

/* The counts of what a copy changed (NULL: an older snapmig made it), for
 * rollback to skip copies that changed nothing; added to an older table
 * only when missing (ALTER TABLE locks it even when there is nothing to
 * add). */
static int add_copy_counts(sm_copy_ctx *ctx, sm_error *err)
{
	const char *p[] = { ctx->tgt_name };
	PGresult *res = sm_db_query(ctx->conn,
		"SELECT 1 FROM information_schema.columns WHERE table_schema = $1"
		" AND table_name = 'snapmig_copies' AND column_name = 'replaced'", 1, p, err);
	char *sql;
	int rc;

	if (!res)
		return SM_ERR_DB;
	rc = PQntuples(res) ? 1 : 0;
	PQclear(res);
	if (rc)
		return SM_OK;
	sql = sm_xasprintf("ALTER TABLE %s.snapmig_copies ADD COLUMN IF NOT EXISTS replaced bigint,"
			   " ADD COLUMN IF NOT EXISTS inserted bigint,"
			   " ADD COLUMN IF NOT EXISTS removed bigint", ctx->tgt);
	rc = sm_db_exec(ctx->conn, sql, err);
	free(sql);
	return rc;
}

int sm_copy_ensure_tables(sm_copy_ctx *ctx, sm_error *err)
{
	char *sql = sm_xasprintf(
		"BEGIN; SELECT pg_advisory_xact_lock(7365616, 2);"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_copies ("
		" copy_id bigint PRIMARY KEY,"
		" environment text NOT NULL,"
		" types text[] NOT NULL,"
		" copied_at timestamp with time zone NOT NULL DEFAULT now(),"
		" rolled_back_by bigint,"
		" rolled_back_at timestamp with time zone,"
		" replaced bigint, inserted bigint, removed bigint);"

		/* action: replace / remove (old row saved) or insert (marker
		 * only); written_fp: fingerprint of what the copy wrote. */
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_backup ("
		" copy_id bigint NOT NULL,"
		" source_uuid text NOT NULL,"
		" action text NOT NULL,"
		" source_version bigint,"
		" source_type text,"
		" data %2$s,"
		" metadata %3$s,"
		" created_at timestamp with time zone,"
		" written_fp text,"
		" PRIMARY KEY (copy_id, source_uuid));"
		"COMMIT",
		ctx->tgt, sm_store_column_sql(ctx->layout.snap_data),
		sm_store_column_sql(ctx->layout.snap_meta));
	enum sm_column_type d, m;
	int rc = sm_db_exec(ctx->conn, sql, err);

	free(sql);
	if (rc != SM_OK) {
		sm_db_exec(ctx->conn, "ROLLBACK", NULL);
		sm_error_prefix(err, "creating the backup tables in %s", ctx->tgt_name);
		return rc;
	}
	if (rc == SM_OK)
		rc = add_copy_counts(ctx, err);
	if (rc == SM_OK)
		rc = sm_store_table_columns(ctx->conn, ctx->tgt_name, "snapmig_backup", &d, &m, err);
	if (rc == SM_OK && (d != ctx->layout.snap_data || m != ctx->layout.snap_meta))
		rc = sm_error_set(err, SM_ERR_DATA,
				  "%s.snapmig_backup stores data as %s but the live snapshots table "
				  "uses %s: rename the old backup table before copying",
				  ctx->tgt_name, sm_column_type_name(d),
				  sm_column_type_name(ctx->layout.snap_data));
	return rc;
}

void sm_copy_journal_finish(sm_copy_ctx *ctx, long long run_id,
			    const char *outcome, const char *details_json)
{
	PGconn *conn = ctx->conn;
	sm_error ignored;

	if (run_id <= 0)
		return;
	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		conn = sm_engine_connect(ctx->eng, NULL, &ignored);
	if (!conn)
		return;
	sm_db_journal_finish(conn, ctx->tgt_name, run_id, outcome, details_json, &ignored);
	if (conn != ctx->conn)
		sm_engine_disconnect(conn);
}

void sm_copy_journal_failure(sm_copy_ctx *ctx, long long run_id, const char *outcome,
			     const char *details_json)
{
	/* The call's cancel token has done its work: what follows only
	 * records what happened, and must not be refused. */
	sm_cancel_unwatch(ctx->conn);
	if (PQstatus(ctx->conn) == CONNECTION_OK)
		sm_db_exec(ctx->conn, "ROLLBACK", NULL);
	sm_copy_journal_finish(ctx, run_id, outcome, details_json);
}
