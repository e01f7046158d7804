/*
 * Internal: the state of a rebuild run, shared by its coordinator thread
 * (rebuild.c: planning, journal, lifecycle) and its workers
 * (rebuild_worker.c: reading events, folding, writing batches).
 * Workers share only what is below the mutex and the cancel flag.
 */
#ifndef SM_ENGINE_REBUILD_INTERNAL_H
#define SM_ENGINE_REBUILD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <libpq-fe.h>

#include "engine/cancel.h"
#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/target.h"
#include "engine/store.h"

/* One aggregate instance to rebuild, fixed at planning time. */
typedef struct sm_instance {
	char *uuid;
	long long stream_id;
	long long start_version;   /* events after this are folded */
	long long end_version;     /* the stream's version at planning time */
	enum sm_start_kind start_kind;
	int type_index;            /* into sm_run.types */
	bool any_module_version;   /* verify: compare whatever module version the
	                              live snapshot has (an instance asked for by name) */
	long long module_version;  /* verify: the live snapshot's, at planning */
	/* Failed at planning: prefail_msg (static text) is not NULL, prefail
	 * says how. */
	const char *prefail_msg;
	enum sm_failure_kind prefail;
} sm_instance;

/* What a worker folds in one transaction: instances of the run's plan
 * (verify: a range of sm_run.inst) or of a claimed chunk of the work
 * table (rebuild: planned by the worker that claimed it). */
typedef struct sm_chunk {
	sm_instance *inst;         /* borrowed */
	size_t count;
} sm_chunk;

typedef struct sm_type_counters {
	const sm_aggregate *agg;
	/* An external reducer, as planned from its handshake: raw mode, and
	 * the process of that handshake, kept for the first worker that
	 * needs one ((L); NULL once taken or for rules). */
	bool raw;
	struct sm_reducer *ready;
	long long instances_planned, instances_done;
	long long events_planned, events_done;
	long long failures[SM_FAIL__COUNT];
	long long equal, different; /* verify's outcomes */
	/* A rebuild: events of this process's committed chunks; the whole
	 * plan's counts at the last poll (engine/work.h) and this process's
	 * own counts just before it (the rest is not in the poll yet). */
	long long events_committed;
	long long sh_instances_done, sh_events_done, sh_failures[SM_FAIL__COUNT];
	long long base_instances, base_events, base_failures[SM_FAIL__COUNT];
} sm_type_counters;

typedef struct sm_verify sm_verify;  /* engine/verify_internal.h */

struct sm_run {
	sm_engine *eng;
	pthread_t coordinator;
	bool joined;
	pthread_mutex_t lock;      /* guards everything below marked (L) */
	atomic_bool cancel;        /* stop: asked for, or after an error */
	atomic_bool user_cancel;   /* sm_run_cancel was called */
	/* Watches the connections in use (the coordinator's, each worker's
	 * reader and writer): sm_run_cancel interrupts whatever query they
	 * wait in.  It only interrupts: workers commit what they finished. */
	sm_cancel *stop;

	/* Options, copied. */
	char **uuids;
	size_t n_uuids;
	bool only_failed;
	int jobs;

	/* Store layout, read while planning. */
	sm_store_layout layout;
	sm_type_params type_params; /* of types, built at the start */
	/* The fingerprint of each of types (same order), registered in the
	 * target while planning: every row written gets its type's id, and
	 * every external reducer must report the planned hello. */
	sm_type_fp *fps;
	/* Holds the target's lock (engine/target.h) from planning until the
	 * outcome is journaled. */
	PGconn *lock_conn;

	/* Plan, immutable once the workers start. */
	sm_type_counters *types;   /* counters are (L) */
	size_t n_types;
	sm_instance *inst;
	size_t n_inst;
	sm_chunk *chunks;          /* verify; a rebuild's are in the work table */
	size_t n_chunks;           /* a rebuild: the plan's chunks */
	size_t next_chunk;         /* (L) */

	/* A rebuild's plan is shared work in the target (engine/work.h). */
	bool join;                 /* joined another run's plan */
	long long *plan_fp_ids;    /* join: the plan's fingerprint id of each type */
	long long plan_run_id;     /* whose chunks are claimed ((L) until planned) */
	bool shared_valid;         /* (L) polled at least once */
	long long chunks_total, chunks_done; /* (L) */
	sm_process_progress *procs;/* (L) */
	size_t n_procs;            /* (L) */
	atomic_int workers_left;   /* workers still running */

	enum sm_run_state state;   /* (L) */
	sm_error error;            /* (L) the first error that stopped the run */
	long long run_id;          /* (L) */
	double started;            /* sm_now() when it started */
	double finished_elapsed;   /* (L) elapsed at the end, < 0 while running */
	char *log_path;            /* external reducers' stderr, or NULL */
	sm_verify *verify;         /* a verify run (read-only): its report; NULL: a rebuild */
};

/* Worker thread body; arg is a struct sm_worker_arg. */
typedef struct sm_worker_arg {
	sm_run *run;
	int id;
	int rc;                    /* SM_OK or the error that stopped it */
	sm_error err;
} sm_worker_arg;

void *sm_rebuild_worker_main(void *arg);

/*
 * The parts of a run's life that rebuild and verify share (rebuild.c).
 */
/* A new run of the aggregates aggs (borrowed from the configuration), in
 * state PLANNING: jobs 0 = the environment's; uuids copied. */
sm_run *sm_run_new(sm_engine *eng, const sm_aggregate *const *aggs, size_t n_aggs, int jobs,
		   const char *const *uuids, size_t n_uuids);
/* Starts the run's coordinator thread main_fn(run); frees the run when it
 * cannot. */
int sm_run_launch(sm_run *run, void *(*main_fn)(void *), sm_error *err);
/* Prepares the planning session (sm_store_prepare_session) and reads the
 * store's layout into run->layout; an error when the source tables are
 * not there. */
int sm_run_read_layout(sm_run *run, PGconn *conn, sm_error *err);
/* A new entry of run->inst from a planning row whose first columns are
 * uuid, type, stream_id and missing (a missing stream fails it at once);
 * *cap: run->inst's capacity.  The caller fills the rest. */
sm_instance *sm_run_add_instance(sm_run *run, const PGresult *res, size_t *cap);
/* Reads the plan's rows one at a time (single-row mode: with millions of
 * aggregates the whole result would cost more memory than the plan),
 * calling add for each (row 0 of a one-row result; *cap: run->inst's
 * capacity for sm_xgrow), then, when all were read, cuts the chunks
 * (sm_run_cut_chunks). */
int sm_run_read_plan(sm_run *run, PGconn *conn, const char *sql, const char *const *params,
		     int nparams, void (*add)(sm_run *run, const PGresult *row, size_t *cap),
		     sm_error *err);
/* The external reducers' handshakes before planning (rebuild.c): raw mode
 * per type (run->types[i].raw), the application's snapshot_version checked;
 * each process kept for the first worker (run->types[i].ready). */
int sm_run_handshakes(sm_run *run, sm_error *err);
/* Closes the handshake processes no worker took. */
void sm_run_close_ready(sm_run *run);
/* One row of a chunk's planning query (engine/work.c)
 * into *x: columns source_uuid, source_type, stream_id, missing, mv,
 * start_version, end_version, sk. */
void sm_run_parse_instance(const sm_run *run, const PGresult *res, int row, sm_instance *x);
/* Orders the planned instances (most events first), counts them per type
 * and cuts them into chunks. */
void sm_run_cut_chunks(sm_run *run);
/* Starts one worker per chunk up to jobs and waits for them all. */
void sm_run_workers(sm_run *run);
void sm_run_set_state(sm_run *run, enum sm_run_state s);
/* How the run ended, and the journal's word for it. */
enum sm_run_state sm_run_final_state(sm_run *run, const char **outcome);
/* The run is over: its final state and elapsed time are fixed. */
void sm_run_end(sm_run *run, enum sm_run_state final);
/* Where external reducers' stderr goes: <env>-<name>.log under
 * $XDG_STATE_HOME/snapmig (default ~/.local/state/snapmig), or NULL when no
 * type of the run has one or the directory cannot be made. */
char *sm_run_log_path(const sm_run *run, const char *name);

/* Records a fatal error (the first one wins) and asks everyone to stop. */
void sm_run_fail(sm_run *run, const sm_error *err);

double sm_run_elapsed(const sm_run *run);

#endif
