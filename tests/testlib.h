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

/* Runs every test of s (CK_NORMAL output); main's exit status: 0 when all
 * passed.  Needs no server: a pure suite calls nothing else here. */
int tl_run_suite(Suite *s);

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

#endif
