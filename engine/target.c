/* Checks of the target schema before it is used; see target.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/target.h"
#include "util/alloc.h"

int sm_target_check(PGconn *conn, const sm_engine *eng, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	const char *params[] = { set->source_schema, set->target_schema };
	/* $n::name cuts a name to 63 bytes as the parser cuts identifiers. */
	PGresult *res = sm_db_query(conn,
		"SELECT s.oid = t.oid, tc.relkind, tc.oid = sc.oid"
		" FROM (SELECT 1) one"
		" LEFT JOIN pg_catalog.pg_namespace s ON s.nspname = $1::name"
		" LEFT JOIN pg_catalog.pg_namespace t ON t.nspname = $2::name"
		" LEFT JOIN pg_catalog.pg_class sc ON sc.relnamespace = s.oid AND sc.relname = 'snapshots'"
		" LEFT JOIN pg_catalog.pg_class tc ON tc.relnamespace = t.oid AND tc.relname = 'snapshots'",
		2, params, err);
	int rc = SM_OK;

	if (!res) {
		sm_error_prefix(err, "checking the target schema %s", set->target_schema);
		return SM_ERR_DB;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0 || strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		rc = sm_error_set(err, SM_ERR_CONFIG,
				  "target schema \"%s\" is the source schema \"%s\" (PostgreSQL cuts "
				  "names to 63 bytes): snapmig never writes into the live schema; "
				  "choose a shorter target_schema",
				  set->target_schema, set->source_schema);
	else if (!PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), "r") != 0 &&
		 strcmp(PQgetvalue(res, 0, 1), "p") != 0)
		rc = sm_error_set(err, SM_ERR_CONFIG,
				  "%s.snapshots is not a table (relkind '%s'): snapmig writes generated "
				  "snapshots only into a table of its own; choose another target_schema",
				  set->target_schema, PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}
