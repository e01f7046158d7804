/* Internal: the sm_engine struct, shared by the engine's modules. */
#ifndef SM_ENGINE_INTERNAL_H
#define SM_ENGINE_INTERNAL_H

#include <libpq-fe.h>

#include "engine/snapmig.h"

struct sm_engine {
	const sm_config *cfg;       /* borrowed */
	const sm_environment *env;  /* borrowed from cfg */
	char *conninfo;             /* as configured */
	char *password;             /* from password_env, or NULL */
	char *where;                /* what libpq connected to: host:port/db */
};

/* A new connection to the environment for a call, watched by the call's
 * token (engine/cancel.h; NULL: not cancellable); close it with
 * sm_engine_disconnect. */
PGconn *sm_engine_connect(const sm_engine *eng, sm_cancel *cancel, sm_error *err);
void sm_engine_disconnect(PGconn *conn);  /* NULL is fine */

/* The configured aggregates selected by labels/types (NULL/0 = all
 * configured).  *out is a malloc'ed array of borrowed pointers. */
int sm_engine_select_types(const sm_engine *eng, const char *const *types,
			   size_t n_types, const sm_aggregate ***out, size_t *n_out,
			   sm_error *err);

#endif
