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

int sm_inventory_read(sm_engine *eng, sm_inventory **out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	const sm_config *cfg = eng->cfg;
	sm_inventory *inv = sm_xcalloc(1, sizeof *inv);
	const sm_aggregate **aggs = sm_xcalloc(cfg->n_aggs + 1, sizeof *aggs);
	sm_type_params tp;
	sm_store_layout layout;
	size_t cap = 0, n_configured;
	bool failures_exist = false, runs_exist = false;
	PGconn *conn;
	PGresult *res = NULL;
	char *inst = NULL, *sql = NULL;
	int rc = SM_ERR_DB;

	*out = NULL;
	for (size_t i = 0; i < cfg->n_aggs; i++)
		aggs[i] = &cfg->aggs[i];
	sm_type_params_init(&tp, aggs, cfg->n_aggs);
	conn = sm_engine_connect(eng, err);
	if (!conn)
		goto out;
	if (sm_target_check(conn, eng, err)) {
		rc = err->code;
		goto out;
	}
	if (sm_store_prepare_session(conn, err) || sm_store_layout_read(conn, set, &layout, err))
		goto out;
	inv->source_data = layout.snap_data;
	inv->source_metadata = layout.snap_meta;
	inv->target_data = layout.tgt_data;
	inv->target_metadata = layout.tgt_meta;
	inv->source_double_encoded = layout.double_encoded;
	if (inv->source_data == SM_COL_MISSING) {
		sm_error_set(err, SM_ERR_DB, "%s.snapshots not found (or not readable): is this an EventStore database?",
			     set->source_schema);
		goto out;
	}
	if (sm_db_table_exists(conn, set->target_schema, "snapmig_failures", &failures_exist, err) ||
	    sm_db_table_exists(conn, set->target_schema, "snapmig_runs", &runs_exist, err))
		goto out;

	/* Configured types first, in config order, even without snapshots. */
	for (size_t i = 0; i < cfg->n_aggs; i++) {
		sm_type_inventory *t = find_or_add(inv, &cap, cfg->aggs[i].type);

		free(t->label);
		t->label = sm_xstrdup(cfg->aggs[i].label ? cfg->aggs[i].label : label_of(cfg->aggs[i].type));
		t->configured = true;
		t->target_version = cfg->aggs[i].snapshot_version;
	}
	n_configured = inv->n_types;

	inst = sm_db_instances_sql(conn, set, &layout, false);
	sql = sm_xasprintf(
		"SELECT j.source_type, j.mv, count(*),"
		" count(*) FILTER (WHERE j.target IS NOT NULL AND j.mv IS DISTINCT FROM j.target),"
		" count(*) FILTER (WHERE j.mv = j.target AND NOT j.missing AND j.end_version > j.snap_version),"
		" COALESCE(sum(CASE WHEN j.target IS NULL OR j.missing THEN 0"
		"   ELSE greatest(j.end_version - j.start_version, 0) END), 0),"
		" count(*) FILTER (WHERE j.missing),"
		" count(j.tgt_version),"
		" count(*) FILTER (WHERE j.tmv = j.target),"
		" count(*) FILTER (WHERE j.tmv = j.target AND j.tgt_version >= j.end_version)"
		" FROM (%s) j GROUP BY j.source_type, j.mv", inst);
	{
		const char *params[] = { set->metadata_key, tp.types, tp.versions };

		res = sm_db_query(conn, sql, 3, params, err);
	}
	if (!res)
		goto out;
	for (int r = 0; r < PQntuples(res); r++) {
		sm_type_inventory *t = find_or_add(inv, &cap, PQgetvalue(res, r, 0));
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
		t->target_rows += sm_db_ll(res, r, 7);
		t->target_at_version += sm_db_ll(res, r, 8);
		t->target_current += sm_db_ll(res, r, 9);
	}
	PQclear(res);
	res = NULL;
	/* A type without snapshots has no versions array at all, and qsort
	 * wants a valid pointer even for zero elements (UBSan: nonnull). */
	for (size_t i = 0; i < inv->n_types; i++)
		if (inv->types[i].n_versions > 1)
			qsort(inv->types[i].versions, inv->types[i].n_versions,
			      sizeof inv->types[i].versions[0], cmp_version_desc);
	if (inv->n_types - n_configured > 1)
		qsort(inv->types + n_configured, inv->n_types - n_configured,
		      sizeof inv->types[0], cmp_unconfigured);

	if (failures_exist) {
		char *t = sm_db_ident(conn, set->target_schema);

		free(sql);
		sql = sm_xasprintf("SELECT source_type, count(*) FROM %s.snapmig_failures GROUP BY 1", t);
		free(t);
		res = sm_db_query(conn, sql, 0, NULL, err);
		if (!res)
			goto out;
		for (int r = 0; r < PQntuples(res); r++)
			for (size_t i = 0; i < inv->n_types; i++)
				if (strcmp(inv->types[i].type, PQgetvalue(res, r, 0)) == 0)
					inv->types[i].failures = sm_db_ll(res, r, 1);
		PQclear(res);
		res = NULL;
	}
	if (runs_exist) {
		char *t = sm_db_ident(conn, set->target_schema);

		free(sql);
		sql = sm_xasprintf("SELECT max(run_id) FROM %s.snapmig_runs", t);
		free(t);
		res = sm_db_query(conn, sql, 0, NULL, err);
		if (!res)
			goto out;
		inv->last_run_id = sm_db_ll(res, 0, 0);
		PQclear(res);
		res = NULL;
	}
	rc = SM_OK;
out:
	if (conn)
		PQfinish(conn);
	free(inst);
	free(sql);
	free(aggs);
	sm_type_params_clear(&tp);
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

int sm_preflight_run(sm_engine *eng, const char *const *types, size_t n_types,
		     sm_preflight **out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	const sm_aggregate **aggs = NULL;
	size_t n_aggs = 0, n_pairs = 0, cap_pairs = 0;
	const char **pair_agg = NULL, **pair_event = NULL;
	char **owned = NULL;
	size_t n_owned = 0, cap_owned = 0;
	const char **checked = NULL;
	size_t n_checked = 0;
	sm_preflight *pf = sm_xcalloc(1, sizeof *pf);
	sm_type_params tp = { NULL, NULL };
	sm_store_layout layout;
	PGconn *conn = NULL;
	PGresult *res = NULL;
	char *inst = NULL, *sql = NULL, *s = NULL, *a_agg = NULL, *a_ev = NULL, *a_checked = NULL;
	int rc;

	*out = NULL;
	rc = sm_engine_select_types(eng, types, n_types, &aggs, &n_aggs, err);
	if (rc)
		goto out;
	checked = sm_xcalloc(n_aggs + 1, sizeof *checked);
	for (size_t i = 0; i < n_aggs; i++) {
		char **known = NULL;
		size_t n_known = 0;
		bool any = false;

		rc = sm_reducer_known_types(eng->cfg, aggs[i], &known, &n_known, &any, err);
		if (rc)
			goto out;
		if (any) {
			pf->skipped_types = sm_xrealloc(pf->skipped_types,
							(pf->n_skipped + 1) * sizeof *pf->skipped_types);
			pf->skipped_types[pf->n_skipped++] = sm_xstrdup(aggs[i]->type);
			free_strings(known, n_known);
			continue;
		}
		checked[n_checked++] = aggs[i]->type;
		for (size_t k = 0; k < n_known; k++) {
			size_t c1 = cap_pairs, c2 = cap_pairs;

			pair_agg = sm_xgrow(pair_agg, &c1, n_pairs + 1, sizeof *pair_agg);
			pair_event = sm_xgrow(pair_event, &c2, n_pairs + 1, sizeof *pair_event);
			cap_pairs = c1;
			owned = sm_xgrow(owned, &cap_owned, n_owned + 1, sizeof *owned);
			owned[n_owned++] = known[k];
			pair_agg[n_pairs] = aggs[i]->type;
			pair_event[n_pairs++] = known[k];
		}
		free(known);
	}
	sm_type_params_init(&tp, aggs, n_aggs);
	rc = SM_ERR_DB;
	conn = sm_engine_connect(eng, err);
	if (!conn)
		goto out;
	if (sm_store_prepare_session(conn, err) || sm_store_layout_read(conn, set, &layout, err))
		goto out;
	s = sm_db_ident(conn, set->source_schema);
	inst = sm_db_instances_sql(conn, set, &layout, true);
	sql = sm_xasprintf(
		"SELECT j.source_type, e.event_type, count(*), count(DISTINCT j.stream_id),"
		" array_to_json((array_agg(DISTINCT j.source_uuid))[1:5])::text"
		" FROM (%s) j"
		" JOIN %s.stream_events se ON se.stream_id = j.stream_id"
		"  AND se.stream_version > j.start_version AND se.stream_version <= j.end_version"
		" JOIN %s.events e ON e.event_id = se.event_id"
		" WHERE NOT j.missing AND j.mv >= 0 AND j.source_type = ANY($6::text[])"
		" AND NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[]) AS k(agg, ev)"
		"  WHERE k.agg = j.source_type AND k.ev = e.event_type)"
		" GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2", inst, s, s);
	a_agg = sm_db_text_array(pair_agg, n_pairs);
	a_ev = sm_db_text_array(pair_event, n_pairs);
	a_checked = sm_db_text_array(checked, n_checked);
	{
		const char *params[] = { set->metadata_key, tp.types, tp.versions, a_agg, a_ev, a_checked };

		res = sm_db_query(conn, sql, 6, params, err);
	}
	if (!res)
		goto out;
	pf->n_unknown = (size_t)PQntuples(res);
	pf->unknown = sm_xcalloc(pf->n_unknown + 1, sizeof *pf->unknown);
	for (size_t r = 0; r < pf->n_unknown; r++) {
		sm_unknown_event *u = &pf->unknown[r];
		json_object *ex = json_tokener_parse(PQgetvalue(res, (int)r, 4));

		u->source_type = sm_xstrdup(PQgetvalue(res, (int)r, 0));
		u->event_type = sm_xstrdup(PQgetvalue(res, (int)r, 1));
		u->events = sm_db_ll(res, (int)r, 2);
		u->streams = sm_db_ll(res, (int)r, 3);
		if (ex && json_object_is_type(ex, json_type_array)) {
			size_t n = json_object_array_length(ex);

			u->examples = sm_xcalloc(n + 1, sizeof *u->examples);
			for (size_t k = 0; k < n; k++)
				u->examples[u->n_examples++] =
					sm_xstrdup(json_object_get_string(json_object_array_get_idx(ex, k)));
		}
		json_object_put(ex);
	}
	rc = SM_OK;
out:
	PQclear(res);
	if (conn)
		PQfinish(conn);
	free(aggs);
	free(checked);
	free(pair_agg);
	free(pair_event);
	free_strings(owned, n_owned);
	free(inst);
	free(sql);
	free(s);
	free(a_agg);
	free(a_ev);
	free(a_checked);
	sm_type_params_clear(&tp);
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
		free_strings(pf->unknown[i].examples, pf->unknown[i].n_examples);
	}
	free(pf->unknown);
	free_strings(pf->skipped_types, pf->n_skipped);
	free(pf);
}
