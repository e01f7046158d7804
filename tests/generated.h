/*
 * For tests that write generated rows by hand instead of through a
 * rebuild: records them as made by the current configuration, as a
 * rebuild does with every row it writes (engine/target.h).  Kept apart
 * from testlib.c because it needs the engine (tests/mkstore does not link
 * it).
 */
#ifndef SM_TESTS_GENERATED_H
#define SM_TESTS_GENERATED_H

#include <libpq-fe.h>

#include "engine/snapmig.h"

/* Marks the rows of eng's <target>.snapshots that match where (an SQL
 * condition over its columns as t.name; NULL = all) as current; fails
 * the test on error.  Claims the target for eng's store when nobody has. */
void tl_mark_generated(PGconn *conn, sm_engine *eng, const char *where);

#endif
