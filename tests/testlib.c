/* Test helpers; see testlib.h. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testlib.h"

int tl_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

const char *tl_server_conninfo(void)
{
	const char *c = getenv("SNAPMIG_TEST_CONNINFO");

	ck_assert_msg(c != NULL, "SNAPMIG_TEST_CONNINFO not set: run under tests/with-pg");
	return c;
}

PGconn *tl_connect(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect %s: %s", conninfo,
		      PQerrorMessage(conn));
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

void tl_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

char *tl_query_value(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	char *v = NULL;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
		      PQresultErrorMessage(res));
	if (PQntuples(res) > 0)
		v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

char *tl_new_database(void)
{
	static int counter;  /* per test process; Check forks per test */
	PGconn *admin = tl_connect(tl_server_conninfo());
	char name[64], sql[128], *conninfo;

	snprintf(name, sizeof name, "t_%ld_%d", (long)getpid(), counter++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	tl_exec(admin, sql);
	PQfinish(admin);
	if (asprintf(&conninfo, "%s dbname=%s", tl_server_conninfo(), name) < 0)
		ck_abort_msg("out of memory");
	return conninfo;
}

char *tl_write_file(const char *dir, const char *name, const char *text)
{
	char *path;
	char tmpl[] = "/tmp/snapmig-test.XXXXXX";
	FILE *f;

	if (!dir) {
		dir = mkdtemp(tmpl);
		ck_assert_msg(dir != NULL, "mkdtemp failed");
	}
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		ck_abort_msg("out of memory");
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	return path;
}
