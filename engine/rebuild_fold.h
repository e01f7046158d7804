/*
 * Internal: folding one planned instance from the rows of its chunk
 * (engine/rebuild_fold.c), as a state machine:
 *
 *   AWAIT_START --start row--> FOLDING --event rows--> FOLDING
 *        |                        |
 *        |                        +--bad event, reducer failure--> FAILED
 *        +--start row unusable, or an event first--> FAILED
 *        +--start row: a live snapshot at or past the planned end--> SUPERSEDED
 *
 * FAILED and SUPERSEDED skip the rest of the instance's rows.  Finishing
 * a FOLDING instance checks that no event was missing and ends the reducer;
 * finishing one still in AWAIT_START records that its snapshot is gone.
 * Every failure goes to the writer's list (sm_writer_fail) and fails only
 * this instance; a negative return is an error that stops the worker.
 */
#ifndef SM_ENGINE_REBUILD_FOLD_H
#define SM_ENGINE_REBUILD_FOLD_H

#include <json-c/json.h>

#include "engine/pgcopy.h"
#include "engine/rebuild_internal.h"
#include "engine/rebuild_write.h"
#include "engine/reducer.h"
#include "util/json.h"

enum sm_fold_state {
	SM_FOLD_IDLE,              /* no instance */
	SM_FOLD_AWAIT_START,       /* its start row has not come */
	SM_FOLD_FOLDING,           /* the reducer has begun; events follow in order */
	SM_FOLD_FAILED,            /* a failure is recorded */
	SM_FOLD_SUPERSEDED,        /* the live snapshot is already current: nothing to write */
};

typedef struct sm_fold {
	/* The worker's, set by sm_fold_init. */
	const sm_run *run;
	sm_json_reader *json;
	sm_writer *out;
	/* The instance. */
	enum sm_fold_state state;
	const sm_instance *inst;
	sm_reducer *reducer;
	long long skip_through;    /* events up to this version are in the start snapshot */
	long long next_version;    /* the event expected next */
	json_object *metadata;     /* the live snapshot's metadata (owned) */
	long long events, events_reported;
} sm_fold;

void sm_fold_init(sm_fold *f, const sm_run *run, sm_json_reader *json, sm_writer *out);

/* Starts inst (the previous instance must be finished or dropped). */
void sm_fold_begin(sm_fold *f, const sm_instance *inst, sm_reducer *reducer);

/* One row of the instance (kind SM_ROW_START or SM_ROW_EVENT). */
int sm_fold_row(sm_fold *f, const sm_pgcopy_row *row, sm_error *err);

/* Ends the instance: *state and *metadata (caller owns, NULL when there
 * is nothing to write) are the snapshot to write. */
int sm_fold_finish(sm_fold *f, json_object **state, json_object **metadata, sm_error *err);

/* Drops the instance in flight without a result (a cancel or an error
 * stopped its chunk: the next run or the retry redoes it). */
void sm_fold_drop(sm_fold *f);

/* Events folded since the last call, when there are at least min of them
 * (0 otherwise): progress to report. */
long long sm_fold_take_events(sm_fold *f, long long min);

#endif
