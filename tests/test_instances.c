/*
 * Check suite: sm_instances_query, the instance list of the UI, filtered by
 * state (snapmig's comparison of the live and generated snapshot), by
 * staleness (stale or current) and by recorded failure, and ordered; in the three column
 * encodings.  One store: four instances of one type, rebuilt once.
 *  - c1: a stale snapshot (module version 1 of 2); generated: differs.
 *  - c2: a valid snapshot at its stream's end: caught up with nothing,
 *        generated: the same.
 *  - c3: a stale snapshot whose stream holds an event the rules fail on:
 *        failed, not generated.
 *  - c4: a stale snapshot whose data is what a replay gives: same.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"

static const char config_fmt[] =
	"environments = ( { name = \"t\"; conninfo = \"%s\"; } );\n"
	"aggregates = (\n"
	"  { type = \"Elixir.Counter\"; snapshot_version = 2; initial = \"{id: null, count: 0}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Counter.Created\"; do = \"id = event.id\"; },\n"
	"      { on = \"Elixir.Counter.Added\"; do = \"count += event.n\"; },\n"
	"      { on = \"Elixir.Counter.Broken\"; do = \"append count 1\"; }\n"
	"    ); }\n"
	");\n";

#define TYPE "Elixir.Counter"
#define V1 "{\"snapshot_module_version\": 1}"
#define V2 "{\"snapshot_module_version\": 2}"

static char *conninfo;
static PGconn *conn;
static sm_config *cfg;
static sm_engine *eng;

static void stream(enum sm_fixture_mode m, const char *uuid, const char *second_type,
		   const char *second_data)
{
	char err[1024], created[64];
	const char *types[] = { TYPE ".Created", second_type };
	const char *datas[] = { created, second_data };

	snprintf(created, sizeof created, "{\"id\": \"%s\"}", uuid);
	ck_assert_msg(sm_fixture_append(conn, "public", m, uuid, second_type ? 2 : 1, types, datas,
					NULL, err, sizeof err) == 0, "%s", err);
}

static void snap(enum sm_fixture_mode m, const char *uuid, long long version, const char *data,
		 const char *meta)
{
	char err[1024];

	ck_assert_msg(sm_fixture_snapshot(conn, "public", m, uuid, version, TYPE, data, meta,
					  err, sizeof err) == 0, "%s", err);
}

static void setup(enum sm_fixture_mode m)
{
	char err[1024], *text;
	sm_rebuild_options opts;
	sm_run *run;
	sm_error e;

	conninfo = tl_new_database();
	conn = tl_connect(conninfo);
	ck_assert_msg(sm_fixture_create_store(conn, "public", m, err, sizeof err) == 0, "%s", err);
	stream(m, "c1", TYPE ".Added", "{\"n\": 2}");
	snap(m, "c1", 1, "{\"id\": \"c1\", \"count\": 0}", V1);
	stream(m, "c2", NULL, NULL);
	snap(m, "c2", 1, "{\"id\": \"c2\", \"count\": 0}", V2);
	stream(m, "c3", TYPE ".Broken", "{}");
	snap(m, "c3", 1, "{\"id\": \"c3\", \"count\": 0}", V1);
	stream(m, "c4", TYPE ".Added", "{\"n\": 2}");
	snap(m, "c4", 2, "{\"count\": 2, \"id\": \"c4\"}", V1);
	ck_assert(asprintf(&text, config_fmt, conninfo) > 0);
	tl_config_open(text, "t", &cfg, &eng);
	memset(&opts, 0, sizeof opts);
	ck_assert_msg(sm_rebuild_start(eng, &opts, &run, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "rebuild: %s", e.message);
	sm_run_free(run);
	free(text);
}

static void teardown(void)
{
	sm_engine_close(eng);
	sm_config_free(cfg);
	PQfinish(conn);
	free(conninfo);
}

/* The uuids the query lists, "c1,c4", and its total in *total. */
static char *listed(const sm_instance_query *q, long long *total)
{
	sm_instance_list *list = NULL;
	char *out = calloc(1, 256);
	sm_error e;

	sm_error_clear(&e);
	ck_assert_msg(sm_instances_query(eng, q, NULL, &list, &e) == SM_OK, "%s", e.message);
	for (size_t i = 0; i < list->n; i++) {
		strcat(out, i ? "," : "");
		strcat(out, list->items[i].source_uuid);
	}
	*total = list->total;
	sm_instance_list_free(list);
	return out;
}

static void expect(const sm_instance_query *q, const char *uuids, long long total)
{
	long long got_total;
	char *got = listed(q, &got_total);

	ck_assert_msg(strcmp(got, uuids) == 0 && got_total == total,
		      "listed %s (total %lld), expected %s (total %lld)", got, got_total, uuids,
		      total);
	free(got);
}

START_TEST(test_the_state_filter_keeps_the_rows_the_comparison_puts_in_that_state)
{
	sm_instance_query q = { .type = TYPE, .limit = 100 };

	setup((enum sm_fixture_mode)_i);
	expect(&q, "c1,c2,c3,c4", 4);
	q.states = 1u << SM_INSTANCE_DIFFERENT;
	expect(&q, "c1", 1);
	q.states = 1u << SM_INSTANCE_SAME;
	expect(&q, "c2,c4", 2);
	q.states = 1u << SM_INSTANCE_NOT_GENERATED;
	expect(&q, "c3", 1);
	q.states = 1u << SM_INSTANCE_SAME | 1u << SM_INSTANCE_DIFFERENT;
	expect(&q, "c1,c2,c4", 3);
	q.states = 1u << SM_INSTANCE_UNREADABLE;
	expect(&q, "", 0);
	teardown();
}
END_TEST

START_TEST(test_a_page_of_a_state_filter_counts_every_match)
{
	sm_instance_query q = { .type = TYPE, .limit = 1, .offset = 1 };

	setup((enum sm_fixture_mode)_i);
	q.states = 1u << SM_INSTANCE_SAME | 1u << SM_INSTANCE_DIFFERENT |
		   1u << SM_INSTANCE_NOT_GENERATED;
	expect(&q, "c2", 4);
	q.offset = 3;
	expect(&q, "c4", 4);
	q.offset = 4;
	expect(&q, "", 4);
	teardown();
}
END_TEST

START_TEST(test_stale_current_and_failed_filters_and_the_uuid_filter_combine)
{
	sm_instance_query q = { .type = TYPE, .limit = 100, .stale = true };

	setup((enum sm_fixture_mode)_i);
	expect(&q, "c1,c3,c4", 3);
	q.stale = false;
	q.failed = true;
	expect(&q, "c3", 1);
	q.failed = false;
	q.uuid_filter = "C4";
	q.stale = true;
	expect(&q, "c4", 1);
	q.states = 1u << SM_INSTANCE_DIFFERENT;
	expect(&q, "", 0);
	/* Current: the rest (the snapshots verify checks). */
	q.states = 0;
	q.uuid_filter = NULL;
	q.stale = false;
	q.current = true;
	expect(&q, "c2", 1);
	q.failed = true;
	expect(&q, "", 0);
	teardown();
}
END_TEST

START_TEST(test_instances_order_by_version_or_uuid_either_way)
{
	sm_instance_query q = { .type = TYPE, .limit = 100, .order = SM_INSTANCES_BY_VERSION };

	setup((enum sm_fixture_mode)_i);
	expect(&q, "c4,c1,c2,c3", 4);
	q.reverse = true;
	expect(&q, "c1,c2,c3,c4", 4);
	q.order = SM_INSTANCES_BY_UUID;
	expect(&q, "c4,c3,c2,c1", 4);
	/* And the same when the state decides (the scan). */
	q.states = 1u << SM_INSTANCE_SAME | 1u << SM_INSTANCE_DIFFERENT;
	expect(&q, "c4,c2,c1", 3);
	teardown();
}
END_TEST

START_TEST(test_instances_list_is_the_query_without_filters)
{
	sm_instance_list *list = NULL;
	sm_error e;

	setup(SM_FIXTURE_BYTEA);
	ck_assert_msg(sm_instances_list(eng, TYPE, "c", 1, 2, NULL, &list, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(list->total, 4);
	ck_assert_int_eq(list->offset, 1);
	ck_assert_uint_eq(list->n, 2);
	ck_assert_str_eq(list->items[0].source_uuid, "c2");
	ck_assert_int_eq(list->items[0].state, SM_INSTANCE_SAME);
	ck_assert_str_eq(list->items[1].source_uuid, "c3");
	ck_assert_int_eq(list->items[1].state, SM_INSTANCE_NOT_GENERATED);
	sm_instance_list_free(list);
	teardown();
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("query");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_the_state_filter_keeps_the_rows_the_comparison_puts_in_that_state, 0, 3);
	tcase_add_loop_test(tc, test_a_page_of_a_state_filter_counts_every_match, 0, 3);
	tcase_add_loop_test(tc, test_stale_current_and_failed_filters_and_the_uuid_filter_combine, 0, 3);
	tcase_add_loop_test(tc, test_instances_order_by_version_or_uuid_either_way, 0, 3);
	tcase_add_test(tc, test_instances_list_is_the_query_without_filters);
	return tl_run_case("instances", tc);
}
