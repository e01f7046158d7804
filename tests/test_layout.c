/*
 * The fixtures create exactly the layout of shared/reference/eventstore.md:
 * columns and types read back from information_schema.columns, for the bytea
 * and the jsonb variant; and appends link events the way EventStore does.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture.h"
#include "tests/testlib.h"

struct column { const char *table, *name, *type; };

static const struct column expected_common[] = {
	{ "events", "causation_id", "uuid" },
	{ "events", "correlation_id", "uuid" },
	{ "events", "created_at", "timestamp with time zone" },
	{ "events", "data", NULL },
	{ "events", "event_id", "uuid" },
	{ "events", "event_type", "text" },
	{ "events", "metadata", NULL },
	{ "snapshots", "created_at", "timestamp with time zone" },
	{ "snapshots", "data", NULL },
	{ "snapshots", "metadata", NULL },
	{ "snapshots", "source_type", "text" },
	{ "snapshots", "source_uuid", "text" },
	{ "snapshots", "source_version", "bigint" },
	{ "stream_events", "event_id", "uuid" },
	{ "stream_events", "original_stream_id", "bigint" },
	{ "stream_events", "original_stream_version", "bigint" },
	{ "stream_events", "stream_id", "bigint" },
	{ "stream_events", "stream_version", "bigint" },
	{ "streams", "created_at", "timestamp with time zone" },
	{ "streams", "deleted_at", "timestamp with time zone" },
	{ "streams", "stream_id", "bigint" },
	{ "streams", "stream_uuid", "text" },
	{ "streams", "stream_version", "bigint" },
};

static void check_layout(enum sm_fixture_mode mode, const char *data_type)
{
	char *ci = tl_new_database();
	PGconn *conn = tl_connect(ci);
	char err[1024];
	PGresult *res;
	size_t n = sizeof expected_common / sizeof expected_common[0];

	ck_assert_msg(sm_fixture_create_store(conn, "public", mode, err, sizeof err) == 0, "%s", err);
	res = PQexec(conn,
		"SELECT table_name, column_name, data_type FROM information_schema.columns"
		" WHERE table_schema = 'public' AND table_name IN"
		" ('streams', 'events', 'stream_events', 'snapshots')"
		" ORDER BY table_name, column_name");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	ck_assert_int_eq(PQntuples(res), (int)n);
	for (size_t i = 0; i < n; i++) {
		const struct column *c = &expected_common[i];

		ck_assert_str_eq(PQgetvalue(res, (int)i, 0), c->table);
		ck_assert_str_eq(PQgetvalue(res, (int)i, 1), c->name);
		ck_assert_str_eq(PQgetvalue(res, (int)i, 2), c->type ? c->type : data_type);
	}
	PQclear(res);
	/* Primary keys and the unique (stream_id, stream_version) index. */
	{
		char *v = tl_query_value(conn,
			"SELECT string_agg(indexdef, E'\\n' ORDER BY indexname) FROM pg_indexes"
			" WHERE schemaname = 'public' AND tablename IN ('stream_events', 'streams', 'snapshots')");

		ck_assert_ptr_nonnull(strstr(v, "UNIQUE INDEX ix_stream_events ON public.stream_events USING btree (stream_id, stream_version)"));
		ck_assert_ptr_nonnull(strstr(v, "UNIQUE INDEX stream_events_pkey ON public.stream_events USING btree (event_id, stream_id)"));
		ck_assert_ptr_nonnull(strstr(v, "UNIQUE INDEX snapshots_pkey ON public.snapshots USING btree (source_uuid)"));
		ck_assert_ptr_nonnull(strstr(v, "UNIQUE INDEX ix_streams_stream_uuid ON public.streams USING btree (stream_uuid)"));
		free(v);
	}
	PQfinish(conn);
	free(ci);
}

START_TEST(test_bytea_store_has_the_documented_columns)
{
	check_layout(SM_FIXTURE_BYTEA, "bytea");
}
END_TEST

START_TEST(test_jsonb_store_has_the_documented_columns)
{
	check_layout(SM_FIXTURE_JSONB, "jsonb");
}
END_TEST

static void check_append(enum sm_fixture_mode mode)
{
	char *ci = tl_new_database();
	PGconn *conn = tl_connect(ci);
	char err[1024];
	const char *types[] = { "Elixir.A.Created", "Elixir.A.Renamed" };
	const char *datas[] = { "{\"id\":\"a-1\"}", "{\"name\":\"Zoë\",\"n\":9007199254740993}" };
	const char *metas[] = { NULL, "{\"user\":\"x\"}" };

	ck_assert_msg(sm_fixture_create_store(conn, "public", mode, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(sm_fixture_append(conn, "public", mode, "a-1", 2, types, datas, metas, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(sm_fixture_append(conn, "public", mode, "b-1", 1, types, datas, metas, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(sm_fixture_append_generated(conn, "public", mode, "a-1", 3,
		"'Elixir.A.Renamed'", "json_build_object('n', i)::text", err, sizeof err) == 0, "%s", err);

	tl_assert_value(conn, "$all:6,a-1:5,b-1:1",
			"SELECT string_agg(stream_uuid || ':' || stream_version, ',' ORDER BY stream_id) FROM streams");
	/* Each event once in its stream and once in $all, versions gap-free. */
	tl_assert_value(conn, "$all/1<-a-1/1,$all/2<-a-1/2,$all/3<-b-1/1,$all/4<-a-1/3,$all/5<-a-1/4,$all/6<-a-1/5,"
			"a-1/1<-a-1/1,a-1/2<-a-1/2,a-1/3<-a-1/3,a-1/4<-a-1/4,a-1/5<-a-1/5,b-1/1<-b-1/1",
			"SELECT string_agg(s.stream_uuid || '/' || se.stream_version || '<-' || o.stream_uuid || '/' || se.original_stream_version, ','"
			" ORDER BY se.stream_id, se.stream_version)"
			" FROM stream_events se JOIN streams s ON s.stream_id = se.stream_id"
			" JOIN streams o ON o.stream_id = se.original_stream_id");
	tl_assert_value(conn, mode == SM_FIXTURE_BYTEA ? datas[1]
			: mode == SM_FIXTURE_JSONB ? "object 9007199254740993"
			: "string {\"name\":\"Zoë\",\"n\":9007199254740993}",
			mode == SM_FIXTURE_BYTEA
			? "SELECT convert_from(data, 'UTF8') FROM events e JOIN stream_events se USING (event_id) JOIN streams s USING (stream_id) WHERE s.stream_uuid = 'a-1' AND se.stream_version = 2"
			: mode == SM_FIXTURE_JSONB
			? "SELECT jsonb_typeof(data) || ' ' || (data->>'n') FROM events e JOIN stream_events se USING (event_id) JOIN streams s USING (stream_id) WHERE s.stream_uuid = 'a-1' AND se.stream_version = 2"
			: "SELECT jsonb_typeof(data) || ' ' || (data #>> '{}') FROM events e JOIN stream_events se USING (event_id) JOIN streams s USING (stream_id) WHERE s.stream_uuid = 'a-1' AND se.stream_version = 2");
	/* EventStore's triggers refuse changing events. */
	{
		PGresult *res = PQexec(conn, "DELETE FROM events");

		ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
		PQclear(res);
	}
	PQfinish(conn);
	free(ci);
}

START_TEST(test_append_links_events_into_stream_and_all_bytea)
{
	check_append(SM_FIXTURE_BYTEA);
}
END_TEST

START_TEST(test_append_links_events_into_stream_and_all_jsonb)
{
	check_append(SM_FIXTURE_JSONB);
}
END_TEST

START_TEST(test_append_links_events_into_stream_and_all_double_encoded)
{
	check_append(SM_FIXTURE_JSONB_TEXT);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("fixtures");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bytea_store_has_the_documented_columns);
	tcase_add_test(tc, test_jsonb_store_has_the_documented_columns);
	tcase_add_test(tc, test_append_links_events_into_stream_and_all_bytea);
	tcase_add_test(tc, test_append_links_events_into_stream_and_all_jsonb);
	tcase_add_test(tc, test_append_links_events_into_stream_and_all_double_encoded);
	return tl_run_case("layout", tc);
}
