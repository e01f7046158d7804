/*
 * snapmig-old-pattern: the access pattern of the workflow snapmig replaces
 * (shared/reference/snapshot-migration-workflow.md, a mix task on top of
 * Commanded), re-created in C for `make bench`:
 *   - one query for all existing snapshots of the configured types;
 *   - then one aggregate at a time: look up its stream, read its events
 *     1,000 per query (EventStore's read_stream_forward batch), fold them
 *     with the same reducer snapmig uses (config rules or external program),
 *   - and write its snapshot with one upsert (autocommit) into the target.
 * Stale snapshots are replayed from the initial state, valid ones continue
 * from their data, as Commanded loads an aggregate.
 *
 *   snapmig-old-pattern -c CONFIG -e ENV [-a TYPE]... [--max-seconds S]
 *                       [--target SCHEMA]
 *
 * Prints one JSON object: instances, events, failed, seconds (and whether
 * it stopped at --max-seconds).  A bench tool: it uses the engine's
 * internal reducer, database and store helpers (engine/reducer.h,
 * engine/db.h, engine/store.h).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/event_data.h"
#include "engine/reducer.h"
#include "engine/store.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/json.h"

#define BATCH 1000

static int die(const sm_error *err)
{
	char buf[2048];

	fprintf(stderr, "snapmig-old-pattern: %s\n", sm_error_format(err, buf, sizeof buf));
	return 1;
}

typedef struct counts {
	long long instances, events, failed;
} counts;

/* Folds one aggregate the old way; 0, 1 (instance failed) or negative. */
static int fold_one(PGconn *conn, sm_reducer *red, sm_json_reader *rd, const char *ev_sql,
		    const char *up_sql,
		    const char *uuid, const char *type, long long start_version,
		    json_object *start, const char *metadata, counts *n, sm_error *err)
{
	sm_reduce_failure fail;
	long long stream_id, version = start_version;
	const char *p1[] = { uuid };
	PGresult *res;
	json_object *state = NULL;
	int rc;

	res = sm_db_query(conn, "SELECT stream_id FROM streams WHERE stream_uuid = $1"
			  " AND deleted_at IS NULL", 1, p1, err);
	if (!res)
		return SM_ERR_DB;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 1;
	}
	stream_id = sm_db_ll(res, 0, 0);
	PQclear(res);

	rc = sm_reducer_begin(red, uuid, start, start_version, &fail, err);
	while (rc == 0) {
		char sid[32], from[32];
		const char *p[] = { sid, from };
		int rows;

		snprintf(sid, sizeof sid, "%lld", stream_id);
		snprintf(from, sizeof from, "%lld", version + 1);
		/* Binary results: every column is text or bytea, so the values
		 * arrive as raw bytes (JSON text) without escaping. */
		res = PQexecParams(conn, ev_sql, 2, NULL, p, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			sm_db_error(conn, res, "reading events", err);
			PQclear(res);
			rc = SM_ERR_DB;
			break;
		}
		rows = PQntuples(res);
		for (int i = 0; i < rows && rc == 0; i++) {
			json_object *data = NULL, *meta = NULL;
			sm_event_view ev = { 0 };
			char *vtext = sm_xstrndup(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
			char *etype = sm_xstrndup(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
			char *created = sm_xstrndup(PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4));
			sm_error perr;

			const sm_event_reads *reads = sm_reducer_reads(red, etype);

			version = atoll(vtext);
			/* Decoded as snapmig decodes events: the comparison is
			 * about the access pattern, not the JSON code. */
			if (sm_decode_event_data(rd, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2),
						 reads->all_data ? NULL : &reads->data, &data, &perr)) {
				rc = 1;
			} else {
				if (!PQgetisnull(res, i, 3))
					sm_decode_event_metadata(rd, PQgetvalue(res, i, 3),
								 (size_t)PQgetlength(res, i, 3),
								 reads->metadata, &meta, &perr);
				ev.type = etype;
				ev.version = version;
				ev.stream_uuid = uuid;
				ev.data = data;
				ev.metadata = meta;
				ev.created_at = created;
				rc = sm_reducer_event(red, &ev, &fail, err);
				n->events++;
			}
			json_object_put(data);
			json_object_put(meta);
			free(vtext);
			free(etype);
			free(created);
		}
		PQclear(res);
		if (rows < BATCH)
			break;
	}
	if (rc == 0)
		rc = sm_reducer_end(red, &state, &fail, err);
	if (rc != 0) {
		if (rc > 0)
			sm_reducer_abort(red);
		return rc;
	}

	{
		char v[32];
		size_t len;
		const char *text = sm_json_print(state, &len);
		const char *p[] = { uuid, v, type, text, metadata };

		snprintf(v, sizeof v, "%lld", version);
		rc = sm_db_exec_count(conn, up_sql, 5, p, NULL, NULL, err);
		json_object_put(state);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' },
		{ "target", required_argument, NULL, 't' },
		{ "max-seconds", required_argument, NULL, 'm' },
		{ "aggregate", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL, *env_name = NULL, *target = "old_pattern";
	double max_seconds = 0, t0;
	sm_config *cfg = NULL;
	const sm_environment *env;
	sm_error err;
	PGconn *conn;
	PGresult *snaps;
	sm_store_layout layout;
	bool stopped = false;
	char *ev_sql, *up_sql, *snap_sql, *t;
	sm_reducer **reducers;
	sm_json_reader *rd;
	counts n = { 0 };
	const char *only[16];
	int n_only = 0, c;

	sm_error_clear(&err);
	while ((c = getopt_long(argc, argv, "c:e:t:m:a:", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'e': env_name = optarg; break;
		case 't': target = optarg; break;
		case 'm': max_seconds = atof(optarg); break;
		case 'a':
			if (n_only < 16)
				only[n_only++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: snapmig-old-pattern -c CONFIG -e ENV [-a TYPE]..."
				" [--target SCHEMA] [--max-seconds S]\n");
			return 2;
		}
	}
	if (!config_path || !env_name) {
		fprintf(stderr, "snapmig-old-pattern: -c CONFIG and -e ENV are required\n");
		return 2;
	}
	if (sm_config_load(config_path, &cfg, &err))
		return die(&err);
	if (!(env = sm_config_find_env(cfg, env_name))) {
		fprintf(stderr, "snapmig-old-pattern: no environment %s\n", env_name);
		return 2;
	}
	if (!(conn = sm_db_connect(env->conninfo, NULL, NULL, &err)))
		return die(&err);
	{
		char *s = sm_db_ident(conn, env->settings.source_schema);
		char *sql = sm_xasprintf("SET search_path = %s", s);

		if (sm_db_exec(conn, sql, &err))
			return die(&err);
		free(sql);
		free(s);
	}
	if (sm_store_layout_read(conn, &env->settings, &layout, &err))
		return die(&err);

	t = sm_db_ident(conn, target);
	{
		char *sql = sm_xasprintf("DROP SCHEMA IF EXISTS %1$s CASCADE; CREATE SCHEMA %1$s;"
					 " CREATE TABLE %1$s.snapshots (LIKE snapshots INCLUDING ALL)", t);

		if (sm_db_exec(conn, sql, &err))
			return die(&err);
		free(sql);
	}
	{
		char *d = sm_store_json_bytes(layout.ev_data, "e.data");
		char *m = sm_store_json_bytes(layout.ev_meta, "e.metadata");
		char *wd = sm_store_json_write(layout.snap_data, layout.double_encoded, "$4");
		char *wm = sm_store_json_write(layout.snap_meta, layout.double_encoded, "$5");

		/* EventStore's read_stream_forward, 1,000 events per query. */
		ev_sql = sm_xasprintf(
			"SELECT se.stream_version::text, e.event_type, %s, %s,"
			" to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
			" FROM stream_events se JOIN events e ON e.event_id = se.event_id"
			" WHERE se.stream_id = $1 AND se.stream_version >= $2"
			" ORDER BY se.stream_version LIMIT %d", d, m, BATCH);
		/* EventStore's record_snapshot: one upsert per aggregate. */
		up_sql = sm_xasprintf(
			"INSERT INTO %s.snapshots (source_uuid, source_version, source_type, data, metadata)"
			" VALUES ($1, $2, $3, %s, %s) ON CONFLICT (source_uuid) DO UPDATE SET"
			" source_version = excluded.source_version, source_type = excluded.source_type,"
			" data = excluded.data, metadata = excluded.metadata, created_at = now()",
			t, wd, wm);
		free(d);
		free(m);
		free(wd);
		free(wm);
		d = sm_store_json_bytes(layout.snap_data, "data");
		m = sm_store_json_bytes(layout.snap_meta, "metadata");
		snap_sql = sm_xasprintf("SELECT source_uuid, source_type, source_version, %s, %s"
					" FROM snapshots ORDER BY source_uuid", d, m);
		free(d);
		free(m);
	}

	reducers = sm_xcalloc(cfg->n_aggs, sizeof *reducers);
	rd = sm_json_reader_new();
	if (!rd)
		return die(&(sm_error){ .code = SM_ERR_NOMEM, .message = "out of memory" });
	sm_json_reader_keep_last_duplicate(rd, env->settings.last_duplicate_wins);
	for (size_t i = 0; i < cfg->n_aggs; i++)
		if (sm_reducer_open(cfg, &cfg->aggs[i], 0, NULL, &reducers[i], &err))
			return die(&err);

	t0 = sm_now();
	snaps = PQexecParams(conn, snap_sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(snaps) != PGRES_TUPLES_OK) {
		sm_db_error(conn, snaps, "reading snapshots", &err);
		return die(&err);
	}
	for (int i = 0; i < PQntuples(snaps); i++) {
		char *uuid = sm_xstrndup(PQgetvalue(snaps, i, 0), (size_t)PQgetlength(snaps, i, 0));
		char *type = sm_xstrndup(PQgetvalue(snaps, i, 1), (size_t)PQgetlength(snaps, i, 1));
		char *ver = sm_xstrndup(PQgetvalue(snaps, i, 2), (size_t)PQgetlength(snaps, i, 2));
		const sm_aggregate *agg = sm_config_find_aggregate(cfg, type);
		json_object *data = NULL, *meta = NULL, *mv;
		long long module_version = 1, start_version = 0;
		char *new_meta;
		int rc;

		bool wanted = n_only == 0;

		for (int k = 0; agg && k < n_only; k++)
			if (agg == sm_config_find_aggregate(cfg, only[k]))
				wanted = true;
		if (!agg || !wanted) {
			free(uuid), free(type), free(ver);
			continue;
		}
		sm_json_parse_object(PQgetvalue(snaps, i, 4), (size_t)PQgetlength(snaps, i, 4),
				     &meta, &err);
		if (meta && json_object_object_get_ex(meta, env->settings.metadata_key, &mv))
			module_version = json_object_get_int64(mv);
		if (!meta)
			meta = json_object_new_object();
		if (module_version == agg->snapshot_version &&
		    sm_json_parse_object(PQgetvalue(snaps, i, 3), (size_t)PQgetlength(snaps, i, 3),
					 &data, &err) == 0)
			start_version = atoll(ver);
		json_object_object_add(meta, env->settings.metadata_key,
				       json_object_new_int64(agg->snapshot_version));
		new_meta = sm_xstrdup(sm_json_print(meta, &(size_t){ 0 }));
		rc = fold_one(conn, reducers[agg - cfg->aggs], rd, ev_sql, up_sql, uuid, agg->type,
			      start_version, data, new_meta, &n, &err);
		json_object_put(data);
		json_object_put(meta);
		free(new_meta);
		free(uuid), free(type), free(ver);
		if (rc < 0)
			return die(&err);
		n.instances++;
		if (rc > 0)
			n.failed++;
		if (max_seconds > 0 && sm_now() - t0 >= max_seconds && i + 1 < PQntuples(snaps)) {
			stopped = true;
			break;
		}
	}
	printf("{\"instances\": %lld, \"events\": %lld, \"failed\": %lld, \"seconds\": %.3f,"
	       " \"stopped_early\": %s}\n", n.instances, n.events, n.failed, sm_now() - t0,
	       stopped ? "true" : "false");
	PQclear(snaps);
	for (size_t i = 0; i < cfg->n_aggs; i++)
		sm_reducer_close(reducers[i]);
	sm_json_reader_free(rd);
	free(reducers);
	free(ev_sql);
	free(up_sql);
	free(snap_sql);
	{
		char *sql = sm_xasprintf("DROP SCHEMA %s CASCADE", t);

		sm_db_exec(conn, sql, &err);
		free(sql);
	}
	free(t);
	PQfinish(conn);
	sm_config_free(cfg);
	return 0;
}
