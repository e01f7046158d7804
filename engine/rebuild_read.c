/* A rebuild worker's reader; see rebuild_read.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/rebuild_read.h"
#include "util/alloc.h"

void sm_reader_init(sm_reader *r, sm_run *run)
{
	memset(r, 0, sizeof *r);
	r->run = run;
}

void sm_reader_free(sm_reader *r)
{
	PQfreemem(r->msg);
	free(r->map);
	free(r->tail);
	memset(r, 0, sizeof *r);
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
 * libpq (PQescapeLiteral), between COPY_HEAD and this tail, whose select
 * list is enum sm_chunk_col. */
#define COPY_HEAD "COPY (SELECT p.ord, x.k, x.v, x.t, x.d, x.m, x.c, x.i, x.ca, x.co FROM unnest("

/* An expression that is the raw form for an instance of a raw-mode type
 * (p.rw = 1), else the JSON form (malloc'ed). */
static char *either(char *raw, char *json)
{
	char *e = sm_xasprintf("CASE WHEN p.rw = 1 THEN %s ELSE %s END", raw, json);

	free(raw);
	free(json);
	return e;
}

static char *query_tail(const sm_run *run, PGconn *conn)
{
	const sm_settings *set = &run->eng->env->settings;
	const sm_store_layout *l = &run->layout;
	char *s = sm_db_ident(conn, set->source_schema);
	char *t = sm_db_ident(conn, set->target_schema);
	char *sd = either(sm_store_raw_bytes(l->snap_data, "s.data"),
			  sm_store_json_bytes(l->snap_data, "s.data"));
	char *sm = sm_store_json_bytes(l->snap_meta, "s.metadata");
	char *td = either(sm_store_raw_bytes(l->tgt_data, "t.data"),
			  sm_store_json_bytes(l->tgt_data, "t.data"));
	char *ed = either(sm_store_raw_bytes(l->ev_data, "e.data"),
			  sm_store_json_bytes(l->ev_data, "e.data"));
	char *em = either(sm_store_raw_bytes(l->ev_meta, "e.metadata"),
			  sm_store_json_bytes(l->ev_meta, "e.metadata"));
	/* The start row: a rebuild's start snapshot (the live one or the
	 * target's) when the plan starts from one; for verify, always the
	 * live snapshot (the one to compare with) and never the target,
	 * which may not exist.  Verify compares JSON, so the live one comes
	 * as JSON even for a raw-mode reducer (which never reads it). */
	char *live_json = sm_store_json_bytes(l->snap_data, "s.data");
	char *start = run->verify
		? sm_xasprintf("(SELECT %1$d AS k, s.source_version AS v, NULL::text AS t, %2$s AS d,"
			       " %3$s AS m, NULL::timestamptz AS c,"
			       " NULL::text AS i, NULL::text AS ca, NULL::text AS co"
			       " FROM %4$s.snapshots s WHERE s.source_uuid = p.uuid)",
			       SM_ROW_START, live_json, sm, s)
		: sm_xasprintf("(SELECT %5$d AS k, CASE p.sk WHEN %3$d THEN s.source_version"
			       "  WHEN %4$d THEN t.source_version END AS v,"
			       "  NULL::text AS t,"
			       "  CASE p.sk WHEN %3$d THEN %6$s WHEN %4$d THEN %7$s END AS d, %8$s AS m,"
			       "  NULL::timestamptz AS c, NULL::text AS i, NULL::text AS ca, NULL::text AS co"
			       " FROM %1$s.snapshots s LEFT JOIN %2$s.snapshots t"
			       "  ON p.sk = %4$d AND t.source_uuid = s.source_uuid"
			       " WHERE s.source_uuid = p.uuid)",
			       s, t, SM_START_LIVE, SM_START_GENERATED, SM_ROW_START, sd, td, sm);
	char *sql = sm_xasprintf(
		"  WITH ORDINALITY AS p(uuid, sid, fv, tv, sk, rw, ord)"
		" CROSS JOIN LATERAL ("
		"  %2$s"
		"  UNION ALL"
		"  (SELECT %6$d, se.stream_version, e.event_type, %3$s, %4$s, %5$s,"
		"    CASE WHEN p.rw = 1 THEN e.event_id::text END,"
		"    CASE WHEN p.rw = 1 THEN e.causation_id::text END,"
		"    CASE WHEN p.rw = 1 THEN e.correlation_id::text END"
		"   FROM %1$s.stream_events se JOIN %1$s.events e ON e.event_id = se.event_id"
		"   WHERE se.stream_id = p.sid AND se.stream_version > p.fv AND se.stream_version <= p.tv"
		"   ORDER BY se.stream_version)"
		" ) x) TO STDOUT (FORMAT binary)",
		s, start, ed, em, wants_created_at(run) ? "e.created_at" : "NULL::timestamptz",
		SM_ROW_EVENT);

	free(start);
	free(live_json);
	free(s);
	free(t);
	free(sd);
	free(sm);
	free(td);
	free(ed);
	free(em);
	return sql;
}

int sm_reader_open(sm_reader *r, PGconn *conn, sm_error *err)
{
	/* The reading query must walk the (stream_id, stream_version) index
	 * stream by stream; a hash or merge join would read whole tables.
	 * JIT compiling each chunk's query costs more than it saves, and
	 * parallel plans only add sorting work to an already ordered walk. */
	int rc = sm_db_exec(conn,
			    "SET enable_hashjoin = off; SET enable_mergejoin = off;"
			    " SET jit = off; SET max_parallel_workers_per_gather = 0;"
			    " SET default_transaction_read_only = on", err);

	r->conn = rc == SM_OK ? conn : NULL;
	free(r->tail);
	r->tail = rc == SM_OK ? query_tail(r->run, conn) : NULL;
	return rc;
}

/* The chunk's unnest() arguments as literals: uuid, stream id, first and
 * last version, start kind, raw mode (1 or 0) of each instance in r->map. */
#define CHUNK_ARRAYS 6
static bool chunk_literals(sm_reader *r, char *lit[CHUNK_ARRAYS])
{
	const sm_instance *inst = r->chunk->inst;
	size_t n = r->n_map;
	const char **uuids = sm_xcalloc(n + 1, sizeof *uuids);
	long long *num[CHUNK_ARRAYS - 1];
	char *a[CHUNK_ARRAYS];
	bool ok = true;

	for (int k = 0; k < CHUNK_ARRAYS - 1; k++)
		num[k] = sm_xcalloc(n + 1, sizeof *num[k]);
	for (size_t i = 0; i < n; i++) {
		const sm_instance *x = &inst[r->map[i]];

		uuids[i] = x->uuid;
		num[0][i] = x->stream_id;
		num[1][i] = x->start_version;
		num[2][i] = x->end_version;
		num[3][i] = x->start_kind;
		num[4][i] = r->run->types[x->type_index].raw;
	}
	a[0] = sm_db_text_array(uuids, n);
	for (int k = 0; k < CHUNK_ARRAYS - 1; k++)
		a[k + 1] = sm_db_ll_array(num[k], n);
	for (int k = 0; k < CHUNK_ARRAYS; k++) {
		/* PQescapeLiteral quotes (and, where needed, E'' escapes) a
		 * value for the connection's encoding and settings; its result
		 * is freed with PQfreemem. */
		lit[k] = ok ? PQescapeLiteral(r->conn, a[k], strlen(a[k])) : NULL;
		ok = ok && lit[k];
		free(a[k]);
	}
	for (int k = 0; k < CHUNK_ARRAYS - 1; k++)
		free(num[k]);
	free(uuids);
	return ok;
}

static int send_query(sm_reader *r, sm_error *err)
{
	static const char *const casts[CHUNK_ARRAYS] = { "::text[], ", "::bigint[], ", "::bigint[], ",
							 "::bigint[], ", "::int[], ", "::int[])" };
	char *lit[CHUNK_ARRAYS] = { NULL };
	size_t len = strlen(COPY_HEAD) + strlen(r->tail) + 1;
	bool ok = chunk_literals(r, lit);

	for (int k = 0; k < CHUNK_ARRAYS && ok; k++)
		len += strlen(lit[k]) + strlen(casts[k]);
	if (ok) {
		char *sql = sm_xmalloc(len), *p = sql;

		p = stpcpy(p, COPY_HEAD);
		for (int k = 0; k < CHUNK_ARRAYS; k++)
			p = stpcpy(stpcpy(p, lit[k]), casts[k]);
		stpcpy(p, r->tail);
		ok = PQsendQuery(r->conn, sql);
		free(sql);
	}
	for (int k = 0; k < CHUNK_ARRAYS; k++)
		PQfreemem(lit[k]);
	return ok ? SM_OK : sm_db_error(r->conn, NULL, "reading events", err);
}

/* Reads the command's remaining results until NULL (we PQclear each),
 * leaving COPY OUT if the query is still in it. */
static void drain(PGconn *conn)
{
	PGresult *res;

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

int sm_reader_send(sm_reader *r, const sm_chunk *ch, sm_error *err)
{
	PGresult *res;
	int rc;

	r->chunk = ch;
	r->map = sm_xrealloc(r->map, (ch->count + 1) * sizeof *r->map);
	r->n_map = 0;
	for (size_t i = 0; i < ch->count; i++)
		if (!ch->inst[i].prefail_msg)
			r->map[r->n_map++] = i;
	sm_pgcopy_init(&r->copy, SM_CHUNK_COLS);
	rc = send_query(r, err);
	if (rc)
		return rc;
	r->active = true;
	res = PQgetResult(r->conn);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		rc = sm_db_error(r->conn, res, "reading events", err);
		drain(r->conn);
		r->active = false;
	}
	PQclear(res);
	return rc;
}

/* The data is complete (-1) or the query failed (-2): its result says. */
static enum sm_read end_of_data(sm_reader *r, sm_error *err)
{
	PGresult *res = PQgetResult(r->conn);
	enum sm_read st = SM_READ_END;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		sm_db_error(r->conn, res, "reading events", err);
		st = SM_READ_ERROR;
	} else if (!r->copy.trailer_seen) {
		sm_error_set(err, SM_ERR_INTERNAL, "the event data ended early");
		st = SM_READ_ERROR;
	}
	PQclear(res);
	drain(r->conn);
	r->active = false;
	return st;
}

static enum sm_read bad_data(sm_reader *r, const char *what, sm_error *err)
{
	sm_reader_stop(r);
	sm_error_set(err, SM_ERR_INTERNAL, "%s", what);
	return SM_READ_ERROR;
}

enum sm_read sm_reader_next(sm_reader *r, sm_pgcopy_row *row, size_t *ord, sm_error *err)
{
	for (;;) {
		int n;
		long long o;

		PQfreemem(r->msg);
		r->msg = NULL;
		n = PQgetCopyData(r->conn, &r->msg, 0);
		if (n < 0)
			return end_of_data(r, err);
		switch (sm_pgcopy_decode(&r->copy, r->msg, (size_t)n, row)) {
		case SM_PGCOPY_TRAILER:
			continue;
		case SM_PGCOPY_BAD:
			return bad_data(r, "unexpected data from the event query (COPY)", err);
		case SM_PGCOPY_ROW:
			break;
		}
		if (!sm_pgcopy_int64(row, SM_CHUNK_ORD, &o))
			return bad_data(r, "unexpected data from the event query (COPY)", err);
		if (o < 1 || (unsigned long long)o > r->n_map)
			return bad_data(r, "rows of the event query arrived out of order", err);
		*ord = (size_t)o;
		return SM_READ_ROW;
	}
}

void sm_reader_stop(sm_reader *r)
{
	PGcancel *pc;
	char buf[256];

	PQfreemem(r->msg);
	r->msg = NULL;
	if (!r->active)
		return;
	/* Asks the server to stop first, so only what is already on its way
	 * is read. */
	pc = PQgetCancel(r->conn);
	if (pc) {
		PQcancel(pc, buf, sizeof buf);
		PQfreeCancel(pc);
	}
	drain(r->conn);
	r->active = false;
}
