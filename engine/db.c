/* Database helpers; see db.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cancel.h"
#include "engine/db.h"
#include "util/alloc.h"
#include "util/clock.h"
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

/* The connect_timeout of conn's options in seconds (libpq: at least 2),
 * 0 for none: PQconnectPoll leaves it to the caller. */
static int connect_timeout(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	int secs = 0;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val)
			secs = atoi(o->val);
	PQconninfoFree(opts);
	return secs <= 0 ? 0 : secs < 2 ? 2 : secs;
}

/* Waits for the socket as PQconnectPoll asked, in steps of 100 ms so that
 * a cancel is seen.  SM_OK when the socket is ready. */
static int poll_step(PGconn *conn, PostgresPollingStatusType want, sm_cancel *cancel,
		     double deadline, sm_error *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(conn),
				      .events = want == PGRES_POLLING_READING ? POLLIN : POLLOUT };
		int n;

		if (sm_cancel_requested(cancel))
			return sm_error_set(err, SM_ERR_CANCELLED, "cancelled while connecting");
		if (deadline > 0 && sm_now() >= deadline)
			return sm_error_set(err, SM_ERR_DB, "cannot connect: timeout expired");
		n = poll(&pfd, 1, 100);
		if (n > 0)
			return SM_OK;
		if (n < 0 && errno != EINTR)
			return sm_error_set(err, SM_ERR_IO, "waiting for the server: %s", strerror(errno));
	}
}

/* Connects without blocking for longer than a cancel needs: PQconnectStart
 * and PQconnectPoll, as libpq's documentation describes. */
static PGconn *connect_async(const char *const *keys, const char *const *vals,
			     sm_cancel *cancel, sm_error *err)
{
	PGconn *conn = PQconnectStartParams(keys, vals, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	double deadline;
	int secs;

	if (!conn)
		return sm_error_set(err, SM_ERR_NOMEM, "cannot allocate a connection"), NULL;
	secs = connect_timeout(conn);
	deadline = secs ? sm_now() + secs : 0;
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		if (poll_step(conn, st, cancel, deadline, err) != SM_OK) {
			PQfinish(conn);
			return NULL;
		}
		st = PQconnectPoll(conn);
	}
	return conn;
}

PGconn *sm_db_connect(const char *conninfo, const char *password, sm_cancel *cancel,
		      sm_error *err)
{
	/* fallback_: PGAPPNAME or the conninfo's application_name win. */
	const char *keys[] = { "dbname", "fallback_application_name", "password", NULL };
	const char *vals[] = { conninfo, "snapmig", password, NULL };
	PGconn *conn;

	if (!password)
		keys[2] = NULL;
	/* expand_dbname=1: the first dbname is a whole conninfo string or URI;
	 * later keys override it. */
	conn = connect_async(keys, vals, cancel, err);
	if (!conn)
		return NULL;
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

int sm_db_cancelled(PGconn *conn, sm_error *err)
{
	if (!sm_cancel_refuses(conn))
		return SM_OK;
	return sm_error_set(err, SM_ERR_CANCELLED, "cancelled");
}

int sm_db_error(PGconn *conn, const PGresult *res, const char *what, sm_error *err)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char buf[900];

	/* Whatever failed after a cancel was asked for is the cancel's doing. */
	if (sm_cancel_requested(sm_cancel_of(conn)))
		return sm_error_set(err, SM_ERR_CANCELLED, "%s: cancelled", what);

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

/* Asks the server to cancel what conn is running (PQcancel: its own
 * short connection to the server). */
static void interrupt(PGconn *conn)
{
	PGcancel *pc = PQgetCancel(conn);
	char buf[256];

	if (pc) {
		(void)PQcancel(pc, buf, sizeof buf);
		PQfreeCancel(pc);
	}
}

int sm_db_wait(PGconn *conn, void (*on_wait)(void *, double), void *ctx, sm_error *err)
{
	double t0 = sm_now(), next_report = 1.0, next_cancel = 0;

	/* Asynchronous, so that a wait for a lock stays in the server's lock
	 * queue (a lock_timeout loop would lose its place to every writer),
	 * the caller hears about it, and a cancel is seen. */
	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
		double waited;
		int ms = 100;

		/* What is buffered first: no system call for a row that is
		 * already here. */
		if (!PQisBusy(conn) || !PQconsumeInput(conn) || !PQisBusy(conn))
			return SM_OK;
		waited = sm_now() - t0;
		if (on_wait && waited >= next_report) {
			on_wait(ctx, waited);
			next_report = floor(waited) + 1.0;
		}
		/* Again every second: a request that reached the server before
		 * the statement did was a no-op. */
		if (sm_cancel_requested(sm_cancel_of(conn)) && waited >= next_cancel) {
			interrupt(conn);
			next_cancel = waited + 1.0;
		}
		if (on_wait && (next_report - waited) * 1000.0 < ms)
			ms = (int)((next_report - waited) * 1000.0) + 1;
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return sm_error_set(err, SM_ERR_IO, "waiting for the server: %s", strerror(errno));
	}
}

static bool failed(const PGresult *res)
{
	return PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK;
}

/* Reads every result until NULL, even after an error (libpq's contract):
 * the first failed one, else the last.  We PQclear the others. */
static PGresult *last_result(PGconn *conn)
{
	PGresult *res, *keep = NULL;

	while ((res = PQgetResult(conn)) != NULL) {
		if (keep && failed(keep)) {
			PQclear(res);
		} else {
			PQclear(keep);
			keep = res;
		}
		if (PQstatus(conn) == CONNECTION_BAD)
			break;
	}
	return keep;
}

/* Waits for what was sent and returns its result (caller PQclears), or
 * NULL with err filled. */
static PGresult *finish(PGconn *conn, bool sent, void (*on_wait)(void *, double), void *ctx,
			const char *what, sm_error *err)
{
	PGresult *res;

	if (!sent) {
		sm_db_error(conn, NULL, what, err);
		return NULL;
	}
	if (sm_db_wait(conn, on_wait, ctx, err) != SM_OK) {
		PQclear(last_result(conn));
		return NULL;
	}
	res = last_result(conn);
	if (!res || failed(res)) {
		sm_db_error(conn, res, res ? what : "connection lost", err);
		PQclear(res);
		return NULL;
	}
	return res;
}

int sm_db_exec_waiting(PGconn *conn, const char *sql, void (*on_wait)(void *, double),
		       void *ctx, sm_error *err)
{
	PGresult *res;

	if (sm_db_cancelled(conn, err) != SM_OK)
		return SM_ERR_CANCELLED;
	res = finish(conn, PQsendQuery(conn, sql), on_wait, ctx, "query failed", err);
	PQclear(res);
	return res ? SM_OK : sm_error_code(err, SM_ERR_DB);
}

int sm_db_exec(PGconn *conn, const char *sql, sm_error *err)
{
	return sm_db_exec_waiting(conn, sql, NULL, NULL, err);
}

PGresult *sm_db_query_typed(PGconn *conn, const char *sql, int nparams, const Oid *types,
			    const char *const *params, bool binary, const char *what,
			    sm_error *err)
{
	PGresult *res;

	if (sm_db_cancelled(conn, err) != SM_OK)
		return NULL;
	res = finish(conn, PQsendQueryParams(conn, sql, nparams, types, params, NULL, NULL, binary),
		     NULL, NULL, what, err);
	return res;
}

PGresult *sm_db_query(PGconn *conn, const char *sql, int nparams,
		      const char *const *params, sm_error *err)
{
	return sm_db_query_typed(conn, sql, nparams, NULL, params, false, "query failed", err);
}

int sm_db_exec_count(PGconn *conn, const char *sql, int nparams, const char *const *params,
		     long long *affected, const char *what, sm_error *err)
{
	PGresult *res = sm_db_query(conn, sql, nparams, params, err);

	if (!res) {
		if (what)
			sm_error_prefix(err, "%s", what);
		return sm_error_code(err, SM_ERR_DB);
	}
	if (affected)
		*affected = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return SM_OK;
}

int sm_db_step(int rc, PGconn *conn, int nparams, const char *const *params,
	       long long *affected, const char *what, sm_error *err, const char *sql_fmt, ...)
{
	va_list ap;
	char *sql;

	if (rc != SM_OK)
		return rc;
	va_start(ap, sql_fmt);
	sql = sm_xvasprintf(sql_fmt, ap);
	va_end(ap);
	rc = sm_db_exec_count(conn, sql, nparams, params, affected, what, err);
	free(sql);
	return rc;
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

int sm_db_table_exists(PGconn *conn, const char *schema, const char *table,
		       bool *out, sm_error *err)
{
	const char *params[] = { schema, table };
	PGresult *res = sm_db_query(conn,
		"SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = $2",
		2, params, err);

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	*out = PQntuples(res) > 0;
	PQclear(res);
	return SM_OK;
}

int sm_db_query_snapmig_table(PGconn *conn, const char *target, const char *table,
			      const char *sql_fmt, int nparams, const char *const *params,
			      PGresult **res, sm_error *err)
{
	bool exists = false;
	char *t, *sql;
	int rc = sm_db_table_exists(conn, target, table, &exists, err);

	*res = NULL;
	if (rc != SM_OK || !exists)
		return rc;
	t = sm_db_ident(conn, target);
	sql = sm_xasprintf(sql_fmt, t);
	*res = sm_db_query(conn, sql, nparams, params, err);
	free(sql);
	free(t);
	return *res ? SM_OK : sm_error_code(err, SM_ERR_DB);
}

char *sm_db_journal_details(json_object *details, const char *error)
{
	char *s;

	if (error)
		json_object_object_add(details, "error", json_object_new_string(error));
	s = sm_xstrdup(json_object_to_json_string_ext(details, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(details);
	return s;
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
		return sm_error_code(err, SM_ERR_DB);
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
	int rc;

	snprintf(id, sizeof id, "%lld", run_id);
	rc = sm_db_exec_count(conn, sql, 3, params, NULL, NULL, err);
	free(sql);
	free(t);
	return rc;
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

void sm_type_params_init(sm_type_params *p, const sm_aggregate *const *aggs, size_t n)
{
	const char **types = sm_xcalloc(n + 1, sizeof *types);
	long long *versions = sm_xcalloc(n + 1, sizeof *versions);

	for (size_t i = 0; i < n; i++) {
		types[i] = aggs[i]->type;
		versions[i] = aggs[i]->snapshot_version;
	}
	p->types = sm_db_text_array(types, n);
	p->versions = sm_db_ll_array(versions, n);
	free(types);
	free(versions);
}

void sm_type_params_clear(sm_type_params *p)
{
	free(p->types);
	free(p->versions);
	p->types = p->versions = NULL;
}

char *sm_db_instances_sql(PGconn *conn, const sm_settings *set,
			  const sm_store_layout *layout, bool only_configured)
{
	char *s = sm_db_ident(conn, set->source_schema);
	char *mv = sm_store_module_version(layout->snap_meta, "s.metadata", "$1");
	char *tmv = sm_store_module_version(layout->tgt_meta, "t.metadata", "$1");
	char *target, *kind, *sql;

	if (layout->tgt_data != SM_COL_MISSING) {
		target = sm_xasprintf(
			"  t.source_version AS tgt_version, m.tmv"
			"  FROM %s.snapshots s"
			"  %s JOIN unnest($2::text[], $3::bigint[]) AS c(type, target) ON c.type = s.source_type"
			"  LEFT JOIN %s.streams st ON st.stream_uuid = s.source_uuid"
			"  LEFT JOIN pg_temp.sm_gen t ON t.source_uuid = s.source_uuid"
			"  CROSS JOIN LATERAL (SELECT %s AS mv,"
			"   CASE WHEN t.source_uuid IS NULL THEN NULL ELSE %s END AS tmv OFFSET 0) m",
			s, only_configured ? "" : "LEFT", s, mv, tmv);
		/* The target row is a start when it is at the target version and,
		 * unless the live snapshot is not a valid start, at least as new. */
		kind = sm_xasprintf(
			"CASE WHEN i.tmv = i.target AND (i.mv IS DISTINCT FROM i.target"
			" OR i.tgt_version >= i.snap_version) THEN %d"
			" WHEN i.mv = i.target THEN %d ELSE %d END",
			SM_START_GENERATED, SM_START_LIVE, SM_START_INITIAL);
	} else {
		target = sm_xasprintf(
			"  NULL::bigint AS tgt_version, NULL::bigint AS tmv"
			"  FROM %s.snapshots s"
			"  %s JOIN unnest($2::text[], $3::bigint[]) AS c(type, target) ON c.type = s.source_type"
			"  LEFT JOIN %s.streams st ON st.stream_uuid = s.source_uuid"
			"  CROSS JOIN LATERAL (SELECT %s AS mv OFFSET 0) m",
			s, only_configured ? "" : "LEFT", s, mv);
		kind = sm_xasprintf("CASE WHEN i.mv = i.target THEN %d ELSE %d END",
				    SM_START_LIVE, SM_START_INITIAL);
	}
	sql = sm_xasprintf(
		"SELECT k.*, CASE k.sk WHEN %d THEN k.tgt_version WHEN %d THEN k.snap_version"
		" ELSE 0 END AS start_version"
		" FROM (SELECT i.*, %s AS sk"
		" FROM (SELECT s.source_uuid, s.source_type, s.source_version AS snap_version,"
		"  m.mv, st.stream_id, st.stream_version AS end_version,"
		"  (st.stream_id IS NULL OR st.deleted_at IS NOT NULL) AS missing, c.target,"
		"%s) i) k",
		SM_START_GENERATED, SM_START_LIVE, kind, target);
	free(s);
	free(mv);
	free(tmv);
	free(target);
	free(kind);
	return sql;
}
