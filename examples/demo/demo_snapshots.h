/*
 * The demo store's snapshots, made by snapmig's own engine: they must be
 * exactly what the reducers give, as Commanded would have left them at the
 * previous module version of the bumped aggregate types (and at the current
 * version of the others).
 *
 * How: the store holds every stream up to its latest snapshot's version and
 * a placeholder snapshot per stream (demo_store_seed_snapshots); a rebuild
 * with the configuration, where each bumped type's snapshot_version is one
 * less than configured, replays them into a scratch schema; the rows are then
 * moved into <schema>.snapshots and the scratch schema dropped.
 */
#ifndef SM_DEMO_SNAPSHOTS_H
#define SM_DEMO_SNAPSHOTS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "config/snapmig_conf.h"
#include "examples/demo/demo_store.h"
#include "util/error.h"

typedef struct demo_snapshots {
	sm_config *cfg;            /* owned; edited: old versions, demo environment */
	const char *metadata_key;  /* borrowed from cfg */
	long long old_version[16]; /* per demo kind: the version snapshots get */
	bool bumped[16];           /* per demo kind */
} demo_snapshots;

/* Loads the configuration, checks that it defines every demo kind and
 * applies bump ("all", "none", or a comma-separated list of labels or
 * types): those get snapshot_version - 1 (0 for a type at version 1).  On success the caller owns
 * *ds (demo_snapshots_free). */
int demo_snapshots_prepare(const char *config_path, const char *bump,
			   demo_snapshots *ds, sm_error *err);
void demo_snapshots_free(demo_snapshots *ds);

/* Runs the rebuild (jobs workers) against conninfo, whose database conn is
 * connected to, and moves its result into <o->schema>.snapshots.
 * *written: snapshots now in the store; *failed: instances the rebuild could
 * not fold (they keep no snapshot). */
int demo_snapshots_build(demo_snapshots *ds, PGconn *conn, const char *conninfo,
			 const demo_options *o, int jobs, long long *written,
			 long long *failed, sm_error *err);

#endif
