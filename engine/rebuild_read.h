/*
 * Internal: a rebuild worker's reader (engine/rebuild_read.c).  One query
 * per chunk, COPY ... TO STDOUT (FORMAT binary): for each planned instance
 * of the chunk, in plan order, its start row (the live snapshot's version,
 * metadata and, when the plan starts from a snapshot, its data) and then
 * its events in stream order.  Rows are decoded by engine/pgcopy.h, one
 * CopyData message at a time, so memory stays bounded by one message.
 */
#ifndef SM_ENGINE_REBUILD_READ_H
#define SM_ENGINE_REBUILD_READ_H

#include "engine/pgcopy.h"
#include "engine/rebuild_internal.h"

/* The columns of a row, in the query's order. */
enum sm_chunk_col {
	SM_CHUNK_ORD,      /* int8: 1-based position of the instance in the chunk's map */
	SM_CHUNK_KIND,     /* int4: an sm_chunk_row_kind */
	SM_CHUNK_VERSION,  /* int8: snapshot source_version / event stream_version */
	SM_CHUNK_TYPE,     /* text: event type (NULL in a start row) */
	SM_CHUNK_DATA,     /* bytea: UTF-8 JSON text (sm_store_json_bytes), or for
			    * a raw-mode type the column as stored (sm_store_raw_bytes) */
	SM_CHUNK_META,     /* bytea: the same for metadata (a start row's is always JSON) */
	SM_CHUNK_CREATED,  /* timestamptz: an event's created_at, when asked for */
	SM_CHUNK_EVENT_ID, /* text: a raw-mode type's event_id, causation_id, */
	SM_CHUNK_CAUSATION,/* correlation_id (NULL otherwise) */
	SM_CHUNK_CORRELATION,
	SM_CHUNK_COLS
};

enum sm_chunk_row_kind {
	SM_ROW_START = 0,          /* the instance's live snapshot */
	SM_ROW_EVENT = 1,          /* one of its events */
};

typedef struct sm_reader {
	sm_run *run;
	PGconn *conn;              /* borrowed */
	sm_pgcopy copy;
	char *msg;                 /* the current CopyData message (PQfreemem) */
	bool active;               /* the query has not ended yet */
	const sm_chunk *chunk;     /* the chunk being read (borrowed) */
	size_t *map;               /* chunk position -> index into chunk->inst */
	size_t n_map;
	char *tail;                /* the query after the chunk's arrays */
} sm_reader;

void sm_reader_init(sm_reader *r, sm_run *run);
void sm_reader_free(sm_reader *r);

/* Prepares a new connection (planner settings for an ordered walk). */
int sm_reader_open(sm_reader *r, PGconn *conn, sm_error *err);

/* Sends the query of the chunk's instances that were not failed at
 * planning, and waits for its data to start. */
int sm_reader_send(sm_reader *r, const sm_chunk *ch, sm_error *err);

enum sm_read {
	SM_READ_ROW,               /* *row, and *ord checked to be in the map */
	SM_READ_END,               /* all the data has come */
	SM_READ_ERROR,             /* err filled; the reader is stopped */
};

/* The next row; valid until the next call.  Errors: the query's, data
 * that is not the expected COPY format, an unknown instance. */
enum sm_read sm_reader_next(sm_reader *r, sm_pgcopy_row *row, size_t *ord, sm_error *err);

/* Stops a query that has not ended: asks the server to cancel it and
 * reads what is already on its way. */
void sm_reader_stop(sm_reader *r);

#endif
