/*
 * Internal: what snapmig may assume about the target schema before it
 * reads or writes there.  Every operation that touches the target
 * (rebuild, inventory, copy and its plan, rollback) calls sm_target_check
 * on its own connection first.  It promises:
 *  - the target schema is not the source schema, compared by OID with the
 *    names cut as PostgreSQL cuts them (63 bytes), so that no snapmig table
 *    is ever created in the live schema and no generated row is ever
 *    written into the live table;
 *  - an existing <target>.snapshots is an ordinary table (a view onto the
 *    live table would take the rebuild's writes);
 * Nothing is written.
 */
#ifndef SM_ENGINE_TARGET_H
#define SM_ENGINE_TARGET_H

#include <libpq-fe.h>

#include "engine/engine_internal.h"

/* SM_ERR_CONFIG when the target may not be used (the message says why and
 * what to change), SM_ERR_DB when the catalog cannot be read. */
int sm_target_check(PGconn *conn, const sm_engine *eng, sm_error *err);

#endif
