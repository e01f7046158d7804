/*
 * Reading snapshots for inspection, never writing: sm_snapshot_read gives
 * one snapshot of the live (source) or generated (target) schema as JSON
 * text with its metadata, sm_instances_query one page of a type's instances
 * with how their generated row compares (filtered by state: the state a
 * row has is what snapmig's comparison says, so filtering by it reads
 * every instance of the type).  Column types come from the
 * catalog: bytea, jsonb and double-encoded jsonb are accepted, as every
 * other reader of the engine does.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/store.h"
#include "util/alloc.h"
#include "util/json.h"

/* The data as Commanded decodes it: a key given twice counts once, by the
 * environment's duplicate_keys rule.  Text that is not JSON is returned
 * as stored, for the caller to show as such. */
static char *as_loaded(const sm_engine *eng, const char *text, size_t len)
{
	sm_json_reader *rd = sm_json_reader_new();
	json_object *o = NULL;
	char *out;

	if (rd) {
		sm_error perr;

		sm_json_reader_keep_last_duplicate(rd, eng->env->settings.last_duplicate_wins);
		if (sm_json_reader_parse(rd, text, len, &o, &perr) != SM_OK)
			o = NULL;
		sm_json_reader_free(rd);
	}
	if (!o)
		return sm_xstrndup(text, len);
	out = sm_xstrdup(sm_json_print(o, NULL));
	json_object_put(o);
	return out;
}

int sm_snapshot_read(sm_engine *eng, const char *source_uuid, bool generated,
		     sm_cancel *cancel, char **json_out, char **metadata_out,
		     long long *version_out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	const char *schema = generated ? set->target_schema : set->source_schema;
	sm_store_layout layout;
	enum sm_column_type data, meta;
	const char *params[1] = { source_uuid };
	bool exists = false;
	char *ident = NULL, *expr = NULL, *mexpr = NULL, *sql = NULL;
	PGresult *res = NULL;
	PGconn *conn;
	int rc;

	*json_out = NULL;
	if (metadata_out)
		*metadata_out = NULL;
	*version_out = 0;
	conn = sm_engine_connect(eng, cancel, err);
	if (!conn)
		return sm_error_code(err, SM_ERR_DB);
	rc = sm_db_table_exists(conn, schema, "snapshots", &exists, err);
	if (rc != SM_OK || !exists)
		goto out;
	rc = sm_store_layout_read(conn, set, &layout, err);
	if (rc != SM_OK)
		goto out;
	data = generated ? layout.tgt_data : layout.snap_data;
	meta = generated ? layout.tgt_meta : layout.snap_meta;
	ident = sm_db_ident(conn, schema);
	expr = sm_store_json_bytes(data, "data");
	mexpr = sm_store_json_bytes(meta, "metadata");
	sql = sm_xasprintf("SELECT source_version::text, %s, %s FROM %s.snapshots"
			   " WHERE source_uuid = $1", expr, mexpr, ident);
	/* Binary results: the raw bytes of bytea and text alike, no decoding
	 * step that could fail on odd data.  We PQclear res below. */
	res = sm_db_query_typed(conn, sql, 1, NULL, params, true, "reading a snapshot", err);
	if (!res) {
		rc = sm_error_code(err, SM_ERR_DB);
		goto out;
	}
	if (PQntuples(res) > 0) {
		char *ver = sm_xstrndup(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));

		*version_out = strtoll(ver, NULL, 10);
		free(ver);
		if (!PQgetisnull(res, 0, 1))
			*json_out = as_loaded(eng, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
		if (metadata_out && !PQgetisnull(res, 0, 2))
			*metadata_out = sm_xstrndup(PQgetvalue(res, 0, 2),
						    (size_t)PQgetlength(res, 0, 2));
	}
out:
	PQclear(res);
	free(sql);
	free(mexpr);
	free(expr);
	free(ident);
	sm_engine_disconnect(conn);
	return rc;
}

static long long text_ll(const PGresult *res, int row, int col)
{
	char *v;
	long long n;

	if (PQgetisnull(res, row, col))
		return 0;
	v = sm_xstrndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

/* Compares the two data columns as JSON values, the way the inspect view
 * does, so that the list and the detail view agree. */
static enum sm_instance_state compare(sm_json_reader *rd, const PGresult *res, int row,
				      int live_col, int gen_col)
{
	json_object *l = NULL, *g = NULL;
	enum sm_instance_state st = SM_INSTANCE_UNREADABLE;
	sm_error ignored;

	if (PQgetisnull(res, row, live_col) || PQgetisnull(res, row, gen_col))
		return SM_INSTANCE_UNREADABLE;
	if (sm_json_reader_parse(rd, PQgetvalue(res, row, live_col),
				 (size_t)PQgetlength(res, row, live_col), &l, &ignored) == SM_OK &&
	    sm_json_reader_parse(rd, PQgetvalue(res, row, gen_col),
				 (size_t)PQgetlength(res, row, gen_col), &g, &ignored) == SM_OK)
		st = sm_json_equal(l, g) ? SM_INSTANCE_SAME : SM_INSTANCE_DIFFERENT;
	if (l)
		json_object_put(l);
	if (g)
		json_object_put(g);
	return st;
}

/* One instances query being built and run: what the parts of it share. */
typedef struct iq {
	sm_engine *eng;
	const sm_instance_query *q;
	PGconn *conn;
	const char *params[6];       /* $1 type .. $6 target version, all text */
	char off_s[32], lim_s[32], ver_s[32];
	char *from;                  /* FROM .. WHERE .., the rows that match in SQL */
	char *cols;                  /* the columns of a row (take_row) */
	bool scan;                   /* the state decides: snapmig compares, row by row */
	sm_json_reader *rd;
} iq;

/* text (pg_type.h's TEXTOID, not in libpq's headers) */
static const Oid iq_types[6] = { 25, 25, 25, 25, 25, 25 };

/* Runs sql with the query's parameters; binary results: the raw bytes of
 * bytea and text alike (see sm_snapshot_read).  Every parameter is text,
 * so that a query that leaves one unused is still valid.  The caller
 * PQclears the result (NULL on error, err set). */
static PGresult *iq_exec(iq *x, const char *sql, const char *what, sm_error *err)
{
	return sm_db_query_typed(x->conn, sql, 6, iq_types, x->params, true, what, err);
}

/* The SQL parts of a query: the rows (joins and conditions) and the
 * columns; whether its states need snapmig's comparison. */
static int iq_build(iq *x, sm_error *err)
{
	const sm_settings *set = &x->eng->env->settings;
	const sm_instance_query *q = x->q;
	const sm_aggregate *agg = sm_config_find_aggregate(x->eng->cfg, q->type);
	const unsigned compared = 1u << SM_INSTANCE_SAME | 1u << SM_INSTANCE_DIFFERENT |
				  1u << SM_INSTANCE_UNREADABLE;
	bool tgt = false, failures = false;
	sm_store_layout layout;
	char *s_ident, *t_ident, *s_data, *t_data, *s_mv, *t_mv;
	int rc;

	rc = sm_db_table_exists(x->conn, set->target_schema, "snapshots", &tgt, err);
	if (rc == SM_OK)
		rc = sm_db_table_exists(x->conn, set->target_schema, "snapmig_failures",
					&failures, err);
	if (rc == SM_OK)
		rc = sm_store_layout_read(x->conn, set, &layout, err);
	if (rc != SM_OK)
		return rc;
	snprintf(x->ver_s, sizeof x->ver_s, "%lld", agg ? agg->snapshot_version : 0);
	s_ident = sm_db_ident(x->conn, set->source_schema);
	t_ident = sm_db_ident(x->conn, set->target_schema);
	s_data = sm_store_json_bytes(layout.snap_data, "s.data");
	s_mv = sm_store_module_version(layout.snap_meta, "s.metadata", "$2");
	t_data = tgt ? sm_store_json_bytes(layout.tgt_data, "t.data") : sm_xstrdup("NULL::bytea");
	t_mv = tgt ? sm_store_module_version(layout.tgt_meta, "t.metadata", "$2") :
		     sm_xstrdup("NULL");
	x->from = sm_xasprintf(
		" FROM %s.snapshots s%s%s%s"
		" WHERE s.source_type = $1"
		" AND ($3 = '' OR strpos(lower(s.source_uuid), lower($3)) > 0)%s%s%s%s%s%s%s%s",
		s_ident, tgt ? " LEFT JOIN " : "", tgt ? t_ident : "",
		tgt ? ".snapshots t ON t.source_uuid = s.source_uuid" : "",
		q->stale ? (agg ? " AND " : " AND false") : "", q->stale && agg ? s_mv : "",
		q->stale && agg ? " <> $6::bigint" : "",
		q->current ? (agg ? " AND " : " AND false") : "", q->current && agg ? s_mv : "",
		q->current && agg ? " = $6::bigint" : "",
		q->failed ? (failures ? " AND EXISTS (SELECT 1 FROM " : " AND false") : "",
		q->failed && failures ? t_ident : "");
	if (q->failed && failures) {
		char *f = sm_xasprintf("%s.snapmig_failures f WHERE f.source_uuid = s.source_uuid)",
				       x->from);
		free(x->from);
		x->from = f;
	}
	/* Not generated is for SQL to tell; the others are snapmig's. */
	x->scan = (q->states & compared) != 0;
	if (q->states && !x->scan) {
		char *f = sm_xasprintf("%s AND %s", x->from, tgt ? "t.source_uuid IS NULL" : "true");

		free(x->from);
		x->from = f;
	}
	x->cols = sm_xasprintf(
		"SELECT s.source_uuid, s.source_version::text, %s::text, %s, %s::text,"
		" %s::text, CASE WHEN %s THEN %s END::text, %s",
		s_mv, s_data, tgt ? "(t.source_uuid IS NOT NULL)" : "false",
		tgt ? "t.source_version" : "NULL", tgt ? "t.source_uuid IS NOT NULL" : "false",
		t_mv, t_data);
	free(s_ident);
	free(t_ident);
	free(s_data);
	free(t_data);
	free(s_mv);
	free(t_mv);
	return SM_OK;
}

/* Row i of res (x->cols) into r. */
static void take_row(iq *x, const PGresult *res, int i, sm_instance_row *r)
{
	bool generated = PQgetlength(res, i, 4) == 4 && memcmp(PQgetvalue(res, i, 4), "true", 4) == 0;

	r->source_uuid = sm_xstrndup(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	r->live_version = text_ll(res, i, 1);
	r->live_module_version = text_ll(res, i, 2);
	r->gen_version = text_ll(res, i, 5);
	r->gen_module_version = text_ll(res, i, 6);
	r->state = generated ? compare(x->rd, res, i, 3, 7) : SM_INSTANCE_NOT_GENERATED;
}

static const char *iq_order(const sm_instance_query *q)
{
	if (q->order == SM_INSTANCES_BY_VERSION)
		return q->reverse ? " ORDER BY s.source_version, s.source_uuid" :
				    " ORDER BY s.source_version DESC, s.source_uuid";
	return q->reverse ? " ORDER BY s.source_uuid DESC" : " ORDER BY s.source_uuid";
}

/* The count and the page when SQL decides which rows match. */
static int iq_page(iq *x, sm_instance_list *list, sm_error *err)
{
	char *sql = sm_xasprintf("SELECT count(*)::text%s", x->from);
	PGresult *res = iq_exec(x, sql, "counting the instances", err);

	free(sql);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	list->total = text_ll(res, 0, 0);
	PQclear(res);
	sql = sm_xasprintf("%s%s%s OFFSET $4::bigint LIMIT $5::int", x->cols, x->from,
			   iq_order(x->q));
	res = iq_exec(x, sql, "listing the instances", err);
	free(sql);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	list->items = sm_xcalloc((size_t)PQntuples(res) + 1, sizeof *list->items);
	for (int i = 0; i < PQntuples(res); i++)
		take_row(x, res, i, &list->items[list->n++]);
	PQclear(res);
	return SM_OK;
}

/* The count and the page when the state decides: every row of the type is
 * compared (through a cursor, a thousand at a time), the matching ones
 * counted and those of the page kept. */
static int iq_scan(iq *x, sm_instance_list *list, sm_error *err)
{
	const sm_instance_query *q = x->q;
	char *sql = sm_xasprintf("DECLARE sm_instances NO SCROLL CURSOR FOR %s%s%s", x->cols,
				 x->from, iq_order(q));
	PGresult *res = iq_exec(x, sql, "listing the instances", err);
	long long matched = 0;
	size_t cap = 0;

	free(sql);
	if (!res)
		return sm_error_code(err, SM_ERR_DB);
	PQclear(res);
	for (;;) {
		int n;

		res = iq_exec(x, "FETCH 1000 FROM sm_instances", "listing the instances", err);
		if (!res)
			return sm_error_code(err, SM_ERR_DB);
		n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			sm_instance_row r;

			take_row(x, res, i, &r);
			if (!(q->states & 1u << r.state) || matched++ < list->offset ||
			    list->n >= (size_t)q->limit) {
				free(r.source_uuid);
				continue;
			}
			list->items = sm_xgrow(list->items, &cap, list->n + 1, sizeof *list->items);
			list->items[list->n++] = r;
		}
		PQclear(res);
		if (n == 0)
			break;
	}
	list->total = matched;
	return SM_OK;
}

int sm_instances_query(sm_engine *eng, const sm_instance_query *q, sm_cancel *cancel,
		       sm_instance_list **out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	sm_instance_query qq = *q;
	iq x = { .eng = eng, .q = &qq };
	bool src = false;
	sm_instance_list *list = sm_xcalloc(1, sizeof *list);
	int rc;

	*out = NULL;
	qq.offset = q->offset < 0 ? 0 : q->offset;
	qq.limit = q->limit < 1 ? 1 : q->limit > 10000 ? 10000 : q->limit;
	list->offset = qq.offset;
	x.conn = sm_engine_connect(eng, cancel, err);
	if (!x.conn) {
		free(list);
		return sm_error_code(err, SM_ERR_DB);
	}
	snprintf(x.off_s, sizeof x.off_s, "%lld", qq.offset);
	snprintf(x.lim_s, sizeof x.lim_s, "%d", qq.limit);
	x.params[0] = q->type;
	x.params[1] = set->metadata_key;
	x.params[2] = q->uuid_filter ? q->uuid_filter : "";
	x.params[3] = x.off_s;
	x.params[4] = x.lim_s;
	x.params[5] = x.ver_s;
	rc = sm_db_table_exists(x.conn, set->source_schema, "snapshots", &src, err);
	if (rc == SM_OK && src)
		rc = iq_build(&x, err);
	/* Session-local helper functions first; then one read-only snapshot
	 * so that the count and the page agree. */
	if (rc == SM_OK && src)
		rc = sm_store_prepare_session(x.conn, err);
	if (rc == SM_OK && src)
		rc = sm_db_exec(x.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	if (rc == SM_OK && src) {
		x.rd = sm_json_reader_new();
		if (!x.rd)
			rc = sm_error_set(err, SM_ERR_NOMEM, "out of memory");
		else
			sm_json_reader_keep_last_duplicate(x.rd, set->last_duplicate_wins);
	}
	if (rc == SM_OK && src)
		rc = x.scan ? iq_scan(&x, list, err) : iq_page(&x, list, err);
	sm_json_reader_free(x.rd);
	free(x.from);
	free(x.cols);
	/* Ends the read-only transaction, if any, with the session. */
	sm_engine_disconnect(x.conn);
	if (rc != SM_OK) {
		sm_instance_list_free(list);
		return rc;
	}
	*out = list;
	return SM_OK;
}

int sm_instances_list(sm_engine *eng, const char *type, const char *uuid_filter,
		      long long offset, int limit, sm_cancel *cancel,
		      sm_instance_list **out, sm_error *err)
{
	const sm_instance_query q = {
		.type = type, .uuid_filter = uuid_filter, .offset = offset, .limit = limit,
	};

	return sm_instances_query(eng, &q, cancel, out, err);
}

void sm_instance_list_free(sm_instance_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		free(list->items[i].source_uuid);
	free(list->items);
	free(list);
}
