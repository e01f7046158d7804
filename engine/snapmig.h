/*
 * snapmig engine: the public API used by the UI and the command line.
 *
 * The engine does all database and rebuild work and never prints, never
 * touches the terminal, never exits.  An sm_engine is one environment of a
 * loaded configuration; it is immutable after sm_engine_open and every
 * operation opens its own connection(s), so operations may run concurrently
 * from several threads (the UI runs the synchronous ones on a thread of its
 * own and polls).  Every call that can block takes an sm_cancel token (NULL:
 * not cancellable) that interrupts it from another thread.
 *
 * Threads: a rebuild runs on the engine's own threads (start it, poll its
 * progress, cancel it, wait for it); they are the only threads the engine
 * creates, and they block SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH, so
 * that those signals reach the caller's threads only.
 *
 * Ownership: every *_free takes what the matching call returned; strings in
 * returned structs belong to the struct.
 *
 * Where each rule lives (one place each; STYLE.md says why):
 *  - store layout, JSON encodings and their SQL: engine/store.h (sm_store_layout)
 *  - what a rebuild starts from (inventory, pre-flight, plan): engine/db.h sm_db_instances_sql
 *  - copy guards: SM_COPY_GUARDS below (names, JSON keys, --force options, help)
 *  - failure kinds: SM_FAILURE_KINDS below (names, JSON keys, help)
 *  - job limit: SM_MAX_JOBS in config/snapmig_conf.h
 *  - cancel tokens: sm_cancel below; how they reach connections: engine/cancel.h, db.c sm_db_wait
 *  - the engine's threads and signal mask: sm_rebuild_start (rebuild.c sm_run_launch)
 *  - binary COPY bytes from the server: engine/pgcopy.h (pure, fuzzed)
 *  - folding an instance: engine/rebuild_fold.h (state machine); writing: engine/rebuild_write.h
 *  - external reducers' protocol: engine/reducer_proto.c (pure, fuzzed), engine/reducer_exec.h
 *  - fingerprints of generated rows: engine/fingerprint.h
 *  - target ownership, side tables and the per-target lock: engine/target.h
 *  - monotonic clock: util/clock.h; counts and durations for people: util/format.h
 *  - the run journal: engine/db.h sm_db_journal_* (details text, SM_DB_UTC_TEXT for times)
 *  - JSON text's grammar (numbers, escapes, UTF-8), for the JSON parser and the rules'
 *    lexer: util/json.h sm_json_number_scan, sm_json_unicode_escape, sm_json_escape_byte
 *  - the rules' statements, path roots and functions: config/rules_internal.h
 *    (RL_WORD_STMTS, RL_ROOTS, RL_FUNCTIONS); configuration keys: config/config_load.c
 */
#ifndef SNAPMIG_H
#define SNAPMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/snapmig_conf.h"
#include "util/error.h"

/* ---------------------------------------------------------- cancellation */

/*
 * A cancel token.  A blocking call given one registers the connection it
 * works on with it (as psql's SetCancelConn does), so that
 * sm_cancel_request, from any other thread, makes the call return
 * SM_ERR_CANCELLED soon: a query or a wait for a lock is cancelled by the
 * server, a connection attempt is abandoned within about 100 ms, and no
 * further statement starts.  What the call would have written is not
 * written (its writes are one transaction).  A token may serve several
 * calls, also at once; once requested it stays so until sm_cancel_reset.
 * Not from a signal handler (set a flag there and request from a thread).
 */
typedef struct sm_cancel sm_cancel;

sm_cancel *sm_cancel_new(void);
void sm_cancel_free(sm_cancel *c);      /* no call may still use it */
void sm_cancel_request(sm_cancel *c);   /* NULL is fine */
bool sm_cancel_requested(const sm_cancel *c);
void sm_cancel_reset(sm_cancel *c);     /* for the next call */

/* ---------------------------------------------------------------- engine */

typedef struct sm_engine sm_engine;

/*
 * Resolves env_name in cfg, builds the effective conninfo (password from
 * password_env when set) and checks that the server can be reached.
 * cfg must outlive the engine.  SM_ERR_USAGE for an unknown environment,
 * SM_ERR_DB when the connection fails (message from libpq plus what to check;
 * never the password).
 */
int sm_engine_open(const sm_config *cfg, const char *env_name, sm_cancel *cancel,
		   sm_engine **out, sm_error *err);
void sm_engine_close(sm_engine *eng);

const sm_environment *sm_engine_env(const sm_engine *eng);
const sm_config *sm_engine_config(const sm_engine *eng);

/* "host=db1 port=5432 dbname=es user=app" with any password replaced by
 * "********"; caller frees. */
char *sm_conninfo_masked(const char *conninfo);

/* Where the environment's connection went, for display: "db1:5432/es",
 * from libpq (PQhost/PQport/PQdb) when sm_engine_open connected, so
 * service files and PG* variables count; a Unix socket shows as its
 * directory ("/run/postgresql:5432/es").  Caller frees. */
char *sm_engine_describe(const sm_engine *eng);

/* -------------------------------------------------------------- activity */

/* An operation holding the target schema (one at a time per target:
 * rebuild, copy, rollback, discard).  Another one is refused at once with
 * SM_ERR_BUSY naming it. */
typedef struct sm_activity {
	bool busy;                 /* false: nothing runs; the rest is empty */
	char operation[32];        /* "rebuild", "copy", "rollback", "discard"; "" unknown */
	char environment[128];
	char host[256];
	long pid;                  /* of the snapmig process; 0 when unknown */
	char os_user[64];
	char started_at[32];       /* ISO 8601 UTC */
	long long run_id;          /* its journal id, 0 when none yet */
	int backend_pid;           /* the server session that holds the lock */
} sm_activity;

/* "rebuild started 2026-12-06T07:10:02Z by alice on host1 (pid 4242,
 * environment prod, run 17; server session 999)" into buf. */
const char *sm_activity_describe(const sm_activity *a, char *buf, size_t size);

/* ------------------------------------------------------------- inventory */

enum sm_column_type { SM_COL_MISSING = 0, SM_COL_BYTEA, SM_COL_JSONB };
const char *sm_column_type_name(enum sm_column_type t);

typedef struct sm_version_count {
	long long version;        /* module version in metadata (missing key = 1) */
	long long count;
} sm_version_count;

typedef struct sm_type_inventory {
	char *type;
	char *label;
	bool configured;          /* false: found in the store, not in the config */
	long long target_version; /* 0 when not configured */
	long long snapshots;      /* rows in <source>.snapshots */
	sm_version_count *versions; /* highest version first */
	size_t n_versions;
	long long stale;          /* version != target: full replay */
	long long behind;         /* valid but stream has newer events */
	long long events_to_fold; /* what a rebuild would fold, counting resume */
	long long missing_streams;/* snapshots whose stream is gone or deleted */
	long long target_rows;    /* rows of this type in <target>.snapshots */
	long long target_stale;   /* ... of them stale: made by another reducer or
	                             configuration (their fingerprint is not the
	                             current one), or of unknown origin; never copied */
	long long target_at_version; /* current rows at the target version */
	long long target_current; /* ... and at their stream's current version */
	char *fingerprint_error;  /* the reducer could not be asked for its
	                             fingerprint (its rows count as stale), or NULL */
	long long failures;       /* recorded by the last run touching this type */
} sm_type_inventory;

typedef struct sm_inventory {
	enum sm_column_type source_data, source_metadata;
	enum sm_column_type target_data, target_metadata; /* MISSING: no target table yet */
	bool source_double_encoded; /* jsonb string holding JSON text */
	sm_type_inventory *types;   /* configured types in config order, then others by name */
	size_t n_types;
	long long last_run_id;      /* 0 when the journal is empty or missing */
	sm_activity activity;       /* an operation running on the target now */
} sm_inventory;

int sm_inventory_read(sm_engine *eng, sm_cancel *cancel, sm_inventory **out, sm_error *err);
void sm_inventory_free(sm_inventory *inv);

/* ------------------------------------------------------------- preflight */

typedef struct sm_unknown_event {
	char *source_type;
	char *event_type;
	long long events;          /* occurrences in the events a rebuild would read */
	long long streams;         /* distinct streams */
	char **examples;           /* up to 5 stream_uuids */
	size_t n_examples;
	/* What an external reducer said of it when asked ("types" request of
	 * snapmig-reducer(7)); NULL for a type no reducer lists. */
	char *message;
	int kind;                  /* enum sm_failure_kind: unknown_event, or reducer_error */
} sm_unknown_event;

/* What a type's reducer is, and what an external one says of itself in
 * its handshake (snapmig-reducer(7)). */
typedef struct sm_reducer_desc {
	char *type;
	bool external;             /* an external program (exec), else rules */
	bool answered;             /* external: its handshake worked */
	char *error;               /* external: why it did not (NULL when it did) */
	char *name;                /* its self-description ("reducer"), NULL when none */
	bool raw;                  /* it folds the stored bytes (raw mode) */
	bool has_app_version;      /* it reports the application's snapshot_version: */
	long long app_version;
	long long config_version;  /* snapmig.conf's */
	bool version_mismatch;     /* has_app_version and they differ: rebuild refused */
} sm_reducer_desc;

typedef struct sm_preflight {
	sm_unknown_event *unknown;
	size_t n_unknown;
	char **skipped_types;      /* configured types whose reducer answers "any" */
	size_t n_skipped;
	sm_reducer_desc *reducers; /* every selected type, in config order */
	size_t n_reducers;
	size_t n_mismatches;       /* reducers with version_mismatch */
} sm_preflight;

/* Event types in the streams a rebuild would read that the reducers cannot
 * fold, and each type's reducer (external ones are started for their
 * handshake, and asked about the store's event types when they answer
 * "types" requests).  types: labels or full types; NULL/0 = every
 * configured type. */
int sm_preflight_run(sm_engine *eng, const char *const *types, size_t n_types,
		     sm_cancel *cancel, sm_preflight **out, sm_error *err);
void sm_preflight_free(sm_preflight *pf);

/* Only the reducers' part of the pre-flight (no database work): *out has
 * reducers filled, nothing else. */
int sm_reducers_describe(sm_engine *eng, const char *const *types, size_t n_types,
			 sm_preflight **out, sm_error *err);

/* --------------------------------------------------------------- rebuild */

/*
 * Why an instance could not be rebuilt, one row per kind:
 * X(ID, name, label, help): SM_FAIL_ID; the stable name of the failures
 * table, JSON and --kind; a label for people; what it means.
 */
#define SM_FAILURE_KINDS(X) \
	X(UNKNOWN_EVENT,  "unknown_event",  "unknown event", \
	  "an event type without a handler") \
	X(NO_MATCH,       "no_match",       "no match", \
	  "handlers exist for the event type, none matched") \
	X(BAD_EVENT,      "bad_event",      "bad event", \
	  "event data not JSON, not an object or too big, or events missing") \
	X(REDUCER,        "reducer_error",  "reducer error", \
	  "the reducer failed: a wrong kind of value, a crash, a timeout") \
	X(MISSING_STREAM, "missing_stream", "missing stream", \
	  "the snapshot's stream is missing or deleted") \
	X(BAD_SNAPSHOT,   "bad_snapshot",   "bad snapshot", \
	  "the start snapshot's data or metadata is unreadable")

enum sm_failure_kind {
#define SM_X_FAILURE_ENUM(id, name, label, help) SM_FAIL_##id,
	SM_FAILURE_KINDS(SM_X_FAILURE_ENUM)
#undef SM_X_FAILURE_ENUM
	SM_FAIL__COUNT
};
/* The columns of SM_FAILURE_KINDS ("unknown" for a kind out of range). */
const char *sm_failure_kind_name(enum sm_failure_kind kind);
const char *sm_failure_kind_label(enum sm_failure_kind kind);
const char *sm_failure_kind_help(enum sm_failure_kind kind);
int sm_failure_kind_parse(const char *name); /* by name; -1 when unknown */

typedef struct sm_rebuild_options {
	const char *const *types;  /* labels or full types; NULL/0 = all configured */
	size_t n_types;
	const char *const *uuids;  /* only these source_uuids; NULL/0 = all */
	size_t n_uuids;
	bool only_failed;          /* only instances with a recorded failure */
	int jobs;                  /* 0 = the environment's setting */
	/* Join the rebuild planned in the target schema (the newest plan with
	 * unclaimed chunks) instead of planning one: its types, filters and
	 * fingerprints are the plan's (types, uuids and only_failed must be
	 * empty; each type's fingerprint here must be the plan's).  Any number
	 * of processes, on any machines, may join; each claims chunks until
	 * none is left.  SM_ERR_USAGE when there is nothing to join. */
	bool join;
} sm_rebuild_options;

/*
 * What a rebuild with these options would do now, read without writing
 * anything (no target schema is created): per type the instances and
 * events it would fold (those failing at once included: a stream missing,
 * metadata that is not JSON), and how many workers it would start.  A run
 * started later plans again and may find more or less to do.
 */
typedef struct sm_rebuild_type_plan {
	char *type;
	char *label;
	long long instances;       /* planned, failing ones included */
	long long events;          /* to fold */
	long long failing;         /* failing at once */
} sm_rebuild_type_plan;

typedef struct sm_rebuild_plan {
	sm_rebuild_type_plan *types; /* the selected types, in config order */
	size_t n_types;
	long long instances, events, failing; /* all types */
	size_t chunks;             /* units of work, one transaction each */
	int jobs;                  /* workers: the jobs setting, at most one a chunk */
} sm_rebuild_plan;

int sm_rebuild_plan_read(sm_engine *eng, const sm_rebuild_options *opts, sm_cancel *cancel,
			 sm_rebuild_plan **out, sm_error *err);
void sm_rebuild_plan_free(sm_rebuild_plan *plan);

enum sm_run_state {
	SM_RUN_PLANNING = 0,
	SM_RUN_RUNNING,
	SM_RUN_CANCELLING,
	SM_RUN_DONE,               /* finished; failures may have been recorded */
	SM_RUN_CANCELLED,          /* stopped on request; committed work kept */
	SM_RUN_FAILED,             /* stopped by an error (see sm_progress.error) */
};
const char *sm_run_state_name(enum sm_run_state s);

typedef struct sm_type_progress {
	const char *type;          /* borrowed from the run, valid until sm_run_free */
	const char *label;
	long long instances_planned, instances_done;
	long long events_planned, events_done;
	long long failures[SM_FAIL__COUNT];
	long long failed;          /* sum of failures */
	long long equal, different;/* verify: instances checked equal / different */
	double events_per_sec;     /* events_done over elapsed_seconds; a process
	                              that joined a rebuild: its own events */
	double eta_seconds;        /* < 0 when unknown */
} sm_type_progress;

/* One process of a rebuild: the planning one or one that joined it
 * (from the journal and the work table of the target schema). */
typedef struct sm_process_progress {
	long long run_id;          /* its journal id */
	char host[256];
	long pid;
	int jobs;                  /* its workers (its journal's "jobs") */
	char outcome[32];          /* its journal's: "running", "done", ... */
	bool finished;             /* its journal records an end (a killed process
	                              stays "running" without one) */
	bool self;                 /* the process asking */
	long long chunks, instances, events, failed; /* committed by it */
	double events_per_sec;     /* its events over the time from its start
	                              to its last chunk */
} sm_process_progress;

typedef struct sm_progress {
	enum sm_run_state state;
	long long run_id;          /* journal id, 0 until planned */
	int jobs;
	double elapsed_seconds;
	/* A rebuild's counts are the whole plan's, whichever process did the
	 * work (refreshed about once a second), plus this process's work not
	 * yet committed; a verify run's are its own. */
	sm_type_progress total;    /* all types; its type and label are "all" */
	sm_type_progress *types;   /* owned by the sm_progress; sm_progress_clear */
	size_t n_types;
	/* A rebuild only (0 and NULL otherwise): */
	long long plan_run_id;     /* the run that planned the work (run_id unless joined) */
	long long chunks_total, chunks_done; /* of the whole plan, by every process */
	sm_process_progress *processes; /* every process of the plan, by run id */
	size_t n_processes;
	sm_error error;            /* set when state == SM_RUN_FAILED */
} sm_progress;

typedef struct sm_run sm_run;

/* Starts a rebuild on background threads and returns at once (planning is
 * the first phase of the run).  The engine must outlive the run.
 * Instances whose target row is already at the target version and at
 * their stream's current version are not planned (nothing to do).  The
 * run's threads block the terminal's signals (see the top of this file;
 * the caller need not). */
int sm_rebuild_start(sm_engine *eng, const sm_rebuild_options *opts,
		     sm_run **out, sm_error *err);

/* A consistent snapshot of the progress; cheap, call it a few times a
 * second.  Call sm_progress_clear on *out before reusing or discarding it. */
void sm_run_progress(sm_run *run, sm_progress *out);
void sm_progress_clear(sm_progress *p);

/* Asks the run to stop (returns at once; the run stops within about a
 * second, committing completed instances).  Safe from any thread, not from
 * a signal handler (set a flag there and call this from the main loop). */
void sm_run_cancel(sm_run *run);

/* Blocks until the run has finished; returns SM_OK, SM_ERR_CANCELLED or the
 * error that stopped it. */
int sm_run_wait(sm_run *run, sm_error *err);
bool sm_run_finished(sm_run *run);
void sm_run_free(sm_run *run);   /* waits for the run to finish first */

/* ---------------------------------------------------------------- verify */

/*
 * Verify checks a reducer against the truth the store already holds: for
 * each live snapshot whose module version is the one the configuration
 * makes (the type's snapshot_version), it folds the instance's events from
 * the initial state up to that snapshot's source_version, with the same
 * reader and fold as a rebuild, and compares the result with the live
 * snapshot as Commanded loads it: decoded into the struct (the keys of the
 * reducer's initial state, each with the snapshot's value when it has the
 * key, else the default; other keys dropped) and compared by jsonb
 * equality (util/json_diff.h: numbers by exact value, 1 = 1.0).  It never
 * writes: no target schema, no journal.  It runs as an sm_run: progress,
 * cancel, wait and free as for a rebuild; sm_type_progress.equal and
 * .different count the outcomes so far.
 */
typedef struct sm_verify_options {
	const char *const *types;  /* labels or full types; NULL/0 = all configured */
	size_t n_types;
	/* Only these instances (source_uuids), whatever module version their
	 * live snapshot has (a stale one is folded with the current reducer
	 * all the same, and its differences are no surprise). */
	const char *const *uuids;
	size_t n_uuids;
	long long sample;          /* check at most this many instances per type; 0: all */
	double sample_percent;     /* or this share of each type's, rounded up; 0: all */
	unsigned long long seed;   /* which sample: the same seed picks the same instances */
	int jobs;                  /* 0 = the environment's setting */
	int examples;              /* instances kept per type with their details; 0: 10 */
	int paths;                 /* differences kept per example; 0: 20 */
	bool keep_equal;           /* examples include equal instances (else only
	                              different and failed ones) */
	bool keep_states;          /* examples keep both compared states, whole */
} sm_verify_options;

int sm_verify_start(sm_engine *eng, const sm_verify_options *opts, sm_run **out, sm_error *err);

enum sm_verify_outcome {
	SM_VERIFY_EQUAL = 0,
	SM_VERIFY_DIFFERENT,
	SM_VERIFY_FAILED,          /* the fold failed: see the failure */
	SM_VERIFY_SKIPPED,         /* the live snapshot changed after planning: not compared */
	SM_VERIFY__COUNT
};
/* "equal", "different", "failed", "skipped". */
const char *sm_verify_outcome_name(enum sm_verify_outcome outcome);

enum sm_verify_diff_kind {
	SM_VDIFF_VALUE = 0,        /* unequal values */
	SM_VDIFF_ONLY_LIVE,        /* a key only the live snapshot has */
	SM_VDIFF_ONLY_FOLDED,      /* a key only the fold has */
	SM_VDIFF_NUMBER_FORM,      /* equal numbers, an integer and a float (1 vs 1.0):
	                              equal for jsonb, not for Elixir; never counts
	                              as a difference */
};
/* "value", "only_live", "only_folded", "number_form". */
const char *sm_verify_diff_kind_name(enum sm_verify_diff_kind kind);

/* Values in a difference are JSON text cut at this many bytes (then "..."
 * follows and cut is set). */
#define SM_VERIFY_VALUE_MAX 300

typedef struct sm_verify_difference {
	enum sm_verify_diff_kind kind;
	char *path;                /* jq form: ".members[2].role"; "." the whole state */
	char *live;                /* JSON text there; NULL when absent */
	char *folded;
	bool live_cut, folded_cut;
} sm_verify_difference;

typedef struct sm_verify_instance {
	char *source_uuid;
	long long version;         /* the live snapshot's source_version: folded up to it */
	long long module_version;  /* the live snapshot's module version */
	enum sm_verify_outcome outcome;
	sm_verify_difference *diffs; /* the first `paths` differences (NUMBER_FORM ones too) */
	size_t n_diffs;
	long long differences;     /* how many there are (NUMBER_FORM not counted) */
	/* outcome FAILED: */
	enum sm_failure_kind kind;
	long long fail_version;    /* the event's stream_version, 0 when none */
	char *event_type;          /* NULL when none */
	char *message;
	/* keep_states: the live snapshot as Commanded decodes it, and the fold
	 * (JSON text; NULL when there is none) */
	char *live_json, *folded_json;
} sm_verify_instance;

typedef struct sm_verify_path {
	char *path;                /* with array indices as "[]": ".members[].role" */
	long long instances;       /* instances that differ there */
} sm_verify_path;

typedef struct sm_verify_type {
	char *type, *label;
	long long target_version;
	long long live;            /* live snapshots of the type */
	long long at_version;      /* ... at target_version: those verify can check */
	long long planned;         /* selected (the sample) */
	long long equal, different, failed, skipped;
	long long checked;         /* equal + different + failed */
	long long failures[SM_FAIL__COUNT];
	long long number_form;     /* equal instances with an integer vs a float somewhere */
	sm_verify_path *paths;     /* where instances differ, most instances first */
	size_t n_paths;
	bool paths_cut;            /* more distinct paths than kept (200) */
	sm_verify_instance *instances; /* examples in outcome order: different, failed,
	                                  (keep_equal) equal; by source_uuid within */
	size_t n_instances;
} sm_verify_type;

typedef struct sm_verify_report {
	enum sm_run_state state;
	double elapsed_seconds;
	long long events;          /* folded */
	int jobs;
	unsigned long long seed;
	bool sampled;              /* sample or sample_percent was given */
	sm_verify_type *types;     /* the selected types, in configuration order */
	size_t n_types;
	sm_error error;            /* set when state == SM_RUN_FAILED */
} sm_verify_report;

/* The report of a verify run so far (complete once sm_run_finished). */
int sm_verify_report_read(sm_run *run, sm_verify_report **out, sm_error *err);
void sm_verify_report_free(sm_verify_report *report);

/* ---------------------------------------------------------- offline fold */

/*
 * Folding events given as data, without a database (`snapmig fold`): the
 * rebuild's own fold and reducer (rules or external) for one instance of
 * aggregate type.  Each input line is a JSON object {"type": EVENT_TYPE,
 * "data": {...}, "metadata": {...} or null (optional), "created_at":
 * "ISO 8601" (optional, for external reducers)}; its data and metadata are
 * decoded exactly as a rebuild decodes the columns of a stored event.  The
 * i-th event is at stream version start_version + i.  Needs only the
 * configuration.
 */
typedef struct sm_offline_fold sm_offline_fold;

typedef struct sm_offline_options {
	const sm_settings *settings; /* duplicate_keys, metadata_key; NULL: the defaults */
	const char *stream_uuid;     /* what the reducer is told; NULL: "offline" */
	const char *start_state;     /* a snapshot's data (JSON text) to start from,
	                                decoded as a rebuild decodes a start snapshot;
	                                NULL: the initial state */
	size_t start_len;
	long long start_version;     /* the version of start_state */
	const char *reducer_log;     /* an external reducer's stderr is appended
	                                there; NULL: discarded */
} sm_offline_options;

typedef struct sm_offline_result {
	bool failed;
	char *state;                 /* not failed: the JSON text a rebuild writes */
	long long events;            /* events read */
	long long version;           /* the stream version of the last one */
	/* failed: */
	enum sm_failure_kind kind;
	long long fail_version;      /* the event's stream version, 0 when none */
	long long fail_line;         /* its line of input, 0 when none */
	char *event_type;            /* NULL when none */
	char *message;
} sm_offline_result;

int sm_offline_fold_open(const sm_config *cfg, const char *type, const sm_offline_options *opts,
			 sm_offline_fold **out, sm_error *err);
/* One line of input (len bytes, no newline; blank lines are skipped).
 * SM_ERR_DATA when it is not an event line ("line 4: no \"type\""); an
 * event that fails the instance is not an error (see the result); lines
 * after such a failure are not read. */
int sm_offline_fold_line(sm_offline_fold *f, const char *line, size_t len, sm_error *err);
int sm_offline_fold_finish(sm_offline_fold *f, sm_offline_result *out, sm_error *err);
void sm_offline_result_clear(sm_offline_result *r);
void sm_offline_fold_close(sm_offline_fold *f);

/* -------------------------------------------------------- failures, runs */

typedef struct sm_failure {
	char *source_uuid;
	char *source_type;
	enum sm_failure_kind kind;
	long long stream_version;  /* 0 when there is no event */
	char *event_type;          /* NULL when there is no event */
	char *message;
	long long run_id;
	char *recorded_at;         /* ISO 8601 */
} sm_failure;

typedef struct sm_failure_list {
	sm_failure *items;
	size_t n;
} sm_failure_list;

/* Current failures (an instance that later succeeded is no longer listed).
 * type: label/type or NULL; kind: -1 for all. */
int sm_failures_read(sm_engine *eng, const char *type, int kind, sm_cancel *cancel,
		     sm_failure_list **out, sm_error *err);
/* The current failures of one instance (source_uuid). */
int sm_failures_read_instance(sm_engine *eng, const char *source_uuid, sm_cancel *cancel,
			      sm_failure_list **out, sm_error *err);
void sm_failure_list_free(sm_failure_list *list);

typedef struct sm_run_record {
	long long run_id;
	char *kind;                /* "rebuild", "copy", "rollback" */
	char *environment;
	char *os_user;             /* who ran it */
	char *db_user;
	char *started_at, *finished_at; /* finished_at NULL while running/killed */
	char *outcome;             /* "running", "done", "failed", "cancelled", ... */
	char *details;             /* JSON text: targets, filters, counts, copy id */
} sm_run_record;

typedef struct sm_run_list {
	sm_run_record *items;      /* newest first */
	size_t n;
} sm_run_list;

int sm_runs_read(sm_engine *eng, int limit, sm_cancel *cancel, sm_run_list **out,
		 sm_error *err);
void sm_run_list_free(sm_run_list *list);

/* ------------------------------------------------------------- snapshots */

/* One snapshot's data as JSON text, from the live (source) schema or, with
 * generated, the target schema: *json_out (caller frees) is NULL when there
 * is no such row (or no snapshots table); *version_out its source_version.
 * Data that is JSON comes back compact and as Commanded decodes it (a key
 * given twice once, by the environment's duplicate_keys); anything else
 * as stored.
 * metadata_out may be NULL; otherwise *metadata_out (caller frees) receives
 * the row's metadata as JSON text, NULL when there is no row, no metadata
 * column or SQL NULL.  Read-only; used to inspect generated snapshots
 * before copying them. */
int sm_snapshot_read(sm_engine *eng, const char *source_uuid, bool generated,
		     sm_cancel *cancel, char **json_out, char **metadata_out,
		     long long *version_out, sm_error *err);

/* How an instance's generated snapshot compares with its live one. */
enum sm_instance_state {
	SM_INSTANCE_SAME = 0,      /* data equal as JSON (key order, spacing ignored) */
	SM_INSTANCE_DIFFERENT,     /* data differ */
	SM_INSTANCE_NOT_GENERATED, /* no row in the target schema */
	SM_INSTANCE_UNREADABLE,    /* a side's data is not JSON (or NULL) */
};

typedef struct sm_instance_row {
	char *source_uuid;
	long long live_version;        /* source_version of the live snapshot */
	long long live_module_version; /* module version in its metadata (missing key = 1,
	                                  not a number = 0, metadata not JSON = -1) */
	long long gen_version;         /* the generated row's; 0 when not generated */
	long long gen_module_version;
	enum sm_instance_state state;
} sm_instance_row;

typedef struct sm_instance_list {
	sm_instance_row *items;        /* ordered by source_uuid */
	size_t n;
	long long offset;              /* index of items[0] among the matching instances */
	long long total;               /* instances of the type matching the filter */
} sm_instance_list;

/* One page of the instances (live snapshots) of the aggregate type type
 * (the full type name), ordered by source_uuid: rows offset .. offset +
 * limit - 1 of those whose source_uuid contains uuid_filter (case
 * insensitive; NULL or "" = all), each with its generated row when there
 * is one.  Read-only.  Free *out with sm_instance_list_free. */
int sm_instances_list(sm_engine *eng, const char *type, const char *uuid_filter,
		      long long offset, int limit, sm_cancel *cancel,
		      sm_instance_list **out, sm_error *err);

/* Which instances sm_instances_query lists, and in which order. */
enum sm_instance_order {
	SM_INSTANCES_BY_UUID = 0,      /* source_uuid */
	SM_INSTANCES_BY_VERSION,       /* the live source_version (events), highest first */
};

typedef struct sm_instance_query {
	const char *type;              /* the full aggregate type */
	const char *uuid_filter;       /* part of the source_uuid, any case; NULL or "" = all */
	unsigned states;               /* 1u << sm_instance_state for each state to list;
	                                  0 = every state.  Same, differs and unreadable
	                                  are compared by snapmig, so asking for them
	                                  reads every instance of the type */
	bool stale;                    /* only live snapshots not at the configured
	                                  snapshot_version (none when not configured) */
	bool current;                  /* only live snapshots at it: those verify checks */
	bool failed;                   /* only instances with a recorded failure */
	enum sm_instance_order order;
	bool reverse;                  /* the order reversed */
	long long offset;              /* as sm_instances_list */
	int limit;
} sm_instance_query;

/* sm_instances_list with filters by state, staleness and failure, and an
 * order; total counts the instances that pass them. */
int sm_instances_query(sm_engine *eng, const sm_instance_query *q, sm_cancel *cancel,
		       sm_instance_list **out, sm_error *err);
void sm_instance_list_free(sm_instance_list *list);

/* ------------------------------------------------------ copy and rollback */

/*
 * What makes a copy refuse, one row per guard, each overridable:
 * X(ID, name, trips, override): SM_GUARD_ID; the stable name of JSON, the
 * journal and the CLI's --force-NAME; when it trips; what overriding it
 * does (help text).  The bits are 1u << 0 .. 1u << (SM_GUARD__COUNT - 1)
 * in this order.
 */
#define SM_COPY_GUARDS(X) \
	X(VERSION,  "version", \
	  "generated rows are not at the configured target version", \
	  "copy although generated rows are not at the target version") \
	X(FAILURES, "failures", \
	  "the last run recorded failures for the type", \
	  "copy although the last run recorded failures") \
	X(LAG,      "lag", \
	  "generated rows are behind the live streams by more than copy_max_lag", \
	  "copy although generated rows are behind the live streams") \
	X(EMPTY,    "empty", \
	  "nothing is generated for a type that has live rows", \
	  "copy although nothing is generated for a type")

enum sm_copy_guard_index {
#define SM_X_GUARD_INDEX(id, name, trips, override) SM_GUARD_INDEX_##id,
	SM_COPY_GUARDS(SM_X_GUARD_INDEX)
#undef SM_X_GUARD_INDEX
	SM_GUARD__COUNT
};
enum sm_copy_guard {
#define SM_X_GUARD_BIT(id, name, trips, override) SM_GUARD_##id = 1u << SM_GUARD_INDEX_##id,
	SM_COPY_GUARDS(SM_X_GUARD_BIT)
#undef SM_X_GUARD_BIT
};
#define SM_GUARD_ALL ((1u << SM_GUARD__COUNT) - 1)
/* The columns of SM_COPY_GUARDS for one guard bit ("?" for anything else). */
const char *sm_copy_guard_name(unsigned guard);
const char *sm_copy_guard_trips(unsigned guard);
const char *sm_copy_guard_override(unsigned guard);
int sm_copy_guard_parse(const char *name);      /* the bit; 0 when unknown */

typedef struct sm_copy_options {
	const char *const *types;  /* labels or full types; NULL/0 = all configured */
	size_t n_types;
	bool remove_stale;         /* delete stale live rows without a replacement */
	unsigned force;            /* sm_copy_guard bits to override */
	/* Called from the copying thread while it waits for the table lock
	 * (about once a second) with the seconds waited; may be NULL. */
	void (*on_lock_wait)(void *ctx, double waited_seconds);
	void *ctx;
} sm_copy_options;

typedef struct sm_copy_type_plan {
	char *type;
	char *label;
	long long generated;       /* rows of the type in the target schema (what is copied) */
	long long off_version;     /* ... of them not at the target version (guard version) */
	long long failures;        /* failures recorded for the type (guard failures) */
	long long replace;         /* live rows to be replaced (or inserted: see insert) */
	long long insert;          /* generated rows with no live row */
	long long keep_newer;      /* live rows already valid and at least as new */
	long long untouched;       /* live rows of the type the rebuild did not produce */
	long long stale_without_replacement;
	long long lag_events;      /* sum of events generated rows are behind */
	long long stale_generated; /* generated rows made by another reducer or
	                              configuration (or of unknown origin): never
	                              copied; a rebuild regenerates them */
	char *fingerprint_error;   /* the reducer could not be asked for its
	                              fingerprint, so none of its rows is copied */
	unsigned guards;           /* tripped sm_copy_guard bits */
	char *guard_message;       /* human text for the tripped guards, or NULL */
} sm_copy_type_plan;

typedef struct sm_copy_plan {
	sm_copy_type_plan *types;
	size_t n_types;
	unsigned guards;           /* union of tripped guards not overridden */
	sm_activity activity;      /* an operation running on the target now: a
	                              copy would be refused (SM_ERR_BUSY) */
} sm_copy_plan;

int sm_copy_plan_read(sm_engine *eng, const sm_copy_options *opts, sm_cancel *cancel,
		      sm_copy_plan **out, sm_error *err);
void sm_copy_plan_free(sm_copy_plan *plan);

/*
 * The shape summary of a copy, what a reviewer reads before approving it:
 * for each selected type, across every live row the copy would replace,
 * the keys (top-level and nested, jq paths with array elements as "[]")
 * that the generated rows add or remove, and those whose JSON type
 * changes, with the number of instances.  A key below one that is added,
 * removed or retyped is not listed again, and an array gaining or losing
 * elements is no change of shape.  Read-only; reads every replaced pair.
 */
enum sm_shape_kind { SM_SHAPE_ADDED = 0, SM_SHAPE_REMOVED, SM_SHAPE_RETYPED };
const char *sm_shape_kind_name(enum sm_shape_kind kind); /* "added", "removed", "retyped" */

typedef struct sm_shape_change {
	char *path;                /* ".status_change_count", ".subs[].id" */
	enum sm_shape_kind kind;
	char *live_types;          /* "number", "null|string"; "" when absent */
	char *new_types;
	long long instances;
} sm_shape_change;

/* A change in words: "added (number)", "removed (string)", "null -> object"
 * (caller frees). */
char *sm_shape_change_text(const sm_shape_change *c);
/* The share of n instances in total, in buf: "100%", "37%", "<1%"; "-"
 * when total is 0.  Returns buf. */
const char *sm_shape_share(char *buf, size_t size, long long n, long long total);

typedef struct sm_shape_type {
	char *type, *label;
	long long compared;        /* replacements compared */
	long long unreadable;      /* ... of them with a side that is not a JSON object */
	sm_shape_change *changes;  /* most instances first */
	size_t n_changes;
	bool cut;                  /* more distinct changes than kept (500) */
} sm_shape_type;

typedef struct sm_shape_summary {
	sm_shape_type *types;      /* the selected types, in configuration order */
	size_t n_types;
} sm_shape_summary;

/* opts: its types only. */
int sm_copy_shape_read(sm_engine *eng, const sm_copy_options *opts, sm_cancel *cancel,
		       sm_shape_summary **out, sm_error *err);
void sm_shape_summary_free(sm_shape_summary *sum);

typedef struct sm_copy_result {
	long long copy_id;         /* run id in the journal; rollback key */
	long long replaced, inserted, kept_newer, removed, backed_up;
	long long stale_kept;      /* stale live rows without replacement left in place */
	long long stale_generated; /* generated rows not copied: not current */
	bool verified;             /* counts and checksum read back match */
	char *checksum;
} sm_copy_result;

/* Plans again inside the transaction and refuses (SM_ERR_GUARD) when a
 * guard that is not forced trips. */
int sm_copy_run(sm_engine *eng, const sm_copy_options *opts, sm_cancel *cancel,
		sm_copy_result **out, sm_error *err);
void sm_copy_result_free(sm_copy_result *res);

typedef struct sm_rollback_result {
	long long copy_id;         /* the copy rolled back */
	long long rollback_id;     /* its own journal id */
	long long restored, deleted; /* deleted: rows the copy had inserted */
	long long drifted;         /* rows changed after the copy: reported, left */
	char **drifted_uuids;      /* up to 20 examples */
	size_t n_drifted_uuids;
} sm_rollback_result;

/* copy_id 0 = the last copy that changed the live table and was not
 * rolled back yet.  A copy that changed nothing, or that was rolled back,
 * is refused (SM_ERR_USAGE, saying which). */
int sm_rollback_run(sm_engine *eng, long long copy_id, sm_cancel *cancel,
		    sm_rollback_result **out, sm_error *err);
void sm_rollback_result_free(sm_rollback_result *res);

/* The copies recorded in the target schema, newest first. */
typedef struct sm_copy_record {
	long long copy_id;
	char *copied_at;           /* ISO 8601 UTC */
	char **types;              /* the types it copied */
	size_t n_types;
	long long replaced, inserted, removed; /* -1 when an older snapmig made it */
	long long rolled_back_by;  /* the rollback's run id, 0 when none */
	bool undoable;             /* changed the live table and not rolled back */
} sm_copy_record;

typedef struct sm_copy_list {
	sm_copy_record *items;
	size_t n;
} sm_copy_list;

int sm_copies_read(sm_engine *eng, sm_cancel *cancel, sm_copy_list **out, sm_error *err);
void sm_copy_list_free(sm_copy_list *list);

/* ---------------------------------------------------------------- discard */

typedef struct sm_discard_result {
	long long run_id;          /* its journal id, 0 when there was nothing */
	long long rows;            /* generated rows deleted */
	long long failures;        /* failure records deleted */
} sm_discard_result;

/* Deletes the generated rows of the types (labels or full types; NULL/0 =
 * every configured type) from the target schema, with their fingerprints
 * and recorded failures, in one transaction under the target's lock.  The
 * live table is not touched.  A rebuild then starts those instances
 * afresh. */
int sm_discard_run(sm_engine *eng, const char *const *types, size_t n_types,
		   sm_cancel *cancel, sm_discard_result **out, sm_error *err);
void sm_discard_result_free(sm_discard_result *res);

#endif
