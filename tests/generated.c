/* Generated rows written by hand, marked current; see generated.h. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/db.h"
#include "engine/target.h"
#include "tests/generated.h"

void tl_mark_generated(PGconn *conn, sm_engine *eng, const char *where)
{
	const sm_config *cfg = sm_engine_config(eng);
	const sm_aggregate **aggs = calloc(cfg->n_aggs + 1, sizeof *aggs);
	char *t, *sql;
	sm_type_fp *fps = NULL;
	PGresult *res;
	sm_error err;

	ck_assert_ptr_nonnull(aggs);
	for (size_t i = 0; i < cfg->n_aggs; i++)
		aggs[i] = &cfg->aggs[i];
	sm_error_clear(&err);
	ck_assert_msg(sm_target_ensure(conn, eng, true, &err) == SM_OK, "%s", err.message);
	ck_assert_msg(sm_target_fingerprints(conn, eng, aggs, cfg->n_aggs, true, &fps, &err) == SM_OK,
		      "%s", err.message);
	t = sm_db_ident(conn, sm_engine_env(eng)->settings.target_schema);
	ck_assert(asprintf(&sql, "INSERT INTO %1$s.snapmig_rows (source_uuid, fp_id)"
			   " SELECT t.source_uuid, c.fp_id FROM %1$s.snapshots t"
			   " JOIN pg_temp.sm_fp c ON c.source_type = t.source_type WHERE %2$s"
			   " ON CONFLICT (source_uuid) DO UPDATE SET fp_id = excluded.fp_id",
			   t, where ? where : "true") > 0);
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQresultErrorMessage(res));
	PQclear(res);
	free(sql);
	free(t);
	sm_type_fps_free(fps, cfg->n_aggs);
	free(aggs);
}
