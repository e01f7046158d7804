/*
 * Discarding generated rows on purpose (`snapmig discard`): the target
 * schema's rows of some types, with what made them (snapmig_rows) and
 * their recorded failures, in one transaction under the target's lock,
 * journaled.  The live table is never touched.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/cancel.h"
#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/target.h"
#include "util/alloc.h"

void sm_discard_result_free(sm_discard_result *res)
{
	free(res);
}

static char *details_text(const sm_aggregate *const *aggs, size_t n, const sm_discard_result *r,
			  const char *error)
{
	json_object *o = json_object_new_object();
	json_object *types = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(types, json_object_new_string(aggs[i]->type));
	json_object_object_add(o, "types", types);
	if (r) {
		json_object_object_add(o, "rows", json_object_new_int64(r->rows));
		json_object_object_add(o, "failures", json_object_new_int64(r->failures));
	}
	return sm_db_journal_details(o, error);
}

static int discard_transaction(PGconn *conn, const char *target, const char *types,
			       sm_discard_result *r, sm_error *err)
{
	const char *p[] = { types };
	char *t = sm_db_ident(conn, target);
	char *sql;
	int rc = sm_db_exec(conn, "BEGIN", err);

	/* What made them goes with them, and entries whose row is gone. */
	rc = sm_db_step(rc, conn, 1, p, NULL, "discarding fingerprints", err,
		"DELETE FROM %1$s.snapmig_rows r USING %1$s.snapshots s"
		" WHERE s.source_uuid = r.source_uuid AND s.source_type = ANY($1::text[]);", t);
	rc = sm_db_step(rc, conn, 1, p, &r->rows, "discarding generated rows", err,
		"DELETE FROM %s.snapshots WHERE source_type = ANY($1::text[])", t);
	if (rc == SM_OK) {
		sql = sm_xasprintf("DELETE FROM %1$s.snapmig_rows r WHERE NOT EXISTS"
				   " (SELECT 1 FROM %1$s.snapshots s WHERE s.source_uuid = r.source_uuid)", t);
		rc = sm_db_exec(conn, sql, err);
		free(sql);
	}
	rc = sm_db_step(rc, conn, 1, p, &r->failures, "discarding failures", err,
		"DELETE FROM %s.snapmig_failures WHERE source_type = ANY($1::text[])", t);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, "COMMIT", err);
	if (rc != SM_OK) {
		/* The call's cancel token has done its work: what follows only
		 * records what happened, and must not be refused. */
		sm_cancel_unwatch(conn);
		sm_db_exec(conn, "ROLLBACK", NULL);
	}
	free(t);
	return rc;
}

int sm_discard_run(sm_engine *eng, const char *const *types, size_t n_types,
		   sm_cancel *cancel, sm_discard_result **out, sm_error *err)
{
	const char *target = eng->env->settings.target_schema;
	const sm_aggregate **aggs = NULL;
	const char **names = NULL;
	sm_discard_result *r = NULL;
	char *a_types = NULL, *details;
	bool exists = false;
	PGconn *conn = NULL;
	sm_error local;
	int rc;

	*out = NULL;
	if (!err)
		err = &local;
	rc = sm_engine_select_types(eng, types, n_types, &aggs, &n_types, err);
	if (rc != SM_OK)
		return rc;
	names = sm_xcalloc(n_types + 1, sizeof *names);
	for (size_t i = 0; i < n_types; i++)
		names[i] = aggs[i]->type;
	a_types = sm_db_text_array(names, n_types);
	r = sm_xcalloc(1, sizeof *r);
	conn = sm_engine_connect(eng, cancel, err);
	rc = conn ? sm_target_check(conn, eng, err) : sm_error_code(err, SM_ERR_DB);
	if (rc == SM_OK)
		rc = sm_db_table_exists(conn, target, "snapshots", &exists, err);
	if (rc == SM_OK && exists) {
		/* snapmig_failures exists beside snapshots: both are made together. */
		rc = sm_target_ensure(conn, eng, false, err);
		if (rc == SM_OK)
			rc = sm_target_lock(conn, eng, SM_LOCK_EXCLUSIVE, "discard", err);
		if (rc == SM_OK) {
			details = details_text(aggs, n_types, NULL, NULL);
			rc = sm_db_journal_start(conn, target, "discard", eng->env->name, details,
						 &r->run_id, err);
			free(details);
		}
		if (rc == SM_OK) {
			sm_target_lock_run(conn, eng, r->run_id);
			rc = discard_transaction(conn, target, a_types, r, err);
			details = details_text(aggs, n_types, rc == SM_OK ? r : NULL,
					       rc == SM_OK ? NULL : err->message);
			sm_db_journal_finish(conn, target, r->run_id, rc == SM_OK ? "done" :
					     rc == SM_ERR_CANCELLED ? "cancelled" : "failed", details, NULL);
			free(details);
		}
		sm_target_unlock(conn, eng);
	}
	sm_engine_disconnect(conn);
	free(aggs);
	free(names);
	free(a_types);
	if (rc == SM_OK)
		*out = r;
	else
		sm_discard_result_free(r);
	return rc;
}
