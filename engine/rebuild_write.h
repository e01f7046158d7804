/*
 * Internal: a rebuild worker's writer (engine/rebuild_write.c).  Per chunk
 * it streams the finished snapshots into a temporary table on its own
 * connection (COPY, text format), and at the end upserts them into
 * <target>.snapshots with the fingerprint of what made each one
 * (<target>.snapmig_rows), replaces the chunk's recorded failures and commits,
 * all in the chunk's one transaction; only then does the run count the
 * chunk's instances and failures.  A chunk that is not committed leaves
 * nothing behind.
 */
#ifndef SM_ENGINE_REBUILD_WRITE_H
#define SM_ENGINE_REBUILD_WRITE_H

#include <json-c/json.h>

#include "engine/rebuild_internal.h"

/* One instance failure of the open chunk. */
typedef struct sm_failure_rec {
	const sm_instance *inst;   /* borrowed from the plan */
	enum sm_failure_kind kind;
	long long version;         /* 0 when there is no event */
	char *event_type;          /* NULL when there is no event */
	char *message;
} sm_failure_rec;

typedef struct sm_writer {
	sm_run *run;
	PGconn *conn;              /* borrowed; NULL until sm_writer_open */
	char *buf;                 /* one row in COPY's text format */
	size_t cap;
	sm_failure_rec *fails;     /* the open chunk's failures */
	size_t n_fails, cap_fails;
	const sm_instance **raw;   /* the open chunk's raw states */
	size_t n_raw, cap_raw;
	long long *done;           /* per run type: instances finished in the chunk */
	/* Called in the chunk's transaction just before its COMMIT, after its
	 * rows and failures are written (NULL: nothing); an error rolls the
	 * chunk back. */
	int (*before_commit)(void *ctx, struct sm_writer *w, sm_error *err);
	void *before_commit_ctx;
} sm_writer;

void sm_writer_init(sm_writer *w, sm_run *run);
void sm_writer_free(sm_writer *w);

/* Prepares a new connection: the temporary table and the statements. */
int sm_writer_open(sm_writer *w, PGconn *conn, sm_error *err);

/* Starts a chunk: its transaction and the COPY into the temporary table. */
int sm_writer_begin(sm_writer *w, sm_error *err);
/* The same in a transaction the caller began (and may have written in). */
int sm_writer_begin_in(sm_writer *w, sm_error *err);

/* Records a failure of inst (copies event_type and message). */
void sm_writer_fail(sm_writer *w, const sm_instance *inst, enum sm_failure_kind kind,
		    long long version, const char *event_type, const char *message);
/* Counts inst as finished (written, failed or already current). */
void sm_writer_done(sm_writer *w, const sm_instance *inst);

/* Streams inst's snapshot: state and metadata are borrowed. */
int sm_writer_put(sm_writer *w, const sm_instance *inst, json_object *state,
		  json_object *metadata, sm_error *err);

/* Streams inst's snapshot from a raw-mode reducer: state is the bytes to
 * store (borrowed), metadata as above.  For a jsonb target the server
 * checks them at commit: those that are no jsonb value fail their
 * instance instead of the chunk. */
int sm_writer_put_raw(sm_writer *w, const sm_instance *inst, const unsigned char *state,
		      size_t state_len, json_object *metadata, sm_error *err);

/* Ends the COPY, upserts, records the failures and commits; then adds
 * the chunk's instances and failures to the run's counters. */
int sm_writer_commit(sm_writer *w, sm_error *err);

/* Throws the open chunk away (COPY aborted, ROLLBACK); never blocks on a
 * dead connection. */
void sm_writer_abort(sm_writer *w);

#endif
