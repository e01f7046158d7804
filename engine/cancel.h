/*
 * Internal: how an sm_cancel token (engine/snapmig.h) reaches the
 * connections of the call it was given to (engine/cancel.c).  Every
 * connection the engine opens for a call goes through sm_engine_connect,
 * which watches it with the call's token, and is closed by
 * sm_engine_disconnect.  A watched connection carries its token
 * (libpq instance data), so that engine/db.c's statements find it:
 *  - sm_cancel_request interrupts what each watched connection waits in
 *    (PQcancel, as psql's SetCancelConn does);
 *  - a statement that fails on a connection whose token was requested is
 *    SM_ERR_CANCELLED, not a database error;
 *  - unless the token only interrupts (a rebuild's: its workers commit
 *    what they finished), no statement starts on such a connection.
 */
#ifndef SM_ENGINE_CANCEL_H
#define SM_ENGINE_CANCEL_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "engine/snapmig.h"

/* A token whose request interrupts statements but lets new ones start. */
sm_cancel *sm_cancel_new_interrupt_only(void);

/* Registers conn (connected) with c; NULL c: nothing. */
void sm_cancel_watch(sm_cancel *c, PGconn *conn);
/* Forgets conn (before PQfinish). */
void sm_cancel_unwatch(PGconn *conn);

/* The token conn is watched by, or NULL. */
sm_cancel *sm_cancel_of(const PGconn *conn);
/* Whether no statement may start on conn: its token was requested and
 * does not only interrupt. */
bool sm_cancel_refuses(const PGconn *conn);

#endif
