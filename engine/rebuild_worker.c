/*
 * A rebuild worker: takes chunks of planned instances one at a time and,
 * for each, drives three parts: the reader (engine/rebuild_read.h) streams
 * the instances' start rows and events with one query, the fold
 * (engine/rebuild_fold.h) folds each instance with its reducer, and the
 * writer (engine/rebuild_write.h) streams the results into the chunk's one
 * transaction.  Memory stays bounded by one aggregate state plus fixed
 * buffers.  Failures are per instance.  A lost connection is retried with
 * back-off; the chunk is then redone from its planned starts, which gives
 * the same rows.  A cancel leaves a rebuild's claimed chunk unclaimed and
 * commits nothing of it (it commits whole or not at all, so the work
 * table's counts are exact); verify reports the instances it finished.
 *
 * The worker of a verify run (run->verify) is the same loop with a
 * verify batch (engine/verify_internal.h) in the writer's place and no
 * writing connection: it compares each fold with its live snapshot.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/rebuild_fold.h"
#include "engine/rebuild_read.h"
#include "engine/rebuild_write.h"
#include "engine/reducer_exec.h"
#include "engine/verify_internal.h"
#include "engine/work.h"
#include "util/alloc.h"

#define MAX_RETRIES 3
#define PROGRESS_EVERY 256

typedef struct worker {
	sm_run *run;
	int id;
	bool verify;                /* a verify run: no writer, a batch */
	PGconn *conns[2];           /* reader's, writer's (none for verify) */
	sm_reader reader;
	sm_writer writer;
	sm_verify_batch batch;
	sm_fold fold;               /* the instance in flight */
	size_t begun;               /* instances of the chunk begun so far */
	sm_reducer **reducers;      /* per run type, opened lazily */
	json_object **initials;     /* verify: per run type, the reducer's initial state */
	bool *no_initial;           /* verify: ... which it could not give */
	sm_json_reader *json;       /* parses every event of this worker */
	long long *events;          /* per type: events reported in the open chunk */
	/* A rebuild: the chunk of the work table claimed in the writer's open
	 * transaction, its instances, whether all of them were folded (only
	 * then is it marked done) and when it was claimed. */
	sm_work_chunk claimed;
	sm_instance *claimed_inst;
	size_t n_claimed;
	bool complete;
	double claimed_at;
} worker;

static int n_conns(const worker *w)
{
	return w->verify ? 1 : 2;
}

/* ------------------------------------------------------------ connections */

static void close_conns(worker *w)
{
	for (int i = 0; i < 2; i++) {
		sm_engine_disconnect(w->conns[i]);
		w->conns[i] = NULL;
	}
}

static int open_conns(worker *w, sm_error *err)
{
	close_conns(w);
	for (int i = 0; i < n_conns(w); i++) {
		w->conns[i] = sm_engine_connect(w->run->eng, w->run->stop, err);
		if (!w->conns[i])
			return sm_error_code(err, SM_ERR_DB);
	}
	if (sm_reader_open(&w->reader, w->conns[0], err) ||
	    (!w->verify && sm_writer_open(&w->writer, w->conns[1], err)))
		return sm_error_code(err, SM_ERR_DB);
	return SM_OK;
}

/* ------------------------------------------------------------- progress */

static void report_events(worker *w, int type_index, long long delta)
{
	if (!delta)
		return;
	pthread_mutex_lock(&w->run->lock);
	w->run->types[type_index].events_done += delta;
	pthread_mutex_unlock(&w->run->lock);
	w->events[type_index] += delta;
}

/* Undoes the live event counts of a chunk that did not commit. */
static void unreport_chunk(worker *w)
{
	pthread_mutex_lock(&w->run->lock);
	for (size_t i = 0; i < w->run->n_types; i++)
		w->run->types[i].events_done -= w->events[i];
	pthread_mutex_unlock(&w->run->lock);
}

/* ------------------------------------------------------------ instances */

static bool run_cancelled(void *arg)
{
	return atomic_load(&((sm_run *)arg)->cancel);
}

static int reducer_for(worker *w, const sm_instance *x, sm_reducer **out, sm_error *err)
{
	sm_run *run = w->run;
	sm_reducer **r = &w->reducers[x->type_index];

	if (!*r) {
		sm_type_counters *t = &run->types[x->type_index];

		/* The process of the planning handshake, if no one took it. */
		pthread_mutex_lock(&run->lock);
		*r = t->ready;
		t->ready = NULL;
		pthread_mutex_unlock(&run->lock);
		if (!*r) {
			int rc = sm_reducer_open(run->eng->cfg, t->agg, w->id, run->log_path, r, err);

			if (rc)
				return rc;
			if (sm_reducer_exec(*r)) {
				sm_exec_set_columns(sm_reducer_exec(*r), run->layout.ev_data,
						    run->layout.ev_meta);
				sm_exec_expect_mode(sm_reducer_exec(*r), t->raw);
			}
		}
		sm_reducer_set_cancel(*r, run_cancelled, run);
		/* A rebuild's rows are labelled with the planned fingerprint
		 * (a verify run writes none and plans none). */
		if (run->fps)
			sm_reducer_expect_fingerprint(*r, run->fps[x->type_index].fp.hello);
	}
	*out = *r;
	return SM_OK;
}

/* verify: *initial, the initial state of the instance's type as its
 * reducer gives it; NULL when it gives none that is an object (the live
 * snapshot is then compared as it is).  Negative: an error or a cancel. */
static int initial_of(worker *w, const sm_instance *x, json_object **initial, sm_error *err)
{
	int t = x->type_index;

	if (!w->initials[t] && !w->no_initial[t]) {
		sm_reduce_failure why;
		int rc;

		memset(&why, 0, sizeof why);
		rc = sm_reducer_initial(w->reducers[t], x->uuid, &w->initials[t], &why, err);
		if (rc < 0)
			return rc;
		if (rc != SM_OK || !json_object_is_type(w->initials[t], json_type_object)) {
			json_object_put(w->initials[t]);
			w->initials[t] = NULL;
			w->no_initial[t] = true;
		}
	}
	*initial = w->initials[t];
	return SM_OK;
}

/* verify: the state a raw-mode reducer's bytes store (see
 * sm_reducer_raw_json); NULL, the failure recorded, when it is not a JSON
 * object.  The caller owns it. */
static json_object *raw_state(worker *w, const sm_instance *x, const sm_fold_result *out)
{
	json_object *o = sm_reducer_raw_json(out->raw, out->raw_len);

	if (o && json_object_is_type(o, json_type_object))
		return o;
	json_object_put(o);
	sm_verify_batch_fail(&w->batch, x, SM_FAIL_REDUCER, 0, NULL,
			     "the reducer's state (raw mode) is not a JSON object");
	return NULL;
}

/* Ends the instance in flight: its snapshot written (verify: compared), or
 * its failure recorded; either way it is done. */
static int finish_instance(worker *w, sm_error *err)
{
	const sm_instance *x = w->fold.inst;
	bool superseded = w->fold.state == SM_FOLD_SUPERSEDED;
	json_object *live, *initial = NULL;
	sm_fold_result out;
	int rc = sm_fold_finish(&w->fold, &out, err);

	live = sm_fold_take_live(&w->fold);
	if (rc == SM_OK && w->verify) {
		if (superseded)
			sm_verify_batch_skip(&w->batch, x);
		else if (out.raw && live && !out.state)
			out.state = raw_state(w, x, &out);
		if (!superseded && out.state && live && (rc = initial_of(w, x, &initial, err)) == SM_OK)
			sm_verify_batch_compare(&w->batch, x, initial, live, out.state);
		/* else: the fold's sink (or raw_state) has recorded the failure */
	} else if (rc == SM_OK && out.state) {
		rc = sm_writer_put(&w->writer, x, out.state, out.metadata, err);
	} else if (rc == SM_OK && out.raw) {
		rc = sm_writer_put_raw(&w->writer, x, out.raw, out.raw_len, out.metadata, err);
	}
	if (rc == SM_OK && !w->verify)
		sm_writer_done(&w->writer, x);
	report_events(w, x->type_index, sm_fold_take_events(&w->fold, 1));
	sm_fold_result_clear(&out);
	json_object_put(live);
	return rc;
}

/* Finishes instances until `upto` of the chunk have begun, the last one
 * left in flight: rows go to instance upto; an instance without rows is
 * begun and finished (its snapshot is gone).  upto = n + 1 finishes all. */
static int advance_to(worker *w, size_t upto, sm_error *err)
{
	while (w->begun < upto) {
		sm_reducer *reducer;
		int rc;

		if (w->fold.state != SM_FOLD_IDLE && (rc = finish_instance(w, err)))
			return rc;
		if (w->begun == w->reader.n_map)
			break;
		const sm_instance *x = &w->reader.chunk->inst[w->reader.map[w->begun]];

		rc = reducer_for(w, x, &reducer, err);
		if (rc)
			return rc;
		sm_fold_begin(&w->fold, x, w->run->types[x->type_index].agg, reducer);
		w->begun++;
	}
	return SM_OK;
}

/* Instances failed at planning: recorded with the chunk, never read. */
static void record_prefailed(worker *w, const sm_chunk *ch)
{
	for (size_t i = 0; i < ch->count; i++) {
		const sm_instance *x = &ch->inst[i];

		if (!x->prefail_msg)
			continue;
		if (w->verify) {
			sm_verify_batch_fail(&w->batch, x, x->prefail, 0, NULL, x->prefail_msg);
		} else {
			sm_writer_fail(&w->writer, x, x->prefail, 0, NULL, x->prefail_msg);
			sm_writer_done(&w->writer, x);
		}
	}
}

/* ---------------------------------------------------------------- chunks */

/* Reads the chunk's rows and folds its instances.  A cancel (the flag,
 * a query it interrupted, a reducer that gave up waiting) ends it early,
 * keeping the instances already finished: SM_ERR_CANCELLED. */
static int read_and_fold(worker *w, const sm_chunk *ch, sm_error *err)
{
	sm_pgcopy_row row;
	size_t ord;
	enum sm_read st = SM_READ_END;
	int rc;

	w->begun = 0;
	rc = sm_reader_send(&w->reader, ch, err);
	while (rc == SM_OK && (st = sm_reader_next(&w->reader, &row, &ord, err)) == SM_READ_ROW) {
		if (atomic_load(&w->run->cancel))
			rc = SM_ERR_CANCELLED;
		else if (ord < w->begun)
			rc = sm_error_set(err, SM_ERR_INTERNAL,
					  "rows of the event query arrived out of order");
		else if ((rc = advance_to(w, ord, err)) == SM_OK)
			rc = sm_fold_row(&w->fold, &row, err);
		if (rc == SM_OK)
			report_events(w, w->fold.inst->type_index,
				      sm_fold_take_events(&w->fold, PROGRESS_EVERY));
	}
	if (rc == SM_OK && st == SM_READ_ERROR)
		rc = SM_ERR_DB;
	sm_reader_stop(&w->reader);
	if (rc == SM_OK)
		rc = advance_to(w, w->reader.n_map + 1, err);
	if (rc != SM_OK && rc != SM_ERR_CANCELLED && atomic_load(&w->run->cancel))
		rc = SM_ERR_CANCELLED;  /* an error of the cancel's own making */
	return rc;
}

/* in_tx: the writer's transaction is open already (a claimed chunk). */
static int process_chunk(worker *w, const sm_chunk *ch, bool in_tx, sm_error *err)
{
	int rc = SM_OK;

	memset(w->events, 0, w->run->n_types * sizeof *w->events);
	w->complete = false;
	if (!w->verify)
		rc = in_tx ? sm_writer_begin_in(&w->writer, err) : sm_writer_begin(&w->writer, err);
	if (rc == SM_OK) {
		record_prefailed(w, ch);
		rc = read_and_fold(w, ch, err);
		w->complete = rc == SM_OK;
	}
	if (w->fold.state != SM_FOLD_IDLE) {
		/* The instance in flight is dropped: not committed, redone later. */
		report_events(w, w->fold.inst->type_index, sm_fold_take_events(&w->fold, 1));
		sm_fold_drop(&w->fold);
	}
	if (rc == SM_ERR_CANCELLED && in_tx) {
		/* A claimed chunk, cancelled: rolled back, left to the next
		 * claimer whole. */
		sm_writer_abort(&w->writer);
		unreport_chunk(w);
		return SM_OK;
	}
	if (rc == SM_ERR_CANCELLED)
		rc = SM_OK;
	if (rc == SM_OK && w->verify)
		sm_verify_batch_commit(&w->batch);
	else if (rc == SM_OK)
		rc = sm_writer_commit(&w->writer, err);
	if (rc != SM_OK) {
		if (w->verify)
			sm_verify_batch_discard(&w->batch);
		else
			sm_writer_abort(&w->writer);
		unreport_chunk(w);
	} else if (!w->verify) {
		pthread_mutex_lock(&w->run->lock);
		for (size_t i = 0; i < w->run->n_types; i++)
			w->run->types[i].events_committed += w->events[i];
		pthread_mutex_unlock(&w->run->lock);
	}
	return rc;
}

/* The writer's hook: a claimed chunk, whose instances were all folded
 * (a cancelled one never commits), is marked done in its own
 * transaction. */
static int chunk_done(void *ctx, sm_writer *wr, sm_error *err)
{
	worker *w = ctx;
	long long inst = 0, events = 0, fails[SM_FAIL__COUNT] = { 0 };

	if (!w->complete || !w->claimed.uuid_lo)
		return sm_error_set(err, SM_ERR_INTERNAL, "a chunk not folded whole was about to commit");
	for (size_t i = 0; i < w->run->n_types; i++) {
		inst += wr->done[i];
		events += w->events[i];
	}
	for (size_t i = 0; i < wr->n_fails; i++)
		fails[wr->fails[i].kind]++;
	return sm_work_done(wr->conn, w->run, &w->claimed, sm_run_elapsed(w->run) - w->claimed_at,
			    inst, events, fails, err);
}

static void drop_claim(worker *w)
{
	sm_work_instances_free(w->claimed_inst, w->n_claimed);
	w->claimed_inst = NULL;
	w->n_claimed = 0;
	sm_work_chunk_clear(&w->claimed);
}

/*
 * A rebuild's next chunk from the work table: claimed, planned and
 * processed in the writer's one transaction.  *more false when the plan
 * has nothing left that is not done.  When every unclaimed chunk is held
 * by another process, waits (a tenth of a second at a time) until one is
 * free again (its process died or failed) or all are done.
 */
static int shared_chunk(worker *w, bool *more, sm_error *err)
{
	PGconn *conn = w->conns[1];
	bool got = false;
	sm_chunk ch;
	int rc;

	*more = true;
	for (;;) {
		long long left = 0;

		if (atomic_load(&w->run->cancel)) {
			*more = false;
			return SM_OK;
		}
		rc = sm_db_exec(conn, "BEGIN", err);
		if (rc == SM_OK)
			rc = sm_work_claim(conn, w->run, &w->claimed, &got, err);
		if (rc != SM_OK || got)
			break;
		sm_db_exec(conn, "ROLLBACK", NULL);
		rc = sm_work_remaining(conn, w->run, &left, err);
		if (rc != SM_OK)
			return rc;
		if (left == 0) {
			*more = false;
			return SM_OK;
		}
		/* Others hold the rest: look again soon, since the last chunk's
		 * end is the run's end. */
		usleep(100000);
	}
	if (rc == SM_OK) {
		w->claimed_at = sm_run_elapsed(w->run);
		rc = sm_work_chunk_plan(conn, w->run, &w->claimed, &w->claimed_inst, &w->n_claimed, err);
	}
	if (rc != SM_OK) {
		sm_writer_abort(&w->writer);
		drop_claim(w);
		return rc;
	}
	ch.inst = w->claimed_inst;
	ch.count = w->n_claimed;
	rc = process_chunk(w, &ch, true, err);
	drop_claim(w);
	return rc;
}

/* ---------------------------------------------------------------- worker */

/* The fold's sinks: the writer's failure list, or the verify batch. */
static void writer_fail(void *ctx, const sm_instance *inst, enum sm_failure_kind kind,
			long long version, const char *event_type, const char *message)
{
	sm_writer_fail(ctx, inst, kind, version, event_type, message);
}

static void batch_fail(void *ctx, const sm_instance *inst, enum sm_failure_kind kind,
		       long long version, const char *event_type, const char *message)
{
	sm_verify_batch_fail(ctx, inst, kind, version, event_type, message);
}

static bool next_chunk(sm_run *run, size_t *out)
{
	bool ok = false;

	pthread_mutex_lock(&run->lock);
	if (!atomic_load(&run->cancel) && run->next_chunk < run->n_chunks) {
		*out = run->next_chunk++;
		ok = true;
	}
	pthread_mutex_unlock(&run->lock);
	return ok;
}

static bool sleep_unless_cancelled(sm_run *run, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (atomic_load(&run->cancel))
			return false;
		usleep(100000);
	}
	return true;
}

/* One chunk, retried after a lost connection (back-off 1, 2, 4 s): ch,
 * or (NULL) the next of the work table (*more: false when none is left). */
static int chunk_with_retries(worker *w, const sm_chunk *ch, bool *more, sm_error *err)
{
	for (int attempt = 0;; attempt++) {
		int rc = SM_OK;

		if (!w->conns[0] || (!w->verify && !w->conns[1]))
			rc = open_conns(w, err);
		if (rc == SM_OK)
			rc = ch ? process_chunk(w, ch, false, err) : shared_chunk(w, more, err);
		if (rc == SM_OK || attempt >= MAX_RETRIES ||
		    !(sm_db_is_connection_error(w->conns[0], err) ||
		      sm_db_is_connection_error(w->conns[1], err)))
			return rc;
		/* Transient disconnect: back off, reconnect, redo the chunk from
		 * its planned starts (same rows). */
		close_conns(w);
		if (!sleep_unless_cancelled(w->run, 1 << attempt))
			return rc;
		sm_error_clear(err);
	}
}

static void worker_free(worker *w)
{
	for (size_t i = 0; i < w->run->n_types; i++) {
		sm_reducer_close(w->reducers[i]);
		json_object_put(w->initials[i]);
	}
	free(w->reducers);
	free(w->initials);
	free(w->no_initial);
	sm_verify_batch_free(&w->batch);
	free(w->events);
	sm_json_reader_free(w->json);
	sm_reader_free(&w->reader);
	sm_writer_free(&w->writer);
	close_conns(w);
}

void *sm_rebuild_worker_main(void *arg)
{
	sm_worker_arg *wa = arg;
	sm_run *run = wa->run;
	worker w;
	size_t idx;
	int rc = SM_OK;

	memset(&w, 0, sizeof w);
	w.run = run;
	w.id = wa->id;
	w.verify = run->verify != NULL;
	w.reducers = sm_xcalloc(run->n_types + 1, sizeof *w.reducers);
	w.initials = sm_xcalloc(run->n_types + 1, sizeof *w.initials);
	w.no_initial = sm_xcalloc(run->n_types + 1, sizeof *w.no_initial);
	w.events = sm_xcalloc(run->n_types + 1, sizeof *w.events);
	sm_reader_init(&w.reader, run);
	sm_writer_init(&w.writer, run);
	sm_verify_batch_init(&w.batch, run);
	sm_error_clear(&wa->err);
	w.json = sm_json_reader_new();
	if (!w.json)
		rc = sm_error_set(&wa->err, SM_ERR_NOMEM, "out of memory");
	else
		sm_json_reader_keep_last_duplicate(w.json, run->eng->env->settings.last_duplicate_wins);
	{
		sm_fold_params fp;
		sm_fold_sink sink;

		memset(&fp, 0, sizeof fp);
		fp.metadata_key = run->eng->env->settings.metadata_key;
		/* verify stores nothing */
		fp.no_nul = !w.verify && run->layout.tgt_data == SM_COL_JSONB &&
			    !run->layout.double_encoded;
		fp.verify = w.verify;
		sink.fail = w.verify ? batch_fail : writer_fail;
		sink.ctx = w.verify ? (void *)&w.batch : (void *)&w.writer;
		sm_fold_init(&w.fold, w.json, sink, &fp);
	}
	if (w.verify) {
		while (rc == SM_OK && next_chunk(run, &idx))
			rc = chunk_with_retries(&w, &run->chunks[idx], NULL, &wa->err);
	} else {
		bool more = true;

		w.writer.before_commit = chunk_done;
		w.writer.before_commit_ctx = &w;
		while (rc == SM_OK && more)
			rc = chunk_with_retries(&w, NULL, &more, &wa->err);
	}
	if (rc != SM_OK)
		sm_run_fail(run, &wa->err);
	wa->rc = rc;
	worker_free(&w);
	atomic_fetch_sub(&run->workers_left, 1);
	return NULL;
}
