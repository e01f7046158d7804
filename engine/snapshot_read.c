/*
 * sm_snapshot_read: one snapshot of the live (source) or generated (target)
 * schema as JSON text, for the UI's instance inspection.  Reads the column
 * type from the catalog and accepts bytea, jsonb and double-encoded jsonb,
 * as every other reader of the engine does.  Read-only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/engine_internal.h"
#include "util/alloc.h"

int sm_snapshot_read(sm_engine *eng, const char *source_uuid, bool generated,
		     char **json_out, long long *version_out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	const char *schema = generated ? set->target_schema : set->source_schema;
	enum sm_column_type data = SM_COL_MISSING, meta = SM_COL_MISSING;
	const char *params[1] = { source_uuid };
	bool exists = false, dbl = false;
	char *ident = NULL, *expr = NULL, *sql = NULL;
	PGresult *res = NULL;
	PGconn *conn;
	int rc;

	*json_out = NULL;
	*version_out = 0;
	conn = sm_engine_connect(eng, err);
	if (!conn)
		return SM_ERR_DB;
	rc = sm_db_table_exists(conn, schema, "snapshots", &exists, err);
	if (rc != SM_OK || !exists)
		goto out;
	rc = sm_db_column_types(conn, schema, "snapshots", &data, &meta, err);
	if (rc == SM_OK && data == SM_COL_JSONB)
		rc = sm_db_double_encoded(conn, schema, &dbl, err);
	if (rc != SM_OK)
		goto out;
	ident = sm_db_ident(conn, schema);
	expr = sm_xasprintf(sm_db_json_read_fmt(data, dbl), "data");
	sql = sm_xasprintf("SELECT source_version::text, %s FROM %s.snapshots"
			   " WHERE source_uuid = $1", expr, ident);
	/* Binary results: the raw bytes of bytea and text alike, no decoding
	 * step that could fail on odd data.  We PQclear res below. */
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = sm_db_error(conn, res, "reading a snapshot", err);
		goto out;
	}
	if (PQntuples(res) > 0) {
		char *ver = sm_xstrndup(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));

		*version_out = strtoll(ver, NULL, 10);
		free(ver);
		if (!PQgetisnull(res, 0, 1))
			*json_out = sm_xstrndup(PQgetvalue(res, 0, 1),
						(size_t)PQgetlength(res, 0, 1));
	}
out:
	PQclear(res);
	free(sql);
	free(expr);
	free(ident);
	PQfinish(conn);
	return rc;
}
