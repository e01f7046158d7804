/*
 * The demo event store's events: which streams exist, how long they are and
 * what their events say, generated with set-based SQL (one statement per
 * aggregate kind and phase, never a round trip per event) so that a million
 * events take seconds.
 *
 * Events are written in two phases around the snapshot step
 * (demo_snapshots.h): phase 1 writes every stream up to the version of its
 * latest snapshot (Commanded snapshots every N events, so that is
 * floor(total / N) * N), phase 2 the events appended after it, among them
 * the event types the configuration does not know.
 *
 * Everything here works on one connection and keeps its plan in temporary
 * tables of that session (demo_plan).
 */
#ifndef SM_DEMO_STORE_H
#define SM_DEMO_STORE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "tests/fixture.h"
#include "util/error.h"

/* One aggregate type of the demo (a row of demo_kinds[]). */
typedef struct demo_kind {
	const char *type;          /* source_type, must be in the config */
	const char *stream_prefix; /* stream_uuid = prefix + uuid */
	int weight;                /* share of the small and medium streams, % */
	int snapshot_every;        /* Commanded's snapshot_every */
	const char *event_sql;     /* SQL: short event name from v, c, p, r, unk */
	const char *data_sql;      /* SQL: JSON text from ev, id, v, c, p, r, ts */
	const char *unknown_event; /* full type of the event the config lacks, or NULL */
	int unknown_streams;       /* streams that get it after their snapshot */
} demo_kind;

extern const demo_kind demo_kinds[];
extern const int demo_n_kinds;

typedef struct demo_options {
	const char *schema;        /* the event store's schema (default public) */
	enum sm_fixture_mode mode; /* bytea, jsonb or double-encoded jsonb */
	long long scale;           /* events, about */
	long long single;          /* > 0: one StatusPage stream of this size only */
	long long aggregates;      /* > 0: this many small streams (2..6 events) only,
	                              each snapshotted at its last event */
	long long seed;            /* for the hashes that stand in for randomness */
	bool replace;              /* drop the schema first when it exists */
	bool quiet;
} demo_options;

/* Creates the EventStore schema (refuses an existing one unless replace). */
int demo_store_create(PGconn *conn, const demo_options *o, sm_error *err);

/* Decides the streams (temporary table demo_plan) and inserts their rows
 * into <schema>.streams.  *streams / *events: what was planned. */
int demo_store_plan(PGconn *conn, const demo_options *o, long long *streams,
		    long long *events, sm_error *err);

/* Writes the events of phase 1 (up to each stream's latest snapshot) or 2
 * (after it); *written: events written. */
int demo_store_events(PGconn *conn, const demo_options *o, int phase,
		      long long *written, sm_error *err);

/* Placeholder snapshots (module version 1000000, stale, empty state) for every stream
 * that Commanded would have snapshotted, so that a rebuild replays them;
 * metadata_key: the config's key of the module version; *count: rows. */
int demo_store_seed_snapshots(PGconn *conn, const demo_options *o,
			      const char *metadata_key, long long *count, sm_error *err);

/* Runs sql (no parameters, may hold several statements); SM_ERR_DB with the
 * server's message. */
int demo_exec(PGconn *conn, const char *sql, sm_error *err);

/* The schema name quoted as an identifier (caller frees). */
char *demo_ident(PGconn *conn, const char *name);

#endif
