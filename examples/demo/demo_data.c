/*
 * snapmig-demo-data: fills an EventStore schema with a realistic demo store
 * for the aggregates of examples/snapmig.conf (see demo_store.h for the data,
 * demo_snapshots.h for how the snapshots are made with snapmig's engine).
 * Used by scripts/demo-run and scripts/bench; not installed.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/demo/demo_snapshots.h"
#include "examples/demo/demo_store.h"
#include "util/alloc.h"
#include "util/clock.h"

static const char usage[] =
	"usage: snapmig-demo-data [OPTION]...\n"
	"Fills an EventStore schema with a demo store for the aggregates of the\n"
	"configuration: skewed streams, realistic events, snapshots every N events\n"
	"made by snapmig's engine at the previous module version of the bumped\n"
	"types, events after the latest snapshot, a few unknown event types.\n"
	"\n"
	"  -d, --dbname CONNINFO  database (libpq conninfo; default: PG* variables)\n"
	"  -c, --config FILE      configuration with the aggregates (default examples/snapmig.conf)\n"
	"  -s, --schema NAME      event store schema (default public)\n"
	"      --jsonb            jsonb data/metadata columns (default bytea)\n"
	"      --jsonb-text       jsonb columns holding JSON text (double encoding)\n"
	"      --scale N          about N events (default 1000000; k and M suffixes)\n"
	"      --single N         only one StatusPage stream of N events\n"
	"      --aggregates N     only N small streams (2..6 events, k and M suffixes),\n"
	"                         each snapshotted at its last event: a store whose\n"
	"                         size is in aggregates rather than events\n"
	"      --bump LIST        types whose snapshots are one version behind the\n"
	"                         config: labels or types, comma-separated, all or\n"
	"                         none (default StatusPage)\n"
	"  -j, --jobs N           workers of the snapshot rebuild (default 2)\n"
	"      --seed N           seed of the generated values (default 1)\n"
	"      --replace          drop the schema first when it already has tables\n"
	"  -q, --quiet            no progress output\n"
	"  -h, --help\n";

static long long parse_count(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1e6, end++;
	return *end ? -1 : (long long)v;
}

static int fail(const sm_error *err)
{
	char buf[2048];

	fprintf(stderr, "snapmig-demo-data: %s\n", sm_error_format(err, buf, sizeof buf));
	return 1;
}

int main(int argc, char **argv)
{
	enum { OPT_JSONB = 256, OPT_JSONB_TEXT, OPT_SCALE, OPT_SINGLE, OPT_AGGREGATES, OPT_BUMP,
	       OPT_SEED, OPT_REPLACE };
	static const struct option longopts[] = {
		{ "dbname", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "schema", required_argument, NULL, 's' },
		{ "jsonb", no_argument, NULL, OPT_JSONB },
		{ "jsonb-text", no_argument, NULL, OPT_JSONB_TEXT },
		{ "scale", required_argument, NULL, OPT_SCALE },
		{ "single", required_argument, NULL, OPT_SINGLE },
		{ "aggregates", required_argument, NULL, OPT_AGGREGATES },
		{ "bump", required_argument, NULL, OPT_BUMP },
		{ "jobs", required_argument, NULL, 'j' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	demo_options o = { .schema = "public", .mode = SM_FIXTURE_BYTEA,
			   .scale = 1000000, .seed = 1 };
	const char *conninfo = "", *config_path = "examples/snapmig.conf", *bump = "StatusPage";
	int jobs = 2, c;
	demo_snapshots ds;
	sm_error err;
	PGconn *conn;
	long long streams, planned, head, tail, seeds, snaps, failed;
	double t0 = sm_now(), t;
	int status = 1;

	sm_error_clear(&err);
	while ((c = getopt_long(argc, argv, "d:c:s:j:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': conninfo = optarg; break;
		case 'c': config_path = optarg; break;
		case 's': o.schema = optarg; break;
		case OPT_JSONB: o.mode = SM_FIXTURE_JSONB; break;
		case OPT_JSONB_TEXT: o.mode = SM_FIXTURE_JSONB_TEXT; break;
		case OPT_SCALE: o.scale = parse_count(optarg); break;
		case OPT_SINGLE: o.single = parse_count(optarg); break;
		case OPT_AGGREGATES: o.aggregates = parse_count(optarg); break;
		case OPT_BUMP: bump = optarg; break;
		case 'j': jobs = atoi(optarg); break;
		case OPT_SEED: o.seed = atoll(optarg); break;
		case OPT_REPLACE: o.replace = true; break;
		case 'q': o.quiet = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc || o.scale < 100 || o.single < 0 || o.aggregates < 0 ||
	    (o.single > 0 && o.aggregates > 0) || jobs < 1 || jobs > 64) {
		fprintf(stderr, "snapmig-demo-data: bad arguments (--scale at least 100)\n%s", usage);
		return 2;
	}

	if (demo_snapshots_prepare(config_path, bump, &ds, &err))
		return fail(&err);
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "snapmig-demo-data: %s", PQerrorMessage(conn));
		goto out;
	}
	if (demo_exec(conn, "SET client_encoding = 'UTF8'; SET client_min_messages = warning;"
		      " SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'; SET temp_buffers = '1GB'; SET jit = off;"
		      " SET synchronous_commit = off", &err))
		goto fail;

#define STEP(...) do { if (!o.quiet) { fprintf(stderr, __VA_ARGS__); fflush(stderr); } } while (0)
	if (demo_store_create(conn, &o, &err) ||
	    demo_store_plan(conn, &o, &streams, &planned, &err))
		goto fail;
	STEP("demo store: %lld streams, %lld events planned in schema %s (%s)\n", streams,
	     planned, o.schema, o.mode == SM_FIXTURE_BYTEA ? "bytea" : "jsonb");
	t = sm_now();
	if (demo_store_events(conn, &o, 1, &head, &err))
		goto fail;
	STEP("  events up to the latest snapshots: %lld (%.1f s)\n", head, sm_now() - t);
	if (demo_store_seed_snapshots(conn, &o, ds.metadata_key, &seeds, &err))
		goto fail;
	t = sm_now();
	STEP("  snapshots of %lld streams by snapmig's engine:", seeds);
	for (int k = 0; k < demo_n_kinds; k++)
		STEP(" %s v%lld%s", strrchr(demo_kinds[k].type, '.') + 1, ds.old_version[k],
		     ds.bumped[k] ? " (bumped in the config)" : "");
	STEP("\n");
	if (demo_snapshots_build(&ds, conn, conninfo,
				 &o, jobs, &snaps, &failed, &err))
		goto fail;
	STEP("  %lld snapshots, %lld instances failed (%.1f s)\n", snaps, failed, sm_now() - t);
	if (seeds > 0 && snaps == 0) {
		sm_error_set(&err, SM_ERR_DATA, "the engine made no snapshot at all");
		goto fail;
	}
	t = sm_now();
	if (demo_store_events(conn, &o, 2, &tail, &err))
		goto fail;
	if (demo_exec(conn, "ANALYZE", &err))
		goto fail;
	STEP("  events after the latest snapshots: %lld (%.1f s)\n", tail, sm_now() - t);
	STEP("demo store ready: %lld events, %lld snapshots in %.1f s\n", head + tail, snaps,
	     sm_now() - t0);
	status = 0;
	goto out;
fail:
	fail(&err);
out:
	PQfinish(conn);
	demo_snapshots_free(&ds);
	return status;
}
