/* The demo store's streams and events; see demo_store.h. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/demo/demo_store.h"
#include "util/alloc.h"

/*
 * The aggregate kinds.  Each event is a function of its stream and version
 * only: v (stream_version), c = v / 16 and p = v % 16 (a 16-event cycle
 * that decides the event type, so that removals name what an earlier add
 * added and states stay bounded however long the stream), r (a 63-bit hash
 * of stream and version standing in for randomness), unk (this is the
 * stream's event of a type the config does not know).  data_sql sees ev
 * (the short event name), id (the aggregate's uuid), ts (the event's time as
 * Elixir's DateTime prints it) and the above.
 *
 * Values are chosen to exercise what a reducer must keep exact: uuids,
 * ISO timestamps, nested objects, non-ASCII text, integers above 2^53,
 * decimals.
 */

/* Elixir.Domain.StatusPage: components and subscriptions. */
static const char status_page_events[] =
	"CASE WHEN unk THEN 'ComponentRenamed'"
	" WHEN v = 1 THEN 'Created'"
	" WHEN v % 5000 = 0 THEN 'Reset'"
	" WHEN p = 5 AND c % 4 <> 0 THEN 'ComponentStatusChanged'"
	" ELSE (ARRAY['ComponentAdded','ComponentStatusChanged','ComponentStatusChanged',"
	"'SubscriptionAdded','ComponentStatusChanged','Paused','ComponentStatusChanged',"
	"'SubscriptionRemoved','ComponentAdded','ComponentStatusChanged','ComponentStatusChanged',"
	"'ComponentStatusChanged','ComponentStatusChanged','ComponentRemoved',"
	"'ComponentStatusChanged','ComponentStatusChanged'])[p + 1] END";

static const char status_page_data[] =
	"CASE ev"
	" WHEN 'Created' THEN format('{\"id\":\"%s\",\"name\":\"%s\",\"url\":\"https://status.example.com/%s\","
	"\"owner_account_id\":\"%s\",\"created_at\":\"%s\",\"settings\":{\"locale\":\"%s\",\"public\":true}}',"
	" id, (ARRAY['Café Zürich Status','Статус сервиса','ステータスページ','Ærø Færgeri – drift',"
	"'São Paulo Ops 🚦','Acme \\\"Cloud\\\" Platform'])[r % 6 + 1], left(id, 8), md5(id || ':owner')::uuid::text, ts,"
	" (ARRAY['de-CH','ru-RU','ja-JP','da-DK','pt-BR','en-US'])[r % 6 + 1])"
	" WHEN 'ComponentAdded' THEN format('{\"status_page_id\":\"%s\",\"component_id\":\"%s\",\"name\":\"%s\","
	"\"group\":{\"id\":\"%s\",\"name\":\"%s\"},\"added_at\":\"%s\"}',"
	" id, md5(id || ':component:' || ((2 * c + p / 8) % 12))::uuid::text,"
	" (ARRAY['API','Base de données','Webhooks – Europa','認証サービス','CDN','Платежи'])[(r >> 8) % 6 + 1],"
	" md5(id || ':group:' || (r % 3))::uuid::text, (ARRAY['Core','Интеграции','Edge'])[r % 3 + 1], ts)"
	" WHEN 'ComponentStatusChanged' THEN format('{\"status_page_id\":\"%s\",\"component_id\":\"%s\",\"status\":\"%s\","
	"\"changed_at\":\"%s\",\"change_id\":%s,\"details\":{\"source\":\"%s\",\"latency_ms\":%s,\"message\":\"%s\"}}',"
	" id, md5(id || ':component:' || ((r >> 4) % 12))::uuid::text,"
	" (ARRAY['operational','operational','degraded','major_outage'])[(r >> 12) % 4 + 1],"
	" ts, 1700000000000000000 + v * 1000 + r % 1000,"
	" (ARRAY['scraper','webhook','manual'])[(r >> 16) % 3 + 1], (r >> 20) % 5000,"
	" (ARRAY['Alles in Ordnung','Latence élevée sur eu-west-1','応答が遅延しています',"
	"'Частичный сбой','Timeout after 30s','Back to normal ✅'])[(r >> 24) % 6 + 1])"
	" WHEN 'SubscriptionAdded' THEN format('{\"status_page_id\":\"%s\",\"subscription_id\":\"%s\",\"component_id\":\"%s\","
	"\"account_id\":\"%s\",\"channels\":[\"email\",\"slack\"],\"created_at\":\"%s\"}',"
	" id, md5(id || ':sub:' || (c % 8))::uuid::text, md5(id || ':component:' || ((r >> 4) % 12))::uuid::text,"
	" md5(id || ':account:' || (c % 5))::uuid::text, ts)"
	" WHEN 'SubscriptionRemoved' THEN format('{\"status_page_id\":\"%s\",\"subscription_id\":\"%s\",\"removed_at\":\"%s\"}',"
	" id, md5(id || ':sub:' || ((c + 3) % 8))::uuid::text, ts)"
	" WHEN 'ComponentRemoved' THEN format('{\"status_page_id\":\"%s\",\"component_id\":\"%s\",\"removed_at\":\"%s\"}',"
	" id, md5(id || ':component:' || ((2 * c + 6) % 12))::uuid::text, ts)"
	" WHEN 'Paused' THEN format('{\"status_page_id\":\"%s\",\"paused_by\":\"%s\",\"reason\":\"Wartungsfenster – geplante Arbeiten 🛠\","
	"\"until\":\"%s\"}', id, md5(id || ':user:' || (r % 4))::uuid::text, ts)"
	" WHEN 'ComponentRenamed' THEN format('{\"status_page_id\":\"%s\",\"component_id\":\"%s\",\"name\":\"Nouveau nom ✨\"}',"
	" id, md5(id || ':component:0')::uuid::text)"
	" ELSE format('{\"status_page_id\":\"%s\",\"reset_at\":\"%s\"}', id, ts) END";

/* Elixir.Domain.Team: integer user ids (above 2^53), added once, removed
 * later. */
static const char team_events[] =
	"CASE WHEN unk THEN 'RoleChanged'"
	" WHEN p IN (3, 7, 12) THEN 'MemberRemoved' ELSE 'MemberAdded' END";

static const char team_data[] =
	"CASE ev"
	" WHEN 'MemberAdded' THEN format('{\"team_id\":\"%s\",\"user_id\":%s,\"role\":\"%s\",\"name\":\"%s\","
	"\"added_by\":%s,\"added_at\":\"%s\",\"invitation\":{\"id\":\"%s\",\"via\":\"%s\"}}',"
	" id, 9007199254740993 + (r >> 4) % 24,"
	" (ARRAY['owner','admin','member','viewer'])[(r >> 8) % 4 + 1],"
	" (ARRAY['Zoë Ångström','Łukasz Żółć','Наталья Иванова','山田 太郎','José Núñez','Ada Lovelace'])[(r >> 12) % 6 + 1],"
	" 9007199254740993, ts, md5(id || ':inv:' || v)::uuid::text, (ARRAY['email','sso','api'])[r % 3 + 1])"
	" WHEN 'MemberRemoved' THEN format('{\"team_id\":\"%s\",\"user_id\":%s,\"removed_at\":\"%s\"}',"
	" id, 9007199254740993 + (r >> 4) % 24, ts)"
	" ELSE format('{\"team_id\":\"%s\",\"user_id\":%s,\"role\":\"admin\"}', id, 9007199254740994) END";

/* Elixir.Domain.Monitor: checks from three regions (decimal latencies),
 * incidents opened and resolved, trimmed history, tags, reconfiguration. */
static const char monitor_events[] =
	"CASE WHEN v = 1 THEN 'Created'"
	" WHEN v % 7000 = 0 THEN 'Archived'"
	" WHEN v % 1000 = 500 THEN 'RegionRemoved'"
	" WHEN p = 12 AND c % 4 = 0 THEN 'Reconfigured'"
	" WHEN p = 13 AND c % 3 = 0 THEN 'TagRemoved'"
	" WHEN p = 14 AND c % 8 = 0 THEN 'Renamed'"
	" WHEN p = 15 AND c % 10 = 9 THEN 'HistoryTrimmed'"
	" ELSE (ARRAY['CheckSucceeded','CheckSucceeded','CheckSucceeded','CheckFailed',"
	"'CheckSucceeded','IncidentOpened','CheckSucceeded','CheckSucceeded','IncidentResolved',"
	"'CheckSucceeded','TagAdded','CheckSucceeded','CheckSucceeded','CheckSucceeded',"
	"'CheckFailed','CheckSucceeded'])[p + 1] END";

static const char monitor_data[] =
	"CASE ev"
	" WHEN 'CheckSucceeded' THEN format('{\"monitor_id\":\"%s\",\"region\":\"%s\",\"checked_at\":\"%s\","
	"\"latency_ms\":%s.%s,\"http\":{\"status\":200,\"bytes\":%s}}',"
	" id, (ARRAY['eu-west','us-east','ap-south'])[(r >> 4) % 3 + 1], ts,"
	" 5 + (r >> 8) % 400, (r >> 20) % 10, (r >> 24) % 100000)"
	" WHEN 'CheckFailed' THEN format('{\"monitor_id\":\"%s\",\"region\":\"%s\",\"checked_at\":\"%s\",\"error\":\"%s\"}',"
	" id, (ARRAY['eu-west','us-east','ap-south'])[(r >> 4) % 3 + 1], ts,"
	" (ARRAY['timeout after 30000 ms','HTTP 503 – Service Unavailable','TLS: certificat expiré',"
	"'DNS: имя не найдено'])[(r >> 8) % 4 + 1])"
	" WHEN 'IncidentOpened' THEN format('{\"monitor_id\":\"%s\",\"incident_id\":\"%s\",\"opened_at\":\"%s\",\"cause\":\"%s\"}',"
	" id, md5(id || ':inc:' || c)::uuid::text, ts,"
	" (ARRAY['3 failed checks in a row','Zeitüberschreitung','応答なし'])[(r >> 8) % 3 + 1])"
	" WHEN 'IncidentResolved' THEN format('{\"monitor_id\":\"%s\",\"incident_id\":\"%s\",\"resolved_at\":\"%s\"}',"
	" id, md5(id || ':inc:' || c)::uuid::text, ts)"
	" WHEN 'HistoryTrimmed' THEN format('{\"monitor_id\":\"%s\",\"incident_ids\":[%s]}', id,"
	" (SELECT string_agg('\"' || md5(id || ':inc:' || k)::uuid::text || '\"', ',')"
	"  FROM generate_series(c - 9, c - 2) AS k))"
	" WHEN 'TagAdded' THEN format('{\"monitor_id\":\"%s\",\"tag\":\"%s\"}', id,"
	" (ARRAY['prod','api','eu','kritisch','本番','🚀'])[c % 6 + 1])"
	" WHEN 'TagRemoved' THEN format('{\"monitor_id\":\"%s\",\"tag\":\"%s\"}', id,"
	" (ARRAY['prod','api','eu','kritisch','本番','🚀'])[(c + 3) % 6 + 1])"
	" WHEN 'Reconfigured' THEN format('{\"monitor_id\":\"%s\",\"changes\":{\"interval_s\":%s,\"timeout_ms\":%s,\"method\":\"%s\"}}',"
	" id, (ARRAY[30, 60, 300])[(r >> 4) % 3 + 1], 1000 * (5 + (r >> 8) % 26), (ARRAY['GET','HEAD'])[(r >> 12) % 2 + 1])"
	" WHEN 'Renamed' THEN format('{\"monitor_id\":\"%s\",\"name\":\"%s\"}', id,"
	" (ARRAY['API – Produktion','Page d''accueil','決済 API','Вход в систему'])[(r >> 4) % 4 + 1])"
	" WHEN 'RegionRemoved' THEN format('{\"monitor_id\":\"%s\",\"region\":\"%s\"}', id,"
	" (ARRAY['eu-west','us-east','ap-south'])[(r >> 4) % 3 + 1])"
	" WHEN 'Archived' THEN format('{\"monitor_id\":\"%s\",\"archived_at\":\"%s\"}', id, ts)"
	" ELSE format('{\"monitor_id\":\"%s\",\"status_page_id\":\"%s\",\"name\":\"%s\",\"url\":\"https://%s.example.net/health\","
	"\"interval_s\":60}', id, md5(id || ':page')::uuid::text,"
	" (ARRAY['API','Website','Checkout – Kasse','ログイン'])[r % 4 + 1], left(id, 8)) END";

/* Elixir.Domain.Account: folded by the external reducer of the example
 * (examples/reducers/account.py documents these events). */
static const char account_events[] =
	"CASE WHEN v = 1 THEN 'Created'"
	" WHEN p IN (4, 12) THEN 'PlanChanged'"
	" WHEN p = 9 THEN 'EmailChanged'"
	" ELSE 'UsageRecorded' END";

static const char account_data[] =
	"CASE ev"
	" WHEN 'Created' THEN format('{\"id\":\"%s\",\"name\":\"%s\",\"email\":\"%s@example.com\","
	"\"plan\":\"free\",\"created_at\":\"%s\",\"address\":{\"city\":\"%s\",\"country\":\"%s\"}}',"
	" id, (ARRAY['Müller GmbH','Société Générale d''Électricité','株式会社サンプル','ООО Ромашка','Acme Inc.'])[r % 5 + 1],"
	" left(id, 8), ts, (ARRAY['Zürich','Lyon','東京','Москва','Springfield'])[r % 5 + 1],"
	" (ARRAY['CH','FR','JP','RU','US'])[r % 5 + 1])"
	" WHEN 'PlanChanged' THEN format('{\"id\":\"%s\",\"plan\":\"%s\",\"changed_at\":\"%s\"}',"
	" id, (ARRAY['free','team','business','enterprise'])[(r >> 4) % 4 + 1], ts)"
	" WHEN 'EmailChanged' THEN format('{\"id\":\"%s\",\"email\":\"%s@example.org\"}', id, substr(md5(id || v), 1, 10))"
	" ELSE format('{\"id\":\"%s\",\"metric\":\"%s\",\"amount\":%s,\"recorded_at\":\"%s\"}',"
	" id, (ARRAY['api_calls','checks','sms'])[(r >> 4) % 3 + 1], 1 + r % 100000, ts) END";

/* The giants are kinds 0 and 2 (demo_store_plan). */
const demo_kind demo_kinds[] = {
	{ "Elixir.Domain.StatusPage", "", 30, 25, status_page_events, status_page_data,
	  "Elixir.Domain.StatusPage.Events.ComponentRenamed", 3 },
	{ "Elixir.Domain.Team", "team-", 25, 10, team_events, team_data,
	  "Elixir.Domain.Team.Events.RoleChanged", 2 },
	{ "Elixir.Domain.Monitor", "", 25, 20, monitor_events, monitor_data, NULL, 0 },
	{ "Elixir.Domain.Account", "", 20, 10, account_events, account_data, NULL, 0 },
};
const int demo_n_kinds = (int)(sizeof demo_kinds / sizeof demo_kinds[0]);

int demo_exec(PGconn *conn, const char *sql, sm_error *err)
{
	PGresult *res = PQexec(conn, sql);
	int rc = SM_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = sm_error_set(err, SM_ERR_DB, "%s(in: %.300s)",
				  res ? PQresultErrorMessage(res) : PQerrorMessage(conn), sql);
	PQclear(res);
	return rc;
}

/* The first value of the first row as a number (0 when NULL). */
static int query_ll(PGconn *conn, const char *sql, long long *out, sm_error *err)
{
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
		sm_error_set(err, SM_ERR_DB, "%s(in: %.300s)", PQresultErrorMessage(res), sql);
		PQclear(res);
		return SM_ERR_DB;
	}
	*out = PQgetisnull(res, 0, 0) ? 0 : atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return SM_OK;
}

char *demo_ident(PGconn *conn, const char *name)
{
	char *q = PQescapeIdentifier(conn, name, strlen(name));
	char *c = sm_xstrdup(q);

	PQfreemem(q);
	return c;
}

int demo_store_create(PGconn *conn, const demo_options *o, sm_error *err)
{
	char errbuf[1024];
	const char *p[] = { o->schema };
	PGresult *res = PQexecParams(conn,
		"SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, NULL, p, NULL, NULL, 0);
	bool exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
	bool has_tables = false;
	int rc = SM_OK;

	PQclear(res);
	if (exists) {
		res = PQexecParams(conn, "SELECT 1 FROM pg_tables WHERE schemaname = $1",
				   1, NULL, p, NULL, NULL, 0);
		has_tables = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
		PQclear(res);
	}
	if (has_tables && !o->replace)
		return sm_error_set(err, SM_ERR_USAGE,
				    "schema %s already has tables; use --replace to drop it first",
				    o->schema);
	if (exists) {
		char *s = demo_ident(conn, o->schema);
		char *sql = sm_xasprintf("DROP SCHEMA %s CASCADE", s);

		rc = demo_exec(conn, sql, err);
		free(sql);
		free(s);
		if (rc)
			return rc;
	}
	if (sm_fixture_create_store(conn, o->schema, o->mode, errbuf, sizeof errbuf))
		return sm_error_set(err, SM_ERR_DB, "creating the event store: %s", errbuf);
	return SM_OK;
}

/* SQL expression choosing the kind from a hash h by the weights. */
static char *kind_case(const char *h)
{
	char *sql = sm_xasprintf("CASE");
	int total = 0, acc = 0;

	for (int k = 0; k < demo_n_kinds; k++)
		total += demo_kinds[k].weight;
	for (int k = 0; k < demo_n_kinds; k++) {
		char *next;

		acc += demo_kinds[k].weight;
		next = sm_xasprintf("%s WHEN %s %% %d < %d THEN %d", sql, h, total, acc, k);
		free(sql);
		sql = next;
	}
	{
		char *next = sm_xasprintf("%s ELSE 0 END", sql);

		free(sql);
		sql = next;
	}
	return sql;
}

/* Appends one group of streams to demo_plan.  kind_sql and size_sql are
 * expressions over h (a hash of the stream number); step: seconds between
 * two events of one stream. */
static int plan_group(PGconn *conn, const demo_options *o, long long *next_id,
		      long long count, const char *kind_sql, const char *size_sql,
		      int step_seconds, sm_error *err)
{
	char *sql;
	int rc;

	if (count <= 0)
		return SM_OK;
	sql = sm_xasprintf(
		"INSERT INTO demo_plan (stream_id, kind, agg_id, total, base, step)"
		" SELECT n, %s, md5(%lld || ':stream:' || n)::uuid::text, greatest(1, %s),"
		" timestamptz '2023-01-02 00:00:00+00' + (h %% 31536000) * interval '1 second',"
		" %d * interval '1 second'"
		" FROM (SELECT n, hashtextextended(n::text, %lld) & 9223372036854775807 AS h"
		"       FROM generate_series(%lld, %lld) AS n) s",
		kind_sql, o->seed, size_sql, step_seconds, o->seed, *next_id, *next_id + count - 1);
	rc = demo_exec(conn, sql, err);
	free(sql);
	*next_id += count;
	return rc;
}

int demo_store_plan(PGconn *conn, const demo_options *o, long long *streams,
		    long long *events, sm_error *err)
{
	char *s = demo_ident(conn, o->schema);
	char *sql = NULL, *kinds = kind_case("h");
	long long next_id = 1;
	int rc;

	rc = demo_exec(conn,
		"DROP TABLE IF EXISTS demo_plan;"
		"CREATE TEMP TABLE demo_plan (stream_id bigint PRIMARY KEY, kind int NOT NULL,"
		" agg_id text NOT NULL, stream_uuid text, total bigint NOT NULL,"
		" snap_at bigint NOT NULL DEFAULT 0, unknown boolean NOT NULL DEFAULT false,"
		" base timestamptz NOT NULL, step interval NOT NULL)", err);
	if (rc)
		goto out;

	if (o->single > 0) {
		char *size = sm_xasprintf("%lld", o->single);

		rc = plan_group(conn, o, &next_id, 1, "0", size, 2, err);
		free(size);
	} else if (o->aggregates > 0) {
		/* Many small streams, each with a snapshot at its last event
		 * (below): the plan's size grows with the aggregates, not the
		 * events. */
		rc = plan_group(conn, o, &next_id, o->aggregates, kinds, "2 + h % 5", 3600, err);
	} else {
		/* Skewed like real stores: two giant streams (a StatusPage and a
		 * Monitor with 12% and 10.5% of the events, above 100,000 at the
		 * default scale), about 20% in streams of thousands (hundreds on
		 * small scales), the rest in streams of 3..100 events, most of
		 * them tens. */
		double S = (double)o->scale;
		double f = S >= 1e6 ? 1.0 : S / 1e6;
		long long med_lo = (long long)fmax(20, 1000 * f);
		long long med_span = (long long)fmax(10, 8000 * f);
		long long med_n = (long long)fmax(1, 0.2 * S / (double)(med_lo + med_span / 2));
		long long giant1 = (long long)(0.12 * S), giant2 = (long long)(0.105 * S);
		long long small_n = (long long)((S - giant1 - giant2 -
						 med_n * (double)(med_lo + med_span / 2)) / 35.3);
		char *g1 = sm_xasprintf("%lld", giant1), *g2 = sm_xasprintf("%lld", giant2);
		char *med = sm_xasprintf("%lld + h %% %lld", med_lo, med_span);
		/* 3 + 97 u^2 for u uniform in [0, 1): mean about 35. */
		const char *small = "3 + floor(97 * power((h % 1000000) / 1e6, 2))::bigint";

		rc = plan_group(conn, o, &next_id, 1, "0", g1, 2, err);
		if (!rc)
			rc = plan_group(conn, o, &next_id, 1, "2", g2, 3, err);
		if (!rc)
			rc = plan_group(conn, o, &next_id, med_n, kinds, med, 120, err);
		if (!rc)
			rc = plan_group(conn, o, &next_id, small_n, kinds, small, 7200, err);
		free(g1);
		free(g2);
		free(med);
	}
	if (rc)
		goto out;

	/* Latest snapshot at floor(total / N) * N, as Commanded leaves it;
	 * stream uuids with the kind's identity prefix. */
	for (int k = 0; k < demo_n_kinds; k++) {
		const demo_kind *dk = &demo_kinds[k];
		char *p = PQescapeLiteral(conn, dk->stream_prefix, strlen(dk->stream_prefix));

		free(sql);
		sql = sm_xasprintf(
			"UPDATE demo_plan SET stream_uuid = %s || agg_id,"
			" snap_at = total - total %% %d WHERE kind = %d",
			p, dk->snapshot_every, k);
		PQfreemem(p);
		if ((rc = demo_exec(conn, sql, err)))
			goto out;
		if (dk->unknown_event && dk->unknown_streams > 0 && o->single <= 0) {
			/* Small and medium streams only: the giants must fold. */
			free(sql);
			sql = sm_xasprintf(
				"UPDATE demo_plan SET unknown = true WHERE stream_id IN"
				" (SELECT stream_id FROM demo_plan WHERE kind = %d AND snap_at > 0"
				"  AND total > snap_at AND stream_id > 2 ORDER BY stream_id LIMIT %d)",
				k, dk->unknown_streams);
			if ((rc = demo_exec(conn, sql, err)))
				goto out;
		}
	}

	if (o->aggregates > 0 && (rc = demo_exec(conn, "UPDATE demo_plan SET snap_at = total", err)))
		goto out;
	free(sql);
	sql = sm_xasprintf(
		"INSERT INTO %1$s.streams (stream_id, stream_uuid, stream_version, created_at)"
		" SELECT stream_id, stream_uuid, 0, base FROM demo_plan;"
		"SELECT setval(pg_get_serial_sequence('%2$s.streams', 'stream_id'),"
		" (SELECT max(stream_id) FROM %1$s.streams));"
		"ANALYZE demo_plan",
		s, s);
	if ((rc = demo_exec(conn, sql, err)))
		goto out;
	if ((rc = query_ll(conn, "SELECT count(*) FROM demo_plan", streams, err)))
		goto out;
	rc = query_ll(conn, "SELECT sum(total) FROM demo_plan", events, err);
out:
	free(sql);
	free(kinds);
	free(s);
	return rc;
}

/*
 * Bulk loading: the foreign keys, primary keys and indexes of events and
 * stream_events are dropped while a phase is written and re-created
 * afterwards from their own definitions (read from the catalog, so the
 * layout stays exactly what the fixture made).  Checking millions of
 * foreign keys row by row would take minutes; building them once, seconds.
 */
static int bulk_begin(PGconn *conn, const char *schema, sm_error *err)
{
	char *lit = PQescapeLiteral(conn, schema, strlen(schema));
	char *sql = sm_xasprintf(
		"DROP TABLE IF EXISTS demo_ddl;"
		"CREATE TEMP TABLE demo_ddl AS"
		" SELECT CASE c.contype WHEN 'f' THEN 1 ELSE 2 END AS drop_order,"
		"  format('ALTER TABLE %%I.%%I DROP CONSTRAINT %%I', n.nspname, t.relname, c.conname) AS drop_sql,"
		"  format('ALTER TABLE %%I.%%I ADD CONSTRAINT %%I %%s', n.nspname, t.relname, c.conname,"
		"         pg_get_constraintdef(c.oid)) AS create_sql"
		" FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
		" JOIN pg_namespace n ON n.oid = t.relnamespace"
		" WHERE n.nspname = %1$s AND t.relname IN ('events', 'stream_events')"
		"  AND c.contype IN ('p', 'f', 'u')"
		" UNION ALL"
		" SELECT 2, format('DROP INDEX %%I.%%I', n.nspname, x.relname), pg_get_indexdef(i.indexrelid)"
		" FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid"
		" JOIN pg_namespace n ON n.oid = t.relnamespace"
		" WHERE n.nspname = %1$s AND t.relname IN ('events', 'stream_events')"
		"  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);"
		"DO $$ DECLARE r record; BEGIN"
		" FOR r IN SELECT drop_sql FROM demo_ddl ORDER BY drop_order LOOP EXECUTE r.drop_sql; END LOOP;"
		" END $$",
		lit);
	int rc = demo_exec(conn, sql, err);

	PQfreemem(lit);
	free(sql);
	return rc;
}

static int bulk_end(PGconn *conn, sm_error *err)
{
	return demo_exec(conn,
		"DO $$ DECLARE r record; BEGIN"
		" FOR r IN SELECT create_sql FROM demo_ddl ORDER BY drop_order DESC LOOP"
		"  EXECUTE r.create_sql; END LOOP;"
		" END $$;"
		"DROP TABLE demo_ddl", err);
}

/*
 * The events of the phase as a row source (SQL text with one %s for an
 * extra condition on p): stream p, version v, hashes r and r2, time t and
 * ts, event_id, and av (the place in $all).  Nothing is materialised: the
 * events insert and the stream_events insert each compute it again, which
 * is cheaper than writing and reading a temporary table of a million rows.
 * $all holds the phase's events stream by stream (ph_off), as an import
 * would have written them.
 */
static char *event_source(long long seed, const char *cond)
{
	return sm_xasprintf(
		"(SELECT x.*, to_char(x.t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS ts"
		" FROM (SELECT y.*, y.base + y.v * y.step + (y.r %% 999983) * interval '1 microsecond' AS t,"
		/* Random-looking, reproducible event ids from two hashes
		 * (gen_random_uuid() costs a system call per row). */
		"       (lpad(to_hex(y.r), 16, '0') || lpad(to_hex(y.r2), 16, '0'))::uuid AS event_id"
		"       FROM (SELECT p.stream_id, p.kind, p.agg_id AS id, p.base, p.step, g.v,"
		"             g.v / 16 AS c, g.v %% 16 AS p, p.ph_off + g.v - p.ph_lo + 1 AS av,"
		"             p.unknown AND g.v = p.snap_at + 1 AS unk,"
		"             hashtextextended(p.stream_uuid || ':' || g.v, %1$lld) & 9223372036854775807 AS r,"
		"             hashtextextended(p.stream_uuid || ':' || g.v, %1$lld + 1) AS r2"
		"             FROM demo_plan p, LATERAL generate_series(p.ph_lo, p.ph_hi) AS g(v)"
		"             WHERE p.ph_hi >= p.ph_lo %2$s) y) x) e",
		seed, cond);
}

int demo_store_events(PGconn *conn, const demo_options *o, int phase,
		      long long *written, sm_error *err)
{
	char *s = demo_ident(conn, o->schema);
	char *sql, *src;
	char wd[64], wm[64];
	/* Phase 1: versions 1..snap_at (all of a stream without snapshot);
	 * phase 2: snap_at+1..total of the streams with one. */
	const char *range = phase == 1
		? "1, CASE WHEN snap_at > 0 THEN snap_at ELSE total END"
		: "snap_at + 1, CASE WHEN snap_at > 0 THEN total ELSE 0 END";
	int rc;

	*written = 0;
	snprintf(wd, sizeof wd, sm_fixture_write_fmt(o->mode), "d");
	snprintf(wm, sizeof wm, sm_fixture_write_fmt(o->mode), "m");

	sql = sm_xasprintf(
		"ALTER TABLE demo_plan ADD COLUMN IF NOT EXISTS ph_lo bigint,"
		" ADD COLUMN IF NOT EXISTS ph_hi bigint, ADD COLUMN IF NOT EXISTS ph_off bigint;"
		"UPDATE demo_plan p SET ph_lo = z.lo, ph_hi = z.hi, ph_off = z.off FROM"
		" (SELECT stream_id, lo, hi, (SELECT stream_version FROM %1$s.streams WHERE stream_id = 0)"
		"   + sum(greatest(hi - lo + 1, 0)) OVER (ORDER BY stream_id) - greatest(hi - lo + 1, 0) AS off"
		"  FROM (SELECT stream_id, lo, hi FROM demo_plan, LATERAL (VALUES (%2$s)) AS b(lo, hi)) w) z"
		" WHERE z.stream_id = p.stream_id",
		s, range);
	rc = demo_exec(conn, sql, err);
	free(sql);
	/* Phase 2 is small: checking its keys costs less than rebuilding
	 * every index. */
	if (rc || (phase == 1 && (rc = bulk_begin(conn, o->schema, err))))
		goto out;

	for (int k = 0; k < demo_n_kinds; k++) {
		const demo_kind *dk = &demo_kinds[k];
		char *prefix = sm_xasprintf("%s.Events.", dk->type);
		char *lit = PQescapeLiteral(conn, prefix, strlen(prefix));
		char *cond = sm_xasprintf("AND p.kind = %d", k);

		src = event_source(o->seed, cond);
		/* Event metadata as an application's middleware adds it; the
		 * correlation/causation ids go into their columns. */
		sql = sm_xasprintf(
			"INSERT INTO %1$s.events (event_id, event_type, causation_id, correlation_id,"
			" data, metadata, created_at)"
			" SELECT event_id, %2$s || ev, cid, cid, %3$s, %4$s, t FROM"
			" (SELECT e.*, %5$s AS d,"
			"   format('{\"user_id\":\"%%s\",\"request_id\":\"F%%s\",\"app_version\":\"2.%%s.%%s\"}',"
			"          md5(e.id || ':user:' || (e.r %% 4))::uuid, upper(to_hex(e.r2)),"
			"          e.v %% 40, e.r %% 9) AS m"
			"  FROM (SELECT e.*, %6$s AS ev, md5(e.id || ':cmd:' || e.c)::uuid AS cid"
			"        FROM %7$s) e) z",
			s, lit, wd, wm, dk->data_sql, dk->event_sql, src);
		PQfreemem(lit);
		free(prefix);
		free(cond);
		free(src);
		rc = demo_exec(conn, sql, err);
		free(sql);
		if (rc) {
			sm_error_prefix(err, "events of %s", dk->type);
			goto out;
		}
	}

	src = event_source(o->seed, "");
	sql = sm_xasprintf(
		"INSERT INTO %1$s.stream_events (event_id, stream_id, stream_version,"
		" original_stream_id, original_stream_version)"
		" SELECT event_id, sid, ver, stream_id, v FROM %2$s,"
		"  LATERAL (VALUES (e.stream_id, e.v), (0, e.av)) AS l(sid, ver);"
		"UPDATE %1$s.streams st SET stream_version = p.ph_hi FROM demo_plan p"
		" WHERE st.stream_id = p.stream_id AND p.ph_hi >= p.ph_lo;"
		"UPDATE %1$s.streams SET stream_version = stream_version"
		" + (SELECT coalesce(sum(ph_hi - ph_lo + 1), 0) FROM demo_plan WHERE ph_hi >= ph_lo)"
		" WHERE stream_id = 0",
		s, src);
	free(src);
	rc = demo_exec(conn, sql, err);
	free(sql);
	if (rc || (phase == 1 && (rc = bulk_end(conn, err))))
		goto out;
	rc = query_ll(conn, "SELECT coalesce(sum(ph_hi - ph_lo + 1), 0) FROM demo_plan"
		      " WHERE ph_hi >= ph_lo", written, err);
out:
	free(s);
	return rc;
}

int demo_store_seed_snapshots(PGconn *conn, const demo_options *o,
			      const char *metadata_key, long long *count, sm_error *err)
{
	char *s = demo_ident(conn, o->schema);
	char wd[64], wm[96];
	char *types = sm_xstrdup("(VALUES ");
	char *sql;
	const char *params[] = { metadata_key };
	PGresult *res;
	int rc = SM_OK;

	snprintf(wd, sizeof wd, sm_fixture_write_fmt(o->mode), "'{}'");
	snprintf(wm, sizeof wm, sm_fixture_write_fmt(o->mode), "json_build_object($1::text, 1000000)::text");
	for (int k = 0; k < demo_n_kinds; k++) {
		char *lit = PQescapeLiteral(conn, demo_kinds[k].type, strlen(demo_kinds[k].type));
		char *next = sm_xasprintf("%s%s(%d, %s)", types, k ? ", " : "", k, lit);

		PQfreemem(lit);
		free(types);
		types = next;
	}
	/* Module version 1000000 never matches the version being generated
	 * (a missing key would mean 1; the engine takes a negative one for
	 * unreadable metadata), so the rebuild replays these streams from the
	 * initial state. */
	sql = sm_xasprintf(
		"INSERT INTO %1$s.snapshots (source_uuid, source_version, source_type, data, metadata)"
		" SELECT p.stream_uuid, 0, k.type, %2$s, %3$s"
		" FROM demo_plan p JOIN %4$s) AS k(kind, type) ON k.kind = p.kind"
		" WHERE p.snap_at > 0",
		s, wd, wm, types);
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = sm_error_set(err, SM_ERR_DB, "seed snapshots: %s", PQresultErrorMessage(res));
	PQclear(res);
	free(sql);
	if (!rc)
		rc = query_ll(conn, "SELECT count(*) FROM demo_plan WHERE snap_at > 0", count, err);
	free(types);
	free(s);
	return rc;
}
