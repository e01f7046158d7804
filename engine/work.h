/*
 * Internal: a rebuild's plan as shared work in the target schema (issue
 * 21), so that any number of snapmig processes, on any machines, fold one
 * rebuild together and the coordinator holds no per-instance plan.
 *
 *   snapmig_work_runs  one row per shared plan: the planning run's journal
 *                      id, its types with their fingerprint ids, and its
 *                      filters (uuids, only_failed)
 *   snapmig_work       one row per chunk: a type and an inclusive range of
 *                      source_uuids [uuid_lo, uuid_hi], the instances and
 *                      events planned in it, the instances themselves as
 *                      planned (item_ arrays, in source_uuid order: uuid,
 *                      stream id, stream missing, live module version,
 *                      start kind and version, end version), its state
 *                      ('unclaimed' or 'done') and, once done, who did it
 *                      (the process's journal run id, host, pid), when, in
 *                      how long, and its counts (instances, events,
 *                      failures by kind)
 *
 * Promises:
 *  - Planning (sm_work_plan) reads the instances once, server side, in
 *    one snapshot of the store, and cuts each type's instances, in
 *    source_uuid order, into consecutive ranges of at most batch_size
 *    instances and about SM_WORK_CHUNK_EVENTS events: the ranges of a
 *    type never overlap, so no instance is in two chunks.  Each chunk
 *    keeps its instances' plan (start, and as end the stream's version
 *    then) in its row.  Nothing per instance comes to the client.  The old
 *    plan is replaced in the same transaction.
 *  - A chunk is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside the
 *    transaction that writes its rows and marks it done (sm_work_claim,
 *    sm_work_done on the writer's connection).  "Claimed" is that row
 *    lock and nothing else: a process that dies or whose transaction
 *    fails releases it, and the chunk is unclaimed again for anyone.
 *  - The claimer reads the chunk's instances as planned
 *    (sm_work_chunk_plan, one row): whichever process folds a chunk, and
 *    however often it is done again after a failure, it folds the same
 *    events and gives the same rows; events appended since planning, and
 *    instances made since, are left to the next run, as with one process.
 *  - A chunk commits whole or not at all: a process that is cancelled,
 *    fails or dies in a chunk commits nothing of it, so an unclaimed
 *    chunk has none of its instances written by this plan, and the work
 *    table's counts of the chunks done add up to the plan's.
 */
#ifndef SM_ENGINE_WORK_H
#define SM_ENGINE_WORK_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "engine/rebuild_internal.h"

/* A chunk holds at most batch_size instances and about this many events
 * (one bigger instance goes alone). */
#define SM_WORK_CHUNK_EVENTS 100000

/* Creates the work tables if missing (own transaction). */
int sm_work_ensure(PGconn *conn, const char *target_schema, sm_error *err);

/* Plans run (run->run_id, its types, fingerprints and filters) into the
 * work table, replacing any older plan, and reads back the planned counts
 * per type into run->types and run->n_chunks. */
int sm_work_plan(PGconn *conn, sm_run *run, sm_error *err);

/* What sm_work_plan would plan now, read without writing (the session
 * prepared as for planning; have_failures: the target has a failures
 * table): per type of run (types: run->n_types entries) and the chunks. */
typedef struct sm_work_type_plan {
	long long instances, events, failing;
} sm_work_type_plan;

int sm_work_plan_summary(PGconn *conn, const sm_run *run, bool have_failures,
			 sm_work_type_plan *types, long long *chunks, sm_error *err);

/* The plan a joining process works on: the newest one with unclaimed
 * chunks.  Fills run->plan_run_id, the run's uuids and only_failed, and
 * *types (malloc'ed array of the plan's type names, *n_types, strings
 * malloc'ed) and *fp_ids (the fingerprint id of each).  SM_ERR_USAGE
 * when there is none. */
int sm_work_find(PGconn *conn, sm_run *run, char ***types, long long **fp_ids,
		 size_t *n_types, sm_error *err);

/* Within an open transaction: locks the next unclaimed chunk of the plan
 * (SKIP LOCKED) and fills ch->no, type and range.  *got false when none is
 * free now. */
typedef struct sm_work_chunk {
	int no;
	int type_index;            /* into run->types */
	char *uuid_lo, *uuid_hi;
} sm_work_chunk;

int sm_work_claim(PGconn *conn, sm_run *run, sm_work_chunk *ch, bool *got, sm_error *err);
void sm_work_chunk_clear(sm_work_chunk *ch);

/* The claimed chunk's instances as planned: *inst (malloc'ed, free with
 * sm_work_instances_free), *n. */
int sm_work_chunk_plan(PGconn *conn, sm_run *run, const sm_work_chunk *ch,
		       sm_instance **inst, size_t *n, sm_error *err);
void sm_work_instances_free(sm_instance *inst, size_t n);

/* Within the chunk's transaction, before its commit: marks it done by this
 * process with its counts (failures: per kind).  An error when the chunk
 * is no longer this process's to finish. */
int sm_work_done(PGconn *conn, sm_run *run, const sm_work_chunk *ch, double seconds,
		 long long instances, long long events,
		 const long long failures[SM_FAIL__COUNT], sm_error *err);

/* Chunks of the plan not done yet (claimed by someone or not). */
int sm_work_remaining(PGconn *conn, const sm_run *run, long long *out, sm_error *err);

/* This machine's name ("" when unknown) into buf. */
void sm_work_host(char *buf, size_t size);

/* The whole plan's progress, from the work table and the journal, into
 * run->shared (under run->lock). */
int sm_work_poll(PGconn *conn, sm_run *run, sm_error *err);

#endif
