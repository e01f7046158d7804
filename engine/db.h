/*
 * Internal database helpers shared by the engine modules: connecting,
 * running statements with errors turned into sm_error, quoting identifiers,
 * reading column types and creating the target schema's tables.
 * Every function works on a connection the caller owns.
 */
#ifndef SM_ENGINE_DB_H
#define SM_ENGINE_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "engine/snapmig.h"

/* Connects with application_name=snapmig; password may be NULL (then libpq
 * uses the conninfo, PGPASSWORD, .pgpass or a service file). NULL + err on
 * failure (message from libpq, password never included). */
PGconn *sm_db_connect(const char *conninfo, const char *password, sm_error *err);

/* Runs a statement that returns no rows. */
int sm_db_exec(PGconn *conn, const char *sql, sm_error *err);
/* Runs a query with text parameters (any may be NULL); returns the result
 * (caller PQclears) or NULL with err filled.  Accepts COMMAND_OK and TUPLES_OK. */
PGresult *sm_db_query(PGconn *conn, const char *sql, int nparams,
		      const char *const *params, sm_error *err);
/* Fills err from a failed result or the connection (result may be NULL). */
int sm_db_error(PGconn *conn, const PGresult *res, const char *what, sm_error *err);
/* true when the error in err is a lost connection (SQLSTATE class 08 or
 * the connection is bad), i.e. worth a retry after reconnecting. */
bool sm_db_is_connection_error(PGconn *conn, const sm_error *err);

/* Creates the session's temporary helper functions used in engine
 * queries: pg_temp.sm_mv(metadata, key) gives the snapshot module version
 * (missing key = 1, not a number = 0, undecodable metadata = -1), for bytea
 * and jsonb metadata.  Call once per connection before such queries. */
int sm_db_prepare_session(PGconn *conn, sm_error *err);

/* PostgreSQL array literals for text / bigint parameters (caller frees). */
char *sm_db_text_array(const char *const *items, size_t n);
char *sm_db_ll_array(const long long *items, size_t n);

/*
 * The one definition of "what a rebuild starts from", shared by inventory,
 * pre-flight and planning.  A SELECT over <source>.snapshots with columns
 *   source_uuid, source_type, snap_version, mv (module version, see
 *   sm_db_prepare_session), stream_id, end_version (the stream's version),
 *   missing (stream gone or soft-deleted), target (configured version, NULL
 *   for unconfigured types unless only_configured), tgt_version and tmv (the
 *   target row's source_version and module version, NULL when none),
 *   sk: the start kind: 2 = the target row (resume), 1 = the valid live
 *   snapshot, 0 = the initial state (full replay).
 * Parameters: $1 metadata key, $2 text[] types, $3 bigint[] target versions.
 * Use it as a subquery.  Caller frees.
 */
char *sm_db_instances_sql(PGconn *conn, const char *source_schema,
			  const char *target_schema, bool target_exists,
			  bool only_configured);

/* "quoted" identifier (malloc'ed, caller frees). */
char *sm_db_ident(PGconn *conn, const char *name);

long long sm_db_ll(const PGresult *res, int row, int col); /* 0 when NULL */

/* Column types of <schema>.<table>.data and .metadata (MISSING when absent). */
int sm_db_column_types(PGconn *conn, const char *schema, const char *table,
		       enum sm_column_type *data, enum sm_column_type *metadata,
		       sm_error *err);

/* For jsonb stores: whether values are JSON text inside a jsonb string
 * (double encoding), sampled from snapshots, then events. */
int sm_db_double_encoded(PGconn *conn, const char *schema, bool *out, sm_error *err);

/* Creates (if missing) the target schema, its snapshots table with the
 * given column types, and snapmig's tables snapmig_runs and
 * snapmig_failures. */
int sm_db_ensure_target(PGconn *conn, const char *target_schema,
			enum sm_column_type data, enum sm_column_type metadata,
			sm_error *err);

/* Does <schema>.<table> exist? */
int sm_db_table_exists(PGconn *conn, const char *schema, const char *table,
		       bool *out, sm_error *err);

/* Journal: inserts a run row (outcome 'running') and returns its id. */
int sm_db_journal_start(PGconn *conn, const char *target_schema, const char *kind,
			const char *environment, const char *details_json,
			long long *run_id, sm_error *err);
int sm_db_journal_finish(PGconn *conn, const char *target_schema, long long run_id,
			 const char *outcome, const char *details_json, sm_error *err);

/* SQL expression format (one "%s" = the column) turning a column (bytea, jsonb or double-encoded jsonb)
 * into JSON text (type text for jsonb, bytea for bytea: read it in binary
 * format to get the raw bytes without a decoding step that could fail the
 * whole query).  Static string. */
const char *sm_db_json_read_fmt(enum sm_column_type type, bool double_encoded);
/* Expression turning a text parameter/column holding JSON text into the
 * column's form, with "%s" where the text goes.  Static string. */
const char *sm_db_json_write_fmt(enum sm_column_type type, bool double_encoded);

#endif
