/*
 * Reading snapshots for inspection, never writing: sm_snapshot_read gives
 * one snapshot of the live (source) or generated (target) schema as JSON
 * text with its metadata, sm_instances_list one page of a type's instances
 * with how their generated row compares.  Column types come from the
 * catalog: bytea, jsonb and double-encoded jsonb are accepted, as every
 * other reader of the engine does.
 */
#include "config.h"

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
		     char **json_out, char **metadata_out, long long *version_out,
		     sm_error *err)
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
	conn = sm_engine_connect(eng, err);
	if (!conn)
		return SM_ERR_DB;
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
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = sm_db_error(conn, res, "reading a snapshot", err);
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
	PQfinish(conn);
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

int sm_instances_list(sm_engine *eng, const char *type, const char *uuid_filter,
		      long long offset, int limit, sm_instance_list **out, sm_error *err)
{
	const sm_settings *set = &eng->env->settings;
	sm_store_layout layout;
	bool src_exists = false, tgt_exists = false;
	char off_s[32], lim_s[32];
	/* text (pg_type.h's TEXTOID, not in libpq's headers) */
	static const Oid param_types[5] = { 25, 25, 25, 25, 25 };
	const char *params[5];
	char *s_ident = NULL, *t_ident = NULL, *s_data = NULL, *t_data = NULL;
	char *s_mv = NULL, *t_mv = NULL, *sql = NULL, *count_sql = NULL;
	PGresult *res = NULL;
	sm_json_reader *rd = NULL;
	sm_instance_list *list;
	PGconn *conn;
	int rc;

	*out = NULL;
	if (offset < 0)
		offset = 0;
	if (limit < 1)
		limit = 1;
	if (limit > 10000)
		limit = 10000;
	list = sm_xcalloc(1, sizeof *list);
	list->offset = offset;
	conn = sm_engine_connect(eng, err);
	if (!conn) {
		free(list);
		return SM_ERR_DB;
	}
	rc = sm_db_table_exists(conn, set->source_schema, "snapshots", &src_exists, err);
	if (rc == SM_OK && src_exists)
		rc = sm_db_table_exists(conn, set->target_schema, "snapshots", &tgt_exists, err);
	if (rc == SM_OK && src_exists)
		rc = sm_store_layout_read(conn, set, &layout, err);
	if (rc != SM_OK || !src_exists)
		goto out;
	/* Session-local helper functions first; then one read-only snapshot
	 * so that the count and the page agree. */
	rc = sm_store_prepare_session(conn, err);
	if (rc == SM_OK)
		rc = sm_db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	if (rc != SM_OK)
		goto out;

	snprintf(off_s, sizeof off_s, "%lld", offset);
	snprintf(lim_s, sizeof lim_s, "%d", limit);
	params[0] = type;
	params[1] = set->metadata_key;
	params[2] = uuid_filter ? uuid_filter : "";
	params[3] = off_s;
	params[4] = lim_s;
	s_ident = sm_db_ident(conn, set->source_schema);
	s_data = sm_store_json_bytes(layout.snap_data, "s.data");
	s_mv = sm_store_module_version(layout.snap_meta, "s.metadata", "$2");
	count_sql = sm_xasprintf("SELECT count(*)::text FROM %s.snapshots s"
				 " WHERE s.source_type = $1"
				 " AND ($3 = '' OR strpos(lower(s.source_uuid), lower($3)) > 0)",
				 s_ident);
	/* Binary results: the raw bytes of bytea and text alike (see
	 * sm_snapshot_read).  Every parameter is declared text, so that a
	 * query that leaves one unused ($2, $4, $5 here; $2 without a metadata
	 * column) is still valid.  We PQclear res after each query. */
	res = PQexecParams(conn, count_sql, 5, param_types, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = sm_db_error(conn, res, "counting the instances", err);
		goto out;
	}
	list->total = text_ll(res, 0, 0);
	PQclear(res);
	res = NULL;

	if (tgt_exists) {
		t_ident = sm_db_ident(conn, set->target_schema);
		t_data = sm_store_json_bytes(layout.tgt_data, "t.data");
		t_mv = sm_store_module_version(layout.tgt_meta, "t.metadata", "$2");
		sql = sm_xasprintf(
			"SELECT s.source_uuid, s.source_version::text, %s::text, %s,"
			" (t.source_uuid IS NOT NULL)::text, t.source_version::text,"
			" CASE WHEN t.source_uuid IS NULL THEN NULL ELSE %s END::text, %s"
			" FROM %s.snapshots s LEFT JOIN %s.snapshots t ON t.source_uuid = s.source_uuid"
			" WHERE s.source_type = $1"
			" AND ($3 = '' OR strpos(lower(s.source_uuid), lower($3)) > 0)"
			" ORDER BY s.source_uuid OFFSET $4::bigint LIMIT $5::int",
			s_mv, s_data, t_mv, t_data, s_ident, t_ident);
	} else {
		sql = sm_xasprintf(
			"SELECT s.source_uuid, s.source_version::text, %s::text, %s,"
			" 'false', NULL::text, NULL::text, NULL::text"
			" FROM %s.snapshots s WHERE s.source_type = $1"
			" AND ($3 = '' OR strpos(lower(s.source_uuid), lower($3)) > 0)"
			" ORDER BY s.source_uuid OFFSET $4::bigint LIMIT $5::int",
			s_mv, s_data, s_ident);
	}
	res = PQexecParams(conn, sql, 5, param_types, params, NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = sm_db_error(conn, res, "listing the instances", err);
		goto out;
	}
	rd = sm_json_reader_new();
	if (!rd) {
		rc = sm_error_set(err, SM_ERR_NOMEM, "out of memory");
		goto out;
	}
	sm_json_reader_keep_last_duplicate(rd, eng->env->settings.last_duplicate_wins);
	list->items = sm_xcalloc((size_t)PQntuples(res) + 1, sizeof *list->items);
	for (int i = 0; i < PQntuples(res); i++) {
		sm_instance_row *r = &list->items[list->n++];
		bool generated = PQgetlength(res, i, 4) == 4 &&
				 memcmp(PQgetvalue(res, i, 4), "true", 4) == 0;

		r->source_uuid = sm_xstrndup(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
		r->live_version = text_ll(res, i, 1);
		r->live_module_version = text_ll(res, i, 2);
		r->gen_version = text_ll(res, i, 5);
		r->gen_module_version = text_ll(res, i, 6);
		r->state = generated ? compare(rd, res, i, 3, 7) : SM_INSTANCE_NOT_GENERATED;
	}
out:
	PQclear(res);
	sm_json_reader_free(rd);
	free(count_sql);
	free(sql);
	free(s_mv);
	free(t_mv);
	free(s_data);
	free(t_data);
	free(s_ident);
	free(t_ident);
	/* Ends the read-only transaction, if any, with the session. */
	PQfinish(conn);
	if (rc != SM_OK) {
		sm_instance_list_free(list);
		return rc;
	}
	*out = list;
	return SM_OK;
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
