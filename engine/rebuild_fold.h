/*
 * Internal: folding one instance with its reducer (engine/rebuild_fold.c),
 * as a state machine fed with the instance's start row and its events:
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
 * Every failure goes to the fold's sink and fails only this instance; a
 * negative return is an error that stops the caller.
 *
 * One fold serves three callers, so that they cannot fold differently:
 * the rebuild worker (rows from its COPY reader, results to its writer),
 * verify (the same rows; the start row brings the live snapshot to compare
 * with, the fold starts from the initial state and stops at that
 * snapshot's version: SUPERSEDED then means the live snapshot changed
 * after planning) and the offline fold of `snapmig fold` (rows made from
 * JSON lines).  The fold knows nothing of runs, connections or writers.
 *
 * A reducer in raw mode (an external one that asked for it, see
 * sm_reducer_raw) gets the stored bytes of the start snapshot's data and
 * of each event, unparsed (its application's serializer is the judge of
 * them), and gives the bytes to store.
 */
#ifndef SM_ENGINE_REBUILD_FOLD_H
#define SM_ENGINE_REBUILD_FOLD_H

#include <json-c/json.h>

#include "engine/pgcopy.h"
#include "engine/rebuild_internal.h"
#include "engine/reducer.h"
#include "util/json.h"

enum sm_fold_state {
	SM_FOLD_IDLE,              /* no instance */
	SM_FOLD_AWAIT_START,       /* its start row has not come */
	SM_FOLD_FOLDING,           /* the reducer has begun; events follow in order */
	SM_FOLD_FAILED,            /* a failure is recorded */
	SM_FOLD_SUPERSEDED,        /* the live snapshot is already current: nothing to write */
};

/* Where an instance's failure goes (the writer's list, verify's report). */
typedef struct sm_fold_sink {
	void (*fail)(void *ctx, const sm_instance *inst, enum sm_failure_kind kind,
		     long long version, const char *event_type, const char *message);
	void *ctx;
} sm_fold_sink;

/* What the fold is for, fixed by sm_fold_init. */
typedef struct sm_fold_params {
	const char *metadata_key;  /* the environment's */
	/* The state will be stored in a jsonb column that holds the JSON
	 * itself (not double-encoded), which cannot store a NUL character. */
	bool no_nul;
	/* verify: every instance starts from the initial state, and its start
	 * row carries the live snapshot to compare with (kept, see
	 * sm_fold_take_live) at version end_version. */
	bool verify;
} sm_fold_params;

/* An event as the fold reads it: data and metadata are the UTF-8 bytes
 * of JSON texts (meta NULL for SQL NULL), or for a reducer in raw mode the
 * columns as stored. */
typedef struct sm_event_bytes {
	const char *type;
	long long version;
	const char *data;
	size_t data_len;
	const char *meta;
	size_t meta_len;
	const char *created_at;    /* ISO 8601, or NULL */
	/* For raw mode: the events table's uuids as text (NULL when NULL or
	 * not known). */
	const char *event_id, *causation_id, *correlation_id;
} sm_event_bytes;

typedef struct sm_fold {
	/* The caller's, set by sm_fold_init. */
	sm_json_reader *json;
	sm_fold_sink sink;
	sm_fold_params params;
	/* The instance. */
	enum sm_fold_state state;
	const sm_instance *inst;
	const sm_aggregate *agg;
	sm_reducer *reducer;
	bool raw;                  /* the reducer folds stored bytes */
	long long skip_through;    /* events up to this version are in the start snapshot */
	long long next_version;    /* the event expected next */
	json_object *metadata;     /* the live snapshot's metadata (owned) */
	json_object *live;         /* verify: the live snapshot's data (owned) */
	long long events, events_reported;
} sm_fold;

void sm_fold_init(sm_fold *f, sm_json_reader *json, sm_fold_sink sink, const sm_fold_params *params);

/* Starts inst of aggregate agg (the previous instance must be finished or
 * dropped). */
void sm_fold_begin(sm_fold *f, const sm_instance *inst, const sm_aggregate *agg,
		   sm_reducer *reducer);

/* The instance's start row: the snapshot's source_version (has_version
 * false for SQL NULL), its data (NULL for SQL NULL) and metadata. */
int sm_fold_start(sm_fold *f, bool has_version, long long version, const char *data,
		  size_t data_len, const char *meta, size_t meta_len, sm_error *err);
/* One of its events. */
int sm_fold_event(sm_fold *f, const sm_event_bytes *ev, sm_error *err);

/* One row of the rebuild's COPY (kind SM_ROW_START or SM_ROW_EVENT):
 * decoded and handed to sm_fold_start or sm_fold_event. */
int sm_fold_row(sm_fold *f, const sm_pgcopy_row *row, sm_error *err);

/* What an instance gives: nothing (failed or already current), a state
 * (rules, JSON-mode reducers) or raw bytes (raw mode), with the metadata to
 * write.  The caller owns everything in it (sm_fold_result_clear). */
typedef struct sm_fold_result {
	json_object *state;
	unsigned char *raw;
	size_t raw_len;
	json_object *metadata;     /* NULL when there is nothing to write */
} sm_fold_result;

void sm_fold_result_clear(sm_fold_result *r);

/* Ends the instance: *out is the snapshot to write, if any. */
int sm_fold_finish(sm_fold *f, sm_fold_result *out, sm_error *err);

/* verify: the live snapshot's data of the instance just finished (caller
 * owns; NULL when its start row did not bring a readable one). */
json_object *sm_fold_take_live(sm_fold *f);

/* Drops the instance in flight without a result (a cancel or an error
 * stopped its chunk: the next run or the retry redoes it). */
void sm_fold_drop(sm_fold *f);

/* Events folded since the last call, when there are at least min of them
 * (0 otherwise): progress to report. */
long long sm_fold_take_events(sm_fold *f, long long min);

#endif
