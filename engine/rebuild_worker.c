/*
 * A rebuild worker: takes chunks of planned instances, streams their start
 * rows and events with one query per chunk (single-row mode, binary
 * results: memory stays bounded by one aggregate state plus fixed buffers),
 * folds each instance with its reducer, and streams the results into a
 * temporary table on a second connection (COPY), then upserts them into the
 * target schema in the chunk's one transaction.  Failures are per instance.
 * A lost connection is retried with back-off; the chunk is then redone
 * from its planned starts, which gives the same rows.
 */
#include "config.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/db.h"
#include "engine/event_data.h"
#include "engine/rebuild_internal.h"
#include "engine/reducer.h"
#include "util/alloc.h"
#include "util/json.h"

#define MAX_RETRIES 3
#define PROGRESS_EVERY 256

typedef struct failure_rec {
	char *uuid;
	const char *type;
	int kind;
	long long version;
	char *event_type;
	char *message;
} failure_rec;

typedef struct worker {
	sm_run *run;
	int id;
	PGconn *reader, *writer;
	sm_reducer **reducers;      /* per run type, opened lazily */
	sm_json_reader *json;       /* parses every event of this worker */
	/* Per chunk. */
	failure_rec *fails;
	size_t n_fails, cap_fails;
	long long *done_events;     /* per type: events folded in the open chunk */
	long long *done_instances;  /* per type: instances finished in the open chunk */
	char *copy_buf;
	size_t copy_cap;
} worker;

/* Per instance while its rows stream in. */
typedef struct current {
	const sm_instance *inst;
	sm_reducer *reducer;
	bool started;               /* start row seen */
	bool failed;
	bool superseded;            /* the live snapshot moved past the plan: nothing to write */
	long long skip_through;     /* events up to this version are in the start snapshot */
	long long next_version;
	json_object *metadata;      /* the live snapshot's metadata (owned) */
	long long events;
	long long events_reported;
} current;

static const char *type_name(const worker *w, const sm_instance *x)
{
	return w->run->types[x->type_index].agg->type;
}

static void add_failure(worker *w, const sm_instance *x, int kind, long long version,
			const char *event_type, const char *message)
{
	failure_rec *f;

	w->fails = sm_xgrow(w->fails, &w->cap_fails, w->n_fails + 1, sizeof *w->fails);
	f = &w->fails[w->n_fails++];
	f->uuid = x->uuid;
	f->type = type_name(w, x);
	f->kind = kind;
	f->version = version;
	f->event_type = event_type && *event_type ? sm_xstrdup(event_type) : NULL;
	f->message = sm_xstrdup(message);
}

static void clear_chunk_state(worker *w)
{
	for (size_t i = 0; i < w->n_fails; i++) {
		free(w->fails[i].event_type);
		free(w->fails[i].message);
	}
	w->n_fails = 0;
	memset(w->done_events, 0, w->run->n_types * sizeof *w->done_events);
	memset(w->done_instances, 0, w->run->n_types * sizeof *w->done_instances);
}

static void report_events(worker *w, current *c)
{
	long long delta = c->events - c->events_reported;

	if (!delta)
		return;
	pthread_mutex_lock(&w->run->lock);
	w->run->types[c->inst->type_index].events_done += delta;
	pthread_mutex_unlock(&w->run->lock);
	w->done_events[c->inst->type_index] += delta;
	c->events_reported = c->events;
}

/* ------------------------------------------------------------ connections */

static void close_conns(worker *w)
{
	sm_run_watch_conn(w->run, 2 * w->id - 1, NULL);
	sm_run_watch_conn(w->run, 2 * w->id, NULL);
	if (w->reader)
		PQfinish(w->reader);
	if (w->writer)
		PQfinish(w->writer);
	w->reader = w->writer = NULL;
}

static int open_conns(worker *w, sm_error *err)
{
	sm_run *run = w->run;
	char *t, *sql, *wd, *wm;
	int rc;

	w->reader = sm_engine_connect(run->eng, err);
	if (!w->reader)
		return SM_ERR_DB;
	w->writer = sm_engine_connect(run->eng, err);
	if (!w->writer)
		return SM_ERR_DB;
	sm_run_watch_conn(run, 2 * w->id - 1, w->reader);
	sm_run_watch_conn(run, 2 * w->id, w->writer);
	/* The reading query must walk the (stream_id, stream_version) index
	 * stream by stream; a hash or merge join would read whole tables. */
	/* JIT compiling each chunk's query costs more than it saves, and
	 * parallel plans only add sorting work to an already ordered walk. */
	rc = sm_db_exec(w->reader,
			"SET enable_hashjoin = off; SET enable_mergejoin = off;"
			" SET jit = off; SET max_parallel_workers_per_gather = 0;"
			" SET default_transaction_read_only = on", err);
	if (rc == SM_OK)
		rc = sm_db_exec(w->writer, "SET jit = off", err);
	if (rc)
		return rc;
	t = sm_db_ident(w->writer, run->eng->env->settings.target_schema);
	wd = sm_store_json_write(run->layout.tgt_data, run->layout.double_encoded, "o.data");
	wm = sm_store_json_write(run->layout.tgt_meta, run->layout.double_encoded, "o.metadata");
	sql = sm_xasprintf(
		"SET client_min_messages = warning;"
		"CREATE TEMP TABLE sm_out (source_uuid text, source_version bigint,"
		" source_type text, data text, metadata text) ON COMMIT DELETE ROWS;"
		"PREPARE sm_upsert AS INSERT INTO %1$s.snapshots"
		" (source_uuid, source_version, source_type, data, metadata, created_at)"
		" SELECT o.source_uuid, o.source_version, o.source_type, %2$s, %3$s, now() FROM sm_out o"
		" ON CONFLICT (source_uuid) DO UPDATE SET source_version = excluded.source_version,"
		" source_type = excluded.source_type, data = excluded.data,"
		" metadata = excluded.metadata, created_at = excluded.created_at;"
		"PREPARE sm_clear_failures AS DELETE FROM %1$s.snapmig_failures f"
		" USING sm_out o WHERE f.source_uuid = o.source_uuid;"
		"PREPARE sm_add_failures (text[], text[], text[], bigint[], text[], text[], bigint) AS"
		" INSERT INTO %1$s.snapmig_failures"
		" (source_uuid, source_type, kind, stream_version, event_type, message, run_id)"
		" SELECT u, t, k, v, e, m, $7 FROM unnest($1, $2, $3, $4, $5, $6) AS x(u, t, k, v, e, m)"
		" ON CONFLICT (source_uuid) DO UPDATE SET source_type = excluded.source_type,"
		" kind = excluded.kind, stream_version = excluded.stream_version,"
		" event_type = excluded.event_type, message = excluded.message,"
		" run_id = excluded.run_id, recorded_at = now();",
		t, wd, wm);
	rc = sm_db_exec(w->writer, sql, err);
	free(sql);
	free(wd);
	free(wm);
	free(t);
	return rc;
}

/* ---------------------------------------------------------------- writing */

/* Appends s to the COPY text buffer, escaped for COPY's text format. */
static void copy_append(worker *w, size_t *len, const char *s, size_t n)
{
	w->copy_buf = sm_xgrow(w->copy_buf, &w->copy_cap, *len + 2 * n + 2, 1);
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		switch (ch) {
		case '\\': w->copy_buf[(*len)++] = '\\'; w->copy_buf[(*len)++] = '\\'; break;
		case '\n': w->copy_buf[(*len)++] = '\\'; w->copy_buf[(*len)++] = 'n'; break;
		case '\r': w->copy_buf[(*len)++] = '\\'; w->copy_buf[(*len)++] = 'r'; break;
		case '\t': w->copy_buf[(*len)++] = '\\'; w->copy_buf[(*len)++] = 't'; break;
		default: w->copy_buf[(*len)++] = ch;
		}
	}
}

static void copy_sep(worker *w, size_t *len, char c)
{
	w->copy_buf = sm_xgrow(w->copy_buf, &w->copy_cap, *len + 1, 1);
	w->copy_buf[(*len)++] = c;
}

static int write_result(worker *w, current *c, json_object *state, sm_error *err)
{
	sm_run *run = w->run;
	const char *key = run->eng->env->settings.metadata_key;
	json_object *meta;
	const char *text;
	size_t n, len = 0;
	char num[32];

	if (c->metadata && json_object_is_type(c->metadata, json_type_object)) {
		meta = c->metadata;
		c->metadata = NULL;
	} else {
		meta = json_object_new_object();
	}
	json_object_object_add(meta, key,
			       json_object_new_int64(run->types[c->inst->type_index].agg->snapshot_version));
	copy_append(w, &len, c->inst->uuid, strlen(c->inst->uuid));
	copy_sep(w, &len, '\t');
	n = (size_t)snprintf(num, sizeof num, "%lld", c->inst->end_version);
	copy_append(w, &len, num, n);
	copy_sep(w, &len, '\t');
	text = type_name(w, c->inst);
	copy_append(w, &len, text, strlen(text));
	copy_sep(w, &len, '\t');
	text = sm_json_print(state, &n);
	copy_append(w, &len, text, n);
	copy_sep(w, &len, '\t');
	text = sm_json_print(meta, &n);
	copy_append(w, &len, text, n);
	copy_sep(w, &len, '\n');
	json_object_put(meta);
	if (PQputCopyData(w->writer, w->copy_buf, (int)len) != 1)
		return sm_db_error(w->writer, NULL, "writing snapshots", err);
	return SM_OK;
}

static int finish_instance(worker *w, current *c, sm_error *err)
{
	sm_reduce_failure fail;
	json_object *state = NULL;
	int rc = SM_OK;

	memset(&fail, 0, sizeof fail);
	if (!c->failed && c->started && c->next_version != c->inst->end_version + 1) {
		char msg[200];

		snprintf(msg, sizeof msg, "events %lld..%lld of the stream are missing",
			 c->next_version, c->inst->end_version);
		add_failure(w, c->inst, SM_FAIL_BAD_EVENT, c->next_version, NULL, msg);
		c->failed = true;
		sm_reducer_abort(c->reducer);
	}
	if (!c->failed && !c->started) {
		add_failure(w, c->inst, SM_FAIL_MISSING_STREAM, 0, NULL,
			    "the snapshot disappeared while rebuilding");
		c->failed = true;
	}
	if (c->superseded) {
		w->done_instances[c->inst->type_index]++;
	} else if (!c->failed) {
		rc = sm_reducer_end(c->reducer, &state, &fail, err);
		if (rc == 1) {
			add_failure(w, c->inst, (int)fail.kind, fail.version, fail.event_type, fail.message);
			c->failed = true;
			rc = SM_OK;
		} else if (rc == SM_OK) {
			bool jsonb_target = w->run->layout.tgt_data == SM_COL_JSONB && !w->run->layout.double_encoded;

			if (!state || !json_object_is_type(state, json_type_object)) {
				add_failure(w, c->inst, SM_FAIL_REDUCER, 0, NULL,
					    "the reducer's final state is not a JSON object");
				c->failed = true;
			} else if (jsonb_target && sm_json_has_nul(state)) {
				add_failure(w, c->inst, SM_FAIL_BAD_EVENT, 0, NULL,
					    "the state contains a NUL character (\\u0000), which a jsonb column cannot store");
				c->failed = true;
			} else {
				rc = write_result(w, c, state, err);
				if (rc == SM_OK)
					w->done_instances[c->inst->type_index]++;
			}
			json_object_put(state);
		}
	}
	if (c->failed)
		w->done_instances[c->inst->type_index]++;
	report_events(w, c);
	json_object_put(c->metadata);
	c->metadata = NULL;
	c->inst = NULL;
	return rc;
}

static bool run_cancelled(void *arg)
{
	return atomic_load(&((sm_run *)arg)->cancel);
}

static int reducer_for(worker *w, const sm_instance *x, sm_reducer **out, sm_error *err)
{
	sm_run *run = w->run;

	if (!w->reducers[x->type_index]) {
		int rc = sm_reducer_open(run->eng->cfg, run->types[x->type_index].agg, w->id,
					 run->log_path, &w->reducers[x->type_index], err);

		if (rc)
			return rc;
		sm_reducer_set_cancel(w->reducers[x->type_index], run_cancelled, run);
	}
	*out = w->reducers[x->type_index];
	return SM_OK;
}

/* ---------------------------------------------------------------- reading */

static long long be64(const char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return (long long)be64toh(v);
}

static int be32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (int)be32toh(v);
}

/* PostgreSQL timestamptz (binary: microseconds since 2000-01-01 UTC). */
static void format_timestamp(long long usec, char *buf, size_t size)
{
	time_t secs = (time_t)(usec / 1000000) + 946684800;
	long long frac = usec % 1000000;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	/* Once per event: digits by hand, snprintf showed in profiles. */
	if (size >= 28 && tm.tm_year >= -1900 && tm.tm_year + 1900 <= 9999) {
		static const char pattern[] = "0000-00-00T00:00:00.000000Z";
		const int fields[][3] = {  /* value, end offset, digits */
			{ tm.tm_year + 1900, 4, 4 }, { tm.tm_mon + 1, 7, 2 }, { tm.tm_mday, 10, 2 },
			{ tm.tm_hour, 13, 2 }, { tm.tm_min, 16, 2 }, { tm.tm_sec, 19, 2 },
			{ (int)frac, 26, 6 },
		};

		memcpy(buf, pattern, sizeof pattern);
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			int v = fields[i][0];

			for (int k = 1; k <= fields[i][2]; k++, v /= 10)
				buf[fields[i][1] - k] = (char)('0' + v % 10);
		}
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* Only an external reducer is sent an event's created_at (the rules have
 * no use for it): without one, the server need not send it. */
static bool wants_created_at(const sm_run *run)
{
	for (size_t i = 0; i < run->n_types; i++)
		if (run->types[i].agg->exec)
			return true;
	return false;
}

/* COPY, binary: one CopyData message per row and no result object per
 * row (single-row mode built one, a fifth of the client's time).  COPY
 * takes no parameters, so the chunk's arrays go in as literals escaped by
 * libpq (PQescapeLiteral), between this head and chunk_query's tail. */
#define COPY_HEAD "COPY (SELECT p.ord, x.k, x.v, x.t, x.d, x.m, x.c FROM unnest("

static char *chunk_query(worker *w)
{
	sm_run *run = w->run;
	PGconn *conn = w->reader;
	char *s = sm_db_ident(conn, run->eng->env->settings.source_schema);
	char *t = sm_db_ident(conn, run->eng->env->settings.target_schema);
	char *sd = sm_store_json_bytes(run->layout.snap_data, "s.data");
	char *sm = sm_store_json_bytes(run->layout.snap_meta, "s.metadata");
	char *td = sm_store_json_bytes(run->layout.tgt_data, "t.data");
	char *ed = sm_store_json_bytes(run->layout.ev_data, "e.data");
	char *em = sm_store_json_bytes(run->layout.ev_meta, "e.metadata");
	/* The part of the statement after the chunk's arrays (COPY_HEAD and
	 * the arrays come first, see send_chunk_query). */
	char *sql = sm_xasprintf(		"  WITH ORDINALITY AS p(uuid, sid, fv, tv, sk, ord)"
		" CROSS JOIN LATERAL ("
		"  (SELECT 0 AS k, CASE p.sk WHEN %9$d THEN s.source_version WHEN %10$d THEN t.source_version END AS v,"
		"    NULL::text AS t,"
		"    CASE p.sk WHEN %9$d THEN %3$s WHEN %10$d THEN %5$s END AS d, %4$s AS m,"
		"    NULL::timestamptz AS c"
		"   FROM %1$s.snapshots s LEFT JOIN %2$s.snapshots t"
		"    ON p.sk = %10$d AND t.source_uuid = s.source_uuid"
		"   WHERE s.source_uuid = p.uuid)"
		"  UNION ALL"
		"  (SELECT 1, se.stream_version, e.event_type, %6$s, %7$s, %8$s"
		"   FROM %1$s.stream_events se JOIN %1$s.events e ON e.event_id = se.event_id"
		"   WHERE se.stream_id = p.sid AND se.stream_version > p.fv AND se.stream_version <= p.tv"
		"   ORDER BY se.stream_version)"
		" ) x) TO STDOUT (FORMAT binary)",
		s, t, sd, sm, td, ed, em, wants_created_at(run) ? "e.created_at" : "NULL::timestamptz",
		SM_START_LIVE, SM_START_GENERATED);

	free(s);
	free(t);
	free(sd);
	free(sm);
	free(td);
	free(ed);
	free(em);
	return sql;
}

static int send_chunk_query(worker *w, const sm_chunk *ch, const char *tail,
			    size_t *map, size_t *n_map, sm_error *err)
{
	static const char *const casts[5] = { "::text[], ", "::bigint[], ", "::bigint[], ",
					      "::bigint[], ", "::int[])" };
	sm_run *run = w->run;
	const char **uuids = sm_xcalloc(ch->count + 1, sizeof *uuids);
	long long *sid = sm_xcalloc(ch->count + 1, sizeof *sid);
	long long *fv = sm_xcalloc(ch->count + 1, sizeof *fv);
	long long *tv = sm_xcalloc(ch->count + 1, sizeof *tv);
	long long *sk = sm_xcalloc(ch->count + 1, sizeof *sk);
	char *a[5], *lit[5] = { NULL };
	char *sql = NULL;
	size_t n = 0, len = strlen(COPY_HEAD) + strlen(tail) + 1;
	int ok = 1;

	for (size_t i = 0; i < ch->count; i++) {
		const sm_instance *x = &run->inst[ch->first + i];

		if (x->prefail_msg)
			continue;
		map[n] = ch->first + i;
		uuids[n] = x->uuid;
		sid[n] = x->stream_id;
		fv[n] = x->start_version;
		tv[n] = x->end_version;
		sk[n] = x->start_kind;
		n++;
	}
	*n_map = n;
	a[0] = sm_db_text_array(uuids, n);
	a[1] = sm_db_ll_array(sid, n);
	a[2] = sm_db_ll_array(fv, n);
	a[3] = sm_db_ll_array(tv, n);
	a[4] = sm_db_ll_array(sk, n);
	for (int i = 0; i < 5 && ok; i++) {
		/* PQescapeLiteral quotes (and, where needed, E'' escapes) a
		 * value for the connection's encoding and settings; we free
		 * its result with PQfreemem. */
		lit[i] = PQescapeLiteral(w->reader, a[i], strlen(a[i]));
		ok = lit[i] != NULL;
		if (ok)
			len += strlen(lit[i]) + strlen(casts[i]);
	}
	if (ok) {
		char *p = sql = sm_xmalloc(len);

		p = stpcpy(p, COPY_HEAD);
		for (int i = 0; i < 5; i++)
			p = stpcpy(stpcpy(p, lit[i]), casts[i]);
		stpcpy(p, tail);
		ok = PQsendQuery(w->reader, sql);
	}
	for (int i = 0; i < 5; i++) {
		free(a[i]);
		PQfreemem(lit[i]);
	}
	free(sql);
	free(uuids);
	free(sid);
	free(fv);
	free(tv);
	free(sk);
	if (!ok)
		return sm_db_error(w->reader, NULL, "reading events", err);
	return SM_OK;
}

static void instance_fail(worker *w, current *c, const sm_reduce_failure *f)
{
	add_failure(w, c->inst, (int)f->kind, f->version, f->event_type, f->message);
	c->failed = true;
	sm_reducer_abort(c->reducer);
}

static void fail_simple(worker *w, current *c, int kind, long long version,
			const char *event_type, const char *fmt, const char *detail)
{
	sm_reduce_failure f;

	memset(&f, 0, sizeof f);
	f.kind = (enum sm_failure_kind)kind;
	f.version = version;
	snprintf(f.event_type, sizeof f.event_type, "%s", event_type ? event_type : "");
	snprintf(f.message, sizeof f.message, fmt, detail);
	if (c->started || kind == SM_FAIL_BAD_SNAPSHOT)
		instance_fail(w, c, &f);
	else {
		add_failure(w, c->inst, kind, version, event_type, f.message);
		c->failed = true;
	}
}

/* Whether the live snapshot's metadata (c->metadata) names the target
 * module version, as the planner decided for a live start (a missing key
 * is version 1). */
static bool live_at_target_version(const worker *w, const current *c)
{
	const sm_aggregate *agg = w->run->types[c->inst->type_index].agg;
	json_object *v;

	if (!c->metadata || !json_object_is_type(c->metadata, json_type_object) ||
	    !json_object_object_get_ex(c->metadata, w->run->eng->env->settings.metadata_key, &v))
		return agg->snapshot_version == 1;
	return json_object_is_type(v, json_type_int) &&
	       json_object_get_int64(v) == agg->snapshot_version;
}

/* One row of the chunk query as it arrives in COPY's binary format: each
 * field's bytes (the binary send format of its type) and length, -1 for
 * NULL.  Borrowed from the CopyData message. */
#define ROW_FIELDS 7

typedef struct row {
	const char *val[ROW_FIELDS];
	int len[ROW_FIELDS];
} row;

static const char *row_value(const row *r, int i)
{
	return r->val[i];
}

static size_t row_length(const row *r, int i)
{
	return r->len[i] < 0 ? 0 : (size_t)r->len[i];
}

static bool row_isnull(const row *r, int i)
{
	return r->len[i] < 0;
}

/* One row of the chunk query. */
static int handle_row(worker *w, current *c, const row *res, sm_error *err)
{
	int k = be32(row_value(res, 1));
	sm_reduce_failure fail;
	sm_error perr;
	int rc;

	memset(&fail, 0, sizeof fail);
	sm_error_clear(&perr);
	if (k == 0) {
		json_object *start = NULL;
		long long start_version = c->inst->start_version, now;

		c->started = true;
		c->next_version = c->inst->start_version + 1;
		if (!row_isnull(res, 5)) {
			if (sm_json_reader_parse(w->json, row_value(res, 5),
						 row_length(res, 5),
						 &c->metadata, &perr) != SM_OK) {
				fail_simple(w, c, SM_FAIL_BAD_SNAPSHOT, 0, NULL,
					    "snapshot metadata: %s", perr.message);
				return SM_OK;
			}
		}
		if (c->inst->start_kind != SM_START_INITIAL) {
			if (row_isnull(res, 4)) {
				fail_simple(w, c, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "%s",
					    "the start snapshot disappeared while rebuilding");
				return SM_OK;
			}
			now = row_isnull(res, 2) ? -1 : be64(row_value(res, 2));
			if (now != start_version) {
				/* Commanded keeps snapshotting while the rebuild runs.  A
				 * newer valid snapshot is a better start (its events are
				 * skipped below); one at or past the planned end leaves
				 * nothing to generate, and the copy keeps that live row.
				 * Anything else (older, or another module version) is
				 * not a state to continue from. */
				if (now < start_version ||
				    (c->inst->start_kind == SM_START_LIVE && !live_at_target_version(w, c))) {
					char msg[200];

					snprintf(msg, sizeof msg, "the start snapshot changed while rebuilding"
						 " (planned at version %lld, now %lld); run the rebuild again",
						 start_version, now < 0 ? 0 : now);
					fail_simple(w, c, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "%s", msg);
					return SM_OK;
				}
				if (now >= c->inst->end_version) {
					c->superseded = true;
					c->next_version = c->inst->end_version + 1;
					return SM_OK;
				}
				start_version = now;
				c->next_version = now + 1;
				c->skip_through = now;
			}
			if (sm_json_reader_parse_object(w->json, row_value(res, 4),
							row_length(res, 4),
							&start, &perr) != SM_OK) {
				fail_simple(w, c, SM_FAIL_BAD_SNAPSHOT, 0, NULL,
					    c->inst->start_kind == SM_START_GENERATED ? "generated snapshot data: %s"
								     : "snapshot data: %s", perr.message);
				return SM_OK;
			}
		}
		rc = sm_reducer_begin(c->reducer, c->inst->uuid, start,
				      start_version, &fail, err);
		json_object_put(start);
		if (rc == 1)
			instance_fail(w, c, &fail);
		return rc < 0 ? rc : SM_OK;
	}

	if (c->failed || c->superseded)
		return SM_OK;
	{
		long long version = be64(row_value(res, 2));
		const char *type = row_value(res, 3);
		json_object *data = NULL, *meta = NULL;
		const sm_event_reads *reads;
		char created[64];
		sm_event_view ev;

		if (!c->started) {
			fail_simple(w, c, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "%s",
				    "the snapshot disappeared while rebuilding");
			return SM_OK;
		}
		if (version <= c->skip_through)
			return SM_OK;  /* already in the newer start snapshot */
		if (version != c->next_version) {
			char msg[100];

			snprintf(msg, sizeof msg, "expected stream version %lld", c->next_version);
			fail_simple(w, c, SM_FAIL_BAD_EVENT, version, type, "%s", msg);
			return SM_OK;
		}
		c->next_version++;
		c->events++;
		reads = sm_reducer_reads(c->reducer, type);
		if (sm_decode_event_data(w->json, row_value(res, 4), row_length(res, 4),
					 reads->all_data ? NULL : &reads->data, &data, &perr) != SM_OK) {
			fail_simple(w, c, SM_FAIL_BAD_EVENT, version, type, "event data: %s", perr.message);
			return SM_OK;
		}
		if (!row_isnull(res, 5) &&
		    sm_decode_event_metadata(w->json, row_value(res, 5), row_length(res, 5),
					     reads->metadata, &meta, &perr) != SM_OK) {
			json_object_put(data);
			fail_simple(w, c, SM_FAIL_BAD_EVENT, version, type, "event metadata: %s", perr.message);
			return SM_OK;
		}
		if (!row_isnull(res, 6))
			format_timestamp(be64(row_value(res, 6)), created, sizeof created);
		ev.type = type;
		ev.version = version;
		ev.stream_uuid = c->inst->uuid;
		ev.data = data;
		ev.metadata = meta;
		ev.created_at = row_isnull(res, 6) ? NULL : created;
		rc = sm_reducer_event(c->reducer, &ev, &fail, err);
		json_object_put(data);
		json_object_put(meta);
		if (rc == 1)
			instance_fail(w, c, &fail);
		if (c->events - c->events_reported >= PROGRESS_EVERY)
			report_events(w, c);
		return rc < 0 ? rc : SM_OK;
	}
}

/* Drains the reader after an error or a cancel, leaving COPY OUT if it is
 * in it: with cancel, asks the server to stop first, so only what is
 * already on its way is read. */
static void drain(PGconn *conn, bool cancel)
{
	PGresult *res;

	if (cancel) {
		PGcancel *pc = PQgetCancel(conn);
		char buf[256];

		if (pc) {
			PQcancel(pc, buf, sizeof buf);
			PQfreeCancel(pc);
		}
	}
	/* In COPY OUT, PQgetResult answers PGRES_COPY_OUT until the data is
	 * read; then the command's own result, then NULL. */
	while ((res = PQgetResult(conn)) != NULL) {
		bool copy = PQresultStatus(res) == PGRES_COPY_OUT;
		char *data;

		PQclear(res);
		if (copy)
			while (PQgetCopyData(conn, &data, 0) > 0)
				PQfreemem(data);
	}
}

/* ------------------------------------------------------- COPY binary */

/* Where a NULL field points: be64 and be32 may read it. */
static const char null_field[8];

/*
 * One CopyData message of the chunk query (PostgreSQL's binary COPY
 * format): the file header comes with the first row; each message then
 * holds exactly one row ("always one per row", protocol docs), and the
 * last one the trailer.  Returns 1 with *r set for a row, 0 for the
 * trailer, -1 for anything else.  Each field is NUL-terminated in place,
 * as PQgetvalue's are (event_type is used as a C string): the byte after
 * a field is the next field's length, already read by then, or the
 * terminator libpq puts after every CopyData message.
 */
static int copy_message(bool *header_seen, char *buf, int len, row *r)
{
	static const char signature[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };
	const char *p = buf, *end = buf + len;
	int16_t fields;

	if (!*header_seen) {
		int ext;

		if (len < 19 || memcmp(p, signature, sizeof signature) != 0)
			return -1;
		ext = be32(p + 15);
		if (ext < 0 || ext > len - 19)
			return -1;
		p += 19 + ext;
		*header_seen = true;
	}
	if (end - p < 2)
		return -1;
	fields = (int16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
	p += 2;
	if (fields == -1)
		return p == end ? 0 : -1;
	if (fields != ROW_FIELDS)
		return -1;
	for (int i = 0; i < ROW_FIELDS; i++) {
		int n;

		if (end - p < 4)
			return -1;
		n = be32(p);
		p += 4;
		if (n == -1) {
			r->val[i] = null_field;
			r->len[i] = -1;
			continue;
		}
		if (n < 0 || n > end - p)
			return -1;
		r->val[i] = p;
		r->len[i] = n;
		p += n;
	}
	if (p != end)
		return -1;
	for (int i = 0; i < ROW_FIELDS; i++)
		if (r->len[i] >= 0)
			buf[(r->val[i] - buf) + r->len[i]] = '\0';
	return 1;
}

static int run_writer_sql(worker *w, const char *name, int n, const char *const *params, sm_error *err)
{
	PGresult *res = PQexecPrepared(w->writer, name, n, params, NULL, NULL, 0);
	int rc = SM_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = sm_db_error(w->writer, res, "writing snapshots", err);
	PQclear(res);
	return rc;
}

static int commit_chunk(worker *w, sm_error *err)
{
	sm_run *run = w->run;
	PGresult *res;
	int rc;

	if (PQputCopyEnd(w->writer, NULL) != 1)
		return sm_db_error(w->writer, NULL, "writing snapshots", err);
	while ((res = PQgetResult(w->writer)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			sm_db_error(w->writer, res, "writing snapshots", err);
			PQclear(res);
			while ((res = PQgetResult(w->writer)) != NULL)
				PQclear(res);
			return SM_ERR_DB;
		}
		PQclear(res);
	}
	rc = run_writer_sql(w, "sm_upsert", 0, NULL, err);
	if (!rc)
		rc = run_writer_sql(w, "sm_clear_failures", 0, NULL, err);
	if (!rc && w->n_fails) {
		const char **u = sm_xcalloc(w->n_fails, sizeof *u), **t = sm_xcalloc(w->n_fails, sizeof *t);
		const char **k = sm_xcalloc(w->n_fails, sizeof *k), **e = sm_xcalloc(w->n_fails, sizeof *e);
		const char **m = sm_xcalloc(w->n_fails, sizeof *m);
		long long *v = sm_xcalloc(w->n_fails, sizeof *v);
		char *a[6], id[32];
		const char *params[7];
		size_t n_e = 0;

		for (size_t i = 0; i < w->n_fails; i++) {
			u[i] = w->fails[i].uuid;
			t[i] = w->fails[i].type;
			k[i] = sm_failure_kind_name((enum sm_failure_kind)w->fails[i].kind);
			v[i] = w->fails[i].version;
			e[i] = w->fails[i].event_type ? w->fails[i].event_type : "";
			m[i] = w->fails[i].message;
			n_e++;
		}
		a[0] = sm_db_text_array(u, w->n_fails);
		a[1] = sm_db_text_array(t, w->n_fails);
		a[2] = sm_db_text_array(k, w->n_fails);
		a[3] = sm_db_ll_array(v, w->n_fails);
		a[4] = sm_db_text_array(e, n_e);
		a[5] = sm_db_text_array(m, w->n_fails);
		snprintf(id, sizeof id, "%lld", run->run_id);
		for (int i = 0; i < 6; i++)
			params[i] = a[i];
		params[6] = id;
		rc = run_writer_sql(w, "sm_add_failures", 7, params, err);
		for (int i = 0; i < 6; i++)
			free(a[i]);
		free(u);
		free(t);
		free(k);
		free(e);
		free(m);
		free(v);
	}
	if (!rc)
		rc = sm_db_exec(w->writer, "COMMIT", err);
	if (rc) {
		PQclear(PQexec(w->writer, "ROLLBACK"));
		return rc;
	}
	/* Committed: count the chunk's instances and failures. */
	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_types; i++)
		run->types[i].instances_done += w->done_instances[i];
	for (size_t i = 0; i < w->n_fails; i++) {
		for (size_t k2 = 0; k2 < run->n_types; k2++)
			if (run->types[k2].agg->type == w->fails[i].type)
				run->types[k2].failures[w->fails[i].kind]++;
	}
	pthread_mutex_unlock(&run->lock);
	return SM_OK;
}

/* Undoes the live event counts of a chunk that did not commit. */
static void rollback_progress(worker *w)
{
	pthread_mutex_lock(&w->run->lock);
	for (size_t i = 0; i < w->run->n_types; i++)
		w->run->types[i].events_done -= w->done_events[i];
	pthread_mutex_unlock(&w->run->lock);
}

static int process_chunk(worker *w, const sm_chunk *ch, sm_error *err)
{
	sm_run *run = w->run;
	size_t *map = sm_xcalloc(ch->count + 1, sizeof *map);
	size_t n_map = 0, pos = 0;
	current c;
	PGresult *res;
	char *sql = NULL;
	bool cancelled = false, header_seen = false, trailer_seen = false;
	int rc;

	memset(&c, 0, sizeof c);
	clear_chunk_state(w);
	rc = sm_db_exec(w->writer, "BEGIN", err);
	if (rc)
		goto out;
	res = PQexec(w->writer, "COPY sm_out FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = sm_db_error(w->writer, res, "writing snapshots", err);
		PQclear(res);
		goto out;
	}
	PQclear(res);

	/* Instances failed at planning. */
	for (size_t i = 0; i < ch->count; i++) {
		const sm_instance *x = &run->inst[ch->first + i];

		if (x->prefail_msg) {
			add_failure(w, x, (int)x->prefail, 0, NULL, x->prefail_msg);
			w->done_instances[x->type_index]++;
		}
	}
	sql = chunk_query(w);
	rc = send_chunk_query(w, ch, sql, map, &n_map, err);
	if (rc)
		goto out;
	res = PQgetResult(w->reader);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		rc = sm_db_error(w->reader, res, "reading events", err);
		PQclear(res);
		drain(w->reader, false);
		goto out;
	}
	PQclear(res);
	for (;;) {
		char *buf = NULL;
		int n = PQgetCopyData(w->reader, &buf, 0), kind;
		row r;

		if (n < 0) {
			/* -1: the data is complete, the command's result follows;
			 * -2: an error (its result says which). */
			res = PQgetResult(w->reader);
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				rc = sm_db_error(w->reader, res, "reading events", err);
			else if (!trailer_seen)
				rc = sm_error_set(err, SM_ERR_INTERNAL, "the event data ended early");
			PQclear(res);
			drain(w->reader, false);
			break;
		}
		if (atomic_load(&run->cancel)) {
			PQfreemem(buf);
			cancelled = true;
			drain(w->reader, true);
			break;
		}
		kind = copy_message(&header_seen, buf, n, &r);
		if (kind <= 0) {
			PQfreemem(buf);
			if (kind == 0) {
				trailer_seen = true;
				continue;
			}
			drain(w->reader, true);
			rc = sm_error_set(err, SM_ERR_INTERNAL, "unexpected data from the event query (COPY)");
			break;
		}
		{
			size_t ord = (size_t)be64(r.val[0]);

			if (ord < 1 || ord > n_map || ord < pos) {
				PQfreemem(buf);
				drain(w->reader, true);
				rc = sm_error_set(err, SM_ERR_INTERNAL,
						  "rows of the event query arrived out of order");
				break;
			}
			/* Instances between pos and ord got no rows at all. */
			while (pos < ord) {
				if (c.inst) {
					rc = finish_instance(w, &c, err);
					if (rc)
						break;
				}
				memset(&c, 0, sizeof c);
				c.inst = &run->inst[map[pos]];
				rc = reducer_for(w, c.inst, &c.reducer, err);
				if (rc)
					break;
				pos++;
			}
			if (!rc)
				rc = handle_row(w, &c, &r, err);
			PQfreemem(buf);
			if (rc) {
				drain(w->reader, true);
				break;
			}
		}
	}
	if (rc && atomic_load(&run->cancel)) {
		/* The cancel interrupted the query (sm_run_cancel sends the
		 * server a cancel request): stopped, not failed. */
		rc = SM_OK;
		cancelled = true;
	}
	if (rc == SM_ERR_CANCELLED) {
		/* A reducer stopped waiting because of the cancel. */
		rc = SM_OK;
		cancelled = true;
	}
	if (!rc && !cancelled) {
		while (true) {
			if (c.inst) {
				rc = finish_instance(w, &c, err);
				if (rc)
					break;
			}
			if (pos >= n_map)
				break;
			memset(&c, 0, sizeof c);
			c.inst = &run->inst[map[pos++]];
			rc = reducer_for(w, c.inst, &c.reducer, err);
			if (rc)
				break;
		}
		if (rc == SM_ERR_CANCELLED) {
			rc = SM_OK;
			cancelled = true;
		}
	}
	if (cancelled && c.inst) {
		/* The instance in flight is dropped: not committed, redone later. */
		if (c.started && !c.failed)
			sm_reducer_abort(c.reducer);
		report_events(w, &c);
		json_object_put(c.metadata);
		c.metadata = NULL;
	}
	if (!rc)
		rc = commit_chunk(w, err);
out:
	if (rc) {
		/* The instance in flight is dropped as after a cancel (the retry
		 * or the next run redoes it); its snapshot metadata would leak. */
		if (c.inst && c.started && !c.failed)
			sm_reducer_abort(c.reducer);
		json_object_put(c.metadata);
		c.metadata = NULL;
		if (PQstatus(w->writer) == CONNECTION_OK) {
			PQputCopyEnd(w->writer, "aborted");
			while ((res = PQgetResult(w->writer)) != NULL)
				PQclear(res);
			PQclear(PQexec(w->writer, "ROLLBACK"));
		}
		rollback_progress(w);
	}
	free(sql);
	free(map);
	return rc;
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
	w.reducers = sm_xcalloc(run->n_types + 1, sizeof *w.reducers);
	w.done_events = sm_xcalloc(run->n_types + 1, sizeof *w.done_events);
	w.done_instances = sm_xcalloc(run->n_types + 1, sizeof *w.done_instances);
	sm_error_clear(&wa->err);
	w.json = sm_json_reader_new();
	if (!w.json)
		rc = sm_error_set(&wa->err, SM_ERR_NOMEM, "out of memory");
	else
		sm_json_reader_keep_last_duplicate(w.json, run->eng->env->settings.last_duplicate_wins);
	while (rc == SM_OK && next_chunk(run, &idx)) {
		int attempt = 0;

		for (;;) {
			rc = SM_OK;
			if (!w.reader || !w.writer)
				rc = open_conns(&w, &wa->err);
			if (rc == SM_OK)
				rc = process_chunk(&w, &run->chunks[idx], &wa->err);
			if (rc == SM_OK || attempt >= MAX_RETRIES ||
			    !(sm_db_is_connection_error(w.reader, &wa->err) ||
			      sm_db_is_connection_error(w.writer, &wa->err)))
				break;
			/* Transient disconnect: back off, reconnect, redo the chunk
			 * from its planned starts (same rows). */
			attempt++;
			close_conns(&w);
			if (!sleep_unless_cancelled(run, 1 << (attempt - 1)))
				break;
			sm_error_clear(&wa->err);
		}
	}
	if (rc != SM_OK)
		sm_run_fail(run, &wa->err);
	wa->rc = rc;
	clear_chunk_state(&w);
	for (size_t i = 0; i < run->n_types; i++)
		sm_reducer_close(w.reducers[i]);
	free(w.reducers);
	free(w.done_events);
	free(w.done_instances);
	sm_json_reader_free(w.json);
	free(w.fails);
	free(w.copy_buf);
	close_conns(&w);
	return NULL;
}
