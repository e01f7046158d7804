/*
 * Rebuild runs: planning, the worker pool, progress and the journal.
 *
 * Planning fixes every instance's start (initial state, valid live
 * snapshot, or the target row of an earlier run: that is the resume) and
 * end version (the stream's version now), then orders instances by events
 * to fold, largest first, and cuts them into chunks that the workers take
 * one at a time.  Each chunk is read with one query and written in one
 * transaction, so a stop at any moment loses at most the chunks in flight.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/rebuild_internal.h"
#include "engine/reducer.h"
#include "engine/reducer_exec.h"
#include "engine/target.h"
#include "engine/verify_internal.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/fs.h"

/* A chunk holds at most batch_size instances and about this many events
 * (one bigger instance goes alone). */
#define CHUNK_EVENTS 100000

double sm_run_elapsed(const sm_run *run)
{
	return sm_now() - run->started;
}

void sm_run_fail(sm_run *run, const sm_error *err)
{
	pthread_mutex_lock(&run->lock);
	/* After a cancel, errors are mostly its own doing (an interrupted
	 * query): the run was cancelled, not failed. */
	if (run->error.code == SM_OK && !atomic_load(&run->user_cancel))
		run->error = *err;
	pthread_mutex_unlock(&run->lock);
	atomic_store(&run->cancel, true);
}

void sm_run_set_state(sm_run *run, enum sm_run_state s)
{
	pthread_mutex_lock(&run->lock);
	run->state = s;
	pthread_mutex_unlock(&run->lock);
}

static int cmp_instance(const void *a, const void *b)
{
	const sm_instance *x = a, *y = b;
	long long ex = x->end_version - x->start_version;
	long long ey = y->end_version - y->start_version;

	if (ex != ey)
		return ex < ey ? 1 : -1;
	return strcmp(x->uuid, y->uuid);
}

static json_object *details_json(const sm_run *run, bool with_counts)
{
	json_object *d = json_object_new_object();
	json_object *types = json_object_new_object();

	for (size_t i = 0; i < run->n_types; i++) {
		const sm_type_counters *t = &run->types[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "target_version", json_object_new_int64(t->agg->snapshot_version));
		if (with_counts) {
			json_object *f = json_object_new_object();

			json_object_object_add(o, "instances_planned", json_object_new_int64(t->instances_planned));
			json_object_object_add(o, "instances_done", json_object_new_int64(t->instances_done));
			json_object_object_add(o, "events_planned", json_object_new_int64(t->events_planned));
			json_object_object_add(o, "events_done", json_object_new_int64(t->events_done));
			for (int k = 0; k < SM_FAIL__COUNT; k++)
				if (t->failures[k])
					json_object_object_add(f, sm_failure_kind_name((enum sm_failure_kind)k),
							       json_object_new_int64(t->failures[k]));
			json_object_object_add(o, "failures", f);
		}
		json_object_object_add(types, t->agg->type, o);
	}
	json_object_object_add(d, "types", types);
	json_object_object_add(d, "jobs", json_object_new_int(run->jobs));
	if (run->log_path)
		json_object_object_add(d, "reducer_log", json_object_new_string(run->log_path));
	if (run->only_failed)
		json_object_object_add(d, "only_failed", json_object_new_boolean(1));
	if (run->n_uuids) {
		json_object *u = json_object_new_array();

		for (size_t i = 0; i < run->n_uuids && i < 100; i++)
			json_object_array_add(u, json_object_new_string(run->uuids[i]));
		json_object_object_add(d, "uuids", u);
		json_object_object_add(d, "uuid_count", json_object_new_int64((int64_t)run->n_uuids));
	}
	return d;
}

sm_instance *sm_run_add_instance(sm_run *run, const PGresult *res, size_t *cap)
{
	const char *type = PQgetvalue(res, 0, 1);
	sm_instance *x;

	run->inst = sm_xgrow(run->inst, cap, run->n_inst + 1, sizeof *run->inst);
	x = &run->inst[run->n_inst++];
	memset(x, 0, sizeof *x);
	x->uuid = sm_xstrdup(PQgetvalue(res, 0, 0));
	x->stream_id = sm_db_ll(res, 0, 2);
	for (size_t k = 0; k < run->n_types; k++)
		if (strcmp(run->types[k].agg->type, type) == 0)
			x->type_index = (int)k;
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		x->prefail = SM_FAIL_MISSING_STREAM;
		x->prefail_msg = "the snapshot's stream is missing or deleted";
	}
	return x;
}

/* One row of the planning query into run->inst. */
static void add_instance(sm_run *run, const PGresult *res, size_t *cap)
{
	sm_instance *x = sm_run_add_instance(run, res, cap);

	x->start_kind = (enum sm_start_kind)sm_db_ll(res, 0, 7);
	if (x->prefail)
		return;     /* nothing to fold: start and end stay 0 */
	x->start_version = sm_db_ll(res, 0, 5);
	x->end_version = sm_db_ll(res, 0, 6);
	if (sm_db_ll(res, 0, 4) < 0) {
		x->prefail = SM_FAIL_BAD_SNAPSHOT;
		x->prefail_msg = "snapshot metadata is not valid JSON";
		x->start_version = x->end_version = 0;
	} else if (x->end_version < x->start_version) {
		/* A snapshot newer than its stream: nothing to fold. */
		x->end_version = x->start_version;
	}
}

int sm_run_read_layout(sm_run *run, PGconn *conn, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	sm_store_layout *l = &run->layout;

	int rc = sm_store_prepare_session(conn, err);

	if (rc == SM_OK)
		rc = sm_store_layout_read(conn, set, l, err);
	if (rc != SM_OK)
		return rc;
	if (l->snap_data == SM_COL_MISSING || l->ev_data == SM_COL_MISSING)
		return sm_error_set(err, SM_ERR_DB,
				    "%s.snapshots or %s.events not found (or not readable): is this an EventStore database?",
				    set->source_schema, set->source_schema);
	if (l->snap_meta == SM_COL_MISSING)
		l->snap_meta = l->snap_data;
	if (l->ev_meta == SM_COL_MISSING)
		l->ev_meta = l->ev_data;
	return SM_OK;
}

int sm_run_read_plan(sm_run *run, PGconn *conn, const char *sql, const char *const *params,
		     int nparams, void (*add)(sm_run *run, const PGresult *row, size_t *cap),
		     sm_error *err)
{
	PGresult *res;
	size_t cap = 0;
	int rc = sm_db_cancelled(conn, err);

	if (rc != SM_OK)
		return rc;
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(conn))
		rc = sm_db_error(conn, NULL, "query failed", err);
	/* We PQclear each result, until NULL. */
	for (;;) {
		ExecStatusType st;

		/* Waiting here rather than in PQgetResult sees a cancel. */
		if (rc == SM_OK)
			(void)sm_db_wait(conn, NULL, NULL, NULL);
		if (!(res = PQgetResult(conn)))
			break;
		st = PQresultStatus(res);

		if (rc == SM_OK && st == PGRES_SINGLE_TUPLE)
			add(run, res, &cap);
		else if (rc == SM_OK && st != PGRES_TUPLES_OK)
			rc = sm_db_error(conn, res, "query failed", err);
		PQclear(res);
	}
	if (rc == SM_OK)
		sm_run_cut_chunks(run);
	return rc;
}

/* Plans the run: run->inst, run->chunks and the planned counts.
 * have_failures: the target has a failures table (without one,
 * only_failed plans nothing). */
static int plan(sm_run *run, PGconn *conn, bool have_failures, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	char *a_uuids = NULL, *inst, *sql, *t, *failed;
	int rc;

	if (run->n_uuids)
		a_uuids = sm_db_text_array((const char *const *)run->uuids, run->n_uuids);
	t = sm_db_ident(conn, set->target_schema);
	failed = have_failures ? sm_xasprintf("SELECT source_uuid FROM %s.snapmig_failures", t)
			       : sm_xstrdup("SELECT NULL::text WHERE false");
	inst = sm_db_instances_sql(conn, set, &run->layout, true);
	sql = sm_xasprintf(
		"SELECT j.source_uuid, j.source_type, COALESCE(j.stream_id, 0), j.missing, j.mv,"
		" j.start_version, COALESCE(j.end_version, 0), j.sk"
		" FROM (%s) j"
		" WHERE NOT (j.sk = %d AND NOT j.missing AND j.tgt_version >= j.end_version)"
		" AND ($4::text[] IS NULL OR j.source_uuid = ANY($4::text[]))"
		" AND (NOT $5::bool OR j.source_uuid IN (%s))",
		inst, SM_START_GENERATED, failed);
	{
		const char *params[] = { set->metadata_key, run->type_params.types,
					 run->type_params.versions, a_uuids,
					 run->only_failed ? "true" : "false" };

		rc = sm_run_read_plan(run, conn, sql, params, 5, add_instance, err);
	}
	free(a_uuids);
	free(inst);
	free(sql);
	free(t);
	free(failed);
	return rc;
}

void sm_run_cut_chunks(sm_run *run)
{
	const sm_settings *set = &run->eng->env->settings;
	size_t cap_chunks = 0;

	if (run->n_inst)
		qsort(run->inst, run->n_inst, sizeof *run->inst, cmp_instance);
	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_inst; i++) {
		sm_type_counters *c = &run->types[run->inst[i].type_index];

		c->instances_planned++;
		c->events_planned += run->inst[i].end_version - run->inst[i].start_version;
	}
	pthread_mutex_unlock(&run->lock);
	for (size_t i = 0; i < run->n_inst;) {
		size_t n = 0;
		long long events = 0;

		while (i + n < run->n_inst && n < (size_t)set->batch_size &&
		       (n == 0 || events + (run->inst[i + n].end_version -
					    run->inst[i + n].start_version) <= CHUNK_EVENTS)) {
			events += run->inst[i + n].end_version - run->inst[i + n].start_version;
			n++;
		}
		run->chunks = sm_xgrow(run->chunks, &cap_chunks, run->n_chunks + 1, sizeof *run->chunks);
		run->chunks[run->n_chunks].first = i;
		run->chunks[run->n_chunks].count = n;
		run->n_chunks++;
		i += n;
	}
}

char *sm_run_log_path(const sm_run *run, const char *name)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	bool any_exec = false;
	char *dir, *path;

	for (size_t i = 0; i < run->n_types; i++)
		any_exec = any_exec || run->types[i].agg->exec;
	if (!any_exec)
		return NULL;
	if (state && *state)
		dir = sm_xasprintf("%s/snapmig", state);
	else if (home && *home)
		dir = sm_xasprintf("%s/.local/state/snapmig", home);
	else
		return NULL;
	if (sm_mkdir_p(dir, 0700) != 0) {
		free(dir);
		return NULL;
	}
	path = sm_xasprintf("%s/%s-%s.log", dir, run->eng->env->name, name);
	free(dir);
	return path;
}

static int prepare(sm_run *run, PGconn *conn, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	sm_store_layout *l = &run->layout;
	json_object *details;
	int rc;

	if (sm_target_check(conn, run->eng, err))
		return err->code;
	if ((rc = sm_run_read_layout(run, conn, err)) != SM_OK)
		return rc;
	if ((rc = sm_store_ensure_target(conn, set, l, err)) != SM_OK)
		return rc;
	/* The target becomes this store's when nobody owns it; checked again,
	 * since another store's first run may have claimed it meanwhile. */
	if (sm_target_ensure(conn, run->eng, true, err) || sm_target_check(conn, run->eng, err))
		return err->code;
	run->lock_conn = sm_engine_connect(run->eng, run->stop, err);
	if (!run->lock_conn)
		return sm_error_code(err, SM_ERR_DB);
	if (sm_target_lock(run->lock_conn, run->eng, SM_LOCK_REBUILD, "rebuild", err))
		return err->code;
	details = details_json(run, false);
	rc = sm_db_journal_start(conn, set->target_schema, "rebuild", run->eng->env->name,
				 json_object_to_json_string(details), &run->run_id, err);
	json_object_put(details);
	if (rc)
		return rc;
	/* Named by the run id, which exists from here on; the journal gets
	 * the path with the run's outcome. */
	{
		char name[64];

		snprintf(name, sizeof name, "run-%lld", run->run_id);
		run->log_path = sm_run_log_path(run, name);
	}
	sm_target_lock_run(run->lock_conn, run->eng, run->run_id);
	return SM_OK;
}

/*
 * The fingerprint every row of the run is labelled with (engine/target.h),
 * after the handshakes: an external reducer's comes from the hello of the
 * process that goes on folding (no second start, and no window in which
 * its code could change unseen); one that could not start is asked again,
 * and the run stops when it cannot be.  After the journal: reading the
 * target may wait for a lock, and a run cancelled there is journaled as
 * such.
 */
static int fingerprints(sm_run *run, PGconn *conn, sm_error *err)
{
	const sm_aggregate **aggs = sm_xcalloc(run->n_types + 1, sizeof *aggs);
	const char **hellos = sm_xcalloc(run->n_types + 1, sizeof *hellos);
	bool *known = sm_xcalloc(run->n_types + 1, sizeof *known);
	int rc;

	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_types; i++) {
		const sm_exec_hello *h = run->types[i].ready
			? sm_exec_handshake(sm_reducer_exec(run->types[i].ready)) : NULL;

		aggs[i] = run->types[i].agg;
		known[i] = h != NULL;
		hellos[i] = h ? h->fingerprint : NULL;
	}
	pthread_mutex_unlock(&run->lock);
	rc = sm_target_fingerprints_known(conn, run->eng, aggs, run->n_types, true, known, hellos,
					  &run->fps, err);
	free(aggs);
	free(hellos);
	free(known);
	return rc;
}

static bool run_cancelled(void *arg)
{
	return atomic_load(&((sm_run *)arg)->cancel);
}

/*
 * The external reducers' handshakes, before anything is planned: each
 * says whether it folds in raw mode (the chunk queries read stored bytes
 * for it), and the Commanded bridge reports the snapshot_version its
 * application configures, which must be snapmig.conf's: a snapshot the
 * deployed code would reject as outdated is worse than none, so the run
 * is refused.  Each process is kept for the first worker that needs one.
 * A reducer that cannot start is left to the workers, whose instances
 * fail as before.  Verify runs them too: a raw-mode reducer folds the
 * stored bytes there as well.
 */
int sm_run_handshakes(sm_run *run, sm_error *err)
{
	const sm_store_layout *l = &run->layout;
	char msg[sizeof err->message] = "";
	size_t used = 0;

	for (size_t i = 0; i < run->n_types; i++) {
		const sm_aggregate *agg = run->types[i].agg;
		const sm_exec_hello *hello;
		sm_reduce_failure fail;
		struct sm_exec_proc *exec;
		sm_reducer *r;
		int rc;

		if (!agg->exec)
			continue;
		rc = sm_reducer_open(run->eng->cfg, agg, 0, run->log_path, &r, err);
		if (rc)
			return rc;
		exec = sm_reducer_exec(r);
		sm_exec_set_columns(exec, l->ev_data, l->ev_meta);
		sm_reducer_set_cancel(r, run_cancelled, run);
		memset(&fail, 0, sizeof fail);
		rc = sm_reducer_start(r, &fail, err);
		if (rc < 0) {
			sm_reducer_close(r);
			return rc;
		}
		hello = rc == SM_OK ? sm_exec_handshake(exec) : NULL;
		if (!hello) {
			sm_reducer_close(r);
			continue;
		}
		if (hello->has_version && hello->snapshot_version != agg->snapshot_version && used < sizeof msg)
			used += (size_t)snprintf(msg + used, sizeof msg - used,
						 "%s%s: snapmig.conf says snapshot_version %lld, the application's"
						 " reducer says %lld", used ? "; " : "", agg->type,
						 agg->snapshot_version, hello->snapshot_version);
		sm_exec_expect_mode(exec, hello->raw);
		pthread_mutex_lock(&run->lock);
		run->types[i].raw = hello->raw;
		run->types[i].ready = r;
		pthread_mutex_unlock(&run->lock);
	}
	if (used)
		return sm_error_set(err, SM_ERR_CONFIG, "%s; nothing was %s: make the versions agree, "
				    "or leave the type out (-a)", msg, run->verify ? "verified" : "rebuilt");
	return SM_OK;
}

void sm_run_close_ready(sm_run *run)
{
	for (size_t i = 0; i < run->n_types; i++) {
		sm_reducer *r;

		pthread_mutex_lock(&run->lock);
		r = run->types[i].ready;
		run->types[i].ready = NULL;
		pthread_mutex_unlock(&run->lock);
		sm_reducer_close(r);
	}
}

/* Connects, prepares and plans on the coordinator's connection; false
 * when the run cannot go on (sm_run_fail has the reason). */
static bool plan_run(sm_run *run)
{
	sm_error err;
	PGconn *conn;
	bool ok;

	sm_error_clear(&err);
	conn = sm_engine_connect(run->eng, run->stop, &err);
	if (!conn) {
		sm_run_fail(run, &err);
		return false;
	}
	ok = prepare(run, conn, &err) == SM_OK && sm_run_handshakes(run, &err) == SM_OK &&
	     fingerprints(run, conn, &err) == SM_OK &&
	     plan(run, conn, true, &err) == SM_OK;
	if (!ok)
		sm_run_fail(run, &err);
	/* The connection is not kept: a cancelled query may leave it
	 * unusable, and the workers may run for hours; the journal gets a
	 * fresh one. */
	sm_engine_disconnect(conn);
	return ok;
}

void sm_run_workers(sm_run *run)
{
	int n = run->jobs < (int)run->n_chunks ? run->jobs : (int)run->n_chunks;
	sm_worker_arg *workers = sm_xcalloc((size_t)n + 1, sizeof *workers);
	pthread_t *threads = sm_xcalloc((size_t)n + 1, sizeof *threads);

	for (int i = 0; i < n; i++) {
		workers[i].run = run;
		workers[i].id = i + 1;
		if (pthread_create(&threads[i], NULL, sm_rebuild_worker_main, &workers[i]) != 0) {
			sm_error err;

			sm_error_set(&err, SM_ERR_INTERNAL, "cannot start worker thread");
			sm_run_fail(run, &err);
			n = i;
			break;
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(workers);
	free(threads);
}

enum sm_run_state sm_run_final_state(sm_run *run, const char **outcome)
{
	enum sm_run_state final;
	long long failed = 0;

	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_types; i++)
		for (int k = 0; k < SM_FAIL__COUNT; k++)
			failed += run->types[i].failures[k];
	if (run->error.code != SM_OK) {
		final = SM_RUN_FAILED;
		*outcome = "failed";
	} else if (atomic_load(&run->cancel)) {
		final = SM_RUN_CANCELLED;
		*outcome = "cancelled";
	} else {
		final = SM_RUN_DONE;
		*outcome = failed ? "done with failures" : "done";
	}
	pthread_mutex_unlock(&run->lock);
	return final;
}

/* Records the outcome in the journal, on a connection of its own.  Best
 * effort: the journal must not turn a finished run into a failed one (the
 * server may be the reason the run failed). */
static void journal_finish(sm_run *run, const char *outcome)
{
	json_object *details;
	sm_error jerr;
	PGconn *conn;

	/* Not run->stop: a cancelled run is journaled too. */
	if (!run->run_id || !(conn = sm_engine_connect(run->eng, NULL, &jerr)))
		return;
	pthread_mutex_lock(&run->lock);
	details = details_json(run, true);
	if (run->error.code != SM_OK)
		json_object_object_add(details, "error", json_object_new_string(run->error.message));
	pthread_mutex_unlock(&run->lock);
	sm_db_journal_finish(conn, run->eng->env->settings.target_schema, run->run_id, outcome,
			     json_object_to_json_string(details), &jerr);
	json_object_put(details);
	sm_engine_disconnect(conn);
}

static void *coordinator_main(void *arg)
{
	sm_run *run = arg;
	enum sm_run_state final;
	const char *outcome;

	if (plan_run(run)) {
		sm_run_set_state(run, atomic_load(&run->cancel) ? SM_RUN_CANCELLING : SM_RUN_RUNNING);
		sm_run_workers(run);
	}
	sm_run_close_ready(run);
	/* The journal and the state say the same, even when a cancel comes
	 * in while the journal is written. */
	final = sm_run_final_state(run, &outcome);
	journal_finish(run, outcome);
	sm_run_end(run, final);
	return NULL;
}

void sm_run_end(sm_run *run, enum sm_run_state final)
{
	/* After the journal: the next operation on the target sees the
	 * outcome of this one. */
	if (run->lock_conn) {
		sm_target_unlock(run->lock_conn, run->eng);
		sm_engine_disconnect(run->lock_conn);
		run->lock_conn = NULL;
	}
	pthread_mutex_lock(&run->lock);
	run->finished_elapsed = sm_run_elapsed(run);
	run->state = final;
	pthread_mutex_unlock(&run->lock);
}

sm_run *sm_run_new(sm_engine *eng, const sm_aggregate *const *aggs, size_t n_aggs, int jobs,
		   const char *const *uuids, size_t n_uuids)
{
	sm_run *run = sm_xcalloc(1, sizeof *run);

	run->eng = eng;
	run->joined = true;        /* no thread yet */
	pthread_mutex_init(&run->lock, NULL);
	atomic_init(&run->cancel, false);
	atomic_init(&run->user_cancel, false);
	run->stop = sm_cancel_new_interrupt_only();
	run->jobs = jobs > 0 ? jobs : eng->env->settings.jobs;
	if (run->jobs < 1)
		run->jobs = 1;
	if (run->jobs > SM_MAX_JOBS)
		run->jobs = SM_MAX_JOBS;
	if (n_uuids) {
		run->uuids = sm_xcalloc(n_uuids, sizeof *run->uuids);
		for (size_t i = 0; i < n_uuids; i++)
			run->uuids[i] = sm_xstrdup(uuids[i]);
		run->n_uuids = n_uuids;
	}
	run->types = sm_xcalloc(n_aggs + 1, sizeof *run->types);
	for (size_t i = 0; i < n_aggs; i++)
		run->types[i].agg = aggs[i];
	run->n_types = n_aggs;
	sm_type_params_init(&run->type_params, aggs, n_aggs);
	run->state = SM_RUN_PLANNING;
	run->finished_elapsed = -1;
	run->started = sm_now();
	return run;
}

int sm_run_launch(sm_run *run, void *(*main_fn)(void *), sm_error *err)
{
	sigset_t block, old;
	int rc;

	/* The engine's threads (this one and the workers it starts) block the
	 * signals a user stops a program with, and those a terminal program
	 * handles: they reach the caller's threads, and never interrupt a
	 * worker's system call. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&run->coordinator, NULL, main_fn, run);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		sm_run_free(run);
		return sm_error_set(err, SM_ERR_INTERNAL, "cannot start the run's thread");
	}
	run->joined = false;
	return SM_OK;
}

/* A rebuild run of opts, not started. */
static int rebuild_new(sm_engine *eng, const sm_rebuild_options *opts, sm_run **out,
		       sm_error *err)
{
	const sm_aggregate **aggs = NULL;
	size_t n_aggs = 0;
	int rc;

	*out = NULL;
	rc = sm_engine_select_types(eng, opts ? opts->types : NULL, opts ? opts->n_types : 0,
				    &aggs, &n_aggs, err);
	if (rc)
		return rc;
	*out = sm_run_new(eng, aggs, n_aggs, opts ? opts->jobs : 0, opts ? opts->uuids : NULL,
			  opts ? opts->n_uuids : 0);
	free(aggs);
	(*out)->only_failed = opts && opts->only_failed;
	return SM_OK;
}

int sm_rebuild_start(sm_engine *eng, const sm_rebuild_options *opts,
		     sm_run **out, sm_error *err)
{
	sm_run *run;
	int rc = rebuild_new(eng, opts, &run, err);

	*out = NULL;
	if (rc == SM_OK && (rc = sm_run_launch(run, coordinator_main, err)) == SM_OK)
		*out = run;
	return rc;
}

/* The plan of run as the caller sees it. */
static sm_rebuild_plan *plan_summary(const sm_run *run)
{
	sm_rebuild_plan *p = sm_xcalloc(1, sizeof *p);

	p->types = sm_xcalloc(run->n_types + 1, sizeof *p->types);
	p->n_types = run->n_types;
	for (size_t i = 0; i < run->n_types; i++) {
		const sm_aggregate *agg = run->types[i].agg;

		p->types[i].type = sm_xstrdup(agg->type);
		p->types[i].label = sm_xstrdup(agg->label ? agg->label : agg->type);
		p->types[i].instances = run->types[i].instances_planned;
		p->types[i].events = run->types[i].events_planned;
		p->instances += run->types[i].instances_planned;
		p->events += run->types[i].events_planned;
	}
	for (size_t i = 0; i < run->n_inst; i++) {
		if (!run->inst[i].prefail_msg)
			continue;
		p->types[run->inst[i].type_index].failing++;
		p->failing++;
	}
	p->chunks = run->n_chunks;
	p->jobs = run->jobs < (int)run->n_chunks ? run->jobs : (int)run->n_chunks;
	return p;
}

int sm_rebuild_plan_read(sm_engine *eng, const sm_rebuild_options *opts, sm_cancel *cancel,
			 sm_rebuild_plan **out, sm_error *err)
{
	bool have_failures = false;
	PGconn *conn = NULL;
	sm_run *run;
	int rc = rebuild_new(eng, opts, &run, err);

	*out = NULL;
	if (rc == SM_OK && !(conn = sm_engine_connect(eng, cancel, err)))
		rc = sm_error_code(err, SM_ERR_DB);
	if (rc == SM_OK)
		rc = sm_target_check(conn, eng, err);
	if (rc == SM_OK)
		rc = sm_run_read_layout(run, conn, err);
	/* What the run would resume from: the current generated rows only. */
	if (rc == SM_OK && run->layout.tgt_data != SM_COL_MISSING) {
		const sm_aggregate **aggs = sm_xcalloc(run->n_types + 1, sizeof *aggs);

		for (size_t i = 0; i < run->n_types; i++)
			aggs[i] = run->types[i].agg;
		rc = sm_target_fingerprints(conn, eng, aggs, run->n_types, false, &run->fps, err);
		free(aggs);
	}
	if (rc == SM_OK)
		rc = sm_db_table_exists(conn, eng->env->settings.target_schema, "snapmig_failures",
					&have_failures, err);
	if (rc == SM_OK)
		rc = plan(run, conn, have_failures, err);
	sm_engine_disconnect(conn);
	if (rc == SM_OK)
		*out = plan_summary(run);
	sm_run_free(run);
	return rc;
}

void sm_rebuild_plan_free(sm_rebuild_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_types; i++) {
		free(plan->types[i].type);
		free(plan->types[i].label);
	}
	free(plan->types);
	free(plan);
}

static void fill_type(sm_type_progress *p, const sm_type_counters *c, double elapsed)
{
	p->type = c->agg->type;
	p->label = c->agg->label ? c->agg->label : c->agg->type;
	p->instances_planned = c->instances_planned;
	p->instances_done = c->instances_done;
	p->events_planned = c->events_planned;
	p->events_done = c->events_done;
	p->failed = 0;
	for (int k = 0; k < SM_FAIL__COUNT; k++) {
		p->failures[k] = c->failures[k];
		p->failed += c->failures[k];
	}
	p->equal = c->equal;
	p->different = c->different;
	p->events_per_sec = elapsed > 0 ? (double)c->events_done / elapsed : 0;
	p->eta_seconds = p->events_per_sec > 0
		? (double)(c->events_planned - c->events_done) / p->events_per_sec : -1;
}

void sm_run_progress(sm_run *run, sm_progress *out)
{
	double elapsed;
	sm_type_counters total;

	memset(out, 0, sizeof *out);
	memset(&total, 0, sizeof total);
	pthread_mutex_lock(&run->lock);
	elapsed = run->finished_elapsed >= 0 ? run->finished_elapsed : sm_run_elapsed(run);
	out->state = run->state;
	if (out->state == SM_RUN_RUNNING && atomic_load(&run->cancel))
		out->state = SM_RUN_CANCELLING;
	out->run_id = run->run_id;
	out->jobs = run->jobs;
	out->elapsed_seconds = elapsed;
	out->error = run->error;
	out->types = sm_xcalloc(run->n_types + 1, sizeof *out->types);
	out->n_types = run->n_types;
	for (size_t i = 0; i < run->n_types; i++) {
		const sm_type_counters *c = &run->types[i];

		fill_type(&out->types[i], c, elapsed);
		total.instances_planned += c->instances_planned;
		total.instances_done += c->instances_done;
		total.events_planned += c->events_planned;
		total.events_done += c->events_done;
		for (int k = 0; k < SM_FAIL__COUNT; k++)
			total.failures[k] += c->failures[k];
		total.equal += c->equal;
		total.different += c->different;
	}
	pthread_mutex_unlock(&run->lock);
	{
		static const sm_aggregate all = { .type = (char *)"all", .label = (char *)"all" };

		total.agg = &all;
		fill_type(&out->total, &total, elapsed);
	}
}

void sm_progress_clear(sm_progress *p)
{
	free(p->types);
	memset(p, 0, sizeof *p);
}

void sm_run_cancel(sm_run *run)
{
	atomic_store(&run->user_cancel, true);
	atomic_store(&run->cancel, true);
	/* Loops notice the flag within a batch of rows; a query blocked on a
	 * lock or a slow server only ends when the server cancels it. */
	sm_cancel_request(run->stop);
}

bool sm_run_finished(sm_run *run)
{
	bool done;

	pthread_mutex_lock(&run->lock);
	done = run->finished_elapsed >= 0;
	pthread_mutex_unlock(&run->lock);
	return done;
}

int sm_run_wait(sm_run *run, sm_error *err)
{
	if (!run->joined) {
		pthread_join(run->coordinator, NULL);
		run->joined = true;
	}
	if (run->state == SM_RUN_FAILED) {
		if (err)
			*err = run->error;
		return run->error.code ? run->error.code : SM_ERR_INTERNAL;
	}
	if (run->state == SM_RUN_CANCELLED)
		return sm_error_set(err, SM_ERR_CANCELLED, "the rebuild was cancelled; committed work is kept");
	return SM_OK;
}

void sm_run_free(sm_run *run)
{
	if (!run)
		return;
	if (!run->joined)
		sm_run_wait(run, NULL);
	for (size_t i = 0; i < run->n_inst; i++)
		free(run->inst[i].uuid);
	free(run->inst);
	free(run->chunks);
	for (size_t i = 0; i < run->n_uuids; i++)
		free(run->uuids[i]);
	free(run->uuids);
	free(run->types);
	sm_type_params_clear(&run->type_params);
	free(run->log_path);
	sm_verify_free(run->verify);
	sm_type_fps_free(run->fps, run->n_types);
	sm_cancel_free(run->stop);
	pthread_mutex_destroy(&run->lock);
	free(run);
}
