/* Database helpers; see db.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "util/alloc.h"
#include "util/redact.h"

/* libpq's messages span lines ("...failed: Connection refused\n\tIs the
 * server running...?\n"); every front end shows errors on one line, so
 * each run of white space that holds a line break becomes one space. */
static void one_line(char *msg)
{
	char *in = msg, *out = msg;

	while (*in) {
		size_t run = strspn(in, " \t\r\n");

		if (run == 0) {
			*out++ = *in++;
			continue;
		}
		if (strcspn(in, "\r\n") >= run) {
			memmove(out, in, run);  /* spaces within a line stay */
			out += run;
		} else if (out != msg && in[run]) {
			*out++ = ' ';
		}
		in += run;
	}
	while (out > msg && (out[-1] == ' ' || out[-1] == '\t'))
		out--;
	*out = '\0';
}

PGconn *sm_db_connect(const char *conninfo, const char *password, sm_error *err)
{
	const char *keys[] = { "dbname", "application_name", "password", NULL };
	const char *vals[] = { conninfo, "snapmig", password, NULL };
	PGconn *conn;

	if (!password)
		keys[2] = NULL;
	/* expand_dbname=1: the first dbname is a whole conninfo string or URI;
	 * later keys override it. */
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn)
		return sm_error_set(err, SM_ERR_NOMEM, "cannot allocate a connection"), NULL;
	if (PQstatus(conn) != CONNECTION_OK) {
		char msg[900];

		snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
		one_line(msg);
		/* libpq quotes a malformed URI whole, password included. */
		sm_redact_buf(msg, sizeof msg, conninfo, password);
		sm_error_set(err, SM_ERR_DB, "cannot connect: %s", msg);
		snprintf(err->sqlstate, sizeof err->sqlstate, "08001");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int sm_db_error(PGconn *conn, const PGresult *res, const char *what, sm_error *err)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char buf[900];

	if (!msg || !*msg)
		msg = PQerrorMessage(conn);
	snprintf(buf, sizeof buf, "%s", msg && *msg ? msg : "unknown error");
	one_line(buf);
	sm_redact_buf(buf, sizeof buf, NULL, NULL);
	if (strncmp(buf, "ERROR:  ", 8) == 0)
		memmove(buf, buf + 8, strlen(buf + 8) + 1);
	sm_error_set(err, SM_ERR_DB, "%s: %s", what, buf);
	if (err) {
		if (state)
			snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state);
		else if (PQstatus(conn) == CONNECTION_BAD)
			snprintf(err->sqlstate, sizeof err->sqlstate, "08006");
	}
	return SM_ERR_DB;
}

bool sm_db_is_connection_error(PGconn *conn, const sm_error *err)
{
	if (conn && PQstatus(conn) == CONNECTION_BAD)
		return true;
	if (!err)
		return false;
	/* 08: connection exception; 57P01..57P03: admin shutdown, crash,
	 * cannot connect now. */
	return strncmp(err->sqlstate, "08", 2) == 0 ||
	       strcmp(err->sqlstate, "57P01") == 0 ||
	       strcmp(err->sqlstate, "57P02") == 0 ||
	       strcmp(err->sqlstate, "57P03") == 0;
}

int sm_db_exec(PGconn *conn, const char *sql, sm_error *err)
{
	PGresult *res = PQexec(conn, sql);
	int rc = SM_OK;

	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK &&
		     PQresultStatus(res) != PGRES_TUPLES_OK))
		rc = sm_db_error(conn, res, "query failed", err);
	PQclear(res);
	return rc;
}

PGresult *sm_db_query(PGconn *conn, const char *sql, int nparams,
		      const char *const *params, sm_error *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK &&
		     PQresultStatus(res) != PGRES_TUPLES_OK)) {
		sm_db_error(conn, res, "query failed", err);
		PQclear(res);
		return NULL;
	}
	return res;
}

char *sm_db_ident(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *copy;

	if (!q)
		return NULL;
	copy = sm_xstrdup(q);
	PQfreemem(q);
	return copy;
}

long long sm_db_ll(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static enum sm_column_type column_type_of(const char *t)
{
	if (strcmp(t, "bytea") == 0)
		return SM_COL_BYTEA;
	if (strcmp(t, "jsonb") == 0)
		return SM_COL_JSONB;
	return SM_COL_MISSING;
}

int sm_db_column_types(PGconn *conn, const char *schema, const char *table,
		       enum sm_column_type *data, enum sm_column_type *metadata,
		       sm_error *err)
{
	const char *params[] = { schema, table };
	PGresult *res = sm_db_query(conn,
		"SELECT column_name, data_type FROM information_schema.columns "
		"WHERE table_schema = $1 AND table_name = $2 "
		"AND column_name IN ('data', 'metadata')", 2, params, err);

	if (!res)
		return SM_ERR_DB;
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

int sm_db_table_exists(PGconn *conn, const char *schema, const char *table,
		       bool *out, sm_error *err)
{
	const char *params[] = { schema, table };
	PGresult *res = sm_db_query(conn,
		"SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2",
		2, params, err);

	if (!res)
		return SM_ERR_DB;
	*out = PQntuples(res) > 0;
	PQclear(res);
	return SM_OK;
}

int sm_db_double_encoded(PGconn *conn, const char *schema, bool *out, sm_error *err)
{
	static const char *const tables[] = { "snapshots", "events" };
	char *s = sm_db_ident(conn, schema);
	int rc = SM_OK;

	*out = false;
	for (size_t i = 0; i < 2; i++) {
		char *sql = sm_xasprintf(
			"SELECT jsonb_typeof(data) FROM %s.%s LIMIT 1", s, tables[i]);
		PGresult *res = sm_db_query(conn, sql, 0, NULL, err);

		free(sql);
		if (!res) {
			rc = SM_ERR_DB;
			break;
		}
		if (PQntuples(res) > 0) {
			*out = strcmp(PQgetvalue(res, 0, 0), "string") == 0;
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	free(s);
	return rc;
}

static const char *type_sql(enum sm_column_type t)
{
	return t == SM_COL_JSONB ? "jsonb" : "bytea";
}

int sm_db_ensure_target(PGconn *conn, const char *target_schema,
			enum sm_column_type data, enum sm_column_type metadata,
			sm_error *err)
{
	char *t = sm_db_ident(conn, target_schema);
	char *sql = sm_xasprintf(
		"CREATE SCHEMA IF NOT EXISTS %s;"
		"CREATE TABLE IF NOT EXISTS %s.snapshots ("
		" source_uuid text PRIMARY KEY NOT NULL,"
		" source_version bigint NOT NULL,"
		" source_type text NOT NULL,"
		" data %s NOT NULL,"
		" metadata %s NULL,"
		" created_at timestamp with time zone DEFAULT now() NOT NULL);"
		"CREATE TABLE IF NOT EXISTS %s.snapmig_runs ("
		" run_id bigserial PRIMARY KEY,"
		" kind text NOT NULL,"
		" environment text NOT NULL,"
		" os_user text,"
		" db_user text NOT NULL DEFAULT current_user,"
		" started_at timestamp with time zone NOT NULL DEFAULT now(),"
		" finished_at timestamp with time zone,"
		" outcome text NOT NULL DEFAULT 'running',"
		" details jsonb);"
		"CREATE TABLE IF NOT EXISTS %s.snapmig_failures ("
		" source_uuid text PRIMARY KEY,"
		" source_type text NOT NULL,"
		" kind text NOT NULL,"
		" stream_version bigint,"
		" event_type text,"
		" message text NOT NULL,"
		" run_id bigint,"
		" recorded_at timestamp with time zone NOT NULL DEFAULT now());"
		"CREATE INDEX IF NOT EXISTS snapmig_failures_type ON %s.snapmig_failures (source_type);",
		t, t, type_sql(data), type_sql(metadata), t, t, t);
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

int sm_db_journal_start(PGconn *conn, const char *target_schema, const char *kind,
			const char *environment, const char *details_json,
			long long *run_id, sm_error *err)
{
	char *t = sm_db_ident(conn, target_schema);
	char *sql = sm_xasprintf(
		"INSERT INTO %s.snapmig_runs (kind, environment, os_user, details) "
		"VALUES ($1, $2, $3, $4::jsonb) RETURNING run_id", t);
	const char *user = getenv("USER");
	const char *params[] = { kind, environment, user ? user : getenv("LOGNAME"),
				 details_json };
	PGresult *res = sm_db_query(conn, sql, 4, params, err);

	free(sql);
	free(t);
	if (!res)
		return SM_ERR_DB;
	*run_id = sm_db_ll(res, 0, 0);
	PQclear(res);
	return SM_OK;
}

int sm_db_journal_finish(PGconn *conn, const char *target_schema, long long run_id,
			 const char *outcome, const char *details_json, sm_error *err)
{
	char *t = sm_db_ident(conn, target_schema);
	char *sql = sm_xasprintf(
		"UPDATE %s.snapmig_runs SET finished_at = now(), outcome = $2, "
		"details = COALESCE($3::jsonb, details) WHERE run_id = $1", t);
	char id[32];
	const char *params[] = { id, outcome, details_json };
	PGresult *res;

	snprintf(id, sizeof id, "%lld", run_id);
	res = sm_db_query(conn, sql, 3, params, err);
	free(sql);
	free(t);
	if (!res)
		return SM_ERR_DB;
	PQclear(res);
	return SM_OK;
}

const char *sm_db_json_read_fmt(enum sm_column_type type, bool double_encoded)
{
	if (type == SM_COL_BYTEA)
		return "%s";
	if (double_encoded)
		return "(CASE jsonb_typeof(%1$s) WHEN 'string' THEN %1$s #>> '{}' ELSE %1$s::text END)";
	/* A jsonb store may still hold the odd double-encoded value. */
	return "(CASE jsonb_typeof(%1$s) WHEN 'string' THEN %1$s #>> '{}' ELSE %1$s::text END)";
}

const char *sm_db_json_write_fmt(enum sm_column_type type, bool double_encoded)
{
	if (type == SM_COL_BYTEA)
		return "convert_to(%s, 'UTF8')";
	if (double_encoded)
		return "to_jsonb(%s::text)";
	return "(%s)::jsonb";
}

int sm_db_prepare_session(PGconn *conn, sm_error *err)
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

char *sm_db_text_array(const char *const *items, size_t n)
{
	size_t cap = 0, len = 0;
	char *out = NULL;

	out = sm_xgrow(out, &cap, 3, 1);
	out[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		const char *s = items[i];

		out = sm_xgrow(out, &cap, len + 2 * strlen(s) + 5, 1);
		if (i)
			out[len++] = ',';
		out[len++] = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				out[len++] = '\\';
			out[len++] = *s;
		}
		out[len++] = '"';
	}
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

char *sm_db_ll_array(const long long *items, size_t n)
{
	size_t cap = 0, len = 0;
	char *out = NULL;

	out = sm_xgrow(out, &cap, n * 21 + 3, 1);
	out[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%lld", i ? "," : "", items[i]);
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

char *sm_db_instances_sql(PGconn *conn, const char *source_schema,
			  const char *target_schema, bool target_exists,
			  bool only_configured)
{
	char *s = sm_db_ident(conn, source_schema);
	char *t = sm_db_ident(conn, target_schema);
	char *sql;

	if (target_exists)
		sql = sm_xasprintf(
			"SELECT i.*,"
			" CASE WHEN i.tmv = i.target AND (i.mv IS DISTINCT FROM i.target OR i.tgt_version >= i.snap_version) THEN 2"
			"      WHEN i.mv = i.target THEN 1 ELSE 0 END AS sk"
			" FROM (SELECT s.source_uuid, s.source_type, s.source_version AS snap_version,"
			"  pg_temp.sm_mv(s.metadata, $1) AS mv, st.stream_id, st.stream_version AS end_version,"
			"  (st.stream_id IS NULL OR st.deleted_at IS NOT NULL) AS missing, c.target,"
			"  t.source_version AS tgt_version,"
			"  CASE WHEN t.source_uuid IS NULL THEN NULL ELSE pg_temp.sm_mv(t.metadata, $1) END AS tmv"
			"  FROM %1$s.snapshots s"
			"  %3$s JOIN unnest($2::text[], $3::bigint[]) AS c(type, target) ON c.type = s.source_type"
			"  LEFT JOIN %1$s.streams st ON st.stream_uuid = s.source_uuid"
			"  LEFT JOIN %2$s.snapshots t ON t.source_uuid = s.source_uuid) i",
			s, t, only_configured ? "" : "LEFT");
	else
		sql = sm_xasprintf(
			"SELECT i.*, CASE WHEN i.mv = i.target THEN 1 ELSE 0 END AS sk"
			" FROM (SELECT s.source_uuid, s.source_type, s.source_version AS snap_version,"
			"  pg_temp.sm_mv(s.metadata, $1) AS mv, st.stream_id, st.stream_version AS end_version,"
			"  (st.stream_id IS NULL OR st.deleted_at IS NOT NULL) AS missing, c.target,"
			"  NULL::bigint AS tgt_version, NULL::bigint AS tmv"
			"  FROM %1$s.snapshots s"
			"  %2$s JOIN unnest($2::text[], $3::bigint[]) AS c(type, target) ON c.type = s.source_type"
			"  LEFT JOIN %1$s.streams st ON st.stream_uuid = s.source_uuid) i",
			s, only_configured ? "" : "LEFT");
	free(s);
	free(t);
	return sql;
}
