/* The event store's layout and its JSON expressions; see store.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/store.h"
#include "util/alloc.h"

static enum sm_column_type column_type_of(const char *t)
{
	if (strcmp(t, "bytea") == 0)
		return SM_COL_BYTEA;
	if (strcmp(t, "jsonb") == 0)
		return SM_COL_JSONB;
	return SM_COL_MISSING;
}

int sm_store_table_columns(PGconn *conn, const char *schema, const char *table,
			   enum sm_column_type *data, enum sm_column_type *metadata,
			   sm_error *err)
{
	const char *params[] = { schema, table };
	PGresult *res = sm_db_query(conn,
		"SELECT column_name, data_type FROM information_schema.columns "
		"WHERE table_schema = $1 AND table_name = $2 "
		"AND column_name IN ('data', 'metadata')", 2, params, err);

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	*data = *metadata = SM_COL_MISSING;
	for (int i = 0; i < PQntuples(res); i++) {
		enum sm_column_type t = column_type_of(PQgetvalue(res, i, 1));

		if (strcmp(PQgetvalue(res, i, 0), "data") == 0)
			*data = t;
		else
			*metadata = t;
	}
	PQclear(res);
	return SM_OK;
}

/* Samples the data column of the live snapshots, else of the events: is a
 * jsonb value a string (JSON text inside jsonb)? */
static int sample_double_encoding(PGconn *conn, const char *schema,
				  const sm_store_layout *l, bool *out, sm_error *err)
{
	const char *tables[] = { "snapshots", l->ev_data == SM_COL_JSONB ? "events" : NULL };
	char *s = sm_db_ident(conn, schema);
	int rc = SM_OK;

	*out = false;
	for (size_t i = 0; i < 2 && tables[i]; i++) {
		char *sql = sm_xasprintf(
			"SELECT jsonb_typeof(data) FROM %s.%s LIMIT 1", s, tables[i]);
		PGresult *res = sm_db_query(conn, sql, 0, NULL, err);
		bool found;

		free(sql);
		if (!res) {
			rc = SM_ERR_DB;
			break;
		}
		found = PQntuples(res) > 0;
		if (found)
			*out = strcmp(PQgetvalue(res, 0, 0), "string") == 0;
		PQclear(res);
		if (found)
			break;
	}
	free(s);
	return rc;
}

int sm_store_layout_read(PGconn *conn, const sm_settings *set, sm_store_layout *out,
			 sm_error *err)
{
	memset(out, 0, sizeof *out);
	if (sm_store_table_columns(conn, set->source_schema, "snapshots",
				   &out->snap_data, &out->snap_meta, err) ||
	    sm_store_table_columns(conn, set->source_schema, "events",
				   &out->ev_data, &out->ev_meta, err) ||
	    sm_store_table_columns(conn, set->target_schema, "snapshots",
				   &out->tgt_data, &out->tgt_meta, err))
		return sm_error_code(err, SM_ERR_DB);
	if (out->snap_data == SM_COL_JSONB)
		return sample_double_encoding(conn, set->source_schema, out,
					      &out->double_encoded, err);
	return SM_OK;
}

const char *sm_store_column_sql(enum sm_column_type type)
{
	return type == SM_COL_JSONB ? "jsonb" : "bytea";
}

int sm_store_create_target(PGconn *conn, const char *target_schema,
			   enum sm_column_type data, enum sm_column_type metadata,
			   sm_error *err)
{
	char *t = sm_db_ident(conn, target_schema);
	char *sql = sm_xasprintf(
		"CREATE SCHEMA IF NOT EXISTS %1$s;"
		"CREATE TABLE IF NOT EXISTS %1$s.snapshots ("
		" source_uuid text PRIMARY KEY NOT NULL,"
		" source_version bigint NOT NULL,"
		" source_type text NOT NULL,"
		" data %2$s NOT NULL,"
		" metadata %3$s NULL,"
		" created_at timestamp with time zone DEFAULT now() NOT NULL);"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_runs ("
		" run_id bigserial PRIMARY KEY,"
		" kind text NOT NULL,"
		" environment text NOT NULL,"
		" os_user text,"
		" db_user text NOT NULL DEFAULT current_user,"
		" started_at timestamp with time zone NOT NULL DEFAULT now(),"
		" finished_at timestamp with time zone,"
		" outcome text NOT NULL DEFAULT 'running',"
		" details jsonb);"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_failures ("
		" source_uuid text PRIMARY KEY,"
		" source_type text NOT NULL,"
		" kind text NOT NULL,"
		" stream_version bigint,"
		" event_type text,"
		" message text NOT NULL,"
		" run_id bigint,"
		" recorded_at timestamp with time zone NOT NULL DEFAULT now());"
		"CREATE INDEX IF NOT EXISTS snapmig_failures_type ON %1$s.snapmig_failures (source_type);",
		t, sm_store_column_sql(data), sm_store_column_sql(metadata));
	int rc;

	/* Two sessions creating the same objects concurrently can still collide
	 * on the catalog; a transaction-level advisory lock serialises them. */
	rc = sm_db_exec(conn, "BEGIN; SELECT pg_advisory_xact_lock(7365616, 1)", err);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, sql, err);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, "COMMIT", err);
	else
		sm_db_exec(conn, "ROLLBACK", NULL);
	if (rc != SM_OK)
		sm_error_prefix(err, "preparing target schema %s", target_schema);
	free(sql);
	free(t);
	return rc;
}

int sm_store_ensure_target(PGconn *conn, const sm_settings *set, sm_store_layout *layout,
			   sm_error *err)
{
	int rc = sm_store_create_target(conn, set->target_schema, layout->snap_data,
					layout->snap_meta, err);

	if (rc == SM_OK)
		rc = sm_store_table_columns(conn, set->target_schema, "snapshots",
					    &layout->tgt_data, &layout->tgt_meta, err);
	return rc;
}

/* ----------------------------------------------------------- expressions */

char *sm_store_json_text(enum sm_column_type type, const char *col)
{
	if (type == SM_COL_MISSING)
		return sm_xstrdup("NULL::text");
	if (type == SM_COL_BYTEA)
		return sm_xasprintf("convert_from(%s, 'UTF8')", col);
	/* A jsonb string is double-encoded JSON text: its content, unwrapped. */
	return sm_xasprintf("(CASE jsonb_typeof(%1$s) WHEN 'string' THEN %1$s #>> '{}' "
			    "ELSE %1$s::text END)", col);
}

char *sm_store_json_bytes(enum sm_column_type type, const char *col)
{
	char *text, *bytes;

	if (type == SM_COL_MISSING)
		return sm_xstrdup("NULL::bytea");
	if (type == SM_COL_BYTEA)
		return sm_xstrdup(col);
	text = sm_store_json_text(type, col);
	bytes = sm_xasprintf("convert_to(%s, 'UTF8')", text);
	free(text);
	return bytes;
}

char *sm_store_raw_bytes(enum sm_column_type type, const char *col)
{
	if (type == SM_COL_MISSING)
		return sm_xstrdup("NULL::bytea");
	if (type == SM_COL_BYTEA)
		return sm_xstrdup(col);
	return sm_xasprintf("convert_to((%s)::text, 'UTF8')", col);
}

char *sm_store_json_write(enum sm_column_type type, bool double_encoded, const char *text)
{
	if (type == SM_COL_BYTEA)
		return sm_xasprintf("convert_to(%s, 'UTF8')", text);
	if (double_encoded)
		return sm_xasprintf("to_jsonb((%s)::text)", text);
	return sm_xasprintf("(%s)::jsonb", text);
}

char *sm_store_json_convert(enum sm_column_type from, enum sm_column_type to,
			    bool double_encoded, const char *col)
{
	char *text, *out;

	if (from == to && to == SM_COL_BYTEA)
		return sm_xstrdup(col);
	if (from == to) {
		/* jsonb to jsonb, value by value: a string is JSON text. */
		if (double_encoded)
			return sm_xasprintf("(CASE WHEN jsonb_typeof(%1$s) = 'string' THEN %1$s "
					    "ELSE to_jsonb(%1$s::text) END)", col);
		return sm_xasprintf("(CASE jsonb_typeof(%1$s) WHEN 'string' THEN (%1$s #>> '{}')::jsonb "
				    "ELSE %1$s END)", col);
	}
	text = sm_store_json_text(from, col);
	out = sm_store_json_write(to, double_encoded, text);
	free(text);
	return out;
}

/* -------------------------------------------------------- module version */

int sm_store_prepare_session(PGconn *conn, sm_error *err)
{
	/* Temporary functions (pg_temp, gone with the session, nothing is
	 * changed in the database) reading the module version from snapshot
	 * metadata the way Commanded compares it: missing key = 1, a number
	 * compares by value (4.0 == 4), anything else never matches (0), and
	 * metadata that is not JSON at all is -1 (the instance fails). */
	static const char sql[] =
		"SET client_min_messages = warning;"
		"CREATE OR REPLACE FUNCTION pg_temp.sm_mv_json(j jsonb, k text) RETURNS bigint"
		" LANGUAGE plpgsql IMMUTABLE AS $f$"
		" DECLARE v jsonb; n numeric;"
		" BEGIN"
		"  IF j IS NULL THEN RETURN 1; END IF;"
		"  IF jsonb_typeof(j) = 'string' THEN j := (j #>> '{}')::jsonb; END IF;"
		"  IF jsonb_typeof(j) <> 'object' THEN RETURN 1; END IF;"
		"  IF NOT (j ? k) THEN RETURN 1; END IF;"
		"  v := j -> k;"
		"  IF jsonb_typeof(v) <> 'number' THEN RETURN 0; END IF;"
		"  n := v::text::numeric;"
		"  IF n <> trunc(n) OR n < -9223372036854775808 OR n > 9223372036854775807 THEN RETURN 0; END IF;"
		"  RETURN n::bigint;"
		" EXCEPTION WHEN others THEN RETURN -1;"
		" END $f$;"
		"CREATE OR REPLACE FUNCTION pg_temp.sm_mv(m jsonb, k text) RETURNS bigint"
		" LANGUAGE sql IMMUTABLE AS $f$ SELECT pg_temp.sm_mv_json(m, k) $f$;"
		"CREATE OR REPLACE FUNCTION pg_temp.sm_mv(m bytea, k text) RETURNS bigint"
		" LANGUAGE plpgsql IMMUTABLE AS $f$"
		" DECLARE j jsonb;"
		" BEGIN"
		"  IF m IS NULL THEN RETURN 1; END IF;"
		"  BEGIN j := convert_from(m, 'UTF8')::jsonb;"
		"  EXCEPTION WHEN others THEN RETURN -1; END;"
		"  RETURN pg_temp.sm_mv_json(j, k);"
		" END $f$;";

	return sm_db_exec(conn, sql, err);
}

char *sm_store_module_version(enum sm_column_type meta_type, const char *col, const char *key)
{
	if (meta_type == SM_COL_MISSING)
		return sm_xstrdup("1::bigint");
	return sm_xasprintf("pg_temp.sm_mv(%s, %s)", col, key);
}
