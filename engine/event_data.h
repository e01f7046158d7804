/*
 * Internal: decoding the JSON columns of events as the rebuild's chunk
 * query hands them over (engine/rebuild_worker.c).
 *
 * Every storage variant of a JSON column arrives in the same form: the
 * query's read expression (sm_store_json_bytes, engine/store.h) asks PostgreSQL
 * for the UTF-8 bytes of a JSON text, in binary.  For a bytea column those
 * are the stored bytes as they are (anything an application wrote: invalid
 * UTF-8, NUL bytes, any number); for jsonb, the value's text; for a
 * double-encoded jsonb value (a JSON string whose content is JSON text),
 * the string's content, unwrapped by PostgreSQL.  So decoding here does
 * not depend on the variant, and the fuzz target (tests/fuzz_json.c)
 * models the variants by what each one can deliver.
 *
 * text is len bytes, not NUL-terminated.  Errors are SM_ERR_DATA with the
 * reason of util/json.h; the worker fails the one instance with it.
 */
#ifndef SM_ENGINE_EVENT_DATA_H
#define SM_ENGINE_EVENT_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "util/error.h"
#include "util/json.h"

/* Event data (and snapshot data): a JSON object, or an error.  *out: caller
 * owns.  r: a reader to reuse (a worker keeps one), or NULL.  fields: build
 * only these members (what the reducer reads, sm_event_reads), NULL for
 * all; the whole text is checked either way, so an event is accepted or
 * refused whatever its reducer reads. */
int sm_decode_event_data(sm_json_reader *r, const char *text, size_t len,
			 const sm_json_fields *fields, json_object **out, sm_error *err);

/* Event metadata: any JSON text is accepted, but only an object is kept;
 * anything else decodes to *out = NULL (the event is folded without
 * metadata).  Invalid JSON is an error (EventStore decodes metadata too
 * when it loads an aggregate).  keep false: only checked, *out = NULL. */
int sm_decode_event_metadata(sm_json_reader *r, const char *text, size_t len, bool keep,
			     json_object **out, sm_error *err);

#endif
