/*
 * Rollback of a copy: in one transaction holding the same lock as the copy,
 * restore the rows the copy saved in <target>.snapmig_backup, delete the
 * rows it inserted and re-insert the ones it removed, except rows that
 * changed after the copy (their fingerprint differs from what the copy
 * wrote, or a removed row came back): those are reported as drifted and
 * left alone.  A copy is rolled back at most once (snapmig_copies).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/copy_internal.h"
#include "util/alloc.h"

void sm_rollback_result_free(sm_rollback_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_drifted_uuids; i++)
		free(res->drifted_uuids[i]);
	free(res->drifted_uuids);
	free(res);
}

static char *details_text(long long copy_id, const sm_rollback_result *r, const char *error)
{
	json_object *o = json_object_new_object();

	if (copy_id > 0)
		json_object_object_add(o, "copy_id", json_object_new_int64(copy_id));
	if (r) {
		json_object *ex = json_object_new_array();

		json_object_object_add(o, "restored", json_object_new_int64(r->restored));
		json_object_object_add(o, "deleted", json_object_new_int64(r->deleted));
		json_object_object_add(o, "drifted", json_object_new_int64(r->drifted));
		for (size_t i = 0; i < r->n_drifted_uuids; i++)
			json_object_array_add(ex, json_object_new_string(r->drifted_uuids[i]));
		json_object_object_add(o, "drifted_examples", ex);
	}
	return sm_db_journal_details(o, error);
}

/* Finds the copy to roll back (locked FOR UPDATE) and checks it may be. */
static int resolve_copy(sm_copy_ctx *ctx, long long requested, long long *copy_id,
			sm_error *err)
{
	char id[32];
	const char *p[] = { id };
	/* The default is the newest copy that changed the live table: one
	 * that changed nothing would "restore 0 rows" and look done.  Counts
	 * are NULL for copies of an older snapmig: those may have changed
	 * something. */
	char *sql = sm_xasprintf(
		"SELECT copy_id, rolled_back_by, COALESCE(replaced + inserted + removed, -1)"
		" FROM %s.snapmig_copies"
		" WHERE copy_id = $1::bigint OR ($1::bigint = 0 AND rolled_back_by IS NULL"
		"  AND COALESCE(replaced + inserted + removed, -1) <> 0)"
		" ORDER BY copy_id DESC LIMIT 1 FOR UPDATE", ctx->tgt);
	PGresult *res;
	int rc = SM_OK;

	snprintf(id, sizeof id, "%lld", requested);
	res = sm_db_query(ctx->conn, sql, 1, p, err);
	free(sql);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	if (PQntuples(res) == 0)
		rc = requested ? sm_error_set(err, SM_ERR_USAGE, "no copy with id %lld in %s",
					      requested, ctx->tgt_name)
			       : sm_error_set(err, SM_ERR_USAGE, "no copy left to roll back in %s",
					      ctx->tgt_name);
	else if (!PQgetisnull(res, 0, 1))
		rc = sm_error_set(err, SM_ERR_USAGE, "copy %lld was already rolled back (run %s)",
				  requested, PQgetvalue(res, 0, 1));
	else if (sm_db_ll(res, 0, 2) == 0)
		rc = sm_error_set(err, SM_ERR_USAGE, "copy %lld changed nothing in the live table: "
				  "there is nothing to roll back", requested);
	else
		*copy_id = sm_db_ll(res, 0, 0);
	PQclear(res);
	return rc;
}

static int read_drifted(sm_copy_ctx *ctx, sm_rollback_result *r, sm_error *err)
{
	PGresult *res = sm_db_query(ctx->conn,
		"SELECT source_uuid, count(*) OVER () FROM snapmig_rollback_work"
		" WHERE NOT clean ORDER BY source_uuid LIMIT 20", 0, NULL, err);

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	r->n_drifted_uuids = (size_t)PQntuples(res);
	r->drifted_uuids = sm_xcalloc(r->n_drifted_uuids + 1, sizeof *r->drifted_uuids);
	for (int i = 0; i < PQntuples(res); i++)
		r->drifted_uuids[i] = sm_xstrdup(PQgetvalue(res, i, 0));
	r->drifted = PQntuples(res) ? sm_db_ll(res, 0, 1) : 0;
	PQclear(res);
	return SM_OK;
}

/* Puts the clean rows back as the backup has them: replaced rows
 * restored, removed rows inserted again, inserted rows deleted.  p: the
 * copy id and the rollback's. */
static int restore_rows(sm_copy_ctx *ctx, const char *const *p, sm_rollback_result *r,
			sm_error *err)
{
	long long inserted_back = 0;
	int rc;

	rc = sm_db_step(SM_OK, ctx->conn, 1, p, &r->restored, "restoring replaced rows", err,
		"UPDATE %2$s.snapshots l SET source_version = b.source_version,"
		" source_type = b.source_type, data = b.data, metadata = b.metadata,"
		" created_at = b.created_at"
		" FROM snapmig_rollback_work w JOIN %1$s.snapmig_backup b"
		"  ON b.copy_id = $1::bigint AND b.source_uuid = w.source_uuid"
		" WHERE w.action = 'replace' AND w.clean AND l.source_uuid = w.source_uuid",
		ctx->tgt, ctx->src);
	rc = sm_db_step(rc, ctx->conn, 1, p, &inserted_back, "restoring removed rows", err,
		"INSERT INTO %2$s.snapshots (source_uuid, source_version, source_type, data,"
		" metadata, created_at)"
		" SELECT b.source_uuid, b.source_version, b.source_type, b.data, b.metadata, b.created_at"
		" FROM snapmig_rollback_work w JOIN %1$s.snapmig_backup b"
		"  ON b.copy_id = $1::bigint AND b.source_uuid = w.source_uuid"
		" WHERE w.action = 'remove' AND w.clean", ctx->tgt, ctx->src);
	r->restored += inserted_back;
	return sm_db_step(rc, ctx->conn, 0, NULL, &r->deleted, "deleting inserted rows", err,
		"DELETE FROM %s.snapshots l USING snapmig_rollback_work w"
		" WHERE w.action = 'insert' AND w.clean AND l.source_uuid = w.source_uuid",
		ctx->src);
}

static int rollback_transaction(sm_copy_ctx *ctx, long long requested,
				sm_rollback_result *r, sm_error *err)
{
	char id[32], rb[32];
	const char *p[] = { id, rb };
	char *fp = sm_copy_fingerprint_expr(ctx, "l.source_version", "l.source_type",
					    "l.data", "l.metadata");
	char *sql;
	int rc;

	rc = sm_db_exec(ctx->conn, "BEGIN", err);
	if (rc == SM_OK) {
		sql = sm_xasprintf("LOCK TABLE %s.snapshots IN SHARE ROW EXCLUSIVE MODE", ctx->src);
		rc = sm_db_exec(ctx->conn, sql, err);
		free(sql);
	}
	if (rc == SM_OK)
		rc = resolve_copy(ctx, requested, &r->copy_id, err);
	snprintf(id, sizeof id, "%lld", r->copy_id);
	snprintf(rb, sizeof rb, "%lld", r->rollback_id);
	if (rc == SM_OK)
		rc = sm_db_exec(ctx->conn,
			"CREATE TEMP TABLE snapmig_rollback_work (source_uuid text PRIMARY KEY,"
			" action text NOT NULL, clean bool NOT NULL) ON COMMIT DROP", err);
	/* clean: the live row is still exactly what the copy left. */
	rc = sm_db_step(rc, ctx->conn, 1, p, NULL, "comparing live rows with the copy", err,
		"INSERT INTO snapmig_rollback_work"
		" SELECT b.source_uuid, b.action,"
		"  CASE WHEN b.action = 'remove' THEN l.source_uuid IS NULL"
		"  ELSE l.source_uuid IS NOT NULL AND b.written_fp IS NOT DISTINCT FROM %3$s END"
		" FROM %1$s.snapmig_backup b LEFT JOIN %2$s.snapshots l ON l.source_uuid = b.source_uuid"
		" WHERE b.copy_id = $1::bigint", ctx->tgt, ctx->src, fp);
	if (rc == SM_OK)
		rc = sm_db_exec(ctx->conn, "ANALYZE snapmig_rollback_work", err);
	if (rc == SM_OK)
		rc = restore_rows(ctx, p, r, err);
	if (rc == SM_OK)
		rc = read_drifted(ctx, r, err);
	rc = sm_db_step(rc, ctx->conn, 2, p, NULL, "recording the rollback", err,
		"UPDATE %s.snapmig_copies SET rolled_back_by = $2::bigint,"
		" rolled_back_at = now() WHERE copy_id = $1::bigint", ctx->tgt);
	if (rc == SM_OK)
		rc = sm_db_exec(ctx->conn, "COMMIT", err);
	free(fp);
	return rc;
}

int sm_rollback_run(sm_engine *eng, long long copy_id, sm_cancel *cancel,
		    sm_rollback_result **out, sm_error *err)
{
	sm_copy_ctx ctx;
	sm_rollback_result *r;
	sm_error local;
	bool exists = false;
	char *details;
	int rc;

	*out = NULL;
	if (!err)
		err = &local;
	if (copy_id < 0)
		return sm_error_set(err, SM_ERR_USAGE, "invalid copy id %lld", copy_id);
	rc = sm_copy_ctx_open(&ctx, eng, NULL, 0, cancel, err);
	/* One operation at a time: the lock first, so that a refusal names
	 * what runs. */
	if (rc == SM_OK)
		rc = sm_db_table_exists(ctx.conn, ctx.tgt_name, "snapshots", &exists, err);
	if (rc == SM_OK && exists)
		rc = sm_copy_ctx_lock(&ctx, "rollback", err);
	if (rc == SM_OK)
		rc = sm_db_table_exists(ctx.conn, ctx.tgt_name, "snapmig_copies", &exists, err);
	if (rc == SM_OK && !exists)
		rc = sm_error_set(err, SM_ERR_USAGE, "no copy has been recorded in schema %s",
				  ctx.tgt_name);
	if (rc == SM_OK)
		rc = sm_copy_ensure_tables(&ctx, err);
	if (rc != SM_OK) {
		sm_copy_ctx_close(&ctx);
		return rc;
	}
	r = sm_xcalloc(1, sizeof *r);
	details = details_text(copy_id, NULL, NULL);
	rc = sm_db_journal_start(ctx.conn, ctx.tgt_name, "rollback", eng->env->name, details,
				 &r->rollback_id, err);
	free(details);
	if (rc == SM_OK) {
		rc = rollback_transaction(&ctx, copy_id, r, err);
		if (rc != SM_OK) {
			details = details_text(copy_id, NULL, err->message);
			sm_copy_journal_failure(&ctx, r->rollback_id,
						rc == SM_ERR_USAGE ? "refused" :
						rc == SM_ERR_CANCELLED ? "cancelled" : "failed", details);
		} else {
			details = details_text(r->copy_id, r, NULL);
			sm_copy_journal_finish(&ctx, r->rollback_id, "done", details);
		}
		free(details);
	}
	if (rc == SM_OK)
		*out = r;
	else
		sm_rollback_result_free(r);
	sm_copy_ctx_close(&ctx);
	return rc;
}
