/*
 * The target schema: checks before it is used, its side tables (owner,
 * fingerprints, rows, lock holder) and its lock; see target.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/db.h"
#include "engine/target.h"
#include "util/alloc.h"

/* High halves of the two advisory lock keys ("smig", "smih"); the low
 * half is the target schema's OID. */
#define LOCK_K 0x736d6967LL
#define LOCK_R 0x736d6968LL

/* ---------------------------------------------------------------- identity */

/* This environment's store: server system identifier ("" when it cannot be
 * read, e.g. without the right on pg_control_system), database name. */
static int store_identity(PGconn *conn, char *sysid, size_t sysid_size, char *dbname,
			  size_t dbname_size, sm_error *err)
{
	PGresult *res = sm_db_query(conn, "SELECT current_database()", 0, NULL, err);

	if (!res)
		return SM_ERR_DB;
	snprintf(dbname, dbname_size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	sysid[0] = '\0';
	res = PQexec(conn, "SELECT system_identifier::text FROM pg_catalog.pg_control_system()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		snprintf(sysid, sysid_size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return SM_OK;
}

/* "schema tenant_a of database app on server 7716075649948989046" */
static void describe_store(char *buf, size_t size, const char *schema, const char *db,
			   const char *sysid)
{
	snprintf(buf, size, "schema %s of database %s%s%s", schema, db,
		 sysid && *sysid ? " on server " : "", sysid && *sysid ? sysid : "");
}

/* A target schema name for this environment alone, for the message. */
static void suggest_target(char *buf, size_t size, const char *source)
{
	if (strlen(source) + strlen("_migration") <= 63)
		snprintf(buf, size, "%s_migration", source);
	else
		snprintf(buf, size, "migration_<a name of its own>");
}

static int check_owner(PGconn *conn, const sm_engine *eng, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	char *t = sm_db_ident(conn, set->target_schema);
	char *sql = sm_xasprintf("SELECT COALESCE(system_identifier, ''), dbname, source_schema"
				 " FROM %s.snapmig_owner", t);
	char sysid[64], db[256], mine[700], theirs[700], suggestion[128];
	PGresult *res = sm_db_query(conn, sql, 0, NULL, err);
	int rc = SM_OK;

	free(sql);
	free(t);
	if (!res)
		return SM_ERR_DB;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return SM_OK;
	}
	if (store_identity(conn, sysid, sizeof sysid, db, sizeof db, err) != SM_OK) {
		PQclear(res);
		return SM_ERR_DB;
	}
	{
		const char *o_sysid = PQgetvalue(res, 0, 0), *o_db = PQgetvalue(res, 0, 1);
		const char *o_schema = PQgetvalue(res, 0, 2);
		bool same = strcmp(o_db, db) == 0 && strcmp(o_schema, set->source_schema) == 0 &&
			    (!*o_sysid || !*sysid || strcmp(o_sysid, sysid) == 0);

		if (!same) {
			describe_store(theirs, sizeof theirs, o_schema, o_db, o_sysid);
			describe_store(mine, sizeof mine, set->source_schema, db, sysid);
			suggest_target(suggestion, sizeof suggestion, set->source_schema);
			rc = sm_error_set(err, SM_ERR_CONFIG,
					  "target schema %s holds the snapshots generated from another "
					  "event store (%s); environment %s reads %s: give it a target "
					  "schema of its own, e.g. target_schema = \"%s\"",
					  set->target_schema, theirs, eng->env->name, mine, suggestion);
		}
	}
	PQclear(res);
	return rc;
}

/* A target schema that holds an event store with events is another live
 * store (another tenant's, say): its snapshots table is read by an
 * application.  The empty event store that the old workflow created as
 * its "migration" schema (mix event_store.create) is fine. */
static int check_not_a_store(PGconn *conn, const sm_settings *set, sm_error *err)
{
	bool events = false;
	char *t, *sql;
	PGresult *res;
	int rc;

	if (sm_db_table_exists(conn, set->target_schema, "events", &events, err) != SM_OK)
		return SM_ERR_DB;
	if (!events)
		return SM_OK;
	t = sm_db_ident(conn, set->target_schema);
	sql = sm_xasprintf("SELECT EXISTS (SELECT 1 FROM %s.events)", t);
	res = sm_db_query(conn, sql, 0, NULL, err);
	free(sql);
	free(t);
	if (!res)
		return SM_ERR_DB;
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0
		? sm_error_set(err, SM_ERR_CONFIG,
			       "target schema %s holds an event store with events: its snapshots "
			       "table belongs to a live application, and snapmig never writes "
			       "generated snapshots there; choose another target_schema",
			       set->target_schema)
		: SM_OK;
	PQclear(res);
	return rc;
}

int sm_target_check(PGconn *conn, const sm_engine *eng, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	const char *params[] = { set->source_schema, set->target_schema };
	/* $n::name cuts a name to 63 bytes as the parser cuts identifiers. */
	PGresult *res = sm_db_query(conn,
		"SELECT s.oid = t.oid, tc.relkind, tc.oid = sc.oid,"
		" EXISTS (SELECT 1 FROM pg_catalog.pg_class o WHERE o.relnamespace = t.oid"
		"  AND o.relname = 'snapmig_owner')"
		" FROM (SELECT 1) one"
		" LEFT JOIN pg_catalog.pg_namespace s ON s.nspname = $1::name"
		" LEFT JOIN pg_catalog.pg_namespace t ON t.nspname = $2::name"
		" LEFT JOIN pg_catalog.pg_class sc ON sc.relnamespace = s.oid AND sc.relname = 'snapshots'"
		" LEFT JOIN pg_catalog.pg_class tc ON tc.relnamespace = t.oid AND tc.relname = 'snapshots'",
		2, params, err);
	bool owned = false;
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
	owned = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	if (rc == SM_OK)
		rc = check_not_a_store(conn, set, err);
	if (rc == SM_OK && owned)
		rc = check_owner(conn, eng, err);
	return rc;
}

/* ------------------------------------------------------------ side tables */

int sm_target_ensure(PGconn *conn, const sm_engine *eng, bool claim, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	char *t = sm_db_ident(conn, set->target_schema);
	char *sql = sm_xasprintf(
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_owner ("
		" only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
		" system_identifier text,"
		" dbname text NOT NULL,"
		" source_schema text NOT NULL,"
		" environment text,"
		" claimed_at timestamp with time zone NOT NULL DEFAULT now());"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_fingerprints ("
		" fp_id bigserial PRIMARY KEY,"
		" source_type text NOT NULL,"
		" fingerprint text NOT NULL,"
		" described jsonb,"
		" created_at timestamp with time zone NOT NULL DEFAULT now(),"
		" UNIQUE (source_type, fingerprint));"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_rows ("
		" source_uuid text PRIMARY KEY,"
		" fp_id bigint NOT NULL);"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_lock ("
		" backend_pid integer PRIMARY KEY,"
		" operation text NOT NULL,"
		" environment text,"
		" host text,"
		" pid bigint,"
		" os_user text,"
		" run_id bigint,"
		" started_at timestamp with time zone NOT NULL DEFAULT now());", t);
	int rc;

	/* Serialised with sm_db_ensure_target's creations (same lock). */
	rc = sm_db_exec(conn, "BEGIN; SET LOCAL client_min_messages = warning;"
			" SELECT pg_advisory_xact_lock(7365616, 1)", err);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, sql, err);
	free(sql);
	if (rc == SM_OK && claim) {
		char sysid[64], db[256];

		rc = store_identity(conn, sysid, sizeof sysid, db, sizeof db, err);
		if (rc == SM_OK) {
			const char *p[] = { *sysid ? sysid : NULL, db, set->source_schema, eng->env->name };
			PGresult *res;

			sql = sm_xasprintf("INSERT INTO %s.snapmig_owner (system_identifier, dbname,"
					   " source_schema, environment) VALUES ($1, $2, $3, $4)"
					   " ON CONFLICT DO NOTHING", t);
			res = sm_db_query(conn, sql, 4, p, err);
			rc = res ? SM_OK : SM_ERR_DB;
			PQclear(res);
			free(sql);
		}
	}
	if (rc == SM_OK)
		rc = sm_db_exec(conn, "COMMIT", err);
	else
		sm_db_exec(conn, "ROLLBACK", NULL);
	if (rc != SM_OK)
		sm_error_prefix(err, "preparing target schema %s", set->target_schema);
	free(t);
	return rc;
}

/* ----------------------------------------------------------- fingerprints */

void sm_type_fps_free(sm_type_fp *fps, size_t n)
{
	if (!fps)
		return;
	for (size_t i = 0; i < n; i++)
		sm_fingerprint_clear(&fps[i].fp);
	free(fps);
}

/* Registers (with add) and looks up the ids of fps. */
static int fingerprint_ids(PGconn *conn, const char *target, sm_type_fp *fps, size_t n,
			   bool add, sm_error *err)
{
	const char **types = sm_xcalloc(n + 1, sizeof *types);
	const char **hexes = sm_xcalloc(n + 1, sizeof *hexes);
	const char **descs = sm_xcalloc(n + 1, sizeof *descs);
	char *t = sm_db_ident(conn, target), *a_types, *a_hexes, *a_descs, *sql;
	PGresult *res = NULL;
	bool exists = false;
	int rc;

	for (size_t i = 0; i < n; i++) {
		types[i] = fps[i].agg->type;
		hexes[i] = fps[i].failed ? "" : fps[i].fp.hex;
		descs[i] = fps[i].fp.described ? fps[i].fp.described : "{}";
	}
	a_types = sm_db_text_array(types, n);
	a_hexes = sm_db_text_array(hexes, n);
	a_descs = sm_db_text_array(descs, n);
	rc = sm_db_table_exists(conn, target, "snapmig_fingerprints", &exists, err);
	if (rc == SM_OK && exists && add) {
		const char *p[] = { a_types, a_hexes, a_descs };

		sql = sm_xasprintf("INSERT INTO %s.snapmig_fingerprints (source_type, fingerprint, described)"
				   " SELECT ty, fp, d::jsonb FROM unnest($1::text[], $2::text[], $3::text[])"
				   " AS x(ty, fp, d) WHERE fp <> ''"
				   " ON CONFLICT (source_type, fingerprint) DO NOTHING", t);
		res = sm_db_query(conn, sql, 3, p, err);
		free(sql);
		rc = res ? SM_OK : SM_ERR_DB;
		PQclear(res);
	}
	if (rc == SM_OK && exists) {
		const char *p[] = { a_types, a_hexes };

		sql = sm_xasprintf("SELECT f.source_type, f.fp_id FROM %s.snapmig_fingerprints f"
				   " JOIN unnest($1::text[], $2::text[]) AS x(ty, fp)"
				   " ON f.source_type = x.ty AND f.fingerprint = x.fp", t);
		res = sm_db_query(conn, sql, 2, p, err);
		free(sql);
		rc = res ? SM_OK : SM_ERR_DB;
		for (int r = 0; res && r < PQntuples(res); r++)
			for (size_t i = 0; i < n; i++)
				if (strcmp(types[i], PQgetvalue(res, r, 0)) == 0)
					fps[i].id = sm_db_ll(res, r, 1);
		PQclear(res);
	}
	free(types);
	free(hexes);
	free(descs);
	free(a_types);
	free(a_hexes);
	free(a_descs);
	free(t);
	return rc;
}

/* pg_temp.sm_fp: the current fingerprint id of every type that has one. */
static int session_table(PGconn *conn, const sm_type_fp *fps, size_t n, sm_error *err)
{
	const char **types = sm_xcalloc(n + 1, sizeof *types);
	long long *ids = sm_xcalloc(n + 1, sizeof *ids);
	char *a_types, *a_ids;
	PGresult *res;
	int rc;

	for (size_t i = 0; i < n; i++) {
		types[i] = fps[i].agg->type;
		ids[i] = fps[i].id;
	}
	a_types = sm_db_text_array(types, n);
	a_ids = sm_db_ll_array(ids, n);
	rc = sm_db_exec(conn, "SET client_min_messages = warning;"
			"CREATE TEMP TABLE IF NOT EXISTS sm_fp (source_type text PRIMARY KEY,"
			" fp_id bigint NOT NULL); TRUNCATE pg_temp.sm_fp", err);
	if (rc == SM_OK) {
		const char *p[] = { a_types, a_ids };

		res = sm_db_query(conn, "INSERT INTO pg_temp.sm_fp SELECT ty, id"
				  " FROM unnest($1::text[], $2::bigint[]) AS x(ty, id) WHERE id > 0",
				  2, p, err);
		rc = res ? SM_OK : SM_ERR_DB;
		PQclear(res);
	}
	free(types);
	free(ids);
	free(a_types);
	free(a_ids);
	return rc;
}

/* pg_temp.sm_gen: the current generated rows (see target.h), when the
 * target has a snapshots table. */
static int session_view(PGconn *conn, const char *target, sm_error *err)
{
	bool snapshots = false, rows = false;
	char *t, *sql;
	int rc;

	if (sm_db_table_exists(conn, target, "snapshots", &snapshots, err) != SM_OK ||
	    sm_db_table_exists(conn, target, "snapmig_rows", &rows, err) != SM_OK)
		return SM_ERR_DB;
	rc = sm_db_exec(conn, "DROP VIEW IF EXISTS pg_temp.sm_gen", err);
	if (rc != SM_OK || !snapshots)
		return rc;
	t = sm_db_ident(conn, target);
	sql = rows
		? sm_xasprintf("CREATE TEMP VIEW sm_gen AS SELECT t.* FROM %1$s.snapshots t"
			       " JOIN %1$s.snapmig_rows r ON r.source_uuid = t.source_uuid"
			       " JOIN pg_temp.sm_fp c ON c.source_type = t.source_type AND c.fp_id = r.fp_id", t)
		: sm_xasprintf("CREATE TEMP VIEW sm_gen AS SELECT t.* FROM %s.snapshots t WHERE false", t);
	rc = sm_db_exec(conn, sql, err);
	free(sql);
	free(t);
	return rc;
}

int sm_target_fingerprints_use(PGconn *conn, const sm_engine *eng, const sm_type_fp *fps,
			       size_t n, sm_error *err)
{
	int rc = session_table(conn, fps, n, err);

	return rc == SM_OK ? session_view(conn, eng->env->settings.target_schema, err) : rc;
}

int sm_target_fingerprints(PGconn *conn, const sm_engine *eng,
			   const sm_aggregate *const *aggs, size_t n, bool add,
			   sm_type_fp **out, sm_error *err)
{
	return sm_target_fingerprints_known(conn, eng, aggs, n, add, NULL, NULL, out, err);
}

int sm_target_fingerprints_known(PGconn *conn, const sm_engine *eng,
				 const sm_aggregate *const *aggs, size_t n, bool add,
				 const bool *known, const char *const *hellos,
				 sm_type_fp **out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	sm_type_fp *fps = sm_xcalloc(n + 1, sizeof *fps);
	int rc = SM_OK;

	*out = NULL;
	for (size_t i = 0; i < n && rc == SM_OK; i++) {
		sm_error e;

		fps[i].agg = aggs[i];
		sm_error_clear(&e);
		if (known && known[i]) {
			sm_fingerprint_compute(eng->cfg, set, aggs[i], hellos[i], &fps[i].fp);
			continue;
		}
		if (sm_fingerprint_current(eng->cfg, set, aggs[i], &fps[i].fp, &e) == SM_OK)
			continue;
		if (add) {
			*err = e;
			rc = e.code;
		} else {
			fps[i].failed = true;
			snprintf(fps[i].error, sizeof fps[i].error, "%s", e.message);
		}
	}
	if (rc == SM_OK)
		rc = fingerprint_ids(conn, set->target_schema, fps, n, add, err);
	if (rc == SM_OK)
		rc = session_table(conn, fps, n, err);
	if (rc == SM_OK)
		rc = session_view(conn, set->target_schema, err);
	if (rc != SM_OK) {
		sm_type_fps_free(fps, n);
		return rc;
	}
	*out = fps;
	return SM_OK;
}

/* ------------------------------------------------------------------- lock */

/* The target schema's OID as text into buf ("" when it does not exist). */
static int target_oid(PGconn *conn, const char *target, char *buf, size_t size, sm_error *err)
{
	const char *p[] = { target };
	PGresult *res = sm_db_query(conn, "SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1::name",
				    1, p, err);

	if (!res)
		return SM_ERR_DB;
	snprintf(buf, size, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return SM_OK;
}

/* Runs a pg_try_advisory_lock* call ("SELECT f(key)"); *got its answer. */
static int try_lock(PGconn *conn, const char *fn, long long klass, const char *oid, bool *got,
		    sm_error *err)
{
	char k[32];
	const char *p[] = { k, oid };
	char *sql = sm_xasprintf("SELECT %s(($1::bigint << 32) | $2::bigint)", fn);
	PGresult *res;

	snprintf(k, sizeof k, "%lld", klass);
	res = sm_db_query(conn, sql, 2, p, err);
	free(sql);
	if (!res)
		return SM_ERR_DB;
	*got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return SM_OK;
}

/* The sessions holding K or R of the target (SQL, $1 = the schema's OID). */
#define HOLDERS_SQL                                                                    \
	"SELECT DISTINCT l.pid FROM pg_catalog.pg_locks l"                            \
	" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"             \
	" AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())" \
	" AND l.objid = $1::oid AND l.classid IN (1936550247::oid, 1936550248::oid)"

const char *sm_activity_describe(const sm_activity *a, char *buf, size_t size)
{
	char who[400] = "", run[48] = "", env[160] = "";

	if (!a->busy) {
		snprintf(buf, size, "nothing runs");
		return buf;
	}
	if (a->os_user[0] || a->host[0])
		snprintf(who, sizeof who, "%s%s%s%s", a->os_user[0] ? " by " : "", a->os_user,
			 a->host[0] ? " on " : "", a->host);
	if (a->environment[0])
		snprintf(env, sizeof env, ", environment %s", a->environment);
	if (a->run_id > 0)
		snprintf(run, sizeof run, ", run %lld", a->run_id);
	if (!a->operation[0])
		snprintf(buf, size, "an operation of another session (server session %d)", a->backend_pid);
	else
		snprintf(buf, size, "%s started %s%s (pid %ld%s%s; server session %d)", a->operation,
			 a->started_at, who, a->pid, env, run, a->backend_pid);
	return buf;
}

int sm_target_activity(PGconn *conn, const sm_engine *eng, sm_activity *out, sm_error *err)
{
	const char *target = eng->env->settings.target_schema;
	char oid[32], *sql, *t, *rel;
	bool holders = false;
	PGresult *res;
	const char *p[] = { oid };

	memset(out, 0, sizeof *out);
	if (target_oid(conn, target, oid, sizeof oid, err) != SM_OK)
		return SM_ERR_DB;
	if (!*oid)
		return SM_OK;
	if (sm_db_table_exists(conn, target, "snapmig_lock", &holders, err) != SM_OK)
		return SM_ERR_DB;
	t = sm_db_ident(conn, target);
	rel = holders ? sm_xasprintf("%s.snapmig_lock", t)
		: sm_xstrdup("(SELECT NULL::int AS backend_pid, NULL::text AS operation,"
			     " NULL::text AS environment, NULL::text AS host, NULL::bigint AS pid,"
			     " NULL::text AS os_user, NULL::timestamptz AS started_at,"
			     " NULL::bigint AS run_id)");
	sql = sm_xasprintf(
		"SELECT l.pid, h.operation, h.environment, h.host, h.pid, h.os_user,"
		" " SM_DB_UTC_TEXT("h.started_at") ", h.run_id"
		" FROM (" HOLDERS_SQL " AND l.pid <> pg_backend_pid()) l"
		" LEFT JOIN %s h ON h.backend_pid = l.pid"
		" ORDER BY h.started_at NULLS LAST LIMIT 1", rel);
	res = sm_db_query(conn, sql, 1, p, err);
	free(sql);
	free(rel);
	free(t);
	if (!res)
		return SM_ERR_DB;
	if (PQntuples(res) > 0) {
		out->busy = true;
		out->backend_pid = (int)sm_db_ll(res, 0, 0);
		snprintf(out->operation, sizeof out->operation, "%s", PQgetvalue(res, 0, 1));
		snprintf(out->environment, sizeof out->environment, "%s", PQgetvalue(res, 0, 2));
		snprintf(out->host, sizeof out->host, "%s", PQgetvalue(res, 0, 3));
		out->pid = (long)sm_db_ll(res, 0, 4);
		snprintf(out->os_user, sizeof out->os_user, "%s", PQgetvalue(res, 0, 5));
		snprintf(out->started_at, sizeof out->started_at, "%s", PQgetvalue(res, 0, 6));
		out->run_id = sm_db_ll(res, 0, 7);
	}
	PQclear(res);
	return SM_OK;
}

static int busy_error(PGconn *conn, const sm_engine *eng, sm_error *err)
{
	sm_activity a;
	char who[900];

	if (sm_target_activity(conn, eng, &a, err) != SM_OK)
		return SM_ERR_DB;
	if (!a.busy)
		return SM_OK;  /* released meanwhile: try again */
	return sm_error_set(err, SM_ERR_BUSY,
			    "target schema %s is in use: %s; wait until it ends (or stop it there)",
			    eng->env->settings.target_schema, sm_activity_describe(&a, who, sizeof who));
}

/* Records this session as the holder and forgets holders whose sessions
 * ended. */
static int record_holder(PGconn *conn, const sm_engine *eng, const char *oid,
			 const char *operation, sm_error *err)
{
	char *t = sm_db_ident(conn, eng->env->settings.target_schema);
	char host[256] = "", pid[32];
	const char *user = getenv("USER");
	const char *p[] = { oid, operation, eng->env->name, host, pid, user ? user : getenv("LOGNAME") };
	char *sql = sm_xasprintf(
		"DELETE FROM %1$s.snapmig_lock WHERE backend_pid = pg_backend_pid()"
		" OR backend_pid NOT IN (" HOLDERS_SQL ");"
		, t);
	PGresult *res;
	int rc;

	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	res = sm_db_query(conn, sql, 1, p, err);
	free(sql);
	rc = res ? SM_OK : SM_ERR_DB;
	PQclear(res);
	if (rc == SM_OK) {
		sql = sm_xasprintf("INSERT INTO %s.snapmig_lock (backend_pid, operation, environment,"
				   " host, pid, os_user) VALUES (pg_backend_pid(), $1, $2, $3, $4::bigint, $5)",
				   t);
		res = sm_db_query(conn, sql, 5, p + 1, err);
		free(sql);
		rc = res ? SM_OK : SM_ERR_DB;
		PQclear(res);
	}
	free(t);
	return rc;
}

int sm_target_lock(PGconn *conn, const sm_engine *eng, enum sm_target_lock_mode mode,
		   const char *operation, sm_error *err)
{
	const char *target = eng->env->settings.target_schema;
	char oid[32];
	int rc;

	rc = target_oid(conn, target, oid, sizeof oid, err);
	if (rc == SM_OK && !*oid)
		return sm_error_set(err, SM_ERR_INTERNAL, "target schema %s does not exist", target);
	/* A holder that lets go between our try and our look is retried. */
	for (int attempt = 0; rc == SM_OK && attempt < 3; attempt++) {
		bool got = false, shared = false;

		if (mode == SM_LOCK_REBUILD) {
			rc = try_lock(conn, "pg_try_advisory_lock", LOCK_R, oid, &got, err);
			if (rc == SM_OK && got) {
				rc = try_lock(conn, "pg_try_advisory_lock_shared", LOCK_K, oid, &shared, err);
				if (rc == SM_OK && !shared) {
					bool ignored;

					try_lock(conn, "pg_advisory_unlock", LOCK_R, oid, &ignored, NULL);
					got = false;
				}
			}
		} else if (mode == SM_LOCK_JOIN) {
			rc = try_lock(conn, "pg_try_advisory_lock_shared", LOCK_K, oid, &got, err);
		} else {
			rc = try_lock(conn, "pg_try_advisory_lock", LOCK_K, oid, &got, err);
		}
		if (rc != SM_OK)
			break;
		if (got)
			return record_holder(conn, eng, oid, operation, err);
		rc = busy_error(conn, eng, err);
		if (rc != SM_OK)
			return rc;
	}
	if (rc == SM_OK)
		rc = sm_error_set(err, SM_ERR_BUSY, "target schema %s is in use by another session",
				  target);
	return rc;
}

void sm_target_lock_run(PGconn *conn, const sm_engine *eng, long long run_id)
{
	char *t = sm_db_ident(conn, eng->env->settings.target_schema);
	char *sql = sm_xasprintf("UPDATE %s.snapmig_lock SET run_id = $1::bigint"
				 " WHERE backend_pid = pg_backend_pid()", t);
	char id[32];
	const char *p[] = { id };

	snprintf(id, sizeof id, "%lld", run_id);
	PQclear(sm_db_query(conn, sql, 1, p, NULL));
	free(sql);
	free(t);
}

void sm_target_unlock(PGconn *conn, const sm_engine *eng)
{
	char *t;
	char *sql;

	if (!conn || PQstatus(conn) != CONNECTION_OK)
		return;  /* a lost session holds nothing */
	t = sm_db_ident(conn, eng->env->settings.target_schema);
	sql = sm_xasprintf("DELETE FROM %s.snapmig_lock WHERE backend_pid = pg_backend_pid();"
			   " SELECT pg_advisory_unlock_all()", t);
	sm_db_exec(conn, sql, NULL);
	free(sql);
	free(t);
}
