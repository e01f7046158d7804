/* A rebuild's plan as shared work in the target schema; see work.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/work.h"
#include "util/alloc.h"

/* The item_ columns (work.h), added to a work table made before them.
 * Only when missing: ALTER TABLE would wait for every chunk claimed now,
 * and every claim after it for the ALTER. */
static int add_items(PGconn *conn, const char *target_schema, const char *t, sm_error *err)
{
	const char *p[] = { target_schema };
	PGresult *res = sm_db_query(conn, "SELECT 1 FROM pg_catalog.pg_attribute a"
				    " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
				    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
				    " WHERE n.nspname = $1 AND c.relname = 'snapmig_work'"
				    " AND a.attname = 'item_uuids' AND NOT a.attisdropped", 1, p, err);
	bool have;
	char *sql;
	int rc;

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	have = PQntuples(res) > 0;
	PQclear(res);
	if (have)
		return SM_OK;
	sql = sm_xasprintf("ALTER TABLE %s.snapmig_work"
			   " ADD COLUMN item_uuids text[], ADD COLUMN item_stream_ids bigint[],"
			   " ADD COLUMN item_missing boolean[], ADD COLUMN item_mvs bigint[],"
			   " ADD COLUMN item_starts bigint[], ADD COLUMN item_ends bigint[],"
			   " ADD COLUMN item_kinds integer[]", t);
	rc = sm_db_exec(conn, sql, err);
	free(sql);
	return rc;
}

int sm_work_ensure(PGconn *conn, const char *target_schema, sm_error *err)
{
	char *t = sm_db_ident(conn, target_schema);
	char *sql = sm_xasprintf(
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_work_runs ("
		" run_id bigint PRIMARY KEY,"
		" types text[] NOT NULL,"
		" fp_ids bigint[] NOT NULL,"
		" uuids text[],"
		" only_failed boolean NOT NULL DEFAULT false,"
		" chunks integer NOT NULL DEFAULT 0,"
		" planned_at timestamp with time zone NOT NULL DEFAULT now());"
		"CREATE TABLE IF NOT EXISTS %1$s.snapmig_work ("
		" run_id bigint NOT NULL,"
		" chunk_no integer NOT NULL,"
		" source_type text NOT NULL,"
		" uuid_lo text NOT NULL,"
		" uuid_hi text NOT NULL,"
		" instances bigint NOT NULL,"
		" events bigint NOT NULL,"
		" state text NOT NULL DEFAULT 'unclaimed' CHECK (state IN ('unclaimed', 'done')),"
		" done_by bigint,"
		" host text,"
		" pid bigint,"
		" done_at timestamp with time zone,"
		" seconds double precision,"
		" instances_done bigint,"
		" events_done bigint,"
		" failures jsonb,"
		" item_uuids text[],"
		" item_stream_ids bigint[],"
		" item_missing boolean[],"
		" item_mvs bigint[],"
		" item_starts bigint[],"
		" item_ends bigint[],"
		" item_kinds integer[],"
		" PRIMARY KEY (run_id, chunk_no));"
		"CREATE INDEX IF NOT EXISTS snapmig_work_unclaimed ON %1$s.snapmig_work"
		" (run_id, chunk_no) WHERE state = 'unclaimed'", t);
	int rc;

	/* Serialised with the other creations in the target (same lock as
	 * sm_target_ensure). */
	rc = sm_db_exec(conn, "SET client_min_messages = warning;"
			" BEGIN; SELECT pg_advisory_xact_lock(7365616, 1)", err);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, sql, err);
	if (rc == SM_OK)
		rc = add_items(conn, target_schema, t, err);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, "COMMIT", err);
	else
		sm_db_exec(conn, "ROLLBACK", NULL);
	free(sql);
	free(t);
	return rc;
}

/* The statements on the work tables: sql_fmt names the target schema as
 * %1$s; $1 is the plan's run id (run->plan_run_id), params the rest
 * ($2...).  NULL with err set on failure. */
static PGresult *work_query(PGconn *conn, const sm_run *run, const char *sql_fmt,
			    int n, const char *const *params, sm_error *err)
{
	char *t = sm_db_ident(conn, run->eng->env->settings.target_schema);
	char *sql = sm_xasprintf(sql_fmt, t);
	const char *p[16];
	char id[32];
	PGresult *res;

	snprintf(id, sizeof id, "%lld", run->plan_run_id);
	p[0] = id;
	for (int i = 0; i < n && i < 15; i++)
		p[i + 1] = params[i];
	res = sm_db_query(conn, sql, n + 1, p, err);
	free(sql);
	free(t);
	return res;
}

/* The planning query's instances with the run's filters: the columns of
 * sm_db_instances_sql's select list chosen by cols, then ev (events to
 * fold, 0 for an instance that fails at once).  Parameters $1..$5 as
 * params_of gives them. */
static char *selected_sql(PGconn *conn, const sm_run *run, const char *cols, bool have_failures)
{
	const sm_settings *set = &run->eng->env->settings;
	char *t = sm_db_ident(conn, set->target_schema);
	char *inst = sm_db_instances_sql(conn, set, &run->layout, true);
	char *failed = have_failures
		? sm_xasprintf("SELECT source_uuid FROM %s.snapmig_failures", t)
		: sm_xstrdup("SELECT NULL::text WHERE false");
	char *sql = sm_xasprintf(
		"SELECT %1$s, CASE WHEN j.missing OR j.mv < 0 THEN 0"
		"  ELSE greatest(COALESCE(j.end_version, 0) - j.start_version, 0) END AS ev,"
		" (j.missing OR j.mv < 0)::int AS failing"
		" FROM (%2$s) j"
		" WHERE NOT (j.sk = %3$d AND NOT j.missing AND j.tgt_version >= j.end_version)"
		" AND ($4::text[] IS NULL OR j.source_uuid = ANY($4::text[]))"
		" AND (NOT $5::bool OR j.source_uuid IN (%4$s))",
		cols, inst, SM_START_GENERATED, failed);

	free(inst);
	free(failed);
	free(t);
	return sql;
}

/* The chunks of the instances selected_sql selects, as a query with
 * columns source_type, uuid_lo, uuid_hi, instances, events, failing and,
 * with items, the chunk's instances as planned (the item_ columns of the
 * work table, in source_uuid order); $6 is batch_size.  Each type's
 * instances in source_uuid order: eb, the instance's place in its type's
 * running sum of events (in SM_WORK_CHUNK_EVENTS), then at most
 * batch_size in a row; both grow with source_uuid, so every chunk is a
 * range and the ranges of a type do not overlap. */
static char *chunks_sql(PGconn *conn, const sm_run *run, bool have_failures, bool items)
{
	char *sel = selected_sql(conn, run, items
		? "j.source_type, j.source_uuid, COALESCE(j.stream_id, 0) AS stream_id, j.missing,"
		  " j.mv, j.start_version, COALESCE(j.end_version, 0) AS end_version, j.sk"
		: "j.source_type, j.source_uuid", have_failures);
	char *sql = sm_xasprintf(
		"SELECT source_type, min(source_uuid) AS uuid_lo, max(source_uuid) AS uuid_hi,"
		" count(*) AS instances, sum(ev) AS events, sum(failing) AS failing%s"
		" FROM (SELECT a.*, (row_number() OVER (PARTITION BY source_type, eb"
		"   ORDER BY source_uuid) - 1) / $6::int AS sub"
		"  FROM (SELECT s.*, ((sum(ev) OVER (PARTITION BY source_type ORDER BY source_uuid))"
		"    - ev)::bigint / %d AS eb FROM (%s) s) a) b"
		" GROUP BY source_type, eb, sub",
		items ? ", array_agg(source_uuid ORDER BY source_uuid) AS item_uuids,"
			" array_agg(stream_id ORDER BY source_uuid) AS item_stream_ids,"
			" array_agg(missing ORDER BY source_uuid) AS item_missing,"
			" array_agg(mv ORDER BY source_uuid) AS item_mvs,"
			" array_agg(start_version ORDER BY source_uuid) AS item_starts,"
			" array_agg(end_version ORDER BY source_uuid) AS item_ends,"
			" array_agg(sk ORDER BY source_uuid) AS item_kinds" : "",
		SM_WORK_CHUNK_EVENTS, sel);

	free(sel);
	return sql;
}

/* $1..$5 of selected_sql; *a_uuids to free. */
static void params_of(const sm_run *run, const char *params[5], char **a_uuids)
{
	*a_uuids = run->n_uuids ? sm_db_text_array((const char *const *)run->uuids, run->n_uuids)
				: NULL;
	params[0] = run->eng->env->settings.metadata_key;
	params[1] = run->type_params.types;
	params[2] = run->type_params.versions;
	params[3] = *a_uuids;
	params[4] = run->only_failed ? "true" : "false";
}

static int exec_params(PGconn *conn, const char *sql, int n, const char *const *params,
		       sm_error *err)
{
	PGresult *res = sm_db_query(conn, sql, n, params, err);

	PQclear(res);
	return res ? SM_OK : sm_error_code(err, SM_ERR_DB);
}

static int type_index(const sm_run *run, const char *type)
{
	for (size_t k = 0; k < run->n_types; k++)
		if (strcmp(run->types[k].agg->type, type) == 0)
			return (int)k;
	return -1;
}

/* The planned counts per type back into run->types, and the chunks. */
static int read_planned(PGconn *conn, sm_run *run, sm_error *err)
{
	PGresult *res = work_query(conn, run, "SELECT source_type, sum(instances), sum(events),"
				   " count(*) FROM %1$s.snapmig_work WHERE run_id = $1::bigint"
				   " GROUP BY source_type", 0, NULL, err);

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	pthread_mutex_lock(&run->lock);
	run->n_chunks = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		int k = type_index(run, PQgetvalue(res, r, 0));

		if (k < 0)
			continue;
		run->types[k].instances_planned = sm_db_ll(res, r, 1);
		run->types[k].events_planned = sm_db_ll(res, r, 2);
		run->n_chunks += (size_t)sm_db_ll(res, r, 3);
	}
	pthread_mutex_unlock(&run->lock);
	PQclear(res);
	return SM_OK;
}

int sm_work_plan(PGconn *conn, sm_run *run, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	char *t = sm_db_ident(conn, set->target_schema);
	char *a_uuids, *sql, batch[32];
	const char *params[7];
	long long *fps = sm_xcalloc(run->n_types + 1, sizeof *fps);
	char *a_fps;
	int rc;

	for (size_t i = 0; i < run->n_types; i++)
		fps[i] = run->fps ? run->fps[i].id : 0;
	a_fps = sm_db_ll_array(fps, run->n_types);
	params_of(run, params, &a_uuids);
	snprintf(batch, sizeof batch, "%d", set->batch_size > 0 ? set->batch_size : 500);
	run->plan_run_id = run->run_id;
	/* One snapshot of the store for the whole plan: every instance's
	 * start and end are those of one moment (work.h). */
	rc = sm_db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", err);
	if (rc == SM_OK) {
		sql = sm_xasprintf("DELETE FROM %1$s.snapmig_work; DELETE FROM %1$s.snapmig_work_runs", t);
		rc = sm_db_exec(conn, sql, err);
		free(sql);
	}
	if (rc == SM_OK) {
		const char *p[] = { run->type_params.types, a_fps, a_uuids, params[4] };
		PGresult *res = work_query(conn, run, "INSERT INTO %1$s.snapmig_work_runs (run_id, types,"
					   " fp_ids, uuids, only_failed) VALUES ($1::bigint, $2::text[],"
					   " $3::bigint[], $4::text[], $5::bool)", 4, p, err);

		rc = res ? SM_OK : sm_error_code(err, SM_ERR_DB);
		PQclear(res);
	}
	/* Cut server side (chunks_sql), each chunk with its instances as
	 * planned; the biggest chunks get the first numbers: they are claimed
	 * first. */
	if (rc == SM_OK) {
		char *cut = chunks_sql(conn, run, true, true);
		char id[32];

		snprintf(id, sizeof id, "%lld", run->plan_run_id);
		params[5] = batch;
		params[6] = id;
		sql = sm_xasprintf(
			"INSERT INTO %s.snapmig_work (run_id, chunk_no, source_type, uuid_lo, uuid_hi,"
			" instances, events, item_uuids, item_stream_ids, item_missing, item_mvs,"
			" item_starts, item_ends, item_kinds)"
			" SELECT $7::bigint, row_number() OVER (ORDER BY c.events DESC, c.source_type,"
			"  c.uuid_lo), c.source_type, c.uuid_lo, c.uuid_hi, c.instances, c.events,"
			" c.item_uuids, c.item_stream_ids, c.item_missing, c.item_mvs, c.item_starts,"
			" c.item_ends, c.item_kinds"
			" FROM (%s) c", t, cut);
		rc = exec_params(conn, sql, 7, params, err);
		free(sql);
		free(cut);
	}
	if (rc == SM_OK) {
		PGresult *res = work_query(conn, run, "UPDATE %1$s.snapmig_work_runs SET chunks ="
					   " (SELECT count(*) FROM %1$s.snapmig_work WHERE run_id = $1::bigint)"
					   " WHERE run_id = $1::bigint", 0, NULL, err);

		rc = res ? SM_OK : sm_error_code(err, SM_ERR_DB);
		PQclear(res);
	}
	if (rc == SM_OK)
		rc = sm_db_exec(conn, "COMMIT", err);
	else
		sm_db_exec(conn, "ROLLBACK", NULL);
	if (rc == SM_OK)
		rc = read_planned(conn, run, err);
	free(a_uuids);
	free(a_fps);
	free(fps);
	free(t);
	return rc;
}

int sm_work_find(PGconn *conn, sm_run *run, char ***types, long long **fp_ids,
		 size_t *n_types, sm_error *err)
{
	char *t = sm_db_ident(conn, run->eng->env->settings.target_schema);
	/* unnest WITH ORDINALITY keeps the arrays' order.  A plan made
	 * before chunks held their instances (item_uuids NULL) is not one
	 * this process can work on. */
	char *sql = sm_xasprintf(
		"SELECT r.run_id, r.only_failed, r.uuids IS NOT NULL, x.ty, x.fp, x.n"
		" FROM (SELECT * FROM %1$s.snapmig_work_runs wr WHERE EXISTS (SELECT 1 FROM"
		"  %1$s.snapmig_work w WHERE w.run_id = wr.run_id AND w.state = 'unclaimed'"
		"  AND w.item_uuids IS NOT NULL) ORDER BY wr.run_id DESC LIMIT 1) r,"
		" unnest(r.types, r.fp_ids) WITH ORDINALITY AS x(ty, fp, n) ORDER BY x.n", t);
	PGresult *res = sm_db_query(conn, sql, 0, NULL, err);
	int rc = SM_OK;

	free(sql);
	free(t);
	*types = NULL;
	*fp_ids = NULL;
	*n_types = 0;
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	if (PQntuples(res) == 0) {
		rc = sm_error_set(err, SM_ERR_USAGE,
				  "no rebuild to join: target schema %s has no unclaimed work"
				  " (start one with `snapmig rebuild`)",
				  run->eng->env->settings.target_schema);
	} else {
		size_t n = (size_t)PQntuples(res);

		run->plan_run_id = sm_db_ll(res, 0, 0);
		run->only_failed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		*types = sm_xcalloc(n + 1, sizeof **types);
		*fp_ids = sm_xcalloc(n + 1, sizeof **fp_ids);
		for (size_t i = 0; i < n; i++) {
			(*types)[i] = sm_xstrdup(PQgetvalue(res, (int)i, 3));
			(*fp_ids)[i] = sm_db_ll(res, (int)i, 4);
		}
		*n_types = n;
		if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
			PGresult *u = work_query(conn, run, "SELECT unnest(uuids) FROM %1$s.snapmig_work_runs"
						 " WHERE run_id = $1::bigint", 0, NULL, err);

			if (!u) {
				rc = sm_error_code(err, SM_ERR_DB);
			} else {
				run->n_uuids = (size_t)PQntuples(u);
				run->uuids = sm_xcalloc(run->n_uuids + 1, sizeof *run->uuids);
				for (size_t i = 0; i < run->n_uuids; i++)
					run->uuids[i] = sm_xstrdup(PQgetvalue(u, (int)i, 0));
				PQclear(u);
			}
		}
	}
	PQclear(res);
	return rc;
}

void sm_work_chunk_clear(sm_work_chunk *ch)
{
	free(ch->uuid_lo);
	free(ch->uuid_hi);
	memset(ch, 0, sizeof *ch);
}

int sm_work_claim(PGconn *conn, sm_run *run, sm_work_chunk *ch, bool *got, sm_error *err)
{
	PGresult *res = work_query(conn, run, "SELECT chunk_no, source_type, uuid_lo, uuid_hi"
				   " FROM %1$s.snapmig_work WHERE run_id = $1::bigint"
				   " AND state = 'unclaimed' ORDER BY chunk_no LIMIT 1"
				   " FOR UPDATE SKIP LOCKED", 0, NULL, err);
	int rc = SM_OK;

	sm_work_chunk_clear(ch);
	*got = false;
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	if (PQntuples(res) == 1) {
		ch->no = (int)sm_db_ll(res, 0, 0);
		ch->type_index = type_index(run, PQgetvalue(res, 0, 1));
		ch->uuid_lo = sm_xstrdup(PQgetvalue(res, 0, 2));
		ch->uuid_hi = sm_xstrdup(PQgetvalue(res, 0, 3));
		if (ch->type_index < 0)
			rc = sm_error_set(err, SM_ERR_INTERNAL, "chunk %d of the plan has type %s,"
					  " which this process does not rebuild", ch->no,
					  PQgetvalue(res, 0, 1));
		else
			*got = true;
	}
	PQclear(res);
	return rc;
}

void sm_work_instances_free(sm_instance *inst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(inst[i].uuid);
	free(inst);
}

int sm_work_chunk_plan(PGconn *conn, sm_run *run, const sm_work_chunk *ch,
		       sm_instance **inst, size_t *n, sm_error *err)
{
	char no[32];
	const char *p[] = { run->types[ch->type_index].agg->type, no };
	PGresult *res;
	size_t cap = 0;

	*inst = NULL;
	*n = 0;
	snprintf(no, sizeof no, "%d", ch->no);
	res = work_query(conn, run, "SELECT i.u, $2::text, i.sid, i.missing, i.mv, i.sv, i.ev, i.sk"
			 " FROM %1$s.snapmig_work w CROSS JOIN LATERAL unnest(w.item_uuids,"
			 "  w.item_stream_ids, w.item_missing, w.item_mvs, w.item_starts, w.item_ends,"
			 "  w.item_kinds) WITH ORDINALITY AS i(u, sid, missing, mv, sv, ev, sk, n)"
			 " WHERE w.run_id = $1::bigint AND w.chunk_no = $3::int ORDER BY i.n", 2, p, err);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	for (int r = 0; r < PQntuples(res); r++) {
		*inst = sm_xgrow(*inst, &cap, *n + 1, sizeof **inst);
		sm_run_parse_instance(run, res, r, &(*inst)[(*n)++]);
	}
	PQclear(res);
	return SM_OK;
}

int sm_work_done(PGconn *conn, sm_run *run, const sm_work_chunk *ch, double seconds,
		 long long instances, long long events,
		 const long long failures[SM_FAIL__COUNT], sm_error *err)
{
	json_object *f = json_object_new_object();
	char no[32], by[32], host[256] = "", pid[32], secs[32], ni[32], ne[32];
	const char *p[] = { no, by, host, pid, secs, ni, ne, NULL };
	PGresult *res;
	int rc = SM_OK;

	for (int k = 0; k < SM_FAIL__COUNT; k++)
		if (failures[k])
			json_object_object_add(f, sm_failure_kind_name((enum sm_failure_kind)k),
					       json_object_new_int64(failures[k]));
	p[7] = json_object_to_json_string(f);
	snprintf(no, sizeof no, "%d", ch->no);
	snprintf(by, sizeof by, "%lld", run->run_id);
	sm_work_host(host, sizeof host);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	snprintf(secs, sizeof secs, "%.6f", seconds);
	snprintf(ni, sizeof ni, "%lld", instances);
	snprintf(ne, sizeof ne, "%lld", events);
	res = work_query(conn, run, "UPDATE %1$s.snapmig_work SET state = 'done', done_by = $3::bigint,"
			 " host = $4, pid = $5::bigint, done_at = clock_timestamp(), seconds = $6::float8,"
			 " instances_done = $7::bigint, events_done = $8::bigint, failures = $9::jsonb"
			 " WHERE run_id = $1::bigint AND chunk_no = $2::int AND state = 'unclaimed'",
			 8, p, err);
	if (!res)
		rc = sm_error_code(err, SM_ERR_DB);
	else if (strcmp(PQcmdTuples(res), "1") != 0)
		rc = sm_error_set(err, SM_ERR_INTERNAL, "chunk %d of plan %lld was done by another process"
				  " while this one held it", ch->no, run->plan_run_id);
	PQclear(res);
	json_object_put(f);
	return rc;
}

int sm_work_remaining(PGconn *conn, const sm_run *run, long long *out, sm_error *err)
{
	PGresult *res = work_query(conn, run, "SELECT count(*) FROM %1$s.snapmig_work"
				   " WHERE run_id = $1::bigint AND state = 'unclaimed'", 0, NULL, err);

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	*out = sm_db_ll(res, 0, 0);
	PQclear(res);
	return SM_OK;
}

void sm_work_host(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0)
		buf[0] = '\0';
	buf[size - 1] = '\0';
}

/* Per type: chunks, the plan and what is done. */
static int poll_types(PGconn *conn, sm_run *run, long long *chunks, long long *done, sm_error *err)
{
	PGresult *res = work_query(conn, run,
		"SELECT source_type, count(*), count(*) FILTER (WHERE state = 'done'),"
		" sum(instances), sum(events), COALESCE(sum(instances_done), 0),"
		" COALESCE(sum(events_done), 0)"
		" FROM %1$s.snapmig_work WHERE run_id = $1::bigint GROUP BY source_type", 0, NULL, err);

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	*chunks = *done = 0;
	pthread_mutex_lock(&run->lock);
	for (int r = 0; r < PQntuples(res); r++) {
		int k = type_index(run, PQgetvalue(res, r, 0));
		sm_type_counters *c;

		*chunks += sm_db_ll(res, r, 1);
		*done += sm_db_ll(res, r, 2);
		if (k < 0)
			continue;
		c = &run->types[k];
		c->instances_planned = sm_db_ll(res, r, 3);
		c->events_planned = sm_db_ll(res, r, 4);
		c->sh_instances_done = sm_db_ll(res, r, 5);
		c->sh_events_done = sm_db_ll(res, r, 6);
	}
	pthread_mutex_unlock(&run->lock);
	PQclear(res);
	res = work_query(conn, run,
		"SELECT w.source_type, f.key, sum(f.value::bigint) FROM %1$s.snapmig_work w"
		" CROSS JOIN LATERAL jsonb_each_text(w.failures) f"
		" WHERE w.run_id = $1::bigint AND w.state = 'done' GROUP BY 1, 2", 0, NULL, err);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_types; i++)
		memset(run->types[i].sh_failures, 0, sizeof run->types[i].sh_failures);
	for (int r = 0; r < PQntuples(res); r++) {
		int k = type_index(run, PQgetvalue(res, r, 0));
		int kind = sm_failure_kind_parse(PQgetvalue(res, r, 1));

		if (k >= 0 && kind >= 0)
			run->types[k].sh_failures[kind] = sm_db_ll(res, r, 2);
	}
	pthread_mutex_unlock(&run->lock);
	PQclear(res);
	return SM_OK;
}

/* The processes of the plan: the planning run and every run that joined
 * it (journal), with what each has done (work table). */
static int poll_processes(PGconn *conn, sm_run *run, sm_error *err)
{
	PGresult *res = work_query(conn, run,
		"SELECT r.run_id, COALESCE(r.details->>'host', ''),"
		" COALESCE(r.details->>'pid', '0'), r.outcome, r.finished_at IS NOT NULL,"
		" COALESCE(w.chunks, 0), COALESCE(w.inst, 0), COALESCE(w.ev, 0), COALESCE(w.failed, 0),"
		" COALESCE(extract(epoch FROM w.last - r.started_at), 0),"
		" COALESCE(r.details->>'jobs', '0')"
		" FROM %1$s.snapmig_runs r LEFT JOIN (SELECT done_by, count(*) AS chunks,"
		"  sum(instances_done) AS inst, sum(events_done) AS ev, max(done_at) AS last,"
		"  sum((SELECT COALESCE(sum(value::bigint), 0) FROM jsonb_each_text(failures))) AS failed"
		"  FROM %1$s.snapmig_work WHERE run_id = $1::bigint AND state = 'done'"
		"  GROUP BY done_by) w ON w.done_by = r.run_id"
		" WHERE r.run_id = $1::bigint OR r.details->>'join_of' = ($1::bigint)::text"
		" ORDER BY r.run_id", 0, NULL, err);
	sm_process_progress *procs;
	size_t n;

	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	n = (size_t)PQntuples(res);
	procs = sm_xcalloc(n + 1, sizeof *procs);
	for (size_t i = 0; i < n; i++) {
		sm_process_progress *x = &procs[i];
		int r = (int)i;
		double secs = strtod(PQgetvalue(res, r, 9), NULL);

		x->run_id = sm_db_ll(res, r, 0);
		snprintf(x->host, sizeof x->host, "%s", PQgetvalue(res, r, 1));
		x->pid = strtol(PQgetvalue(res, r, 2), NULL, 10);
		x->jobs = (int)strtol(PQgetvalue(res, r, 10), NULL, 10);
		snprintf(x->outcome, sizeof x->outcome, "%s", PQgetvalue(res, r, 3));
		x->finished = strcmp(PQgetvalue(res, r, 4), "t") == 0;
		x->chunks = sm_db_ll(res, r, 5);
		x->instances = sm_db_ll(res, r, 6);
		x->events = sm_db_ll(res, r, 7);
		x->failed = sm_db_ll(res, r, 8);
		x->events_per_sec = secs > 0 ? (double)x->events / secs : 0;
		x->self = x->run_id == run->run_id;
	}
	PQclear(res);
	pthread_mutex_lock(&run->lock);
	free(run->procs);
	run->procs = procs;
	run->n_procs = n;
	pthread_mutex_unlock(&run->lock);
	return SM_OK;
}

int sm_work_poll(PGconn *conn, sm_run *run, sm_error *err)
{
	long long chunks = 0, done = 0, base_inst[64], base_ev[64];
	long long base_fail[64][SM_FAIL__COUNT];
	size_t n = run->n_types < 64 ? run->n_types : 64;
	int rc;

	/* What this process had committed before the query: the rest of its
	 * counts is added to the shared ones until the next poll. */
	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < n; i++) {
		base_inst[i] = run->types[i].instances_done;
		base_ev[i] = run->types[i].events_committed;
		memcpy(base_fail[i], run->types[i].failures, sizeof base_fail[i]);
	}
	pthread_mutex_unlock(&run->lock);
	rc = poll_types(conn, run, &chunks, &done, err);
	if (rc == SM_OK)
		rc = poll_processes(conn, run, err);
	if (rc == SM_OK) {
		pthread_mutex_lock(&run->lock);
		for (size_t i = 0; i < n; i++) {
			run->types[i].base_instances = base_inst[i];
			run->types[i].base_events = base_ev[i];
			memcpy(run->types[i].base_failures, base_fail[i], sizeof base_fail[i]);
		}
		run->chunks_total = chunks;
		run->chunks_done = done;
		run->shared_valid = true;
		pthread_mutex_unlock(&run->lock);
	}
	return rc;
}

int sm_work_plan_summary(PGconn *conn, const sm_run *run, bool have_failures,
			 sm_work_type_plan *types, long long *chunks, sm_error *err)
{
	const sm_settings *set = &run->eng->env->settings;
	const char *params[6];
	char *a_uuids, *cut, *sql, batch[32];
	PGresult *res;

	params_of(run, params, &a_uuids);
	snprintf(batch, sizeof batch, "%d", set->batch_size > 0 ? set->batch_size : 500);
	params[5] = batch;
	cut = chunks_sql(conn, run, have_failures, false);
	sql = sm_xasprintf("SELECT c.source_type, sum(c.instances), sum(c.events), sum(c.failing),"
			   " count(*) FROM (%s) c GROUP BY c.source_type", cut);
	res = sm_db_query(conn, sql, 6, params, err);
	free(sql);
	free(cut);
	free(a_uuids);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	memset(types, 0, run->n_types * sizeof *types);
	*chunks = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		int k = type_index(run, PQgetvalue(res, r, 0));

		*chunks += sm_db_ll(res, r, 4);
		if (k < 0)
			continue;
		types[k].instances = sm_db_ll(res, r, 1);
		types[k].events = sm_db_ll(res, r, 2);
		types[k].failing = sm_db_ll(res, r, 3);
	}
	PQclear(res);
	return SM_OK;
}
