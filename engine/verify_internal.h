/*
 * Internal: the verify side of a run (engine/verify.c).
 *
 * A verify run is an sm_run (rebuild_internal.h) whose plan starts every
 * instance from the initial state and ends at the version of its live
 * snapshot.  Its workers are the rebuild's: the same reader streams the
 * same rows (the start row brings the live snapshot), the same fold folds
 * them (rebuild_fold.h, params.verify).  Where a rebuild worker hands the
 * results to its writer, a verify worker hands them to a batch, which
 * compares each fold with its live snapshot and, at the end of the chunk,
 * adds the outcomes to the run's report under the run's lock, as the
 * writer's commit adds its counts: a chunk that is redone after a lost
 * connection counts once.  Nothing is ever written to the database.
 */
#ifndef SM_ENGINE_VERIFY_INTERNAL_H
#define SM_ENGINE_VERIFY_INTERNAL_H

#include <json-c/json.h>

#include "engine/rebuild_internal.h"

typedef struct sm_verify_result sm_verify_result;  /* one instance's outcome */

/* The outcomes of one chunk, not yet in the report. */
typedef struct sm_verify_batch {
	sm_run *run;
	sm_verify_result *items;
	size_t n, cap;
} sm_verify_batch;

void sm_verify_batch_init(sm_verify_batch *b, sm_run *run);
void sm_verify_batch_free(sm_verify_batch *b);

/* inst failed (the fold's sink; also instances failed at planning). */
void sm_verify_batch_fail(sm_verify_batch *b, const sm_instance *inst, enum sm_failure_kind kind,
			  long long version, const char *event_type, const char *message);
/* inst's live snapshot changed after planning: not compared. */
void sm_verify_batch_skip(sm_verify_batch *b, const sm_instance *inst);
/* Compares the fold's state with the live snapshot, decoded as Commanded
 * decodes it into the struct whose defaults are initial (NULL: as it is).
 * All borrowed. */
void sm_verify_batch_compare(sm_verify_batch *b, const sm_instance *inst, json_object *initial,
			     json_object *live, json_object *state);

/* A verify run's own part (its options and report); NULL is fine. */
void sm_verify_free(sm_verify *v);

/* Adds the batch's outcomes to the report and the run's counters, then
 * empties it. */
void sm_verify_batch_commit(sm_verify_batch *b);
/* Empties it without a trace (the chunk is redone). */
void sm_verify_batch_discard(sm_verify_batch *b);

#endif
