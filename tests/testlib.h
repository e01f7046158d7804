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

/* First column of the first row as a malloc'ed string ("" for NULL, NULL
 * when there are no rows); fails the test on error. */
char *tl_query_value(PGconn *conn, const char *sql);

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
