/*
 * Internal database helpers shared by the engine modules: connecting,
 * running statements with errors turned into sm_error, quoting identifiers,
 * array parameters, the instances query and the run journal.  The store's
 * layout and its JSON expressions are engine/store.h's.
 * Every function works on a connection the caller owns.
 */
#ifndef SM_ENGINE_DB_H
#define SM_ENGINE_DB_H

#include <stdbool.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "engine/snapmig.h"
#include "engine/store.h"

/* Connects with application_name=snapmig unless PGAPPNAME or the conninfo
 * sets one; password may be NULL (then libpq uses the conninfo, PGPASSWORD,
 * .pgpass or a service file). NULL + err on failure (message from libpq,
 * password never included).  Asynchronous: a request of cancel (may be
 * NULL) abandons the attempt within 100 ms (SM_ERR_CANCELLED), and
 * connect_timeout counts from the start.  The engine's modules connect
 * through sm_engine_connect, which watches the connection with the token. */
PGconn *sm_db_connect(const char *conninfo, const char *password, sm_cancel *cancel,
		      sm_error *err);

/* SM_ERR_CANCELLED (err set) when no statement may start on conn any more
 * (engine/cancel.h), else SM_OK: for statements sent with libpq directly.
 * sm_db_exec and sm_db_query check it themselves. */
int sm_db_cancelled(PGconn *conn, sm_error *err);

/*
 * Statements are sent asynchronously and waited for by sm_db_wait, which
 * looks at the connection's cancel token every 100 ms: a requested token
 * gets the statement cancelled by the server (engine/cancel.h).
 */
/* Runs a statement (or several) that returns no rows. */
int sm_db_exec(PGconn *conn, const char *sql, sm_error *err);
/* The same, calling on_wait(ctx, seconds) about once a second while the
 * server has not answered (a wait for a lock); on_wait may be NULL. */
int sm_db_exec_waiting(PGconn *conn, const char *sql, void (*on_wait)(void *, double),
		       void *ctx, sm_error *err);
/* Waits until the results of what was sent on conn are ready (then read
 * them until NULL), as described above.  SM_ERR_IO when poll fails. */
int sm_db_wait(PGconn *conn, void (*on_wait)(void *, double), void *ctx, sm_error *err);
/* Runs a query with text parameters (any may be NULL); returns the result
 * (caller PQclears) or NULL with err filled.  Accepts COMMAND_OK and TUPLES_OK. */
PGresult *sm_db_query(PGconn *conn, const char *sql, int nparams,
		      const char *const *params, sm_error *err);
/* Runs a statement that returns no rows; *affected (may be NULL) gets the
 * number of rows it changed.  An error is prefixed with what (unless NULL). */
int sm_db_exec_count(PGconn *conn, const char *sql, int nparams, const char *const *params,
		     long long *affected, const char *what, sm_error *err);
/* One write of a transaction's chain: when rc is SM_OK, runs the statement
 * that sql_fmt formats as sm_db_exec_count does and returns its status;
 * otherwise returns rc and runs nothing, so that
 *     rc = sm_db_step(rc, ...); rc = sm_db_step(rc, ...);
 * stops at the first failure. */
int sm_db_step(int rc, PGconn *conn, int nparams, const char *const *params,
	       long long *affected, const char *what, sm_error *err, const char *sql_fmt, ...)
	__attribute__((format(printf, 8, 9)));
/* The same with declared parameter types (NULL: inferred), binary results
 * when asked, and what failed named by what. */
PGresult *sm_db_query_typed(PGconn *conn, const char *sql, int nparams, const Oid *types,
			    const char *const *params, bool binary, const char *what,
			    sm_error *err);
/* Fills err from a failed result or the connection (result may be NULL);
 * SM_ERR_CANCELLED when conn's token was requested. */
int sm_db_error(PGconn *conn, const PGresult *res, const char *what, sm_error *err);
/* true when the error in err is a lost connection (SQLSTATE class 08 or
 * the connection is bad), i.e. worth a retry after reconnecting. */
bool sm_db_is_connection_error(PGconn *conn, const sm_error *err);

/* PostgreSQL array literals for text / bigint parameters (caller frees). */
char *sm_db_text_array(const char *const *items, size_t n);
char *sm_db_ll_array(const long long *items, size_t n);

/* Parameters $2 (text[]: the types) and $3 (bigint[]: their configured
 * snapshot versions) of sm_db_instances_sql and of the copy's queries,
 * for n aggregates.  Built once per operation; clear frees them. */
typedef struct sm_type_params {
	char *types;
	char *versions;
} sm_type_params;

void sm_type_params_init(sm_type_params *p, const sm_aggregate *const *aggs, size_t n);
void sm_type_params_clear(sm_type_params *p);

/* Where the rebuild of an instance starts (column sk of
 * sm_db_instances_sql). */
enum sm_start_kind {
	SM_START_INITIAL = 0,      /* the initial state: full replay */
	SM_START_LIVE = 1,         /* the valid live snapshot */
	SM_START_GENERATED = 2,    /* a current target row of an earlier run: resume */
};

/*
 * The one definition of "what a rebuild starts from", shared by inventory,
 * pre-flight and planning.  A SELECT over <source>.snapshots with columns
 *   source_uuid, source_type, snap_version, mv (module version, see
 *   sm_store_module_version), stream_id, end_version (the stream's version),
 *   missing (stream gone or soft-deleted), target (configured version, NULL
 *   for unconfigured types unless only_configured), tgt_version and tmv (the
 *   current target row's source_version and module version, NULL when none,
 *   and always when layout has no target table), sk (an sm_start_kind) and
 *   start_version (the version sk starts after: 0 for the initial state).
 * A target row is only seen when it is current (engine/target.h: made
 * with the current fingerprint of its type), so a stale one is never a
 * start and its instance is planned again.
 * Parameters: $1 metadata key, $2 and $3 an sm_type_params.  The session
 * must be prepared (sm_store_prepare_session) and, when layout has a
 * target table, have its current rows (sm_target_fingerprints).  Use it
 * as a subquery.  Caller frees.
 */
char *sm_db_instances_sql(PGconn *conn, const sm_settings *set,
			  const sm_store_layout *layout, bool only_configured);

/* "quoted" identifier (malloc'ed, caller frees). */
char *sm_db_ident(PGconn *conn, const char *name);

long long sm_db_ll(const PGresult *res, int row, int col); /* 0 when NULL */

/* SQL text of the timestamptz column col as the engine reports every time:
 * UTC, to the second, "2026-01-31T12:00:00Z". */
#define SM_DB_UTC_TEXT(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Does <schema>.<table> exist? */
int sm_db_table_exists(PGconn *conn, const char *schema, const char *table,
		       bool *out, sm_error *err);

/* Runs sql_fmt (one "%s" = the quoted target schema) over one of
 * snapmig's tables of the target schema; *res (caller PQclears) is NULL,
 * and the status SM_OK, when the table does not exist yet: nothing has
 * been recorded. */
int sm_db_query_snapmig_table(PGconn *conn, const char *target, const char *table,
			      const char *sql_fmt, int nparams, const char *const *params,
			      PGresult **res, sm_error *err);

/* Journal: the text of a run's details, the object details (taken: put
 * here) with "error": error added when error is not NULL.  Caller frees. */
char *sm_db_journal_details(json_object *details, const char *error);
/* Journal: inserts a run row (outcome 'running') and returns its id. */
int sm_db_journal_start(PGconn *conn, const char *target_schema, const char *kind,
			const char *environment, const char *details_json,
			long long *run_id, sm_error *err);
int sm_db_journal_finish(PGconn *conn, const char *target_schema, long long run_id,
			 const char *outcome, const char *details_json, sm_error *err);


#endif
