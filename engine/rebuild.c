/*
 * Rebuild runs: planning, the worker pool, progress and the journal.
 *
 * A rebuild plans into the work table of the target (engine/work.h):
 * chunks of instances that any number of processes (this one and those
 * that join it, sm_rebuild_options.join) claim; a chunk's instances get
 * their start (initial state, valid live snapshot, or the target row of
 * an earlier run: that is the resume) and end version (the stream's
 * version when the run was planned) from its claimer.  Each chunk is read
 * with one query and written in one transaction, so a stop at any moment
 * loses at most the chunks in flight.  A verify run plans in memory (run->
 * inst), largest instances first, cut the same way.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/rebuild_internal.h"
#include "engine/reducer.h"
#include "engine/reducer_exec.h"
#include "engine/target.h"
#include "engine/verify_internal.h"
#include "engine/work.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/thread.h"

/* A verify run's chunks are cut as a rebuild's (engine/work.h). */
#define CHUNK_EVENTS SM_WORK_CHUNK_EVENTS

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
	/* Which process did it: several may share one plan (engine/work.h). */
	{
		char host[256];

		sm_work_host(host, sizeof host);
		json_object_object_add(d, "host", json_object_new_string(host));
		json_object_object_add(d, "pid", json_object_new_int64((int64_t)getpid()));
	}
	if (run->join && run->plan_run_id) {
		char id[32];

		/* Text, as the progress query compares it. */
		snprintf(id, sizeof id, "%lld", run->plan_run_id);
		json_object_object_add(d, "join_of", json_object_new_string(id));
	}
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

void sm_run_parse_instance(const sm_run *run, const PGresult *res, int row, sm_instance *x)
{
	const char *type = PQgetvalue(res, row, 1);

	memset(x, 0, sizeof *x);
	x->uuid = sm_xstrdup(PQgetvalue(res, row, 0));
	x->stream_id = sm_db_ll(res, row, 2);
	x->start_version = sm_db_ll(res, row, 5);
	x->end_version = sm_db_ll(res, row, 6);
	x->start_kind = (enum sm_start_kind)sm_db_ll(res, row, 7);
	for (size_t k = 0; k < run->n_types; k++)
		if (strcmp(run->types[k].agg->type, type) == 0)
			x->type_index = (int)k;
	if (strcmp(PQgetvalue(res, row, 3), "t") == 0) {
		x->prefail = SM_FAIL_MISSING_STREAM;
		x->prefail_msg = "the snapshot's stream is missing or deleted";
		x->start_version = x->end_version = 0;
	} else if (sm_db_ll(res, row, 4) < 0) {
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

/* Plans the run into the work table of the target (engine/work.h), or
 * reads the plan it joins. */
static int plan(sm_run *run, PGconn *conn, sm_error *err)
{
	int rc;

	if (run->join) {
		rc = sm_work_poll(conn, run, err);
		pthread_mutex_lock(&run->lock);
		run->n_chunks = (size_t)run->chunks_total;
		pthread_mutex_unlock(&run->lock);
		return rc;
	}
	rc = sm_work_ensure(conn, run->eng->env->settings.target_schema, err);
	return rc ? rc : sm_work_plan(conn, run, err);
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
		run->chunks[run->n_chunks].inst = &run->inst[i];
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

/* A joining run takes the types of the plan it joins (in its order):
 * each must be in this configuration. */
static int join_plan(sm_run *run, PGconn *conn, sm_error *err)
{
	char **types = NULL;
	long long *fp_ids = NULL;
	size_t n = 0;
	const sm_aggregate **aggs;
	int rc = sm_work_ensure(conn, run->eng->env->settings.target_schema, err);

	if (rc == SM_OK)
		rc = sm_work_find(conn, run, &types, &fp_ids, &n, err);
	if (rc != SM_OK)
		return rc;
	aggs = sm_xcalloc(n + 1, sizeof *aggs);
	for (size_t i = 0; i < n && rc == SM_OK; i++) {
		aggs[i] = sm_config_find_aggregate(run->eng->cfg, types[i]);
		if (!aggs[i] || strcmp(aggs[i]->type, types[i]) != 0)
			rc = sm_error_set(err, SM_ERR_CONFIG,
					  "the rebuild to join (run %lld) rebuilds %s, which environment"
					  " %s does not configure: join with the configuration it was"
					  " started with", run->plan_run_id, types[i], run->eng->env->name);
	}
	if (rc == SM_OK) {
		pthread_mutex_lock(&run->lock);
		free(run->types);
		run->types = sm_xcalloc(n + 1, sizeof *run->types);
		for (size_t i = 0; i < n; i++)
			run->types[i].agg = aggs[i];
		run->n_types = n;
		pthread_mutex_unlock(&run->lock);
		sm_type_params_clear(&run->type_params);
		sm_type_params_init(&run->type_params, aggs, n);
		run->plan_fp_ids = fp_ids;
		fp_ids = NULL;
	}
	for (size_t i = 0; i < n; i++)
		free(types[i]);
	free(types);
	free(fp_ids);
	free(aggs);
	return rc;
}

/* A second planning rebuild is refused while one runs: say how to help
 * it instead. */
static int join_hint(sm_run *run, sm_error *err)
{
	size_t n = strlen(err->message);

	if (err->code == SM_ERR_BUSY && !run->join && strstr(err->message, "rebuild"))
		snprintf(err->message + n, sizeof err->message - n,
			 "; to help the running rebuild instead: snapmig rebuild --join");
	return err->code;
}

/* A joining process folds with the plan's reducers or not at all: each
 * type's fingerprint here must be the one the plan registered. */
static int join_fingerprints(sm_run *run, sm_error *err)
{
	for (size_t i = 0; i < run->n_types; i++) {
		const sm_type_fp *fp = &run->fps[i];

		if (fp->failed)
			return sm_error_set(err, SM_ERR_CONFIG, "cannot join run %lld: the reducer of %s"
					    " cannot be asked here: %s", run->plan_run_id,
					    fp->agg->type, fp->error);
		if (fp->id == 0 || fp->id != run->plan_fp_ids[i])
			return sm_error_set(err, SM_ERR_CONFIG, "cannot join run %lld: the reducer of %s"
					    " here is not the one the run was planned with (its"
					    " fingerprint differs: another configuration or program);"
					    " join with the same snapmig.conf and reducers",
					    run->plan_run_id, fp->agg->type);
	}
	return SM_OK;
}

static int prepare(sm_run *run, PGconn *conn, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	sm_store_layout *l = &run->layout;
	char *details;
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
	/* Rebuilds share the target (engine/work.h): the planning one holds
	 * R (one plan at a time) and K shared, a joining one K shared only;
	 * copy, rollback and discard take K exclusively. */
	if (sm_target_lock(run->lock_conn, run->eng, run->join ? SM_LOCK_JOIN : SM_LOCK_REBUILD,
			   run->join ? "rebuild --join" : "rebuild", err))
		return join_hint(run, err);
	if (run->join && (rc = join_plan(run, conn, err)) != SM_OK)
		return rc;
	details = sm_db_journal_details(details_json(run, false), NULL);
	rc = sm_db_journal_start(conn, set->target_schema, "rebuild", run->eng->env->name,
				 details, &run->run_id, err);
	free(details);
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
	/* A joining process registers nothing: its reducers must be the
	 * plan's. */
	rc = sm_target_fingerprints_known(conn, run->eng, aggs, run->n_types, !run->join, known,
					  hellos, &run->fps, err);
	free(aggs);
	free(hellos);
	free(known);
	if (rc == SM_OK && run->join)
		rc = join_fingerprints(run, err);
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
	     plan(run, conn, &err) == SM_OK;
	if (!ok)
		sm_run_fail(run, &err);
	/* The connection is not kept: a cancelled query may leave it
	 * unusable, and the workers may run for hours; the journal gets a
	 * fresh one. */
	sm_engine_disconnect(conn);
	return ok;
}

/* A rebuild's view of the whole plan, about once a second while its
 * workers run, on a connection of its own (best effort: the progress of
 * the other processes is only shown). */
static void poll_shared(sm_run *run, PGconn **conn)
{
	sm_error err;

	if (run->verify || !run->plan_run_id)
		return;
	if (!*conn && !(*conn = sm_engine_connect(run->eng, run->stop, &err)))
		return;
	if (sm_work_poll(*conn, run, &err) != SM_OK) {
		sm_engine_disconnect(*conn);
		*conn = NULL;
	}
}

void sm_run_workers(sm_run *run)
{
	int n = run->jobs < (int)run->n_chunks ? run->jobs : (int)run->n_chunks;
	sm_worker_arg *workers = sm_xcalloc((size_t)n + 1, sizeof *workers);
	pthread_t *threads = sm_xcalloc((size_t)n + 1, sizeof *threads);
	PGconn *poll_conn = NULL;

	atomic_store(&run->workers_left, n);
	for (int i = 0; i < n; i++) {
		workers[i].run = run;
		workers[i].id = i + 1;
		if (pthread_create(&threads[i], NULL, sm_rebuild_worker_main, &workers[i]) != 0) {
			sm_error err;

			sm_error_set(&err, SM_ERR_INTERNAL, "cannot start worker thread");
			sm_run_fail(run, &err);
			atomic_fetch_sub(&run->workers_left, n - i);
			n = i;
			break;
		}
	}
	poll_shared(run, &poll_conn);
	while (atomic_load(&run->workers_left) > 0) {
		for (int i = 0; i < 10 && atomic_load(&run->workers_left) > 0; i++)
			usleep(100000);
		poll_shared(run, &poll_conn);
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	poll_shared(run, &poll_conn);
	sm_engine_disconnect(poll_conn);
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
	char *details;
	sm_error jerr;
	PGconn *conn;

	/* Not run->stop: a cancelled run is journaled too. */
	if (!run->run_id || !(conn = sm_engine_connect(run->eng, NULL, &jerr)))
		return;
	pthread_mutex_lock(&run->lock);
	details = sm_db_journal_details(details_json(run, true),
					run->error.code != SM_OK ? run->error.message : NULL);
	pthread_mutex_unlock(&run->lock);
	sm_db_journal_finish(conn, run->eng->env->settings.target_schema, run->run_id, outcome,
			     details, &jerr);
	free(details);
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
	/* The engine's threads (this one and the workers it starts) block the
	 * signals a user stops a program with, and those a terminal program
	 * handles: they reach the caller's threads, and never interrupt a
	 * worker's system call. */
	if (sm_thread_start(&run->coordinator, main_fn, run) != 0) {
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
	if (opts && opts->join && (opts->n_types || opts->n_uuids || opts->only_failed))
		return sm_error_set(err, SM_ERR_USAGE, "a process that joins a rebuild takes its"
				    " types and filters from the plan: give none");
	rc = sm_engine_select_types(eng, opts ? opts->types : NULL, opts ? opts->n_types : 0,
				    &aggs, &n_aggs, err);
	if (rc)
		return rc;
	*out = sm_run_new(eng, aggs, n_aggs, opts ? opts->jobs : 0, opts ? opts->uuids : NULL,
			  opts ? opts->n_uuids : 0);
	free(aggs);
	(*out)->only_failed = opts && opts->only_failed;
	(*out)->join = opts && opts->join;
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

/* The plan of run as the caller sees it: sm_work_plan's counts, read
 * without writing. */
static int plan_summary(sm_run *run, PGconn *conn, bool have_failures, sm_rebuild_plan **out,
			sm_error *err)
{
	sm_work_type_plan *tp = sm_xcalloc(run->n_types + 1, sizeof *tp);
	long long chunks = 0;
	sm_rebuild_plan *p;
	int rc = sm_work_plan_summary(conn, run, have_failures, tp, &chunks, err);

	if (rc != SM_OK) {
		free(tp);
		return rc;
	}
	p = sm_xcalloc(1, sizeof *p);
	p->types = sm_xcalloc(run->n_types + 1, sizeof *p->types);
	p->n_types = run->n_types;
	for (size_t i = 0; i < run->n_types; i++) {
		const sm_aggregate *agg = run->types[i].agg;

		p->types[i].type = sm_xstrdup(agg->type);
		p->types[i].label = sm_xstrdup(agg->label ? agg->label : agg->type);
		p->types[i].instances = tp[i].instances;
		p->types[i].events = tp[i].events;
		p->types[i].failing = tp[i].failing;
		p->instances += tp[i].instances;
		p->events += tp[i].events;
		p->failing += tp[i].failing;
	}
	p->chunks = (size_t)chunks;
	p->jobs = run->jobs < (int)chunks ? run->jobs : (int)chunks;
	free(tp);
	*out = p;
	return SM_OK;
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
		rc = plan_summary(run, conn, have_failures, out, err);
	sm_engine_disconnect(conn);
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

/* A rebuild's counters as the whole plan's: the last poll's, plus what
 * this process did since (not in that poll yet). */
static sm_type_counters shared_view(const sm_type_counters *c)
{
	sm_type_counters v = *c;

	v.instances_done = c->sh_instances_done + (c->instances_done - c->base_instances);
	v.events_done = c->sh_events_done + (c->events_done - c->base_events);
	for (int k = 0; k < SM_FAIL__COUNT; k++)
		v.failures[k] = c->sh_failures[k] + (c->failures[k] - c->base_failures[k]);
	return v;
}

/* rate_events: the events of the rate, folded in elapsed. */
static void fill_type(sm_type_progress *p, const sm_type_counters *c, double elapsed,
		      long long rate_events)
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
	p->events_per_sec = elapsed > 0 ? (double)rate_events / elapsed : 0;
	p->eta_seconds = p->events_per_sec > 0
		? (double)(c->events_planned - c->events_done) / p->events_per_sec : -1;
}

void sm_run_progress(sm_run *run, sm_progress *out)
{
	double elapsed;
	sm_type_counters total;
	long long total_rate = 0;

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
	if (!run->verify) {
		out->plan_run_id = run->plan_run_id;
		out->chunks_total = run->chunks_total;
		out->chunks_done = run->chunks_done;
		out->processes = sm_xcalloc(run->n_procs + 1, sizeof *out->processes);
		if (run->n_procs)
			memcpy(out->processes, run->procs, run->n_procs * sizeof *run->procs);
		out->n_processes = run->n_procs;
	}
	for (size_t i = 0; i < run->n_types; i++) {
		sm_type_counters view = run->shared_valid ? shared_view(&run->types[i]) : run->types[i];
		const sm_type_counters *c = &view;
		/* The plan's events over this process's time, unless it
		 * joined: then it was not there for the others' earlier
		 * work, and its rate is its own events'. */
		long long rate = run->join ? run->types[i].events_done : c->events_done;

		fill_type(&out->types[i], c, elapsed, rate);
		total_rate += rate;
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
		fill_type(&out->total, &total, elapsed, total_rate);
	}
}

void sm_progress_clear(sm_progress *p)
{
	free(p->types);
	free(p->processes);
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
	free(run->procs);
	free(run->plan_fp_ids);
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
