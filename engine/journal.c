/* Reading the failures table, the run journal and the copies of the target schema. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/target.h"
#include "util/alloc.h"

static char *dup_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : sm_xstrdup(PQgetvalue(res, r, c));
}

/* sm_db_query_snapmig_table on a connection of its own. */
static int query_target_table(sm_engine *eng, sm_cancel *cancel, const char *table,
			      const char *sql_fmt, int nparams, const char *const *params,
			      PGresult **res, sm_error *err)
{
	PGconn *conn = sm_engine_connect(eng, cancel, err);
	int rc;

	*res = NULL;
	if (!conn)
		return sm_error_code(err, SM_ERR_DB);
	rc = sm_db_query_snapmig_table(conn, eng->env->settings.target_schema, table, sql_fmt,
				       nparams, params, res, err);
	sm_engine_disconnect(conn);
	return rc;
}

/* sm_target_check on a connection of its own. */
static int check_target(sm_engine *eng, sm_cancel *cancel, sm_error *err)
{
	PGconn *conn = sm_engine_connect(eng, cancel, err);
	int rc;

	if (!conn)
		return sm_error_code(err, SM_ERR_DB);
	rc = sm_target_check(conn, eng, err);
	sm_engine_disconnect(conn);
	return rc;
}

/* Reads the rows of a snapmig table into a new array of n + 1 items of
 * item_size bytes (zeroed; the last one stays zero), decode filling one item
 * from one row. */
typedef void row_decoder(const PGresult *res, int r, void *item);

static int read_rows(sm_engine *eng, sm_cancel *cancel, const char *table, const char *sql_fmt,
		     int nparams, const char *const *params, size_t item_size,
		     row_decoder *decode, void **items, size_t *n, sm_error *err)
{
	PGresult *res;
	char *base;
	int rc;

	rc = query_target_table(eng, cancel, table, sql_fmt, nparams, params, &res, err);
	if (rc)
		return rc;
	*n = res ? (size_t)PQntuples(res) : 0;
	base = sm_xcalloc(*n + 1, item_size);
	for (size_t i = 0; i < *n; i++)
		decode(res, (int)i, base + i * item_size);
	PQclear(res);
	*items = base;
	return SM_OK;
}

/* *out = a new list that takes the items and n read by read_rows. */
#define TAKE_LIST(out, items_, n_)                   \
	do {                                         \
		*(out) = sm_xcalloc(1, sizeof **(out)); \
		(*(out))->items = (items_);          \
		(*(out))->n = (n_);                  \
	} while (0)

static void decode_failure(const PGresult *res, int r, void *item)
{
	sm_failure *f = item;
	int k = sm_failure_kind_parse(PQgetvalue(res, r, 2));

	f->source_uuid = sm_xstrdup(PQgetvalue(res, r, 0));
	f->source_type = sm_xstrdup(PQgetvalue(res, r, 1));
	f->kind = k < 0 ? SM_FAIL_REDUCER : (enum sm_failure_kind)k;
	f->stream_version = sm_db_ll(res, r, 3);
	f->event_type = dup_or_null(res, r, 4);
	f->message = sm_xstrdup(PQgetvalue(res, r, 5));
	f->run_id = sm_db_ll(res, r, 6);
	f->recorded_at = dup_or_null(res, r, 7);
}

/* The failures of type (NULL: all), of kind (-1: all), of the instance
 * source_uuid (NULL: all). */
static int read_failures(sm_engine *eng, const char *type, int kind, const char *source_uuid,
			 sm_cancel *cancel, sm_failure_list **out, sm_error *err)
{
	const sm_aggregate *agg = type ? sm_config_find_aggregate(eng->cfg, type) : NULL;
	const char *params[3] = { agg ? agg->type : type,
				  kind >= 0 ? sm_failure_kind_name((enum sm_failure_kind)kind) : NULL,
				  source_uuid };
	void *items;
	size_t n;
	int rc;

	*out = NULL;
	rc = read_rows(eng, cancel, "snapmig_failures",
		"SELECT source_uuid, source_type, kind, stream_version, event_type, message, run_id,"
		" " SM_DB_UTC_TEXT("recorded_at")
		" FROM %s.snapmig_failures WHERE ($1::text IS NULL OR source_type = $1)"
		" AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR source_uuid = $3)"
		" ORDER BY source_type, kind, event_type NULLS FIRST, source_uuid",
		3, params, sizeof(sm_failure), decode_failure, &items, &n, err);
	if (!rc)
		TAKE_LIST(out, items, n);
	return rc;
}

int sm_failures_read(sm_engine *eng, const char *type, int kind, sm_cancel *cancel,
		     sm_failure_list **out, sm_error *err)
{
	return read_failures(eng, type, kind, NULL, cancel, out, err);
}

int sm_failures_read_instance(sm_engine *eng, const char *source_uuid, sm_cancel *cancel,
			      sm_failure_list **out, sm_error *err)
{
	return read_failures(eng, NULL, -1, source_uuid, cancel, out, err);
}

void sm_failure_list_free(sm_failure_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].source_uuid);
		free(list->items[i].source_type);
		free(list->items[i].event_type);
		free(list->items[i].message);
		free(list->items[i].recorded_at);
	}
	free(list->items);
	free(list);
}

static void decode_run(const PGresult *res, int r, void *item)
{
	sm_run_record *x = item;

	x->run_id = sm_db_ll(res, r, 0);
	x->kind = sm_xstrdup(PQgetvalue(res, r, 1));
	x->environment = sm_xstrdup(PQgetvalue(res, r, 2));
	x->os_user = dup_or_null(res, r, 3);
	x->db_user = dup_or_null(res, r, 4);
	x->started_at = dup_or_null(res, r, 5);
	x->finished_at = dup_or_null(res, r, 6);
	x->outcome = sm_xstrdup(PQgetvalue(res, r, 7));
	x->details = dup_or_null(res, r, 8);
}

int sm_runs_read(sm_engine *eng, int limit, sm_cancel *cancel, sm_run_list **out,
		 sm_error *err)
{
	char lim[32];
	const char *params[] = { lim };
	void *items;
	size_t n;
	int rc;

	*out = NULL;
	snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 1000000);
	rc = read_rows(eng, cancel, "snapmig_runs",
		"SELECT run_id, kind, environment, os_user, db_user,"
		" " SM_DB_UTC_TEXT("started_at") ","
		" " SM_DB_UTC_TEXT("finished_at") ","
		" outcome, details::text FROM %s.snapmig_runs ORDER BY run_id DESC LIMIT $1::int",
		1, params, sizeof(sm_run_record), decode_run, &items, &n, err);
	if (!rc)
		TAKE_LIST(out, items, n);
	return rc;
}

void sm_run_list_free(sm_run_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		sm_run_record *x = &list->items[i];

		free(x->kind);
		free(x->environment);
		free(x->os_user);
		free(x->db_user);
		free(x->started_at);
		free(x->finished_at);
		free(x->outcome);
		free(x->details);
	}
	free(list->items);
	free(list);
}

/* The copy's types, from a JSON array of strings. */
static void decode_copy_types(sm_copy_record *c, const char *json)
{
	json_object *a = json_tokener_parse(json);
	size_t n = a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;

	c->types = sm_xcalloc(n + 1, sizeof *c->types);
	for (size_t k = 0; k < n; k++) {
		json_object *e = json_object_array_get_idx(a, k);

		if (json_object_is_type(e, json_type_string))
			c->types[c->n_types++] = sm_xstrdup(json_object_get_string(e));
	}
	json_object_put(a);
}

static void decode_copy(const PGresult *res, int r, void *item)
{
	sm_copy_record *c = item;

	c->copy_id = sm_db_ll(res, r, 0);
	c->copied_at = sm_xstrdup(PQgetvalue(res, r, 1));
	decode_copy_types(c, PQgetvalue(res, r, 2));
	c->replaced = sm_db_ll(res, r, 3);
	c->inserted = sm_db_ll(res, r, 4);
	c->removed = sm_db_ll(res, r, 5);
	c->rolled_back_by = sm_db_ll(res, r, 6);
	/* Unknown counts (-1 each) may have changed something. */
	c->undoable = c->rolled_back_by == 0 && c->replaced + c->inserted + c->removed != 0;
}

int sm_copies_read(sm_engine *eng, sm_cancel *cancel, sm_copy_list **out, sm_error *err)
{
	void *items;
	size_t n;
	int rc;

	*out = NULL;
	/* Only this store's copies: another store's target is refused, as
	 * rollback refuses it. */
	rc = check_target(eng, cancel, err);
	if (rc)
		return rc;
	/* to_jsonb(c): the counts are missing from a table an older snapmig
	 * made (until its next copy adds the columns). */
	rc = read_rows(eng, cancel, "snapmig_copies",
		"SELECT c.copy_id,"
		" " SM_DB_UTC_TEXT("c.copied_at") ","
		" array_to_json(c.types)::text,"
		" COALESCE((to_jsonb(c) ->> 'replaced')::bigint, -1),"
		" COALESCE((to_jsonb(c) ->> 'inserted')::bigint, -1),"
		" COALESCE((to_jsonb(c) ->> 'removed')::bigint, -1),"
		" COALESCE(c.rolled_back_by, 0)"
		" FROM %s.snapmig_copies c ORDER BY c.copy_id DESC",
		0, NULL, sizeof(sm_copy_record), decode_copy, &items, &n, err);
	if (!rc)
		TAKE_LIST(out, items, n);
	return rc;
}

void sm_copy_list_free(sm_copy_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].copied_at);
		for (size_t k = 0; k < list->items[i].n_types; k++)
			free(list->items[i].types[k]);
		free(list->items[i].types);
	}
	free(list->items);
	free(list);
}
