/*
 * Copy and rollback against a real PostgreSQL (tests/with-pg): per-row
 * rules, backup, rollback and its drift rule, guards and their overrides,
 * the plan agreeing with the copy, quoted schema names, conversions between
 * bytea and jsonb, the lock wait, and atomicity when the copy's connection
 * is terminated by the server or its process is killed.
 *
 * The configuration is built by hand (sm_config is a plain struct), the
 * live store with the fixtures, the generated rows with plain INSERTs into
 * the target schema that sm_store_create_target created.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/db.h"
#include "engine/store.h"
#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/generated.h"
#include "tests/testlib.h"
#include "util/alloc.h"
#include "util/clock.h"

#define ALPHA "Elixir.Test.Alpha"
#define BETA "Elixir.Test.Beta"
#define GAMMA "Elixir.Test.Gamma"

struct fx {
	char *ci;
	PGconn *conn;
	enum sm_fixture_mode live_mode, gen_mode;
	char *src, *tgt;       /* quoted */
	sm_config cfg;
	sm_environment env;
	sm_aggregate aggs[3];
	sm_engine *eng;
};

static const enum sm_fixture_mode modes[] = {
	SM_FIXTURE_BYTEA, SM_FIXTURE_JSONB, SM_FIXTURE_JSONB_TEXT,
};

static char *quote(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *c = strdup(q);

	PQfreemem(q);
	return c;
}

static enum sm_column_type col_type(enum sm_fixture_mode m)
{
	return m == SM_FIXTURE_BYTEA ? SM_COL_BYTEA : SM_COL_JSONB;
}

static void fx_init2(struct fx *f, enum sm_fixture_mode live_mode,
		     enum sm_fixture_mode gen_mode, const char *src, const char *tgt)
{
	static const struct { const char *type, *label; long long version; } aggs[] = {
		{ ALPHA, "Alpha", 2 }, { BETA, "Beta", 1 }, { GAMMA, "Gamma", 1 },
	};
	char buf[1024];
	sm_error err;

	memset(f, 0, sizeof *f);
	f->live_mode = live_mode;
	f->gen_mode = gen_mode;
	f->ci = tl_new_database();
	f->conn = tl_connect(f->ci);
	f->src = quote(f->conn, src);
	f->tgt = quote(f->conn, tgt);
	f->env.name = strdup("test");
	f->env.conninfo = strdup(f->ci);
	f->env.settings.jobs = 1;
	f->env.settings.source_schema = strdup(src);
	f->env.settings.target_schema = strdup(tgt);
	f->env.settings.metadata_key = strdup("snapshot_module_version");
	f->env.settings.batch_size = 500;
	f->env.settings.copy_max_lag = 1000;
	for (size_t i = 0; i < 3; i++) {
		f->aggs[i].type = strdup(aggs[i].type);
		f->aggs[i].label = strdup(aggs[i].label);
		f->aggs[i].snapshot_version = aggs[i].version;
	}
	f->cfg.path = strdup("test.conf");
	f->cfg.envs = &f->env;
	f->cfg.n_envs = 1;
	f->cfg.aggs = f->aggs;
	f->cfg.n_aggs = 3;
	ck_assert_msg(sm_fixture_create_store(f->conn, src, live_mode, buf, sizeof buf) == 0,
		      "%s", buf);
	ck_assert_msg(sm_store_create_target(f->conn, tgt, col_type(gen_mode), col_type(gen_mode),
					  &err) == SM_OK, "%s", err.message);
	ck_assert_msg(sm_engine_open(&f->cfg, "test", NULL, &f->eng, &err) == SM_OK, "%s", err.message);
}

static void fx_init(struct fx *f, enum sm_fixture_mode mode)
{
	fx_init2(f, mode, mode, "public", "migration");
}

static void fx_free(struct fx *f)
{
	sm_engine_close(f->eng);
	PQfinish(f->conn);
	free(f->ci);
	free(f->src);
	free(f->tgt);
	free(f->env.name);
	free(f->env.conninfo);
	free(f->env.settings.source_schema);
	free(f->env.settings.target_schema);
	free(f->env.settings.metadata_key);
	for (size_t i = 0; i < 3; i++) {
		free(f->aggs[i].type);
		free(f->aggs[i].label);
	}
	free(f->cfg.path);
}

static char *metadata(int mv)
{
	char *m;

	/* mv 0: no version key at all (Commanded reads it as 1). */
	if (mv)
		ck_assert(asprintf(&m, "{\"snapshot_module_version\":%d,\"node\":\"n1\"}", mv) > 0);
	else
		m = strdup("{\"node\":\"n1\"}");
	return m;
}

static void live(struct fx *f, const char *uuid, long long sv, const char *type,
		 const char *data, int mv)
{
	char buf[1024];
	char *m = metadata(mv);

	ck_assert_msg(sm_fixture_snapshot(f->conn, f->env.settings.source_schema, f->live_mode,
					  uuid, sv, type, data, m, buf, sizeof buf) == 0, "%s", buf);
	free(m);
}

static void stream(struct fx *f, const char *uuid, long long events)
{
	char buf[1024];

	ck_assert_msg(sm_fixture_append_generated(f->conn, f->env.settings.source_schema,
						  f->live_mode, uuid, events, "'Elixir.Test.Ev'",
						  "json_build_object('i', i)::text", buf, sizeof buf) == 0,
		      "%s", buf);
}

static void gen(struct fx *f, const char *uuid, long long sv, const char *type,
		const char *data, int mv)
{
	char wd[64], wm[64], sql[512], v[32];
	char *m = metadata(mv);
	const char *p[] = { uuid, v, type, data, m };
	PGresult *res;

	snprintf(v, sizeof v, "%lld", sv);
	snprintf(wd, sizeof wd, sm_fixture_write_fmt(f->gen_mode), "$4");
	snprintf(wm, sizeof wm, sm_fixture_write_fmt(f->gen_mode), "$5");
	snprintf(sql, sizeof sql,
		 "INSERT INTO %s.snapshots (source_uuid, source_version, source_type, data, metadata)"
		 " VALUES ($1, $2, $3, %s, %s)", f->tgt, wd, wm);
	res = PQexecParams(f->conn, sql, 5, NULL, p, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
	PQclear(res);
	free(m);
	/* Made by the current configuration, as a rebuild records it. */
	{
		char *lit = PQescapeLiteral(f->conn, uuid, strlen(uuid));
		char where[512];

		snprintf(where, sizeof where, "t.source_uuid = %s", lit);
		tl_mark_generated(f->conn, f->eng, where);
		PQfreemem(lit);
	}
}

/*
 * The standard scenario (Alpha's target version is 2, Beta's 1):
 *   a1 stale live (version 1), generated        -> replace
 *   a2 valid live, older than the generated row -> replace
 *   a3 valid live, newer than the generated row -> keep
 *   a4 valid live, not generated                -> untouched
 *   a5 stale live (no version key), not generated -> stale without replacement
 *   a6 generated only                            -> insert
 *   b1 Beta, generated and live (another type)
 * Streams are at the generated versions except a3 (7 vs 5: lag 2).
 */
static void scenario(struct fx *f)
{
	static const struct { const char *uuid; long long events; } streams[] = {
		{ "a1", 5 }, { "a2", 5 }, { "a3", 7 }, { "a4", 4 }, { "a5", 2 },
		{ "a6", 3 }, { "b1", 2 },
	};

	for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++)
		stream(f, streams[i].uuid, streams[i].events);
	live(f, "a1", 5, ALPHA, "{\"v\":\"old-a1\"}", 1);
	live(f, "a2", 3, ALPHA, "{\"v\":\"old-a2\"}", 2);
	live(f, "a3", 7, ALPHA, "{\"v\":\"live-a3\"}", 2);
	live(f, "a4", 4, ALPHA, "{\"v\":\"live-a4\"}", 2);
	live(f, "a5", 2, ALPHA, "{\"v\":\"stale-a5\"}", 0);
	live(f, "b1", 1, BETA, "{\"v\":\"old-b1\"}", 1);
	gen(f, "a1", 5, ALPHA, "{\"v\":\"new-a1\",\"n\":9007199254740993,\"s\":\"Zoë ✓\"}", 2);
	gen(f, "a2", 5, ALPHA, "{\"v\":\"new-a2\"}", 2);
	gen(f, "a3", 5, ALPHA, "{\"v\":\"new-a3\"}", 2);
	gen(f, "a6", 3, ALPHA, "{\"v\":\"new-a6\"}", 2);
	gen(f, "b1", 2, BETA, "{\"v\":\"new-b1\"}", 1);
}

/* Every column of every live row, exactly (bytea as hex). */
static char *dump_where(struct fx *f, const char *where)
{
	char sql[1024];

	snprintf(sql, sizeof sql,
		 "SELECT COALESCE(string_agg(concat_ws('|', source_uuid, source_version, source_type,"
		 " data::text, COALESCE(metadata::text, '-'), created_at), E'\\n' ORDER BY source_uuid), '')"
		 " FROM %s.snapshots WHERE %s", f->src, where);
	return tl_query_value(f->conn, sql);
}

static char *dump(struct fx *f)
{
	return dump_where(f, "true");
}

static long long query_ll(PGconn *conn, const char *sql)
{
	char *v = tl_query_value(conn, sql);
	long long n;

	ck_assert_ptr_nonnull(v);
	n = atoll(v);
	free(v);
	return n;
}

/* The live row's data as JSON text, whatever the encoding. */
static char *live_data_text(struct fx *f, const char *uuid)
{
	const char *e = f->live_mode == SM_FIXTURE_BYTEA ? "convert_from(data, 'UTF8')"
		: f->live_mode == SM_FIXTURE_JSONB ? "data::text" : "data #>> '{}'";
	char *sql = sm_xasprintf("SELECT %s FROM %s.snapshots WHERE source_uuid = '%s'", e, f->src, uuid);
	char *v = tl_query_value(f->conn, sql);

	free(sql);
	return v;
}

static sm_copy_options alpha_opts(void)
{
	static const char *const types[] = { "Alpha" };
	sm_copy_options o;

	memset(&o, 0, sizeof o);
	o.types = types;
	o.n_types = 1;
	return o;
}

static sm_copy_result *copy_ok(struct fx *f, const sm_copy_options *o)
{
	sm_copy_result *r = NULL;
	sm_error err;

	ck_assert_msg(sm_copy_run(f->eng, o, NULL, &r, &err) == SM_OK, "%s", err.message);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Rolls the last copy back and checks that the live table is exactly
 * before again (frees before). */
static void rollback_restores(struct fx *f, char *before)
{
	sm_rollback_result *rb = NULL;
	sm_error err;
	char *v;

	ck_assert_msg(sm_rollback_run(f->eng, 0, NULL, &rb, &err) == SM_OK, "%s", err.message);
	v = dump(f);
	ck_assert_str_eq(v, before);
	free(v);
	free(before);
	sm_rollback_result_free(rb);
}

/* ---------------------------------------------------------------- tests */

/* The guards come from one list (SM_COPY_GUARDS): bits in list order,
 * each name parsing back to its bit, each with its texts. */
START_TEST(test_every_guard_has_a_bit_a_name_and_texts_from_the_list)
{
	unsigned seen = 0;

	for (int i = 0; i < SM_GUARD__COUNT; i++) {
		unsigned g = 1u << i;

		ck_assert_int_eq(sm_copy_guard_parse(sm_copy_guard_name(g)), (int)g);
		ck_assert_str_ne(sm_copy_guard_trips(g), "?");
		ck_assert_str_ne(sm_copy_guard_override(g), "?");
		seen |= g;
	}
	ck_assert_uint_eq(seen, SM_GUARD_ALL);
	ck_assert_uint_eq(SM_GUARD_ALL, SM_GUARD_VERSION | SM_GUARD_FAILURES | SM_GUARD_LAG |
			  SM_GUARD_EMPTY);
	ck_assert_str_eq(sm_copy_guard_name(SM_GUARD_ALL + 1), "?");
	ck_assert_int_eq(sm_copy_guard_parse("nope"), 0);
}
END_TEST

START_TEST(test_plan_counts_match_what_the_copy_does)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_plan *plan = NULL;
	sm_copy_result *r;
	sm_error err;
	char *before, *after, *v;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before = dump_where(&f, "source_uuid IN ('a3', 'a4', 'a5', 'b1')");
	ck_assert_msg(sm_copy_plan_read(f.eng, &o, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_uint_eq(plan->n_types, 1);
	ck_assert_str_eq(plan->types[0].type, ALPHA);
	ck_assert_str_eq(plan->types[0].label, "Alpha");
	ck_assert_int_eq(plan->types[0].generated, 4);
	ck_assert_int_eq(plan->types[0].replace, 2);
	ck_assert_int_eq(plan->types[0].insert, 1);
	ck_assert_int_eq(plan->types[0].keep_newer, 1);
	ck_assert_int_eq(plan->types[0].untouched, 1);
	ck_assert_int_eq(plan->types[0].stale_without_replacement, 1);
	ck_assert_int_eq(plan->types[0].off_version, 0);
	ck_assert_int_eq(plan->types[0].lag_events, 2);
	ck_assert_uint_eq(plan->types[0].guards, 0);
	ck_assert_ptr_null(plan->types[0].guard_message);
	ck_assert_uint_eq(plan->guards, 0);

	r = copy_ok(&f, &o);
	ck_assert_int_eq(r->replaced, plan->types[0].replace);
	ck_assert_int_eq(r->inserted, plan->types[0].insert);
	ck_assert_int_eq(r->kept_newer, plan->types[0].keep_newer);
	ck_assert_int_eq(r->stale_kept, plan->types[0].stale_without_replacement);
	ck_assert_int_eq(r->removed, 0);
	ck_assert_int_eq(r->backed_up, 2);
	ck_assert(r->verified);
	ck_assert_int_eq(strlen(r->checksum), 32);
	ck_assert_int_gt(r->copy_id, 0);

	/* a1, a2, a6 are now exactly the generated rows; the rest unchanged. */
	v = sm_xasprintf("SELECT string_agg(l.source_uuid, ',' ORDER BY l.source_uuid) FROM %s.snapshots l"
			 " JOIN %s.snapshots g USING (source_uuid) WHERE l.data = g.data"
			 " AND l.metadata = g.metadata AND l.source_version = g.source_version"
			 " AND l.source_type = g.source_type", f.src, f.tgt);
	after = tl_query_value(f.conn, v);
	free(v);
	ck_assert_str_eq(after, "a1,a2,a6");
	free(after);
	after = dump_where(&f, "source_uuid IN ('a3', 'a4', 'a5', 'b1')");
	ck_assert_str_eq(after, before);
	free(after);
	/* 64-bit integers and unicode survive. */
	v = live_data_text(&f, "a1");
	ck_assert_ptr_nonnull(strstr(v, "9007199254740993"));
	ck_assert_ptr_nonnull(strstr(v, "Zoë ✓"));
	free(v);
	/* The plan now has nothing left to replace. */
	sm_copy_plan_free(plan);
	ck_assert_msg(sm_copy_plan_read(f.eng, &o, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(plan->types[0].replace, 0);
	ck_assert_int_eq(plan->types[0].insert, 0);
	ck_assert_int_eq(plan->types[0].keep_newer, 4);
	sm_copy_plan_free(plan);
	sm_copy_result_free(r);
	free(before);
	fx_free(&f);
}
END_TEST

START_TEST(test_copy_journals_counts_and_checksum)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	char *sql, *v;

	fx_init(&f, SM_FIXTURE_JSONB);
	scenario(&f);
	r = copy_ok(&f, &o);
	sql = sm_xasprintf("SELECT kind || ' ' || outcome || ' ' || (details->>'copy_id') || ' '"
			   " || (details->>'replaced') || ' ' || (details->>'inserted') || ' '"
			   " || (details->>'verified') || ' ' || (details->>'checksum') || ' '"
			   " || (details->'types'->>0) || ' ' || (finished_at IS NOT NULL)"
			   " FROM %s.snapmig_runs WHERE run_id = %lld", f.tgt, r->copy_id);
	v = tl_query_value(f.conn, sql);
	free(sql);
	{
		char *expect = sm_xasprintf("copy done %lld 2 1 true %s " ALPHA " true", r->copy_id,
					    r->checksum);

		ck_assert_str_eq(v, expect);
		free(expect);
	}
	free(v);
	sm_copy_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(test_copy_of_all_types_includes_types_without_rows)
{
	struct fx f;
	sm_copy_result *r;
	sm_copy_plan *plan;
	sm_error err;
	char *v;

	fx_init(&f, SM_FIXTURE_BYTEA);
	scenario(&f);
	ck_assert_msg(sm_copy_plan_read(f.eng, NULL, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_uint_eq(plan->n_types, 3);
	ck_assert_str_eq(plan->types[2].type, GAMMA);
	ck_assert_int_eq(plan->types[2].generated, 0);
	ck_assert_uint_eq(plan->types[2].guards, 0);
	ck_assert_int_eq(plan->types[1].replace, 1);
	sm_copy_plan_free(plan);
	ck_assert_msg(sm_copy_run(f.eng, NULL, NULL, &r, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(r->replaced, 3);
	ck_assert_int_eq(r->inserted, 1);
	ck_assert(r->verified);
	v = live_data_text(&f, "b1");
	ck_assert_str_eq(v, "{\"v\":\"new-b1\"}");
	free(v);
	sm_copy_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(test_stale_rows_without_replacement_are_kept_by_default_and_removed_on_request)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	char *before_a5, *v;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before_a5 = dump_where(&f, "source_uuid = 'a5'");
	r = copy_ok(&f, &o);
	ck_assert_int_eq(r->stale_kept, 1);
	ck_assert_int_eq(r->removed, 0);
	v = dump_where(&f, "source_uuid = 'a5'");
	ck_assert_str_eq(v, before_a5);
	free(v);
	sm_copy_result_free(r);

	o.remove_stale = true;
	r = copy_ok(&f, &o);
	ck_assert_int_eq(r->removed, 1);
	ck_assert_int_eq(r->stale_kept, 0);
	ck_assert(r->verified);
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM snapshots WHERE source_uuid = 'a5'"), 0);
	/* The untouched valid row a4 and the kept a3 are still there. */
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM snapshots WHERE source_uuid IN ('a3', 'a4')"), 2);
	/* The removed row is in the backup, exactly. */
	tl_assert_valuef(f.conn, before_a5,
			 "SELECT concat_ws('|', source_uuid, source_version, source_type, data::text,"
			 " COALESCE(metadata::text, '-'), created_at) FROM %s.snapmig_backup"
			 " WHERE copy_id = %lld AND action = 'remove'", f.tgt, r->copy_id);
	sm_copy_result_free(r);
	free(before_a5);
	fx_free(&f);
}
END_TEST

START_TEST(test_backup_holds_the_replaced_rows_and_marks_the_inserted_ones)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	char *before, *sql;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before = dump_where(&f, "source_uuid IN ('a1', 'a2')");
	r = copy_ok(&f, &o);
	tl_assert_valuef(f.conn, before,
			 "SELECT string_agg(concat_ws('|', source_uuid, source_version, source_type,"
			 " data::text, COALESCE(metadata::text, '-'), created_at), E'\\n' ORDER BY source_uuid)"
			 " FROM %s.snapmig_backup WHERE copy_id = %lld AND action = 'replace'",
			 f.tgt, r->copy_id);
	tl_assert_valuef(f.conn, "a6:true",
			 "SELECT string_agg(source_uuid || ':' || (data IS NULL), ',')"
			 " FROM %s.snapmig_backup WHERE copy_id = %lld AND action = 'insert'",
			 f.tgt, r->copy_id);
	/* Kept, untouched and stale rows are not in the backup. */
	sql = sm_xasprintf("SELECT count(*) FROM %s.snapmig_backup WHERE copy_id = %lld", f.tgt, r->copy_id);
	ck_assert_int_eq(query_ll(f.conn, sql), 3);
	free(sql);
	sm_copy_result_free(r);
	free(before);
	fx_free(&f);
}
END_TEST

START_TEST(test_rollback_restores_exactly_the_previous_rows)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	sm_rollback_result *rb = NULL;
	sm_error err;
	char *before, *mid, *after;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before = dump(&f);
	o.remove_stale = true;
	r = copy_ok(&f, &o);
	mid = dump(&f);
	ck_assert_str_ne(mid, before);
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(rb->copy_id, r->copy_id);
	ck_assert_int_gt(rb->rollback_id, r->copy_id);
	ck_assert_int_eq(rb->restored, 3);   /* a1, a2 replaced; a5 removed */
	ck_assert_int_eq(rb->deleted, 1);    /* a6 inserted */
	ck_assert_int_eq(rb->drifted, 0);
	ck_assert_uint_eq(rb->n_drifted_uuids, 0);
	after = dump(&f);
	ck_assert_str_eq(after, before);
	sm_rollback_result_free(rb);
	rb = NULL;

	/* Once only. */
	ck_assert_int_eq(sm_rollback_run(f.eng, r->copy_id, NULL, &rb, &err), SM_ERR_USAGE);
	ck_assert_ptr_nonnull(strstr(err.message, "already rolled back"));
	ck_assert_ptr_null(rb);
	ck_assert_int_eq(sm_rollback_run(f.eng, 0, NULL, &rb, &err), SM_ERR_USAGE);
	ck_assert_ptr_null(rb);
	free(after);
	after = dump(&f);
	ck_assert_str_eq(after, before);
	free(after);
	free(mid);
	free(before);
	sm_copy_result_free(r);
	fx_free(&f);
}
END_TEST

START_TEST(test_rollback_leaves_rows_changed_after_the_copy)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	sm_rollback_result *rb = NULL;
	sm_error err;
	char *before_a1, *after_changes, *v;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before_a1 = dump_where(&f, "source_uuid = 'a1'");
	o.remove_stale = true;
	r = copy_ok(&f, &o);
	/* The new code runs and EventStore writes newer snapshots: a2
	 * (replaced), a6 (inserted) and a5 (removed by the copy). */
	live(&f, "a2", 6, ALPHA, "{\"v\":\"newer-a2\"}", 2);
	live(&f, "a6", 4, ALPHA, "{\"v\":\"newer-a6\"}", 2);
	live(&f, "a5", 3, ALPHA, "{\"v\":\"newer-a5\"}", 2);
	after_changes = dump_where(&f, "source_uuid IN ('a2', 'a5', 'a6')");
	ck_assert_msg(sm_rollback_run(f.eng, r->copy_id, NULL, &rb, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(rb->restored, 1);
	ck_assert_int_eq(rb->deleted, 0);
	ck_assert_int_eq(rb->drifted, 3);
	ck_assert_uint_eq(rb->n_drifted_uuids, 3);
	ck_assert_str_eq(rb->drifted_uuids[0], "a2");
	ck_assert_str_eq(rb->drifted_uuids[1], "a5");
	ck_assert_str_eq(rb->drifted_uuids[2], "a6");
	v = dump_where(&f, "source_uuid IN ('a2', 'a5', 'a6')");
	ck_assert_str_eq(v, after_changes);
	free(v);
	v = dump_where(&f, "source_uuid = 'a1'");
	ck_assert_str_eq(v, before_a1);
	free(v);
	free(before_a1);
	free(after_changes);
	sm_rollback_result_free(rb);
	sm_copy_result_free(r);
	fx_free(&f);
}
END_TEST

/* Expects the copy to be refused by `guard` without changing anything,
 * then to go through with the override. */
static void check_guard(struct fx *f, sm_copy_options *o, unsigned guard,
			const char *text)
{
	sm_copy_plan *plan = NULL;
	sm_copy_result *r = NULL;
	sm_error err;
	char *before = dump(f), *after, *flag;

	ck_assert_msg(sm_copy_plan_read(f->eng, o, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_uint_eq(plan->types[0].guards, guard);
	ck_assert_uint_eq(plan->guards, guard);
	ck_assert_ptr_nonnull(plan->types[0].guard_message);
	ck_assert_ptr_nonnull(strstr(plan->types[0].guard_message, text));
	sm_copy_plan_free(plan);

	ck_assert_int_eq(sm_copy_run(f->eng, o, NULL, &r, &err), SM_ERR_GUARD);
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err.message, ALPHA) != NULL, "%s", err.message);
	ck_assert_msg(strstr(err.message, text) != NULL, "%s", err.message);
	/* The engine names the guard; each front end says how to override
	 * it (--force-GUARD, or a key in the UI). */
	flag = sm_xasprintf("override the %s guard", sm_copy_guard_name(guard));
	ck_assert_msg(strstr(err.message, flag) != NULL, "%s", err.message);
	free(flag);
	after = dump(f);
	ck_assert_str_eq(after, before);
	free(after);
	tl_assert_valuef(f->conn, "refused",
			 "SELECT outcome FROM %s.snapmig_runs WHERE kind = 'copy' ORDER BY run_id DESC LIMIT 1",
			 f->tgt);

	/* The plan says the guard is overridden; the copy goes through. */
	o->force = guard;
	ck_assert_msg(sm_copy_plan_read(f->eng, o, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_uint_eq(plan->types[0].guards, guard);
	ck_assert_uint_eq(plan->guards, 0);
	ck_assert_ptr_nonnull(strstr(plan->types[0].guard_message, "overridden"));
	sm_copy_plan_free(plan);
	ck_assert_msg(sm_copy_run(f->eng, o, NULL, &r, &err) == SM_OK, "%s", err.message);
	ck_assert(r->verified);
	sm_copy_result_free(r);
	free(before);
}

START_TEST(test_version_guard_refuses_rows_not_at_the_target_and_force_overrides)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_plan *plan;
	sm_error err;

	fx_init(&f, modes[_i]);
	scenario(&f);
	gen(&f, "a7", 1, ALPHA, "{\"v\":\"old-version\"}", 1);
	ck_assert_msg(sm_copy_plan_read(f.eng, &o, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(plan->types[0].off_version, 1);
	ck_assert_int_eq(plan->types[0].generated, 5);
	sm_copy_plan_free(plan);
	check_guard(&f, &o, SM_GUARD_VERSION, "not at the configured snapshot version 2");
	fx_free(&f);
}
END_TEST

START_TEST(test_failures_guard_refuses_and_force_overrides)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	char *sql;

	fx_init(&f, SM_FIXTURE_BYTEA);
	scenario(&f);
	sql = sm_xasprintf("INSERT INTO %s.snapmig_failures (source_uuid, source_type, kind, message)"
			   " VALUES ('a9', '" ALPHA "', 'unknown_event', 'no handler'),"
			   " ('b9', '" BETA "', 'unknown_event', 'no handler')", f.tgt);
	tl_exec(f.conn, sql);
	free(sql);
	check_guard(&f, &o, SM_GUARD_FAILURES, "1 failure recorded");
	fx_free(&f);
}
END_TEST

START_TEST(test_lag_guard_refuses_rows_behind_their_streams_and_force_overrides)
{
	struct fx f;
	sm_copy_options o = alpha_opts();

	fx_init(&f, SM_FIXTURE_JSONB);
	scenario(&f);
	/* a3 is 2 events behind its stream; 3 more events on a1 make 5. */
	stream(&f, "a1", 3);
	f.env.settings.copy_max_lag = 4;
	check_guard(&f, &o, SM_GUARD_LAG, "5 events behind the live streams (limit 4)");
	fx_free(&f);
}
END_TEST

START_TEST(test_empty_guard_refuses_a_type_with_nothing_generated_and_force_overrides)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	char *sql, *before, *after;

	fx_init(&f, SM_FIXTURE_BYTEA);
	scenario(&f);
	sql = sm_xasprintf("DELETE FROM %s.snapshots WHERE source_type = '" ALPHA "'", f.tgt);
	tl_exec(f.conn, sql);
	free(sql);
	before = dump(&f);
	check_guard(&f, &o, SM_GUARD_EMPTY, "nothing generated");
	/* Forced, it copies nothing and deletes nothing. */
	after = dump(&f);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	fx_free(&f);
}
END_TEST

START_TEST(test_plan_and_copy_without_a_target_schema_report_nothing_generated)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_plan *plan = NULL;
	sm_copy_result *r = NULL;
	sm_error err;
	char *before, *after;

	fx_init(&f, SM_FIXTURE_JSONB);
	scenario(&f);
	tl_exec(f.conn, "DROP SCHEMA migration CASCADE");
	before = dump(&f);
	ck_assert_msg(sm_copy_plan_read(f.eng, &o, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(plan->types[0].generated, 0);
	ck_assert_int_eq(plan->types[0].untouched, 3);
	ck_assert_int_eq(plan->types[0].stale_without_replacement, 2);
	ck_assert_uint_eq(plan->guards, SM_GUARD_EMPTY);
	sm_copy_plan_free(plan);
	ck_assert_int_eq(sm_copy_run(f.eng, &o, NULL, &r, &err), SM_ERR_GUARD);
	ck_assert_ptr_nonnull(strstr(err.message, "override the empty guard"));
	after = dump(&f);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	fx_free(&f);
}
END_TEST

START_TEST(test_schema_names_are_quoted)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	sm_rollback_result *rb;
	sm_error err;
	char *before, *after;

	fx_init2(&f, SM_FIXTURE_BYTEA, SM_FIXTURE_BYTEA, "li\"ve;x", "mig\"ra;tion");
	scenario(&f);
	before = dump(&f);
	o.remove_stale = true;
	r = copy_ok(&f, &o);
	ck_assert_int_eq(r->replaced, 2);
	ck_assert_int_eq(r->inserted, 1);
	ck_assert_int_eq(r->removed, 1);
	ck_assert(r->verified);
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &err) == SM_OK, "%s", err.message);
	after = dump(&f);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	sm_rollback_result_free(rb);
	sm_copy_result_free(r);
	fx_free(&f);
}
END_TEST

/* Live table and generated table in different encodings: the live table
 * keeps its own form. */
static const struct { enum sm_fixture_mode live, gen; const char *form; } conversions[] = {
	{ SM_FIXTURE_JSONB, SM_FIXTURE_BYTEA, "SELECT jsonb_typeof(data) || ' ' || (data->>'v') || ' ' || (metadata->>'snapshot_module_version')" },
	{ SM_FIXTURE_BYTEA, SM_FIXTURE_JSONB, "SELECT 'bytes ' || (convert_from(data, 'UTF8')::jsonb->>'v') || ' ' || (convert_from(metadata, 'UTF8')::jsonb->>'snapshot_module_version')" },
	{ SM_FIXTURE_JSONB_TEXT, SM_FIXTURE_JSONB, "SELECT jsonb_typeof(data) || ' ' || ((data #>> '{}')::jsonb->>'v') || ' ' || ((metadata #>> '{}')::jsonb->>'snapshot_module_version')" },
	{ SM_FIXTURE_JSONB_TEXT, SM_FIXTURE_BYTEA, "SELECT jsonb_typeof(data) || ' ' || ((data #>> '{}')::jsonb->>'v') || ' ' || ((metadata #>> '{}')::jsonb->>'snapshot_module_version')" },
	{ SM_FIXTURE_BYTEA, SM_FIXTURE_JSONB_TEXT, "SELECT 'bytes ' || (convert_from(data, 'UTF8')::jsonb->>'v') || ' ' || (convert_from(metadata, 'UTF8')::jsonb->>'snapshot_module_version')" },
};

START_TEST(test_copy_converts_between_bytea_and_jsonb)
{
	static const char *const expect[] = {
		"object new-a1 2", "bytes new-a1 2", "string new-a1 2", "string new-a1 2",
		"bytes new-a1 2",
	};
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	char *before, *v;

	fx_init2(&f, conversions[_i].live, conversions[_i].gen, "public", "migration");
	scenario(&f);
	before = dump(&f);
	r = copy_ok(&f, &o);
	ck_assert_int_eq(r->replaced, 2);
	ck_assert_int_eq(r->inserted, 1);
	ck_assert(r->verified);
	tl_assert_valuef(f.conn, expect[_i],
			 "%s FROM snapshots WHERE source_uuid = 'a1'", conversions[_i].form);
	v = live_data_text(&f, "a1");
	ck_assert_ptr_nonnull(strstr(v, "9007199254740993"));
	ck_assert_ptr_nonnull(strstr(v, "Zoë ✓"));
	free(v);
	sm_copy_result_free(r);
	rollback_restores(&f, before);
	fx_free(&f);
}
END_TEST

/* Double encoding is the serializer's, so of the whole store, and it is
 * sampled from data: a store whose data is bytea but whose metadata is
 * jsonb (not EventStore's layout, but one that an application's migration
 * can leave) is copied, and its metadata is written as jsonb objects. */
START_TEST(test_copy_of_a_store_with_bytea_data_and_jsonb_metadata)
{
	struct fx f;
	sm_copy_options o = alpha_opts();
	sm_copy_result *r;
	char *before;

	fx_init(&f, SM_FIXTURE_BYTEA);
	scenario(&f);
	tl_exec(f.conn, "ALTER TABLE public.snapshots ALTER COLUMN metadata TYPE jsonb"
		" USING convert_from(metadata, 'UTF8')::jsonb");
	before = dump(&f);
	r = copy_ok(&f, &o);
	ck_assert_int_eq(r->replaced, 2);
	ck_assert_int_eq(r->inserted, 1);
	ck_assert(r->verified);
	tl_assert_value(f.conn, "object 2",
			"SELECT jsonb_typeof(metadata) || ' ' || (metadata ->> "
			"'snapshot_module_version') FROM snapshots WHERE source_uuid = 'a1'");
	sm_copy_result_free(r);
	rollback_restores(&f, before);
	fx_free(&f);
}
END_TEST

/* ------------------------------------------------ locks and atomicity */

START_TEST(test_copy_waits_for_the_lock_and_reports_while_waiting)
{
	struct fx f;
	tl_copy_thread t;
	sm_copy_options o;
	double deadline, last_wait = 0;
	int waits = 0;

	fx_init(&f, SM_FIXTURE_BYTEA);
	scenario(&f);
	/* An EventStore writer in the middle of a transaction. */
	tl_exec(f.conn, "BEGIN");
	tl_execf(f.conn, "LOCK TABLE %s.snapshots IN ROW EXCLUSIVE MODE", f.src);
	o = alpha_opts();
	tl_copy_start(&t, f.eng, &o);
	deadline = sm_now() + 30;
	while (waits < 2 && sm_now() < deadline) {
		usleep(50000);
		waits = tl_copy_waits(&t, NULL);
	}
	ck_assert_int_ge(waits, 2);
	/* Still waiting: nothing written yet. */
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM snapshots WHERE source_uuid = 'a6'"), 0);
	tl_exec(f.conn, "COMMIT");
	tl_copy_join(&t);
	ck_assert_msg(t.rc == SM_OK, "%s", t.err.message);
	tl_copy_waits(&t, &last_wait);
	ck_assert_double_ge(last_wait, 1.9);
	ck_assert_int_eq(t.res->inserted, 1);
	sm_copy_result_free(t.res);
	fx_free(&f);
}
END_TEST

/* Prepares a copy that will stop half way: Beta is copied first (which
 * creates the copy's tables), then the test holds a lock on
 * snapmig_copies, which the copy writes last, after the live rows. */
static char *prepare_half_way(struct fx *f)
{
	static const char *const beta[] = { "Beta" };
	sm_copy_options o;
	sm_copy_result *r;
	char *sql;

	memset(&o, 0, sizeof o);
	o.types = beta;
	o.n_types = 1;
	r = copy_ok(f, &o);
	sm_copy_result_free(r);
	tl_exec(f->conn, "BEGIN");
	sql = sm_xasprintf("LOCK TABLE %s.snapmig_copies IN ACCESS EXCLUSIVE MODE", f->tgt);
	tl_exec(f->conn, sql);
	free(sql);
	return dump(f);
}

/* The backend pid of a copy that has already written live rows (it holds
 * ROW EXCLUSIVE on the live table, taken by its UPDATE) and now waits for a
 * lock; 0 when none appears before the deadline. */
static int copy_backend_half_way(struct fx *f)
{
	char *rel = sm_xasprintf("%s.snapshots", f->src);
	const char *p[] = { rel };
	int pid = tl_wait_for_pid(f->ci,
		"SELECT a.pid FROM pg_stat_activity a"
		" WHERE a.application_name = 'snapmig' AND a.wait_event_type = 'Lock'"
		" AND a.datname = current_database() AND EXISTS (SELECT 1 FROM pg_locks k"
		"  WHERE k.pid = a.pid AND k.granted AND k.mode = 'RowExclusiveLock'"
		"  AND k.relation = to_regclass($1))", 1, p);

	free(rel);
	return pid;
}

static void wait_backend_gone(struct fx *f, int pid)
{
	char *sql = sm_xasprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
	double deadline = sm_now() + 30;

	while (query_ll(f->conn, sql) > 0 && sm_now() < deadline)
		usleep(50000);
	ck_assert_int_eq(query_ll(f->conn, sql), 0);
	free(sql);
}

START_TEST(test_copy_terminated_by_the_server_half_way_changes_nothing)
{
	struct fx f;
	tl_copy_thread t;
	sm_copy_options o;
	char *before, *after, *sql;
	int pid;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before = prepare_half_way(&f);
	o = alpha_opts();
	o.remove_stale = true;
	tl_copy_start(&t, f.eng, &o);
	pid = copy_backend_half_way(&f);
	ck_assert_int_gt(pid, 0);
	tl_execf(f.conn, "SELECT pg_terminate_backend(%d)", pid);
	tl_copy_join(&t);
	ck_assert_int_eq(t.rc, SM_ERR_DB);
	ck_assert_ptr_null(t.res);
	tl_exec(f.conn, "COMMIT");
	after = dump(&f);
	ck_assert_str_eq(after, before);
	free(after);
	/* No backup rows and no copy record survive; the journal says failed. */
	sql = sm_xasprintf("SELECT count(*) FROM %s.snapmig_copies", f.tgt);
	ck_assert_int_eq(query_ll(f.conn, sql), 1);
	free(sql);
	sql = sm_xasprintf("SELECT count(*) FROM %s.snapmig_backup b JOIN %s.snapmig_copies c USING (copy_id)",
			   f.tgt, f.tgt);
	{
		char *all = sm_xasprintf("SELECT count(*) FROM %s.snapmig_backup", f.tgt);

		ck_assert_int_eq(query_ll(f.conn, all), query_ll(f.conn, sql));
		free(all);
	}
	free(sql);
	tl_assert_valuef(f.conn, "failed",
			 "SELECT outcome FROM %s.snapmig_runs WHERE kind = 'copy' ORDER BY run_id DESC LIMIT 1",
			 f.tgt);
	free(before);
	fx_free(&f);
}
END_TEST

START_TEST(test_copy_killed_with_sigkill_half_way_changes_nothing)
{
	struct fx f;
	char *before, *after;
	pid_t child;
	int pid, status;

	fx_init(&f, modes[_i]);
	scenario(&f);
	before = prepare_half_way(&f);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		sm_copy_options o = alpha_opts();
		sm_copy_result *r = NULL;
		sm_error err;

		o.remove_stale = true;
		_exit(sm_copy_run(f.eng, &o, NULL, &r, &err) == SM_OK ? 0 : 1);
	}
	pid = copy_backend_half_way(&f);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(child, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFSIGNALED(status));
	/* Let the orphaned backend have its lock: it must still not commit. */
	tl_exec(f.conn, "COMMIT");
	wait_backend_gone(&f, pid);
	after = dump(&f);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	fx_free(&f);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("copy");
	int nmodes = (int)(sizeof modes / sizeof modes[0]);
	int nconv = (int)(sizeof conversions / sizeof conversions[0]);

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_guard_has_a_bit_a_name_and_texts_from_the_list);
	tcase_add_loop_test(tc, test_plan_counts_match_what_the_copy_does, 0, nmodes);
	tcase_add_test(tc, test_copy_journals_counts_and_checksum);
	tcase_add_test(tc, test_copy_of_all_types_includes_types_without_rows);
	tcase_add_loop_test(tc, test_stale_rows_without_replacement_are_kept_by_default_and_removed_on_request, 0, nmodes);
	tcase_add_loop_test(tc, test_backup_holds_the_replaced_rows_and_marks_the_inserted_ones, 0, nmodes);
	tcase_add_loop_test(tc, test_rollback_restores_exactly_the_previous_rows, 0, nmodes);
	tcase_add_loop_test(tc, test_rollback_leaves_rows_changed_after_the_copy, 0, nmodes);
	tcase_add_loop_test(tc, test_version_guard_refuses_rows_not_at_the_target_and_force_overrides, 0, nmodes);
	tcase_add_test(tc, test_failures_guard_refuses_and_force_overrides);
	tcase_add_test(tc, test_lag_guard_refuses_rows_behind_their_streams_and_force_overrides);
	tcase_add_test(tc, test_empty_guard_refuses_a_type_with_nothing_generated_and_force_overrides);
	tcase_add_test(tc, test_plan_and_copy_without_a_target_schema_report_nothing_generated);
	tcase_add_test(tc, test_schema_names_are_quoted);
	tcase_add_test(tc, test_copy_of_a_store_with_bytea_data_and_jsonb_metadata);
	tcase_add_loop_test(tc, test_copy_converts_between_bytea_and_jsonb, 0, nconv);
	tcase_add_test(tc, test_copy_waits_for_the_lock_and_reports_while_waiting);
	tcase_add_loop_test(tc, test_copy_terminated_by_the_server_half_way_changes_nothing, 0, 2);
	tcase_add_loop_test(tc, test_copy_killed_with_sigkill_half_way_changes_nothing, 0, 2);
	return tl_run_cases("copy", tc, (TCase *)NULL);
}
