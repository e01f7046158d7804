/*
 * Helpers for the Check suites: running a suite, the harness's server
 * (tests/with-pg), a fresh database per test, and a config file written
 * from a string.
 */
#ifndef SM_TESTS_TESTLIB_H
#define SM_TESTS_TESTLIB_H

/* SM_TEST_ASAN: defined when built with AddressSanitizer (GCC or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define SM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SM_TEST_ASAN 1
#endif
#endif

#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <libpq-fe.h>

#include "config/snapmig_conf.h"
#include "engine/snapmig.h"
#include "tests/fixture.h"

/* The demo's Account aggregate (examples/reducers/account.py) as rules:
 * one entry of a configuration's aggregates list. */
#define TL_ACCOUNT_RULES \
	"  { type = \"Elixir.Domain.Account\"; snapshot_version = 2;\n" \
	"    initial = \"{id: null, name: null, email: null, plan: null, address: null," \
	" created_at: null, plan_changed_at: null, plan_changes: 0, usage: {}, last_usage_at: null}\";\n" \
	"    events = (\n" \
	"      { on = \"Elixir.Domain.Account.Events.Created\"; when = \"not exists state.id\";\n" \
	"        do = \"id = event.id; name = event.name; email = event.email; plan = event.plan;" \
	" address = event.address; created_at = event.created_at\"; },\n" \
	"      { on = \"Elixir.Domain.Account.Events.PlanChanged\";\n" \
	"        do = \"plan = event.plan; plan_changed_at = event.changed_at; plan_changes += 1\"; },\n" \
	"      { on = \"Elixir.Domain.Account.Events.EmailChanged\"; do = \"email = event.email\"; },\n" \
	"      { on = \"Elixir.Domain.Account.Events.UsageRecorded\";\n" \
	"        do = \"usage[event.metric] += event.amount; last_usage_at = event.recorded_at\"; }\n" \
	"    ); }"

/* Runs every test of s (CK_NORMAL output); main's exit status: 0 when all
 * passed.  Needs no server: a pure suite calls nothing else here. */
int tl_run_suite(Suite *s);
/* The same for a suite of one test case, named name. */
int tl_run_case(const char *name, TCase *tc);
/* The same for several test cases, the list ending with NULL. */
int tl_run_cases(const char *name, TCase *tc, ...);

/* Conninfo of the harness's server; fails the test when not run under
 * tests/with-pg. */
const char *tl_server_conninfo(void);

/* Creates a new, empty database and returns its conninfo (caller frees). */
char *tl_new_database(void);

/* Connects or fails the test. */
PGconn *tl_connect(const char *conninfo);

/* Runs SQL or fails the test. */
void tl_exec(PGconn *conn, const char *sql);
/* tl_exec of the SQL that fmt and its arguments make. */
void tl_execf(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* First column of the first row as a malloc'ed string ("" for NULL, NULL
 * when there are no rows); fails the test on error. */
char *tl_query_value(PGconn *conn, const char *sql);

/* The query's value (tl_query_value) is want; fails the test naming the
 * query otherwise (also when it gives no row). */
void tl_assert_value(PGconn *conn, const char *want, const char *sql);
void tl_assert_valuef(PGconn *conn, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tl_query_value of the query that fmt and its arguments make. */
char *tl_query_valuef(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Polls query (with its n params) on a connection of its own to conninfo
 * (inside a transaction, pg_stat_activity would not change) until it gives
 * a row; returns the row's first column as an int (a backend's pid), 0
 * when none came within 30 s. */
int tl_wait_for_pid(const char *conninfo, const char *query, int n, const char *const *params);

/* Waits (polling every millisecond) until run has left SM_RUN_PLANNING. */
void tl_run_wait_planned(sm_run *run);

/*
 * A copy (sm_copy_run) in a thread of its own, for a test that holds it up
 * with a lock: tl_copy_start starts it with opts whose on_lock_wait counts
 * its reports of waiting, tl_copy_waits reads the count (and the last
 * time waited, when last is not NULL), tl_copy_join waits for its end and
 * leaves its result in rc, err and res (the caller frees res).
 */
typedef struct tl_copy_thread {
	sm_engine *eng;
	sm_copy_options opts;
	pthread_t th;
	pthread_mutex_t mu;       /* guards waits and last_wait */
	int waits;
	double last_wait;
	int rc;
	sm_error err;
	sm_copy_result *res;
} tl_copy_thread;

void tl_copy_start(tl_copy_thread *t, sm_engine *eng, const sm_copy_options *opts);
int tl_copy_waits(tl_copy_thread *t, double *last);
void tl_copy_join(tl_copy_thread *t);

/* Writes text to a new temporary file and returns its path (caller frees;
 * tl_cleanup_files removes them).  dir may be NULL for a fresh temp dir. */
char *tl_write_file(const char *dir, const char *name, const char *text);


/* Writes text as snapmig.conf, loads it into *cfg and, when env is not
 * NULL, opens env into *eng; fails the test (with file:line) on error. */
void tl_config_open(const char *text, const char *env, sm_config **cfg, sm_engine **eng);

/*
 * A test's event store: a fresh database whose schema holds an empty
 * store in one column mode (tl_store_new), then a configuration and the
 * engine of its environment "t" (tl_store_config).  tl_store_free frees
 * whatever was set.
 */
typedef struct tl_store {
	char *conninfo;
	PGconn *conn;               /* the test's own connection */
	const char *schema;         /* the store's schema (static) */
	enum sm_fixture_mode mode;
	sm_config *cfg;
	sm_engine *eng;             /* NULL until opened */
} tl_store;

void tl_store_new(tl_store *f, const char *schema, enum sm_fixture_mode mode);
/* Loads text (a configuration, %s: the conninfo, filled by the caller)
 * in place of the one loaded before; env NULL: no engine. */
void tl_store_config(tl_store *f, const char *text, const char *env);
/* tl_store_new, then tl_store_config with config_fmt, whose one %s is
 * the new database's conninfo. */
void tl_store_open(tl_store *f, const char *schema, enum sm_fixture_mode mode,
		   const char *config_fmt, const char *env);
void tl_store_free(tl_store *f);
/* One event of type with data and meta (NULL: none) in a new stream. */
void tl_store_append(const tl_store *f, const char *uuid, const char *type, const char *data,
		     const char *meta);
void tl_store_snapshot(const tl_store *f, const char *uuid, long long version, const char *type,
		       const char *data, const char *meta);

#endif
