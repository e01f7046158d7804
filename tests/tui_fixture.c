/*
 * tui_fixture: fills a database with the event store that the screen tests
 * (tests/test_tui_*.sh) look at, with the fixtures of tests/fixture.h.
 *
 *   tui_fixture CONNINFO
 *
 * Contents (bytea store in schema public; config in tests/tui_lib.sh):
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
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "tests/fixture.h"

#define CART "Elixir.Shop.Cart.Events."
#define V1 "{\"snapshot_module_version\": 1}"

static char errbuf[2048];

static void check(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "tui_fixture: %s: %s\n", what, errbuf);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const enum sm_fixture_mode m = SM_FIXTURE_BYTEA;
	PGconn *conn;
	char uuid[32], data[128];

	if (argc != 2) {
		fprintf(stderr, "usage: tui_fixture CONNINFO\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "tui_fixture: %s", PQerrorMessage(conn));
		return 1;
	}
	check(sm_fixture_create_store(conn, "public", m, errbuf, sizeof errbuf), "create store");

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
		check(sm_fixture_append(conn, "public", m, uuid, bad ? 3 : 4, types, datas,
					NULL, errbuf, sizeof errbuf), "append cart");
		snprintf(data, sizeof data, "{\"id\": \"%s\", \"items\": [\"A1\"]%s}", uuid,
			 bad ? "" : ", \"total\": 1");
		check(sm_fixture_snapshot(conn, "public", m, uuid, bad ? 1 : 2, "Elixir.Shop.Cart",
					  data, V1, errbuf, sizeof errbuf), "cart snapshot");
	}
	for (int i = 1; i <= 3; i++) {
		snprintf(uuid, sizeof uuid, "counter-%d", i);
		check(sm_fixture_append_generated(conn, "public", m, uuid, 5,
						  "'Elixir.Shop.Counter.Events.Incremented'",
						  "'{\"by\": 1}'", errbuf, sizeof errbuf),
		      "append counter");
		check(sm_fixture_snapshot(conn, "public", m, uuid, 3, "Elixir.Shop.Counter",
					  "{\"n\": 3}", V1, errbuf, sizeof errbuf), "counter snapshot");
	}
	for (int i = 1; i <= 2; i++) {
		snprintf(uuid, sizeof uuid, "legacy-%d", i);
		check(sm_fixture_append_generated(conn, "public", m, uuid, 1,
						  "'Elixir.Shop.Legacy.Events.Made'", "'{}'",
						  errbuf, sizeof errbuf), "append legacy");
		check(sm_fixture_snapshot(conn, "public", m, uuid, 1, "Elixir.Shop.Legacy",
					  "{}", V1, errbuf, sizeof errbuf), "legacy snapshot");
	}
	check(sm_fixture_append_generated(conn, "public", m, "odd-1", 1,
					  "'Elixir.Shop.Odd.Events.Made'", "'{}'",
					  errbuf, sizeof errbuf), "append odd");
	check(sm_fixture_snapshot(conn, "public", m, "odd-1", 1,
				  "Elixir.Shop.Odd\033[2J\xe8\xa1\xa8", "{}", V1,
				  errbuf, sizeof errbuf), "odd snapshot");
	PQfinish(conn);
	return 0;
}
