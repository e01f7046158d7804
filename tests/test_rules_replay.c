/*
 * The rules reducer against a real PostgreSQL: an instance rebuilt by a
 * full replay and the same instance caught up from a snapshot that an
 * earlier rebuild wrote give byte-identical rows (the state's top-level
 * keys are the fields of initial on both paths), in every column encoding;
 * a computed top-level key outside initial fails its instance.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"

/* Three environments on one store, each generating into its own schema. */
static const char config_fmt[] =
	"environments = (\n"
	"  { name = \"full\"; conninfo = \"%1$s\"; target_schema = \"m_full\"; },\n"
	"  { name = \"early\"; conninfo = \"%1$s\"; target_schema = \"m_early\"; },\n"
	"  { name = \"catchup\"; conninfo = \"%1$s\"; target_schema = \"m_catchup\"; }\n"
	");\n"
	"aggregates = (\n"
	"  { type = \"Elixir.Cart\"; snapshot_version = 2;\n"
	"    initial = \"{id: null, items: {}, total: 0, weight: 0.0, log: [], labels: {},"
	" status: 'new', 'done?': false, counts: {}}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Cart.Created\"; do = \"id = event.id; status = 'open'\"; },\n"
	"      { on = \"Elixir.Cart.Added\";\n"
	"        do = \"items[event.sku] = {qty: event.qty, price: event.price}; total += event.qty;\"\n"
	"             \" weight += event.w; append log event.sku; counts[event.sku] += 1\"; },\n"
	"      { on = \"Elixir.Cart.Removed\";\n"
	"        do = \"delete items[event.sku]; remove log where it == event.sku; prepend log 'removed'\"; },\n"
	"      { on = \"Elixir.Cart.Tagged\"; do = \"merge labels event.tags; labels[event.k] ?= event.v\"; },\n"
	"      { on = \"Elixir.Cart.Set\"; do = \"state[event.field] = event.value\"; },\n"
	"      { on = \"Elixir.Cart.Closed\"; do = \"status = 'closed'; state['done?'] = true\"; }\n"
	"    ); },\n"
	"  { type = \"Elixir.Lax\"; snapshot_version = 2; initial = \"{n: 0, other: 0}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Lax.Inc\"; do = \"n += 1\"; },\n"
	"      { on = \"*\"; do = \"other += 1\"; }\n"
	"    ); }\n"
	");\n";

typedef tl_store fixture;

static void setup(fixture *f, enum sm_fixture_mode mode)
{
	tl_store_open(f, "public", mode, config_fmt, NULL);
}

static void append(fixture *f, const char *uuid, const char *type, const char *data)
{
	tl_store_append(f, uuid, type, data, NULL);
}

static void snapshot(fixture *f, const char *uuid, long long version, const char *data,
		     const char *meta)
{
	tl_store_snapshot(f, uuid, version, "Elixir.Cart", data, meta);
}

/* Rebuilds one environment; returns the events it applied. */
static long long rebuild(fixture *f, const char *env, sm_progress *prog_out)
{
	sm_engine *eng;
	sm_rebuild_options opts;
	sm_run *run;
	sm_progress prog;
	sm_error e;
	long long events;

	memset(&opts, 0, sizeof opts);
	sm_error_clear(&e);
	ck_assert_msg(sm_engine_open(f->cfg, env, NULL, &eng, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_rebuild_start(eng, &opts, &run, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "rebuild: %s", e.message);
	sm_run_progress(run, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	events = prog.total.events_done;
	if (prog_out)
		*prog_out = prog;
	else
		sm_progress_clear(&prog);
	sm_run_free(run);
	sm_engine_close(eng);
	return events;
}

/* The generated row's data exactly as stored (text), or NULL. */
static char *row_text(fixture *f, const char *schema, const char *uuid, long long *version)
{
	char sql[512];
	const char *params[] = { uuid };
	PGresult *res;
	char *text = NULL;

	snprintf(sql, sizeof sql, "SELECT %s, source_version FROM %s.snapshots WHERE source_uuid = $1",
		 f->mode == SM_FIXTURE_BYTEA ? "convert_from(data, 'UTF8')"
		 : f->mode == SM_FIXTURE_JSONB ? "data::text" : "data #>> '{}'", schema);
	res = PQexecParams(f->conn, sql, 1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
	if (PQntuples(res) == 1) {
		text = strdup(PQgetvalue(res, 0, 0));
		*version = atoll(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return text;
}

static const char *const early_events[][2] = {
	{ "Elixir.Cart.Created", "{\"id\":\"cart-1\"}" },
	{ "Elixir.Cart.Added", "{\"sku\":\"a\",\"qty\":2,\"price\":1.50,\"w\":0.1}" },
	{ "Elixir.Cart.Added", "{\"sku\":\"b\",\"qty\":1,\"price\":10,\"w\":0.2}" },
	{ "Elixir.Cart.Tagged", "{\"tags\":{\"x\":1,\"y\":{\"z\":[1,2.50]}},\"k\":\"n\",\"v\":[true,null]}" },
	{ "Elixir.Cart.Set", "{\"field\":\"status\",\"value\":\"busy\"}" },
};

static const char *const late_events[][2] = {
	{ "Elixir.Cart.Added", "{\"sku\":\"c\",\"qty\":3,\"price\":0.10,\"w\":0.7}" },
	{ "Elixir.Cart.Removed", "{\"sku\":\"a\"}" },
	{ "Elixir.Cart.Added", "{\"sku\":\"a\",\"qty\":1,\"price\":1.5,\"w\":0.05}" },
	{ "Elixir.Cart.Tagged", "{\"tags\":{\"x\":\"again\"},\"k\":\"x\",\"v\":0}" },
	{ "Elixir.Cart.Closed", "{}" },
};

#define N_EARLY (sizeof early_events / sizeof early_events[0])
#define N_LATE (sizeof late_events / sizeof late_events[0])

START_TEST(test_full_replay_and_catch_up_give_byte_identical_rows)
{
	fixture f;
	char *early, *full, *caught;
	long long v_early = 0, v_full = 0, v_caught = 0, applied;
	char meta[64];

	setup(&f, (enum sm_fixture_mode)_i);
	for (size_t i = 0; i < N_EARLY; i++)
		append(&f, "cart-1", early_events[i][0], early_events[i][1]);
	/* A live snapshot of another module version: a full replay. */
	snapshot(&f, "cart-1", 1, "{}", NULL);
	ck_assert_int_eq(rebuild(&f, "early", NULL), (long long)N_EARLY);
	early = row_text(&f, "m_early", "cart-1", &v_early);
	ck_assert_ptr_nonnull(early);
	ck_assert_int_eq(v_early, (long long)N_EARLY);

	for (size_t i = 0; i < N_LATE; i++)
		append(&f, "cart-1", late_events[i][0], late_events[i][1]);
	ck_assert_int_eq(rebuild(&f, "full", NULL), (long long)(N_EARLY + N_LATE));
	full = row_text(&f, "m_full", "cart-1", &v_full);
	ck_assert_ptr_nonnull(full);

	/* The early row becomes the live snapshot, valid for version 2: the
	 * next rebuild applies only the late events to it. */
	snprintf(meta, sizeof meta, "{\"snapshot_module_version\":2}");
	snapshot(&f, "cart-1", v_early, early, meta);
	applied = rebuild(&f, "catchup", NULL);
	ck_assert_int_eq(applied, (long long)N_LATE);
	caught = row_text(&f, "m_catchup", "cart-1", &v_caught);
	ck_assert_ptr_nonnull(caught);

	ck_assert_int_eq(v_full, v_caught);
	ck_assert_msg(strcmp(full, caught) == 0, "full replay:\n%s\ncatch-up:\n%s", full, caught);
	ck_assert_msg(strstr(full, "\"done?\": true") || strstr(full, "\"done?\":true"),
		      "the last event did not apply: %s", full);
	free(early);
	free(full);
	free(caught);
	tl_store_free(&f);
}
END_TEST

/* Commanded's aggregate is a struct: a key that is not one of its fields
 * cannot be written.  Such a key would live on in a full replay and vanish
 * in a catch-up; the instance fails instead, naming the key. */
START_TEST(test_a_computed_top_level_key_outside_initial_fails_its_instance)
{
	fixture f;
	sm_progress prog;
	sm_failure_list *fl;
	sm_engine *eng;
	sm_error e;
	char *row;
	long long v;

	setup(&f, (enum sm_fixture_mode)_i);
	append(&f, "good", "Elixir.Cart.Created", "{\"id\":\"good\"}");
	append(&f, "good", "Elixir.Cart.Set", "{\"field\":\"status\",\"value\":\"x\"}");
	snapshot(&f, "good", 1, "{}", NULL);
	append(&f, "bad", "Elixir.Cart.Created", "{\"id\":\"bad\"}");
	append(&f, "bad", "Elixir.Cart.Set", "{\"field\":\"quote\",\"value\":5}");
	snapshot(&f, "bad", 1, "{}", NULL);
	rebuild(&f, "full", &prog);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_REDUCER], 1);
	ck_assert_int_eq(prog.total.failed, 1);
	sm_progress_clear(&prog);
	row = row_text(&f, "m_full", "good", &v);
	ck_assert_ptr_nonnull(row);
	free(row);
	ck_assert_ptr_null(row_text(&f, "m_full", "bad", &v));

	sm_error_clear(&e);
	ck_assert_msg(sm_engine_open(f.cfg, "full", NULL, &eng, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(sm_failures_read(eng, NULL, -1, NULL, &fl, &e), SM_OK);
	ck_assert_uint_eq(fl->n, 1);
	ck_assert_str_eq(fl->items[0].source_uuid, "bad");
	ck_assert_int_eq(fl->items[0].stream_version, 2);
	ck_assert_msg(strstr(fl->items[0].message, "quote is not a field of initial") != NULL,
		      "message: %s", fl->items[0].message);
	sm_failure_list_free(fl);
	sm_engine_close(eng);
	tl_store_free(&f);
}
END_TEST

/* A catch-all entry (on = "*") handles every type: the pre-flight finds
 * no unknown event, and the rebuild applies it to the others. */
START_TEST(test_a_catch_all_entry_handles_every_event_type)
{
	fixture f;
	sm_engine *eng;
	sm_preflight *pf;
	sm_error e;
	const char *types[] = { "Elixir.Lax" };
	char *row;
	long long v;

	setup(&f, (enum sm_fixture_mode)_i);
	append(&f, "lax-1", "Elixir.Lax.Inc", "{}");
	append(&f, "lax-1", "Elixir.Lax.SomethingNew", "{}");
	append(&f, "lax-1", "Elixir.Lax.Inc", "{}");
	append(&f, "lax-1", "Elixir.Elsewhere.Event", "{\"x\":1}");
	tl_store_snapshot(&f, "lax-1", 1, "Elixir.Lax", "{}", NULL);
	sm_error_clear(&e);
	ck_assert_msg(sm_engine_open(f.cfg, "full", NULL, &eng, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_preflight_run(eng, types, 1, NULL, &pf, &e) == SM_OK, "%s", e.message);
	ck_assert_uint_eq(pf->n_unknown, 0);
	sm_preflight_free(pf);
	sm_engine_close(eng);
	/* The live snapshot is of module version 1: a full replay. */
	ck_assert_int_eq(rebuild(&f, "full", NULL), 4);
	row = row_text(&f, "m_full", "lax-1", &v);
	ck_assert_ptr_nonnull(row);
	ck_assert_msg(strstr(row, "\"n\": 2") || strstr(row, "\"n\":2"), "%s", row);
	ck_assert_msg(strstr(row, "\"other\": 2") || strstr(row, "\"other\":2"), "%s", row);
	ck_assert_int_eq(v, 4);
	free(row);
	tl_store_free(&f);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 300);
	/* _i: 0 bytea, 1 jsonb, 2 double-encoded jsonb */
	tcase_add_loop_test(tc, test_full_replay_and_catch_up_give_byte_identical_rows, 0, 3);
	tcase_add_loop_test(tc, test_a_computed_top_level_key_outside_initial_fails_its_instance, 0, 3);
	tcase_add_loop_test(tc, test_a_catch_all_entry_handles_every_event_type, 0, 2);
	return tl_run_case("rules_replay", tc);
}
