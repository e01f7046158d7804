/* EventStore fixtures; see fixture.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture.h"

static int fail(PGconn *conn, PGresult *res, const char *what, char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "%s (in: %.200s)",
		 res ? PQresultErrorMessage(res) : PQerrorMessage(conn), what);
	PQclear(res);
	return -1;
}

static int exec(PGconn *conn, const char *sql, int n, const char *const *params,
		PGresult **out, char *errbuf, size_t errlen)
{
	/* Without parameters, PQexec allows several statements in one string. */
	PGresult *res = n ? PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0)
			  : PQexec(conn, sql);

	if (!res || (PQresultStatus(res) != PGRES_COMMAND_OK &&
		     PQresultStatus(res) != PGRES_TUPLES_OK))
		return fail(conn, res, sql, errbuf, errlen);
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

static char *ident(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *c = strdup(q);

	PQfreemem(q);
	return c;
}

const char *sm_fixture_write_fmt(enum sm_fixture_mode mode)
{
	switch (mode) {
	case SM_FIXTURE_JSONB: return "(%s)::jsonb";
	case SM_FIXTURE_JSONB_TEXT: return "to_jsonb((%s)::text)";
	default: return "convert_to(%s, 'UTF8')";
	}
}

static char *write_expr(enum sm_fixture_mode mode, const char *inner)
{
	size_t n = strlen(sm_fixture_write_fmt(mode)) + strlen(inner) + 1;
	char *s = malloc(n);

	snprintf(s, n, sm_fixture_write_fmt(mode), inner);
	return s;
}

int sm_fixture_create_store(PGconn *conn, const char *schema,
			    enum sm_fixture_mode mode, char *errbuf, size_t errlen)
{
	const char *t = mode == SM_FIXTURE_BYTEA ? "bytea" : "jsonb";
	char *s = ident(conn, schema);
	char *sql = NULL;
	int rc;

	if (asprintf(&sql,
		"CREATE SCHEMA IF NOT EXISTS %1$s;"
		"CREATE TABLE %1$s.schema_migrations ("
		" major_version int, minor_version int, patch_version int,"
		" migrated_at timestamp with time zone NOT NULL DEFAULT NOW(),"
		" PRIMARY KEY (major_version, minor_version, patch_version));"
		"INSERT INTO %1$s.schema_migrations (major_version, minor_version, patch_version) VALUES (1, 3, 2);"
		"CREATE TABLE %1$s.streams ("
		" stream_id bigserial PRIMARY KEY NOT NULL,"
		" stream_uuid text NOT NULL,"
		" stream_version bigint DEFAULT 0 NOT NULL,"
		" created_at timestamp with time zone DEFAULT NOW() NOT NULL,"
		" deleted_at timestamp with time zone);"
		"CREATE UNIQUE INDEX ix_streams_stream_uuid ON %1$s.streams (stream_uuid);"
		"INSERT INTO %1$s.streams (stream_id, stream_uuid, stream_version) VALUES (0, '$all', 0);"
		"CREATE TABLE %1$s.events ("
		" event_id uuid PRIMARY KEY NOT NULL,"
		" event_type text NOT NULL,"
		" causation_id uuid NULL,"
		" correlation_id uuid NULL,"
		" data %2$s NOT NULL,"
		" metadata %2$s NULL,"
		" created_at timestamp with time zone DEFAULT NOW() NOT NULL);"
		"CREATE TABLE %1$s.stream_events ("
		" event_id uuid NOT NULL REFERENCES %1$s.events (event_id),"
		" stream_id bigint NOT NULL REFERENCES %1$s.streams (stream_id),"
		" stream_version bigint NOT NULL,"
		" original_stream_id bigint REFERENCES %1$s.streams (stream_id),"
		" original_stream_version bigint,"
		" PRIMARY KEY (event_id, stream_id));"
		"CREATE UNIQUE INDEX ix_stream_events ON %1$s.stream_events (stream_id, stream_version);"
		"CREATE TABLE %1$s.subscriptions ("
		" subscription_id bigserial PRIMARY KEY NOT NULL,"
		" stream_uuid text NOT NULL,"
		" subscription_name text NOT NULL,"
		" last_seen bigint NULL,"
		" created_at timestamp with time zone DEFAULT NOW() NOT NULL);"
		"CREATE UNIQUE INDEX ix_subscriptions_stream_uuid_subscription_name"
		" ON %1$s.subscriptions (stream_uuid, subscription_name);"
		"CREATE TABLE %1$s.snapshots ("
		" source_uuid text PRIMARY KEY NOT NULL,"
		" source_version bigint NOT NULL,"
		" source_type text NOT NULL,"
		" data %2$s NOT NULL,"
		" metadata %2$s NULL,"
		" created_at timestamp with time zone DEFAULT NOW() NOT NULL);"
		"CREATE OR REPLACE FUNCTION %1$s.event_store_exception() RETURNS trigger AS $f$"
		" BEGIN RAISE EXCEPTION 'EventStore: %%', TG_ARGV[0]; END; $f$ LANGUAGE plpgsql;"
		"CREATE TRIGGER no_update_stream_events BEFORE UPDATE ON %1$s.stream_events"
		" FOR EACH STATEMENT EXECUTE PROCEDURE %1$s.event_store_exception('Cannot update stream events');"
		"CREATE TRIGGER no_delete_stream_events BEFORE DELETE ON %1$s.stream_events"
		" FOR EACH STATEMENT EXECUTE PROCEDURE %1$s.event_store_exception('Cannot delete stream events');"
		"CREATE TRIGGER no_update_events BEFORE UPDATE ON %1$s.events"
		" FOR EACH STATEMENT EXECUTE PROCEDURE %1$s.event_store_exception('Cannot update events');"
		"CREATE TRIGGER no_delete_events BEFORE DELETE ON %1$s.events"
		" FOR EACH STATEMENT EXECUTE PROCEDURE %1$s.event_store_exception('Cannot delete events');",
		s, t) < 0) {
		free(s);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	rc = exec(conn, sql, 0, NULL, NULL, errbuf, errlen);
	free(sql);
	free(s);
	return rc;
}

/* Locks and creates the stream; returns its id and version. */
static int lock_stream(PGconn *conn, const char *s, const char *uuid,
		       long long *id, long long *version, char *errbuf, size_t errlen)
{
	char sql[512];
	const char *p[] = { uuid };
	PGresult *res;

	snprintf(sql, sizeof sql,
		 "INSERT INTO %s.streams (stream_uuid) VALUES ($1) ON CONFLICT DO NOTHING", s);
	if (exec(conn, sql, 1, p, NULL, errbuf, errlen))
		return -1;
	snprintf(sql, sizeof sql,
		 "SELECT stream_id, stream_version FROM %s.streams WHERE stream_uuid = $1 FOR UPDATE", s);
	if (exec(conn, sql, 1, p, &res, errbuf, errlen))
		return -1;
	*id = atoll(PQgetvalue(res, 0, 0));
	*version = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

/* Where an append writes: the store's quoted schema, the stream's id and
 * version and $all's version, as locked for it. */
typedef struct append_at {
	const char *s;
	long long sid, sver, aver;
} append_at;

/* The statements of an append, run in the transaction that holds the
 * stream and $all. */
typedef int append_fn(PGconn *conn, const append_at *at, const void *arg, char *errbuf,
		      size_t errlen);

/* Runs fn in one transaction holding the stream (created if needed) and
 * $all; commits when fn succeeded, else rolls back.  0 when committed. */
static int append(PGconn *conn, const char *schema, const char *stream_uuid, append_fn *fn,
		  const void *arg, char *errbuf, size_t errlen)
{
	char *s = ident(conn, schema);
	append_at at = { .s = s };
	long long aid;
	int rc = exec(conn, "BEGIN", 0, NULL, NULL, errbuf, errlen);

	if (rc == 0) {
		if (lock_stream(conn, s, stream_uuid, &at.sid, &at.sver, errbuf, errlen) ||
		    lock_stream(conn, s, "$all", &aid, &at.aver, errbuf, errlen))
			rc = -1;
		else
			rc = fn(conn, &at, arg, errbuf, errlen);
		if (rc == 0) {
			rc = exec(conn, "COMMIT", 0, NULL, NULL, errbuf, errlen);
		} else {
			PQclear(PQexec(conn, "ROLLBACK"));
			rc = -1;
		}
	}
	free(s);
	return rc;
}

struct rows {
	enum sm_fixture_mode mode;
	int n;
	const char *const *types, *const *datas, *const *metas;
};

/* sm_fixture_append's statements: one event a statement, then the
 * streams' versions. */
static int append_rows(PGconn *conn, const append_at *at, const void *arg, char *errbuf,
		       size_t errlen)
{
	const struct rows *a = arg;
	char *wd = write_expr(a->mode, "$3");
	char *wm = write_expr(a->mode, "$4");
	char sql[2048];
	int rc = 0;

	snprintf(sql, sizeof sql,
		 "WITH e AS (INSERT INTO %1$s.events (event_id, event_type, data, metadata)"
		 " VALUES (gen_random_uuid(), $2, %2$s, %3$s) RETURNING event_id)"
		 " INSERT INTO %1$s.stream_events"
		 " (event_id, stream_id, stream_version, original_stream_id, original_stream_version)"
		 " SELECT e.event_id, x.sid, x.v, $1::bigint, $5::bigint FROM e,"
		 " (VALUES ($1::bigint, $5::bigint), (0, $6::bigint)) AS x(sid, v)",
		 at->s, wd, wm);
	for (int i = 0; rc == 0 && i < a->n; i++) {
		char id[32], v[32], av[32];
		const char *p[] = { id, a->types[i], a->datas[i], a->metas ? a->metas[i] : NULL, v, av };

		snprintf(id, sizeof id, "%lld", at->sid);
		snprintf(v, sizeof v, "%lld", at->sver + i + 1);
		snprintf(av, sizeof av, "%lld", at->aver + i + 1);
		rc = exec(conn, sql, 6, p, NULL, errbuf, errlen);
	}
	if (rc == 0) {
		char id[32], v[32], av[32];
		const char *p[] = { id, v, av };

		snprintf(id, sizeof id, "%lld", at->sid);
		snprintf(v, sizeof v, "%lld", at->sver + a->n);
		snprintf(av, sizeof av, "%lld", at->aver + a->n);
		snprintf(sql, sizeof sql,
			 "UPDATE %1$s.streams SET stream_version = CASE stream_id WHEN 0 THEN $3::bigint"
			 " ELSE $2::bigint END WHERE stream_id IN (0, $1::bigint)", at->s);
		rc = exec(conn, sql, 3, p, NULL, errbuf, errlen);
	}
	free(wd);
	free(wm);
	return rc;
}

int sm_fixture_append(PGconn *conn, const char *schema, enum sm_fixture_mode mode,
		      const char *stream_uuid, int n, const char *const *types,
		      const char *const *datas, const char *const *metas,
		      char *errbuf, size_t errlen)
{
	const struct rows a = { mode, n, types, datas, metas };

	return append(conn, schema, stream_uuid, append_rows, &a, errbuf, errlen);
}

struct generated {
	enum sm_fixture_mode mode;
	long long count;
	const char *type_expr, *data_expr;
};

/* sm_fixture_append_generated's statements: every event in one go. */
static int append_generated(PGconn *conn, const append_at *at, const void *arg, char *errbuf,
			    size_t errlen)
{
	const struct generated *a = arg;
	char *wd = write_expr(a->mode, a->data_expr);
	char *sql;
	int rc;

	/* Event ids are sequential here (stream id, version; the 13th hex
	 * digit 'f' keeps them apart from random v4 ids) so that bulk loads
	 * append to the indexes instead of scattering; nothing depends on
	 * the ids' form.  Bulk loads also skip the per-row foreign-key triggers when allowed
	 * (superuser, as in the tests and the demo); the rows are consistent
	 * by construction.  Elsewhere the SET fails harmlessly. */
	PQclear(PQexec(conn, "SAVEPOINT fixture_role"));
	{
		PGresult *r = PQexec(conn, "SET LOCAL session_replication_role = replica");

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT fixture_role"));
		PQclear(r);
	}
	if (asprintf(&sql,
		"CREATE TEMP TABLE IF NOT EXISTS fixture_gen (i bigint, event_id uuid) ON COMMIT DROP;"
		"INSERT INTO fixture_gen SELECT i, (lpad(to_hex(%2$lld), 12, '0') || 'f000' || lpad(to_hex(%6$lld + i), 16, '0'))::uuid"
		" FROM generate_series(1, %3$lld) AS i;"
		"INSERT INTO %1$s.events (event_id, event_type, data, metadata)"
		" SELECT event_id, (%4$s), %5$s, NULL FROM fixture_gen;"
		"INSERT INTO %1$s.stream_events"
		" (event_id, stream_id, stream_version, original_stream_id, original_stream_version)"
		" SELECT event_id, %2$lld, %6$lld + i, %2$lld, %6$lld + i FROM fixture_gen"
		" UNION ALL SELECT event_id, 0, %7$lld + i, %2$lld, %6$lld + i FROM fixture_gen;"
		"UPDATE %1$s.streams SET stream_version = CASE stream_id WHEN 0 THEN %7$lld + %3$lld"
		" ELSE %6$lld + %3$lld END WHERE stream_id IN (0, %2$lld);"
		"DROP TABLE fixture_gen;",
		at->s, at->sid, a->count, a->type_expr, wd, at->sver, at->aver) < 0) {
		snprintf(errbuf, errlen, "out of memory");
		rc = -1;
	} else {
		rc = exec(conn, sql, 0, NULL, NULL, errbuf, errlen);
		free(sql);
	}
	free(wd);
	return rc;
}

int sm_fixture_append_generated(PGconn *conn, const char *schema,
				enum sm_fixture_mode mode, const char *stream_uuid,
				long long count, const char *type_expr,
				const char *data_expr, char *errbuf, size_t errlen)
{
	const struct generated a = { mode, count, type_expr, data_expr };

	return append(conn, schema, stream_uuid, append_generated, &a, errbuf, errlen);
}

int sm_fixture_snapshot(PGconn *conn, const char *schema, enum sm_fixture_mode mode,
			const char *source_uuid, long long source_version,
			const char *source_type, const char *data,
			const char *metadata, char *errbuf, size_t errlen)
{
	char *s = ident(conn, schema);
	char *wd = write_expr(mode, "$4");
	char *wm = write_expr(mode, "$5");
	char sql[1024];
	char v[32];
	const char *p[] = { source_uuid, v, source_type, data, metadata };
	int rc;

	snprintf(v, sizeof v, "%lld", source_version);
	snprintf(sql, sizeof sql,
		 "INSERT INTO %1$s.snapshots (source_uuid, source_version, source_type, data, metadata)"
		 " VALUES ($1, $2, $3, %2$s, %3$s)"
		 " ON CONFLICT (source_uuid) DO UPDATE SET source_version = excluded.source_version,"
		 " source_type = excluded.source_type, data = excluded.data,"
		 " metadata = excluded.metadata, created_at = now()", s, wd, wm);
	rc = exec(conn, sql, 5, p, NULL, errbuf, errlen);
	free(s);
	free(wd);
	free(wm);
	return rc;
}
