/*
 * Reliability and hostile input, against the real test server: the server
 * going away mid-rebuild, backends terminated (transient disconnects),
 * SIGKILL of the rebuilding process, hostile event data, quoted names, and
 * credentials that must never appear in errors or the journal.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"

typedef struct fixture {
	char *conninfo;
	PGconn *conn;
	sm_config *cfg;
	sm_engine *eng;
	const char *source;
} fixture;

/* A libconfig string literal's content for s (static buffer per call site). */
static const char *cfg_quote(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; *s && n + 2 < size; s++) {
		if (*s == '"' || *s == '\\')
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
	return buf;
}

static void setup_schemas(fixture *f, const char *source, const char *target, const char *extra_env)
{
	char err[1024], *text, qs[256], qt[256];

	memset(f, 0, sizeof *f);
	f->source = source;
	f->conninfo = tl_new_database();
	f->conn = tl_connect(f->conninfo);
	ck_assert_msg(sm_fixture_create_store(f->conn, source, SM_FIXTURE_BYTEA, err, sizeof err) == 0, "%s", err);
	ck_assert(asprintf(&text,
		"defaults = { jobs = 2; batch_size = 5; source_schema = \"%s\"; target_schema = \"%s\"; };\n"
		"environments = ( { name = \"t\"; conninfo = \"%s\"; }, { name = \"u\"; conninfo = \"%s\"; target_schema = \"uninterrupted\"; }%s );\n"
		"aggregates = ( { type = \"Elixir.Counter\"; snapshot_version = 2; initial = \"{count: 0, last: null}\";\n"
		"  events = ( { on = \"Elixir.Counter.Added\"; do = \"count += event.n; last = event\"; } ); } );\n",
		cfg_quote(source, qs, sizeof qs), cfg_quote(target, qt, sizeof qt),
		f->conninfo, f->conninfo, extra_env ? extra_env : "") > 0);
	tl_config_open(text, "t", &f->cfg, &f->eng);
	free(text);
}

static void setup(fixture *f)
{
	setup_schemas(f, "public", "migration", NULL);
}

static void teardown(fixture *f)
{
	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	PQfinish(f->conn);
	free(f->conninfo);
}

static void many_streams(fixture *f, int streams, int events)
{
	char err[1024];

	for (int s = 0; s < streams; s++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "s-%04d", s);
		ck_assert_msg(sm_fixture_append_generated(f->conn, f->source, SM_FIXTURE_BYTEA, uuid,
			events + s * 7, "'Elixir.Counter.Added'",
			"json_build_object('n', i, 'text', 'Zoë ' || i)::text", err, sizeof err) == 0, "%s", err);
		ck_assert(sm_fixture_snapshot(f->conn, f->source, SM_FIXTURE_BYTEA, uuid, 1, "Elixir.Counter",
					      "{}", NULL, err, sizeof err) == 0);
	}
}

static int rebuild_env(fixture *f, const char *env, sm_error *e)
{
	sm_engine *eng = f->eng;
	sm_run *run;
	int rc;

	sm_error_clear(e);
	if (strcmp(env, "t") != 0)
		ck_assert_msg(sm_engine_open(f->cfg, env, NULL, &eng, e) == SM_OK, "%s", e->message);
	ck_assert_msg(sm_rebuild_start(eng, NULL, &run, e) == SM_OK, "%s", e->message);
	rc = sm_run_wait(run, e);
	sm_run_free(run);
	if (eng != f->eng)
		sm_engine_close(eng);
	return rc;
}

static void assert_same_as_uninterrupted(fixture *f, const char *target)
{
	char sql[1024];
	sm_error e;

	ck_assert_msg(rebuild_env(f, "u", &e) == SM_OK, "%s", e.message);
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM %s.snapshots a FULL JOIN uninterrupted.snapshots b USING (source_uuid)"
		 " WHERE a.data IS DISTINCT FROM b.data OR a.metadata IS DISTINCT FROM b.metadata"
		 " OR a.source_version IS DISTINCT FROM b.source_version", target);
	tl_assert_value(f->conn, "0", sql);
}

static void pgctl(const char *action)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "\"%s\" %s -m fast >/dev/null 2>&1", getenv("SNAPMIG_TEST_PGCTL"), action);
	ck_assert_msg(system(cmd) == 0, "pg_ctl %s failed", action);
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_server_stopped_mid_rebuild_is_a_database_error_and_resumes)
{
	fixture f;
	sm_run *run;
	sm_progress p;
	sm_error e;
	int rc;

	setup(&f);
	many_streams(&f, 40, 10000);  /* seconds of work, so the stop lands mid-run */
	PQfinish(f.conn);
	f.conn = NULL;
	sm_error_clear(&e);
	ck_assert(sm_rebuild_start(f.eng, NULL, &run, &e) == SM_OK);
	for (;;) {
		sm_run_progress(&*run, &p);
		if (p.total.events_done > 0 || p.state >= SM_RUN_DONE) {
			sm_progress_clear(&p);
			break;
		}
		sm_progress_clear(&p);
		usleep(2000);
	}
	pgctl("stop");
	rc = sm_run_wait(run, &e);
	sm_run_free(run);
	pgctl("start");
	ck_assert_msg(rc == SM_ERR_DB, "rc %d: %s", rc, e.message);
	ck_assert_msg(e.message[0] != '\0', "no message");
	f.conn = tl_connect(f.conninfo);
	/* Resume, then compare with an uninterrupted run. */
	ck_assert_msg(rebuild_env(&f, "t", &e) == SM_OK, "%s", e.message);
	assert_same_as_uninterrupted(&f, "migration");
	teardown(&f);
}
END_TEST

START_TEST(test_terminated_backends_are_retried_and_the_run_completes)
{
	fixture f;
	sm_run *run;
	sm_progress p;
	sm_error e;
	char *n;

	setup(&f);
	many_streams(&f, 40, 10000);
	sm_error_clear(&e);
	ck_assert(sm_rebuild_start(f.eng, NULL, &run, &e) == SM_OK);
	for (;;) {
		sm_run_progress(run, &p);
		if (p.total.events_done > 0 || p.state >= SM_RUN_DONE) {
			sm_progress_clear(&p);
			break;
		}
		sm_progress_clear(&p);
		usleep(2000);
	}
	n = tl_query_value(f.conn,
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
		" WHERE application_name = 'snapmig' AND pid <> pg_backend_pid()");
	free(n);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "%s", e.message);
	sm_run_free(run);
	assert_same_as_uninterrupted(&f, "migration");
	teardown(&f);
}
END_TEST

START_TEST(test_sigkill_during_rebuild_then_rerun_gives_consistent_rows)
{
	fixture f;
	sm_error e;

	setup(&f);
	many_streams(&f, 30, 10000);
	srand((unsigned)getpid());
	for (int round = 0; round < 4; round++) {
		pid_t pid = fork();
		int status;

		ck_assert(pid >= 0);
		if (pid == 0) {
			sm_error ce;

			sm_error_clear(&ce);
			_exit(rebuild_env(&f, "t", &ce) == SM_OK ? 0 : 1);
		}
		usleep((useconds_t)(50000 + rand() % 400000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ck_assert_msg(rebuild_env(&f, "t", &e) == SM_OK, "%s", e.message);
	assert_same_as_uninterrupted(&f, "migration");
	teardown(&f);
}
END_TEST

START_TEST(test_quoted_schema_names_work_everywhere)
{
	fixture f;
	sm_inventory *inv;
	sm_preflight *pf;
	sm_error e;
	char *n;

	setup_schemas(&f, "ev\"st;ore\\", "mig\"ra;tion", NULL);
	many_streams(&f, 3, 10);
	sm_error_clear(&e);
	ck_assert_msg(sm_inventory_read(f.eng, NULL, &inv, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(inv->types[0].snapshots, 3);
	sm_inventory_free(inv);
	ck_assert_msg(sm_preflight_run(f.eng, NULL, 0, NULL, &pf, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(pf->n_unknown, 0);
	sm_preflight_free(pf);
	ck_assert_msg(rebuild_env(&f, "t", &e) == SM_OK, "%s", e.message);
	n = tl_query_value(f.conn, "SELECT count(*) FROM \"mig\"\"ra;tion\".snapshots");
	ck_assert_str_eq(n, "3");
	free(n);
	teardown(&f);
}
END_TEST

static void append_raw(fixture *f, const char *uuid, const char *data)
{
	char err[1024];
	const char *types[] = { "Elixir.Counter.Added" }, *datas[] = { data };

	ck_assert_msg(sm_fixture_append(f->conn, "public", SM_FIXTURE_BYTEA, uuid, 1, types, datas, NULL,
					err, sizeof err) == 0, "%s", err);
	ck_assert(sm_fixture_snapshot(f->conn, "public", SM_FIXTURE_BYTEA, uuid, 0, "Elixir.Counter",
				      "{}", NULL, err, sizeof err) == 0);
}

static char *failure_of(fixture *f, const char *uuid)
{
	char sql[256];

	snprintf(sql, sizeof sql,
		 "SELECT kind || ' v' || stream_version || ': ' || message FROM migration.snapmig_failures WHERE source_uuid = '%s'",
		 uuid);
	return tl_query_value(f->conn, sql);
}

START_TEST(test_hostile_event_data_fails_only_its_instance)
{
	fixture f;
	sm_error e;
	char *deep, *v;
	size_t depth = 10000;

	setup(&f);
	deep = malloc(depth * 7 + 64);
	{
		size_t len = 0;

		len += (size_t)sprintf(deep + len, "{\"n\":1,\"x\":");
		for (size_t i = 0; i < depth; i++)
			len += (size_t)sprintf(deep + len, "[");
		for (size_t i = 0; i < depth; i++)
			len += (size_t)sprintf(deep + len, "]");
		sprintf(deep + len, "}");
	}
	append_raw(&f, "deep", deep);
	free(deep);
	append_raw(&f, "ok", "{\"n\":5}");
	append_raw(&f, "dupkeys", "{\"n\":1,\"n\":2}");
	append_raw(&f, "nul-escape", "{\"n\":1,\"s\":\"a\\u0000b\"}");
	append_raw(&f, "array", "[1]");
	append_raw(&f, "string", "\"x\"");
	append_raw(&f, "trailing", "{\"n\":1} x");
	append_raw(&f, "huge-int", "{\"n\":-92233720368547758080}");
	/* Invalid UTF-8 and a raw NUL byte, written as bytes. */
	tl_exec(f.conn, "SELECT 1");
	{
		PGresult *r = PQexec(f.conn,
			"DO $$ DECLARE sid bigint; BEGIN"
			" INSERT INTO streams (stream_uuid, stream_version) VALUES ('badutf8', 1), ('rawnul', 1);"
			" INSERT INTO events (event_id, event_type, data) VALUES"
			"  ('00000000-0000-4000-8000-000000000001', 'Elixir.Counter.Added', '\\x7b226e223a312c2273223a22ff227d'::bytea),"
			"  ('00000000-0000-4000-8000-000000000002', 'Elixir.Counter.Added', '\\x7b226e223a3100207d'::bytea);"
			" INSERT INTO stream_events SELECT '00000000-0000-4000-8000-000000000001', stream_id, 1, stream_id, 1 FROM streams WHERE stream_uuid = 'badutf8';"
			" INSERT INTO stream_events SELECT '00000000-0000-4000-8000-000000000002', stream_id, 1, stream_id, 1 FROM streams WHERE stream_uuid = 'rawnul';"
			" INSERT INTO snapshots (source_uuid, source_version, source_type, data) VALUES"
			"  ('badutf8', 0, 'Elixir.Counter', '\\x7b7d'), ('rawnul', 0, 'Elixir.Counter', '\\x7b7d');"
			" END $$");

		ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
		PQclear(r);
	}
	/* A 100 MB string is valid: it must fold, not crash. */
	tl_exec(f.conn, "SELECT 1");
	{
		char err[1024];

		ck_assert(sm_fixture_append_generated(f.conn, "public", SM_FIXTURE_BYTEA, "huge-string", 1,
			"'Elixir.Counter.Added'", "json_build_object('n', 1, 's', repeat('é', 50000000))::text",
			err, sizeof err) == 0);
		ck_assert(sm_fixture_snapshot(f.conn, "public", SM_FIXTURE_BYTEA, "huge-string", 0,
					      "Elixir.Counter", "{}", NULL, err, sizeof err) == 0);
	}
	ck_assert_msg(rebuild_env(&f, "t", &e) == SM_OK, "%s", e.message);

	ck_assert_ptr_null(failure_of(&f, "ok"));
	ck_assert_ptr_null(failure_of(&f, "nul-escape"));
	ck_assert_ptr_null(failure_of(&f, "huge-string"));
	/* Duplicate keys: the first counts, as Jason decodes the event, and
	 * the output has the key once. */
	ck_assert_ptr_null(failure_of(&f, "dupkeys"));
	v = tl_query_value(f.conn, "SELECT convert_from(data, 'UTF8') FROM migration.snapshots WHERE source_uuid = 'dupkeys'");
	ck_assert_msg(strstr(v, "\"count\":1") != NULL, "%s", v);
	ck_assert_msg(strstr(v, "\"n\":1") != NULL && strstr(v, "\"n\":2") == NULL, "%s", v);
	free(v);
	tl_assert_value(f.conn, "t",
			"SELECT octet_length(data) > 100000000 FROM migration.snapshots WHERE source_uuid = 'huge-string'");
	{
		static const char *const bad[] = { "deep", "array", "string", "trailing", "huge-int", "badutf8", "rawnul" };

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			v = failure_of(&f, bad[i]);
			ck_assert_msg(v != NULL, "%s did not fail", bad[i]);
			ck_assert_msg(strncmp(v, "bad_event v1: ", 14) == 0, "%s: %s", bad[i], v);
			free(v);
		}
	}
	teardown(&f);
}
END_TEST

/* A key given twice: Jason (Commanded 1.x) keeps the first, in event data
 * and in a start snapshot alike; duplicate_keys = "last" keeps the last,
 * as Poison did. */
START_TEST(test_duplicate_keys_follow_the_duplicate_keys_setting)
{
	fixture f;
	sm_config *cfg;
	sm_engine *eng;
	sm_run *run;
	sm_error e;
	char err[1024], *text, *path;
	const char *types[] = { "Elixir.Counter.Added" }, *datas[] = { "{\"n\":10}" };

	setup(&f);
	append_raw(&f, "dup-event", "{\"n\":1,\"n\":2}");
	ck_assert(sm_fixture_append(f.conn, "public", SM_FIXTURE_BYTEA, "dup-snapshot", 1, types, datas,
				    NULL, err, sizeof err) == 0);
	ck_assert(sm_fixture_snapshot(f.conn, "public", SM_FIXTURE_BYTEA, "dup-snapshot", 0, "Elixir.Counter",
				      "{\"count\":1,\"count\":100}", "{\"snapshot_module_version\":2}",
				      err, sizeof err) == 0);
	ck_assert_msg(rebuild_env(&f, "t", &e) == SM_OK, "%s", e.message);
	tl_assert_value(f.conn, "dup-event=1 dup-snapshot=11",
			"SELECT string_agg(source_uuid || '=' || (convert_from(data, 'UTF8')::jsonb->>'count'), ' ' ORDER BY 1) FROM migration.snapshots");

	ck_assert(asprintf(&text,
		"environments = ( { name = \"last\"; conninfo = \"%s\"; target_schema = \"lastwins\"; duplicate_keys = \"last\"; } );\n"
		"aggregates = ( { type = \"Elixir.Counter\"; snapshot_version = 2; initial = \"{count: 0, last: null}\";\n"
		"  events = ( { on = \"Elixir.Counter.Added\"; do = \"count += event.n; last = event\"; } ); } );\n",
		f.conninfo) > 0);
	path = tl_write_file(NULL, "last.conf", text);
	sm_error_clear(&e);
	ck_assert_msg(sm_config_load(path, &cfg, &e) == SM_OK, "%s:%d: %s", e.file, e.line, e.message);
	ck_assert_msg(sm_engine_open(cfg, "last", NULL, &eng, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_rebuild_start(eng, NULL, &run, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "%s", e.message);
	sm_run_free(run);
	tl_assert_value(f.conn, "dup-event=2 dup-snapshot=110",
			"SELECT string_agg(source_uuid || '=' || (convert_from(data, 'UTF8')::jsonb->>'count'), ' ' ORDER BY 1) FROM lastwins.snapshots");
	sm_engine_close(eng);
	sm_config_free(cfg);
	free(text);
	free(path);
	teardown(&f);
}
END_TEST

START_TEST(test_passwords_never_appear_in_errors_or_the_journal)
{
	fixture f;
	sm_engine *bad;
	sm_error e;
	char *v, *masked;
	const char *env;

	setenv("SNAPMIG_TEST_SECRET_PW", "s3cr3t-from-env", 1);
	setup_schemas(&f, "public", "migration",
		", { name = \"badpw\"; conninfo = \"host=/nonexistent/dir dbname=x user=u password=hunter2-in-conninfo\"; }"
		", { name = \"envpw\"; conninfo = \"host=/nonexistent/dir dbname=x user=u\"; password_env = \"SNAPMIG_TEST_SECRET_PW\"; }");
	sm_error_clear(&e);
	ck_assert_int_eq(sm_engine_open(f.cfg, "badpw", NULL, &bad, &e), SM_ERR_DB);
	ck_assert_msg(strstr(e.message, "hunter2") == NULL, "leaked: %s", e.message);
	ck_assert_msg(strstr(e.message, "********") != NULL, "not masked: %s", e.message);
	sm_error_clear(&e);
	ck_assert_int_eq(sm_engine_open(f.cfg, "envpw", NULL, &bad, &e), SM_ERR_DB);
	ck_assert_msg(strstr(e.message, "s3cr3t") == NULL, "leaked: %s", e.message);
	masked = sm_conninfo_masked("postgresql://u:topsecret@db.example/es?sslmode=require");
	ck_assert_msg(strstr(masked, "topsecret") == NULL, "%s", masked);
	free(masked);
	/* A real run: nothing of the environment's secrets in the journal. */
	many_streams(&f, 2, 5);
	ck_assert(rebuild_env(&f, "t", &e) == SM_OK);
	v = tl_query_value(f.conn, "SELECT string_agg(t::text, '') FROM migration.snapmig_runs t");
	ck_assert_msg(strstr(v, "hunter2") == NULL && strstr(v, "s3cr3t") == NULL, "%s", v);
	free(v);
	env = getenv("SNAPMIG_TEST_SECRET_PW");
	ck_assert_ptr_nonnull(env);
	teardown(&f);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("faults");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_quoted_schema_names_work_everywhere);
	tcase_add_test(tc, test_passwords_never_appear_in_errors_or_the_journal);
	tcase_add_test(tc, test_hostile_event_data_fails_only_its_instance);
	tcase_add_test(tc, test_duplicate_keys_follow_the_duplicate_keys_setting);
	tcase_add_test(tc, test_terminated_backends_are_retried_and_the_run_completes);
	tcase_add_test(tc, test_sigkill_during_rebuild_then_rerun_gives_consistent_rows);
	tcase_add_test(tc, test_server_stopped_mid_rebuild_is_a_database_error_and_resumes);
	return tl_run_case("faults", tc);
}
