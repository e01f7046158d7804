/*
 * The engine owns its threads and its cancellation (engine/snapmig.h,
 * sm_cancel): a token stops every blocking call, whether it waits for a
 * connection, for a lock or has not started yet, and what it would have
 * written is not written; the rebuild's threads block the terminal's
 * signals; sm_rebuild_plan_read plans as the run does, writing nothing.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"
#include "util/clock.h"

static const char config_fmt[] =
	"defaults = { jobs = 3; batch_size = 2; };\n"
	"environments = (\n"
	"  { name = \"t\"; conninfo = \"%s\"; },\n"
	"  { name = \"hole\"; conninfo = \"host=127.0.0.1 port=%d dbname=x user=x\"; }\n"
	");\n"
	"aggregates = (\n"
	"  { type = \"Elixir.Counter\"; snapshot_version = 2; initial = \"{n: 0}\";\n"
	"    events = ( { on = \"Elixir.Counter.Added\"; do = \"n += event.n\"; } ); }\n"
	");\n";

typedef struct fixture {
	char *conninfo;
	PGconn *conn;             /* the test's own connection (takes the locks) */
	sm_config *cfg;
	sm_engine *eng;
	int hole;                 /* a listening socket that never answers */
} fixture;

/* A TCP port that accepts connections (the kernel completes them) but
 * never says anything: libpq waits there for the server's reply. */
static int black_hole(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void stream(fixture *f, const char *uuid, int events, int snapshot_version)
{
	char err[1024];

	ck_assert_msg(sm_fixture_append_generated(f->conn, "public", SM_FIXTURE_BYTEA, uuid, events,
						  "'Elixir.Counter.Added'",
						  "json_build_object('n', i)::text", err, sizeof err) == 0,
		      "%s", err);
	if (snapshot_version)
		ck_assert_msg(sm_fixture_snapshot(f->conn, "public", SM_FIXTURE_BYTEA, uuid, 1,
						  "Elixir.Counter", "{\"n\":1}",
						  snapshot_version == 2 ? "{\"snapshot_module_version\":2}"
									: "{}", err, sizeof err) == 0,
			      "%s", err);
}

static void setup(fixture *f)
{
	char err[1024], *text;
	int port;

	memset(f, 0, sizeof *f);
	f->conninfo = tl_new_database();
	f->conn = tl_connect(f->conninfo);
	ck_assert_msg(sm_fixture_create_store(f->conn, "public", SM_FIXTURE_BYTEA, err, sizeof err) == 0,
		      "%s", err);
	/* Five stale instances (full replay) and one valid one (catch-up). */
	stream(f, "c1", 3, 1);
	stream(f, "c2", 4, 1);
	stream(f, "c3", 5, 1);
	stream(f, "c4", 2, 1);
	stream(f, "c5", 6, 1);
	stream(f, "c6", 3, 2);
	f->hole = black_hole(&port);
	ck_assert(asprintf(&text, config_fmt, f->conninfo, port) > 0);
	tl_config_open(text, "t", &f->cfg, &f->eng);
	free(text);
}

static void teardown(fixture *f)
{
	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	PQfinish(f->conn);
	close(f->hole);
	free(f->conninfo);
}

static long long query_ll(PGconn *conn, const char *sql)
{
	char *v = tl_query_value(conn, sql);
	long long n = v ? atoll(v) : -1;

	free(v);
	return n;
}

static void rebuild(fixture *f)
{
	sm_run *run;
	sm_error e;

	ck_assert_msg(sm_rebuild_start(f->eng, NULL, &run, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "%s", e.message);
	sm_run_free(run);
}

/* ------------------------------------------------- a call in a thread */

enum call { INVENTORY, PREFLIGHT, PLAN, FAILURES, RUNS, SNAPSHOT, INSTANCES,
	    COPY_PLAN, COPY, ROLLBACK, N_CALLS };

static const char *const call_names[N_CALLS] = {
	"inventory", "preflight", "rebuild plan", "failures", "runs", "snapshot read",
	"instances list", "copy plan", "copy", "rollback",
};

typedef struct call_thread {
	fixture *f;
	enum call call;
	sm_cancel *cancel;
	int rc;
	sm_error err;
} call_thread;

static void *call_main(void *arg)
{
	call_thread *t = arg;
	sm_engine *eng = t->f->eng;
	sm_cancel *c = t->cancel;
	sm_error *e = &t->err;
	void *out = NULL;
	char *json = NULL, *meta = NULL;
	long long version;

	sm_error_clear(e);
	switch (t->call) {
	case INVENTORY: t->rc = sm_inventory_read(eng, c, (sm_inventory **)&out, e);
		sm_inventory_free(out); break;
	case PREFLIGHT: t->rc = sm_preflight_run(eng, NULL, 0, c, (sm_preflight **)&out, e);
		sm_preflight_free(out); break;
	case PLAN: t->rc = sm_rebuild_plan_read(eng, NULL, c, (sm_rebuild_plan **)&out, e);
		sm_rebuild_plan_free(out); break;
	case FAILURES: t->rc = sm_failures_read(eng, NULL, -1, c, (sm_failure_list **)&out, e);
		sm_failure_list_free(out); break;
	case RUNS: t->rc = sm_runs_read(eng, 5, c, (sm_run_list **)&out, e);
		sm_run_list_free(out); break;
	case SNAPSHOT: t->rc = sm_snapshot_read(eng, "c1", false, c, &json, &meta, &version, e);
		free(json); free(meta); break;
	case INSTANCES: t->rc = sm_instances_list(eng, "Elixir.Counter", NULL, 0, 10, c,
						   (sm_instance_list **)&out, e);
		sm_instance_list_free(out); break;
	case COPY_PLAN: t->rc = sm_copy_plan_read(eng, NULL, c, (sm_copy_plan **)&out, e);
		sm_copy_plan_free(out); break;
	case COPY: t->rc = sm_copy_run(eng, NULL, c, (sm_copy_result **)&out, e);
		sm_copy_result_free(out); break;
	case ROLLBACK: t->rc = sm_rollback_run(eng, 0, c, (sm_rollback_result **)&out, e);
		sm_rollback_result_free(out); break;
	default: t->rc = SM_ERR_INTERNAL;
	}
	return NULL;
}

/* The table whose lock blocks the call (it reads or locks it first). */
static const char *blocking_table(enum call call)
{
	switch (call) {
	case FAILURES: return "migration.snapmig_failures";
	case RUNS: return "migration.snapmig_runs";
	default: return "public.snapshots";
	}
}

/* Sessions of snapmig matching cond, seen now: pg_stat_activity keeps
 * what a transaction saw first, and the test's connection may be in one. */
static long long sessions(fixture *f, const char *cond)
{
	char *sql;
	long long n;

	tl_exec(f->conn, "SELECT pg_stat_clear_snapshot()");
	ck_assert(asprintf(&sql, "SELECT count(*) FROM pg_stat_activity"
			   " WHERE application_name = 'snapmig' AND %s", cond) > 0);
	n = query_ll(f->conn, sql);
	free(sql);
	return n;
}

/* Waits until one of snapmig's sessions waits for a lock. */
static bool wait_for_lock_wait(fixture *f)
{
	double deadline = sm_now() + 30;

	while (sm_now() < deadline) {
		if (sessions(f, "wait_event_type = 'Lock'") > 0)
			return true;
		usleep(20000);
	}
	return false;
}

/* Waits until no session of snapmig is left (a closed connection's
 * backend leaves a moment later). */
static bool wait_no_sessions(fixture *f)
{
	double deadline = sm_now() + 30;

	while (sm_now() < deadline) {
		if (sessions(f, "true") == 0)
			return true;
		usleep(20000);
	}
	return false;
}

/* ------------------------------------------------------------- tests */

START_TEST(test_each_call_waiting_for_a_lock_returns_cancelled_and_writes_nothing)
{
	fixture f;
	sm_copy_result *res;
	sm_error e;

	setup(&f);
	rebuild(&f);
	/* A copy to roll back, and the journal as it is before the calls. */
	ck_assert_msg(sm_copy_run(f.eng, NULL, NULL, &res, &e) == SM_OK, "%s", e.message);
	sm_copy_result_free(res);
	for (int call = 0; call < N_CALLS; call++) {
		char *lock, *live = tl_query_value(f.conn, "SELECT string_agg(t::text, ',' ORDER BY"
						     " source_uuid) FROM public.snapshots t"), *after;
		long long copies = query_ll(f.conn, "SELECT count(*) FROM migration.snapmig_copies"
						    " WHERE rolled_back_by IS NULL");
		call_thread t = { .f = &f, .call = (enum call)call, .cancel = sm_cancel_new() };
		pthread_t th;

		ck_assert(asprintf(&lock, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE",
				   blocking_table(t.call)) > 0);
		tl_exec(f.conn, "BEGIN");
		tl_exec(f.conn, lock);
		ck_assert_int_eq(pthread_create(&th, NULL, call_main, &t), 0);
		if (!wait_for_lock_wait(&f)) {
			pthread_join(th, NULL);
			ck_abort_msg("%s never waited for the lock: %d %s", call_names[call], t.rc,
				     t.err.message);
		}
		sm_cancel_request(t.cancel);
		pthread_join(th, NULL);
		tl_exec(f.conn, "COMMIT");
		ck_assert_msg(t.rc == SM_ERR_CANCELLED, "%s: %d %s", call_names[call], t.rc, t.err.message);
		ck_assert_int_eq(t.err.code, SM_ERR_CANCELLED);
		after = tl_query_value(f.conn, "SELECT string_agg(t::text, ',' ORDER BY source_uuid)"
					       " FROM public.snapshots t");
		ck_assert_msg(strcmp(live, after) == 0, "%s changed the live table", call_names[call]);
		ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM migration.snapmig_copies"
						  " WHERE rolled_back_by IS NULL"), copies);
		ck_assert_msg(wait_no_sessions(&f), "%s left a session", call_names[call]);
		free(lock);
		free(live);
		free(after);
		sm_cancel_free(t.cancel);
	}
	/* The interrupted copy and rollback are journaled as cancelled. */
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM migration.snapmig_runs"
					  " WHERE outcome = 'cancelled'"), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_a_requested_token_stops_a_call_before_it_starts)
{
	fixture f;
	sm_cancel *c = sm_cancel_new();
	sm_engine *eng = NULL;
	sm_copy_result *res = NULL;
	sm_inventory *inv = NULL;
	sm_error e;

	setup(&f);
	sm_cancel_request(c);
	ck_assert(sm_cancel_requested(c));
	ck_assert_int_eq(sm_engine_open(f.cfg, "t", c, &eng, &e), SM_ERR_CANCELLED);
	ck_assert_ptr_null(eng);
	ck_assert_int_eq(sm_copy_run(f.eng, NULL, c, &res, &e), SM_ERR_CANCELLED);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'migration'"), 0);
	/* Reset, the token serves the next call. */
	sm_cancel_reset(c);
	ck_assert(!sm_cancel_requested(c));
	ck_assert_msg(sm_inventory_read(f.eng, c, &inv, &e) == SM_OK, "%s", e.message);
	sm_inventory_free(inv);
	sm_cancel_free(c);
	teardown(&f);
}
END_TEST

typedef struct open_thread {
	fixture *f;
	sm_cancel *cancel;
	int rc;
	sm_error err;
	double seconds;
} open_thread;

static void *open_main(void *arg)
{
	open_thread *t = arg;
	sm_engine *eng = NULL;
	double t0 = sm_now();

	t->rc = sm_engine_open(t->f->cfg, "hole", t->cancel, &eng, &t->err);
	t->seconds = sm_now() - t0;
	sm_engine_close(eng);
	return NULL;
}

/* Without the cancel it would wait for the server's reply for ever (no
 * connect_timeout). */
START_TEST(test_a_connection_attempt_is_abandoned_on_cancel)
{
	fixture f;
	open_thread t;
	pthread_t th;

	setup(&f);
	memset(&t, 0, sizeof t);
	t.f = &f;
	t.cancel = sm_cancel_new();
	ck_assert_int_eq(pthread_create(&th, NULL, open_main, &t), 0);
	usleep(300000);
	sm_cancel_request(t.cancel);
	pthread_join(th, NULL);
	ck_assert_msg(t.rc == SM_ERR_CANCELLED, "%d %s", t.rc, t.err.message);
	ck_assert_msg(t.seconds < 10, "took %.1f s", t.seconds);
	sm_cancel_free(t.cancel);
	teardown(&f);
}
END_TEST

START_TEST(test_rebuild_plan_read_plans_as_the_run_does_and_writes_nothing)
{
	fixture f;
	sm_rebuild_plan *plan = NULL;
	sm_progress p;
	sm_run *run;
	sm_error e;

	setup(&f);
	ck_assert_msg(sm_rebuild_plan_read(f.eng, NULL, NULL, &plan, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(query_ll(f.conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'migration'"), 0);
	ck_assert_uint_eq(plan->n_types, 1);
	ck_assert_str_eq(plan->types[0].type, "Elixir.Counter");
	/* c1..c5 replay 3+4+5+2+6 events; c6 continues from version 1 of 3. */
	ck_assert_int_eq(plan->instances, 6);
	ck_assert_int_eq(plan->events, 22);
	ck_assert_int_eq(plan->failing, 0);
	/* batch_size 2: three chunks, and jobs = 3 workers. */
	ck_assert_uint_eq(plan->chunks, 3);
	ck_assert_int_eq(plan->jobs, 3);
	ck_assert_msg(sm_rebuild_start(f.eng, NULL, &run, &e) == SM_OK, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == SM_OK, "%s", e.message);
	sm_run_progress(run, &p);
	ck_assert_int_eq(p.total.instances_planned, plan->instances);
	ck_assert_int_eq(p.total.events_planned, plan->events);
	sm_progress_clear(&p);
	sm_run_free(run);
	sm_rebuild_plan_free(plan);
	/* Done: nothing left to plan. */
	ck_assert_msg(sm_rebuild_plan_read(f.eng, NULL, NULL, &plan, &e) == SM_OK, "%s", e.message);
	ck_assert_int_eq(plan->instances, 0);
	ck_assert_int_eq(plan->jobs, 0);
	sm_rebuild_plan_free(plan);
	teardown(&f);
}
END_TEST

/* Whether thread tid of this process blocks signal sig (its SigBlk line in
 * /proc). */
static bool thread_blocks(long tid, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *in;

	snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
	in = fopen(path, "r");
	if (!in)
		return false;
	while (fgets(line, sizeof line, in))
		if (sscanf(line, "SigBlk: %llx", &mask) == 1)
			break;
	fclose(in);
	return (mask >> (sig - 1)) & 1;
}

START_TEST(test_the_rebuild_threads_block_the_terminal_signals)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };
	long self = (long)syscall(SYS_gettid);
	fixture f;
	sm_run *run;
	sm_error e;
	DIR *d;
	struct dirent *ent;
	int others = 0;

	setup(&f);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		ck_assert(!thread_blocks(self, sigs[i]));
	/* Planning waits for this lock: the coordinator thread stays. */
	tl_exec(f.conn, "BEGIN");
	tl_exec(f.conn, "LOCK TABLE public.snapshots IN ACCESS EXCLUSIVE MODE");
	ck_assert_msg(sm_rebuild_start(f.eng, NULL, &run, &e) == SM_OK, "%s", e.message);
	ck_assert(wait_for_lock_wait(&f));
	d = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(d);
	while ((ent = readdir(d))) {
		long tid = atol(ent->d_name);

		if (tid <= 0 || tid == self)
			continue;
		others++;
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			ck_assert_msg(thread_blocks(tid, sigs[i]), "thread %ld does not block %d",
				      tid, sigs[i]);
	}
	closedir(d);
	ck_assert_int_ge(others, 1);
	/* The caller's thread still takes them. */
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		ck_assert(!thread_blocks(self, sigs[i]));
	sm_run_cancel(run);
	ck_assert_int_eq(sm_run_wait(run, &e), SM_ERR_CANCELLED);
	sm_run_free(run);
	tl_exec(f.conn, "COMMIT");
	teardown(&f);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("cancel");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_each_call_waiting_for_a_lock_returns_cancelled_and_writes_nothing);
	tcase_add_test(tc, test_a_requested_token_stops_a_call_before_it_starts);
	tcase_add_test(tc, test_a_connection_attempt_is_abandoned_on_cancel);
	tcase_add_test(tc, test_rebuild_plan_read_plans_as_the_run_does_and_writes_nothing);
	tcase_add_test(tc, test_the_rebuild_threads_block_the_terminal_signals);
	return tl_run_case("cancel", tc);
}
