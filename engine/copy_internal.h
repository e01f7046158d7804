/*
 * Internal to the copy and rollback modules (copy.c, copy_sql.c,
 * copy_rollback.c): the per-operation context, the SQL expressions that
 * read the module version and convert between column encodings, the
 * classification of rows and the lock wait.
 *
 * Every count is computed in SQL over whole sets; nothing here loops over
 * rows in C or makes a round trip per row.
 */
#ifndef SM_ENGINE_COPY_INTERNAL_H
#define SM_ENGINE_COPY_INTERNAL_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "engine/db.h"
#include "engine/engine_internal.h"
#include "engine/target.h"
#include "engine/store.h"

typedef struct sm_copy_ctx {
	const sm_engine *eng;           /* borrowed */
	PGconn *conn;                   /* owned (PQfinish in sm_copy_ctx_close) */
	char *src, *tgt;                /* quoted schema names */
	const char *src_name, *tgt_name;/* unquoted, borrowed from the settings */
	sm_store_layout layout;         /* snap_*: the live table; tgt_*: the
	                                   generated one (MISSING: no table) */
	bool have_failures;             /* <target>.snapmig_failures exists */
	const sm_aggregate **aggs;      /* selected types (borrowed pointers) */
	size_t n_aggs;
	sm_type_params params;          /* of the selected types */
	sm_type_fp *fps;                /* current fingerprints of aggs (same order),
	                                   after sm_copy_ctx_generated */
	bool locked;                    /* holds the target's lock */
} sm_copy_ctx;

/* Connects (watched by cancel), selects the types and reads the store's
 * layout.  SM_ERR_DB when the live snapshots table is missing. */
int sm_copy_ctx_open(sm_copy_ctx *ctx, const sm_engine *eng,
		     const char *const *types, size_t n_types, sm_cancel *cancel, sm_error *err);
void sm_copy_ctx_close(sm_copy_ctx *ctx);

/* Which generated rows are current (engine/target.h): fingerprints of the
 * selected types, and pg_temp.sm_gen for the classification.  A copy and
 * its plan call it before classifying; a rollback needs none of it. */
int sm_copy_ctx_generated(sm_copy_ctx *ctx, sm_error *err);

/* Takes the target's lock for operation (exclusive: "copy", "rollback");
 * released by sm_copy_ctx_close. */
int sm_copy_ctx_lock(sm_copy_ctx *ctx, const char *operation, sm_error *err);

/* Expressions (malloc'ed) over a column `col`. */
/* Module version in the metadata, key = text parameter $1 (see
 * sm_store_module_version; sm_copy_ctx_open has prepared the session). */
char *sm_copy_version_expr(const sm_copy_ctx *ctx, const char *col);
/* A generated column converted into the live table's form. */
char *sm_copy_write_expr(const sm_copy_ctx *ctx, const char *col,
			 enum sm_column_type gen_type, enum sm_column_type live_type);
/* Fingerprint of a row (source_version, source_type, data, metadata given
 * as SQL expressions of the live column types): what drift is checked on. */
char *sm_copy_fingerprint_expr(const sm_copy_ctx *ctx, const char *version,
			       const char *type, const char *data, const char *meta);

/*
 * The classification query: one row per source_uuid that the copy of the
 * selected types is concerned with, columns (source_uuid, source_type,
 * action, off_version, lag), action one of
 *   'replace'   generated row replaces the live row
 *   'insert'    generated row, no live row
 *   'keep'      live row already at the target version and at least as new
 *   'untouched' valid live row of the type that the rebuild did not produce
 *   'stale'     stale live row without a generated replacement
 * Only current generated rows take part (pg_temp.sm_gen, made by
 * sm_copy_ctx_generated): a stale one is as if it were not there.
 * Parameters: $1 metadata key, $2 types (text[]), $3 target versions
 * (bigint[]).
 */
char *sm_copy_classify_sql(const sm_copy_ctx *ctx);

/* Per-type counts from a relation (the classification as a subquery or the
 * work table) into a new plan; adds failures and guards. */
int sm_copy_plan_from(sm_copy_ctx *ctx, const char *relation, int nparams,
		      unsigned force, sm_copy_plan **out, sm_error *err);

/* Creates snapmig_copies and snapmig_backup in the target schema if
 * missing (own transaction) and checks that the backup's data columns have
 * the live table's types. */
int sm_copy_ensure_tables(sm_copy_ctx *ctx, sm_error *err);

/* Records the end of a run; on a broken connection it reconnects once so
 * that a failure is still journaled.  Errors are ignored (best effort). */
void sm_copy_journal_finish(sm_copy_ctx *ctx, long long run_id,
			    const char *outcome, const char *details_json);
/* After a transaction that failed, was refused or cancelled: rolls it
 * back and journals the outcome, whatever the call's cancel token says. */
void sm_copy_journal_failure(sm_copy_ctx *ctx, long long run_id, const char *outcome,
			     const char *details_json);

#endif
