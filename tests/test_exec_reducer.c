/*
 * The external reducer (engine/reducer_exec.h) driven directly, with small
 * Python reducers written to a temporary directory.  Most use the example
 * helper module examples/reducers/snapmig_reducer.py, so it is tested too.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/snapmig_conf.h"
#include "engine/reducer.h"
#include "engine/reducer_exec.h"
#include "engine/snapmig.h"
#include "tests/fixture.h"
#include "tests/testlib.h"
#include "util/json.h"

#define AGG "Test.Counter"

/* Peak memory growth allowed while 200 MB of events pass.  AddressSanitizer
 * keeps freed memory in quarantine, so it gets more (still far below). */
#if defined(__SANITIZE_ADDRESS__)
#define MAX_GROWTH_KB (64 * 1024)
#else
#define MAX_GROWTH_KB (16 * 1024)
#endif

/* One reducer covering every behaviour the tests need, by event type. */
static const char counter_py[] =
	"import os, sys, time\n"
	"import snapmig_reducer as sr\n"
	"if os.environ.get('NOISE'):\n"
	"    os.write(1, b'Compiling 3 files (.ex)\\n\\nGenerated demo app\\n')\n"
	"def added(state, data, ev):\n"
	"    state['count'] += 1\n"
	"    state['total'] += data['n']\n"
	"    state['last'] = ev.version\n"
	"    return state\n"
	"def picky(state, data, ev):\n"
	"    if not data.get('ok'):\n"
	"        raise sr.NoMatch('picky wants ok')\n"
	"    return state\n"
	"def pid(state, data, ev):\n"
	"    state['pid'] = os.getpid()\n"
	"def log(state, data, ev):\n"
	"    sys.stderr.write(data['text'] + '\\n')\n"
	"    sys.stderr.write('x' * data.get('spam', 0))\n"
	"    sys.stderr.flush()\n"
	"def crash(state, data, ev):\n"
	"    sys.stderr.write('about to crash\\n')\n"
	"    sys.stderr.flush()\n"
	"    os._exit(3)\n"
	"def garbage(state, data, ev):\n"
	"    os.write(1, b'this is not json\\n')\n"
	"def hang(state, data, ev):\n"
	"    time.sleep(3600)\n"
	"def boom(state, data, ev):\n"
	"    raise ValueError('boom at %d' % ev.version)\n"
	"def echo(state, data, ev):\n"
	"    state['meta'] = ev.metadata\n"
	"    state['at'] = ev.created_at\n"
	"    state['uuid'] = ev.stream_uuid\n"
	"    state['data'] = data\n"
	"sr.run({'" AGG "': sr.Aggregate(\n"
	"    initial={'count': 0, 'total': 0, 'last': None},\n"
	"    handlers={'Added': added, 'Picky': picky, 'Pid': pid, 'Log': log,\n"
	"              'Crash': crash, 'Garbage': garbage, 'Hang': hang, 'Boom': boom,\n"
	"              'Echo': echo})})\n";

/* Handles any event type; dies at once when asked to. */
static const char other_py[] =
	"import os, sys\n"
	"import snapmig_reducer as sr\n"
	"sr.run({'Other.Type': sr.Aggregate(initial={}, apply=lambda s, e: s)})\n";

static const char any_py[] =
	"import snapmig_reducer as sr\n"
	"sr.run({'" AGG "': sr.Aggregate(initial={'n': 0}, apply=lambda s, e: s)})\n";

static const char dies_py[] =
	"import sys\n"
	"sys.stderr.write('cannot connect to the imaginary database\\n')\n"
	"sys.exit(2)\n";

static const char proto2_py[] =
	"import sys, json\n"
	"sys.stdin.readline()\n"
	"print(json.dumps({'op': 'hello', 'protocol': 2, 'aggregates': {}}), flush=True)\n"
	"sys.stdin.read()\n";

/* Closes its stdin right after the handshake and stays alive. */
static const char deaf_py[] =
	"import sys, os, json, time\n"
	"sys.stdin.readline()\n"
	"print(json.dumps({'op': 'hello', 'protocol': 1,\n"
	"                  'aggregates': {'" AGG "': {'events': 'any'}}}), flush=True)\n"
	"os.close(0)\n"
	"time.sleep(30)\n";

static const char raw_py[];

static char tmpdir[64];
static char pythonpath[4096];
static sm_env_var env_vars[3];
static sm_exec_reducer exec_cfg;
static sm_aggregate agg;
static sm_config cfg;

static void write_script(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	const char *src = getenv("SNAPMIG_SRCDIR");

	ck_assert_msg(src != NULL, "SNAPMIG_SRCDIR is not set (run the test with make check)");
	snprintf(tmpdir, sizeof tmpdir, "/tmp/snapmig-exec.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	write_script("counter.py", counter_py);
	write_script("other.py", other_py);
	write_script("any.py", any_py);
	write_script("dies.py", dies_py);
	write_script("proto2.py", proto2_py);
	write_script("deaf.py", deaf_py);
	write_script("raw.py", raw_py);
	snprintf(pythonpath, sizeof pythonpath, "%s/examples/reducers", src);
	env_vars[0].name = (char *)"PYTHONPATH";
	env_vars[0].value = pythonpath;
	env_vars[1].name = (char *)"NOISE";
	env_vars[1].value = (char *)"";
	env_vars[2].name = (char *)"PYTHONDONTWRITEBYTECODE";
	env_vars[2].value = (char *)"1";
	exec_cfg.command = (char *)"python3 counter.py";
	exec_cfg.timeout_ms = 10000;
	exec_cfg.env = env_vars;
	exec_cfg.n_env = 3;
	memset(&agg, 0, sizeof agg);
	agg.type = (char *)AGG;
	agg.label = (char *)"Counter";
	agg.snapshot_version = 1;
	agg.exec = &exec_cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.dir = tmpdir;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static sm_exec_proc *open_proc(const char *log_path)
{
	sm_exec_proc *p = NULL;
	sm_error err;

	sm_error_clear(&err);
	ck_assert_msg(sm_exec_open(&cfg, &agg, 7, log_path, &p, &err) == 0, "%s", err.message);
	return p;
}

struct ev {
	const char *type;
	const char *data;
};

/*
 * Folds one instance like an engine worker: begin, events, end; abort after
 * a failure.  Returns 0 (state in *state), 1 (fail filled) or negative.
 * Events get versions start_version + 1, + 2, ...
 */
static int fold(sm_exec_proc *p, const char *start, long long start_version,
		const struct ev *evs, size_t n, json_object **state, sm_reduce_failure *fail)
{
	json_object *start_state = NULL;
	sm_error err;
	int rc;

	*state = NULL;
	sm_error_clear(&err);
	memset(fail, 0, sizeof *fail);
	if (start)
		ck_assert_int_eq(sm_json_parse_object(start, strlen(start), &start_state, &err), 0);
	rc = sm_exec_begin(p, "acc-1", start_state, start_version, fail, &err);
	json_object_put(start_state);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_object *data = NULL;
		json_object *meta = json_object_new_object();
		sm_event_view ev = { .type = evs[i].type, .version = start_version + 1 + (long long)i,
				     .stream_uuid = "acc-1", .metadata = meta,
				     .created_at = "2026-01-31T12:00:00.123456Z" };

		ck_assert_int_eq(sm_json_parse_object(evs[i].data, strlen(evs[i].data), &data, &err), 0);
		json_object_object_add(meta, "user", json_object_new_string("u-1"));
		ev.data = data;
		rc = sm_exec_event(p, &ev, fail, &err);
		json_object_put(data);
		json_object_put(meta);
	}
	if (rc == 0)
		rc = sm_exec_end(p, state, fail, &err);
	if (rc == 1)
		sm_exec_abort(p);
	ck_assert_msg(rc >= 0, "fatal: %s", err.message);
	return rc;
}

static long long member_int(json_object *state, const char *key)
{
	json_object *v;

	ck_assert_msg(json_object_object_get_ex(state, key, &v), "no %s in %s", key,
		      json_object_to_json_string(state));
	return (long long)json_object_get_int64(v);
}

static void assert_state(json_object *state, const char *expected)
{
	json_object *want = NULL;
	sm_error err;

	ck_assert_int_eq(sm_json_parse_object(expected, strlen(expected), &want, &err), 0);
	ck_assert_msg(sm_json_equal(state, want), "got %s, want %s",
		      json_object_to_json_string(state), expected);
	json_object_put(want);
}

/* The instance failed with kind at version, on an event of event_type. */
static void assert_failure(const sm_reduce_failure *fail, enum sm_failure_kind kind, long long version,
			   const char *event_type)
{
	ck_assert_int_eq(fail->kind, kind);
	ck_assert_int_eq(fail->version, version);
	ck_assert_str_eq(fail->event_type, event_type);
}

static void assert_no_children(void)
{
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* Closes what a rebuild test opened; no reducer process may be left. */
static void close_rebuild(sm_engine *eng, sm_config *c, PGconn *conn, char *conninfo)
{
	sm_engine_close(eng);
	sm_config_free(c);
	PQfinish(conn);
	free(conninfo);
	assert_no_children();
}

static const struct ev three_added[] = {
	{ "Added", "{\"n\":1}" }, { "Added", "{\"n\":2}" }, { "Added", "{\"n\":4}" },
};

/* The process serves the next instance: three Added events fold as the
 * reducer says. */
static void assert_three_added_fold(sm_exec_proc *p)
{
	sm_reduce_failure fail;
	json_object *state;

	ck_assert_int_eq(fold(p, NULL, 0, three_added, 3, &state, &fail), 0);
	assert_state(state, "{\"count\":3,\"total\":7,\"last\":3}");
	json_object_put(state);
}

START_TEST(test_events_fold_from_the_initial_state)
{
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;

	assert_three_added_fold(p);
	/* The same process serves the next instance. */
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 0);
	assert_state(state, "{\"count\":1,\"total\":1,\"last\":1}");
	json_object_put(state);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_start_state_continues_from_its_version)
{
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;

	/* The helper decodes a start state as Commanded does: struct keys only. */
	ck_assert_int_eq(fold(p, "{\"count\":10,\"total\":100,\"last\":41,\"gone\":true}", 41,
			      three_added, 2, &state, &fail), 0);
	assert_state(state, "{\"count\":12,\"total\":103,\"last\":43}");
	json_object_put(state);
	sm_exec_close(p);
}
END_TEST

START_TEST(test_event_fields_reach_the_reducer_unchanged)
{
	static const struct ev echo[] = {
		{ "Echo", "{\"big\":9007199254740993,\"dec\":0.1,\"s\":\"Zo\xc3\xab \\\"q\\\"\\n\",\"k\":{\"1\":[]}}" },
	};
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;

	ck_assert_int_eq(fold(p, NULL, 0, echo, 1, &state, &fail), 0);
	assert_state(state, "{\"count\":0,\"total\":0,\"last\":null,\"meta\":{\"user\":\"u-1\"},"
		     "\"at\":\"2026-01-31T12:00:00.123456Z\",\"uuid\":\"acc-1\","
		     "\"data\":{\"big\":9007199254740993,\"dec\":0.1,\"s\":\"Zo\xc3\xab \\\"q\\\"\\n\",\"k\":{\"1\":[]}}}");
	json_object_put(state);
	sm_exec_close(p);
}
END_TEST

START_TEST(test_unknown_event_names_version_and_type)
{
	static const struct ev evs[] = {
		{ "Added", "{\"n\":1}" }, { "Elixir.Other.Branch.Event", "{}" }, { "Added", "{\"n\":1}" },
	};
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;

	ck_assert_int_eq(fold(p, NULL, 0, evs, 3, &state, &fail), 1);
	assert_failure(&fail, SM_FAIL_UNKNOWN_EVENT, 2, "Elixir.Other.Branch.Event");
	/* The process is fine: the next instance works. */
	assert_three_added_fold(p);
	sm_exec_close(p);
}
END_TEST

START_TEST(test_no_match_and_reducer_errors_are_reported)
{
	static const struct ev picky[] = {
		{ "Picky", "{\"ok\":true}" }, { "Picky", "{\"ok\":false}" },
	};
	static const struct ev boom[] = {
		{ "Added", "{\"n\":1}" }, { "Added", "{\"n\":1}" }, { "Boom", "{}" },
	};
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;

	ck_assert_int_eq(fold(p, NULL, 0, picky, 2, &state, &fail), 1);
	assert_failure(&fail, SM_FAIL_NO_MATCH, 2, "Picky");
	ck_assert_ptr_nonnull(strstr(fail.message, "picky wants ok"));

	ck_assert_int_eq(fold(p, NULL, 0, boom, 3, &state, &fail), 1);
	assert_failure(&fail, SM_FAIL_REDUCER, 3, "Boom");
	ck_assert_msg(strstr(fail.message, "ValueError: boom at 3") != NULL, "%s", fail.message);
	/* The traceback on stderr comes with it. */
	ck_assert_msg(strstr(fail.message, "stderr:") != NULL, "%s", fail.message);
	sm_exec_close(p);
}
END_TEST

START_TEST(test_an_early_error_stops_the_stream_before_its_end)
{
	enum { N = 300000 };
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	sm_error err;
	json_object *data = json_object_new_object();
	int rc;
	long long i;

	sm_error_clear(&err);
	json_object_object_add(data, "n", json_object_new_int(1));
	ck_assert_int_eq(sm_exec_begin(p, "acc-1", NULL, 0, &fail, &err), 0);
	rc = 0;
	for (i = 1; i <= N && rc == 0; i++) {
		sm_event_view ev = { .type = i == 1 ? "Nope" : "Added", .version = i,
				     .stream_uuid = "acc-1", .data = data };

		rc = sm_exec_event(p, &ev, &fail, &err);
	}
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(i < N, "the error was noticed only at event %lld", i);
	assert_failure(&fail, SM_FAIL_UNKNOWN_EVENT, 1, "Nope");
	sm_exec_abort(p);
	json_object_put(data);
	assert_three_added_fold(p);
	sm_exec_close(p);
}
END_TEST

START_TEST(test_a_crash_fails_only_its_instance)
{
	static const struct ev evs[] = {
		{ "Added", "{\"n\":1}" }, { "Crash", "{}" }, { "Added", "{\"n\":1}" },
	};
	static const struct ev pid_ev[] = { { "Pid", "{}" } };
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;
	long long pid1, pid2;

	ck_assert_int_eq(fold(p, NULL, 0, pid_ev, 1, &state, &fail), 0);
	pid1 = member_int(state, "pid");
	json_object_put(state);

	ck_assert_int_eq(fold(p, NULL, 0, evs, 3, &state, &fail), 1);
	ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fail.message, "exited with status 3") != NULL, "%s", fail.message);
	ck_assert_msg(strstr(fail.message, "about to crash") != NULL, "%s", fail.message);

	/* Restarted: a new process folds the next instance. */
	ck_assert_int_eq(fold(p, NULL, 0, pid_ev, 1, &state, &fail), 0);
	pid2 = member_int(state, "pid");
	json_object_put(state);
	ck_assert_int_ne(pid1, pid2);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_garbage_output_fails_the_instance)
{
	static const struct ev evs[] = { { "Added", "{\"n\":1}" }, { "Garbage", "{}" } };
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	json_object *state;

	ck_assert_int_eq(fold(p, NULL, 0, evs, 2, &state, &fail), 1);
	ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fail.message, "not protocol") != NULL, "%s", fail.message);
	ck_assert_msg(strstr(fail.message, "this is not json") != NULL, "%s", fail.message);
	assert_three_added_fold(p);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_a_hanging_reducer_times_out)
{
	static const struct ev evs[] = { { "Added", "{\"n\":1}" }, { "Hang", "{}" } };
	sm_exec_proc *p;
	sm_reduce_failure fail;
	json_object *state;
	struct timespec t0, t1;
	double secs;

	exec_cfg.timeout_ms = 500;
	p = open_proc(NULL);
	/* Started first, so that the timing below is the hang's alone. */
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 0);
	json_object_put(state);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(fold(p, NULL, 0, evs, 2, &state, &fail), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fail.message, "did not answer within 500 ms") != NULL, "%s", fail.message);
	ck_assert_msg(secs >= 0.45 && secs < 5.0, "timed out after %.2f s", secs);
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 3, &state, &fail), 0);
	json_object_put(state);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

static bool cancel_after_300ms(void *arg)
{
	const struct timespec *t0 = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000 >= 300;
}

START_TEST(test_cancel_interrupts_a_waiting_call)
{
	static const struct ev evs[] = { { "Hang", "{}" } };
	sm_exec_proc *p;
	sm_reduce_failure fail;
	sm_error err;
	json_object *state = NULL;
	struct timespec t0, t1;
	double secs;
	int rc;

	exec_cfg.timeout_ms = 30000;
	p = open_proc(NULL);
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 0);
	json_object_put(state);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sm_exec_set_cancel(p, cancel_after_300ms, &t0);
	sm_error_clear(&err);
	ck_assert_int_eq(sm_exec_begin(p, "acc-1", NULL, 0, &fail, &err), 0);
	{
		json_object *data = json_object_new_object();
		sm_event_view ev = { .type = evs[0].type, .version = 1, .data = data };

		ck_assert_int_eq(sm_exec_event(p, &ev, &fail, &err), 0);
		json_object_put(data);
	}
	rc = sm_exec_end(p, &state, &fail, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_int_eq(rc, SM_ERR_CANCELLED);
	ck_assert_msg(secs < 1.0, "cancel took %.2f s", secs);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_repeated_crashes_give_up_on_the_type)
{
	sm_exec_proc *p;
	sm_reduce_failure fail;
	json_object *state;
	struct timespec t0, t1;
	double secs;

	exec_cfg.command = (char *)"python3 dies.py";
	p = open_proc(NULL);
	for (int i = 0; i < SM_EXEC_MAX_CRASHES; i++) {
		ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 1);
		ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
		ck_assert_msg(strstr(fail.message, "exited with status 2") != NULL, "%s", fail.message);
		ck_assert_msg(strstr(fail.message, "imaginary database") != NULL, "%s", fail.message);
	}
	ck_assert_msg(strstr(fail.message, "gave up") == NULL, "%s", fail.message);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 0.05, "a begin after giving up took %.3f s", secs);
	ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fail.message, "gave up after 5 failures in a row") != NULL, "%s", fail.message);
	ck_assert_msg(strstr(fail.message, "imaginary database") != NULL, "%s", fail.message);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_another_protocol_version_gives_up_at_once)
{
	sm_exec_proc *p;
	sm_reduce_failure fail;
	json_object *state;

	exec_cfg.command = (char *)"python3 proto2.py";
	p = open_proc(NULL);
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 1);
	ck_assert_msg(strstr(fail.message, "speaks protocol 2, snapmig speaks 1") != NULL, "%s", fail.message);
	ck_assert_int_eq(fold(p, NULL, 0, three_added, 1, &state, &fail), 1);
	ck_assert_msg(strstr(fail.message, "speaks protocol 2") != NULL, "%s", fail.message);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_a_reducer_closing_its_input_does_not_kill_snapmig)
{
	enum { N = 20000 };
	sm_exec_proc *p;
	sm_reduce_failure fail;
	sm_error err;
	json_object *data = json_object_new_object();
	int rc;

	/* Default SIGPIPE disposition: a raised SIGPIPE would end this test. */
	signal(SIGPIPE, SIG_DFL);
	exec_cfg.command = (char *)"exec python3 deaf.py";
	p = open_proc(NULL);
	sm_error_clear(&err);
	json_object_object_add(data, "n", json_object_new_int(1));
	rc = sm_exec_begin(p, "acc-1", NULL, 0, &fail, &err);
	ck_assert_int_eq(rc, 0);
	for (int i = 1; i <= N && rc == 0; i++) {
		sm_event_view ev = { .type = "Added", .version = i, .data = data };

		rc = sm_exec_event(p, &ev, &fail, &err);
	}
	if (rc == 0) {
		json_object *state = NULL;

		rc = sm_exec_end(p, &state, &fail, &err);
		json_object_put(state);
	}
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fail.message, "exited") != NULL, "%s", fail.message);
	json_object_put(data);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_stderr_is_logged_with_the_worker_id)
{
	static const struct ev evs[] = {
		{ "Log", "{\"text\":\"hello from the reducer\",\"spam\":300000}" },
		{ "Added", "{\"n\":5}" },
	};
	char log_path[128];
	sm_exec_proc *p;
	sm_reduce_failure fail;
	json_object *state;
	char *text;
	size_t len = 0;
	FILE *f;

	snprintf(log_path, sizeof log_path, "%s/reducer.log", tmpdir);
	p = open_proc(log_path);
	/* 300 kB on stderr in one go must not block the reducer or snapmig. */
	ck_assert_int_eq(fold(p, NULL, 0, evs, 2, &state, &fail), 0);
	assert_state(state, "{\"count\":1,\"total\":5,\"last\":2}");
	json_object_put(state);
	sm_exec_close(p);
	f = fopen(log_path, "r");
	ck_assert_ptr_nonnull(f);
	text = calloc(1, 1 << 20);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	ck_assert_uint_gt(len, 0);
	ck_assert_msg(strstr(text, "worker 7 " AGG " [") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "stderr: hello from the reducer\n") != NULL, "%s", text);
	free(text);
}
END_TEST

START_TEST(test_known_types_come_from_the_handshake)
{
	char **types = NULL;
	size_t n = 0;
	bool any = true;
	sm_error err;
	bool found = false;

	sm_error_clear(&err);
	/* Noise before the handshake (as mix prints) is tolerated. */
	env_vars[1].value = (char *)"1";
	ck_assert_msg(sm_exec_known_types(&cfg, &agg, &types, &n, &any, &err) == 0, "%s", err.message);
	ck_assert(!any);
	ck_assert_uint_eq(n, 9);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(types[i], "Picky") == 0)
			found = true;
		free(types[i]);
	}
	ck_assert_ptr_null(types[n]);
	free(types);
	ck_assert(found);

	exec_cfg.command = (char *)"python3 any.py";
	ck_assert_msg(sm_exec_known_types(&cfg, &agg, &types, &n, &any, &err) == 0, "%s", err.message);
	ck_assert(any);
	ck_assert_uint_eq(n, 0);
	free(types);

	exec_cfg.command = (char *)"python3 other.py";
	ck_assert_int_eq(sm_exec_known_types(&cfg, &agg, &types, &n, &any, &err), SM_ERR_CONFIG);
	ck_assert_msg(strstr(err.message, "does not handle " AGG " (it handles: Other.Type)") != NULL,
		      "%s", err.message);

	exec_cfg.command = (char *)"python3 dies.py";
	ck_assert_int_eq(sm_exec_known_types(&cfg, &agg, &types, &n, &any, &err), SM_ERR_IO);
	ck_assert_msg(strstr(err.message, "imaginary database") != NULL, "%s", err.message);
	assert_no_children();
}
END_TEST

START_TEST(test_a_long_stream_passes_in_bounded_memory)
{
	enum { N = 200000, PAD = 1000 };
	sm_exec_proc *p = open_proc(NULL);
	sm_reduce_failure fail;
	sm_error err;
	json_object *data = json_object_new_object();
	json_object *state = NULL;
	struct rusage before, after, children;
	char *pad = malloc(PAD + 1);
	long grown_kb;

	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	json_object_object_add(data, "n", json_object_new_int(2));
	json_object_object_add(data, "pad", json_object_new_string(pad));
	free(pad);
	sm_error_clear(&err);
	getrusage(RUSAGE_SELF, &before);
	ck_assert_int_eq(sm_exec_begin(p, "acc-1", NULL, 0, &fail, &err), 0);
	for (long long i = 1; i <= N; i++) {
		sm_event_view ev = { .type = "Added", .version = i, .data = data };

		ck_assert_int_eq(sm_exec_event(p, &ev, &fail, &err), 0);
	}
	ck_assert_int_eq(sm_exec_end(p, &state, &fail, &err), 0);
	getrusage(RUSAGE_SELF, &after);
	assert_state(state, "{\"count\":200000,\"total\":400000,\"last\":200000}");
	json_object_put(state);
	json_object_put(data);
	sm_exec_close(p);
	getrusage(RUSAGE_CHILDREN, &children);
	/* About 200 MB of events went through; neither side kept them. */
	grown_kb = after.ru_maxrss - before.ru_maxrss;
	ck_assert_msg(grown_kb < MAX_GROWTH_KB, "snapmig grew by %ld kB", grown_kb);
	ck_assert_msg(children.ru_maxrss < 64 * 1024, "the reducer peaked at %ld kB",
		      children.ru_maxrss);
}
END_TEST

/* ------------------------------------------- account.py against the rules */

static const char account_rules_conf[] = "aggregates = (\n" TL_ACCOUNT_RULES "\n);\n";

/* Event v of an account stream, as JSON text into buf; *type set. */
static void account_event(int stream, long long v, const char **type, char *buf, size_t size)
{
	static const char *const names[] = { "M\xc3\xbcller GmbH", "\xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe",
					      "OOO \\\"Romashka\\\"", "Acme\\nInc." };
	static const char *const plans[] = { "free", "team", "business", "enterprise" };
	static const char *const metrics[] = { "api_calls", "checks", "sms" };
	unsigned long long r = (unsigned long long)(stream * 7919 + v) * 2654435761ULL;

	if (v == 1) {
		*type = "Elixir.Domain.Account.Events.Created";
		snprintf(buf, size, "{\"id\":\"acc-%d\",\"name\":\"%s\",\"email\":\"a%d@example.com\","
			 "\"plan\":\"free\",\"created_at\":\"2026-01-0%dT10:00:00.000000Z\","
			 "\"address\":{\"city\":\"Z\xc3\xbcrich\",\"country\":\"CH\"}}",
			 stream, names[stream % 4], stream, stream % 9 + 1);
	} else if (v % 16 == 4) {
		*type = "Elixir.Domain.Account.Events.PlanChanged";
		snprintf(buf, size, "{\"id\":\"acc-%d\",\"plan\":\"%s\",\"changed_at\":\"t%lld\"}",
			 stream, plans[(r >> 8) % 4], v);
	} else if (v % 16 == 9) {
		*type = "Elixir.Domain.Account.Events.EmailChanged";
		snprintf(buf, size, "{\"id\":\"acc-%d\",\"email\":\"\xc3\xa9%llx@example.org\"}", stream, r);
	} else {
		*type = "Elixir.Domain.Account.Events.UsageRecorded";
		/* Amounts above 2^53 check that no side goes through doubles. */
		snprintf(buf, size, "{\"id\":\"acc-%d\",\"metric\":\"%s\",\"amount\":%llu,\"recorded_at\":\"t%lld\"}",
			 stream, metrics[(r >> 4) % 3], v % 7 == 0 ? 9007199254740993ULL : 1 + r % 100000, v);
	}
}

/* Folds events from..to of a stream with r; the event type at `odd_at`
 * is replaced by odd_type (0: none). */
static int account_fold(sm_reducer *r, int stream, json_object *start, long long from, long long to,
			long long odd_at, const char *odd_type, json_object **state,
			sm_reduce_failure *fail)
{
	sm_error err;
	char uuid[32];
	int rc;

	sm_error_clear(&err);
	memset(fail, 0, sizeof *fail);
	*state = NULL;
	snprintf(uuid, sizeof uuid, "acc-%d", stream);
	rc = sm_reducer_begin(r, uuid, start, from - 1, fail, &err);
	for (long long v = from; rc == 0 && v <= to; v++) {
		char text[512];
		const char *type;
		json_object *data = NULL;
		sm_event_view ev = { .version = v, .stream_uuid = uuid };

		account_event(stream, v, &type, text, sizeof text);
		ev.type = v == odd_at ? odd_type : type;
		ck_assert_msg(sm_json_parse_object(text, strlen(text), &data, &err) == 0, "%s: %s", text, err.message);
		ev.data = data;
		rc = sm_reducer_event(r, &ev, fail, &err);
		json_object_put(data);
	}
	if (rc == 0)
		rc = sm_reducer_end(r, state, fail, &err);
	if (rc == 1)
		sm_reducer_abort(r);
	ck_assert_msg(rc >= 0, "%s", err.message);
	return rc;
}

START_TEST(test_account_py_folds_like_the_rules)
{
	char conf_path[128], command[4200];
	sm_config *rcfg = NULL;
	const sm_aggregate *rules_agg;
	sm_reducer *rules_r = NULL, *exec_r = NULL;
	sm_error err;
	FILE *f;

	snprintf(conf_path, sizeof conf_path, "%s/rules.conf", tmpdir);
	f = fopen(conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(account_rules_conf, f);
	fclose(f);
	sm_error_clear(&err);
	ck_assert_msg(sm_config_load(conf_path, &rcfg, &err) == 0, "%s", err.message);
	rules_agg = sm_config_find_aggregate(rcfg, "Elixir.Domain.Account");
	ck_assert_ptr_nonnull(rules_agg);
	ck_assert_ptr_nonnull(rules_agg->rules);

	snprintf(command, sizeof command, "python3 '%s/examples/reducers/account.py'",
		 getenv("SNAPMIG_SRCDIR"));
	exec_cfg.command = command;
	exec_cfg.n_env = 0;
	agg.type = (char *)"Elixir.Domain.Account";
	ck_assert_int_eq(sm_reducer_open(rcfg, rules_agg, 1, NULL, &rules_r, &err), 0);
	ck_assert_msg(sm_reducer_open(&cfg, &agg, 2, NULL, &exec_r, &err) == 0, "%s", err.message);

	for (int stream = 1; stream <= 12; stream++) {
		long long len = 20 + stream * 37;
		json_object *a = NULL, *b = NULL, *a2 = NULL, *b2 = NULL;
		sm_reduce_failure fa, fb;

		/* Full replay, then a catch-up from the first half's state. */
		ck_assert_int_eq(account_fold(rules_r, stream, NULL, 1, len / 2, 0, NULL, &a, &fa), 0);
		ck_assert_int_eq(account_fold(exec_r, stream, NULL, 1, len / 2, 0, NULL, &b, &fb), 0);
		ck_assert_msg(sm_json_equal(a, b), "stream %d: rules %s, python %s", stream,
			      json_object_to_json_string(a), json_object_to_json_string(b));
		ck_assert_int_eq(account_fold(rules_r, stream, a, len / 2 + 1, len, 0, NULL, &a2, &fa), 0);
		ck_assert_int_eq(account_fold(exec_r, stream, a, len / 2 + 1, len, 0, NULL, &b2, &fb), 0);
		ck_assert_msg(sm_json_equal(a2, b2), "stream %d: rules %s, python %s", stream,
			      json_object_to_json_string(a2), json_object_to_json_string(b2));
		json_object_put(a);
		json_object_put(b);
		json_object_put(a2);
		json_object_put(b2);
	}
	/* The same failures too: a second Created matches no clause, an event
	 * from another branch is unknown. */
	for (int k = 0; k < 2; k++) {
		const char *odd = k == 0 ? "Elixir.Domain.Account.Events.Created"
					 : "Elixir.Domain.Account.Events.Suspended";
		json_object *a = NULL, *b = NULL;
		sm_reduce_failure fa, fb;

		ck_assert_int_eq(account_fold(rules_r, 3, NULL, 1, 40, 17, odd, &a, &fa), 1);
		ck_assert_int_eq(account_fold(exec_r, 3, NULL, 1, 40, 17, odd, &b, &fb), 1);
		ck_assert_int_eq(fa.kind, k == 0 ? SM_FAIL_NO_MATCH : SM_FAIL_UNKNOWN_EVENT);
		ck_assert_int_eq(fb.kind, fa.kind);
		ck_assert_int_eq(fb.version, 17);
		ck_assert_int_eq(fa.version, 17);
		ck_assert_str_eq(fb.event_type, odd);
		ck_assert_str_eq(fa.event_type, odd);
	}
	sm_reducer_close(rules_r);
	sm_reducer_close(exec_r);
	sm_config_free(rcfg);
	assert_no_children();
}
END_TEST

/* ------------------------------------------ a rebuild with the engine */

static const char rebuild_conf_fmt[] =
	"defaults = { jobs = 2; batch_size = 3; };\n"
	"environments = ( { name = \"t\"; conninfo = \"%s\"; target_schema = \"%s\"; } );\n"
	"aggregates = (\n"
	"  { type = \"Elixir.Domain.Account\"; snapshot_version = 2;\n"
	"%s"
	"  }\n"
	");\n";

static const char account_type_sql[] =
	"'Elixir.Domain.Account.Events.' || CASE WHEN i = 1 THEN 'Created'"
	" WHEN i % 16 = 4 THEN 'PlanChanged' WHEN i % 16 = 9 THEN 'EmailChanged'"
	" ELSE 'UsageRecorded' END";

static const char account_data_sql[] =
	"CASE WHEN i = 1 THEN json_build_object('id', 'acc', 'name', 'M\xc3\xbcller \xe6\xa0\xaa\xe5\xbc\x8f',"
	" 'email', 'a@example.com', 'plan', 'free', 'created_at', '2026-01-01T00:00:00Z',"
	" 'address', json_build_object('city', 'Z\xc3\xbcrich', 'country', 'CH'))::text"
	" WHEN i % 16 = 4 THEN json_build_object('id', 'acc', 'plan', (ARRAY['team','business'])[i % 2 + 1],"
	" 'changed_at', 't' || i)::text"
	" WHEN i % 16 = 9 THEN json_build_object('id', 'acc', 'email', 'e' || i || '@example.org')::text"
	" ELSE json_build_object('id', 'acc', 'metric', (ARRAY['api_calls','checks','sms'])[i % 3 + 1],"
	" 'amount', CASE WHEN i % 7 = 0 THEN 9007199254740993 ELSE i END, 'recorded_at', 't' || i)::text END";

/* Loads a config for the store at conninfo folding Account with `reducer`
 * (rules or exec) into target; opens the engine. */
static sm_engine *open_engine(const char *conninfo, const char *target, const char *reducer,
			      sm_config **cfg_out)
{
	char path[128], *text;
	sm_engine *eng = NULL;
	sm_error e;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s.conf", tmpdir, target);
	ck_assert(asprintf(&text, rebuild_conf_fmt, conninfo, target, reducer) > 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(text);
	sm_error_clear(&e);
	ck_assert_msg(sm_config_load(path, cfg_out, &e) == 0, "%s:%d: %s", e.file, e.line, e.message);
	ck_assert_msg(sm_engine_open(*cfg_out, "t", NULL, &eng, &e) == 0, "%s", e.message);
	return eng;
}

static void run_rebuild(sm_engine *eng, sm_progress *prog)
{
	sm_rebuild_options opts;
	sm_run *run = NULL;
	sm_error e;

	memset(&opts, 0, sizeof opts);
	sm_error_clear(&e);
	ck_assert_msg(sm_rebuild_start(eng, &opts, &run, &e) == 0, "%s", e.message);
	ck_assert_msg(sm_run_wait(run, &e) == 0, "rebuild: %s", e.message);
	sm_run_progress(run, prog);
	sm_run_free(run);
}

static void check_failures(sm_engine *eng)
{
	sm_failure_list *fl = NULL;
	sm_error e;

	sm_error_clear(&e);
	ck_assert_int_eq(sm_failures_read(eng, NULL, -1, NULL, &fl, &e), 0);
	ck_assert_uint_eq(fl->n, 1);
	ck_assert_str_eq(fl->items[0].source_uuid, "acc-odd");
	ck_assert_int_eq(fl->items[0].kind, SM_FAIL_UNKNOWN_EVENT);
	ck_assert_int_eq(fl->items[0].stream_version, 41);
	ck_assert_str_eq(fl->items[0].event_type, "Elixir.Domain.Account.Events.Suspended");
	sm_failure_list_free(fl);
}

START_TEST(test_a_rebuild_with_account_py_writes_the_rules_snapshots)
{
	static const char *const uuids[] = { "acc-1", "acc-2", "acc-3", "acc-long", "acc-odd", "acc-valid" };
	static const long long lens[] = { 1, 17, 250, 20000, 40, 60 };
	char *conninfo = tl_new_database();
	PGconn *conn = tl_connect(conninfo);
	char errbuf[1024], reducer[4400], *v;
	const char *odd_type[] = { "Elixir.Domain.Account.Events.Suspended" };
	const char *odd_data[] = { "{\"id\":\"acc-odd\"}" };
	const char *odd_meta[] = { NULL };
	sm_config *cfg_rules = NULL, *cfg_exec = NULL;
	sm_engine *eng_rules, *eng_exec;
	sm_progress prog;

	ck_assert_msg(sm_fixture_create_store(conn, "public", SM_FIXTURE_BYTEA, errbuf, sizeof errbuf) == 0,
		      "%s", errbuf);
	for (size_t i = 0; i < sizeof uuids / sizeof uuids[0]; i++) {
		ck_assert_msg(sm_fixture_append_generated(conn, "public", SM_FIXTURE_BYTEA, uuids[i], lens[i],
							  account_type_sql, account_data_sql,
							  errbuf, sizeof errbuf) == 0, "%s", errbuf);
		/* Stale snapshots (module version 1): full replay ... */
		if (strcmp(uuids[i], "acc-valid") != 0)
			ck_assert_msg(sm_fixture_snapshot(conn, "public", SM_FIXTURE_BYTEA, uuids[i], 1,
							  "Elixir.Domain.Account", "{}",
							  "{\"snapshot_module_version\":1}",
							  errbuf, sizeof errbuf) == 0, "%s", errbuf);
	}
	ck_assert_msg(sm_fixture_append(conn, "public", SM_FIXTURE_BYTEA, "acc-odd", 1, odd_type, odd_data,
					odd_meta, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	/* ... and a valid one (version 2) to catch up from, with a key the
	 * struct no longer has. */
	ck_assert_msg(sm_fixture_snapshot(conn, "public", SM_FIXTURE_BYTEA, "acc-valid", 30,
					  "Elixir.Domain.Account",
					  "{\"id\":\"acc\",\"name\":\"Old\",\"email\":\"o@x\",\"plan\":\"team\","
					  "\"address\":null,\"created_at\":\"t0\",\"plan_changed_at\":null,"
					  "\"plan_changes\":3,\"usage\":{\"sms\":10},\"last_usage_at\":null,"
					  "\"obsolete\":1}",
					  "{\"snapshot_module_version\":2}", errbuf, sizeof errbuf) == 0,
		      "%s", errbuf);

	eng_rules = open_engine(conninfo, "m_rules",
		"    initial = \"{id: null, name: null, email: null, plan: null, address: null,"
		" created_at: null, plan_changed_at: null, plan_changes: 0, usage: {}, last_usage_at: null}\";\n"
		"    events = (\n"
		"      { on = \"Elixir.Domain.Account.Events.Created\"; when = \"not exists state.id\";\n"
		"        do = \"id = event.id; name = event.name; email = event.email; plan = event.plan;"
		" address = event.address; created_at = event.created_at\"; },\n"
		"      { on = \"Elixir.Domain.Account.Events.PlanChanged\";\n"
		"        do = \"plan = event.plan; plan_changed_at = event.changed_at; plan_changes += 1\"; },\n"
		"      { on = \"Elixir.Domain.Account.Events.EmailChanged\"; do = \"email = event.email\"; },\n"
		"      { on = \"Elixir.Domain.Account.Events.UsageRecorded\";\n"
		"        do = \"usage[event.metric] += event.amount; last_usage_at = event.recorded_at\"; }\n"
		"    );\n", &cfg_rules);
	snprintf(reducer, sizeof reducer, "    reducer = { exec = \"python3 '%s/examples/reducers/account.py'\"; };\n",
		 getenv("SNAPMIG_SRCDIR"));
	eng_exec = open_engine(conninfo, "m_exec", reducer, &cfg_exec);

	run_rebuild(eng_rules, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	sm_progress_clear(&prog);
	run_rebuild(eng_exec, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	sm_progress_clear(&prog);

	/* Five instances written by each, the same rows. */
	tl_assert_value(conn, "5", "SELECT count(*) FROM m_exec.snapshots");
	tl_assert_value(conn, "0",
			"SELECT count(*) FROM m_exec.snapshots e FULL JOIN m_rules.snapshots r USING (source_uuid)"
			" WHERE e.source_uuid IS NULL OR r.source_uuid IS NULL"
			" OR e.source_version <> r.source_version OR e.source_type <> r.source_type"
			" OR convert_from(e.data, 'UTF8')::jsonb <> convert_from(r.data, 'UTF8')::jsonb"
			" OR convert_from(e.metadata, 'UTF8')::jsonb <> convert_from(r.metadata, 'UTF8')::jsonb");
	/* And they are what the events say (checked here, independently). */
	v = tl_query_value(conn,
		"SELECT convert_from(data, 'UTF8')::jsonb #>> '{usage,api_calls}' || ' ' ||"
		" (convert_from(data, 'UTF8')::jsonb ->> 'plan_changes') || ' ' || source_version"
		" FROM m_exec.snapshots WHERE source_uuid = 'acc-long'");
	{
		/* UsageRecorded with i % 3 == 0 (api_calls), i % 16 not in {1 only at i=1, 4, 9}. */
		unsigned long long api = 0;
		long long changes = 0;
		char want[128];

		for (long long i = 2; i <= 20000; i++) {
			if (i % 16 == 4)
				changes++;
			else if (i % 16 != 9 && i % 3 == 0)
				api += i % 7 == 0 ? 9007199254740993ULL : (unsigned long long)i;
		}
		snprintf(want, sizeof want, "%llu %lld 20000", api, changes);
		ck_assert_str_eq(v, want);
	}
	free(v);
	tl_assert_value(conn, "false Old 60",
			"SELECT (convert_from(data, 'UTF8')::jsonb ? 'obsolete')::text || ' ' ||"
			" (convert_from(data, 'UTF8')::jsonb ->> 'name') || ' ' || source_version"
			" FROM m_exec.snapshots WHERE source_uuid = 'acc-valid'");
	check_failures(eng_rules);
	check_failures(eng_exec);

	sm_engine_close(eng_rules);
	sm_engine_close(eng_exec);
	sm_config_free(cfg_rules);
	sm_config_free(cfg_exec);
	PQfinish(conn);
	free(conninfo);
	assert_no_children();
}
END_TEST

/* A slow reducer (10 ms an event): progress still moves while it works, and
 * a cancel stops the run within about a second, keeping what committed. */
static const char slow_py[] =
	"import time\n"
	"import snapmig_reducer as sr\n"
	"def added(state, data, ev):\n"
	"    time.sleep(0.01)\n"
	"    state['n'] += 1\n"
	"    return state\n"
	"sr.run({'Elixir.Domain.Account': sr.Aggregate(initial={'n': 0},\n"
	"    handlers={'Elixir.Domain.Account.Events.Added': added})})\n";

START_TEST(test_a_slow_reducer_shows_progress_and_cancels_within_a_second)
{
	char *conninfo = tl_new_database();
	PGconn *conn = tl_connect(conninfo);
	char errbuf[1024], reducer[4400];
	sm_config *c = NULL;
	sm_engine *eng;
	sm_run *run = NULL;
	sm_progress p1, p2;
	sm_error e;
	struct timespec t0, t1;
	double waited;

	write_script("slow.py", slow_py);
	ck_assert(sm_fixture_create_store(conn, "public", SM_FIXTURE_BYTEA, errbuf, sizeof errbuf) == 0);
	for (int i = 0; i < 40; i++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "slow-%02d", i);
		ck_assert_msg(sm_fixture_append_generated(conn, "public", SM_FIXTURE_BYTEA, uuid, 100,
			"'Elixir.Domain.Account.Events.Added'", "'{}'", errbuf, sizeof errbuf) == 0, "%s", errbuf);
		ck_assert(sm_fixture_snapshot(conn, "public", SM_FIXTURE_BYTEA, uuid, 1, "Elixir.Domain.Account",
					      "{}", NULL, errbuf, sizeof errbuf) == 0);
	}
	snprintf(reducer, sizeof reducer,
		 "    reducer = { exec = \"python3 '%s/slow.py'\"; env = { PYTHONPATH = \"%s\"; }; };\n",
		 tmpdir, pythonpath);
	eng = open_engine(conninfo, "m_slow", reducer, &c);
	sm_error_clear(&e);
	ck_assert(sm_rebuild_start(eng, NULL, &run, &e) == SM_OK);
	/* 4,000 events at 10 ms each take 20 s with two workers. */
	tl_run_wait_planned(run);
	sleep(2);
	sm_run_progress(run, &p1);
	sleep(2);
	sm_run_progress(run, &p2);
	ck_assert_msg(p2.total.events_done > p1.total.events_done, "progress did not move: %lld then %lld",
		      p1.total.events_done, p2.total.events_done);
	ck_assert_int_eq(p2.state, SM_RUN_RUNNING);
	sm_progress_clear(&p1);
	sm_progress_clear(&p2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sm_run_cancel(run);
	while (!sm_run_finished(run))
		usleep(10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	sm_run_progress(run, &p1);
	ck_assert_int_eq(p1.state, SM_RUN_CANCELLED);
	ck_assert_int_lt(p1.total.instances_done, 40);
	sm_progress_clear(&p1);
	sm_run_free(run);
	/* "Within about a second": generous for a loaded machine, far below
	 * the 20 s the run would otherwise take. */
	ck_assert_msg(waited < 5.0, "cancel took %.1f s", waited);
	close_rebuild(eng, c, conn, conninfo);
}
END_TEST

/* ------------------------------------------------------------ raw mode */

/* A reducer in raw mode, without the helper: its state is what it was
 * given, byte for byte, so that every byte on the way can be checked.
 * OUT=json makes it a JSON text (for jsonb stores); streams named
 * *bad-json* get text that is no JSON, *no-raw* a state without
 * state_raw.  APP_VERSION: its "snapshot_version". */
static const char raw_py[] =
	"import base64, json, os, sys\n"
	"def out(m):\n"
	"    sys.stdout.write(json.dumps(m) + '\\n'); sys.stdout.flush()\n"
	"b64 = lambda b: base64.b64encode(b).decode()\n"
	"hello = json.loads(sys.stdin.readline())\n"
	"info = {'events': 'any'}\n"
	"if os.environ.get('APP_VERSION'): info['snapshot_version'] = int(os.environ['APP_VERSION'])\n"
	"out({'op': 'hello', 'protocol': 1, 'raw': 'raw' in hello.get('features', []), 'types': True,\n"
	"     'reducer': 'raw.py 1 ' + json.dumps(hello.get('columns')), 'aggregates': {hello['aggregate']: info}})\n"
	"inst = None\n"
	"for line in sys.stdin:\n"
	"    m = json.loads(line)\n"
	"    if m['op'] == 'types':\n"
	"        out({'op': 'types', 'id': m['id'], 'unknown': {t: {'kind': 'unknown_event',\n"
	"             'message': 'no module ' + t} for t in m['types'] if 'Gone' in t}})\n"
	"    elif m['op'] == 'begin':\n"
	"        start = base64.b64decode(m['state_raw']) if m['start'] == 'state' else b'(initial)'\n"
	"        inst = {'id': m['id'], 'uuid': m['stream_uuid'], 'parts': [b'<' + start + b'>'], 'log': []}\n"
	"    elif m['op'] == 'event':\n"
	"        d = base64.b64decode(m['data_raw']) if m['data_raw'] is not None else b'NULL'\n"
	"        md = base64.b64decode(m['metadata_raw']) if m['metadata_raw'] is not None else b'NULL'\n"
	"        inst['parts'].append(d + b'|' + md)\n"
	"        inst['log'].append([m['type'], m['version'], m['event_number'], m['event_id'],\n"
	"                            m['causation_id'], m['correlation_id'], m['created_at']])\n"
	"    elif m['op'] == 'end' and inst and inst['id'] == m['id']:\n"
	"        if os.environ.get('OUT') == 'json':\n"
	"            body = json.dumps({'parts': [b64(p) for p in inst['parts']], 'log': inst['log'],\n"
	"                               'big': 123456789012345678901234567890}).encode()\n"
	"        else:\n"
	"            body = b'\\x00\\xff' + b'\\n'.join(inst['parts'])\n"
	"        if 'bad-json' in inst['uuid']: body = b'{not json'\n"
	"        if 'no-raw' in inst['uuid']:\n"
	"            out({'op': 'state', 'id': m['id'], 'state': {}})\n"
	"        else:\n"
	"            out({'op': 'state', 'id': m['id'], 'state_raw': b64(body)})\n"
	"        inst = None\n"
	"    elif m['op'] in ('end', 'abort'):\n"
	"        inst = None\n";

START_TEST(test_raw_mode_carries_bytes_both_ways)
{
	static const unsigned char start[] = { '{', 0x00, 0xff, '"', '\\', '\n', '}' };
	static const unsigned char data[] = { 0xc3, 0x28, 0x00, 'x' };
	static const char want[] = "\x00\xff<{\x00\xff\"\\\n}>\n\xc3(\x00x|NULL\n{\"a\":1}|{\"m\":2}";
	sm_raw_event ev[2];
	sm_reduce_failure fail;
	const sm_exec_hello *h;
	unsigned char *state = NULL;
	size_t len = 0;
	sm_exec_proc *p;
	sm_error err;

	exec_cfg.command = (char *)"python3 raw.py";
	p = open_proc(NULL);
	sm_exec_set_columns(p, SM_COL_BYTEA, SM_COL_JSONB);
	sm_error_clear(&err);
	memset(&fail, 0, sizeof fail);
	ck_assert_int_eq(sm_exec_start(p, &fail, &err), 0);
	h = sm_exec_handshake(p);
	ck_assert_ptr_nonnull(h);
	ck_assert(h->raw && h->types_request && !h->has_version);
	ck_assert(sm_exec_raw(p));
	/* The hello announced the store's columns. */
	ck_assert_str_eq(h->reducer, "raw.py 1 {\"data\": \"bytea\", \"metadata\": \"jsonb\"}");
	memset(ev, 0, sizeof ev);
	ev[0].type = "Bin";
	ev[0].version = 8;
	ev[0].event_id = "0d4e3f4a-9a53-4b0e-8f4b-3d2e1c0b9a8f";
	ev[0].data = data;
	ev[0].data_len = sizeof data;
	ev[1].type = "Json";
	ev[1].version = 9;
	ev[1].data = (const unsigned char *)"{\"a\":1}";
	ev[1].data_len = 7;
	ev[1].metadata = (const unsigned char *)"{\"m\":2}";
	ev[1].metadata_len = 7;
	ck_assert_int_eq(sm_exec_begin_raw(p, "s-1", start, sizeof start, 7, &fail, &err), 0);
	ck_assert_int_eq(sm_exec_event_raw(p, &ev[0], &fail, &err), 0);
	ck_assert_int_eq(sm_exec_event_raw(p, &ev[1], &fail, &err), 0);
	ck_assert_int_eq(sm_exec_end_raw(p, &state, &len, &fail, &err), 0);
	ck_assert_uint_eq(len, sizeof want - 1);
	ck_assert(memcmp(state, want, len) == 0);
	free(state);
	/* A state reply without state_raw is no answer in raw mode. */
	ck_assert_int_eq(sm_exec_begin_raw(p, "no-raw", NULL, 0, 0, &fail, &err), 0);
	ck_assert_int_eq(sm_exec_end_raw(p, &state, &len, &fail, &err), SM_REDUCE_FAILED);
	ck_assert_int_eq(fail.kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fail.message, "state_raw") != NULL, "%s", fail.message);
	sm_exec_close(p);
	assert_no_children();
}
END_TEST

START_TEST(test_a_types_request_names_what_the_reducer_cannot_fold)
{
	static const char *const types[] = { "Elixir.A.Created", "Elixir.A.Gone", "Elixir.B.Gone" };
	sm_exec_types_reply reply;
	sm_exec_hello hello;
	sm_error err;

	exec_cfg.command = (char *)"python3 raw.py";
	sm_error_clear(&err);
	ck_assert_msg(sm_exec_check_types(&cfg, &agg, SM_COL_MISSING, SM_COL_MISSING, types, 3,
					  &hello, &reply, &err) == 0, "%s", err.message);
	ck_assert(hello.types_request);
	ck_assert_uint_eq(reply.n_unknown, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert(strstr(reply.unknown[i].type, "Gone") != NULL);
		ck_assert_int_eq(reply.unknown[i].kind, SM_FAIL_UNKNOWN_EVENT);
		ck_assert(strncmp(reply.unknown[i].message, "no module ", 10) == 0);
	}
	sm_exec_hello_clear(&hello);
	sm_exec_types_reply_clear(&reply);
	/* A reducer that does not answer them is described, not asked. */
	exec_cfg.command = (char *)"python3 any.py";
	ck_assert_int_eq(sm_exec_check_types(&cfg, &agg, SM_COL_MISSING, SM_COL_MISSING, types, 3,
					     &hello, &reply, &err), 0);
	ck_assert(!hello.types_request && hello.any && !hello.raw);
	ck_assert_uint_eq(reply.n_unknown, 0);
	sm_exec_hello_clear(&hello);
	sm_exec_types_reply_clear(&reply);
	assert_no_children();
}
END_TEST

/* Three streams of two events each, with a live snapshot at 1 (module
 * version 2, valid) for the first; mode decides the columns. */
static void raw_store(PGconn *conn, enum sm_fixture_mode mode)
{
	static const char *const uuids[] = { "r-1", "r-2", "r-bad-json" };
	const char *types[] = { "Elixir.Domain.Account.Events.A", "Elixir.Domain.Account.Events.B" };
	const char *datas[] = { "{\"n\": 1, \"s\": \"\xc3\xa9\"}", "{\"big\":123456789012345678901234567890}" };
	const char *metas[] = { NULL, "{\"user\":\"u\"}" };
	char errbuf[1024];

	ck_assert_msg(sm_fixture_create_store(conn, "public", mode, errbuf, sizeof errbuf) == 0, "%s", errbuf);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_msg(sm_fixture_append(conn, "public", mode, uuids[i], 2, types, datas, metas,
						errbuf, sizeof errbuf) == 0, "%s", errbuf);
		ck_assert_msg(sm_fixture_snapshot(conn, "public", mode, uuids[i], 1, "Elixir.Domain.Account",
						  "{\"x_val\":\"g2gC\"}",
						  i == 0 ? "{\"snapshot_module_version\":2}"
							 : "{\"snapshot_module_version\":1}",
						  errbuf, sizeof errbuf) == 0, "%s", errbuf);
	}
}

START_TEST(test_a_rebuild_in_raw_mode_stores_the_reducers_bytes)
{
	char *conninfo = tl_new_database();
	PGconn *conn = tl_connect(conninfo);
	char reducer[600], *v, *want;
	sm_config *c = NULL;
	sm_engine *eng;
	sm_progress prog;

	raw_store(conn, SM_FIXTURE_BYTEA);
	snprintf(reducer, sizeof reducer, "    reducer = { exec = \"python3 '%s/raw.py'\"; };\n", tmpdir);
	eng = open_engine(conninfo, "m_raw", reducer, &c);
	run_rebuild(eng, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	ck_assert_int_eq(prog.total.failed, 0);
	sm_progress_clear(&prog);
	/* r-1 continues from its valid snapshot (its data column as stored),
	 * r-2 replays from the start; each event's columns as stored, SQL
	 * NULL metadata as NULL; the result stored byte for byte. */
	v = tl_query_value(conn, "SELECT encode(data, 'hex') || ' ' || source_version FROM m_raw.snapshots"
			   " WHERE source_uuid = 'r-1'");
	want = tl_query_value(conn, "SELECT encode('\\x00ff'::bytea || convert_to('<{\"x_val\":\"g2gC\"}>' ||"
			      " E'\\n{\"big\":123456789012345678901234567890}|{\"user\":\"u\"}', 'UTF8'), 'hex') || ' 2'");
	ck_assert_str_eq(v, want);
	free(v);
	free(want);
	v = tl_query_value(conn, "SELECT encode(data, 'hex') FROM m_raw.snapshots WHERE source_uuid = 'r-2'");
	want = tl_query_value(conn, "SELECT encode('\\x00ff'::bytea || convert_to('<(initial)>' ||"
			      " E'\\n{\"n\": 1, \"s\": \"\xc3\xa9\"}|NULL'"
			      " || E'\\n{\"big\":123456789012345678901234567890}|{\"user\":\"u\"}', 'UTF8'), 'hex')");
	ck_assert_str_eq(v, want);
	free(v);
	free(want);
	/* snapmig writes the metadata as always. */
	tl_assert_value(conn, "{\"snapshot_module_version\":2},{\"snapshot_module_version\":2},"
			"{\"snapshot_module_version\":2}",
			"SELECT string_agg(convert_from(metadata, 'UTF8'), ',' ORDER BY source_uuid)"
			" FROM m_raw.snapshots");
	close_rebuild(eng, c, conn, conninfo);
}
END_TEST

START_TEST(test_a_raw_state_a_jsonb_column_cannot_take_fails_its_instance)
{
	char *conninfo = tl_new_database();
	PGconn *conn = tl_connect(conninfo);
	char reducer[600];
	sm_failure_list *fl = NULL;
	sm_config *c = NULL;
	sm_engine *eng;
	sm_progress prog;
	sm_error e;

	raw_store(conn, SM_FIXTURE_JSONB);
	snprintf(reducer, sizeof reducer,
		 "    reducer = { exec = \"python3 '%s/raw.py'\"; env = { OUT = \"json\"; }; };\n", tmpdir);
	eng = open_engine(conninfo, "m_rawj", reducer, &c);
	run_rebuild(eng, &prog);
	ck_assert_int_eq(prog.state, SM_RUN_DONE);
	ck_assert_int_eq(prog.total.failed, 1);
	sm_progress_clear(&prog);
	/* The others are stored as the JSON they are (a number beyond 64
	 * bits included); the events' event ids and times reached it. */
	tl_assert_value(conn, "123456789012345678901234567890 2 true true 27",
			"SELECT (data->>'big') || ' ' || jsonb_array_length(data->'log') || ' ' ||"
			" (data #>> '{log,0,3}' = (SELECT e.event_id::text FROM public.events e"
			"  JOIN public.stream_events se USING (event_id) JOIN public.streams s USING (stream_id)"
			"  WHERE s.stream_uuid = 'r-2' AND se.stream_version = 1))::text || ' ' ||"
			" (data #>> '{log,0,4}' IS NULL)::text || ' ' || length(data #>> '{log,0,6}')"
			" FROM m_rawj.snapshots WHERE source_uuid = 'r-2'");
	tl_assert_value(conn, "2", "SELECT count(*) FROM m_rawj.snapshots");
	sm_error_clear(&e);
	ck_assert_int_eq(sm_failures_read(eng, NULL, -1, NULL, &fl, &e), 0);
	ck_assert_uint_eq(fl->n, 1);
	ck_assert_str_eq(fl->items[0].source_uuid, "r-bad-json");
	ck_assert_int_eq(fl->items[0].kind, SM_FAIL_REDUCER);
	ck_assert_msg(strstr(fl->items[0].message, "not a jsonb value") != NULL, "%s", fl->items[0].message);
	sm_failure_list_free(fl);
	close_rebuild(eng, c, conn, conninfo);
}
END_TEST

START_TEST(test_a_version_the_application_disagrees_with_refuses_the_rebuild)
{
	char *conninfo = tl_new_database();
	PGconn *conn = tl_connect(conninfo);
	char reducer[600];
	sm_rebuild_options opts;
	sm_preflight *pf = NULL;
	sm_config *c = NULL;
	sm_engine *eng;
	sm_run *run = NULL;
	sm_error e;

	raw_store(conn, SM_FIXTURE_BYTEA);
	snprintf(reducer, sizeof reducer,
		 "    reducer = { exec = \"python3 '%s/raw.py'\"; env = { APP_VERSION = \"3\"; }; };\n", tmpdir);
	eng = open_engine(conninfo, "m_ver", reducer, &c);
	/* The pre-flight shows it ... */
	sm_error_clear(&e);
	ck_assert_msg(sm_preflight_run(eng, NULL, 0, NULL, &pf, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(pf->n_mismatches, 1);
	ck_assert_uint_eq(pf->n_reducers, 1);
	ck_assert(pf->reducers[0].external && pf->reducers[0].raw && pf->reducers[0].version_mismatch);
	ck_assert_int_eq(pf->reducers[0].app_version, 3);
	ck_assert_int_eq(pf->reducers[0].config_version, 2);
	ck_assert_uint_eq(pf->n_unknown, 0);
	sm_preflight_free(pf);
	/* ... and the rebuild is refused before anything is written. */
	memset(&opts, 0, sizeof opts);
	ck_assert_int_eq(sm_rebuild_start(eng, &opts, &run, &e), 0);
	ck_assert_int_eq(sm_run_wait(run, &e), SM_ERR_CONFIG);
	ck_assert_msg(strstr(e.message, "snapmig.conf says snapshot_version 2, the application's reducer says 3")
		      != NULL, "%s", e.message);
	sm_run_free(run);
	tl_assert_value(conn, "0", "SELECT count(*) FROM m_ver.snapshots");
	close_rebuild(eng, c, conn, conninfo);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("exec_reducer");
	TCase *tc = tcase_create("protocol");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_events_fold_from_the_initial_state);
	tcase_add_test(tc, test_start_state_continues_from_its_version);
	tcase_add_test(tc, test_event_fields_reach_the_reducer_unchanged);
	tcase_add_test(tc, test_unknown_event_names_version_and_type);
	tcase_add_test(tc, test_no_match_and_reducer_errors_are_reported);
	tcase_add_test(tc, test_an_early_error_stops_the_stream_before_its_end);
	tcase_add_test(tc, test_a_crash_fails_only_its_instance);
	tcase_add_test(tc, test_garbage_output_fails_the_instance);
	tcase_add_test(tc, test_a_hanging_reducer_times_out);
	tcase_add_test(tc, test_cancel_interrupts_a_waiting_call);
	tcase_add_test(tc, test_repeated_crashes_give_up_on_the_type);
	tcase_add_test(tc, test_another_protocol_version_gives_up_at_once);
	tcase_add_test(tc, test_a_reducer_closing_its_input_does_not_kill_snapmig);
	tcase_add_test(tc, test_stderr_is_logged_with_the_worker_id);
	tcase_add_test(tc, test_known_types_come_from_the_handshake);
	tcase_add_test(tc, test_a_long_stream_passes_in_bounded_memory);
	tcase_add_test(tc, test_account_py_folds_like_the_rules);
	tcase_add_test(tc, test_raw_mode_carries_bytes_both_ways);
	tcase_add_test(tc, test_a_types_request_names_what_the_reducer_cannot_fold);
	suite_add_tcase(s, tc);
	tc = tcase_create("rebuild");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_a_rebuild_with_account_py_writes_the_rules_snapshots);
	tcase_add_test(tc, test_a_slow_reducer_shows_progress_and_cancels_within_a_second);
	tcase_add_test(tc, test_a_rebuild_in_raw_mode_stores_the_reducers_bytes);
	tcase_add_test(tc, test_a_raw_state_a_jsonb_column_cannot_take_fails_its_instance);
	tcase_add_test(tc, test_a_version_the_application_disagrees_with_refuses_the_rebuild);
	suite_add_tcase(s, tc);
	return tl_run_suite(s);
}
