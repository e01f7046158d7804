/* A rebuild worker's writer; see rebuild_write.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rebuild_write.h"
#include "util/alloc.h"
#include "util/json.h"

void sm_writer_init(sm_writer *w, sm_run *run)
{
	memset(w, 0, sizeof *w);
	w->run = run;
	w->done = sm_xcalloc(run->n_types + 1, sizeof *w->done);
}

static void clear_chunk(sm_writer *w)
{
	for (size_t i = 0; i < w->n_fails; i++) {
		free(w->fails[i].event_type);
		free(w->fails[i].message);
	}
	w->n_fails = 0;
	w->n_raw = 0;
	memset(w->done, 0, w->run->n_types * sizeof *w->done);
}

void sm_writer_free(sm_writer *w)
{
	clear_chunk(w);
	free(w->fails);
	free(w->raw);
	free(w->done);
	free(w->buf);
	memset(w, 0, sizeof *w);
}

int sm_writer_open(sm_writer *w, PGconn *conn, sm_error *err)
{
	const sm_store_layout *l = &w->run->layout;
	char *t = sm_db_ident(conn, w->run->eng->env->settings.target_schema);
	char *wj = sm_store_json_write(l->tgt_data, l->double_encoded, "o.data");
	/* A raw-mode reducer's bytes: stored as they are, in a jsonb column
	 * as the JSON they are (checked first, see check_raw). */
	char *wd = sm_xasprintf("CASE WHEN o.raw IS NULL THEN %s ELSE %s END", wj,
				l->tgt_data == SM_COL_BYTEA ? "o.raw" : "convert_from(o.raw, 'UTF8')::jsonb");
	char *wm = sm_store_json_write(l->tgt_meta, l->double_encoded, "o.metadata");
	char *sql = sm_xasprintf(
		"SET jit = off;"
		"SET client_min_messages = warning;"
		"CREATE TEMP TABLE sm_out (source_uuid text, source_version bigint,"
		" source_type text, data text, metadata text, raw bytea, fp bigint) ON COMMIT DELETE ROWS;"
		/* What jsonb makes of raw bytes: NULL when they are a jsonb
		 * value, else PostgreSQL's reason.  The server is the judge of
		 * what it will store (numbers of any size, no \u0000...). */
		"CREATE FUNCTION pg_temp.sm_jsonb_error(b bytea) RETURNS text LANGUAGE plpgsql AS"
		" $f$ BEGIN PERFORM convert_from(b, 'UTF8')::jsonb; RETURN NULL;"
		" EXCEPTION WHEN others THEN RETURN SQLERRM; END $f$;"
		"PREPARE sm_check_raw AS WITH bad AS (SELECT source_uuid, pg_temp.sm_jsonb_error(raw) AS e"
		" FROM sm_out WHERE raw IS NOT NULL), gone AS (DELETE FROM sm_out o USING bad"
		" WHERE o.source_uuid = bad.source_uuid AND bad.e IS NOT NULL)"
		" SELECT source_uuid, e FROM bad WHERE e IS NOT NULL;"
		"PREPARE sm_upsert AS INSERT INTO %1$s.snapshots"
		" (source_uuid, source_version, source_type, data, metadata, created_at)"
		" SELECT o.source_uuid, o.source_version, o.source_type, %2$s, %3$s, now() FROM sm_out o"
		" ON CONFLICT (source_uuid) DO UPDATE SET source_version = excluded.source_version,"
		" source_type = excluded.source_type, data = excluded.data,"
		" metadata = excluded.metadata, created_at = excluded.created_at;"
		/* What made each row (engine/target.h), in the row's own
		 * transaction. */
		"PREPARE sm_rows AS INSERT INTO %1$s.snapmig_rows (source_uuid, fp_id)"
		" SELECT o.source_uuid, o.fp FROM sm_out o"
		" ON CONFLICT (source_uuid) DO UPDATE SET fp_id = excluded.fp_id;"
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
	int rc = sm_db_exec(conn, sql, err);

	w->conn = rc == SM_OK ? conn : NULL;
	free(sql);
	free(wj);
	free(wd);
	free(wm);
	free(t);
	return rc;
}

int sm_writer_begin(sm_writer *w, sm_error *err)
{
	int rc = sm_db_exec(w->conn, "BEGIN", err);

	return rc ? rc : sm_writer_begin_in(w, err);
}

int sm_writer_begin_in(sm_writer *w, sm_error *err)
{
	PGresult *res;
	int rc = SM_OK;

	clear_chunk(w);
	res = PQexec(w->conn, "COPY sm_out FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		rc = sm_db_error(w->conn, res, "writing snapshots", err);
	PQclear(res);
	return rc;
}

void sm_writer_fail(sm_writer *w, const sm_instance *inst, enum sm_failure_kind kind,
		    long long version, const char *event_type, const char *message)
{
	sm_failure_rec *f;

	w->fails = sm_xgrow(w->fails, &w->cap_fails, w->n_fails + 1, sizeof *w->fails);
	f = &w->fails[w->n_fails++];
	f->inst = inst;
	f->kind = kind;
	f->version = version;
	f->event_type = event_type && *event_type ? sm_xstrdup(event_type) : NULL;
	f->message = sm_xstrdup(message);
}

void sm_writer_done(sm_writer *w, const sm_instance *inst)
{
	w->done[inst->type_index]++;
}

/* ----------------------------------------------------------- COPY rows */

/* Appends n bytes of s to the row, escaped for COPY's text format. */
static void append(sm_writer *w, size_t *len, const char *s, size_t n)
{
	w->buf = sm_xgrow(w->buf, &w->cap, *len + 2 * n + 2, 1);
	for (size_t i = 0; i < n; i++) {
		static const char from[] = "\\\n\r\t", to[] = "\\nrt";
		const char *esc = memchr(from, s[i], sizeof from - 1);

		if (esc) {
			w->buf[(*len)++] = '\\';
			w->buf[(*len)++] = to[esc - from];
		} else {
			w->buf[(*len)++] = s[i];
		}
	}
}

/* Appends a field and the separator after it ('\t', or '\n' last). */
static void field(sm_writer *w, size_t *len, const char *s, size_t n, char sep)
{
	append(w, len, s, n);
	w->buf[(*len)++] = sep;
}

/* A NULL field (COPY's \N, not escaped) and the separator after it. */
static void null_field(sm_writer *w, size_t *len, char sep)
{
	w->buf = sm_xgrow(w->buf, &w->cap, *len + 3, 1);
	w->buf[(*len)++] = '\\';
	w->buf[(*len)++] = 'N';
	w->buf[(*len)++] = sep;
}

/* The row's first three fields. */
static void row_head(sm_writer *w, size_t *len, const sm_instance *inst)
{
	const char *type = w->run->types[inst->type_index].agg->type;
	char num[32];
	size_t n;

	field(w, len, inst->uuid, strlen(inst->uuid), '\t');
	n = (size_t)snprintf(num, sizeof num, "%lld", inst->end_version);
	field(w, len, num, n, '\t');
	field(w, len, type, strlen(type), '\t');
}

/* The row's last field: the id of the fingerprint that made it
 * (engine/fingerprint.h), and the end of the row. */
static void row_tail(sm_writer *w, size_t *len, const sm_instance *inst)
{
	char num[32];
	size_t n = (size_t)snprintf(num, sizeof num, "%lld",
				     w->run->fps ? w->run->fps[inst->type_index].id : 0LL);

	field(w, len, num, n, '\n');
}

static int put_row(sm_writer *w, size_t len, sm_error *err)
{
	if (PQputCopyData(w->conn, w->buf, (int)len) != 1)
		return sm_db_error(w->conn, NULL, "writing snapshots", err);
	return SM_OK;
}

int sm_writer_put(sm_writer *w, const sm_instance *inst, json_object *state,
		  json_object *metadata, sm_error *err)
{
	const char *text;
	size_t n, len = 0;

	row_head(w, &len, inst);
	text = sm_json_print(state, &n);
	field(w, &len, text, n, '\t');
	text = sm_json_print(metadata, &n);
	field(w, &len, text, n, '\t');
	null_field(w, &len, '\t');   /* raw */
	row_tail(w, &len, inst);
	return put_row(w, len, err);
}

int sm_writer_put_raw(sm_writer *w, const sm_instance *inst, const unsigned char *state,
		      size_t state_len, json_object *metadata, sm_error *err)
{
	static const char hex[] = "0123456789abcdef";
	const char *text;
	size_t n, len = 0;

	row_head(w, &len, inst);
	null_field(w, &len, '\t');   /* data */
	text = sm_json_print(metadata, &n);
	field(w, &len, text, n, '\t');
	/* bytea in COPY's text format: \x and hex digits, the backslash
	 * itself escaped. */
	w->buf = sm_xgrow(w->buf, &w->cap, len + 2 * state_len + 4, 1);
	memcpy(w->buf + len, "\\\\x", 3);
	len += 3;
	for (size_t i = 0; i < state_len; i++) {
		w->buf[len++] = hex[state[i] >> 4];
		w->buf[len++] = hex[state[i] & 15];
	}
	w->buf[len++] = '\t';
	row_tail(w, &len, inst);
	w->raw = sm_xgrow(w->raw, &w->cap_raw, w->n_raw + 1, sizeof *w->raw);
	w->raw[w->n_raw++] = inst;
	return put_row(w, len, err);
}

/* ---------------------------------------------------------------- commit */

static int exec_prepared(sm_writer *w, const char *name, int n, const char *const *params,
			 sm_error *err)
{
	PGresult *res = PQexecPrepared(w->conn, name, n, params, NULL, NULL, 0);
	int rc = SM_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = sm_db_error(w->conn, res, "writing snapshots", err);
	PQclear(res);
	return rc;
}

/* Ends the COPY and reads its results until NULL (we PQclear each). */
static int end_copy(sm_writer *w, sm_error *err)
{
	PGresult *res;
	int rc = SM_OK;

	if (PQputCopyEnd(w->conn, NULL) != 1)
		return sm_db_error(w->conn, NULL, "writing snapshots", err);
	while ((res = PQgetResult(w->conn)) != NULL) {
		if (rc == SM_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = sm_db_error(w->conn, res, "writing snapshots", err);
		PQclear(res);
	}
	return rc;
}

/* The chunk's failures as the array parameters of sm_add_failures. */
static int record_failures(sm_writer *w, sm_error *err)
{
	size_t n = w->n_fails;
	const char **u = sm_xcalloc(n, sizeof *u), **t = sm_xcalloc(n, sizeof *t);
	const char **k = sm_xcalloc(n, sizeof *k), **e = sm_xcalloc(n, sizeof *e);
	const char **m = sm_xcalloc(n, sizeof *m);
	long long *v = sm_xcalloc(n, sizeof *v);
	const char *params[7];
	char *a[6], id[32];
	int rc;

	for (size_t i = 0; i < n; i++) {
		const sm_failure_rec *f = &w->fails[i];

		u[i] = f->inst->uuid;
		t[i] = w->run->types[f->inst->type_index].agg->type;
		k[i] = sm_failure_kind_name(f->kind);
		v[i] = f->version;
		e[i] = f->event_type ? f->event_type : "";
		m[i] = f->message;
	}
	a[0] = sm_db_text_array(u, n);
	a[1] = sm_db_text_array(t, n);
	a[2] = sm_db_text_array(k, n);
	a[3] = sm_db_ll_array(v, n);
	a[4] = sm_db_text_array(e, n);
	a[5] = sm_db_text_array(m, n);
	snprintf(id, sizeof id, "%lld", w->run->run_id);
	for (int i = 0; i < 6; i++)
		params[i] = a[i];
	params[6] = id;
	rc = exec_prepared(w, "sm_add_failures", 7, params, err);
	for (int i = 0; i < 6; i++)
		free(a[i]);
	free(u);
	free(t);
	free(k);
	free(e);
	free(m);
	free(v);
	return rc;
}

/* Committed: the chunk's instances and failures count. */
static void count_chunk(sm_writer *w)
{
	sm_run *run = w->run;

	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->n_types; i++)
		run->types[i].instances_done += w->done[i];
	for (size_t i = 0; i < w->n_fails; i++)
		run->types[w->fails[i].inst->type_index].failures[w->fails[i].kind]++;
	pthread_mutex_unlock(&run->lock);
}

/* A jsonb target takes a raw state only when it is a jsonb value: the
 * others leave the chunk and fail their instance (reducer_error). */
static int check_raw(sm_writer *w, sm_error *err)
{
	PGresult *res;
	int rc = SM_OK;

	if (!w->n_raw || w->run->layout.tgt_data != SM_COL_JSONB)
		return SM_OK;
	res = PQexecPrepared(w->conn, "sm_check_raw", 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = sm_db_error(w->conn, res, "writing snapshots", err);
		PQclear(res);
		return rc;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		const char *uuid = PQgetvalue(res, r, 0);
		char msg[600];

		snprintf(msg, sizeof msg, "the reducer's state is not a jsonb value: %.500s",
			 PQgetvalue(res, r, 1));
		for (size_t i = 0; i < w->n_raw; i++)
			if (strcmp(w->raw[i]->uuid, uuid) == 0) {
				sm_writer_fail(w, w->raw[i], SM_FAIL_REDUCER, 0, NULL, msg);
				break;
			}
	}
	PQclear(res);
	return rc;
}

int sm_writer_commit(sm_writer *w, sm_error *err)
{
	int rc = end_copy(w, err);

	if (!rc)
		rc = check_raw(w, err);
	if (!rc)
		rc = exec_prepared(w, "sm_upsert", 0, NULL, err);
	if (!rc)
		rc = exec_prepared(w, "sm_rows", 0, NULL, err);
	if (!rc)
		rc = exec_prepared(w, "sm_clear_failures", 0, NULL, err);
	if (!rc && w->n_fails)
		rc = record_failures(w, err);
	if (!rc && w->before_commit)
		rc = w->before_commit(w->before_commit_ctx, w, err);
	if (!rc)
		rc = sm_db_exec(w->conn, "COMMIT", err);
	if (rc) {
		PQclear(PQexec(w->conn, "ROLLBACK"));
		return rc;
	}
	count_chunk(w);
	return SM_OK;
}

void sm_writer_abort(sm_writer *w)
{
	PGresult *res;

	if (!w->conn || PQstatus(w->conn) != CONNECTION_OK)
		return;
	PQputCopyEnd(w->conn, "aborted");
	while ((res = PQgetResult(w->conn)) != NULL)
		PQclear(res);
	PQclear(PQexec(w->conn, "ROLLBACK"));
}
