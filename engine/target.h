/*
 * Internal: what snapmig may assume about the target schema before it
 * reads or writes there, and what it keeps there beside the generated
 * snapshots (issue 16).  <target>.snapshots keeps EventStore's exact
 * layout and the metadata Commanded writes, so everything else lives in
 * side tables of the target schema:
 *
 *   snapmig_owner        one row: the event store the generated rows come
 *                        from (server system identifier, database name,
 *                        source schema), recorded by the first rebuild
 *   snapmig_fingerprints one row per (type, fingerprint) ever used
 *                        (engine/fingerprint.h), with what went into it
 *   snapmig_rows         per generated row: the fingerprint it was made
 *                        with, written in the same transaction as the row
 *   snapmig_lock         who holds the target's lock (host, pid, start,
 *                        operation); the lock itself is an advisory lock
 *
 * Promises:
 *  - sm_target_check: the target schema is not the source schema
 *    (compared by OID, names cut as PostgreSQL cuts them to 63 bytes), an
 *    existing <target>.snapshots is an ordinary table, the schema holds no
 *    event store with events (another live store); when the target
 *    records an owner, it is this environment's store.  Every operation
 *    that touches the target calls it first.  Nothing is written.
 *  - A generated row is current only when its snapmig_rows entry names
 *    the fingerprint the current configuration gives its type; rows
 *    without an entry (an older snapmig wrote them, or another reducer)
 *    are stale: never copied, never resumed from, regenerated.
 *    pg_temp.sm_gen (sm_target_fingerprints) is the one definition of that.
 *  - One operation at a time per target: a session-level advisory lock,
 *    held by the operation's own connection (released when it ends, also
 *    when the process dies).  Two keys per target, both keyed by the
 *    target schema's OID: K (shared by a rebuild, exclusive for copy,
 *    rollback and discard) and R (exclusive, the rebuild's).  A rebuild
 *    takes R then K shared, so two rebuilds exclude each other through R
 *    and a copy excludes both through K.  A rebuild that joins another's
 *    plan (issue 21, engine/work.h) takes K shared alone and coexists
 *    with the rebuild it joins and with other joining ones, while copy,
 *    rollback and discard stay exclusive.
 */
#ifndef SM_ENGINE_TARGET_H
#define SM_ENGINE_TARGET_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "engine/engine_internal.h"
#include "engine/fingerprint.h"

/* SM_ERR_CONFIG when the target may not be used by this environment (the
 * message says why and what to change), SM_ERR_DB when the catalog cannot
 * be read. */
int sm_target_check(PGconn *conn, const sm_engine *eng, sm_error *err);

/* Creates the side tables (if missing; own transaction).  With claim,
 * records this environment's store as the owner when none is recorded
 * (call sm_target_check first: an owner of another store stays and is
 * refused there).  The target schema must exist. */
int sm_target_ensure(PGconn *conn, const sm_engine *eng, bool claim, sm_error *err);

/* ----------------------------------------------------------- fingerprints */

typedef struct sm_type_fp {
	const sm_aggregate *agg;   /* borrowed */
	sm_fingerprint fp;
	long long id;              /* in snapmig_fingerprints; 0: unknown there (no row matches) */
	bool failed;               /* the reducer could not be asked (read-only use only) */
	char error[1024];          /* ... and why */
} sm_type_fp;

/*
 * Computes the current fingerprint of each aggregate (asking external
 * reducers for their hello) and looks up their ids; with add, registers
 * the ones not known yet (sm_target_ensure must have run).  Without add, a
 * reducer that cannot be asked does not fail the call: its type gets id 0
 * (nothing of it is current) and failed set; with add it is an error.
 * *out: n entries (free with sm_type_fps_free).
 *
 * Leaves in the session, for the queries that follow:
 *   pg_temp.sm_fp(source_type, fp_id)  the current fingerprint ids;
 *   pg_temp.sm_gen                     when <target>.snapshots exists: the
 *       current generated rows, with the columns of <target>.snapshots.
 * sm_gen is the one definition of a current generated row: only rows whose
 * snapmig_rows entry has their type's current fingerprint (none at all
 * when the target has no snapmig_rows table yet).  Planning, inventory,
 * pre-flight and copy read generated rows through it.
 */
int sm_target_fingerprints(PGconn *conn, const sm_engine *eng,
			   const sm_aggregate *const *aggs, size_t n, bool add,
			   sm_type_fp **out, sm_error *err);
/* The same, for the external reducers whose hello the caller has already
 * read (a rebuild's planning handshakes, whose processes go on folding):
 * known[i] true takes hellos[i] (the aggregate's "fingerprint", NULL when
 * it reported none) instead of starting the reducer again.  known may be
 * NULL. */
int sm_target_fingerprints_known(PGconn *conn, const sm_engine *eng,
				 const sm_aggregate *const *aggs, size_t n, bool add,
				 const bool *known, const char *const *hellos,
				 sm_type_fp **out, sm_error *err);
void sm_type_fps_free(sm_type_fp *fps, size_t n);

/* Leaves the session tables of sm_target_fingerprints (pg_temp.sm_fp and
 * sm_gen) for fps, ids known already, on another connection of the same
 * operation (a rebuild worker's), without asking any reducer again. */
int sm_target_fingerprints_use(PGconn *conn, const sm_engine *eng, const sm_type_fp *fps,
			       size_t n, sm_error *err);

/* ------------------------------------------------------------------ lock */

enum sm_target_lock_mode {
	SM_LOCK_REBUILD,           /* R exclusive + K shared: the rebuild that plans */
	SM_LOCK_JOIN,              /* K shared: a rebuild that joins its plan (issue 21) */
	SM_LOCK_EXCLUSIVE,         /* K exclusive: copy, rollback, discard */
};

/* Takes the target's lock on conn (session level: held until
 * sm_target_unlock or the session ends) and records the holder.  Never
 * waits: SM_ERR_BUSY naming the holder when it is taken.  The side tables
 * must exist (sm_target_ensure). */
int sm_target_lock(PGconn *conn, const sm_engine *eng, enum sm_target_lock_mode mode,
		   const char *operation, sm_error *err);
/* Records the run id of the holder (0 = none), for others to see. */
void sm_target_lock_run(PGconn *conn, const sm_engine *eng, long long run_id);
void sm_target_unlock(PGconn *conn, const sm_engine *eng);

/* Who holds the lock now (out->busy false when nobody).  Read-only. */
int sm_target_activity(PGconn *conn, const sm_engine *eng, sm_activity *out, sm_error *err);

#endif
