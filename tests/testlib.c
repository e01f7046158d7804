/* Test helpers; see testlib.h. */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testlib.h"
#include "util/alloc.h"
#include "util/clock.h"

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

void tl_execf(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = sm_xvasprintf(fmt, ap);
	va_end(ap);
	tl_exec(conn, sql);
	free(sql);
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

void tl_assert_value(PGconn *conn, const char *want, const char *sql)
{
	char *v = tl_query_value(conn, sql);

	ck_assert_msg(v && strcmp(v, want) == 0, "%s\n  got      %s\n  expected %s", sql,
		      v ? v : "(no row)", want);
	free(v);
}

void tl_assert_valuef(PGconn *conn, const char *want, const char *fmt, ...)
{
	va_list ap;
	char *sql;

	va_start(ap, fmt);
	sql = sm_xvasprintf(fmt, ap);
	va_end(ap);
	tl_assert_value(conn, want, sql);
	free(sql);
}

char *tl_query_valuef(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql, *v;

	va_start(ap, fmt);
	sql = sm_xvasprintf(fmt, ap);
	va_end(ap);
	v = tl_query_value(conn, sql);
	free(sql);
	return v;
}

int tl_wait_for_pid(const char *conninfo, const char *query, int n, const char *const *params)
{
	double deadline = sm_now() + 30;
	PGconn *mon = tl_connect(conninfo);
	int pid = 0;

	while (!pid && sm_now() < deadline) {
		PGresult *r = PQexecParams(mon, query, n, NULL, params, NULL, NULL, 0);

		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", query,
			      PQresultErrorMessage(r));
		if (PQntuples(r) > 0)
			pid = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (!pid)
			usleep(20000);
	}
	PQfinish(mon);
	return pid;
}

void tl_run_wait_planned(sm_run *run)
{
	for (;;) {
		sm_progress p;
		enum sm_run_state st;

		sm_run_progress(run, &p);
		st = p.state;
		sm_progress_clear(&p);
		if (st != SM_RUN_PLANNING)
			return;
		usleep(1000);
	}
}

static void copy_on_lock_wait(void *ctx, double seconds)
{
	tl_copy_thread *t = ctx;

	pthread_mutex_lock(&t->mu);
	t->waits++;
	t->last_wait = seconds;
	pthread_mutex_unlock(&t->mu);
}

static void *copy_main(void *arg)
{
	tl_copy_thread *t = arg;

	t->rc = sm_copy_run(t->eng, &t->opts, NULL, &t->res, &t->err);
	return NULL;
}

void tl_copy_start(tl_copy_thread *t, sm_engine *eng, const sm_copy_options *opts)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	t->eng = eng;
	t->opts = *opts;
	t->opts.on_lock_wait = copy_on_lock_wait;
	t->opts.ctx = t;
	ck_assert_int_eq(pthread_create(&t->th, NULL, copy_main, t), 0);
}

int tl_copy_waits(tl_copy_thread *t, double *last)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = t->waits;
	if (last)
		*last = t->last_wait;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void tl_copy_join(tl_copy_thread *t)
{
	pthread_join(t->th, NULL);
	pthread_mutex_destroy(&t->mu);
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
