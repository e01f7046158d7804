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
#include "util/alloc.h"

#define COUNTER "Elixir.Counter"
#define ACCOUNT "Elixir.Account"

/* Counter's aggregate with the rule of Added given (%1$s) and the
 * environments' settings around it: %2$s is environment "t"'s extra keys. */
#define COUNTER_AGG(added_rule)                                                  \
	"  { type = \"" COUNTER "\"; snapshot_version = 2;\n"                    \
	"    initial = \"{id: null, count: 0}\";\n"                              \
	"    events = (\n"                                                       \
	"      { on = \"Elixir.Counter.Created\"; do = \"id = event.id\"; },\n" \
	"      { on = \"Elixir.Counter.Added\"; do = \"" added_rule "\"; }\n"    \
	"    ); }"
#define COUNTER_RULES COUNTER_AGG("count += event.n")

typedef struct fx {
	char *ci;
	PGconn *conn;
	char dir[64];
	sm_config *cfg;
	sm_engine *eng;
} fx;

static void write_in(const fx *f, const char *name, const char *text)
{
	char *path = sm_xasprintf("%s/%s", f->dir, name);
	FILE *out = fopen(path, "w");

	ck_assert_msg(out != NULL, "cannot write %s", path);
	fputs(text, out);
	fclose(out);
	free(path);
}

/* Writes <dir>/snapmig.conf (environments: the text inside `( )`, where
 * every "@CI@" becomes the test database's conninfo; aggregates likewise)
 * and opens the engine on environment env, replacing the previous
 * configuration and engine. */
static void fx_load(fx *f, const char *envs, const char *aggs, const char *env)
{
	char *text, *path, *e_text;
	const char *p, *hit;
	size_t cap = 0, len = 0;
	sm_error e;

	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	f->eng = NULL;
	f->cfg = NULL;
	e_text = NULL;
	for (p = envs; (hit = strstr(p, "@CI@")) != NULL; p = hit + 4) {
		e_text = realloc(e_text, cap = len + (size_t)(hit - p) + strlen(f->ci) + 1);
		memcpy(e_text + len, p, (size_t)(hit - p));
		len += (size_t)(hit - p);
		strcpy(e_text + len, f->ci);
		len += strlen(f->ci);
	}
	e_text = realloc(e_text, len + strlen(p) + 1);
	strcpy(e_text + len, p);
	text = sm_xasprintf("environments = (\n%s\n);\naggregates = (\n%s\n);\n", e_text, aggs);
	write_in(f, "snapmig.conf", text);
	path = sm_xasprintf("%s/snapmig.conf", f->dir);
	sm_error_clear(&e);
	ck_assert_msg(sm_config_load(path, &f->cfg, &e) == SM_OK, "config: %s:%d: %s\n%s",
		      e.file, e.line, e.message, text);
	ck_assert_msg(sm_engine_open(f->cfg, env, NULL, &f->eng, &e) == SM_OK, "open: %s", e.message);
	free(e_text);
	free(text);
	free(path);
}

/* An (empty, bytea) event store in `schema` of the test's database. */
static void fx_add_store(fx *f, const char *schema)
{
	char err[1024];

	ck_assert_msg(sm_fixture_create_store(f->conn, schema, SM_FIXTURE_BYTEA, err, sizeof err) == 0,
		      "%s", err);
}

/* A new database with an event store in `schema` and a directory for the
 * configuration; nothing loaded. */
static void fx_new(fx *f, const char *schema)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/snapmig-safety.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	f->ci = tl_new_database();
	f->conn = tl_connect(f->ci);
	fx_add_store(f, schema);
}

/* fx_new, and environment "t" (env_extra: more of its keys) with Counter
 * and aggs_extra (more aggregates, starting with a comma). */
static void fx_init_in(fx *f, const char *schema, const char *env_extra, const char *aggs_extra)
{
	char *envs, *aggs;

	fx_new(f, schema);
	envs = sm_xasprintf("  { name = \"t\"; conninfo = \"@CI@\"; %s }", env_extra ? env_extra : "");
	aggs = sm_xasprintf("%s%s", COUNTER_RULES, aggs_extra ? aggs_extra : "");
	fx_load(f, envs, aggs, "t");
	free(envs);
	free(aggs);
}

static void fx_init(fx *f)
{
	fx_init_in(f, "public", NULL, NULL);
}

static void fx_free(fx *f)
{
	char *cmd = sm_xasprintf("rm -rf '%s'", f->dir);

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

	data = sm_xasprintf("{\"id\":\"%s\"}", uuid);
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
		char *text = sm_xasprintf(fmts[i], long_schema, long_schema);
		char *path = tl_write_file(NULL, "snapmig.conf", text);
		sm_config *cfg = NULL;
		sm_error err;
		char got[1400], *want;

		sm_error_clear(&err);
		ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
		ck_assert_ptr_null(cfg);
		sm_error_format(&err, got, sizeof got);
		want = sm_xasprintf("%s:%d: %s: \"%s_migration\" is 73 bytes long; PostgreSQL cuts names to 63"
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
		text = sm_xasprintf("defaults = { source_schema = \"%s\"; };\n", name);
		path = tl_write_file(NULL, "snapmig.conf", text);
		ck_assert_int_eq(sm_config_load(path, &cfg, &err), SM_ERR_CONFIG);
		ck_assert_ptr_nonnull(strstr(err.message, "is 64 bytes long"));
		free(text);
		free(path);
		/* 63 bytes load. */
		text = sm_xasprintf("defaults = { source_schema = \"%s\"; target_schema = \"m\"; };\n", long_schema);
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
	char *env = sm_xasprintf("source_schema = \"%s\"; target_schema = \"m\";", long_schema);
	char *before, *after;
	sm_environment *e;
	sm_copy_plan *plan = NULL;
	sm_copy_result *res = NULL;
	sm_error err;
	fx f;

	fx_init_in(&f, long_schema, env, NULL);
	counter(&f, long_schema, "c-1", 3);
	e = (sm_environment *)sm_engine_env(f.eng);
	free(e->settings.target_schema);
	e->settings.target_schema = sm_xasprintf("%s_migration", long_schema);
	before = tl_query_valuef(f.conn, "SELECT string_agg(source_uuid || source_version || convert_from(data, 'UTF8')"
				 " || convert_from(metadata, 'UTF8'), ',') FROM \"%s\".snapshots", long_schema);

	ck_assert_int_ne(rebuild_on(f.eng, NULL, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "is the source schema") != NULL, "%s", err.message);
	ck_assert_int_ne(sm_copy_plan_read(f.eng, NULL, NULL, &plan, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "is the source schema") != NULL, "%s", err.message);
	ck_assert_int_ne(sm_copy_run(f.eng, NULL, NULL, &res, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "is the source schema") != NULL, "%s", err.message);
	ck_assert_ptr_null(res);

	after = tl_query_valuef(f.conn, "SELECT string_agg(source_uuid || source_version || convert_from(data, 'UTF8')"
				" || convert_from(metadata, 'UTF8'), ',') FROM \"%s\".snapshots", long_schema);
	ck_assert_str_eq(after, before);
	tl_assert_valuef(f.conn, "0", "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'snapmig%%'");
	tl_assert_valuef(f.conn, "1", "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant%%'");
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
	before = tl_query_valuef(f.conn, "SELECT string_agg(source_uuid || convert_from(data, 'UTF8'), ',')"
				 " FROM public.snapshots");
	ck_assert_int_ne(rebuild_on(f.eng, NULL, &err), SM_OK);
	ck_assert_msg(strstr(err.message, "not a table") != NULL, "%s", err.message);
	after = tl_query_valuef(f.conn, "SELECT string_agg(source_uuid || convert_from(data, 'UTF8'), ',')"
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
		char *text = sm_xasprintf("environments = ( { name = \"t\"; conninfo = \"%s\"; } );\n"
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
	return sm_xasprintf(",\n  { type = \"" ACCOUNT "\"; snapshot_version = 1;\n"
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
	char *state, *path[2];
	sm_progress prog;
	sm_error err;
	fx f;

	fx_init_in(&f, "public", NULL, aggs);
	write_in(&f, "account.py", account_py);
	state = sm_xasprintf("%s/state", f.dir);
	setenv("XDG_STATE_HOME", state, 1);
	account(&f, "a-1", 5);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(rebuild_on(f.eng, &prog, &err) == SM_OK, "%s", err.message);
		ck_assert_int_gt(prog.run_id, 0);
		path[i] = sm_xasprintf("%s/snapmig/t-run-%lld.log", state, prog.run_id);
		ck_assert_msg(file_exists(path[i]), "no reducer log %s", path[i]);
		tl_assert_valuef(f.conn, path[i],
				 "SELECT details->>'reducer_log' FROM migration.snapmig_runs"
				 " WHERE run_id = %lld", prog.run_id);
		sm_progress_clear(&prog);
		/* Make the second run fold again. */
		tl_exec(f.conn, "TRUNCATE migration.snapshots");
	}
	ck_assert_str_ne(path[0], path[1]);
	{
		char *zero = sm_xasprintf("%s/snapmig/t-run-0.log", state);

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
	char *path = sm_xasprintf("%s/%s", f->dir, name);
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

/* ------------------------------------------------------------ helpers */

/* Every live (or generated) row of schema, exactly. */
static char *rows_of(fx *f, const char *schema)
{
	return tl_query_valuef(f->conn, "SELECT COALESCE(string_agg(concat_ws('|', source_uuid, source_version,"
			       " source_type, convert_from(data, 'UTF8'), convert_from(metadata, 'UTF8'),"
			       " created_at), E'\\n' ORDER BY source_uuid), '') FROM \"%s\".snapshots", schema);
}

/* The "count" of a row's data in schema.snapshots ("" when no row). */
static char *count_of(fx *f, const char *schema, const char *uuid)
{
	char *v = tl_query_valuef(f->conn, "SELECT COALESCE((SELECT convert_from(data, 'UTF8')::jsonb ->> 'count'"
				  " FROM \"%s\".snapshots WHERE source_uuid = '%s'), '')", schema, uuid);

	ck_assert_ptr_nonnull(v);
	return v;
}

static void assert_count(fx *f, const char *schema, const char *uuid, const char *want)
{
	char *v = count_of(f, schema, uuid);

	ck_assert_msg(strcmp(v, want) == 0, "%s.%s: count %s, expected %s", schema, uuid, v, want);
	free(v);
}

static int rebuild_uuids(sm_engine *eng, const char *const *uuids, size_t n, sm_error *err)
{
	sm_rebuild_options o;
	sm_run *run = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	o.uuids = uuids;
	o.n_uuids = n;
	sm_error_clear(err);
	rc = sm_rebuild_start(eng, &o, &run, err);
	if (rc != SM_OK)
		return rc;
	rc = sm_run_wait(run, err);
	sm_run_free(run);
	return rc;
}

static void rebuild_ok(sm_engine *eng)
{
	sm_error err;

	ck_assert_msg(rebuild_on(eng, NULL, &err) == SM_OK, "rebuild: %s", err.message);
}

static sm_copy_result *copy_ok(sm_engine *eng)
{
	sm_copy_result *r = NULL;
	sm_error err;

	sm_error_clear(&err);
	ck_assert_msg(sm_copy_run(eng, NULL, NULL, &r, &err) == SM_OK, "copy: %s", err.message);
	return r;
}

/* A copy, refused or not, leaves the live rows as they were (the test
 * fails with what and the rows otherwise). */
static void assert_copy_ships_nothing(fx *f, const char *what)
{
	char *before = rows_of(f, "public"), *after;
	sm_copy_result *res = NULL;
	sm_error err;

	sm_error_clear(&err);
	(void)sm_copy_run(f->eng, NULL, NULL, &res, &err);
	sm_copy_result_free(res);
	after = rows_of(f, "public");
	ck_assert_msg(strcmp(after, before) == 0, "%s:\n%s", what, after);
	free(before);
	free(after);
}

/* The inventory's entry of type (the test fails when there is none). */
static sm_type_inventory inventory_of(sm_engine *eng, const char *type, sm_inventory **inv)
{
	sm_error err;

	sm_error_clear(&err);
	ck_assert_msg(sm_inventory_read(eng, NULL, inv, &err) == SM_OK, "inventory: %s", err.message);
	for (size_t i = 0; i < (*inv)->n_types; i++)
		if (strcmp((*inv)->types[i].type, type) == 0)
			return (*inv)->types[i];
	ck_abort_msg("no %s in the inventory", type);
	return (*inv)->types[0];
}

static void assert_mentions(const sm_error *err, const char *what)
{
	ck_assert_msg(strstr(err->message, what) != NULL, "\"%s\" not in: %s", what, err->message);
}

/* ------------------------------------------------------ target ownership */

/* Two event stores in one database (one schema per tenant), both with the
 * default target schema. */
static const char two_tenants[] =
	"  { name = \"a\"; conninfo = \"@CI@\"; source_schema = \"tenant_a\"; },\n"
	"  { name = \"b\"; conninfo = \"@CI@\"; source_schema = \"tenant_b\"; }";

START_TEST(test_a_target_holding_another_stores_rows_is_refused_naming_both_stores)
{
	char *before, *after;
	sm_engine *eb = NULL;
	sm_inventory *inv = NULL;
	sm_copy_plan *plan = NULL;
	sm_copy_result *res = NULL;
	sm_error err;
	fx f;

	fx_new(&f, "tenant_a");
	fx_add_store(&f, "tenant_b");
	/* The same stream uuid in both stores, and one only A has. */
	counter(&f, "tenant_a", "shared-1", 3);
	counter(&f, "tenant_a", "a-only", 2);
	counter(&f, "tenant_b", "shared-1", 1);
	fx_load(&f, two_tenants, COUNTER_RULES, "a");
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "shared-1", "6");

	ck_assert_int_eq(sm_engine_open(f.cfg, "b", NULL, &eb, &err), SM_OK);
	before = rows_of(&f, "tenant_b");
	ck_assert_int_ne(rebuild_on(eb, NULL, &err), SM_OK);
	assert_mentions(&err, "tenant_a");
	assert_mentions(&err, "tenant_b");
	assert_mentions(&err, "target_schema");
	ck_assert_int_ne(sm_inventory_read(eb, NULL, &inv, &err), SM_OK);
	assert_mentions(&err, "tenant_a");
	ck_assert_int_ne(sm_copy_plan_read(eb, NULL, NULL, &plan, &err), SM_OK);
	assert_mentions(&err, "tenant_a");
	ck_assert_int_ne(sm_copy_run(eb, NULL, NULL, &res, &err), SM_OK);
	assert_mentions(&err, "tenant_a");
	ck_assert_ptr_null(res);
	after = rows_of(&f, "tenant_b");
	ck_assert_str_eq(after, before);
	/* A's rows are as A's rebuild left them. */
	assert_count(&f, "migration", "shared-1", "6");
	tl_assert_valuef(f.conn, "2", "SELECT count(*) FROM migration.snapshots");
	sm_engine_close(eb);

	/* With a target schema of its own, B works. */
	fx_load(&f, "  { name = \"b\"; conninfo = \"@CI@\"; source_schema = \"tenant_b\";"
		" target_schema = \"tenant_b_migration\"; }", COUNTER_RULES, "b");
	rebuild_ok(f.eng);
	sm_copy_result_free(copy_ok(f.eng));
	assert_count(&f, "tenant_b", "shared-1", "1");
	free(before);
	free(after);
	fx_free(&f);
}
END_TEST

/* Another tenant's live store as the target: it has no owner record yet,
 * and its snapshots table is read by an application. */
START_TEST(test_a_target_schema_holding_another_live_store_is_refused)
{
	char *before, *after;
	sm_error err;
	fx f;

	fx_new(&f, "public");
	fx_add_store(&f, "tenant_b");
	counter(&f, "public", "c-1", 3);
	counter(&f, "tenant_b", "c-1", 1);
	fx_load(&f, "  { name = \"t\"; conninfo = \"@CI@\"; target_schema = \"tenant_b\"; }",
		COUNTER_RULES, "t");
	before = rows_of(&f, "tenant_b");
	ck_assert_int_ne(rebuild_on(f.eng, NULL, &err), SM_OK);
	assert_mentions(&err, "holds an event store with events");
	after = rows_of(&f, "tenant_b");
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	fx_free(&f);
}
END_TEST

/* Rows written by an earlier snapmig, before rows had a recorded origin:
 * nobody can tell which store or reducer made them. */
START_TEST(test_an_older_targets_rows_are_never_shipped_and_a_rebuild_replaces_them)
{
	fx f;

	fx_init(&f);
	counter(&f, "public", "c-1", 3);
	tl_exec(f.conn, "CREATE SCHEMA migration;"
		" CREATE TABLE migration.snapshots (source_uuid text PRIMARY KEY NOT NULL,"
		"  source_version bigint NOT NULL, source_type text NOT NULL, data bytea NOT NULL,"
		"  metadata bytea NULL, created_at timestamptz DEFAULT now() NOT NULL);"
		" INSERT INTO migration.snapshots (source_uuid, source_version, source_type, data, metadata)"
		" VALUES ('c-1', 4, 'Elixir.Counter', convert_to('{\"id\":\"c-1\",\"count\":999}', 'UTF8'),"
		"  convert_to('{\"snapshot_module_version\":2}', 'UTF8'))");
	assert_copy_ships_nothing(&f, "a row of unknown origin was copied");
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "c-1", "6");
	sm_copy_result_free(copy_ok(f.eng));
	assert_count(&f, "public", "c-1", "6");
	fx_free(&f);
}
END_TEST

/* -------------------------------------------------------- fingerprints */

static const char env_t[] = "  { name = \"t\"; conninfo = \"@CI@\"; }";

START_TEST(test_rows_of_a_changed_reducer_are_stale_never_copied_and_regenerated)
{
	sm_inventory *inv = NULL;
	sm_type_inventory t;
	sm_copy_plan *plan = NULL;
	sm_error err;
	fx f;

	fx_init(&f);
	counter(&f, "public", "c-1", 3);
	counter(&f, "public", "c-2", 2);
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "c-1", "6");

	/* The reducer is fixed; snapshot_version stays 2. */
	fx_load(&f, env_t, COUNTER_AGG("count += 1"), "t");
	t = inventory_of(f.eng, COUNTER, &inv);
	ck_assert_int_eq(t.target_rows, 2);
	ck_assert_int_eq(t.target_at_version, 0);
	ck_assert_int_eq(t.target_current, 0);
	sm_inventory_free(inv);
	ck_assert_msg(sm_copy_plan_read(f.eng, NULL, NULL, &plan, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(plan->types[0].generated, 0);
	ck_assert_int_eq(plan->types[0].replace, 0);
	sm_copy_plan_free(plan);
	assert_copy_ships_nothing(&f, "rows of the old reducer were copied");

	rebuild_ok(f.eng);
	assert_count(&f, "migration", "c-1", "3");
	assert_count(&f, "migration", "c-2", "2");
	sm_copy_result_free(copy_ok(f.eng));
	assert_count(&f, "public", "c-1", "3");
	fx_free(&f);
}
END_TEST

START_TEST(test_a_run_resumed_after_a_reducer_fix_keeps_none_of_the_old_rows)
{
	static const char *const first[] = { "c-1", "c-2" };
	sm_error err;
	fx f;

	fx_init(&f);
	for (int i = 1; i <= 4; i++) {
		char uuid[8];

		snprintf(uuid, sizeof uuid, "c-%d", i);
		counter(&f, "public", uuid, 2);
	}
	/* The first run got through two instances before it stopped. */
	ck_assert_msg(rebuild_uuids(f.eng, first, 2, &err) == SM_OK, "%s", err.message);
	assert_count(&f, "migration", "c-1", "3");
	assert_count(&f, "migration", "c-3", "");
	fx_load(&f, env_t, COUNTER_AGG("count += 1"), "t");
	rebuild_ok(f.eng);
	for (int i = 1; i <= 4; i++) {
		char uuid[8];

		snprintf(uuid, sizeof uuid, "c-%d", i);
		assert_count(&f, "migration", uuid, "2");
	}
	fx_free(&f);
}
END_TEST

/* duplicate_keys changes what a reducer reads of the same bytes. */
START_TEST(test_a_changed_setting_that_changes_output_makes_the_rows_stale)
{
	const char *types[] = { "Elixir.Counter.Created", "Elixir.Counter.Added" };
	const char *datas[] = { "{\"id\":\"d-1\"}", "{\"n\": 1, \"n\": 5}" };
	const char *metas[] = { NULL, NULL };
	sm_inventory *inv = NULL;
	char err_buf[1024];
	fx f;

	fx_init(&f);
	ck_assert_msg(sm_fixture_append(f.conn, "public", SM_FIXTURE_BYTEA, "d-1", 2, types, datas,
					metas, err_buf, sizeof err_buf) == 0, "%s", err_buf);
	ck_assert_msg(sm_fixture_snapshot(f.conn, "public", SM_FIXTURE_BYTEA, "d-1", 1, COUNTER,
					  "{\"id\":null,\"count\":0}", "{\"snapshot_module_version\":1}",
					  err_buf, sizeof err_buf) == 0, "%s", err_buf);
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "d-1", "1");
	fx_load(&f, "  { name = \"t\"; conninfo = \"@CI@\"; duplicate_keys = \"last\"; }",
		COUNTER_RULES, "t");
	ck_assert_int_eq(inventory_of(f.eng, COUNTER, &inv).target_current, 0);
	sm_inventory_free(inv);
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "d-1", "5");
	fx_free(&f);
}
END_TEST

/* 16.8: a key computed from a number is the text Elixir's to_string/1
 * writes (1e2 -> "100.0", 1.50 -> "1.5"), in the row a rebuild writes. */
START_TEST(test_a_number_key_in_a_generated_row_is_written_as_elixir_writes_it)
{
	const char *types[] = { "Elixir.Counter.Created", "Elixir.Counter.Added",
				"Elixir.Counter.Added", "Elixir.Counter.Added" };
	const char *datas[] = { "{\"id\":\"k-1\"}", "{\"n\": 1e2}", "{\"n\": 1.50}", "{\"n\": 7}" };
	const char *metas[] = { NULL, NULL, NULL, NULL };
	char err_buf[1024];
	fx f;

	fx_new(&f, "public");
	ck_assert_msg(sm_fixture_append(f.conn, "public", SM_FIXTURE_BYTEA, "k-1", 4, types, datas,
					metas, err_buf, sizeof err_buf) == 0, "%s", err_buf);
	ck_assert_msg(sm_fixture_snapshot(f.conn, "public", SM_FIXTURE_BYTEA, "k-1", 1, COUNTER,
					  "{\"id\":null,\"by\":{}}", "{\"snapshot_module_version\":1}",
					  err_buf, sizeof err_buf) == 0, "%s", err_buf);
	fx_load(&f, env_t,
		"  { type = \"" COUNTER "\"; snapshot_version = 2;\n"
		"    initial = \"{id: null, by: {}}\";\n"
		"    events = (\n"
		"      { on = \"Elixir.Counter.Created\"; do = \"id = event.id\"; },\n"
		"      { on = \"Elixir.Counter.Added\"; do = \"by[event.n] = true\"; }\n"
		"    ); }", "t");
	rebuild_ok(f.eng);
	tl_assert_valuef(f.conn, "1.5,100.0,7",
			 "SELECT string_agg(k, ',' ORDER BY k) FROM migration.snapshots,"
			 " jsonb_object_keys(convert_from(data, 'UTF8')::jsonb -> 'by') k"
			 " WHERE source_uuid = 'k-1'");
	fx_free(&f);
}
END_TEST

/* An external reducer that reads its fingerprint and its factor from
 * files beside it: its code "changes" without snapmig.conf changing. */
static const char versioned_py[] =
	"import snapmig_reducer as sr\n"
	"fp = open('fp.txt').read().strip()\n"
	"mult = int(open('mult.txt').read())\n"
	"def added(state, data, ev):\n"
	"    state['count'] += data['n'] * mult\n"
	"    return state\n"
	"sr.run({'" ACCOUNT "': sr.Aggregate(initial={'count': 0},\n"
	"    handlers={'Elixir.Account.Added': added}, fingerprint=fp)})\n";

START_TEST(test_an_external_reducers_own_fingerprint_makes_its_rows_stale)
{
	char *aggs = account_aggregate("exec python3 versioned.py");
	sm_inventory *inv = NULL;
	fx f;

	fx_init_in(&f, "public", NULL, aggs);
	write_in(&f, "versioned.py", versioned_py);
	write_in(&f, "fp.txt", "build-1\n");
	write_in(&f, "mult.txt", "1\n");
	account(&f, "a-1", 3);
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "a-1", "6");
	ck_assert_int_eq(inventory_of(f.eng, ACCOUNT, &inv).target_current, 1);
	sm_inventory_free(inv);

	write_in(&f, "fp.txt", "build-2\n");
	write_in(&f, "mult.txt", "2\n");
	ck_assert_int_eq(inventory_of(f.eng, ACCOUNT, &inv).target_current, 0);
	sm_inventory_free(inv);
	rebuild_ok(f.eng);
	assert_count(&f, "migration", "a-1", "12");
	free(aggs);
	fx_free(&f);
}
END_TEST

/* An external reducer whose code "changes" at every start: its fingerprint
 * and its factor are the number of times it was started. */
static const char restarting_py[] =
	"import snapmig_reducer as sr\n"
	"n = int(open('starts.txt').read()) + 1\n"
	"open('starts.txt', 'w').write(str(n))\n"
	"def added(state, data, ev):\n"
	"    state['count'] += data['n'] * n\n"
	"    return state\n"
	"sr.run({'" ACCOUNT "': sr.Aggregate(initial={'count': 0},\n"
	"    handlers={'Elixir.Account.Added': added}, fingerprint='build-%d' % n)})\n";

/* A row is labelled with the fingerprint of the process that folded it,
 * not of another start of the same reducer. */
START_TEST(test_rows_carry_the_fingerprint_of_the_process_that_made_them)
{
	char *aggs = account_aggregate("exec python3 restarting.py");
	char *label, *count, want[32];
	fx f;

	fx_init_in(&f, "public", NULL, aggs);
	write_in(&f, "restarting.py", restarting_py);
	write_in(&f, "starts.txt", "0\n");
	account(&f, "a-1", 3);
	rebuild_ok(f.eng);
	label = tl_query_valuef(f.conn, "SELECT fp.described ->> 'hello_fingerprint' FROM migration.snapmig_rows r"
				" JOIN migration.snapmig_fingerprints fp USING (fp_id) WHERE r.source_uuid = 'a-1'");
	count = count_of(&f, "migration", "a-1");
	ck_assert_msg(strncmp(label, "build-", 6) == 0, "label: %s", label);
	/* 1 + 2 + 3 events' n, times the factor of the start that folded them. */
	snprintf(want, sizeof want, "%d", 6 * atoi(label + 6));
	ck_assert_msg(strcmp(count, want) == 0, "a row made by another start than its label %s: "
		      "count %s, that start gives %s", label, count, want);
	free(label);
	free(count);
	free(aggs);
	fx_free(&f);
}
END_TEST

/* ------------------------------------------------------ one run at a time */

static const char slow_py[] =
	"import time\n"
	"import snapmig_reducer as sr\n"
	"def added(state, data, ev):\n"
	"    time.sleep(0.05)\n"
	"    state['count'] += data['n']\n"
	"    return state\n"
	"sr.run({'" ACCOUNT "': sr.Aggregate(initial={'count': 0},\n"
	"    handlers={'Elixir.Account.Added': added})})\n";

/* Starts a rebuild of the slow reducer and returns once it runs. */
static sm_run *slow_run(fx *f)
{
	sm_progress p;
	sm_run *run = NULL;
	sm_error err;

	ck_assert_msg(sm_rebuild_start(f->eng, NULL, &run, &err) == SM_OK, "%s", err.message);
	for (int i = 0; i < 600; i++) {
		struct timespec ts = { 0, 50 * 1000000L };
		bool going;

		sm_run_progress(run, &p);
		going = p.state == SM_RUN_RUNNING && p.total.events_done > 0;
		ck_assert_msg(p.state <= SM_RUN_RUNNING, "the first run ended: %s", p.error.message);
		sm_progress_clear(&p);
		if (going)
			return run;
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("the first run did not start");
	return NULL;
}

START_TEST(test_a_second_operation_on_a_target_in_use_is_refused_naming_the_holder)
{
	char *aggs = account_aggregate("exec python3 slow.py");
	char host[256], pid[32];
	sm_engine *other = NULL;
	sm_copy_result *res = NULL;
	sm_rollback_result *rb = NULL;
	sm_run *run;
	sm_error err;
	fx f;

	fx_init_in(&f, "public", NULL, aggs);
	write_in(&f, "slow.py", slow_py);
	account(&f, "a-1", 400);
	ck_assert_int_eq(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	run = slow_run(&f);

	ck_assert_int_eq(sm_engine_open(f.cfg, "t", NULL, &other, &err), SM_OK);
	ck_assert_int_ne(rebuild_on(other, NULL, &err), SM_OK);
	assert_mentions(&err, "rebuild");
	assert_mentions(&err, host);
	assert_mentions(&err, pid);
	assert_mentions(&err, "started");
	ck_assert_int_ne(sm_copy_run(other, NULL, NULL, &res, &err), SM_OK);
	ck_assert_ptr_null(res);
	assert_mentions(&err, "rebuild");
	assert_mentions(&err, pid);
	ck_assert_int_ne(sm_rollback_run(other, 0, NULL, &rb, &err), SM_OK);
	assert_mentions(&err, "rebuild");

	sm_run_cancel(run);
	(void)sm_run_wait(run, &err);
	sm_run_free(run);
	sm_engine_close(other);
	/* Free again once the run has ended (Counter alone: quick). */
	fx_load(&f, env_t, COUNTER_RULES, "t");
	rebuild_ok(f.eng);
	free(aggs);
	fx_free(&f);
}
END_TEST

/* --------------------------------------------------------------- rollback */

START_TEST(test_rollback_undoes_the_last_copy_that_changed_something)
{
	sm_copy_result *first, *second;
	sm_rollback_result *rb = NULL;
	char *before, *after;
	sm_error err;
	fx f;

	fx_init(&f);
	counter(&f, "public", "c-1", 3);
	counter(&f, "public", "c-2", 2);
	before = rows_of(&f, "public");
	rebuild_ok(f.eng);
	first = copy_ok(f.eng);
	ck_assert_int_eq(first->replaced, 2);
	/* Nothing left to copy: this one changes nothing. */
	second = copy_ok(f.eng);
	ck_assert_int_eq(second->replaced + second->inserted + second->removed, 0);

	ck_assert_int_ne(sm_rollback_run(f.eng, second->copy_id, NULL, &rb, &err), SM_OK);
	assert_mentions(&err, "changed nothing");
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &err) == SM_OK, "%s", err.message);
	ck_assert_int_eq(rb->copy_id, first->copy_id);
	ck_assert_int_eq(rb->restored, 2);
	after = rows_of(&f, "public");
	ck_assert_str_eq(after, before);
	sm_rollback_result_free(rb);
	sm_copy_result_free(first);
	sm_copy_result_free(second);
	free(before);
	free(after);
	fx_free(&f);
}
END_TEST

int main(void)
{
	TCase *names = tcase_create("names");
	TCase *secrets = tcase_create("passwords");
	TCase *reducers = tcase_create("reducers");
	TCase *owners = tcase_create("ownership");
	TCase *fps = tcase_create("fingerprints");
	TCase *ops = tcase_create("operations");

	tcase_set_timeout(names, 120);
	tcase_add_test(names, test_schema_names_longer_than_63_bytes_are_refused_at_load);
	tcase_add_test(names, test_a_target_that_is_the_source_schema_is_refused_before_anything_is_written);
	tcase_add_test(names, test_a_target_snapshots_that_is_not_a_table_is_refused);
	tcase_add_test(secrets, test_a_malformed_uri_does_not_show_its_password);
	tcase_set_timeout(reducers, 120);
	tcase_add_test(reducers, test_each_run_logs_its_reducer_to_a_file_of_its_own);
	tcase_add_test(reducers, test_a_reducer_leaves_no_process_behind);
	tcase_add_test(reducers, test_a_number_key_in_a_generated_row_is_written_as_elixir_writes_it);
	tcase_set_timeout(owners, 120);
	tcase_add_test(owners, test_a_target_holding_another_stores_rows_is_refused_naming_both_stores);
	tcase_add_test(owners, test_an_older_targets_rows_are_never_shipped_and_a_rebuild_replaces_them);
	tcase_add_test(owners, test_a_target_schema_holding_another_live_store_is_refused);
	tcase_set_timeout(fps, 120);
	tcase_add_test(fps, test_rows_of_a_changed_reducer_are_stale_never_copied_and_regenerated);
	tcase_add_test(fps, test_a_run_resumed_after_a_reducer_fix_keeps_none_of_the_old_rows);
	tcase_add_test(fps, test_a_changed_setting_that_changes_output_makes_the_rows_stale);
	tcase_add_test(fps, test_an_external_reducers_own_fingerprint_makes_its_rows_stale);
	tcase_add_test(fps, test_rows_carry_the_fingerprint_of_the_process_that_made_them);
	tcase_set_timeout(ops, 120);
	tcase_add_test(ops, test_a_second_operation_on_a_target_in_use_is_refused_naming_the_holder);
	tcase_add_test(ops, test_rollback_undoes_the_last_copy_that_changed_something);
	return tl_run_cases("safety", names, secrets, reducers, owners, fps, ops, (TCase *)NULL);
}
