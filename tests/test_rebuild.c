/*
 * The rebuild against a real PostgreSQL, in every column encoding: full
 * replay and catch-up give the state computed independently here; a resumed
 * run equals an uninterrupted one; appends during a run do not leak; every
 * failure kind is recorded while the other instances succeed; metadata keys
 * survive; 64-bit integers and unicode survive; memory stays bounded.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"

/*
 * Under AddressSanitizer the peak RSS says nothing about the program: freed
 * blocks wait in ASan's quarantine (256 MB by default) before their memory
 * is reused.  There the memory test bounds the peak of live heap bytes
 * instead, counted by ASan's allocation hooks (the sanitizer runtime exports
 * them; GCC ships no header for them, hence the declarations).
 */
#ifdef SM_TEST_ASAN
#include <stdatomic.h>

int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					      void (*free_hook)(const volatile void *));
size_t __sanitizer_get_allocated_size(const volatile void *p);
size_t __sanitizer_get_current_allocated_bytes(void);

static atomic_llong heap_live, heap_peak;

static void heap_malloc_hook(const volatile void *p, size_t size)
{
	long long now = atomic_fetch_add(&heap_live, (long long)size) + (long long)size;
	long long peak = atomic_load(&heap_peak);

	(void)p;
	while (now > peak && !atomic_compare_exchange_weak(&heap_peak, &peak, now))
		;
}

static void heap_free_hook(const volatile void *p)
{
	/* Called before the block is released, so its size is still known. */
	if (p)
		atomic_fetch_sub(&heap_live, (long long)__sanitizer_get_allocated_size(p));
}

/* Starts counting from the bytes live now (blocks allocated earlier and
 * freed later make the count a little low, by at most that start). */
static void heap_peak_start(void)
{
	atomic_store(&heap_live, (long long)__sanitizer_get_current_allocated_bytes());
	atomic_store(&heap_peak, atomic_load(&heap_live));
	__sanitizer_install_malloc_and_free_hooks(heap_malloc_hook, heap_free_hook);
}
#endif

static const char config_fmt[] =
	"defaults = { jobs = 2; batch_size = 7; };\n"
	"environments = (\n"
	"  { name = \"t\"; conninfo = \"%1$s\"; },\n"
	"  { name = \"t2\"; conninfo = \"%1$s\"; target_schema = \"m2\"; jobs = 1; }\n"
	");\n"
	"aggregates = (\n"
	"  { type = \"Elixir.Counter\"; snapshot_version = 2;\n"
	"    initial = \"{id: null, count: 0, tags: [], big: null, name: null}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Counter.Created\"; do = \"id = event.id\"; },\n"
	"      { on = \"Elixir.Counter.Added\"; do = \"count += event.n\"; },\n"
	"      { on = \"Elixir.Counter.Tagged\"; when = \"not (event.tag in state.tags)\"; do = \"append tags event.tag\"; },\n"
	"      { on = \"Elixir.Counter.Tagged\"; },\n"
	"      { on = \"Elixir.Counter.Named\"; do = \"name = event.name; big = event.big\"; },\n"
	"      { on = \"Elixir.Counter.Strict\"; when = \"event.ok == true\"; },\n"
	"      { on = \"Elixir.Counter.Broken\"; do = \"append count 1\"; }\n"
	"    ); },\n"
	"  { type = \"Elixir.Other\"; snapshot_version = 1; initial = \"{n: 0}\";\n"
	"    events = ( { on = \"Elixir.Other.Inc\"; do = \"n += 1\"; } ); }\n"
	");\n";

typedef tl_store fixture;

static void setup(fixture *f, enum sm_fixture_mode mode)
{
	tl_store_open(f, "public", mode, config_fmt, "t");
}

static void append(fixture *f, const char *uuid, const char *type, const char *data)
{
	tl_store_append(f, uuid, type, data, "{\"correlation\":\"x\"}");
}

static int rebuild_env(fixture *f, const char *env, const char *const *uuids, size_t n_uuids,
		       bool only_failed, sm_progress *prog)
{
	sm_engine *eng = f->eng;
	sm_rebuild_options opts;
	sm_run *run;
	sm_error e;
	int rc;

	memset(&opts, 0, sizeof opts);
	opts.uuids = uuids;
	opts.n_uuids = n_uuids;
	opts.only_failed = only_failed;
	sm_error_clear(&e);
	if (strcmp(env, "t") != 0)
		ck_assert_msg(sm_engine_open(f->cfg, env, NULL, &eng, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_rebuild_start(eng, &opts, &run, &e) == SM_OK, "%s", e.message);
	rc = sm_run_wait(run, &e);
	ck_assert_msg(rc == SM_OK, "rebuild: %s", e.message);
	if (prog)
		sm_run_progress(run, prog);
	sm_run_free(run);
	if (eng != f->eng)
		sm_engine_close(eng);
	return rc;
}

static int rebuild(fixture *f, sm_progress *prog)
{
	return rebuild_env(f, "t", NULL, 0, false, prog);
}

/* The generated row's data, metadata (as JSON) and source_version. */
static json_object *generated(fixture *f, const char *schema, const char *uuid,
			      json_object **meta, long long *version)
{
	char sql[1024];
	const char *expr = f->mode == SM_FIXTURE_BYTEA ? "convert_from(%s, 'UTF8')"
			 : f->mode == SM_FIXTURE_JSONB ? "%s::text" : "%s #>> '{}'";
	char d[128], m[128];
	const char *params[] = { uuid };
	PGresult *res;
	json_object *data;

	snprintf(d, sizeof d, expr, "data");
	snprintf(m, sizeof m, expr, "metadata");
	snprintf(sql, sizeof sql, "SELECT %s, %s, source_version, %s FROM \"%s\".snapshots WHERE source_uuid = $1",
		 d, m, f->mode == SM_FIXTURE_BYTEA ? "'bytea'" : "jsonb_typeof(data)", schema);
	res = PQexecParams(f->conn, sql, 1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
	if (PQntuples(res) == 0) {
		PQclear(res);
		return NULL;
	}
	/* The writer keeps the store's form: a jsonb store with double
	 * encoding gets strings, a plain one objects. */
	if (f->mode == SM_FIXTURE_JSONB)
		ck_assert_str_eq(PQgetvalue(res, 0, 3), "object");
	if (f->mode == SM_FIXTURE_JSONB_TEXT)
		ck_assert_str_eq(PQgetvalue(res, 0, 3), "string");
	data = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (meta)
		*meta = json_tokener_parse(PQgetvalue(res, 0, 1));
	if (version)
		*version = atoll(PQgetvalue(res, 0, 2));
	PQclear(res);
	return data;
}

static void assert_json(json_object *got, const char *expected)
{
	json_object *want = json_tokener_parse(expected);

	ck_assert_msg(want != NULL, "bad expected JSON %s", expected);
	ck_assert_msg(got != NULL, "no row, expected %s", expected);
	ck_assert_msg(json_object_equal(got, want), "got %s, expected %s",
		      json_object_to_json_string(got), expected);
	json_object_put(want);
}

static enum sm_fixture_mode mode_of(int i)
{
	return (enum sm_fixture_mode)i;
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_full_replay_of_stale_snapshot_gives_the_folded_state)
{
	fixture f;
	json_object *got, *meta;
	long long version;

	setup(&f, mode_of(_i));
	append(&f, "c-1", "Elixir.Counter.Created", "{\"id\":\"c-1\"}");
	for (int i = 1; i <= 20; i++) {
		char data[64];

		snprintf(data, sizeof data, "{\"n\":%d}", i);
		append(&f, "c-1", "Elixir.Counter.Added", data);
	}
	append(&f, "c-1", "Elixir.Counter.Tagged", "{\"tag\":\"a\"}");
	append(&f, "c-1", "Elixir.Counter.Tagged", "{\"tag\":\"a\"}");
	append(&f, "c-1", "Elixir.Counter.Tagged", "{\"tag\":\"b\"}");
	/* Stale (version 1 by missing key): its data must be ignored. */
	tl_store_snapshot(&f, "c-1", 10, "Elixir.Counter", "{\"id\":\"c-1\",\"count\":999,\"tags\":[\"zzz\"]}",
		 "{\"other\":\"kept\"}");
	rebuild(&f, NULL);
	got = generated(&f, "migration", "c-1", &meta, &version);
	assert_json(got, "{\"id\":\"c-1\",\"count\":210,\"tags\":[\"a\",\"b\"],\"big\":null,\"name\":null}");
	assert_json(meta, "{\"other\":\"kept\",\"snapshot_module_version\":2}");
	ck_assert_int_eq(version, 24);
	json_object_put(got);
	json_object_put(meta);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_catch_up_starts_from_valid_snapshot)
{
	fixture f;
	json_object *got, *meta;
	long long version;

	setup(&f, mode_of(_i));
	append(&f, "c-2", "Elixir.Counter.Created", "{\"id\":\"c-2\"}");
	append(&f, "c-2", "Elixir.Counter.Added", "{\"n\":1}");
	append(&f, "c-2", "Elixir.Counter.Added", "{\"n\":2}");
	append(&f, "c-2", "Elixir.Counter.Added", "{\"n\":4}");
	/* Valid at version 2 with a count the events would not give: proves
	 * the replay started from it; unknown key "gone" is dropped as
	 * Commanded's struct decoding drops it. */
	tl_store_snapshot(&f, "c-2", 2, "Elixir.Counter",
		 "{\"id\":\"c-2\",\"count\":100,\"tags\":[],\"gone\":1}",
		 "{\"snapshot_module_version\":2,\"x\":[1,2]}");
	rebuild(&f, NULL);
	got = generated(&f, "migration", "c-2", &meta, &version);
	assert_json(got, "{\"id\":\"c-2\",\"count\":106,\"tags\":[],\"big\":null,\"name\":null}");
	assert_json(meta, "{\"snapshot_module_version\":2,\"x\":[1,2]}");
	ck_assert_int_eq(version, 4);
	json_object_put(got);
	json_object_put(meta);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_big_integers_decimals_and_unicode_survive)
{
	fixture f;
	json_object *got;
	PGresult *res;
	const char *text;

	setup(&f, mode_of(_i));
	append(&f, "c-3", "Elixir.Counter.Named",
	       "{\"name\":\"Zoë — 日本 \\ud83d\\ude00 \\\"q\\\" \\\\ \\n\",\"big\":9223372036854775807}");
	append(&f, "c-3", "Elixir.Counter.Added", "{\"n\":-9223372036854775807}");
	tl_store_snapshot(&f, "c-3", 1, "Elixir.Counter", "{}", NULL);
	rebuild(&f, NULL);
	got = generated(&f, "migration", "c-3", NULL, NULL);
	assert_json(got, "{\"id\":null,\"count\":-9223372036854775807,\"tags\":[],"
			 "\"big\":9223372036854775807,\"name\":\"Zoë — 日本 😀 \\\"q\\\" \\\\ \\n\"}");
	json_object_put(got);
	/* And the exact text of a decimal read from a snapshot (jsonb itself
	 * turns 1e400 into a 401-digit integer, which is beyond 64 bits). */
	tl_store_snapshot(&f, "c-4", 0, "Elixir.Counter", f.mode == SM_FIXTURE_JSONB
		 ? "{\"id\":\"x\",\"count\":0.10,\"tags\":[],\"big\":2.50,\"name\":null}"
		 : "{\"id\":\"x\",\"count\":0.10,\"tags\":[],\"big\":1e400,\"name\":null}",
		 "{\"snapshot_module_version\":2}");
	append(&f, "c-4", "Elixir.Counter.Tagged", "{\"tag\":\"t\"}");
	rebuild(&f, NULL);
	res = PQexec(f.conn, f.mode == SM_FIXTURE_BYTEA
		     ? "SELECT convert_from(data, 'UTF8') FROM migration.snapshots WHERE source_uuid = 'c-4'"
		     : f.mode == SM_FIXTURE_JSONB
		     ? "SELECT data::text FROM migration.snapshots WHERE source_uuid = 'c-4'"
		     : "SELECT data #>> '{}' FROM migration.snapshots WHERE source_uuid = 'c-4'");
	ck_assert_int_eq(PQntuples(res), 1);
	text = PQgetvalue(res, 0, 0);
	ck_assert_msg(strstr(text, "0.10") != NULL, "decimal text changed: %s", text);
	if (f.mode != SM_FIXTURE_JSONB)
		ck_assert_msg(strstr(text, "1e400") != NULL, "decimal text changed: %s", text);
	PQclear(res);
	tl_store_free(&f);
}
END_TEST

/* The failure kinds come from one list (SM_FAILURE_KINDS). */
START_TEST(test_every_failure_kind_has_a_name_a_label_and_help_from_the_list)
{
	for (int k = 0; k < SM_FAIL__COUNT; k++) {
		enum sm_failure_kind kind = (enum sm_failure_kind)k;

		ck_assert_int_eq(sm_failure_kind_parse(sm_failure_kind_name(kind)), k);
		ck_assert_str_ne(sm_failure_kind_label(kind), "unknown");
		ck_assert_str_ne(sm_failure_kind_help(kind), "unknown");
	}
	ck_assert_str_eq(sm_failure_kind_name(SM_FAIL_REDUCER), "reducer_error");
	ck_assert_str_eq(sm_failure_kind_label(SM_FAIL_REDUCER), "reducer error");
	ck_assert_str_eq(sm_failure_kind_name(SM_FAIL__COUNT), "unknown");
	ck_assert_int_eq(sm_failure_kind_parse("nope"), -1);
}
END_TEST

START_TEST(test_every_failure_kind_is_recorded_and_others_succeed)
{
	fixture f;
	sm_progress prog;
	sm_failure_list *fl;
	sm_error e;
	json_object *got;

	setup(&f, mode_of(_i));
	/* ok */
	append(&f, "ok-1", "Elixir.Counter.Created", "{\"id\":\"ok-1\"}");
	tl_store_snapshot(&f, "ok-1", 1, "Elixir.Counter", "{}", NULL);
	/* unknown event at version 2 */
	append(&f, "f-unknown", "Elixir.Counter.Created", "{\"id\":\"u\"}");
	append(&f, "f-unknown", "Elixir.Counter.Mystery", "{}");
	tl_store_snapshot(&f, "f-unknown", 1, "Elixir.Counter", "{}", NULL);
	/* no handler matched */
	append(&f, "f-nomatch", "Elixir.Counter.Strict", "{\"ok\":false}");
	tl_store_snapshot(&f, "f-nomatch", 1, "Elixir.Counter", "{}", NULL);
	/* reducer error: append on a number */
	append(&f, "f-reducer", "Elixir.Counter.Broken", "{}");
	tl_store_snapshot(&f, "f-reducer", 1, "Elixir.Counter", "{}", NULL);
	/* event data that is not an object */
	append(&f, "f-bad", "Elixir.Counter.Created", "[1,2]");
	tl_store_snapshot(&f, "f-bad", 1, "Elixir.Counter", "{}", NULL);
	/* missing stream */
	tl_store_snapshot(&f, "f-missing", 3, "Elixir.Counter", "{}", NULL);
	/* a 65-bit integer */
	append(&f, "f-big", "Elixir.Counter.Added", "{\"n\":36893488147419103232}");
	tl_store_snapshot(&f, "f-big", 1, "Elixir.Counter", "{}", NULL);
	if (f.mode == SM_FIXTURE_BYTEA) {
		/* Bytes that are not JSON (a jsonb store cannot hold these). */
		append(&f, "f-notjson", "Elixir.Counter.Created", "{\"id\": nope");
		tl_store_snapshot(&f, "f-notjson", 1, "Elixir.Counter", "{}", NULL);
		/* Broken snapshot metadata. */
		append(&f, "f-meta", "Elixir.Counter.Created", "{\"id\":\"m\"}");
		tl_store_snapshot(&f, "f-meta", 1, "Elixir.Counter", "{}", "{broken");
	}
	rebuild(&f, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_UNKNOWN_EVENT], 1);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_NO_MATCH], 1);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_REDUCER], 1);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_MISSING_STREAM], 1);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_BAD_EVENT], f.mode == SM_FIXTURE_BYTEA ? 3 : 2);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_BAD_SNAPSHOT], f.mode == SM_FIXTURE_BYTEA ? 1 : 0);
	sm_progress_clear(&prog);

	got = generated(&f, "migration", "ok-1", NULL, NULL);
	assert_json(got, "{\"id\":\"ok-1\",\"count\":0,\"tags\":[],\"big\":null,\"name\":null}");
	json_object_put(got);
	ck_assert_ptr_null(generated(&f, "migration", "f-unknown", NULL, NULL));

	sm_error_clear(&e);
	ck_assert_int_eq(sm_failures_read(f.eng, NULL, -1, NULL, &fl, &e), SM_OK);
	for (size_t i = 0; i < fl->n; i++) {
		sm_failure *x = &fl->items[i];

		ck_assert_str_eq(x->source_type, "Elixir.Counter");
		ck_assert_int_gt(x->run_id, 0);
		if (strcmp(x->source_uuid, "f-unknown") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_UNKNOWN_EVENT);
			ck_assert_int_eq(x->stream_version, 2);
			ck_assert_str_eq(x->event_type, "Elixir.Counter.Mystery");
		} else if (strcmp(x->source_uuid, "f-nomatch") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_NO_MATCH);
			ck_assert_int_eq(x->stream_version, 1);
			ck_assert_str_eq(x->event_type, "Elixir.Counter.Strict");
		} else if (strcmp(x->source_uuid, "f-reducer") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_REDUCER);
			ck_assert_str_eq(x->event_type, "Elixir.Counter.Broken");
		} else if (strcmp(x->source_uuid, "f-bad") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_BAD_EVENT);
			ck_assert_int_eq(x->stream_version, 1);
		} else if (strcmp(x->source_uuid, "f-big") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_BAD_EVENT);
			ck_assert_msg(strstr(x->message, "64") != NULL, "message: %s", x->message);
		} else if (strcmp(x->source_uuid, "f-missing") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_MISSING_STREAM);
		} else if (strcmp(x->source_uuid, "f-notjson") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_BAD_EVENT);
		} else if (strcmp(x->source_uuid, "f-meta") == 0) {
			ck_assert_int_eq(x->kind, SM_FAIL_BAD_SNAPSHOT);
		} else {
			ck_abort_msg("unexpected failure %s", x->source_uuid);
		}
		ck_assert_msg(x->message[0] != '\0', "empty message");
	}
	ck_assert_int_eq(fl->n, f.mode == SM_FIXTURE_BYTEA ? 8 : 6);
	sm_failure_list_free(fl);
	tl_store_free(&f);
}
END_TEST

static void make_many(fixture *f, int streams, int events_each)
{
	char err[1024];

	for (int s = 0; s < streams; s++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "s-%04d", s);
		ck_assert_msg(sm_fixture_append_generated(f->conn, "public", f->mode, uuid,
			events_each + s, "CASE WHEN i = 1 THEN 'Elixir.Counter.Created' ELSE 'Elixir.Counter.Added' END",
			"CASE WHEN i = 1 THEN '{\"id\":\"x\"}' ELSE json_build_object('n', i)::text END",
			err, sizeof err) == 0, "%s", err);
		tl_store_snapshot(f, uuid, 1, "Elixir.Counter", "{}", NULL);
	}
}

START_TEST(test_resumed_run_after_cancel_equals_uninterrupted_run)
{
	fixture f;
	sm_rebuild_options opts;
	sm_run *run;
	sm_progress prog;
	sm_error e;
	char *count;

	setup(&f, mode_of(_i));
	make_many(&f, 60, 300);
	/* Uninterrupted, into m2. */
	rebuild_env(&f, "t2", NULL, 0, false, NULL);
	/* Interrupted, then resumed, into migration. */
	memset(&opts, 0, sizeof opts);
	opts.jobs = 1;
	sm_error_clear(&e);
	ck_assert(sm_rebuild_start(f.eng, &opts, &run, &e) == SM_OK);
	for (;;) {
		sm_run_progress(run, &prog);
		if (prog.total.instances_done > 0 || prog.state >= SM_RUN_DONE) {
			sm_progress_clear(&prog);
			break;
		}
		sm_progress_clear(&prog);
		usleep(1000);
	}
	sm_run_cancel(run);
	sm_run_wait(run, &e);
	sm_run_progress(run, &prog);
	ck_assert_msg(prog.state == SM_RUN_CANCELLED || prog.state == SM_RUN_DONE, "state %d", prog.state);
	sm_progress_clear(&prog);
	sm_run_free(run);
	count = tl_query_value(f.conn, "SELECT count(*) FROM migration.snapshots");
	ck_assert_msg(atoi(count) > 0 && atoi(count) <= 60, "committed %s", count);
	free(count);
	rebuild(&f, &prog);
	/* The resumed run only folds what the interrupted one did not commit. */
	ck_assert_int_lt(prog.total.instances_planned, 60);
	sm_progress_clear(&prog);
	tl_assert_value(f.conn, "0",
			"SELECT count(*) FROM migration.snapshots a FULL JOIN m2.snapshots b USING (source_uuid)"
			" WHERE a.data IS DISTINCT FROM b.data OR a.metadata IS DISTINCT FROM b.metadata"
			" OR a.source_version IS DISTINCT FROM b.source_version OR a.source_type IS DISTINCT FROM b.source_type");
	tl_assert_value(f.conn, "60", "SELECT count(*) FROM m2.snapshots");
	/* A third run has nothing left to do. */
	rebuild(&f, &prog);
	ck_assert_int_eq(prog.total.instances_planned, 0);
	sm_progress_clear(&prog);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_appends_during_rebuild_do_not_leak_beyond_planned_version)
{
	fixture f;
	sm_rebuild_options opts;
	sm_run *run;
	sm_progress prog;
	sm_error e;
	char err[1024];
	json_object *got, *count;
	long long version;

	setup(&f, mode_of(_i));
	ck_assert(sm_fixture_append_generated(f.conn, "public", f.mode, "big", 200000,
		"'Elixir.Counter.Added'", "'{\"n\":1}'", err, sizeof err) == 0);
	tl_store_snapshot(&f, "big", 1, "Elixir.Counter", "{}", NULL);
	memset(&opts, 0, sizeof opts);
	sm_error_clear(&e);
	ck_assert(sm_rebuild_start(f.eng, &opts, &run, &e) == SM_OK);
	tl_run_wait_planned(run);
	/* The plan is fixed: these arrive while the stream is being read. */
	ck_assert(sm_fixture_append_generated(f.conn, "public", f.mode, "big", 1000,
		"'Elixir.Counter.Added'", "'{\"n\":1000}'", err, sizeof err) == 0);
	ck_assert_int_eq(sm_run_wait(run, &e), SM_OK);
	sm_run_free(run);
	got = generated(&f, "migration", "big", NULL, &version);
	ck_assert(json_object_object_get_ex(got, "count", &count));
	ck_assert_int_eq(version, 200000);
	ck_assert_int_eq(json_object_get_int64(count), 200000);
	json_object_put(got);
	/* A catch-up run then folds exactly the appended events. */
	rebuild(&f, &prog);
	ck_assert_int_eq(prog.total.events_done, 1000);
	sm_progress_clear(&prog);
	got = generated(&f, "migration", "big", NULL, &version);
	ck_assert(json_object_object_get_ex(got, "count", &count));
	ck_assert_int_eq(version, 201000);
	ck_assert_int_eq(json_object_get_int64(count), 200000 + 1000 * 1000);
	json_object_put(got);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_only_failed_and_uuid_filters_rerun_just_those)
{
	fixture f;
	sm_progress prog;
	const char *one[] = { "s-0003" };

	setup(&f, mode_of(_i));
	make_many(&f, 5, 10);
	append(&f, "s-0001", "Elixir.Counter.Mystery", "{}");
	rebuild(&f, &prog);
	ck_assert_int_eq(prog.total.failed, 1);
	sm_progress_clear(&prog);
	rebuild_env(&f, "t", NULL, 0, true, &prog);
	ck_assert_int_eq(prog.total.instances_planned, 1);
	sm_progress_clear(&prog);
	tl_exec(f.conn, "DELETE FROM migration.snapshots WHERE source_uuid IN ('s-0003', 's-0004')");
	rebuild_env(&f, "t", one, 1, false, &prog);
	ck_assert_int_eq(prog.total.instances_planned, 1);
	ck_assert_int_eq(prog.total.instances_done, 1);
	sm_progress_clear(&prog);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_inventory_and_preflight_count_what_a_rebuild_would_do)
{
	fixture f;
	sm_inventory *inv;
	sm_preflight *pf;
	sm_error e;

	setup(&f, mode_of(_i));
	make_many(&f, 3, 10);   /* 10, 11, 12 events; snapshots at v1 (stale) */
	append(&f, "v-1", "Elixir.Counter.Created", "{\"id\":\"v\"}");
	append(&f, "v-1", "Elixir.Counter.Mystery", "{}");
	tl_store_snapshot(&f, "v-1", 1, "Elixir.Counter", "{}", "{\"snapshot_module_version\":2}");
	append(&f, "o-1", "Elixir.Other.Inc", "{}");
	tl_store_snapshot(&f, "o-1", 1, "Elixir.Unconfigured", "{}", NULL);
	sm_error_clear(&e);
	ck_assert_msg(sm_inventory_read(f.eng, NULL, &inv, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(inv->n_types, 3);
	ck_assert_str_eq(inv->types[0].type, "Elixir.Counter");
	ck_assert_int_eq(inv->types[0].snapshots, 4);
	ck_assert_int_eq(inv->types[0].stale, 3);
	ck_assert_int_eq(inv->types[0].behind, 1);
	ck_assert_int_eq(inv->types[0].events_to_fold, 10 + 11 + 12 + 1);
	ck_assert_int_eq(inv->types[0].n_versions, 2);
	ck_assert_int_eq(inv->types[0].versions[0].version, 2);
	ck_assert_int_eq(inv->types[0].versions[0].count, 1);
	ck_assert_int_eq(inv->types[0].versions[1].version, 1);
	ck_assert_int_eq(inv->types[0].versions[1].count, 3);
	ck_assert_str_eq(inv->types[1].type, "Elixir.Other");
	ck_assert_int_eq(inv->types[1].snapshots, 0);
	ck_assert_str_eq(inv->types[2].type, "Elixir.Unconfigured");
	ck_assert(!inv->types[2].configured);
	sm_inventory_free(inv);

	ck_assert_msg(sm_preflight_run(f.eng, NULL, 0, NULL, &pf, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(pf->n_unknown, 1);
	ck_assert_str_eq(pf->unknown[0].event_type, "Elixir.Counter.Mystery");
	ck_assert_int_eq(pf->unknown[0].events, 1);
	ck_assert_int_eq(pf->unknown[0].n_examples, 1);
	ck_assert_str_eq(pf->unknown[0].examples[0], "v-1");
	sm_preflight_free(pf);

	rebuild(&f, NULL);
	ck_assert(sm_inventory_read(f.eng, NULL, &inv, &e) == SM_OK);
	ck_assert_int_eq(inv->types[0].target_rows, 3);
	ck_assert_int_eq(inv->types[0].target_current, 3);
	ck_assert_int_eq(inv->types[0].failures, 1);
	/* v-1 failed: it still starts from its valid snapshot at 1 of 2. */
	ck_assert_int_eq(inv->types[0].events_to_fold, 1);
	sm_inventory_free(inv);
	tl_store_free(&f);
}
END_TEST

START_TEST(test_million_event_stream_rebuilds_in_bounded_memory)
{
	fixture f;
	char err[1024];
	json_object *got, *count;
	struct rusage ru;
	long before_kb;

	setup(&f, SM_FIXTURE_BYTEA);
	ck_assert(sm_fixture_append_generated(f.conn, "public", f.mode, "huge", 1000000,
		"'Elixir.Counter.Added'",
		"json_build_object('n', 1, 'padding', repeat('x', 100))::text", err, sizeof err) == 0);
	tl_store_snapshot(&f, "huge", 1, "Elixir.Counter", "{}", NULL);
	getrusage(RUSAGE_SELF, &ru);
	before_kb = ru.ru_maxrss;
#ifdef SM_TEST_ASAN
	heap_peak_start();
#endif
	rebuild(&f, NULL);
	getrusage(RUSAGE_SELF, &ru);
#ifdef SM_TEST_ASAN
	ru.ru_maxrss = (long)(atomic_load(&heap_peak) / 1024);
	fprintf(stderr, "(AddressSanitizer: peak live heap instead of peak RSS)\n");
#endif
	got = generated(&f, "migration", "huge", NULL, NULL);
	ck_assert(json_object_object_get_ex(got, "count", &count));
	ck_assert_int_eq(json_object_get_int64(count), 1000000);
	json_object_put(got);
	/* The events are about 130 MB of JSON; the process must not hold them. */
	fprintf(stderr, "million-event stream: peak RSS %ld kB (before %ld kB)\n", ru.ru_maxrss, before_kb);
	ck_assert_msg(ru.ru_maxrss < 60 * 1024, "peak RSS %ld kB", ru.ru_maxrss);
	tl_store_free(&f);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("rebuild");
	TCase *big = tcase_create("memory");

	tcase_set_timeout(tc, 300);
	tcase_set_timeout(big, 600);
	/* _i: 0 bytea, 1 jsonb, 2 double-encoded jsonb */
	tcase_add_loop_test(tc, test_full_replay_of_stale_snapshot_gives_the_folded_state, 0, 3);
	tcase_add_loop_test(tc, test_catch_up_starts_from_valid_snapshot, 0, 3);
	tcase_add_loop_test(tc, test_big_integers_decimals_and_unicode_survive, 0, 3);
	tcase_add_test(tc, test_every_failure_kind_has_a_name_a_label_and_help_from_the_list);
	tcase_add_loop_test(tc, test_every_failure_kind_is_recorded_and_others_succeed, 0, 3);
	tcase_add_loop_test(tc, test_resumed_run_after_cancel_equals_uninterrupted_run, 0, 3);
	tcase_add_loop_test(tc, test_appends_during_rebuild_do_not_leak_beyond_planned_version, 0, 2);
	tcase_add_loop_test(tc, test_only_failed_and_uuid_filters_rerun_just_those, 0, 2);
	tcase_add_loop_test(tc, test_inventory_and_preflight_count_what_a_rebuild_would_do, 0, 3);
	tcase_add_test(big, test_million_event_stream_rebuilds_in_bounded_memory);
	return tl_run_cases("rebuild", tc, big, (TCase *)NULL);
}
