/*
 * Never publish a wrong snapshot (issue 16), against a real PostgreSQL
 * (tests/with-pg): names PostgreSQL would cut to the source schema,
 * passwords in every text from libpq, a reducer log per run, and no
 * process of a reducer left behind.  Each test reproduces one way the
 * earlier code published or wrote what it must not.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"

#define COUNTER "Elixir.Counter"
#define ACCOUNT "Elixir.Account"

/* The rules of Counter; %1$s: conninfo, %2$s: extra environment keys. */
static const char config_fmt[] =
	"environments = (\n"
	"  { name = \"t\"; conninfo = \"%1$s\"; %2$s }\n"
	");\n"
	"aggregates = (\n"
	"  { type = \"" COUNTER "\"; snapshot_version = 2;\n"
	"    initial = \"{id: null, count: 0}\";\n"
	"    events = (\n"
	"      { on = \"Elixir.Counter.Created\"; do = \"id = event.id\"; },\n"
	"      { on = \"Elixir.Counter.Added\"; do = \"count += event.n\"; }\n"
	"    ); }%3$s\n"
	");\n";

typedef struct fx {
	char *ci;
	PGconn *conn;
	char dir[64];
	sm_config *cfg;
	sm_engine *eng;
} fx;

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	ck_assert(vasprintf(&s, fmt, ap) > 0);
	va_end(ap);
	return s;
}

static void write_in(const fx *f, const char *name, const char *text)
{
	char *path = strf("%s/%s", f->dir, name);
	FILE *out = fopen(path, "w");

	ck_assert_msg(out != NULL, "cannot write %s", path);
	fputs(text, out);
	fclose(out);
	free(path);
}

/* A database with an event store in `schema`, a config in a directory of
 * its own (env_extra: more keys of environment "t"; aggs_extra: more
 * aggregates), the engine open on "t". */
static void fx_init_in(fx *f, const char *schema, const char *env_extra, const char *aggs_extra)
{
	char err[1024], *text, *path;
	sm_error e;

	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/snapmig-safety.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	f->ci = tl_new_database();
	f->conn = tl_connect(f->ci);
	ck_assert_msg(sm_fixture_create_store(f->conn, schema, SM_FIXTURE_BYTEA, err, sizeof err) == 0,
		      "%s", err);
	text = strf(config_fmt, f->ci, env_extra ? env_extra : "", aggs_extra ? aggs_extra : "");
	write_in(f, "snapmig.conf", text);
	path = strf("%s/snapmig.conf", f->dir);
	sm_error_clear(&e);
	ck_assert_msg(sm_config_load(path, &f->cfg, &e) == SM_OK, "config: %s:%d: %s",
		      e.file, e.line, e.message);
	ck_assert_msg(sm_engine_open(f->cfg, "t", NULL, &f->eng, &e) == SM_OK, "open: %s", e.message);
	free(text);
	free(path);
}

static void fx_init(fx *f)
{
	fx_init_in(f, "public", NULL, NULL);
}

static void fx_free(fx *f)
{
	char *cmd = strf("rm -rf '%s'", f->dir);

	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	PQfinish(f->conn);
	free(f->ci);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(cmd);
}

/* A stream of n Added events (after a Created) with a stale snapshot
 * (module version 1) at version 1. */
static void counter(fx *f, const char *schema, const char *uuid, int n)
{
	char err[1024], *data;

	data = strf("{\"id\":\"%s\"}", uuid);
	{
		const char *types[] = { "Elixir.Counter.Created" }, *datas[] = { data }, *metas[] = { NULL };

		ck_assert_msg(sm_fixture_append(f->conn, schema, SM_FIXTURE_BYTEA, uuid, 1, types, datas,
						metas, err, sizeof err) == 0, "%s", err);
	}
	free(data);
	if (n > 0)
		ck_assert_msg(sm_fixture_append_generated(f->conn, schema, SM_FIXTURE_BYTEA, uuid, n,
							  "'Elixir.Counter.Added'",
							  "json_build_object('n', i)::text",
							  err, sizeof err) == 0, "%s", err);
	ck_assert_msg(sm_fixture_snapshot(f->conn, schema, SM_FIXTURE_BYTEA, uuid, 1, COUNTER,
					  "{\"id\":null,\"count\":0,\"old\":true}",
					  "{\"snapshot_module_version\":1}", err, sizeof err) == 0, "%s", err);
}

static char *query(fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *query(fx *f, const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;

	va_start(ap, fmt);
	ck_assert(vasprintf(&sql, fmt, ap) > 0);
	va_end(ap);
	v = tl_query_value(f->conn, sql);
	free(sql);
	return v;
}

/* Starts a rebuild of every configured type and waits; returns its status
 * (err filled), with the final progress in *prog when prog is not NULL. */
static int rebuild_on(sm_engine *eng, sm_progress *prog, sm_error *err)
{
	sm_run *run = NULL;
	int rc;

	sm_error_clear(err);
	rc = sm_rebuild_start(eng, NULL, &run, err);
	if (rc != SM_OK)
		return rc;
	rc = sm_run_wait(run, err);
	if (prog)
		sm_run_progress(run, prog);
	sm_run_free(run);
	return rc;
}

/* ------------------------------------------------ names and schemas */

/* 63 bytes: the longest schema name PostgreSQL keeps whole. */
static const char long_schema[] =
	"tenant_with_a_rather_long_name_for_its_event_store_schema_00001";

START_TEST(test_schema_names_longer_than_63_bytes_are_refused_at_load)
{
	static const char *const fmts[] = {
		"environments = (\n { name = \"t\"; conninfo = \"\";\n   source_schema = \"%s\";\n"
		"   target_schema = \"%s_migration\"; }\n);\n",
		"defaults = {\n  jobs = 1;\n  target_schema = \"%2$s_migration\"; };\n",
	};
	static const char *const keys[] = { "environments[0].target_schema", "defaults.target_schema" };
	static const int lines[] = { 4, 3 };

	ck_assert_uint_eq(strlen(long_schema), 63);
	for (size_t i = 0; i < 2; i++) {
		char *text = strf(fmts[i], long_schema, long_schema);
		char *path = tl_write_file(NULL, "snapmig.conf", text);
		sm_config *cfg = NULL;
		sm_error err;
		char got[1400], *want;

		sm_error_clear(&err);
		ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
		ck_assert_ptr_null(cfg);
		sm_error_format(&err, got, sizeof got);
		want = strf("%s:%d: %s: \"%s_migration\" is 73 bytes long; PostgreSQL cuts names to 63"
			    " bytes, so it could name another schema (choose a shorter name)",
			    path, lines[i], keys[i], long_schema);
		ck_assert_str_eq(got, want);
		free(want);
		free(text);
		free(path);
	}
	{
		/* Bytes, not characters: 32 two-byte letters are 64 bytes. */
		char name[80] = "";
		char *text, *path;
		sm_config *cfg = NULL;
		sm_error err;

		for (int i = 0; i < 32; i++)
			strcat(name, "\xc3\xa9");
		text = strf("defaults = { source_schema = \"%s\"; };\n", name);
		path = tl_write_file(NULL, "snapmig.conf", text);
		ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
		ck_assert_ptr_nonnull(strstr(err.message, "is 64 bytes long"));
		free(text);
		free(path);
		/* 63 bytes load. */
		text = strf("defaults = { source_schema = \"%s\"; target_schema = \"m\"; };\n", long_schema);
		path = tl_write_file(NULL, "snapmig.conf", text);
		ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_OK);
		sm_config_free(cfg);
		free(text);
		free(path);
	}
}
END_TEST

/*
 * The case of the issue: a 63-byte source schema and a target schema that
 * only differs after byte 63.  The loader refuses such a name now, so the
 * configuration is changed after loading, as a caller of the engine could:
 * the engine must still see, by OID, that both name the same schema, and
 * write nothing, anywhere.
 */
START_TEST(test_a_target_that_is_the_source_schema_is_refused_before_anything_is_written)
{
	char *env = strf("source_schema = \"%s\"; target_schema = \"m\";", long_schema);
	char *before, *after, *tables;
	sm_environment *e;
	sm_copy_plan *plan = NULL;
	sm_copy_result *res = NULL;
	sm_error err;
	fx f;

	fx_init_in(&f, long_schema, env, NULL);
	counter(&f, long_schema, "c-1", 3);
	e = (sm_environment *)sm_engine_env(f.eng);
	free(e->settings.target_schema);
	e->settings.target_schema = strf("%s_migration", long_schema);
	before = query(&f, "SELECT string_agg(source_uuid || source_version || convert_from(data, 'UTF8')"
		       " || convert_from(metadata, 'UTF8'), ',') FROM \"%s\".snapshots", long_schema);

	ck_assert_int_ne(rebuild_on(f.eng, NULL, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "is the source schema") != NULL, "%s", err.message);
	ck_assert_int_ne(sm_copy_plan_read(f.eng, NULL, NULL, &plan, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "is the source schema") != NULL, "%s", err.message);
	ck_assert_int_ne(sm_copy_run(f.eng, NULL, NULL, &res, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "is the source schema") != NULL, "%s", err.message);
	ck_assert_ptr_null(res);

	after = query(&f, "SELECT string_agg(source_uuid || source_version || convert_from(data, 'UTF8')"
		      " || convert_from(metadata, 'UTF8'), ',') FROM \"%s\".snapshots", long_schema);
	ck_assert_str_eq(after, before);
	tables = query(&f, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'snapmig%%'");
	ck_assert_str_eq(tables, "0");
	free(tables);
	tables = query(&f, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant%%'");
	ck_assert_str_eq(tables, "1");
	free(tables);
	free(before);
	free(after);
	free(env);
	fx_free(&f);
}
END_TEST

/* A target "snapshots" that is a view of the live table would take the
 * rebuild's upserts into the live table. */
START_TEST(test_a_target_snapshots_that_is_not_a_table_is_refused)
{
	char *before, *after;
	sm_error err;
	fx f;

	fx_init(&f);
	counter(&f, "public", "c-1", 3);
	tl_exec(f.conn, "CREATE SCHEMA migration;"
		" CREATE VIEW migration.snapshots AS SELECT * FROM public.snapshots");
	before = query(&f, "SELECT string_agg(source_uuid || convert_from(data, 'UTF8'), ',')"
		       " FROM public.snapshots");
	ck_assert_int_ne(rebuild_on(f.eng, NULL, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "not a table") != NULL, "%s", err.message);
	after = query(&f, "SELECT string_agg(source_uuid || convert_from(data, 'UTF8'), ',')"
		      " FROM public.snapshots");
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	fx_free(&f);
}
END_TEST

/* ----------------------------------------------------------- passwords */

START_TEST(test_a_malformed_uri_does_not_show_its_password)
{
	static const char *const uris[] = {
		"postgresql://app:S3cretPW@[::1]x/prod",
		"postgresql://app:S3cretPW@[::1/prod",
		"postgresql://app:S3cret%zzPW@localhost/prod",
		"postgresql://app@localhost/prod?password=S3cretPW&port=notanumber",
	};

	for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
		char *text = strf("environments = ( { name = \"t\"; conninfo = \"%s\"; } );\n"
				  "aggregates = ();\n", uris[i]);
		char *path = tl_write_file(NULL, "snapmig.conf", text);
		sm_config *cfg = NULL;
		sm_engine *eng = NULL;
		sm_error err;

		ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_OK);
		ck_assert_int_eq(sm_engine_open(cfg, "t", NULL, &eng, &err), SM_ERR_DB);
		ck_assert_msg(strstr(err.message, "S3cret") == NULL, "%s", err.message);
		ck_assert_msg(strstr(err.message, "cannot connect") != NULL, "%s", err.message);
		sm_config_free(cfg);
		free(text);
		free(path);
	}
}
END_TEST

/* ------------------------------------------------------------ reducers */

/* An external Account reducer whose shell leaves a background child; the
 * child's pid goes to bg.pid. */
static const char account_py[] =
	"import snapmig_reducer as sr\n"
	"def added(state, data, ev):\n"
	"    state['count'] += data['n']\n"
	"    return state\n"
	"sr.run({'" ACCOUNT "': sr.Aggregate(initial={'count': 0},\n"
	"    handlers={'Elixir.Account.Added': added})})\n";

static char *account_aggregate(const char *command)
{
	return strf(",\n  { type = \"" ACCOUNT "\"; snapshot_version = 1;\n"
		    "    reducer = { exec = \"%s\";\n"
		    "      env = { PYTHONPATH = \"%s/examples/reducers\"; PYTHONDONTWRITEBYTECODE = \"1\"; }; }; }",
		    command, getenv("SNAPMIG_SRCDIR"));
}

static void account(fx *f, const char *uuid, int n)
{
	char err[1024];

	ck_assert_msg(sm_fixture_append_generated(f->conn, "public", SM_FIXTURE_BYTEA, uuid, n,
						  "'Elixir.Account.Added'",
						  "json_build_object('n', i)::text",
						  err, sizeof err) == 0, "%s", err);
	ck_assert_msg(sm_fixture_snapshot(f->conn, "public", SM_FIXTURE_BYTEA, uuid, 1, ACCOUNT,
					  "{\"count\":1}", "{\"snapshot_module_version\":0}",
					  err, sizeof err) == 0, "%s", err);
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

START_TEST(test_each_run_logs_its_reducer_to_a_file_of_its_own)
{
	char *aggs = account_aggregate("echo started >&2; exec python3 account.py");
	char *state, *path[2], *logged;
	sm_progress prog;
	sm_error err;
	fx f;

	fx_init_in(&f, "public", NULL, aggs);
	write_in(&f, "account.py", account_py);
	state = strf("%s/state", f.dir);
	setenv("XDG_STATE_HOME", state, 1);
	account(&f, "a-1", 5);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(rebuild_on(f.eng, &prog, &err) == SM_OK, "%s", err.message);
		ck_assert_int_gt(prog.run_id, 0);
		path[i] = strf("%s/snapmig/t-run-%lld.log", state, prog.run_id);
		ck_assert_msg(file_exists(path[i]), "no reducer log %s", path[i]);
		logged = query(&f, "SELECT details->>'reducer_log' FROM migration.snapmig_runs"
			       " WHERE run_id = %lld", prog.run_id);
		ck_assert_str_eq(logged, path[i]);
		free(logged);
		sm_progress_clear(&prog);
		/* Make the second run fold again. */
		tl_exec(f.conn, "TRUNCATE migration.snapshots");
	}
	ck_assert_str_ne(path[0], path[1]);
	{
		char *zero = strf("%s/snapmig/t-run-0.log", state);

		ck_assert_msg(!file_exists(zero), "%s exists", zero);
		free(zero);
	}
	unsetenv("XDG_STATE_HOME");
	free(path[0]);
	free(path[1]);
	free(state);
	free(aggs);
	fx_free(&f);
}
END_TEST

/* Alive: in /proc and not a zombie waiting for a parent to reap it. */
static bool process_alive(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	FILE *in;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	in = fopen(path, "r");
	if (!in)
		return false;
	n = fread(buf, 1, sizeof buf - 1, in);
	fclose(in);
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z' && close_paren[2] != 'X';
}

static pid_t read_pid(const fx *f, const char *name)
{
	char *path = strf("%s/%s", f->dir, name);
	FILE *in = fopen(path, "r");
	long pid = 0;

	ck_assert_msg(in != NULL, "no %s", path);
	ck_assert_int_eq(fscanf(in, "%ld", &pid), 1);
	fclose(in);
	free(path);
	return (pid_t)pid;
}

START_TEST(test_a_reducer_leaves_no_process_behind)
{
	char *aggs = account_aggregate("sleep 300 & echo $! > bg.pid; exec python3 account.py");
	sm_error err;
	pid_t bg;
	bool alive = true;
	fx f;

	fx_init_in(&f, "public", NULL, aggs);
	write_in(&f, "account.py", account_py);
	account(&f, "a-1", 5);
	ck_assert_msg(rebuild_on(f.eng, NULL, &err) == SM_OK, "%s", err.message);
	bg = read_pid(&f, "bg.pid");
	ck_assert_int_gt(bg, 1);
	/* The run has ended: its reducer's group must be gone with it. */
	for (int i = 0; i < 50 && alive; i++) {
		struct timespec ts = { 0, 20 * 1000000L };

		alive = process_alive(bg);
		if (alive)
			nanosleep(&ts, NULL);
	}
	if (alive)
		kill(bg, SIGKILL);
	ck_assert_msg(!alive, "the reducer's background child %ld is still running", (long)bg);
	free(aggs);
	fx_free(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("safety");
	TCase *names = tcase_create("names");
	TCase *secrets = tcase_create("passwords");
	TCase *reducers = tcase_create("reducers");
	SRunner *sr;
	int failed;

	tcase_set_timeout(names, 120);
	tcase_add_test(names, test_schema_names_longer_than_63_bytes_are_refused_at_load);
	tcase_add_test(names, test_a_target_that_is_the_source_schema_is_refused_before_anything_is_written);
	tcase_add_test(names, test_a_target_snapshots_that_is_not_a_table_is_refused);
	suite_add_tcase(s, names);
	tcase_add_test(secrets, test_a_malformed_uri_does_not_show_its_password);
	suite_add_tcase(s, secrets);
	tcase_set_timeout(reducers, 120);
	tcase_add_test(reducers, test_each_run_logs_its_reducer_to_a_file_of_its_own);
	tcase_add_test(reducers, test_a_reducer_leaves_no_process_behind);
	suite_add_tcase(s, reducers);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
