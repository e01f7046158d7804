/*
 * Reliability against the real test server, beyond tests/test_faults.c:
 * SIGKILL of a copying process at random moments (the live table is always
 * exactly the state before or after), EventStore writers racing a copy and
 * a rebuild (no lost newer snapshot, no corrupted catch-up), hostile
 * snapshots and jsonb event data, names with quotes, backslashes,
 * semicolons and unicode, and memory: a 100 MB event string folds in
 * bounded memory and failing instances leak nothing.
 */
#include "config.h"

#include <check.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/db.h"
#include "engine/store.h"
#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/generated.h"
#include "tests/testlib.h"
#include "util/alloc.h"
#include "util/clock.h"

#ifdef SM_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* An aggregate type with every character that breaks naive SQL or
 * config quoting. */
#define WEIRD_TYPE "Elixir.We'ird\"Ty\\pe;é😀"

typedef struct fixture {
	char *conninfo;
	PGconn *conn;
	enum sm_fixture_mode mode;
	char *target;             /* unquoted */
	char *tq;                 /* quoted target */
	sm_config *cfg;
	sm_engine *eng;
} fixture;

static char *cfg_quote(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1);
	size_t n = 0;

	ck_assert_ptr_nonnull(out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
	return out;
}

static void setup_full(fixture *f, enum sm_fixture_mode mode, const char *target, int jobs, int batch)
{
	char err[1024], *text, *qt, *qw;

	memset(f, 0, sizeof *f);
	f->mode = mode;
	f->conninfo = tl_new_database();
	f->conn = tl_connect(f->conninfo);
	f->target = strdup(target);
	{
		char *q = PQescapeIdentifier(f->conn, target, strlen(target));

		f->tq = strdup(q);
		PQfreemem(q);
	}
	ck_assert_msg(sm_fixture_create_store(f->conn, "public", mode, err, sizeof err) == 0, "%s", err);
	qt = cfg_quote(target);
	qw = cfg_quote(WEIRD_TYPE);
	text = sm_xasprintf(
		"defaults = { jobs = %d; batch_size = %d; target_schema = \"%s\"; copy_max_lag = 1000000; };\n"
		"environments = ( { name = \"t\"; conninfo = \"%s\"; },\n"
		"  { name = \"u\"; conninfo = \"%s\"; target_schema = \"uninterrupted\"; } );\n"
		"aggregates = (\n"
		"  { type = \"Elixir.Counter\"; snapshot_version = 2; initial = \"{count: 0}\";\n"
		"    events = ( { on = \"Elixir.Counter.Added\"; do = \"count += event.n\"; } ); },\n"
		"  { type = \"Elixir.Holder\"; snapshot_version = 1; initial = \"{last: null}\";\n"
		"    events = ( { on = \"Elixir.Holder.Put\"; do = \"last = event\"; } ); },\n"
		"  { type = \"%s\"; snapshot_version = 3; initial = \"{count: 0}\";\n"
		"    events = ( { on = \"Elixir.Counter.Added\"; do = \"count += event.n\"; } ); }\n"
		");\n", jobs, batch, qt, f->conninfo, f->conninfo, qw);
	tl_config_open(text, "t", &f->cfg, &f->eng);
	free(qt);
	free(qw);
	free(text);
}

static void setup(fixture *f, enum sm_fixture_mode mode)
{
	setup_full(f, mode, "migration", 2, 5);
}

static void teardown(fixture *f)
{
	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	PQfinish(f->conn);
	free(f->conninfo);
	free(f->target);
	free(f->tq);
}

static long long query_ll(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long long query_ll(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;
	long long n;

	va_start(ap, fmt);
	sql = sm_xvasprintf(fmt, ap);
	va_end(ap);
	v = tl_query_value(conn, sql);
	ck_assert_msg(v != NULL, "no row: %s", sql);
	n = atoll(v);
	free(v);
	free(sql);
	return n;
}

static void exec_params(PGconn *conn, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, p, NULL, NULL, 0);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

static int rebuild_opts(fixture *f, const sm_rebuild_options *o, sm_progress *prog, sm_error *e)
{
	sm_run *run;
	int rc;

	sm_error_clear(e);
	ck_assert_msg(sm_rebuild_start(f->eng, o, &run, e) == SM_OK, "%s", e->message);
	rc = sm_run_wait(run, e);
	if (prog)
		sm_run_progress(run, prog);
	sm_run_free(run);
	return rc;
}

static void rebuild_ok(fixture *f, sm_progress *prog)
{
	sm_error e;

	ck_assert_msg(rebuild_opts(f, NULL, prog, &e) == SM_OK, "rebuild: %s", e.message);
}

/* The failure recorded for uuid ("kind vN: message"), or NULL. */
static char *failure_of(fixture *f, const char *uuid)
{
	char *sql = sm_xasprintf("SELECT kind || ' v' || COALESCE(stream_version, 0) || ': ' || message"
				 " FROM %s.snapmig_failures WHERE source_uuid = $1", f->tq);
	const char *p[] = { uuid };
	PGresult *r = PQexecParams(f->conn, sql, 1, NULL, p, NULL, NULL, 0);
	char *v = NULL;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	if (PQntuples(r) > 0)
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}

/* JSON text of a column, whatever the store's encoding. */
static const char *json_expr(enum sm_fixture_mode m)
{
	return m == SM_FIXTURE_BYTEA ? "convert_from(%1$s, 'UTF8')"
	     : m == SM_FIXTURE_JSONB ? "%1$s::text" : "(%1$s #>> '{}')";
}

/* A field of the generated row's data as text, or NULL when there is no row. */
static char *generated_field(fixture *f, const char *uuid, const char *field)
{
	char expr[128];
	char *sql;
	const char *p[] = { uuid, field };
	PGresult *r;
	char *v = NULL;

	snprintf(expr, sizeof expr, json_expr(f->mode), "data");
	sql = sm_xasprintf("SELECT (%s)::jsonb ->> $2 FROM %s.snapshots WHERE source_uuid = $1", expr, f->tq);
	r = PQexecParams(f->conn, sql, 2, NULL, p, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	if (PQntuples(r) > 0)
		v = strdup(PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	free(sql);
	return v;
}

static void append_one(fixture *f, const char *uuid, const char *type, const char *data)
{
	char err[1024];
	const char *types[] = { type }, *datas[] = { data };

	ck_assert_msg(sm_fixture_append(f->conn, "public", f->mode, uuid, 1, types, datas, NULL,
					err, sizeof err) == 0, "%s", err);
}

static void snapshot(fixture *f, const char *uuid, long long version, const char *type,
		     const char *data, const char *meta)
{
	char err[1024];

	ck_assert_msg(sm_fixture_snapshot(f->conn, "public", f->mode, uuid, version, type, data, meta,
					  err, sizeof err) == 0, "%s", err);
}

/* Waits until no snapmig backend is left in the test's database (a
 * killed client's backend finishes its statement first, then notices). */
static void wait_no_snapmig_backends(fixture *f)
{
	double deadline = sm_now() + 60;
	long long n;

	for (;;) {
		n = query_ll(f->conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
			     " AND application_name = 'snapmig' AND pid <> pg_backend_pid()");
		if (n == 0 || sm_now() > deadline)
			break;
		usleep(20000);
	}
	ck_assert_msg(n == 0, "%lld snapmig backends still running", n);
}

/* ------------------------------------------------- copy: the scenario */

static const char *const counter_only[] = { "Elixir.Counter" };

static sm_copy_options counter_copy(bool remove_stale)
{
	sm_copy_options o;

	memset(&o, 0, sizeof o);
	o.types = counter_only;
	o.n_types = 1;
	o.remove_stale = remove_stale;
	return o;
}

/*
 * n instances k-000001..: streams at version 5; generated rows at 5 with
 * module version 2 for all but every 10th (those have a valid live row at
 * 7: keep); live rows at 3 with module version 1 (replace) except every
 * 10th+1 (no live row: insert); plus n/20 stale live rows z-* without a
 * generated row (removed with remove_stale).
 */
static void copy_scenario(fixture *f, int n)
{
	char *sql;
	sm_error e;

	ck_assert_int_eq(f->mode, SM_FIXTURE_BYTEA);
	ck_assert_msg(sm_store_create_target(f->conn, f->target, SM_COL_BYTEA, SM_COL_BYTEA, &e) == SM_OK,
		      "%s", e.message);
	sql = sm_xasprintf(
		"INSERT INTO streams (stream_uuid, stream_version)"
		" SELECT 'k-' || lpad(i::text, 6, '0'), CASE WHEN i %% 10 = 0 THEN 7 ELSE 5 END"
		" FROM generate_series(1, %1$d) i;"
		"INSERT INTO snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT 'k-' || lpad(i::text, 6, '0'), CASE WHEN i %% 10 = 0 THEN 7 ELSE 3 END, 'Elixir.Counter',"
		"  convert_to('{\"count\":' || i || ',\"pad\":\"' || repeat('x', 200) || '\"}', 'UTF8'),"
		"  convert_to('{\"snapshot_module_version\":' || CASE WHEN i %% 10 = 0 THEN 2 ELSE 1 END || '}', 'UTF8')"
		" FROM generate_series(1, %1$d) i WHERE i %% 10 <> 1;"
		"INSERT INTO snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT 'z-' || i, 1, 'Elixir.Counter', convert_to('{\"count\":0}', 'UTF8'), NULL"
		" FROM generate_series(1, %1$d / 20) i;"
		"INSERT INTO %2$s.snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT 'k-' || lpad(i::text, 6, '0'), 5, 'Elixir.Counter',"
		"  convert_to('{\"count\":' || (2 * i) || ',\"pad\":\"' || repeat('y', 200) || '\"}', 'UTF8'),"
		"  convert_to('{\"snapshot_module_version\":2}', 'UTF8')"
		" FROM generate_series(1, %1$d) i",
		n, f->tq);
	tl_exec(f->conn, sql);
	free(sql);
	/* Made by the current configuration, as a rebuild records it. */
	tl_mark_generated(f->conn, f->eng, NULL);
	tl_exec(f->conn, "ANALYZE");
}

/* md5 of every live row, ordered; with_created also covers created_at
 * (a copy sets it to the copy's time, so "after" is compared without it). */
static char *live_md5(fixture *f, bool with_created)
{
	return tl_query_valuef(f->conn,
		"SELECT md5(COALESCE(string_agg(concat_ws('|', source_uuid, source_version, source_type,"
		" data::text, COALESCE(metadata::text, '-')%s), E'\\n' ORDER BY source_uuid), ''))"
		" FROM public.snapshots", with_created ? ", created_at" : "");
}

START_TEST(test_sigkill_at_random_moments_during_copy_leaves_the_live_table_before_or_after)
{
	fixture f;
	sm_copy_options o = counter_copy(true);
	sm_copy_result *r;
	sm_rollback_result *rb;
	sm_error e;
	char *before_full, *before, *after, *v;
	double t0, copy_seconds;
	int rounds = 10, n_before = 0, n_after = 0;

	setup(&f, SM_FIXTURE_BYTEA);
	copy_scenario(&f, 20000);
	before_full = live_md5(&f, true);
	before = live_md5(&f, false);

	/* The "after" state and how long a copy takes. */
	t0 = sm_now();
	ck_assert_msg(sm_copy_run(f.eng, &o, NULL, &r, &e) == SM_OK, "%s", e.message);
	copy_seconds = sm_now() - t0;
	ck_assert(r->verified);
	ck_assert_int_gt(r->replaced, 0);
	ck_assert_int_gt(r->inserted, 0);
	ck_assert_int_gt(r->kept_newer, 0);
	ck_assert_int_gt(r->removed, 0);
	sm_copy_result_free(r);
	after = live_md5(&f, false);
	ck_assert_str_ne(after, before);
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &e) == SM_OK, "%s", e.message);
	sm_rollback_result_free(rb);
	v = live_md5(&f, true);
	ck_assert_str_eq(v, before_full);
	free(v);

	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int round = 0; round < rounds; round++) {
		/* From before the connection to a little after the commit. */
		useconds_t delay = (useconds_t)(rand() % (int)(copy_seconds * 1.3e6 + 1000));
		pid_t pid = fork();
		int status;

		ck_assert(pid >= 0);
		if (pid == 0) {
			sm_copy_result *cr = NULL;
			sm_error ce;

			_exit(sm_copy_run(f.eng, &o, NULL, &cr, &ce) == SM_OK ? 0 : 1);
		}
		usleep(delay);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		wait_no_snapmig_backends(&f);
		v = live_md5(&f, false);
		if (strcmp(v, before) == 0) {
			char *full = live_md5(&f, true);

			/* Nothing was touched, not even created_at. */
			ck_assert_str_eq(full, before_full);
			free(full);
			n_before++;
		} else {
			ck_assert_msg(strcmp(v, after) == 0,
				      "round %d (killed after %u us): the live table is neither before nor after",
				      round, (unsigned)delay);
			n_after++;
			/* The killed copy committed: its rollback must work. */
			ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &e) == SM_OK, "%s", e.message);
			ck_assert_int_eq(rb->drifted, 0);
			sm_rollback_result_free(rb);
			free(v);
			v = live_md5(&f, true);
			ck_assert_str_eq(v, before_full);
		}
		free(v);
	}
	fprintf(stderr, "copy of 20000 rows takes %.3f s; %d kills left it before, %d after\n",
		copy_seconds, n_before, n_after);
	/* And a later copy and rollback still work. */
	ck_assert_msg(sm_copy_run(f.eng, &o, NULL, &r, &e) == SM_OK, "%s", e.message);
	ck_assert(r->verified);
	sm_copy_result_free(r);
	v = live_md5(&f, false);
	ck_assert_str_eq(v, after);
	free(v);
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &e) == SM_OK, "%s", e.message);
	sm_rollback_result_free(rb);
	v = live_md5(&f, true);
	ck_assert_str_eq(v, before_full);
	free(v);
	free(before_full);
	free(before);
	free(after);
	teardown(&f);
}
END_TEST

/* ----------------------------------------- concurrent writers and copy */

/* EventStore's snapshot upsert, at module version 2. */
static const char upsert_sql[] =
	"INSERT INTO public.snapshots (source_uuid, source_version, source_type, data, metadata)"
	" VALUES ($1, $2::bigint, 'Elixir.Counter', convert_to($3, 'UTF8'),"
	"  convert_to('{\"snapshot_module_version\":2}', 'UTF8'))"
	" ON CONFLICT (source_uuid) DO UPDATE SET source_version = excluded.source_version,"
	" source_type = excluded.source_type, data = excluded.data,"
	" metadata = excluded.metadata, created_at = now()";

START_TEST(test_newer_snapshot_written_between_plan_and_copy_is_kept)
{
	fixture f;
	sm_copy_options o = counter_copy(false);
	sm_copy_plan *plan;
	sm_copy_result *r;
	sm_error e;
	const char *p[] = { "k-000002", "9", "{\"count\":\"writer\"}" };

	setup(&f, SM_FIXTURE_BYTEA);
	copy_scenario(&f, 100);
	ck_assert_msg(sm_copy_plan_read(f.eng, &o, NULL, &plan, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(plan->types[0].keep_newer, 10);
	sm_copy_plan_free(plan);
	/* The application snapshots k-000002 (planned as a replace) at 9. */
	exec_params(f.conn, upsert_sql, 3, p);
	ck_assert_msg(sm_copy_run(f.eng, &o, NULL, &r, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(r->kept_newer, 11);
	ck_assert(r->verified);
	sm_copy_result_free(r);
	tl_assert_valuef(f.conn, "9 {\"count\":\"writer\"}",
			 "SELECT source_version || ' ' || convert_from(data, 'UTF8')"
			 " FROM snapshots WHERE source_uuid = 'k-000002'");
	teardown(&f);
}
END_TEST

/* The pid of a backend of this database waiting for a lock whose query
 * starts with prefix; 0 when none appears within 30 s. */
static int waiting_backend(fixture *f, const char *app, const char *like)
{
	const char *p[] = { app, like };

	return tl_wait_for_pid(f->conninfo,
		"SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
		" AND application_name = $1 AND wait_event_type = 'Lock' AND query LIKE $2", 2, p);
}

START_TEST(test_copy_blocks_an_eventstore_writer_and_its_later_write_survives)
{
	fixture f;
	tl_copy_thread t;
	sm_copy_options o;
	PGconn *writer;
	PGresult *res;
	sm_rollback_result *rb;
	sm_error e;
	const char *p[] = { "k-000003", "50", "{\"count\":\"app\"}" };
	char *app_ci;
	int pid;

	setup(&f, SM_FIXTURE_BYTEA);
	copy_scenario(&f, 100);
	/* Stop the copy right after it has locked the live table: it also
	 * needs a SHARE lock on the generated table, which we hold off. */
	tl_exec(f.conn, "BEGIN");
	tl_execf(f.conn, "LOCK TABLE %s.snapshots IN ROW EXCLUSIVE MODE", f.tq);
	o = counter_copy(false);
	tl_copy_start(&t, f.eng, &o);
	pid = waiting_backend(&f, "snapmig", "%LOCK TABLE%");
	ck_assert_int_gt(pid, 0);
	/* The application now writes a newer snapshot of k-000003: it must
	 * wait for the copy. */
	app_ci = sm_xasprintf("%s application_name=eventstore", f.conninfo);
	writer = tl_connect(app_ci);
	ck_assert_int_eq(PQsendQueryParams(writer, upsert_sql, 3, NULL, p, NULL, NULL, 0), 1);
	ck_assert_int_gt(waiting_backend(&f, "eventstore", "INSERT INTO public.snapshots%"), 0);
	/* The copy reports its wait (about once a second) meanwhile. */
	{
		double deadline = sm_now() + 10;

		while (tl_copy_waits(&t, NULL) < 1 && sm_now() < deadline)
			usleep(50000);
		ck_assert_int_ge(tl_copy_waits(&t, NULL), 1);
	}
	tl_exec(f.conn, "COMMIT");
	tl_copy_join(&t);
	ck_assert_msg(t.rc == SM_OK, "%s", t.err.message);
	ck_assert(t.res->verified);
	/* Then the writer goes through, on top of the copied row. */
	res = PQgetResult(writer);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
	PQclear(res);
	ck_assert_ptr_null(PQgetResult(writer));
	tl_assert_valuef(f.conn, "50 {\"count\":\"app\"}",
			 "SELECT source_version || ' ' || convert_from(data, 'UTF8')"
			 " FROM snapshots WHERE source_uuid = 'k-000003'");
	/* A rollback leaves the application's row (drift) and says so. */
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(rb->drifted, 1);
	ck_assert_uint_ge(rb->n_drifted_uuids, 1);
	ck_assert_str_eq(rb->drifted_uuids[0], "k-000003");
	sm_rollback_result_free(rb);
	tl_assert_valuef(f.conn, "50", "SELECT source_version FROM snapshots WHERE source_uuid = 'k-000003'");
	sm_copy_result_free(t.res);
	PQfinish(writer);
	free(app_ci);
	teardown(&f);
}
END_TEST

#define N_HOT 40

struct upsert_thread {
	const char *conninfo;
	atomic_bool stop;
	long long last[N_HOT];     /* last committed source_version per hot uuid */
	long long writes;
	double max_latency;
};

static void *upsert_main(void *arg)
{
	struct upsert_thread *u = arg;
	PGconn *conn = tl_connect(u->conninfo);

	for (long long it = 1; !atomic_load(&u->stop); it++) {
		int k = (int)(it % N_HOT);
		char uuid[32], version[32], data[64];
		const char *p[] = { uuid, version, data };
		double t0 = sm_now(), dt;
		PGresult *r;

		/* k-000002, k-000003, ...: rows the copy replaces or inserts. */
		snprintf(uuid, sizeof uuid, "k-%06d", 2 + k);
		snprintf(version, sizeof version, "%lld", 100 + it);
		snprintf(data, sizeof data, "{\"count\":%lld}", it);
		r = PQexecParams(conn, upsert_sql, 3, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "writer: %s", PQresultErrorMessage(r));
			PQclear(r);
			break;
		}
		PQclear(r);
		dt = sm_now() - t0;
		if (dt > u->max_latency)
			u->max_latency = dt;
		u->last[k] = 100 + it;
		u->writes++;
	}
	PQfinish(conn);
	return NULL;
}

START_TEST(test_concurrent_eventstore_upserts_during_copies_are_never_lost)
{
	fixture f;
	struct upsert_thread u;
	pthread_t th;
	sm_copy_options o = counter_copy(false);
	sm_error e;

	setup(&f, SM_FIXTURE_BYTEA);
	copy_scenario(&f, 5000);
	memset(&u, 0, sizeof u);
	u.conninfo = f.conninfo;
	ck_assert_int_eq(pthread_create(&th, NULL, upsert_main, &u), 0);
	usleep(100000);
	for (int i = 0; i < 3; i++) {
		sm_copy_result *r;
		sm_rollback_result *rb;

		ck_assert_msg(sm_copy_run(f.eng, &o, NULL, &r, &e) == SM_OK, "%s", e.message);
		sm_copy_result_free(r);
		ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &e) == SM_OK, "%s", e.message);
		sm_rollback_result_free(rb);
	}
	atomic_store(&u.stop, true);
	pthread_join(th, NULL);
	fprintf(stderr, "%lld upserts during 3 copies and rollbacks; longest wait %.3f s\n",
		u.writes, u.max_latency);
	ck_assert_int_gt(u.writes, N_HOT);
	/* Every hot row is the application's last committed write. */
	for (int k = 0; k < N_HOT; k++) {
		char uuid[32];
		long long got;

		snprintf(uuid, sizeof uuid, "k-%06d", 2 + k);
		got = query_ll(f.conn, "SELECT source_version FROM snapshots WHERE source_uuid = '%s'", uuid);
		ck_assert_msg(got == u.last[k], "%s: live version %lld, the application last wrote %lld",
			      uuid, got, u.last[k]);
	}
	teardown(&f);
}
END_TEST

/* ---------------------------------------- concurrent writers and rebuild */

struct app_thread {
	fixture *f;
	const char *conninfo;
	int streams;
	atomic_bool stop;
	long long rounds;
};

/* What the application does meanwhile: append an event to a stream
 * (data n = its version) and write the snapshot at the new version with
 * the right state (count = 1 + 2 + ... + version), module version 2. */
static void *app_main(void *arg)
{
	struct app_thread *a = arg;
	PGconn *conn = tl_connect(a->conninfo);
	char err[1024];

	for (long long it = 0; !atomic_load(&a->stop); it++) {
		int s = a->streams - 1 - (int)(it % a->streams);
		char uuid[32], data[64], snap[64], *v;
		const char *types[] = { "Elixir.Counter.Added" }, *datas[] = { data };
		long long version;

		snprintf(uuid, sizeof uuid, "c-%03d", s);
		v = tl_query_valuef(conn, "SELECT stream_version + 1 FROM streams WHERE stream_uuid = '%s'", uuid);
		version = atoll(v);
		free(v);
		snprintf(data, sizeof data, "{\"n\":%lld}", version);
		if (sm_fixture_append(conn, "public", SM_FIXTURE_BYTEA, uuid, 1, types, datas, NULL,
				      err, sizeof err) != 0) {
			fprintf(stderr, "app: %s\n", err);
			break;
		}
		snprintf(snap, sizeof snap, "{\"count\":%lld}", version * (version + 1) / 2);
		if (sm_fixture_snapshot(conn, "public", SM_FIXTURE_BYTEA, uuid, version, "Elixir.Counter",
					snap, "{\"snapshot_module_version\":2}", err, sizeof err) != 0) {
			fprintf(stderr, "app: %s\n", err);
			break;
		}
		a->rounds++;
	}
	PQfinish(conn);
	return NULL;
}

START_TEST(test_snapshots_written_during_a_rebuild_do_not_corrupt_it)
{
	fixture f;
	struct app_thread a;
	pthread_t th;
	sm_rebuild_options opts;
	sm_progress prog;
	sm_error e;
	char err[1024];
	long long wrong;
	int streams = 60;

	setup_full(&f, SM_FIXTURE_BYTEA, "migration", 1, 1);
	for (int s = 0; s < streams; s++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "c-%03d", s);
		ck_assert(sm_fixture_append_generated(f.conn, "public", SM_FIXTURE_BYTEA, uuid, 2000,
			"'Elixir.Counter.Added'", "json_build_object('n', i)::text", err, sizeof err) == 0);
		/* Valid at 1000: a catch-up from the live snapshot. */
		snapshot(&f, uuid, 1000, "Elixir.Counter", "{\"count\":500500}",
			 "{\"snapshot_module_version\":2}");
	}
	memset(&a, 0, sizeof a);
	a.f = &f;
	a.conninfo = f.conninfo;
	a.streams = streams;
	memset(&opts, 0, sizeof opts);
	opts.jobs = 1;
	ck_assert_int_eq(pthread_create(&th, NULL, app_main, &a), 0);
	ck_assert_msg(rebuild_opts(&f, &opts, &prog, &e) == SM_OK, "%s", e.message);
	atomic_store(&a.stop, true);
	pthread_join(th, NULL);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	fprintf(stderr, "%lld application snapshots during the rebuild; %lld instances failed\n",
		a.rounds, prog.total.failed);
	sm_progress_clear(&prog);
	ck_assert_int_gt(a.rounds, 0);
	/* Every generated row is the exact state at its version. */
	wrong = query_ll(f.conn,
		"SELECT count(*) FROM migration.snapshots WHERE (convert_from(data, 'UTF8')::jsonb->>'count')::bigint"
		" <> source_version * (source_version + 1) / 2");
	if (wrong) {
		char *ex = tl_query_valuef(f.conn, "SELECT string_agg(source_uuid || ' v' || source_version || ' count '"
					   " || (convert_from(data, 'UTF8')::jsonb->>'count'), ', ') FROM (SELECT * FROM"
					   " migration.snapshots WHERE (convert_from(data, 'UTF8')::jsonb->>'count')::bigint"
					   " <> source_version * (source_version + 1) / 2 LIMIT 5) w");

		ck_abort_msg("%lld generated rows are not the state at their version, e.g. %s", wrong, ex);
	}
	/* A newer live snapshot is a valid start or leaves nothing to do:
	 * no instance fails because the application kept snapshotting. */
	ck_assert_int_eq(prog.total.failed, 0);
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM migration.snapmig_failures"), 0);
	/* A second run completes every instance, at its stream's version. */
	rebuild_ok(&f, &prog);
	ck_assert_int_eq(prog.total.failed, 0);
	sm_progress_clear(&prog);
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM migration.snapshots g JOIN streams s"
				  " ON s.stream_uuid = g.source_uuid WHERE g.source_version = s.stream_version"
				  " AND (convert_from(g.data, 'UTF8')::jsonb->>'count')::bigint"
				  " = g.source_version * (g.source_version + 1) / 2"), streams);
	teardown(&f);
}
END_TEST

/* The rebuild is held up after it has planned and before it reads (a
 * SHARE lock on the target table: planning only reads it, the workers'
 * writes wait; a lock on the store's tables would hold the chunk query
 * after it took its MVCC snapshot, which is not the case to test), and
 * meanwhile the application writes newer snapshots at the target
 * module version: one between the planned start and end (the rebuild
 * continues from it, skipping the events it holds), one at the stream's
 * end (nothing to generate; the live row stays), and one at an older
 * module version (not a start: that instance fails and says why).  The
 * chunks hold their instances as planned (engine/work.h), so it is the
 * same whichever process claims them, and whenever. */
struct locker {
	const char *conninfo;
	atomic_bool locked, release;
};

static void *locker_main(void *arg)
{
	struct locker *l = arg;
	PGconn *conn = tl_connect(l->conninfo);

	PQclear(PQexec(conn, "BEGIN; LOCK TABLE migration.snapshots IN SHARE MODE"));
	atomic_store(&l->locked, true);
	while (!atomic_load(&l->release))
		usleep(10000);
	PQclear(PQexec(conn, "COMMIT"));
	PQfinish(conn);
	return NULL;
}

START_TEST(test_newer_live_snapshots_written_during_a_rebuild_are_used_or_kept)
{
	fixture f;
	struct locker l;
	pthread_t th;
	sm_run *run;
	sm_progress p;
	sm_error e;
	char err[1024], *v;
	int rc;

	setup_full(&f, SM_FIXTURE_BYTEA, "migration", 1, 10);
	for (int s = 0; s < 3; s++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "n-%d", s);
		ck_assert(sm_fixture_append_generated(f.conn, "public", SM_FIXTURE_BYTEA, uuid, 100,
			"'Elixir.Counter.Added'", "json_build_object('n', i)::text", err, sizeof err) == 0);
		snapshot(&f, uuid, 10, "Elixir.Counter", "{\"count\":55}", "{\"snapshot_module_version\":2}");
	}
	tl_exec(f.conn, "CREATE SCHEMA migration;"
		" CREATE TABLE migration.snapshots (LIKE public.snapshots INCLUDING ALL)");
	memset(&l, 0, sizeof l);
	l.conninfo = f.conninfo;
	ck_assert_int_eq(pthread_create(&th, NULL, locker_main, &l), 0);
	while (!atomic_load(&l.locked))
		usleep(10000);
	sm_error_clear(&e);
	ck_assert(sm_rebuild_start(f.eng, NULL, &run, &e) == SM_OK);
	/* Planned (3 catch-ups from version 10 to 100); the workers now
	 * wait for the lock before they read. */
	tl_run_wait_planned(run);
	usleep(300000);
	/* The application's snapshots: a count of 1 + ... + v is the state. */
	/* (n-0's count is off by a million, to show which start was used.) */
	snapshot(&f, "n-0", 40, "Elixir.Counter", "{\"count\":1000820}",
		 "{\"snapshot_module_version\":2,\"by\":\"app\"}");
	snapshot(&f, "n-1", 100, "Elixir.Counter", "{\"count\":5050}", "{\"snapshot_module_version\":2}");
	snapshot(&f, "n-2", 50, "Elixir.Counter", "{\"count\":1275}", "{\"snapshot_module_version\":1}");
	atomic_store(&l.release, true);
	pthread_join(th, NULL);
	rc = sm_run_wait(run, &e);
	sm_run_progress(run, &p);
	sm_run_free(run);
	ck_assert_msg(rc == SM_OK, "%s", e.message);
	ck_assert_int_eq(p.total.failed, 1);
	sm_progress_clear(&p);
	/* n-0: continued from v40 (the million shows it), folded 41..100. */
	tl_assert_valuef(f.conn, "100 {\"count\":1005050} {\"snapshot_module_version\":2,\"by\":\"app\"}",
			 "SELECT source_version || ' ' || convert_from(data, 'UTF8') || ' '"
			 " || convert_from(metadata, 'UTF8') FROM migration.snapshots WHERE source_uuid = 'n-0'");
	/* n-1: the live snapshot is already at the end; nothing generated. */
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM migration.snapshots WHERE source_uuid = 'n-1'"), 0);
	/* n-2: now at another module version: failed, saying why. */
	v = failure_of(&f, "n-2");
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(strstr(v, "the start snapshot changed while rebuilding") != NULL, "%s", v);
	free(v);
	teardown(&f);
}
END_TEST

/* ------------------------------------------------------- hostile data */

static const enum sm_fixture_mode all_modes[] = {
	SM_FIXTURE_BYTEA, SM_FIXTURE_JSONB, SM_FIXTURE_JSONB_TEXT,
};

START_TEST(test_unreadable_start_snapshots_fail_only_their_instance)
{
	/* Live snapshot data at a valid module version: the catch-up starts
	 * from it, so it must be a JSON object. */
	static const struct { const char *uuid, *bytea, *jsonb; } bad[] = {
		{ "not-json", "\\x6e6f7065207b", "to_jsonb('nope {'::text)" },
		{ "array", "\\x5b312c325d", "'[1,2]'::jsonb" },
		{ "string", "\\x2278220a", "'\"x\"'::jsonb" },
		{ "number", "\\x3432", "'42'::jsonb" },
		{ "bad-utf8", "\\x7b22636f756e74223a22ff227d", NULL },
		{ "nul-byte", "\\x7b22636f756e74223a3100207d", NULL },
		{ "truncated", "\\x7b22636f756e74223a", "to_jsonb('{\"count\":'::text)" },
	};
	fixture f;
	sm_progress prog;
	char *v, *sql;
	size_t n_bad = 0;

	setup(&f, all_modes[_i]);
	append_one(&f, "good", "Elixir.Counter.Added", "{\"n\":1}");
	append_one(&f, "good", "Elixir.Counter.Added", "{\"n\":2}");
	snapshot(&f, "good", 1, "Elixir.Counter", "{\"count\":10}", "{\"snapshot_module_version\":2}");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *expr = f.mode == SM_FIXTURE_BYTEA ? bad[i].bytea : bad[i].jsonb;
		const char *meta = f.mode == SM_FIXTURE_BYTEA
			? "convert_to('{\"snapshot_module_version\":2}', 'UTF8')"
			: f.mode == SM_FIXTURE_JSONB ? "'{\"snapshot_module_version\":2}'::jsonb"
			: "to_jsonb('{\"snapshot_module_version\":2}'::text)";

		if (!expr)
			continue;
		append_one(&f, bad[i].uuid, "Elixir.Counter.Added", "{\"n\":1}");
		append_one(&f, bad[i].uuid, "Elixir.Counter.Added", "{\"n\":2}");
		sql = sm_xasprintf("INSERT INTO snapshots (source_uuid, source_version, source_type, data, metadata)"
				   " VALUES ('%s', 1, 'Elixir.Counter', %s%s%s, %s)", bad[i].uuid,
				   f.mode == SM_FIXTURE_BYTEA ? "'" : "", expr,
				   f.mode == SM_FIXTURE_BYTEA ? "'::bytea" : "", meta);
		tl_exec(f.conn, sql);
		free(sql);
		n_bad++;
	}
	rebuild_ok(&f, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	ck_assert_int_eq(prog.total.failures[SM_FAIL_BAD_SNAPSHOT], (long long)n_bad);
	ck_assert_int_eq(prog.total.failed, (long long)n_bad);
	sm_progress_clear(&prog);
	v = generated_field(&f, "good", "count");
	ck_assert_str_eq(v, "12");
	free(v);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (!(f.mode == SM_FIXTURE_BYTEA ? bad[i].bytea : bad[i].jsonb))
			continue;
		v = failure_of(&f, bad[i].uuid);
		ck_assert_msg(v != NULL, "%s did not fail", bad[i].uuid);
		ck_assert_msg(strncmp(v, "bad_snapshot v0: snapshot data: ", 32) == 0, "%s: %s", bad[i].uuid, v);
		free(v);
		v = generated_field(&f, bad[i].uuid, "count");
		ck_assert_ptr_null(v);
	}
	teardown(&f);
}
END_TEST

/* JSON text of an object nested depth levels deep in arrays. */
static char *deep_json(size_t depth)
{
	char *s = malloc(2 * depth + 32);
	size_t len = 0;

	ck_assert_ptr_nonnull(s);
	len += (size_t)sprintf(s, "{\"n\":1,\"x\":");
	memset(s + len, '[', depth);
	len += depth;
	memset(s + len, ']', depth);
	len += depth;
	strcpy(s + len, "}");
	return s;
}

START_TEST(test_jsonb_deep_nesting_and_duplicate_keys)
{
	fixture f;
	sm_progress prog;
	char *deep, *v;
	int stored;

	setup(&f, _i == 0 ? SM_FIXTURE_JSONB : SM_FIXTURE_JSONB_TEXT);
	snapshot(&f, "dup", 0, "Elixir.Counter", "{}", NULL);
	append_one(&f, "dup", "Elixir.Counter.Added", "{\"n\":1,\"n\":2}");
	snapshot(&f, "ok", 0, "Elixir.Counter", "{}", NULL);
	append_one(&f, "ok", "Elixir.Counter.Added", "{\"n\":5}");
	/* 10,000 levels: jsonb itself may refuse them (then there is nothing
	 * to read); when stored, reading must fail only that instance. */
	deep = deep_json(10000);
	{
		char err[1024];
		const char *types[] = { "Elixir.Counter.Added" }, *datas[] = { deep };

		stored = sm_fixture_append(f.conn, "public", f.mode, "deep", 1, types, datas, NULL,
					   err, sizeof err) == 0;
		if (!stored)
			fprintf(stderr, "jsonb refused 10,000 levels: %s\n", err);
	}
	free(deep);
	snapshot(&f, "deep", 0, "Elixir.Counter", "{}", NULL);
	rebuild_ok(&f, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	sm_progress_clear(&prog);
	/* Duplicate keys.  A jsonb value keeps the last (PostgreSQL drops the
	 * others when it stores the value); JSON text inside a jsonb string
	 * is decoded as Jason does, keeping the first. */
	v = generated_field(&f, "dup", "count");
	ck_assert_str_eq(v, f.mode == SM_FIXTURE_JSONB ? "2" : "1");
	free(v);
	ck_assert_ptr_null(failure_of(&f, "dup"));
	v = generated_field(&f, "ok", "count");
	ck_assert_str_eq(v, "5");
	free(v);
	v = failure_of(&f, "deep");
	if (stored) {
		ck_assert_msg(v != NULL, "10,000 levels did not fail");
		ck_assert_msg(strncmp(v, "bad_event v1: ", 14) == 0, "%s", v);
	} else {
		/* No event: the stream is empty; the instance is the initial state. */
		ck_assert_ptr_null(v);
	}
	free(v);
	teardown(&f);
}
END_TEST

START_TEST(test_state_with_nul_fails_its_instance_in_a_jsonb_store)
{
	fixture f;
	sm_progress prog;
	char *v;
	const char *p[] = { "{\"n\":3,\"s\":\"a\\u0000b\"}" };

	setup(&f, SM_FIXTURE_JSONB);
	/* An ordinary store first (it decides the encoding), then the odd
	 * double-encoded event whose JSON text holds \u0000, which jsonb
	 * cannot hold as an object. */
	snapshot(&f, "ok", 0, "Elixir.Holder", "{}", NULL);
	append_one(&f, "ok", "Elixir.Holder.Put", "{\"n\":1,\"s\":\"fine\"}");
	snapshot(&f, "nul", 0, "Elixir.Holder", "{}", NULL);
	snapshot(&f, "nul-counted", 0, "Elixir.Counter", "{}", NULL);
	{
		char err[1024];
		const char *types[] = { "Elixir.Holder.Put" }, *datas[] = { "{}" };

		/* A stream each, then replace the placeholder event's data. */
		ck_assert(sm_fixture_append(f.conn, "public", f.mode, "nul", 1, types, datas, NULL,
					    err, sizeof err) == 0);
		types[0] = "Elixir.Counter.Added";
		ck_assert(sm_fixture_append(f.conn, "public", f.mode, "nul-counted", 1, types, datas, NULL,
					    err, sizeof err) == 0);
	}
	tl_exec(f.conn, "ALTER TABLE events DISABLE TRIGGER USER");
	exec_params(f.conn,
		"UPDATE events e SET data = to_jsonb($1::text) FROM stream_events se JOIN streams s"
		" USING (stream_id) WHERE se.event_id = e.event_id AND s.stream_uuid IN ('nul', 'nul-counted')",
		1, p);
	tl_exec(f.conn, "ALTER TABLE events ENABLE TRIGGER USER");
	rebuild_ok(&f, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	ck_assert_int_eq(prog.total.failed, 1);
	sm_progress_clear(&prog);
	v = failure_of(&f, "nul");
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(strstr(v, "NUL") != NULL, "%s", v);
	free(v);
	v = generated_field(&f, "ok", "last");
	ck_assert_str_eq(v, "{\"n\": 1, \"s\": \"fine\"}");
	free(v);
	/* The state of a type that does not keep the string is fine. */
	v = generated_field(&f, "nul-counted", "count");
	ck_assert_str_eq(v, "3");
	free(v);
	teardown(&f);
}
END_TEST

START_TEST(test_types_and_uuids_with_quotes_and_unicode_rebuild_and_copy)
{
	static const char *const uuids[] = {
		"it's", "say \"hi\"", "back\\slash", "semi;colon; DROP TABLE snapshots; --",
		"café", "smile 😀", "{braces,comma}", "NULL", "tab\tnew\nline", "$1 %s %n",
	};
	const size_t n = sizeof uuids / sizeof uuids[0];
	fixture f;
	sm_progress prog;
	sm_copy_options o;
	sm_copy_result *r;
	sm_rollback_result *rb;
	sm_inventory *inv;
	sm_preflight *pf;
	sm_error e;
	const char *types[] = { WEIRD_TYPE };
	char *before, *after;

	setup_full(&f, all_modes[_i], "mig\"ra;tion", 2, 3);
	for (size_t i = 0; i < n; i++) {
		char data[32];

		for (int k = 1; k <= 3; k++) {
			snprintf(data, sizeof data, "{\"n\":%zu}", (i + 1) * (size_t)k);
			append_one(&f, uuids[i], "Elixir.Counter.Added", data);
		}
		/* Stale (module version 1 of 3): a full replay. */
		snapshot(&f, uuids[i], 1, WEIRD_TYPE, "{\"count\":-1}", NULL);
	}
	sm_error_clear(&e);
	ck_assert_msg(sm_inventory_read(f.eng, NULL, &inv, &e) == SM_OK, "%s", e.message);
	ck_assert_str_eq(inv->types[2].type, WEIRD_TYPE);
	ck_assert_int_eq(inv->types[2].stale, (long long)n);
	sm_inventory_free(inv);
	ck_assert_msg(sm_preflight_run(f.eng, types, 1, NULL, &pf, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(pf->n_unknown, 0);
	sm_preflight_free(pf);
	rebuild_ok(&f, &prog);
	ck_assert_int_eq(prog.total.failed, 0);
	ck_assert_int_eq(prog.total.instances_done, (long long)n);
	sm_progress_clear(&prog);
	for (size_t i = 0; i < n; i++) {
		char *v = generated_field(&f, uuids[i], "count"), want[32];

		snprintf(want, sizeof want, "%zu", (i + 1) * 6);
		ck_assert_msg(v != NULL, "%s not generated", uuids[i]);
		ck_assert_str_eq(v, want);
		free(v);
	}
	/* Copy them into the live table and roll back. */
	before = tl_query_valuef(f.conn, "SELECT string_agg(concat_ws('|', source_uuid, source_version, source_type,"
				 " data::text, metadata::text, created_at), E'\\n' ORDER BY source_uuid) FROM snapshots");
	memset(&o, 0, sizeof o);
	o.types = types;
	o.n_types = 1;
	ck_assert_msg(sm_copy_run(f.eng, &o, NULL, &r, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(r->replaced, (long long)n);
	ck_assert(r->verified);
	sm_copy_result_free(r);
	/* The live rows are now exactly the generated ones (same encoding). */
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM snapshots l JOIN %s.snapshots g USING (source_uuid)"
				  " WHERE l.source_type = g.source_type AND l.source_version = 3 AND l.data = g.data",
				  f.tq), (long long)n);
	ck_assert_msg(sm_rollback_run(f.eng, 0, NULL, &rb, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(rb->restored, (long long)n);
	sm_rollback_result_free(rb);
	after = tl_query_valuef(f.conn, "SELECT string_agg(concat_ws('|', source_uuid, source_version, source_type,"
				" data::text, metadata::text, created_at), E'\\n' ORDER BY source_uuid) FROM snapshots");
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	teardown(&f);
}
END_TEST

/* ------------------------------------------------------------- memory */

static long peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

START_TEST(test_a_100_mb_event_string_folds_in_bounded_memory)
{
	fixture f;
	sm_progress prog;
	char err[1024];
	long before_kb, after_kb;

	setup(&f, all_modes[_i]);
	snapshot(&f, "huge", 0, "Elixir.Holder", "{}", NULL);
	/* 50 million 'é': 100 MB of UTF-8 in one string. */
	ck_assert(sm_fixture_append_generated(f.conn, "public", f.mode, "huge", 1,
		"'Elixir.Holder.Put'", "json_build_object('n', 1, 's', repeat('é', 50000000))::text",
		err, sizeof err) == 0);
	before_kb = peak_rss_kb();
	rebuild_ok(&f, &prog);
	after_kb = peak_rss_kb();
	ck_assert_int_eq(prog.total.failed, 0);
	sm_progress_clear(&prog);
	tl_assert_valuef(f.conn, "t",
			 "SELECT octet_length(%s) > 100000000 FROM migration.snapshots"
			 " WHERE source_uuid = 'huge'",
			 f.mode == SM_FIXTURE_BYTEA ? "data" : f.mode == SM_FIXTURE_JSONB ? "data::text" : "(data #>> '{}')");
	fprintf(stderr, "100 MB event string (mode %d): peak RSS %ld kB, before %ld kB\n",
		_i, after_kb, before_kb);
#ifndef SM_TEST_ASAN
	/* The string passes through the result buffer, the parsed event, the
	 * state, its printed form and the COPY buffer: a few copies, never
	 * more.  (Under AddressSanitizer the quarantine keeps freed copies.) */
	ck_assert_msg(after_kb - before_kb < 8 * 100 * 1024, "peak RSS grew by %ld kB", after_kb - before_kb);
#endif
	teardown(&f);
}
END_TEST

/* Many instances failing in every way a rebuild can see. */
static void failing_instances(fixture *f, int n)
{
	char *sql = sm_xasprintf(
		"INSERT INTO streams (stream_uuid, stream_version)"
		" SELECT 'f-' || i, 2 FROM generate_series(1, %1$d) i;"
		"INSERT INTO events (event_id, event_type, data)"
		" SELECT md5('f' || i || '-' || v)::uuid,"
		"  CASE WHEN v = 2 AND i %% 3 = 0 THEN 'Elixir.Counter.Mystery' ELSE 'Elixir.Counter.Added' END,"
		"  CASE WHEN v = 2 AND i %% 3 = 1 THEN convert_to('{\"n\": [oops', 'UTF8')"
		"   ELSE convert_to('{\"n\":' || v || ',\"pad\":\"' || repeat('p', 500) || '\"}', 'UTF8') END"
		" FROM generate_series(1, %1$d) i, generate_series(1, 2) v;"
		"INSERT INTO stream_events (event_id, stream_id, stream_version, original_stream_id,"
		" original_stream_version)"
		" SELECT md5('f' || i || '-' || v)::uuid, s.stream_id, v, s.stream_id, v"
		" FROM generate_series(1, %1$d) i, generate_series(1, 2) v"
		" JOIN streams s ON true WHERE s.stream_uuid = 'f-' || i;"
		"INSERT INTO snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT 'f-' || i, 1, 'Elixir.Counter',"
		"  CASE WHEN i %% 3 = 2 THEN convert_to('{broken snapshot', 'UTF8') ELSE convert_to('{}', 'UTF8') END,"
		"  convert_to('{\"snapshot_module_version\":2}', 'UTF8')"
		" FROM generate_series(1, %1$d) i",
		n);

	tl_exec(f->conn, sql);
	free(sql);
}

START_TEST(test_failed_instances_release_their_memory)
{
	fixture f;
	sm_progress prog;
	sm_rebuild_options opts;
	size_t base = 0, grown = 0;
	int n = 1500;

	setup_full(&f, SM_FIXTURE_BYTEA, "migration", 2, 50);
	failing_instances(&f, n);
	memset(&opts, 0, sizeof opts);
	opts.only_failed = true;
	for (int round = 0; round < 4; round++) {
		sm_error e;

		ck_assert_msg(rebuild_opts(&f, round ? &opts : NULL, &prog, &e) == SM_OK, "%s", e.message);
		ck_assert_int_eq(prog.total.failed, n);
		ck_assert_int_eq(prog.total.failures[SM_FAIL_UNKNOWN_EVENT], n / 3);
		ck_assert_int_eq(prog.total.failures[SM_FAIL_BAD_EVENT], n / 3);
		ck_assert_int_eq(prog.total.failures[SM_FAIL_BAD_SNAPSHOT], n / 3);
		sm_progress_clear(&prog);
#ifndef SM_TEST_ASAN
		{
			struct mallinfo2 mi = mallinfo2();

			/* Round 1 warms up libpq's and the allocator's caches. */
			if (round == 1)
				base = mi.uordblks;
			if (round == 3)
				grown = mi.uordblks > base ? mi.uordblks - base : 0;
		}
#endif
	}
#ifdef SM_TEST_ASAN
	(void)base;
	/* Everything the runs allocated is freed or still reachable. */
	ck_assert_int_eq(__lsan_do_recoverable_leak_check(), 0);
	(void)grown;
#else
	fprintf(stderr, "heap in use grew by %zu bytes over 2 runs of %d failing instances\n", grown, n);
	/* 1500 failures x 2 runs: a leak of even a message per failure
	 * (about 100 bytes) would be 300 kB. */
	ck_assert_msg(grown < 64 * 1024, "heap grew by %zu bytes", grown);
#endif
	teardown(&f);
}
END_TEST

int main(void)
{
	TCase *kill_tc = tcase_create("kill");
	TCase *conc = tcase_create("concurrency");
	TCase *hostile = tcase_create("hostile");
	TCase *mem = tcase_create("memory");

	tcase_set_timeout(kill_tc, 600);
	tcase_set_timeout(conc, 300);
	tcase_set_timeout(hostile, 300);
	tcase_set_timeout(mem, 600);
	tcase_add_test(kill_tc, test_sigkill_at_random_moments_during_copy_leaves_the_live_table_before_or_after);
	tcase_add_test(conc, test_newer_snapshot_written_between_plan_and_copy_is_kept);
	tcase_add_test(conc, test_copy_blocks_an_eventstore_writer_and_its_later_write_survives);
	tcase_add_test(conc, test_concurrent_eventstore_upserts_during_copies_are_never_lost);
	tcase_add_test(conc, test_snapshots_written_during_a_rebuild_do_not_corrupt_it);
	tcase_add_test(conc, test_newer_live_snapshots_written_during_a_rebuild_are_used_or_kept);
	tcase_add_loop_test(hostile, test_unreadable_start_snapshots_fail_only_their_instance, 0, 3);
	tcase_add_loop_test(hostile, test_jsonb_deep_nesting_and_duplicate_keys, 0, 2);
	tcase_add_test(hostile, test_state_with_nul_fails_its_instance_in_a_jsonb_store);
	tcase_add_loop_test(hostile, test_types_and_uuids_with_quotes_and_unicode_rebuild_and_copy, 0, 3);
	tcase_add_loop_test(mem, test_a_100_mb_event_string_folds_in_bounded_memory, 0, 3);
	tcase_add_test(mem, test_failed_instances_release_their_memory);
	return tl_run_cases("reliability", kill_tc, conc, hostile, mem, (TCase *)NULL);
}
