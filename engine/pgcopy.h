/*
 * Internal: a decoder of PostgreSQL's binary COPY format (COPY ... TO
 * STDOUT (FORMAT binary); "Binary Format" in the COPY reference), as the
 * rebuild reads its chunk query (engine/rebuild_read.c).  The bytes come
 * from the server, so they are judged here by pure functions, tested by
 * tests/test_pgcopy and fuzzed by tests/fuzz_pgcopy.c.  It promises:
 *  - it reads only inside the message it is given (len bytes) and writes
 *    only the byte after each field (a NUL, so that a text field is a C
 *    string, as PQgetvalue's are): buf must have len + 1 writable bytes,
 *    which libpq's PQgetCopyData guarantees (it terminates every message);
 *  - a message is accepted only when it is exactly one row of the
 *    expected number of fields (the protocol sends one CopyData message
 *    per row), or the trailer; the file header must come first, with the
 *    first row, and is accepted once;
 *  - a typed field (int32, int64) is read only when it has exactly its
 *    type's size.
 * No allocation, no libpq, no global state: one decoder per stream.
 */
#ifndef SM_ENGINE_PGCOPY_H
#define SM_ENGINE_PGCOPY_H

#include <stdbool.h>
#include <stddef.h>

/* The most fields a row may have. */
#define SM_PGCOPY_MAX_FIELDS 16

typedef struct sm_pgcopy {
	int fields;                /* every row has this many */
	bool header_seen;
	bool trailer_seen;         /* nothing may follow the trailer */
} sm_pgcopy;

/* One row: each field's bytes (the binary send format of its type) and
 * length, -1 for NULL.  Borrowed from the message; a NULL field points at
 * a static empty string. */
typedef struct sm_pgcopy_row {
	const char *val[SM_PGCOPY_MAX_FIELDS];
	int len[SM_PGCOPY_MAX_FIELDS];
} sm_pgcopy_row;

enum sm_pgcopy_msg {
	SM_PGCOPY_ROW,             /* *row is filled */
	SM_PGCOPY_TRAILER,         /* the end of the data */
	SM_PGCOPY_BAD,             /* anything else: the stream cannot be trusted */
};

/* fields: 1 .. SM_PGCOPY_MAX_FIELDS. */
void sm_pgcopy_init(sm_pgcopy *d, int fields);

/* One CopyData message (buf: len + 1 writable bytes, see above). */
enum sm_pgcopy_msg sm_pgcopy_decode(sm_pgcopy *d, char *buf, size_t len, sm_pgcopy_row *row);

/* Field i as a number: false when it is NULL or not of the type's size. */
bool sm_pgcopy_int32(const sm_pgcopy_row *row, int i, int *out);
bool sm_pgcopy_int64(const sm_pgcopy_row *row, int i, long long *out);
bool sm_pgcopy_isnull(const sm_pgcopy_row *row, int i);
/* The length of field i, 0 for NULL. */
size_t sm_pgcopy_length(const sm_pgcopy_row *row, int i);

/* A timestamptz's binary value (microseconds since 2000-01-01 00:00 UTC)
 * as ISO 8601 with microseconds, "2023-08-27T23:02:40.699001Z" (64 bytes
 * hold every value). */
void sm_pgcopy_timestamp(long long usec, char *buf, size_t size);

#endif
