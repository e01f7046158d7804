/*
 * The shape summary of a copy: for each selected type, across every live
 * row the copy would replace (the copy's own classification, action
 * 'replace'), how the generated row's shape differs from the live one's:
 * the top-level and nested keys it adds or removes and those whose JSON
 * type changes (util/json_diff.h's shapes: array elements as "[]", what is
 * below a change left out, arrays that gain or lose elements no news),
 * each with the number of instances.  What a reviewer reads before
 * approving a copy.  Read-only, one connection, one row at a time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/copy_internal.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/json_diff.h"

#define MAX_PATHS 2000     /* paths of one state's shape */
#define MAX_CHANGES 500    /* distinct changes kept per type */

typedef struct counter {
	sm_shape_type *t;
	size_t cap;
} counter;

static void count_change(void *ctx, enum sm_json_shape_change change, const char *path,
			 unsigned types_a, unsigned types_b)
{
	counter *c = ctx;
	sm_shape_type *t = c->t;
	enum sm_shape_kind kind = change == SM_JSON_SHAPE_ADDED ? SM_SHAPE_ADDED
				: change == SM_JSON_SHAPE_REMOVED ? SM_SHAPE_REMOVED : SM_SHAPE_RETYPED;
	char a[96], b[96];
	sm_shape_change *x;

	sm_json_type_bits_name(types_a, a, sizeof a);
	sm_json_type_bits_name(types_b, b, sizeof b);
	if (!types_a)
		a[0] = '\0';
	if (!types_b)
		b[0] = '\0';
	for (size_t i = 0; i < t->n_changes; i++) {
		x = &t->changes[i];
		if (x->kind == kind && strcmp(x->path, path) == 0 && strcmp(x->live_types, a) == 0 &&
		    strcmp(x->new_types, b) == 0) {
			x->instances++;
			return;
		}
	}
	if (t->n_changes >= MAX_CHANGES) {
		t->cut = true;
		return;
	}
	t->changes = sm_xgrow(t->changes, &c->cap, t->n_changes + 1, sizeof *t->changes);
	x = &t->changes[t->n_changes++];
	x->path = sm_xstrdup(path);
	x->kind = kind;
	x->live_types = sm_xstrdup(a);
	x->new_types = sm_xstrdup(b);
	x->instances = 1;
}

/* One replacement: the live and the generated data (JSON bytes). */
static void compare_pair(sm_json_reader *rd, counter *c, const char *live, size_t live_len,
			 const char *gen, size_t gen_len)
{
	json_object *l = NULL, *g = NULL;
	sm_json_shape sl = { 0 }, sg = { 0 };
	sm_error ignored;

	c->t->compared++;
	if (sm_json_reader_parse_object(rd, live, live_len, &l, &ignored) != SM_OK ||
	    sm_json_reader_parse_object(rd, gen, gen_len, &g, &ignored) != SM_OK) {
		c->t->unreadable++;
	} else {
		sm_json_shape_of(l, MAX_PATHS, &sl);
		sm_json_shape_of(g, MAX_PATHS, &sg);
		sm_json_shape_compare(&sl, &sg, count_change, c);
	}
	sm_json_shape_clear(&sl);
	sm_json_shape_clear(&sg);
	json_object_put(l);
	json_object_put(g);
}

static int change_order(const void *x, const void *y)
{
	const sm_shape_change *a = x, *b = y;

	if (a->instances != b->instances)
		return a->instances > b->instances ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* The rows, one at a time (single-row mode, binary: the bytes of the
 * JSON texts as they are); we PQclear each result, until NULL. */
static int read_pairs(sm_copy_ctx *ctx, sm_shape_summary *sum, const char *sql, sm_error *err)
{
	const char *params[] = { ctx->eng->env->settings.metadata_key, ctx->params.types,
				 ctx->params.versions };
	counter *counters = sm_xcalloc(sum->n_types + 1, sizeof *counters);
	sm_json_reader *rd = sm_json_reader_new();
	PGresult *res;
	int rc = SM_OK;

	if (!rd) {
		free(counters);
		return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
	}
	sm_json_reader_keep_last_duplicate(rd, ctx->eng->env->settings.last_duplicate_wins);
	for (size_t i = 0; i < sum->n_types; i++)
		counters[i].t = &sum->types[i];
	rc = sm_db_cancelled(ctx->conn, err);
	if (rc == SM_OK && (!PQsendQueryParams(ctx->conn, sql, 3, NULL, params, NULL, NULL, 1) ||
			    !PQsetSingleRowMode(ctx->conn)))
		rc = sm_db_error(ctx->conn, NULL, "reading the snapshots to compare", err);
	/* Each row waited for by sm_db_wait: a cancel is seen (and the
	 * statement's error result read here). */
	for (;;) {
		ExecStatusType st;

		if (rc == SM_OK)
			rc = sm_db_wait(ctx->conn, NULL, NULL, err);
		if (!(res = PQgetResult(ctx->conn)))
			break;
		st = PQresultStatus(res);

		if (rc == SM_OK && st == PGRES_SINGLE_TUPLE) {
			for (size_t i = 0; i < sum->n_types; i++)
				if ((size_t)PQgetlength(res, 0, 0) == strlen(sum->types[i].type) &&
				    memcmp(PQgetvalue(res, 0, 0), sum->types[i].type,
					   (size_t)PQgetlength(res, 0, 0)) == 0)
					compare_pair(rd, &counters[i], PQgetvalue(res, 0, 1),
						     (size_t)PQgetlength(res, 0, 1), PQgetvalue(res, 0, 2),
						     (size_t)PQgetlength(res, 0, 2));
		} else if (rc == SM_OK && st != PGRES_TUPLES_OK) {
			rc = sm_db_error(ctx->conn, res, "reading the snapshots to compare", err);
		}
		PQclear(res);
	}
	sm_json_reader_free(rd);
	free(counters);
	return rc;
}

int sm_copy_shape_read(sm_engine *eng, const sm_copy_options *opts, sm_cancel *cancel,
		       sm_shape_summary **out, sm_error *err)
{
	sm_shape_summary *sum;
	sm_copy_ctx ctx;
	int rc;

	*out = NULL;
	rc = sm_copy_ctx_open(&ctx, eng, opts ? opts->types : NULL, opts ? opts->n_types : 0,
			      cancel, err);
	/* The classification reads the current generated rows only. */
	if (rc == SM_OK)
		rc = sm_copy_ctx_generated(&ctx, err);
	if (rc != SM_OK) {
		sm_copy_ctx_close(&ctx);
		return rc;
	}
	sum = sm_xcalloc(1, sizeof *sum);
	sum->types = sm_xcalloc(ctx.n_aggs + 1, sizeof *sum->types);
	sum->n_types = ctx.n_aggs;
	for (size_t i = 0; i < ctx.n_aggs; i++) {
		sum->types[i].type = sm_xstrdup(ctx.aggs[i]->type);
		sum->types[i].label = sm_xstrdup(ctx.aggs[i]->label ? ctx.aggs[i]->label
								    : ctx.aggs[i]->type);
	}
	if (ctx.layout.tgt_data != SM_COL_MISSING && ctx.layout.tgt_meta != SM_COL_MISSING) {
		char *classify = sm_copy_classify_sql(&ctx);
		char *ld = sm_store_json_bytes(ctx.layout.snap_data, "l.data");
		char *gd = sm_store_json_bytes(ctx.layout.tgt_data, "g.data");
		char *sql = sm_xasprintf(
			"SELECT c.source_type, %s, %s FROM (%s) c"
			" JOIN %s.snapshots l ON l.source_uuid = c.source_uuid"
			" JOIN %s.snapshots g ON g.source_uuid = c.source_uuid"
			" WHERE c.action = 'replace'",
			ld, gd, classify, ctx.src, ctx.tgt);

		rc = read_pairs(&ctx, sum, sql, err);
		free(sql);
		free(gd);
		free(ld);
		free(classify);
	}
	sm_copy_ctx_close(&ctx);
	if (rc != SM_OK) {
		sm_shape_summary_free(sum);
		return rc;
	}
	for (size_t i = 0; i < sum->n_types; i++)
		if (sum->types[i].n_changes > 0)  /* changes is NULL when there are none */
			qsort(sum->types[i].changes, sum->types[i].n_changes,
			      sizeof *sum->types[i].changes, change_order);
	*out = sum;
	return SM_OK;
}

void sm_shape_summary_free(sm_shape_summary *sum)
{
	if (!sum)
		return;
	for (size_t i = 0; i < sum->n_types; i++) {
		sm_shape_type *t = &sum->types[i];

		for (size_t k = 0; k < t->n_changes; k++) {
			free(t->changes[k].path);
			free(t->changes[k].live_types);
			free(t->changes[k].new_types);
		}
		free(t->changes);
		free(t->type);
		free(t->label);
	}
	free(sum->types);
	free(sum);
}

const char *sm_shape_kind_name(enum sm_shape_kind kind)
{
	switch (kind) {
	case SM_SHAPE_ADDED: return "added";
	case SM_SHAPE_REMOVED: return "removed";
	case SM_SHAPE_RETYPED: return "retyped";
	}
	return "unknown";
}

char *sm_shape_change_text(const sm_shape_change *c)
{
	switch (c->kind) {
	case SM_SHAPE_ADDED:
		return sm_xasprintf("added (%s)", c->new_types);
	case SM_SHAPE_REMOVED:
		return sm_xasprintf("removed (%s)", c->live_types);
	default:
		return sm_xasprintf("%s -> %s", c->live_types, c->new_types);
	}
}

const char *sm_shape_share(char *buf, size_t size, long long n, long long total)
{
	if (total <= 0)
		snprintf(buf, size, "-");
	else if (n * 100 < total && n > 0)
		snprintf(buf, size, "<1%%");
	else
		snprintf(buf, size, "%lld%%", (n * 100 + total / 2) / total);
	return buf;
}
