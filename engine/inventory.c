/*
 * Inventory (what the overview shows) and pre-flight (unknown event types),
 * both read-only and computed in SQL: counts, never event data.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/reducer.h"
#include "engine/reducer_exec.h"
#include "engine/target.h"
#include "util/alloc.h"

static const char *label_of(const char *type)
{
	const char *dot = strrchr(type, '.');

	return dot && dot[1] ? dot + 1 : type;
}

static sm_type_inventory *find_or_add(sm_inventory *inv, size_t *cap, const char *type)
{
	for (size_t i = 0; i < inv->n_types; i++)
		if (strcmp(inv->types[i].type, type) == 0)
			return &inv->types[i];
	inv->types = sm_xgrow(inv->types, cap, inv->n_types + 1, sizeof *inv->types);
	memset(&inv->types[inv->n_types], 0, sizeof inv->types[0]);
	inv->types[inv->n_types].type = sm_xstrdup(type);
	inv->types[inv->n_types].label = sm_xstrdup(label_of(type));
	return &inv->types[inv->n_types++];
}

static int cmp_version_desc(const void *a, const void *b)
{
	const sm_version_count *x = a, *y = b;

	return (x->version < y->version) - (x->version > y->version);
}

static int cmp_unconfigured(const void *a, const void *b)
{
	const sm_type_inventory *x = a, *y = b;

	return strcmp(x->type, y->type);
}

/* Checks the target, prepares the session and reads the layout into inv. */
static int read_layout(PGconn *conn, const sm_engine *eng, sm_inventory *inv,
		       sm_store_layout *layout, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	int rc = sm_target_check(conn, eng, err);

	if (rc == SM_OK)
		rc = sm_store_prepare_session(conn, err);
	if (rc == SM_OK)
		rc = sm_store_layout_read(conn, set, layout, err);
	if (rc != SM_OK)
		return rc;
	inv->source_data = layout->snap_data;
	inv->source_metadata = layout->snap_meta;
	inv->target_data = layout->tgt_data;
	inv->target_metadata = layout->tgt_meta;
	inv->source_double_encoded = layout->double_encoded;
	if (inv->source_data == SM_COL_MISSING)
		return sm_error_set(err, SM_ERR_DB, "%s.snapshots not found (or not readable): "
				    "is this an EventStore database?", set->source_schema);
	return SM_OK;
}

/* One row per type and module version of the instances query. */
static void add_counts(sm_inventory *inv, size_t *cap, const PGresult *res)
{
	for (int r = 0; r < PQntuples(res); r++) {
		sm_type_inventory *t = find_or_add(inv, cap, PQgetvalue(res, r, 0));
		long long n = sm_db_ll(res, r, 2);

		t->versions = sm_xrealloc(t->versions, (t->n_versions + 1) * sizeof *t->versions);
		t->versions[t->n_versions].version = sm_db_ll(res, r, 1);
		t->versions[t->n_versions].count = n;
		t->n_versions++;
		t->snapshots += n;
		t->stale += sm_db_ll(res, r, 3);
		t->behind += sm_db_ll(res, r, 4);
		t->events_to_fold += sm_db_ll(res, r, 5);
		t->missing_streams += sm_db_ll(res, r, 6);
		t->target_at_version += sm_db_ll(res, r, 8);
		t->target_current += sm_db_ll(res, r, 9);
	}
}

/* The configured types first, in config order, even without snapshots;
 * then every other type found in the store, by name. */
static int count_instances(PGconn *conn, const sm_engine *eng, const sm_store_layout *layout,
			   sm_inventory *inv, sm_error *err)
{
	const sm_config *cfg = eng->cfg;
	const sm_aggregate **aggs = sm_xcalloc(cfg->n_aggs + 1, sizeof *aggs);
	size_t cap = 0, n_configured;
	sm_type_params tp;
	PGresult *res;
	char *inst, *sql;

	for (size_t i = 0; i < cfg->n_aggs; i++) {
		sm_type_inventory *t = find_or_add(inv, &cap, cfg->aggs[i].type);

		aggs[i] = &cfg->aggs[i];
		free(t->label);
		t->label = sm_xstrdup(cfg->aggs[i].label ? cfg->aggs[i].label : label_of(cfg->aggs[i].type));
		t->configured = true;
		t->target_version = cfg->aggs[i].snapshot_version;
	}
	n_configured = inv->n_types;
	sm_type_params_init(&tp, aggs, cfg->n_aggs);
	inst = sm_db_instances_sql(conn, &eng->env->settings, layout, false);
	sql = sm_xasprintf(
		"SELECT j.source_type, j.mv, count(*),"
		" count(*) FILTER (WHERE j.target IS NOT NULL AND j.mv IS DISTINCT FROM j.target),"
		" count(*) FILTER (WHERE j.mv = j.target AND NOT j.missing AND j.end_version > j.snap_version),"
		" COALESCE(sum(CASE WHEN j.target IS NULL OR j.missing THEN 0"
		"   ELSE greatest(j.end_version - j.start_version, 0) END), 0),"
		" count(*) FILTER (WHERE j.missing),"
		" 0,"   /* every generated row, current or not: count_generated */
		" count(*) FILTER (WHERE j.tmv = j.target),"
		" count(*) FILTER (WHERE j.tmv = j.target AND j.tgt_version >= j.end_version)"
		" FROM (%s) j GROUP BY j.source_type, j.mv", inst);
	{
		const char *params[] = { eng->env->settings.metadata_key, tp.types, tp.versions };

		res = sm_db_query(conn, sql, 3, params, err);
	}
	free(inst);
	free(sql);
	free(aggs);
	sm_type_params_clear(&tp);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	add_counts(inv, &cap, res);
	PQclear(res);
	/* A type without snapshots has no versions array at all, and qsort
	 * wants a valid pointer even for zero elements (UBSan: nonnull). */
	for (size_t i = 0; i < inv->n_types; i++)
		if (inv->types[i].n_versions > 1)
			qsort(inv->types[i].versions, inv->types[i].n_versions,
			      sizeof inv->types[i].versions[0], cmp_version_desc);
	if (inv->n_types - n_configured > 1)
		qsort(inv->types + n_configured, inv->n_types - n_configured,
		      sizeof inv->types[0], cmp_unconfigured);
	return SM_OK;
}

/* Who holds the target now, and the current fingerprints (pg_temp.sm_gen,
 * which the instances query reads; engine/target.h).  *fps: NULL when the
 * target has no snapshots table yet. */
static int read_target(PGconn *conn, const sm_engine *eng, const sm_store_layout *layout,
		       sm_inventory *inv, sm_type_fp **fps, sm_error *err)
{
	const sm_config *cfg = eng->cfg;
	const sm_aggregate **aggs;
	int rc = sm_target_activity(conn, eng, &inv->activity, err);

	*fps = NULL;
	if (rc != SM_OK || layout->tgt_data == SM_COL_MISSING)
		return rc;
	aggs = sm_xcalloc(cfg->n_aggs + 1, sizeof *aggs);
	for (size_t i = 0; i < cfg->n_aggs; i++)
		aggs[i] = &cfg->aggs[i];
	rc = sm_target_fingerprints(conn, eng, aggs, cfg->n_aggs, false, fps, err);
	free(aggs);
	return rc;
}

/* Every generated row per type, and how many of them are not current
 * (stale); a type whose reducer could not be asked says why.  The
 * configured types are the first of inv, in config order. */
static int count_generated(PGconn *conn, const sm_engine *eng, const sm_type_fp *fps,
			   sm_inventory *inv, sm_error *err)
{
	char *t, *sql;
	PGresult *res;

	if (!fps)
		return SM_OK;
	for (size_t i = 0; i < eng->cfg->n_aggs; i++)
		if (fps[i].failed)
			inv->types[i].fingerprint_error = sm_xstrdup(fps[i].error);
	t = sm_db_ident(conn, eng->env->settings.target_schema);
	sql = sm_xasprintf("SELECT t.source_type, count(*), count(g.source_uuid)"
			   " FROM %s.snapshots t LEFT JOIN pg_temp.sm_gen g"
			   " ON g.source_uuid = t.source_uuid GROUP BY 1", t);
	res = sm_db_query(conn, sql, 0, NULL, err);
	free(sql);
	free(t);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	for (int r = 0; r < PQntuples(res); r++)
		for (size_t i = 0; i < inv->n_types; i++)
			if (strcmp(inv->types[i].type, PQgetvalue(res, r, 0)) == 0) {
				inv->types[i].target_rows = sm_db_ll(res, r, 1);
				inv->types[i].target_stale = sm_db_ll(res, r, 1) - sm_db_ll(res, r, 2);
			}
	PQclear(res);
	return SM_OK;
}

/* Failures recorded per type, and the last run. */
static int read_journal(PGconn *conn, const char *target, sm_inventory *inv, sm_error *err)
{
	PGresult *res;
	int rc = sm_db_query_snapmig_table(conn, target, "snapmig_failures",
					   "SELECT source_type, count(*) FROM %s.snapmig_failures"
					   " GROUP BY 1", 0, NULL, &res, err);

	for (int r = 0; res && r < PQntuples(res); r++)
		for (size_t i = 0; i < inv->n_types; i++)
			if (strcmp(inv->types[i].type, PQgetvalue(res, r, 0)) == 0)
				inv->types[i].failures = sm_db_ll(res, r, 1);
	PQclear(res);
	if (rc == SM_OK)
		rc = sm_db_query_snapmig_table(conn, target, "snapmig_runs",
					       "SELECT max(run_id) FROM %s.snapmig_runs", 0, NULL,
					       &res, err);
	if (res)
		inv->last_run_id = sm_db_ll(res, 0, 0);
	PQclear(res);
	return rc;
}

int sm_inventory_read(sm_engine *eng, sm_cancel *cancel, sm_inventory **out, sm_error *err)
{
	sm_inventory *inv = sm_xcalloc(1, sizeof *inv);
	sm_store_layout layout;
	sm_type_fp *fps = NULL;
	PGconn *conn;
	int rc;

	*out = NULL;
	conn = sm_engine_connect(eng, cancel, err);
	rc = conn ? read_layout(conn, eng, inv, &layout, err) : sm_error_code(err, SM_ERR_DB);
	if (rc == SM_OK)
		rc = read_target(conn, eng, &layout, inv, &fps, err);
	if (rc == SM_OK)
		rc = count_instances(conn, eng, &layout, inv, err);
	if (rc == SM_OK)
		rc = count_generated(conn, eng, fps, inv, err);
	if (rc == SM_OK)
		rc = read_journal(conn, eng->env->settings.target_schema, inv, err);
	sm_engine_disconnect(conn);
	sm_type_fps_free(fps, eng->cfg->n_aggs);
	if (rc == SM_OK)
		*out = inv;
	else
		sm_inventory_free(inv);
	return rc;
}

void sm_inventory_free(sm_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->n_types; i++) {
		free(inv->types[i].type);
		free(inv->types[i].label);
		free(inv->types[i].versions);
		free(inv->types[i].fingerprint_error);
	}
	free(inv->types);
	free(inv);
}

/* ------------------------------------------------------------ preflight */

static void free_strings(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* A row (source_type, event_type, count, streams, examples) of the
 * pre-flight's queries into u. */
static void unknown_from_row(const PGresult *res, int r, sm_unknown_event *u)
{
	json_object *ex = json_tokener_parse(PQgetvalue(res, r, 4));

	memset(u, 0, sizeof *u);
	u->source_type = sm_xstrdup(PQgetvalue(res, r, 0));
	u->event_type = sm_xstrdup(PQgetvalue(res, r, 1));
	u->events = sm_db_ll(res, r, 2);
	u->streams = sm_db_ll(res, r, 3);
	u->kind = SM_FAIL_UNKNOWN_EVENT;
	if (ex && json_object_is_type(ex, json_type_array)) {
		size_t n = json_object_array_length(ex);

		u->examples = sm_xcalloc(n + 1, sizeof *u->examples);
		for (size_t k = 0; k < n; k++)
			u->examples[u->n_examples++] =
				sm_xstrdup(json_object_get_string(json_object_array_get_idx(ex, k)));
	}
	json_object_put(ex);
}

static sm_unknown_event *add_unknown(sm_preflight *pf, size_t *cap)
{
	pf->unknown = sm_xgrow(pf->unknown, cap, pf->n_unknown + 2, sizeof *pf->unknown);
	return &pf->unknown[pf->n_unknown++];
}

static void add_skipped(sm_preflight *pf, const char *type)
{
	pf->skipped_types = sm_xrealloc(pf->skipped_types, (pf->n_skipped + 1) * sizeof *pf->skipped_types);
	pf->skipped_types[pf->n_skipped++] = sm_xstrdup(type);
}

/* As the query orders them: by type, most events first, by event type. */
static int cmp_unknown(const void *a, const void *b)
{
	const sm_unknown_event *x = a, *y = b;
	int c = strcmp(x->source_type, y->source_type);

	if (c)
		return c;
	if (x->events != y->events)
		return x->events > y->events ? -1 : 1;
	return strcmp(x->event_type, y->event_type);
}

/*
 * The external reducers' part: the store's event types of each type's
 * streams (res: rows as unknown_from_row reads, for the exec types), each
 * reducer's handshake and, when it answers them, its "types" reply; the
 * types it cannot fold go to pf->unknown with what it said.  A reducer
 * that lists its types (no "types" requests) is checked against its list,
 * one that answers "any" is skipped.  Errors: the first handshake that
 * failed.
 */
static int check_exec(sm_engine *eng, const sm_store_layout *l, const sm_aggregate *const *aggs,
		       size_t n_aggs, const PGresult *res, sm_preflight *pf, size_t *cap,
		       sm_error *err)
{
	sm_reducer_check *checks = sm_xcalloc(n_aggs + 1, sizeof *checks);
	const char **types = sm_xcalloc((size_t)PQntuples(res) + 1, sizeof *types);
	size_t n_types = 0;
	int rc = SM_OK;

	for (size_t i = 0; i < n_aggs; i++) {
		checks[i].agg = aggs[i];
		checks[i].types = types + n_types;
		for (int r = 0; r < PQntuples(res); r++)
			if (strcmp(PQgetvalue(res, r, 0), aggs[i]->type) == 0)
				types[n_types++] = PQgetvalue(res, r, 1);
		checks[i].n_types = (size_t)(types + n_types - checks[i].types);
	}
	sm_reducer_checks_run(eng->cfg, l->ev_data, l->ev_meta, checks, n_aggs);
	for (size_t i = 0; i < n_aggs; i++) {
		const sm_reducer_check *c = &checks[i];

		if (c->rc != SM_OK) {
			if (rc == SM_OK) {
				*err = c->err;
				rc = c->rc;
			}
			continue;
		}
		if (!c->hello.types_request && c->hello.any) {
			add_skipped(pf, aggs[i]->type);
			continue;
		}
		for (int r = 0; r < PQntuples(res); r++) {
			const char *ev = PQgetvalue(res, r, 1);
			const sm_exec_unknown_type *said = NULL;
			bool listed = false;

			if (strcmp(PQgetvalue(res, r, 0), aggs[i]->type) != 0)
				continue;
			for (size_t k = 0; k < c->reply.n_unknown; k++)
				if (strcmp(c->reply.unknown[k].type, ev) == 0)
					said = &c->reply.unknown[k];
			for (size_t k = 0; !c->hello.types_request && k < c->hello.n_types; k++)
				listed = listed || strcmp(c->hello.types[k], ev) == 0;
			if (c->hello.types_request ? said != NULL : !listed) {
				sm_unknown_event *u = add_unknown(pf, cap);

				unknown_from_row(res, r, u);
				if (said) {
					u->kind = said->kind == SM_FAIL_UNKNOWN_EVENT ? SM_FAIL_UNKNOWN_EVENT
										    : SM_FAIL_REDUCER;
					u->message = sm_xstrdup(said->message);
				}
			}
		}
	}
	pf->reducers = sm_xcalloc(n_aggs + 1, sizeof *pf->reducers);
	for (size_t i = 0; i < n_aggs; i++) {
		sm_reducer_desc_fill(&pf->reducers[i], aggs[i], &checks[i]);
		pf->n_mismatches += pf->reducers[i].version_mismatch;
		sm_reducer_check_clear(&checks[i]);
	}
	pf->n_reducers = n_aggs;
	free(checks);
	free(types);
	return rc;
}

/* The rules types first, then the external ones, in config order; the
 * reducers' descriptions the same way (check_exec made the exec ones). */
static void describe_rules(sm_preflight *pf, const sm_aggregate *const *aggs, size_t n_aggs)
{
	sm_reducer_desc *all = sm_xcalloc(n_aggs + pf->n_reducers + 1, sizeof *all);
	size_t n = 0, k = 0;

	for (size_t i = 0; i < n_aggs; i++) {
		if (aggs[i]->exec && k < pf->n_reducers)
			all[n++] = pf->reducers[k++];
		else
			sm_reducer_desc_fill(&all[n++], aggs[i], NULL);
	}
	free(pf->reducers);
	pf->reducers = all;
	pf->n_reducers = n;
}

/* The (aggregate type, event type) pairs the rules reducers handle, the
 * rules types checked (a reducer that takes any event is skipped
 * instead), and the external reducers' types, asked afterwards. */
typedef struct known_events {
	const char **agg;           /* borrowed from the aggregates */
	char **event;               /* owned */
	size_t n, cap;
	const char **checked;
	size_t n_checked;
	const sm_aggregate **execs;
	const char **exec_types;
	size_t n_execs;
} known_events;

static void known_add(known_events *k, const char *agg, char *event)
{
	size_t cap = k->cap;

	k->agg = sm_xgrow(k->agg, &cap, k->n + 1, sizeof *k->agg);
	k->event = sm_xgrow(k->event, &k->cap, k->n + 1, sizeof *k->event);
	k->agg[k->n] = agg;
	k->event[k->n++] = event;
}

static void known_clear(known_events *k)
{
	free_strings(k->event, k->n);
	free(k->agg);
	free(k->checked);
	free(k->execs);
	free(k->exec_types);
}

static int collect_known(const sm_engine *eng, const sm_aggregate **aggs, size_t n_aggs,
			 sm_preflight *pf, known_events *k, sm_error *err)
{
	k->checked = sm_xcalloc(n_aggs + 1, sizeof *k->checked);
	k->execs = sm_xcalloc(n_aggs + 1, sizeof *k->execs);
	k->exec_types = sm_xcalloc(n_aggs + 1, sizeof *k->exec_types);
	for (size_t i = 0; i < n_aggs; i++) {
		char **known = NULL;
		size_t n_known = 0;
		bool any = false;
		int rc;

		if (aggs[i]->exec) {
			k->exec_types[k->n_execs] = aggs[i]->type;
			k->execs[k->n_execs++] = aggs[i];
			continue;
		}
		rc = sm_reducer_known_types(eng->cfg, aggs[i], &known, &n_known, &any, err);
		if (rc)
			return rc;
		if (any) {
			add_skipped(pf, aggs[i]->type);
			free_strings(known, n_known);
			continue;
		}
		k->checked[k->n_checked++] = aggs[i]->type;
		for (size_t j = 0; j < n_known; j++)
			known_add(k, aggs[i]->type, known[j]);
		free(known);
	}
	return SM_OK;
}

/*
 * The events a rebuild would read, per (aggregate type, event type):
 * all: every event type of the external reducers' types (they are asked
 * afterwards); otherwise only those no rules reducer of the type knows.
 */
static PGresult *query_events(PGconn *conn, const sm_engine *eng, const sm_store_layout *layout,
			      const sm_aggregate **aggs, size_t n_aggs, const known_events *k,
			      bool all, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	sm_type_params tp;
	PGresult *res;
	char *inst, *sql, *s, *a[3];

	sm_type_params_init(&tp, aggs, n_aggs);
	s = sm_db_ident(conn, set->source_schema);
	inst = sm_db_instances_sql(conn, set, layout, true);
	sql = sm_xasprintf(
		"SELECT j.source_type, e.event_type, count(*), count(DISTINCT j.stream_id),"
		" array_to_json((array_agg(DISTINCT j.source_uuid))[1:5])::text"
		" FROM (%s) j"
		" JOIN %s.stream_events se ON se.stream_id = j.stream_id"
		"  AND se.stream_version > j.start_version AND se.stream_version <= j.end_version"
		" JOIN %s.events e ON e.event_id = se.event_id"
		" WHERE NOT j.missing AND j.mv >= 0 AND j.source_type = ANY($6::text[])"
		" AND ($7 OR NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[]) AS k(agg, ev)"
		"  WHERE k.agg = j.source_type AND k.ev = e.event_type))"
		" GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2", inst, s, s);
	a[0] = sm_db_text_array(k->agg, k->n);
	a[1] = sm_db_text_array((const char *const *)k->event, k->n);
	a[2] = all ? sm_db_text_array(k->exec_types, k->n_execs)
		   : sm_db_text_array(k->checked, k->n_checked);
	{
		const char *params[] = { set->metadata_key, tp.types, tp.versions, a[0], a[1], a[2],
					 all ? "true" : "false" };

		res = sm_db_query(conn, sql, 7, params, err);
	}
	for (int i = 0; i < 3; i++)
		free(a[i]);
	free(inst);
	free(sql);
	free(s);
	sm_type_params_clear(&tp);
	return res;
}

/* The rules types' unknown events into pf; *exec_res: the external
 * types' events (NULL when there are none). */
static int query_unknown(PGconn *conn, const sm_engine *eng, const sm_aggregate **aggs,
			 size_t n_aggs, const known_events *k, sm_preflight *pf, size_t *cap,
			 sm_store_layout *layout, PGresult **exec_res, sm_error *err)
{
	PGresult *res;
	sm_type_fp *fps = NULL;
	int rc = sm_target_check(conn, eng, err);

	*exec_res = NULL;
	if (rc == SM_OK)
		rc = sm_store_prepare_session(conn, err);
	if (rc == SM_OK)
		rc = sm_store_layout_read(conn, &eng->env->settings, layout, err);
	/* A stale target row is no start: its events count too. */
	if (rc == SM_OK && layout->tgt_data != SM_COL_MISSING)
		rc = sm_target_fingerprints(conn, eng, aggs, n_aggs, false, &fps, err);
	sm_type_fps_free(fps, n_aggs);
	if (rc != SM_OK)
		return rc;
	res = query_events(conn, eng, layout, aggs, n_aggs, k, false, err);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	pf->unknown = sm_xcalloc(1, sizeof *pf->unknown);
	for (int r = 0; r < PQntuples(res); r++)
		unknown_from_row(res, r, add_unknown(pf, cap));
	PQclear(res);
	if (k->n_execs &&
	    !(*exec_res = query_events(conn, eng, layout, aggs, n_aggs, k, true, err)))
		return sm_error_code(err, SM_ERR_DB);
	return SM_OK;
}

int sm_preflight_run(sm_engine *eng, const char *const *types, size_t n_types,
		     sm_cancel *cancel, sm_preflight **out, sm_error *err)
{
	sm_preflight *pf = sm_xcalloc(1, sizeof *pf);
	const sm_aggregate **aggs = NULL;
	sm_store_layout layout;
	PGresult *exec_res = NULL;
	size_t n_aggs = 0, cap_unknown = 0;
	known_events k;
	PGconn *conn = NULL;
	int rc;

	*out = NULL;
	memset(&k, 0, sizeof k);
	rc = sm_engine_select_types(eng, types, n_types, &aggs, &n_aggs, err);
	if (rc == SM_OK)
		rc = collect_known(eng, aggs, n_aggs, pf, &k, err);
	if (rc == SM_OK && !(conn = sm_engine_connect(eng, cancel, err)))
		rc = sm_error_code(err, SM_ERR_DB);
	if (rc == SM_OK)
		rc = query_unknown(conn, eng, aggs, n_aggs, &k, pf, &cap_unknown, &layout, &exec_res,
				   err);
	/* The reducers may take long to start: the connection is not
	 * needed meanwhile. */
	sm_engine_disconnect(conn);
	if (rc == SM_OK && exec_res)
		rc = check_exec(eng, &layout, k.execs, k.n_execs, exec_res, pf, &cap_unknown, err);
	PQclear(exec_res);
	if (rc == SM_OK) {
		describe_rules(pf, aggs, n_aggs);
		if (pf->n_unknown > 1)
			qsort(pf->unknown, pf->n_unknown, sizeof *pf->unknown, cmp_unknown);
	}
	known_clear(&k);
	free(aggs);
	if (rc == SM_OK)
		*out = pf;
	else
		sm_preflight_free(pf);
	return rc;
}

void sm_preflight_free(sm_preflight *pf)
{
	if (!pf)
		return;
	for (size_t i = 0; i < pf->n_unknown; i++) {
		free(pf->unknown[i].source_type);
		free(pf->unknown[i].event_type);
		free(pf->unknown[i].message);
		free_strings(pf->unknown[i].examples, pf->unknown[i].n_examples);
	}
	for (size_t i = 0; i < pf->n_reducers; i++)
		sm_reducer_desc_clear(&pf->reducers[i]);
	free(pf->reducers);
	free(pf->unknown);
	free_strings(pf->skipped_types, pf->n_skipped);
	free(pf);
}
