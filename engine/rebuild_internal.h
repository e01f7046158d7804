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

#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/store.h"

/* One aggregate instance to rebuild, fixed at planning time. */
typedef struct sm_instance {
	char *uuid;
	long long stream_id;
	long long start_version;   /* events after this are folded */
	long long end_version;     /* the stream's version at planning time */
	enum sm_start_kind start_kind;
	int type_index;            /* into sm_run.types */
	/* Failed at planning: prefail_msg (static text) is not NULL, prefail
	 * says how. */
	const char *prefail_msg;
	enum sm_failure_kind prefail;
} sm_instance;

typedef struct sm_chunk {
	size_t first, count;       /* a range of sm_run.inst */
} sm_chunk;

typedef struct sm_type_counters {
	const sm_aggregate *agg;
	long long instances_planned, instances_done;
	long long events_planned, events_done;
	long long failures[SM_FAIL__COUNT];
} sm_type_counters;

struct sm_run {
	sm_engine *eng;
	pthread_t coordinator;
	bool joined;
	pthread_mutex_t lock;      /* guards everything below marked (L) */
	atomic_bool cancel;        /* stop: asked for, or after an error */
	atomic_bool user_cancel;   /* sm_run_cancel was called */
	/* (L) Cancel handles of the connections in use: slot 0 the
	 * coordinator's, 2*id-1 and 2*id worker id's reader and writer.
	 * sm_run_cancel interrupts whatever query they are waiting in. */
	PGcancel *cancels[2 * SM_MAX_JOBS + 1];

	/* Options, copied. */
	char **uuids;
	size_t n_uuids;
	bool only_failed;
	int jobs;

	/* Store layout, read while planning. */
	sm_store_layout layout;
	sm_type_params type_params; /* of types, built at the start */

	/* Plan, immutable once the workers start. */
	sm_type_counters *types;   /* counters are (L) */
	size_t n_types;
	sm_instance *inst;
	size_t n_inst;
	sm_chunk *chunks;
	size_t n_chunks;
	size_t next_chunk;         /* (L) */

	enum sm_run_state state;   /* (L) */
	sm_error error;            /* (L) the first error that stopped the run */
	long long run_id;          /* (L) */
	struct timespec started;
	double finished_elapsed;   /* (L) elapsed at the end, < 0 while running */
	char *log_path;            /* external reducers' stderr, or NULL */
};

/* Registers conn (NULL: none) as the connection of slot, so that a cancel
 * interrupts a query blocked on it (a lock, a slow server). */
void sm_run_watch_conn(sm_run *run, int slot, PGconn *conn);

/* Worker thread body; arg is a struct sm_worker_arg. */
typedef struct sm_worker_arg {
	sm_run *run;
	int id;
	int rc;                    /* SM_OK or the error that stopped it */
	sm_error err;
} sm_worker_arg;

void *sm_rebuild_worker_main(void *arg);

/* Records a fatal error (the first one wins) and asks everyone to stop. */
void sm_run_fail(sm_run *run, const sm_error *err);

double sm_run_elapsed(const sm_run *run);

#endif
