/* Test helpers; see testlib.h. */
#include "config.h"

#include <check.h>
#include <stdarg.h>
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

int tl_run_case(const char *name, TCase *tc)
{
	return tl_run_cases(name, tc, (TCase *)NULL);
}

int tl_run_cases(const char *name, TCase *tc, ...)
{
	Suite *s = suite_create(name);
	va_list ap;

	va_start(ap, tc);
	for (; tc; tc = va_arg(ap, TCase *))
		suite_add_tcase(s, tc);
	va_end(ap);
	return tl_run_suite(s);
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

void tl_config_open(const char *text, const char *env, sm_config **cfg, sm_engine **eng)
{
	char *path = tl_write_file(NULL, "snapmig.conf", text);
	sm_error e;

	sm_error_clear(&e);
	ck_assert_msg(sm_config_load(path, cfg, &e) == SM_OK, "config: %s:%d: %s", e.file, e.line,
		      e.message);
	if (env)
		ck_assert_msg(sm_engine_open(*cfg, env, NULL, eng, &e) == SM_OK, "open: %s", e.message);
	free(path);
}

void tl_store_new(tl_store *f, const char *schema, enum sm_fixture_mode mode)
{
	char err[1024];

	memset(f, 0, sizeof *f);
	f->schema = schema;
	f->mode = mode;
	f->conninfo = tl_new_database();
	f->conn = tl_connect(f->conninfo);
	ck_assert_msg(sm_fixture_create_store(f->conn, schema, mode, err, sizeof err) == 0, "%s", err);
}

void tl_store_config(tl_store *f, const char *text, const char *env)
{
	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	f->eng = NULL;
	f->cfg = NULL;
	tl_config_open(text, env, &f->cfg, &f->eng);
}

void tl_store_open(tl_store *f, const char *schema, enum sm_fixture_mode mode,
		   const char *config_fmt, const char *env)
{
	char *text;

	tl_store_new(f, schema, mode);
	if (asprintf(&text, config_fmt, f->conninfo) < 0)
		ck_abort_msg("out of memory");
	tl_store_config(f, text, env);
	free(text);
}

void tl_store_free(tl_store *f)
{
	sm_engine_close(f->eng);
	sm_config_free(f->cfg);
	PQfinish(f->conn);
	free(f->conninfo);
}

void tl_store_append(const tl_store *f, const char *uuid, const char *type, const char *data,
		     const char *meta)
{
	char err[1024];
	const char *types[] = { type }, *datas[] = { data }, *metas[] = { meta };

	ck_assert_msg(sm_fixture_append(f->conn, f->schema, f->mode, uuid, 1, types, datas, metas,
					err, sizeof err) == 0, "%s", err);
}

void tl_store_snapshot(const tl_store *f, const char *uuid, long long version, const char *type,
		       const char *data, const char *meta)
{
	char err[1024];

	ck_assert_msg(sm_fixture_snapshot(f->conn, f->schema, f->mode, uuid, version, type, data,
					  meta, err, sizeof err) == 0, "%s", err);
}
