/*
 * Internal: the fingerprint of what makes an aggregate type's generated
 * snapshots (issue 16).  Every generated row is stored with the
 * fingerprint of the reducer and settings that produced it
 * (<target>.snapmig_rows, engine/target.h); a row whose fingerprint is not
 * the current one is stale: status counts it so, a rebuild regenerates it
 * and a copy never ships it.
 *
 * What goes into it (SHA-256 over a length-prefixed text, so that no two
 * descriptions run together):
 *  - SM_FOLD_VERSION: bumped whenever snapmig itself folds or writes the
 *    same input differently;
 *  - the type, its snapshot_version, the environment's metadata_key and
 *    duplicate_keys (they change what is written);
 *  - rules: the canonical text of `initial` and the entries
 *    (sm_rules_canonical: the same under layout changes, different
 *    whenever the rules could give another state);
 *  - an external reducer: its command, the configuration's directory (it
 *    runs there), its extra environment (values with passwords masked by
 *    util/redact.h) and the "fingerprint" its hello reports for the type
 *    (the Commanded bridge: a hash of the compiled modules).
 * The description kept beside the fingerprint names all of it except
 * environment values.
 */
#ifndef SM_ENGINE_FINGERPRINT_H
#define SM_ENGINE_FINGERPRINT_H

#include "config/snapmig_conf.h"
#include "util/error.h"

/* Bump when the same events and reducer would give other snapshot rows. */
#define SM_FOLD_VERSION 1

typedef struct sm_fingerprint {
	char hex[65];           /* 64 lowercase hex digits */
	char *described;        /* JSON text of what went into it (owned) */
	char *hello;            /* the reducer's own "fingerprint", or NULL (owned) */
} sm_fingerprint;

/* The fingerprint of agg's rows in an environment with settings set;
 * hello: the external reducer's "fingerprint" for the type (NULL when it
 * reports none; ignored for rules).  Pure. */
void sm_fingerprint_compute(const sm_config *cfg, const sm_settings *set,
			    const sm_aggregate *agg, const char *hello, sm_fingerprint *out);

/* The same, asking an external reducer for its hello first (it is
 * started and stopped: seconds for some).  Errors: as sm_exec_known_types. */
int sm_fingerprint_current(const sm_config *cfg, const sm_settings *set,
			   const sm_aggregate *agg, sm_fingerprint *out, sm_error *err);

void sm_fingerprint_clear(sm_fingerprint *fp);

#endif
