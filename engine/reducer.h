/*
 * Internal: one reducer per engine worker and aggregate type, hiding whether
 * events are folded by the compiled rules (config/rules.h) or by an external
 * program (engine/reducer_exec.c, protocol in man/snapmig-reducer.7).
 *
 * Per aggregate instance the worker calls begin, event for each event in
 * order, then end.  Each returns an sm_reduce_status: SM_OK; an instance
 * failure (unknown event, no match, reducer error ...) is reported through
 * sm_reduce_failure and returns SM_REDUCE_FAILED, after which the worker
 * calls sm_reducer_abort and goes on with the next instance; a negative
 * return is an error that stops the worker (err filled).
 */
#ifndef SM_ENGINE_REDUCER_H
#define SM_ENGINE_REDUCER_H

#include <json-c/json.h>

#include "config/snapmig_conf.h"
#include "config/rules.h"
#include "engine/snapmig.h"

typedef struct sm_reduce_failure {
	enum sm_failure_kind kind;
	long long version;         /* stream_version of the event, 0 when none */
	char event_type[512];      /* "" when none */
	char message[1024];
} sm_reduce_failure;

enum sm_reduce_status {
	SM_REDUCE_OK = SM_OK,
	SM_REDUCE_FAILED = 1,      /* this instance failed: see sm_reduce_failure */
	/* negative: an sm_error code */
};

/* Fills fail (event_type NULL: none) and returns SM_REDUCE_FAILED. */
int sm_reduce_fail(sm_reduce_failure *fail, enum sm_failure_kind kind, long long version,
		   const char *event_type, const char *message);

typedef struct sm_reducer sm_reducer;

/* An event as stored, for an external reducer in raw mode
 * (snapmig-reducer(7)): its columns' bytes as the application's
 * EventStore reads them, and the fields Commanded gives upcasters. */
typedef struct sm_raw_event {
	const char *type;          /* event_type */
	long long version;         /* stream_version in the aggregate's stream */
	const char *event_id;      /* uuid text; causation and correlation NULL when SQL NULL */
	const char *causation_id;
	const char *correlation_id;
	const char *created_at;    /* ISO 8601 UTC with microseconds, or NULL */
	const unsigned char *data; /* the data column as stored */
	size_t data_len;
	const unsigned char *metadata; /* NULL when SQL NULL */
	size_t metadata_len;
} sm_raw_event;

/* worker_id is used for the exec reducer's log lines; log_path may be NULL. */
int sm_reducer_open(const sm_config *cfg, const sm_aggregate *agg, int worker_id,
		    const char *log_path, sm_reducer **out, sm_error *err);
void sm_reducer_close(sm_reducer *r);

/* A long wait inside the reducer (an external program working through
 * queued events) polls cancelled(arg) and gives up with SM_ERR_CANCELLED
 * when it returns true.  The rules reducer never waits. */
void sm_reducer_set_cancel(sm_reducer *r, bool (*cancelled)(void *arg), void *arg);

/* An external reducer must report this hello "fingerprint" (NULL: none)
 * at every start, or begin fails and stops the run (sm_exec_expect_
 * fingerprint).  Nothing for the rules. */
void sm_reducer_expect_fingerprint(sm_reducer *r, const char *hello);

/* start_state: the state to continue from (borrowed; the reducer copies what
 * it keeps), or NULL to start from the initial state.  For the rules
 * reducer a start state is read as Commanded decodes a snapshot into the
 * struct: the initial state's keys, with the snapshot's values where present
 * (keys the struct does not have are dropped). */
int sm_reducer_begin(sm_reducer *r, const char *stream_uuid,
		     json_object *start_state, long long start_version,
		     sm_reduce_failure *fail, sm_error *err);
int sm_reducer_event(sm_reducer *r, const sm_event_view *ev,
		     sm_reduce_failure *fail, sm_error *err);
/* What the reducer reads of an event of event_type, so that the worker
 * builds only that of its data and metadata (borrowed, valid while the
 * reducer is open).  An external program gets every event whole; the
 * rules read what their entries name (sm_rules_reads), and nothing of a
 * type they do not handle (the event then fails its instance as unknown,
 * after its data was checked as always). */
const sm_event_reads *sm_reducer_reads(const sm_reducer *r, const char *event_type);

/* verify: the JSON a raw-mode reducer's bytes hold, as reading them back
 * from the store gives it (a JSON string holding JSON text is unwrapped,
 * as every read of a double-encoded jsonb column does); NULL when they are
 * not JSON.  Caller owns it. */
json_object *sm_reducer_raw_json(const unsigned char *raw, size_t len);

/* The initial state (caller owns), between instances: the rules' `initial`;
 * an external reducer's fold of no events (begin from the initial state,
 * end), for the instance stream_uuid; a raw-mode one's bytes as JSON
 * (sm_reducer_raw_json), NULL when they are none. */
int sm_reducer_initial(sm_reducer *r, const char *stream_uuid, json_object **state_out,
		       sm_reduce_failure *fail, sm_error *err);

/* Commanded's decoding of a snapshot's data into the aggregate's struct
 * (Kernel.struct/2): the keys of initial, each with the snapshot's value
 * when it has the key, else initial's; keys initial lacks are dropped.
 * Both objects, borrowed; a new object (caller owns). */
json_object *sm_struct_decode(json_object *initial, json_object *snapshot);

/* *state_out: the final state (caller owns). */
int sm_reducer_end(sm_reducer *r, json_object **state_out,
		   sm_reduce_failure *fail, sm_error *err);
void sm_reducer_abort(sm_reducer *r);

/* The external reducer of r, or NULL for rules (to set it up: columns,
 * expectations). */
struct sm_exec_proc *sm_reducer_exec(sm_reducer *r);

/* Starts an external reducer's process now (a no-op for rules): 0,
 * SM_REDUCE_FAILED (fail filled: it could not start, or gave up) or
 * negative. */
int sm_reducer_start(sm_reducer *r, sm_reduce_failure *fail, sm_error *err);

/* Whether r folds stored bytes (an external reducer in raw mode); then
 * the _raw calls below replace begin, event and end.  start: the start
 * snapshot's data column as stored, NULL for the initial state;
 * *state_out: the bytes to store (caller frees). */
bool sm_reducer_raw(const sm_reducer *r);
int sm_reducer_begin_raw(sm_reducer *r, const char *stream_uuid, const unsigned char *start,
			 size_t start_len, long long start_version, sm_reduce_failure *fail,
			 sm_error *err);
int sm_reducer_event_raw(sm_reducer *r, const sm_raw_event *ev, sm_reduce_failure *fail,
			 sm_error *err);
int sm_reducer_end_raw(sm_reducer *r, unsigned char **state_out, size_t *len,
		       sm_reduce_failure *fail, sm_error *err);

/* For the pre-flight: the event types the reducer of agg handles.  Sets
 * *any when it handles every type (an exec reducer answering "any").
 * *types is owned by the caller (free each and the array). */
int sm_reducer_known_types(const sm_config *cfg, const sm_aggregate *agg,
			   char ***types, size_t *n, bool *any, sm_error *err);

#endif
