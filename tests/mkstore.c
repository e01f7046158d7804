/*
 * mkstore: builds the event stores the shell tests run against, with the
 * fixtures of tests/fixture.h.
 *
 *   mkstore CONNINFO MODE basic
 *   mkstore CONNINFO MODE big STREAMS EVENTS
 *   mkstore CONNINFO MODE many STREAMS EVENTS
 *   mkstore CONNINFO MODE shop
 *
 * MODE: bytea | jsonb | jsonb-text.  basic, big and many are the stores of
 * the command-line tests (tests/test_cli_*.sh), described next to their
 * configuration in tests/cli_lib.sh; shop is the store of the screen tests
 * (tests/test_tui_*.sh).  The expected numbers in the tests are derived
 * from them by hand.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tests/fixture.h"

#define EV "Elixir.Demo.Counter.Events."
#define CART "Elixir.Shop.Cart.Events."
#define META_V1 "{\"snapshot_module_version\": 1}"

static char errbuf[2048];

static void check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "mkstore: %s: %s\n", what, errbuf);
		exit(1);
	}
}

/*
 * Counter (target version 2 in the test config): counter-1..5 have
 * Created + Incremented by 1, 2, 3 (4 events) and a v1 snapshot at version
 * 2, so all six are stale (full replay: 4 events each).  counter-6 has
 * Created, Incremented, Exploded (no handler) and a v1 snapshot at 1:
 * 3 events to fold, and it fails at version 3.
 * Team (target version 1): team-1 has MemberAdded u1, u2 and a valid v1
 * snapshot at version 2, then MemberAdded u3: behind by one event.
 * A snapshot of a type that is not configured, whose name holds a terminal
 * escape sequence (ESC [2J), tests that output is sanitised.
 */
static void basic(PGconn *conn, enum sm_fixture_mode mode)
{
	static const char *const counter_types[] = {
		EV "Created", EV "Incremented", EV "Incremented", EV "Incremented",
	};
	static const char *const bad_types[] = { EV "Created", EV "Incremented", EV "Exploded" };
	static const char *const bad_datas[] = { "{\"id\": \"counter-6\"}", "{\"by\": 5}", "{}" };
	static const char *const team_types[] = {
		"Elixir.Demo.Team.Events.MemberAdded", "Elixir.Demo.Team.Events.MemberAdded",
	};
	static const char *const team_datas[] = { "{\"user_id\": \"u1\"}", "{\"user_id\": \"u2\"}" };
	static const char *const team_more[] = { "{\"user_id\": \"u3\"}" };

	for (int i = 1; i <= 5; i++) {
		char uuid[32], id[64];
		const char *datas[4];

		snprintf(uuid, sizeof uuid, "counter-%d", i);
		snprintf(id, sizeof id, "{\"id\": \"%s\"}", uuid);
		datas[0] = id;
		datas[1] = "{\"by\": 1}";
		datas[2] = "{\"by\": 2}";
		datas[3] = "{\"by\": 3}";
		check(sm_fixture_append(conn, "public", mode, uuid, 4, counter_types, datas,
					NULL, errbuf, sizeof errbuf), "append counter");
		check(sm_fixture_snapshot(conn, "public", mode, uuid, 2, "Elixir.Demo.Counter",
					  "{\"id\": \"old\", \"count\": 1}", META_V1,
					  errbuf, sizeof errbuf), "snapshot counter");
	}
	check(sm_fixture_append(conn, "public", mode, "counter-6", 3, bad_types, bad_datas,
				NULL, errbuf, sizeof errbuf), "append counter-6");
	check(sm_fixture_snapshot(conn, "public", mode, "counter-6", 1, "Elixir.Demo.Counter",
				  "{\"id\": \"counter-6\", \"count\": 0}", META_V1,
				  errbuf, sizeof errbuf), "snapshot counter-6");

	check(sm_fixture_append(conn, "public", mode, "team-1", 2, team_types, team_datas,
				NULL, errbuf, sizeof errbuf), "append team");
	check(sm_fixture_snapshot(conn, "public", mode, "team-1", 2, "Elixir.Demo.Team",
				  "{\"id\": \"team-1\", \"member_ids\": [\"u1\", \"u2\"]}", META_V1,
				  errbuf, sizeof errbuf), "snapshot team");
	check(sm_fixture_append(conn, "public", mode, "team-1", 1, team_types, team_more,
				NULL, errbuf, sizeof errbuf), "append team");

	check(sm_fixture_snapshot(conn, "public", mode, "orphan-1", 0,
				  "Elixir.Demo.Orphan\x1b[2J", "{}", META_V1,
				  errbuf, sizeof errbuf), "snapshot orphan");
}

/* STREAMS counters big-1.. with EVENTS events each (Created, then
 * Incremented by 1) and a stale v1 snapshot at version 1: a rebuild folds
 * STREAMS * EVENTS events. */
static void big(PGconn *conn, enum sm_fixture_mode mode, long streams, long events)
{
	for (long s = 1; s <= streams; s++) {
		char uuid[32];

		snprintf(uuid, sizeof uuid, "big-%ld", s);
		check(sm_fixture_append_generated(conn, "public", mode, uuid, events,
			"CASE WHEN i = 1 THEN '" EV "Created' ELSE '" EV "Incremented' END",
			"CASE WHEN i = 1 THEN '{\"id\": \"big\"}' ELSE '{\"by\": 1}' END",
			errbuf, sizeof errbuf), "append big");
		check(sm_fixture_snapshot(conn, "public", mode, uuid, 1, "Elixir.Demo.Counter",
					  "{\"id\": \"big\", \"count\": 0}", META_V1,
					  errbuf, sizeof errbuf), "snapshot big");
	}
}

/*
 * many: STREAMS counters m-00001.. of EVENTS + (s % 13) events each, every
 * one different from the others (its id, increments by (i * s) % 5 + 1, a
 * tag every 10th event) with a stale v1 snapshot at version 1, so a
 * rebuild replays them all; every 50th stream ends with an Exploded event
 * (no handler: the instance fails), and every 97th snapshot has no stream
 * (missing_stream).  For the shared rebuild's tests (test_cli_shared.sh):
 * many chunks, distinct rows, failures of two kinds.
 */
static void many(PGconn *conn, enum sm_fixture_mode mode, long streams, long events)
{
	for (long s = 1; s <= streams; s++) {
		char uuid[32], *types, *datas;
		long n = events + s % 13;

		snprintf(uuid, sizeof uuid, "m-%05ld", s);
		if (s % 97 == 0) {
			check(sm_fixture_snapshot(conn, "public", mode, uuid, 1, "Elixir.Demo.Counter",
						  "{\"id\": null, \"count\": 0}", META_V1,
						  errbuf, sizeof errbuf), "snapshot many");
			continue;
		}
		if (asprintf(&types, "CASE WHEN i = 1 THEN '" EV "Created'"
			     " WHEN i = %ld AND %s THEN '" EV "Exploded'"
			     " WHEN i %% 10 = 0 THEN '" EV "Tagged' ELSE '" EV "Incremented' END",
			     n, s % 50 == 0 ? "true" : "false") < 0 ||
		    asprintf(&datas, "CASE WHEN i = 1 THEN '{\"id\": \"%s\"}'"
			     " WHEN i %% 10 = 0 THEN '{\"tag\": \"t' || i || '\"}'"
			     " ELSE '{\"by\": ' || ((i * %ld) %% 5 + 1) || '}' END", uuid, s) < 0) {
			fprintf(stderr, "mkstore: out of memory\n");
			exit(1);
		}
		check(sm_fixture_append_generated(conn, "public", mode, uuid, n, types, datas,
						  errbuf, sizeof errbuf), "append many");
		free(types);
		free(datas);
		check(sm_fixture_snapshot(conn, "public", mode, uuid, 1, "Elixir.Demo.Counter",
					  "{\"id\": null, \"count\": 0}", META_V1,
					  errbuf, sizeof errbuf), "snapshot many");
	}
}

/*
 * The store the screen tests (tests/test_tui_*.sh) look at; its
 * configuration is tests/tui_lib.sh's.
 *  - Cart (Elixir.Shop.Cart, target version 2): cart-1..cart-4 have Created
 *    and 3 ItemAdded (4 events) and a v1 snapshot at version 2: stale, full
 *    replay of 4 events each.  cart-5 and cart-6 have Created, ItemAdded and
 *    Abandoned (no handler) and a v1 snapshot at version 1: 3 events each,
 *    and they fail at version 3.  So: 6 snapshots, 6 to rebuild, 22 events.
 *  - Counter (Elixir.Shop.Counter, target version 1): counter-1..3 have 5
 *    Incremented events and a valid v1 snapshot at version 3 ({"n": 3}):
 *    3 to catch up, 2 events each, 6 events.
 *  - Legacy (Elixir.Shop.Legacy, not configured): 2 snapshots.
 *  - A type that is not configured either, whose name holds a terminal
 *    escape sequence (ESC [2J, clear screen) and a double-width character:
 *    the screen must show it sanitised and measured by display width.
 */
static void shop(PGconn *conn, enum sm_fixture_mode mode)
{
	char uuid[32], data[128];

	for (int i = 1; i <= 6; i++) {
		bool bad = i >= 5;
		const char *types[4] = { CART "Created", CART "ItemAdded",
					 bad ? CART "Abandoned" : CART "ItemAdded", CART "ItemAdded" };
		const char *datas[4];
		char created[64];

		snprintf(uuid, sizeof uuid, "cart-%d", i);
		snprintf(created, sizeof created, "{\"id\": \"%s\"}", uuid);
		datas[0] = created;
		datas[1] = "{\"sku\": \"A1\"}";
		datas[2] = bad ? "{}" : "{\"sku\": \"B2\"}";
		datas[3] = "{\"sku\": \"C3\"}";
		check(sm_fixture_append(conn, "public", mode, uuid, bad ? 3 : 4, types, datas,
					NULL, errbuf, sizeof errbuf), "append cart");
		snprintf(data, sizeof data, "{\"id\": \"%s\", \"items\": [\"A1\"]%s}", uuid,
			 bad ? "" : ", \"total\": 1");
		check(sm_fixture_snapshot(conn, "public", mode, uuid, bad ? 1 : 2, "Elixir.Shop.Cart",
					  data, META_V1, errbuf, sizeof errbuf), "cart snapshot");
	}
	for (int i = 1; i <= 3; i++) {
		snprintf(uuid, sizeof uuid, "counter-%d", i);
		check(sm_fixture_append_generated(conn, "public", mode, uuid, 5,
						  "'Elixir.Shop.Counter.Events.Incremented'",
						  "'{\"by\": 1}'", errbuf, sizeof errbuf),
		      "append counter");
		check(sm_fixture_snapshot(conn, "public", mode, uuid, 3, "Elixir.Shop.Counter",
					  "{\"n\": 3}", META_V1, errbuf, sizeof errbuf), "counter snapshot");
	}
	for (int i = 1; i <= 2; i++) {
		snprintf(uuid, sizeof uuid, "legacy-%d", i);
		check(sm_fixture_append_generated(conn, "public", mode, uuid, 1,
						  "'Elixir.Shop.Legacy.Events.Made'", "'{}'",
						  errbuf, sizeof errbuf), "append legacy");
		check(sm_fixture_snapshot(conn, "public", mode, uuid, 1, "Elixir.Shop.Legacy",
					  "{}", META_V1, errbuf, sizeof errbuf), "legacy snapshot");
	}
	check(sm_fixture_append_generated(conn, "public", mode, "odd-1", 1,
					  "'Elixir.Shop.Odd.Events.Made'", "'{}'",
					  errbuf, sizeof errbuf), "append odd");
	check(sm_fixture_snapshot(conn, "public", mode, "odd-1", 1,
				  "Elixir.Shop.Odd\033[2J\xe8\xa1\xa8", "{}", META_V1,
				  errbuf, sizeof errbuf), "odd snapshot");
}

int main(int argc, char **argv)
{
	enum sm_fixture_mode mode;
	PGconn *conn;

	if (argc < 4) {
		fprintf(stderr, "usage: mkstore CONNINFO bytea|jsonb|jsonb-text basic|big|many|shop ...\n");
		return 2;
	}
	if (strcmp(argv[2], "bytea") == 0)
		mode = SM_FIXTURE_BYTEA;
	else if (strcmp(argv[2], "jsonb") == 0)
		mode = SM_FIXTURE_JSONB;
	else if (strcmp(argv[2], "jsonb-text") == 0)
		mode = SM_FIXTURE_JSONB_TEXT;
	else {
		fprintf(stderr, "mkstore: unknown mode %s\n", argv[2]);
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "mkstore: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	check(sm_fixture_create_store(conn, "public", mode, errbuf, sizeof errbuf), "create store");
	if (strcmp(argv[3], "basic") == 0) {
		basic(conn, mode);
	} else if (strcmp(argv[3], "big") == 0 && argc == 6) {
		big(conn, mode, atol(argv[4]), atol(argv[5]));
	} else if (strcmp(argv[3], "many") == 0 && argc == 6) {
		many(conn, mode, atol(argv[4]), atol(argv[5]));
	} else if (strcmp(argv[3], "shop") == 0) {
		shop(conn, mode);
	} else {
		fprintf(stderr, "mkstore: unknown scenario %s\n", argv[3]);
		PQfinish(conn);
		return 2;
	}
	PQfinish(conn);
	return 0;
}
