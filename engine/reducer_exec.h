/*
 * Internal: the external reducer.  An aggregate configured with
 * `reducer = { exec = "COMMAND"; }` is folded by a long-lived program of the
 * user's own, one process per engine worker and aggregate type, spoken to
 * over stdin/stdout in JSON lines (protocol version 1, documented in
 * man/snapmig-reducer.7).
 *
 * The functions mirror engine/reducer.h and return the same
 * sm_reduce_status: SM_OK; SM_REDUCE_FAILED, this instance failed (fail
 * filled: kind, version, event_type, message); negative, an error that
 * stops the worker (err filled).  A reducer process that exits, writes something that is not
 * protocol or exceeds its timeout fails only the instance it was working on
 * (SM_FAIL_REDUCER); it is restarted with back-off at the next begin, and
 * after SM_EXEC_MAX_CRASHES such failures in a row every later begin fails
 * at once with a message saying why.
 *
 * Events are streamed in bounded chunks (nothing holds a whole stream in
 * memory); the reply of an instance is read at end, or earlier when the
 * reducer reports an error before the end.  SIGPIPE: every write to a
 * reducer blocks SIGPIPE in the calling thread and consumes the signal it
 * caused, so a reducer that dies never kills snapmig, whatever the
 * program's own SIGPIPE disposition.
 *
 * An sm_exec_proc belongs to one thread at a time.
 */
#ifndef SM_ENGINE_REDUCER_EXEC_H
#define SM_ENGINE_REDUCER_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config/snapmig_conf.h"
#include "engine/reducer.h"

#define SM_EXEC_PROTOCOL 1
#define SM_EXEC_MAX_CRASHES 5

typedef struct sm_exec_proc sm_exec_proc;
typedef struct sm_exec_hello sm_exec_hello;
typedef struct sm_exec_types_reply sm_exec_types_reply;

/* Prepares a reducer for agg (which must have agg->exec); the process is
 * started by the first begin.  log_path: stderr lines of the reducer are
 * appended there prefixed with the worker id (NULL = discarded).
 * Negative only for errors of the arguments or the log file. */
int sm_exec_open(const sm_config *cfg, const sm_aggregate *agg, int worker_id,
		 const char *log_path, sm_exec_proc **out, sm_error *err);

/* The source store's column types, announced in the hello ("columns") so
 * that a raw-mode reducer reads the stored bytes as its application does.
 * Before the process starts; not called: not announced. */
void sm_exec_set_columns(sm_exec_proc *p, enum sm_column_type data, enum sm_column_type metadata);

/* Starts the process and does the handshake now (begin does it when
 * needed): 0, SM_REDUCE_FAILED (fail filled) or negative. */
int sm_exec_start(sm_exec_proc *p, sm_reduce_failure *fail, sm_error *err);

/* The last handshake's hello while the process runs (borrowed), else NULL. */
const sm_exec_hello *sm_exec_handshake(const sm_exec_proc *p);

/* Whether it folds in raw mode: as planned (sm_exec_expect_mode), else as
 * the running process asked in its hello (false before it started). */
bool sm_exec_raw(const sm_exec_proc *p);

/* Every handshake from now on (also after a restart) must ask for raw
 * mode exactly when raw, and report no snapshot_version but snapmig.conf's
 * (a reducer that reports none is not checked): what the run was planned
 * with.  Otherwise begin fails with a negative status that stops the run
 * (SM_ERR_CONFIG for the version, SM_ERR_DATA for the mode). */
void sm_exec_expect_mode(sm_exec_proc *p, bool raw);

/* Closes the reducer's stdin, waits up to 2 s for it to exit, then kills its
 * process group; always reaps.  NULL is fine. */
void sm_exec_close(sm_exec_proc *p);

/* Optional: a function polled (every 100 ms at most) while a call waits for
 * the reducer; when it returns true the call gives up with SM_ERR_CANCELLED
 * and the process is stopped (not counted as a crash). */
void sm_exec_set_cancel(sm_exec_proc *p, bool (*cancelled)(void *arg), void *arg);

/* start_state: borrowed, NULL = the initial state; start_version: the
 * stream_version already folded into start_state (0 for initial). */
int sm_exec_begin(sm_exec_proc *p, const char *stream_uuid, json_object *start_state,
		  long long start_version, sm_reduce_failure *fail, sm_error *err);
int sm_exec_event(sm_exec_proc *p, const sm_event_view *ev,
		  sm_reduce_failure *fail, sm_error *err);
/* *state_out: the final state, a JSON object (caller owns). */
int sm_exec_end(sm_exec_proc *p, json_object **state_out,
		sm_reduce_failure *fail, sm_error *err);

/* The same in raw mode (sm_exec_raw): the start snapshot's data column
 * as stored (NULL: the initial state), the events' stored columns, and
 * the final state as the bytes to store (caller frees; a NUL follows
 * them, not counted in *len).  These bytes are not checked here. */
int sm_exec_begin_raw(sm_exec_proc *p, const char *stream_uuid, const unsigned char *start,
		      size_t start_len, long long start_version, sm_reduce_failure *fail,
		      sm_error *err);
int sm_exec_event_raw(sm_exec_proc *p, const sm_raw_event *ev, sm_reduce_failure *fail,
		      sm_error *err);
int sm_exec_end_raw(sm_exec_proc *p, unsigned char **state_out, size_t *len,
		    sm_reduce_failure *fail, sm_error *err);
/* Ends the current instance without a result (after a failure, or when the
 * worker stops).  Never blocks. */
void sm_exec_abort(sm_exec_proc *p);

/* For fingerprints (engine/fingerprint.h): starts the reducer, reads its
 * handshake and stops it.  *fingerprint: the "fingerprint" it reports for
 * agg->type (caller frees), NULL when it reports none.  Errors as for
 * sm_exec_known_types. */
int sm_exec_fingerprint(const sm_config *cfg, const sm_aggregate *agg, char **fingerprint,
			sm_error *err);

/* Every handshake from now on (also after a restart) must report this
 * "fingerprint" (NULL: none): the one the run was planned with.  A reducer
 * reporting another has changed since, and its rows would carry the wrong
 * fingerprint: begin then fails with a negative status (err says so),
 * which stops the run. */
void sm_exec_expect_fingerprint(sm_exec_proc *p, const char *fingerprint);

/* Starts the reducer, reads its handshake and stops it: *out is its hello
 * for agg->type (free with sm_exec_hello_clear).  data, metadata: the
 * column types to announce (MISSING: none).  Errors as for
 * sm_exec_known_types. */
int sm_exec_describe(const sm_config *cfg, const sm_aggregate *agg, enum sm_column_type data,
		     enum sm_column_type metadata, sm_exec_hello *out, sm_error *err);

/* For the pre-flight: sm_exec_describe, then, when the hello says it
 * answers them, a "types" request with the event types the store holds
 * for agg's streams: *reply lists those it cannot fold (empty when it
 * does not answer types requests; free with sm_exec_types_reply_clear). */
int sm_exec_check_types(const sm_config *cfg, const sm_aggregate *agg, enum sm_column_type data,
			enum sm_column_type metadata, const char *const *types, size_t n,
			sm_exec_hello *hello, sm_exec_types_reply *reply, sm_error *err);

/* For the pre-flight: starts the reducer, reads its handshake and stops it.
 * *types: the event types it knows for agg->type (caller frees each and
 * the array, which has a NULL after the last); *any: it handles any type.
 * SM_ERR_CONFIG when the reducer does not handle agg->type or speaks
 * another protocol version, SM_ERR_IO when it cannot be started or does
 * not answer. */
int sm_exec_known_types(const sm_config *cfg, const sm_aggregate *agg, char ***types,
			size_t *n, bool *any, sm_error *err);

/*
 * The protocol's lines judged without a process (engine/reducer_proto.c;
 * also the fuzz target tests/fuzz_protocol.c).  line: len bytes as the
 * reducer wrote them, without the newline, not NUL-terminated.  Each
 * returns an sm_exec_verdict; why gets a one-line reason for every one but
 * SM_EXEC_REPLY and SM_EXEC_STALE.
 */
enum sm_exec_verdict {
	SM_EXEC_REPLY = SM_OK,      /* a well-formed message */
	SM_EXEC_NOT_PROTOCOL = 1,   /* not a protocol message: a crash */
	SM_EXEC_STALE = 2,          /* a reply to an earlier instance: dropped */
	SM_EXEC_CRASH = 3,          /* a hello that is wrong: a crash */
	SM_EXEC_GIVE_UP = 4,        /* a hello that can never work: give up */
};

struct sm_exec_hello {
	bool any;                   /* "events": "any" */
	char **types;               /* the listed event types, NULL after the last */
	size_t n_types;
	char *fingerprint;          /* the aggregate's "fingerprint", NULL when none */
	/* The additions of notes/protocol-ext (snapmig-reducer(7)): */
	bool raw;                   /* "raw": true: stored bytes in and out */
	bool types_request;         /* "types": true: it answers "types" requests */
	bool has_version;           /* the aggregate's "snapshot_version" ... */
	long long snapshot_version; /* ... as the application configures it */
	char *reducer;              /* "reducer" (free text), NULL when none */
};

/* The longest "fingerprint" a reducer may report (snapmig-reducer(7)). */
#define SM_EXEC_MAX_FINGERPRINT 256

/* The handshake reply for aggregate agg_type.  SM_OK: *out filled (free
 * with sm_exec_hello_clear); otherwise *out is empty and the result is
 * SM_EXEC_NOT_PROTOCOL, SM_EXEC_CRASH or SM_EXEC_GIVE_UP. */
int sm_exec_parse_hello(const char *line, size_t len, const char *agg_type,
			sm_exec_hello *out, char *why, size_t size);
void sm_exec_hello_clear(sm_exec_hello *h);

/* A reply while instance cur_id is open: SM_OK with *reply (caller owns;
 * op "state" or "error", id cur_id), SM_EXEC_STALE, or
 * SM_EXEC_NOT_PROTOCOL. */
int sm_exec_parse_reply(const char *line, size_t len, long long cur_id, json_object **reply,
			char *why, size_t size);
/* For a reply of sm_exec_parse_reply: op "error". */
bool sm_exec_reply_is_error(json_object *reply);
/* An error reply into fail (kind, version, event_type, message). */
void sm_exec_reply_failure(json_object *reply, sm_reduce_failure *fail);
/* The "state" of a state reply when it is a JSON object (borrowed), else
 * NULL. */
json_object *sm_exec_reply_state(json_object *reply);
/* The "state_raw" of a state reply (raw mode), decoded: the bytes (caller
 * frees; a NUL follows them, not counted in *n), or NULL when it is
 * missing or not base64. */
unsigned char *sm_exec_reply_state_raw(json_object *reply, size_t *n);

/* One event type of a "types" reply that the reducer cannot fold. */
typedef struct sm_exec_unknown_type {
	char *type;
	enum sm_failure_kind kind;  /* unknown_event, or reducer_error for "error" */
	char *message;
} sm_exec_unknown_type;

struct sm_exec_types_reply {
	sm_exec_unknown_type *unknown;
	size_t n_unknown;
};

/* The reply to {"op":"types","id":id,...}: SM_EXEC_REPLY with *out (free
 * with sm_exec_types_reply_clear), or SM_EXEC_NOT_PROTOCOL.  A reply with
 * "error" (the reducer could not answer) is SM_EXEC_CRASH with why. */
int sm_exec_parse_types_reply(const char *line, size_t len, long long id,
			      sm_exec_types_reply *out, char *why, size_t size);
void sm_exec_types_reply_clear(sm_exec_types_reply *r);

/*
 * Handshakes of several reducers at once (engine/reducer_info.c), for the
 * pre-flight and the reducers' descriptions.
 */
typedef struct sm_reducer_check {
	const sm_aggregate *agg;   /* in: an aggregate with an external reducer */
	const char *const *types;  /* in: event types to ask about (n_types 0: none) */
	size_t n_types;
	int rc;                    /* out: sm_exec_check_types's */
	sm_error err;
	sm_exec_hello hello;
	sm_exec_types_reply reply;
} sm_reducer_check;

/* Runs sm_exec_check_types for each check, each on a thread of its own. */
void sm_reducer_checks_run(const sm_config *cfg, enum sm_column_type data,
			   enum sm_column_type metadata, sm_reducer_check *checks, size_t n);
void sm_reducer_check_clear(sm_reducer_check *c);
/* A public description of agg's reducer from its check (NULL for rules). */
void sm_reducer_desc_fill(sm_reducer_desc *d, const sm_aggregate *agg, const sm_reducer_check *c);
void sm_reducer_desc_clear(sm_reducer_desc *d);

/* A printable excerpt of a line for messages (at most 80 bytes, cut at a
 * UTF-8 boundary, control characters as '?', "..." when cut). */
void sm_exec_excerpt(const char *line, size_t len, char *buf, size_t size);

#endif
