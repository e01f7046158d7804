/*
 * Verify runs: planning, the comparison of each fold with its live
 * snapshot, and the report.  The workers and the fold are the rebuild's
 * (engine/rebuild_worker.c, engine/rebuild_fold.c); see verify_internal.h
 * for how a verify run differs from a rebuild.
 *
 * Planning selects, per configured type, the live snapshots at the type's
 * target module version (sm_db_instances_sql's mv = target: the same rule
 * as inventory and rebuild), or the instances asked for by uuid, then the
 * sample: the first N (or P %) of each type in the order of
 * md5(seed || source_uuid), a spread that the same seed repeats.  Each
 * instance is folded from the initial state through the events up to its
 * live snapshot's source_version.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/reducer.h"
#include "engine/verify_internal.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/json_diff.h"

#define DEFAULT_EXAMPLES 10
#define DEFAULT_PATHS 20
#define MAX_TYPE_PATHS 200     /* distinct differing paths kept per type */
#define MAX_INSTANCE_GPATHS 64 /* distinct generalized paths counted per instance */

/* ------------------------------------------------------------ the report */

/* One type's outcomes so far; guarded by the run's lock. */
typedef struct vtype {
	long long live, at_version;
	long long equal, different, failed, skipped, number_form;
	long long failures[SM_FAIL__COUNT];
	sm_verify_path *paths;
	size_t n_paths, cap_paths;
	bool paths_cut;
	/* Examples per outcome (equal, different, failed): the ones with the
	 * smallest source_uuids, so that the report does not depend on which
	 * worker finished first. */
	sm_verify_instance *ex[3];
	size_t n_ex[3], cap_ex[3];
} vtype;

struct sm_verify {
	sm_verify_options opts;    /* scalars only; types and uuids are the run's */
	vtype *types;              /* per run type */
	size_t n_types;
};

/* One instance's outcome, waiting in a batch. */
struct sm_verify_result {
	const sm_instance *inst;
	sm_verify_instance ex;     /* owned until moved into the report */
	bool number_form;
	char **gpaths;             /* distinct generalized paths where it differs */
	size_t n_gpaths;
};

static const char *const outcome_names[SM_VERIFY__COUNT] = {
	"equal", "different", "failed", "skipped",
};

const char *sm_verify_outcome_name(enum sm_verify_outcome outcome)
{
	return (unsigned)outcome < SM_VERIFY__COUNT ? outcome_names[outcome] : "unknown";
}

const char *sm_verify_diff_kind_name(enum sm_verify_diff_kind kind)
{
	switch (kind) {
	case SM_VDIFF_VALUE: return "value";
	case SM_VDIFF_ONLY_LIVE: return "only_live";
	case SM_VDIFF_ONLY_FOLDED: return "only_folded";
	case SM_VDIFF_NUMBER_FORM: return "number_form";
	}
	return "unknown";
}

static void instance_clear(sm_verify_instance *x)
{
	for (size_t i = 0; i < x->n_diffs; i++) {
		free(x->diffs[i].path);
		free(x->diffs[i].live);
		free(x->diffs[i].folded);
	}
	free(x->diffs);
	free(x->source_uuid);
	free(x->event_type);
	free(x->message);
	free(x->live_json);
	free(x->folded_json);
	memset(x, 0, sizeof *x);
}

static void instance_copy(sm_verify_instance *dst, const sm_verify_instance *src)
{
	*dst = *src;
	dst->source_uuid = sm_xstrdup(src->source_uuid);
	dst->event_type = sm_xstrdup(src->event_type);
	dst->message = sm_xstrdup(src->message);
	dst->live_json = sm_xstrdup(src->live_json);
	dst->folded_json = sm_xstrdup(src->folded_json);
	dst->diffs = sm_xcalloc(src->n_diffs + 1, sizeof *dst->diffs);
	for (size_t i = 0; i < src->n_diffs; i++) {
		dst->diffs[i] = src->diffs[i];
		dst->diffs[i].path = sm_xstrdup(src->diffs[i].path);
		dst->diffs[i].live = sm_xstrdup(src->diffs[i].live);
		dst->diffs[i].folded = sm_xstrdup(src->diffs[i].folded);
	}
}

void sm_verify_free(sm_verify *v)
{
	if (!v)
		return;
	for (size_t t = 0; t < v->n_types; t++) {
		vtype *vt = &v->types[t];

		for (size_t i = 0; i < vt->n_paths; i++)
			free(vt->paths[i].path);
		free(vt->paths);
		for (int o = 0; o < 3; o++) {
			for (size_t i = 0; i < vt->n_ex[o]; i++)
				instance_clear(&vt->ex[o][i]);
			free(vt->ex[o]);
		}
	}
	free(v->types);
	free(v);
}

/* ------------------------------------------------------------- batches */

void sm_verify_batch_init(sm_verify_batch *b, sm_run *run)
{
	memset(b, 0, sizeof *b);
	b->run = run;
}

static void result_clear(sm_verify_result *r)
{
	instance_clear(&r->ex);
	for (size_t i = 0; i < r->n_gpaths; i++)
		free(r->gpaths[i]);
	free(r->gpaths);
	memset(r, 0, sizeof *r);
}

void sm_verify_batch_discard(sm_verify_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		result_clear(&b->items[i]);
	b->n = 0;
}

void sm_verify_batch_free(sm_verify_batch *b)
{
	sm_verify_batch_discard(b);
	free(b->items);
	memset(b, 0, sizeof *b);
}

static sm_verify_result *new_result(sm_verify_batch *b, const sm_instance *inst,
				    enum sm_verify_outcome outcome)
{
	sm_verify_result *r;

	b->items = sm_xgrow(b->items, &b->cap, b->n + 1, sizeof *b->items);
	r = &b->items[b->n++];
	memset(r, 0, sizeof *r);
	r->inst = inst;
	r->ex.source_uuid = sm_xstrdup(inst->uuid);
	r->ex.version = inst->end_version;
	r->ex.module_version = inst->module_version;
	r->ex.outcome = outcome;
	return r;
}

void sm_verify_batch_fail(sm_verify_batch *b, const sm_instance *inst, enum sm_failure_kind kind,
			  long long version, const char *event_type, const char *message)
{
	sm_verify_result *r = new_result(b, inst, SM_VERIFY_FAILED);

	r->ex.kind = kind;
	r->ex.fail_version = version;
	r->ex.event_type = event_type && *event_type ? sm_xstrdup(event_type) : NULL;
	r->ex.message = sm_xstrdup(message);
}

void sm_verify_batch_skip(sm_verify_batch *b, const sm_instance *inst)
{
	new_result(b, inst, SM_VERIFY_SKIPPED);
}

/* A value's JSON text, cut at SM_VERIFY_VALUE_MAX bytes (at a UTF-8
 * boundary); NULL for an absent one. */
static char *value_text(json_object *v, bool present, bool *cut)
{
	size_t len, n;
	const char *text;

	*cut = false;
	if (!present)
		return NULL;
	/* Printing caches the text in v: v belongs to this worker's states. */
	text = sm_json_print(v, &len);
	n = len;
	if (n > SM_VERIFY_VALUE_MAX) {
		n = SM_VERIFY_VALUE_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
		*cut = true;
	}
	return sm_xasprintf("%.*s%s", (int)n, text, *cut ? "..." : "");
}

typedef struct collector {
	sm_verify_result *r;
	size_t max_paths;
	size_t cap;
	bool present_a, present_b;
} collector;

static bool collect(void *ctx, enum sm_json_diff_kind kind, const char *path, const char *gpath,
		    json_object *va, json_object *vb)
{
	collector *c = ctx;
	sm_verify_result *r = c->r;
	sm_verify_difference *d;

	if (kind == SM_DIFF_NUMBER_FORM) {
		r->number_form = true;
	} else if (r->n_gpaths < MAX_INSTANCE_GPATHS) {
		bool seen = false;

		for (size_t i = 0; i < r->n_gpaths && !seen; i++)
			seen = strcmp(r->gpaths[i], gpath) == 0;
		if (!seen) {
			r->gpaths = sm_xrealloc(r->gpaths, (r->n_gpaths + 1) * sizeof *r->gpaths);
			r->gpaths[r->n_gpaths++] = sm_xstrdup(gpath);
		}
	}
	if (r->ex.n_diffs >= c->max_paths)
		return true;  /* counted by sm_json_diff all the same */
	r->ex.diffs = sm_xgrow(r->ex.diffs, &c->cap, r->ex.n_diffs + 1, sizeof *r->ex.diffs);
	d = &r->ex.diffs[r->ex.n_diffs++];
	memset(d, 0, sizeof *d);
	d->kind = kind == SM_DIFF_ONLY_A ? SM_VDIFF_ONLY_LIVE
		: kind == SM_DIFF_ONLY_B ? SM_VDIFF_ONLY_FOLDED
		: kind == SM_DIFF_NUMBER_FORM ? SM_VDIFF_NUMBER_FORM : SM_VDIFF_VALUE;
	d->path = sm_xstrdup(path);
	d->live = value_text(va, kind != SM_DIFF_ONLY_B, &d->live_cut);
	d->folded = value_text(vb, kind != SM_DIFF_ONLY_A, &d->folded_cut);
	return true;
}

void sm_verify_batch_compare(sm_verify_batch *b, const sm_instance *inst, json_object *initial,
			     json_object *live, json_object *state)
{
	const sm_verify_options *o = &b->run->verify->opts;
	json_object *decoded = initial ? sm_struct_decode(initial, live) : json_object_get(live);
	sm_verify_result *r = new_result(b, inst, SM_VERIFY_EQUAL);
	collector c;
	size_t n;

	memset(&c, 0, sizeof c);
	c.r = r;
	c.max_paths = (size_t)o->paths;
	n = sm_json_diff(decoded, state, collect, &c);
	r->ex.differences = (long long)n;
	r->ex.outcome = n ? SM_VERIFY_DIFFERENT : SM_VERIFY_EQUAL;
	if (o->keep_states) {
		r->ex.live_json = sm_xstrdup(sm_json_print(decoded, NULL));
		r->ex.folded_json = sm_xstrdup(sm_json_print(state, NULL));
	}
	json_object_put(decoded);
}

/* Counts gpath for one more differing instance of vt. */
static void count_path(vtype *vt, const char *gpath)
{
	for (size_t i = 0; i < vt->n_paths; i++)
		if (strcmp(vt->paths[i].path, gpath) == 0) {
			vt->paths[i].instances++;
			return;
		}
	if (vt->n_paths >= MAX_TYPE_PATHS) {
		vt->paths_cut = true;
		return;
	}
	vt->paths = sm_xgrow(vt->paths, &vt->cap_paths, vt->n_paths + 1, sizeof *vt->paths);
	vt->paths[vt->n_paths].path = sm_xstrdup(gpath);
	vt->paths[vt->n_paths].instances = 1;
	vt->n_paths++;
}

/* Keeps r's example when it is among the `max` smallest source_uuids of
 * its outcome (moves it out of r). */
static void keep_example(vtype *vt, int slot, size_t max, sm_verify_result *r)
{
	size_t worst = 0;

	if (vt->n_ex[slot] < max) {
		vt->ex[slot] = sm_xgrow(vt->ex[slot], &vt->cap_ex[slot], vt->n_ex[slot] + 1,
					sizeof *vt->ex[slot]);
		vt->ex[slot][vt->n_ex[slot]++] = r->ex;
		memset(&r->ex, 0, sizeof r->ex);
		return;
	}
	if (max == 0)
		return;
	for (size_t i = 1; i < vt->n_ex[slot]; i++)
		if (strcmp(vt->ex[slot][i].source_uuid, vt->ex[slot][worst].source_uuid) > 0)
			worst = i;
	if (strcmp(r->ex.source_uuid, vt->ex[slot][worst].source_uuid) < 0) {
		instance_clear(&vt->ex[slot][worst]);
		vt->ex[slot][worst] = r->ex;
		memset(&r->ex, 0, sizeof r->ex);
	}
}

void sm_verify_batch_commit(sm_verify_batch *b)
{
	sm_run *run = b->run;
	const sm_verify_options *o = &run->verify->opts;

	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < b->n; i++) {
		sm_verify_result *r = &b->items[i];
		int t = r->inst->type_index;
		vtype *vt = &run->verify->types[t];
		sm_type_counters *c = &run->types[t];

		c->instances_done++;
		switch (r->ex.outcome) {
		case SM_VERIFY_EQUAL:
			vt->equal++;
			c->equal++;
			vt->number_form += r->number_form;
			if (o->keep_equal)
				keep_example(vt, 0, (size_t)o->examples, r);
			break;
		case SM_VERIFY_DIFFERENT:
			vt->different++;
			c->different++;
			for (size_t k = 0; k < r->n_gpaths; k++)
				count_path(vt, r->gpaths[k]);
			keep_example(vt, 1, (size_t)o->examples, r);
			break;
		case SM_VERIFY_FAILED:
			vt->failed++;
			vt->failures[r->ex.kind]++;
			c->failures[r->ex.kind]++;
			keep_example(vt, 2, (size_t)o->examples, r);
			break;
		default:
			vt->skipped++;
			break;
		}
	}
	pthread_mutex_unlock(&run->lock);
	sm_verify_batch_discard(b);
}

/* ------------------------------------------------------------- planning */

/* One row of the plan query (columns: uuid, type, stream_id, missing, mv,
 * snap_version). */
static void add_instance(sm_run *run, const PGresult *res, size_t *cap)
{
	sm_instance *x = sm_run_add_instance(run, res, cap);

	x->module_version = sm_db_ll(res, 0, 4);
	x->start_kind = SM_START_INITIAL;
	x->start_version = 0;
	x->end_version = sm_db_ll(res, 0, 5);
	x->any_module_version = run->n_uuids > 0;
	if (!x->prefail && x->module_version < 0) {
		x->prefail = SM_FAIL_BAD_SNAPSHOT;
		x->prefail_msg = "snapshot metadata is not valid JSON";
	}
}

/* Live snapshots per type, and how many are at the target version. */
static int count_live(sm_run *run, PGconn *conn, const char *inst, const char *const *params,
		      sm_error *err)
{
	char *sql = sm_xasprintf("SELECT j.source_type, count(*), count(*) FILTER (WHERE j.mv = j.target)"
				 " FROM (%s) j GROUP BY j.source_type", inst);
	PGresult *res = sm_db_query(conn, sql, 3, params, err);

	free(sql);
	if (!res)
		return SM_ERR_DB;
	for (int i = 0; i < PQntuples(res); i++)
		for (size_t t = 0; t < run->n_types; t++)
			if (strcmp(run->types[t].agg->type, PQgetvalue(res, i, 0)) == 0) {
				run->verify->types[t].live = sm_db_ll(res, i, 1);
				run->verify->types[t].at_version = sm_db_ll(res, i, 2);
			}
	PQclear(res);
	return SM_OK;
}

static int plan(sm_run *run, PGconn *conn, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	const sm_verify_options *o = &run->verify->opts;
	sm_store_layout source_only = run->layout;
	char *a_uuids = NULL, *inst, *sql;
	char seed[32], sample[32], pct[64];
	int rc;

	/* Verify reads the live store alone: no target table in the query. */
	source_only.tgt_data = source_only.tgt_meta = SM_COL_MISSING;
	inst = sm_db_instances_sql(conn, set, &source_only, true);
	if (run->n_uuids)
		a_uuids = sm_db_text_array((const char *const *)run->uuids, run->n_uuids);
	snprintf(seed, sizeof seed, "%llu", o->seed);
	snprintf(sample, sizeof sample, "%lld", o->sample);
	snprintf(pct, sizeof pct, "%.17g", o->sample_percent);
	sql = sm_xasprintf(
		"SELECT q.source_uuid, q.source_type, COALESCE(q.stream_id, 0), q.missing, q.mv,"
		" q.snap_version FROM ("
		"  SELECT j.*, row_number() OVER (PARTITION BY j.source_type"
		"    ORDER BY md5($5 || j.source_uuid), j.source_uuid) AS rn,"
		"   count(*) OVER (PARTITION BY j.source_type) AS n"
		"  FROM (%s) j"
		"  WHERE CASE WHEN $4::text[] IS NULL THEN j.mv = j.target"
		"   ELSE j.source_uuid = ANY($4::text[]) END) q"
		" WHERE ($6::bigint = 0 OR q.rn <= $6::bigint)"
		" AND ($7::float8 = 0 OR q.rn <= ceil(q.n * $7::float8 / 100.0))",
		inst);
	{
		const char *params[] = { set->metadata_key, run->type_params.types,
					 run->type_params.versions, a_uuids, seed, sample, pct };

		rc = sm_db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
		if (rc == SM_OK)
			rc = count_live(run, conn, inst, params, err);
		if (rc == SM_OK)
			rc = sm_run_read_plan(run, conn, sql, params, 7, add_instance, err);
		if (rc == SM_OK)
			rc = sm_db_exec(conn, "COMMIT", err);
	}
	free(a_uuids);
	free(inst);
	free(sql);
	return rc;
}

static void *coordinator_main(void *arg)
{
	sm_run *run = arg;
	const char *outcome;
	sm_error err;
	PGconn *conn;
	bool ok;

	sm_error_clear(&err);
	conn = sm_engine_connect(run->eng, run->stop, &err);
	ok = conn != NULL;
	if (ok) {
		char name[64];

		snprintf(name, sizeof name, "verify-%ld", (long)getpid());
		run->log_path = sm_run_log_path(run, name);
		ok = sm_run_read_layout(run, conn, &err) == SM_OK &&
		     sm_run_handshakes(run, &err) == SM_OK && plan(run, conn, &err) == SM_OK;
		sm_engine_disconnect(conn);
	}
	if (!ok) {
		sm_run_fail(run, &err);
	} else {
		sm_run_set_state(run, atomic_load(&run->cancel) ? SM_RUN_CANCELLING : SM_RUN_RUNNING);
		sm_run_workers(run);
	}
	sm_run_close_ready(run);
	sm_run_end(run, sm_run_final_state(run, &outcome));
	return NULL;
}

int sm_verify_start(sm_engine *eng, const sm_verify_options *opts, sm_run **out, sm_error *err)
{
	sm_verify_options o;
	const sm_aggregate **aggs = NULL;
	size_t n_aggs = 0;
	sm_run *run;
	int rc;

	*out = NULL;
	memset(&o, 0, sizeof o);
	if (opts)
		o = *opts;
	if (o.sample < 0 || o.sample_percent < 0 || o.sample_percent > 100 || isnan(o.sample_percent))
		return sm_error_set(err, SM_ERR_USAGE, "a sample is a count or a percentage (0-100)");
	if (o.examples <= 0)
		o.examples = DEFAULT_EXAMPLES;
	if (o.paths <= 0)
		o.paths = DEFAULT_PATHS;
	rc = sm_engine_select_types(eng, o.types, o.n_types, &aggs, &n_aggs, err);
	if (rc)
		return rc;
	run = sm_run_new(eng, aggs, n_aggs, o.jobs, o.uuids, o.n_uuids);
	free(aggs);
	o.types = o.uuids = NULL;
	o.n_types = o.n_uuids = 0;
	run->verify = sm_xcalloc(1, sizeof *run->verify);
	run->verify->opts = o;
	run->verify->types = sm_xcalloc(run->n_types + 1, sizeof *run->verify->types);
	run->verify->n_types = run->n_types;
	if ((rc = sm_run_launch(run, coordinator_main, err)) != SM_OK)
		return rc;
	*out = run;
	return SM_OK;
}

/* ---------------------------------------------------------- reading it */

static int path_order(const void *x, const void *y)
{
	const sm_verify_path *a = x, *b = y;

	if (a->instances != b->instances)
		return a->instances > b->instances ? -1 : 1;
	return strcmp(a->path, b->path);
}

static int example_order(const void *x, const void *y)
{
	return strcmp(((const sm_verify_instance *)x)->source_uuid,
		      ((const sm_verify_instance *)y)->source_uuid);
}

/* A copy of vt for the report (run locked). */
static void report_type(sm_verify_type *out, const sm_type_counters *c, const vtype *vt)
{
	static const int order[3] = { 1, 2, 0 };  /* different, failed, equal */
	size_t n = 0;

	out->type = sm_xstrdup(c->agg->type);
	out->label = sm_xstrdup(c->agg->label ? c->agg->label : c->agg->type);
	out->target_version = c->agg->snapshot_version;
	out->live = vt->live;
	out->at_version = vt->at_version;
	out->planned = c->instances_planned;
	out->equal = vt->equal;
	out->different = vt->different;
	out->failed = vt->failed;
	out->skipped = vt->skipped;
	out->checked = vt->equal + vt->different + vt->failed;
	out->number_form = vt->number_form;
	memcpy(out->failures, vt->failures, sizeof out->failures);
	out->paths = sm_xcalloc(vt->n_paths + 1, sizeof *out->paths);
	for (size_t i = 0; i < vt->n_paths; i++) {
		out->paths[i].path = sm_xstrdup(vt->paths[i].path);
		out->paths[i].instances = vt->paths[i].instances;
	}
	out->n_paths = vt->n_paths;
	out->paths_cut = vt->paths_cut;
	qsort(out->paths, out->n_paths, sizeof *out->paths, path_order);
	out->instances = sm_xcalloc(vt->n_ex[0] + vt->n_ex[1] + vt->n_ex[2] + 1,
				    sizeof *out->instances);
	for (int k = 0; k < 3; k++) {
		int slot = order[k];
		size_t first = n;

		for (size_t i = 0; i < vt->n_ex[slot]; i++)
			instance_copy(&out->instances[n++], &vt->ex[slot][i]);
		qsort(out->instances + first, n - first, sizeof *out->instances, example_order);
	}
	out->n_instances = n;
}

int sm_verify_report_read(sm_run *run, sm_verify_report **out, sm_error *err)
{
	sm_verify_report *r;

	*out = NULL;
	if (!run->verify)
		return sm_error_set(err, SM_ERR_USAGE, "not a verify run");
	r = sm_xcalloc(1, sizeof *r);
	pthread_mutex_lock(&run->lock);
	r->state = run->state;
	if (r->state == SM_RUN_RUNNING && atomic_load(&run->cancel))
		r->state = SM_RUN_CANCELLING;
	r->elapsed_seconds = run->finished_elapsed >= 0 ? run->finished_elapsed : sm_run_elapsed(run);
	r->jobs = run->jobs;
	r->seed = run->verify->opts.seed;
	r->sampled = run->verify->opts.sample > 0 || run->verify->opts.sample_percent > 0;
	r->error = run->error;
	r->types = sm_xcalloc(run->n_types + 1, sizeof *r->types);
	r->n_types = run->n_types;
	for (size_t t = 0; t < run->n_types; t++) {
		r->events += run->types[t].events_done;
		report_type(&r->types[t], &run->types[t], &run->verify->types[t]);
	}
	pthread_mutex_unlock(&run->lock);
	*out = r;
	return SM_OK;
}

void sm_verify_report_free(sm_verify_report *report)
{
	if (!report)
		return;
	for (size_t t = 0; t < report->n_types; t++) {
		sm_verify_type *vt = &report->types[t];

		free(vt->type);
		free(vt->label);
		for (size_t i = 0; i < vt->n_paths; i++)
			free(vt->paths[i].path);
		free(vt->paths);
		for (size_t i = 0; i < vt->n_instances; i++)
			instance_clear(&vt->instances[i]);
		free(vt->instances);
	}
	free(report->types);
	free(report);
}
