/*
 * Copy of the generated snapshots into the live snapshots table: the plan,
 * then one transaction that locks the live table against EventStore's
 * upserts, plans again, checks the guards, saves every row it replaces or
 * removes into <target>.snapmig_backup (plus a marker per inserted row and a
 * fingerprint of what it wrote, for rollback and its drift rule), writes,
 * verifies what it wrote (read back before COMMIT), commits and journals the
 * result.
 * A copy killed at any point before COMMIT leaves the live table as it was.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/copy_internal.h"
#include "util/alloc.h"


void sm_copy_plan_free(sm_copy_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_types; i++) {
		free(plan->types[i].type);
		free(plan->types[i].label);
		free(plan->types[i].guard_message);
		free(plan->types[i].fingerprint_error);
	}
	free(plan->types);
	free(plan);
}

void sm_copy_result_free(sm_copy_result *res)
{
	if (!res)
		return;
	free(res->checksum);
	free(res);
}

int sm_copy_plan_read(sm_engine *eng, const sm_copy_options *opts, sm_cancel *cancel,
		      sm_copy_plan **out, sm_error *err)
{
	static const sm_copy_options none;
	sm_copy_ctx ctx;
	sm_activity activity;
	char *classify, *relation;
	int rc;

	*out = NULL;
	if (!opts)
		opts = &none;
	rc = sm_copy_ctx_open(&ctx, eng, opts->types, opts->n_types, cancel, err);
	if (rc == SM_OK)
		rc = sm_copy_ctx_generated(&ctx, err);
	if (rc == SM_OK)
		rc = sm_target_activity(ctx.conn, eng, &activity, err);
	if (rc == SM_OK) {
		classify = sm_copy_classify_sql(&ctx);
		relation = sm_xasprintf("(%s) c", classify);
		rc = sm_copy_plan_from(&ctx, relation, 3, opts->force, out, err);
		free(relation);
		free(classify);
		if (rc == SM_OK)
			(*out)->activity = activity;
	}
	sm_copy_ctx_close(&ctx);
	return rc;
}

/* Runs one statement with parameters; *affected gets its row count. */
static json_object *types_json(const sm_copy_ctx *ctx)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < ctx->n_aggs; i++)
		json_object_array_add(a, json_object_new_string(ctx->aggs[i]->type));
	return a;
}

static json_object *guards_json(unsigned bits)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < SM_GUARD__COUNT; i++)
		if (bits & (1u << i))
			json_object_array_add(a, json_object_new_string(sm_copy_guard_name(1u << i)));
	return a;
}

/* The journal's details (caller frees). */
static char *details_text(const sm_copy_ctx *ctx, const sm_copy_options *opts,
			  const sm_copy_result *r, const char *error)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "types", types_json(ctx));
	json_object_object_add(o, "remove_stale", json_object_new_boolean(opts->remove_stale));
	json_object_object_add(o, "forced", guards_json(opts->force));
	if (r) {
		json_object_object_add(o, "copy_id", json_object_new_int64(r->copy_id));
		json_object_object_add(o, "replaced", json_object_new_int64(r->replaced));
		json_object_object_add(o, "inserted", json_object_new_int64(r->inserted));
		json_object_object_add(o, "kept_newer", json_object_new_int64(r->kept_newer));
		json_object_object_add(o, "removed", json_object_new_int64(r->removed));
		json_object_object_add(o, "stale_kept", json_object_new_int64(r->stale_kept));
		json_object_object_add(o, "stale_generated", json_object_new_int64(r->stale_generated));
		json_object_object_add(o, "backed_up", json_object_new_int64(r->backed_up));
		json_object_object_add(o, "verified", json_object_new_boolean(r->verified));
		if (r->checksum)
			json_object_object_add(o, "checksum", json_object_new_string(r->checksum));
	}
	return sm_db_journal_details(o, error);
}

/* SM_ERR_GUARD with the messages of the tripped, not forced guards. */
static int guard_error(const sm_copy_plan *plan, unsigned force, sm_error *err)
{
	char msg[sizeof err->message];
	size_t len = 0;

	msg[0] = '\0';
	for (size_t i = 0; i < plan->n_types && len < sizeof msg; i++) {
		const sm_copy_type_plan *tp = &plan->types[i];

		if (!(tp->guards & ~force))
			continue;
		len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s",
					len ? "; " : "", tp->guard_message);
	}
	return sm_error_set(err, SM_ERR_GUARD, "copy refused: %s", msg);
}

/* Reads back what the copy wrote: every copied row must be there with the
 * fingerprint computed from its generated row when it was written (so the
 * comparison covers the conversion), and no removed row may be back; the
 * checksum is over the copied rows in source_uuid order. */
static int verify(sm_copy_ctx *ctx, sm_copy_result *r, sm_error *err)
{
	char *lfp = sm_copy_fingerprint_expr(ctx, "l.source_version", "l.source_type",
					     "l.data", "l.metadata");
	char *sql = sm_xasprintf(
		"SELECT count(l.source_uuid) FILTER (WHERE b.action IN ('replace', 'insert')),"
		" count(*) FILTER (WHERE b.action IN ('replace', 'insert') AND %3$s = b.written_fp),"
		" md5(COALESCE(string_agg(b.source_uuid || ':' || %3$s, ',' ORDER BY b.source_uuid)"
		"  FILTER (WHERE b.action IN ('replace', 'insert')), '')),"
		" count(l.source_uuid) FILTER (WHERE b.action = 'remove')"
		" FROM %1$s.snapmig_backup b LEFT JOIN %2$s.snapshots l ON l.source_uuid = b.source_uuid"
		" WHERE b.copy_id = $1::bigint",
		ctx->tgt, ctx->src, lfp);
	char id[32];
	const char *p[] = { id };
	PGresult *res;

	snprintf(id, sizeof id, "%lld", r->copy_id);
	res = sm_db_query(ctx->conn, sql, 1, p, err);
	free(sql);
	free(lfp);
	if (!res) {
		sm_error_prefix(err, "verifying the copy");
		return sm_error_code(err, SM_ERR_DB);
	}
	r->checksum = sm_xstrdup(PQgetvalue(res, 0, 2));
	r->verified = sm_db_ll(res, 0, 0) == r->replaced + r->inserted &&
		      sm_db_ll(res, 0, 1) == r->replaced + r->inserted &&
		      sm_db_ll(res, 0, 3) == 0;
	PQclear(res);
	return SM_OK;
}

/*
 * Saves the rows about to be replaced or removed, and marks the inserts
 * (rollback deletes them); written_fp (fp) is the fingerprint of the row
 * as it will be written, for rollback's drift rule and the verification.
 * p: the copy id and whether stale rows are removed.
 */
static int backup_rows(sm_copy_ctx *ctx, const char *const *p, const char *fp,
		       sm_copy_result *r, sm_error *err)
{
	int rc = sm_db_step(SM_OK, ctx->conn, 2, p, &r->backed_up, "saving the live rows", err,
		"INSERT INTO %1$s.snapmig_backup (copy_id, source_uuid, action, source_version,"
		" source_type, data, metadata, created_at, written_fp)"
		" SELECT $1::bigint, l.source_uuid, CASE w.action WHEN 'stale' THEN 'remove' ELSE 'replace' END,"
		" l.source_version, l.source_type, l.data, l.metadata, l.created_at,"
		" CASE WHEN w.action = 'replace' THEN %3$s END"
		" FROM snapmig_copy_work w JOIN %2$s.snapshots l ON l.source_uuid = w.source_uuid"
		" LEFT JOIN %1$s.snapshots g ON g.source_uuid = w.source_uuid AND w.action = 'replace'"
		" WHERE w.action = 'replace' OR (w.action = 'stale' AND $2::bool)",
		ctx->tgt, ctx->src, fp);

	return sm_db_step(rc, ctx->conn, 1, p, NULL, "marking the inserted rows", err,
		"INSERT INTO %1$s.snapmig_backup (copy_id, source_uuid, action, written_fp)"
		" SELECT $1::bigint, w.source_uuid, 'insert', %2$s"
		" FROM snapmig_copy_work w JOIN %1$s.snapshots g ON g.source_uuid = w.source_uuid"
		" WHERE w.action = 'insert'", ctx->tgt, fp);
}

/* The writes, inside the locked transaction, after the guards passed. */
static int write_rows(sm_copy_ctx *ctx, const sm_copy_options *opts,
		      sm_copy_result *r, sm_error *err)
{
	char *wd = sm_copy_write_expr(ctx, "g.data", ctx->layout.tgt_data, ctx->layout.snap_data);
	char *wm = sm_copy_write_expr(ctx, "g.metadata", ctx->layout.tgt_meta, ctx->layout.snap_meta);
	char *fp = sm_copy_fingerprint_expr(ctx, "g.source_version", "g.source_type", wd, wm);
	char id[32];
	const char *p[] = { id, opts->remove_stale ? "t" : "f", ctx->eng->env->name,
			    ctx->params.types };
	char n[3][32];
	const char *cp[] = { p[0], p[2], p[3], n[0], n[1], n[2] };
	int rc;

	snprintf(id, sizeof id, "%lld", r->copy_id);
	/* 1. Save what rollback needs; 2. replace, insert, remove. */
	rc = backup_rows(ctx, p, fp, r, err);
	rc = sm_db_step(rc, ctx->conn, 0, NULL, &r->replaced, "replacing live rows", err,
		"UPDATE %1$s.snapshots l SET source_version = g.source_version,"
		" source_type = g.source_type, data = %3$s, metadata = %4$s, created_at = now()"
		" FROM snapmig_copy_work w JOIN %2$s.snapshots g ON g.source_uuid = w.source_uuid"
		" WHERE w.action = 'replace' AND l.source_uuid = w.source_uuid",
		ctx->src, ctx->tgt, wd, wm);
	rc = sm_db_step(rc, ctx->conn, 0, NULL, &r->inserted, "inserting live rows", err,
		"INSERT INTO %1$s.snapshots (source_uuid, source_version, source_type, data,"
		" metadata, created_at)"
		" SELECT g.source_uuid, g.source_version, g.source_type, %3$s, %4$s, now()"
		" FROM snapmig_copy_work w JOIN %2$s.snapshots g ON g.source_uuid = w.source_uuid"
		" WHERE w.action = 'insert'",
		ctx->src, ctx->tgt, wd, wm);
	if (opts->remove_stale)
		rc = sm_db_step(rc, ctx->conn, 0, NULL, &r->removed, "removing stale live rows", err,
			"DELETE FROM %s.snapshots l USING snapmig_copy_work w"
			" WHERE w.action = 'stale' AND l.source_uuid = w.source_uuid", ctx->src);
	/* 3. The copy's record, last: a copy without it never committed. */
	snprintf(n[0], sizeof n[0], "%lld", r->replaced);
	snprintf(n[1], sizeof n[1], "%lld", r->inserted);
	snprintf(n[2], sizeof n[2], "%lld", r->removed);
	rc = sm_db_step(rc, ctx->conn, 6, cp, NULL, "recording the copy", err,
		"INSERT INTO %s.snapmig_copies (copy_id, environment, types,"
		" replaced, inserted, removed)"
		" VALUES ($1::bigint, $2, $3::text[], $4::bigint, $5::bigint, $6::bigint)",
		ctx->tgt);
	free(wd);
	free(wm);
	free(fp);
	return rc;
}

/* Locks, classifies into a work table, checks the guards and writes. */
static int copy_transaction(sm_copy_ctx *ctx, const sm_copy_options *opts,
			    sm_copy_result *r, sm_error *err)
{
	const char *p[] = { ctx->eng->env->settings.metadata_key, ctx->params.types,
			    ctx->params.versions };
	char *classify, *sql;
	sm_copy_plan *plan = NULL;
	int rc;

	rc = sm_db_exec(ctx->conn, "BEGIN", err);
	if (rc != SM_OK)
		return rc;
	/* SHARE ROW EXCLUSIVE keeps EventStore's snapshot upserts (and another
	 * copy) out until COMMIT while readers go on; SHARE on the generated
	 * table keeps a concurrent rebuild from changing what we copy. */
	sql = sm_xasprintf("LOCK TABLE %1$s.snapshots IN SHARE ROW EXCLUSIVE MODE;"
			   "LOCK TABLE %2$s.snapshots IN SHARE MODE", ctx->src, ctx->tgt);
	rc = sm_db_exec_waiting(ctx->conn, sql, opts->on_lock_wait, opts->ctx, err);
	free(sql);
	if (rc != SM_OK) {
		sm_error_prefix(err, "locking %s.snapshots", ctx->src_name);
		return rc;
	}
	rc = sm_db_exec(ctx->conn,
		"CREATE TEMP TABLE snapmig_copy_work (source_uuid text PRIMARY KEY,"
		" source_type text NOT NULL, action text NOT NULL, off_version bool NOT NULL,"
		" lag bigint NOT NULL) ON COMMIT DROP", err);
	if (rc != SM_OK)
		return rc;
	classify = sm_copy_classify_sql(ctx);
	sql = sm_xasprintf("INSERT INTO snapmig_copy_work %s", classify);
	free(classify);
	rc = sm_db_exec_count(ctx->conn, sql, 3, p, NULL, "classifying rows", err);
	free(sql);
	if (rc == SM_OK)
		rc = sm_db_exec(ctx->conn, "ANALYZE snapmig_copy_work", err);
	if (rc == SM_OK)
		rc = sm_copy_plan_from(ctx, "snapmig_copy_work c", 0, opts->force, &plan, err);
	if (rc != SM_OK)
		return rc;
	if (plan->guards) {
		rc = guard_error(plan, opts->force, err);
		sm_copy_plan_free(plan);
		return rc;
	}
	for (size_t i = 0; i < plan->n_types; i++) {
		r->kept_newer += plan->types[i].keep_newer;
		r->stale_generated += plan->types[i].stale_generated;
		if (!opts->remove_stale)
			r->stale_kept += plan->types[i].stale_without_replacement;
	}
	sm_copy_plan_free(plan);
	rc = write_rows(ctx, opts, r, err);
	/* Read back before COMMIT, still under the lock: after it, the
	 * application's snapshot upserts that waited for the lock change the
	 * rows at once and would make a correct copy look unverified. */
	if (rc == SM_OK)
		rc = verify(ctx, r, err);
	if (rc == SM_OK)
		rc = sm_db_exec(ctx->conn, "COMMIT", err);
	return rc;
}

/* The journal's word for a copy that did not commit. */
static const char *failure_outcome(int rc)
{
	return rc == SM_ERR_GUARD ? "refused" : rc == SM_ERR_CANCELLED ? "cancelled" : "failed";
}

int sm_copy_run(sm_engine *eng, const sm_copy_options *opts, sm_cancel *cancel,
		sm_copy_result **out, sm_error *err)
{
	static const sm_copy_options none;
	sm_copy_ctx ctx;
	sm_copy_result *r = NULL;
	sm_error local;
	char *details;
	int rc;

	*out = NULL;
	if (!err)
		err = &local;
	if (!opts)
		opts = &none;
	rc = sm_copy_ctx_open(&ctx, eng, opts->types, opts->n_types, cancel, err);
	/* Nothing generated yet: the target is created so that the journal
	 * can record the attempt (the empty guard then refuses). */
	if (rc == SM_OK)
		rc = sm_store_ensure_target(ctx.conn, &eng->env->settings, &ctx.layout, err);
	if (rc == SM_OK) {
		ctx.have_failures = true;
		rc = sm_copy_ensure_tables(&ctx, err);
	}
	if (rc == SM_OK)
		rc = sm_copy_ctx_lock(&ctx, "copy", err);
	if (rc == SM_OK)
		rc = sm_copy_ctx_generated(&ctx, err);
	if (rc != SM_OK) {
		sm_copy_ctx_close(&ctx);
		return rc;
	}
	r = sm_xcalloc(1, sizeof *r);
	details = details_text(&ctx, opts, NULL, NULL);
	rc = sm_db_journal_start(ctx.conn, ctx.tgt_name, "copy", eng->env->name, details,
				 &r->copy_id, err);
	free(details);
	if (rc == SM_OK) {
		rc = copy_transaction(&ctx, opts, r, err);
		if (rc != SM_OK) {
			/* Nothing of the transaction survives; the counts of the
			 * aborted attempt would lie. */
			details = details_text(&ctx, opts, NULL, err->message);
			sm_copy_journal_failure(&ctx, r->copy_id, failure_outcome(rc), details);
			free(details);
		}
	}
	if (rc == SM_OK) {
		details = details_text(&ctx, opts, r, NULL);
		sm_copy_journal_finish(&ctx, r->copy_id, r->verified ? "done" : "unverified",
				       details);
		free(details);
		*out = r;
		r = NULL;
	}
	sm_copy_result_free(r);
	sm_copy_ctx_close(&ctx);
	return rc;
}
