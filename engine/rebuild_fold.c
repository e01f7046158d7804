/* Folding one instance from its rows; see rebuild_fold.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/event_data.h"
#include "engine/rebuild_fold.h"
#include "engine/rebuild_read.h"

void sm_fold_init(sm_fold *f, sm_json_reader *json, sm_fold_sink sink, const sm_fold_params *params)
{
	memset(f, 0, sizeof *f);
	f->json = json;
	f->sink = sink;
	f->params = *params;
}

void sm_fold_begin(sm_fold *f, const sm_instance *inst, const sm_aggregate *agg,
		   sm_reducer *reducer)
{
	f->state = SM_FOLD_AWAIT_START;
	f->inst = inst;
	f->agg = agg;
	f->reducer = reducer;
	f->raw = sm_reducer_raw(reducer);
	f->skip_through = 0;
	f->next_version = 0;
	f->metadata = NULL;
	json_object_put(f->live);
	f->live = NULL;
	f->events = f->events_reported = 0;
}

static void record(sm_fold *f, enum sm_failure_kind kind, long long version,
		   const char *event_type, const char *message)
{
	f->sink.fail(f->sink.ctx, f->inst, kind, version, event_type, message);
}

/* The reducer's (or our) verdict on the instance: recorded, reducer
 * stopped, the rest of its rows skipped. */
static void fail(sm_fold *f, const sm_reduce_failure *why)
{
	record(f, why->kind, why->version, why->event_type, why->message);
	f->state = SM_FOLD_FAILED;
	sm_reducer_abort(f->reducer);
}

static void failf(sm_fold *f, enum sm_failure_kind kind, long long version,
		  const char *event_type, const char *fmt, const char *detail)
{
	sm_reduce_failure why;

	memset(&why, 0, sizeof why);
	why.kind = kind;
	why.version = version;
	snprintf(why.event_type, sizeof why.event_type, "%s", event_type ? event_type : "");
	snprintf(why.message, sizeof why.message, fmt, detail);
	fail(f, &why);
}

static int bad_row(sm_error *err)
{
	return sm_error_set(err, SM_ERR_INTERNAL, "unexpected data from the event query (COPY)");
}

static int out_of_order(sm_error *err)
{
	return sm_error_set(err, SM_ERR_INTERNAL, "a start row came in the middle of an instance");
}

/* A reducer call's status: its failure recorded, or an error. */
static int reduced(sm_fold *f, int rc, const sm_reduce_failure *why)
{
	if (rc == SM_REDUCE_FAILED) {
		fail(f, why);
		return SM_OK;
	}
	return rc;
}

/* ------------------------------------------------------------ start row */

/* Whether the live snapshot's metadata names the target module version,
 * as the planner decided for a live start (a missing key is version 1). */
static bool live_at_target_version(const sm_fold *f)
{
	json_object *v;

	if (!f->metadata || !json_object_is_type(f->metadata, json_type_object) ||
	    !json_object_object_get_ex(f->metadata, f->params.metadata_key, &v))
		return f->agg->snapshot_version == 1;
	return json_object_is_type(v, json_type_int) &&
	       json_object_get_int64(v) == f->agg->snapshot_version;
}

/*
 * Commanded keeps snapshotting while the rebuild runs.  A newer valid
 * snapshot is a better start (its events are skipped); one at or past the
 * planned end leaves nothing to generate, and the copy keeps that live
 * row.  Anything else (older, or another module version) is not a state
 * to continue from.  *start_version: where the fold starts.
 */
static bool moved_start(sm_fold *f, long long now, long long *start_version)
{
	char msg[200];

	if (now < *start_version ||
	    (f->inst->start_kind == SM_START_LIVE && !live_at_target_version(f))) {
		snprintf(msg, sizeof msg, "the start snapshot changed while rebuilding"
			 " (planned at version %lld, now %lld); run the rebuild again",
			 *start_version, now < 0 ? 0 : now);
		failf(f, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "%s", msg);
		return false;
	}
	if (now >= f->inst->end_version) {
		f->state = SM_FOLD_SUPERSEDED;
		f->next_version = f->inst->end_version + 1;
		return false;
	}
	*start_version = now;
	f->next_version = now + 1;
	f->skip_through = now;
	return true;
}

/* The state to start from: NULL for the initial state; false when the
 * instance failed or is superseded instead. */
static bool start_state(sm_fold *f, bool has_version, long long now, const char *data,
			size_t data_len, long long *start_version, json_object **start)
{
	sm_error perr;

	*start = NULL;
	if (f->inst->start_kind == SM_START_INITIAL)
		return true;
	if (!data) {
		failf(f, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "%s",
		      "the start snapshot disappeared while rebuilding");
		return false;
	}
	if (!has_version)
		now = -1;
	if (now != *start_version && !moved_start(f, now, start_version))
		return false;
	if (f->raw)
		return true;   /* the bytes go to the reducer as they are */
	sm_error_clear(&perr);
	if (sm_json_reader_parse_object(f->json, data, data_len, start, &perr) != SM_OK) {
		failf(f, SM_FAIL_BAD_SNAPSHOT, 0, NULL,
		      f->inst->start_kind == SM_START_GENERATED ? "generated snapshot data: %s"
								 : "snapshot data: %s", perr.message);
		return false;
	}
	return true;
}

/* verify: the start row is the live snapshot to compare with.  One that
 * changed since planning (another version, another module version, gone)
 * is not compared: SUPERSEDED.  Its data must be a JSON object. */
static bool keep_live(sm_fold *f, bool has_version, long long now, const char *data,
		      size_t data_len)
{
	sm_error perr;

	if (!data || !has_version || now != f->inst->end_version ||
	    (!f->inst->any_module_version && !live_at_target_version(f))) {
		f->state = SM_FOLD_SUPERSEDED;
		return false;
	}
	sm_error_clear(&perr);
	if (sm_json_reader_parse_object(f->json, data, data_len, &f->live, &perr) != SM_OK) {
		failf(f, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "live snapshot data: %s", perr.message);
		return false;
	}
	return true;
}

int sm_fold_start(sm_fold *f, bool has_version, long long version, const char *data,
		  size_t data_len, const char *meta, size_t meta_len, sm_error *err)
{
	long long start_version = f->inst->start_version;
	json_object *start = NULL;
	sm_reduce_failure why;
	sm_error perr;
	int rc;

	if (f->state != SM_FOLD_AWAIT_START)
		return out_of_order(err);
	/* From here on the instance has started: a failure stops its reducer. */
	f->state = SM_FOLD_FOLDING;
	f->next_version = f->inst->start_version + 1;
	sm_error_clear(&perr);
	if (meta && sm_json_reader_parse(f->json, meta, meta_len, &f->metadata, &perr) != SM_OK) {
		failf(f, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "snapshot metadata: %s", perr.message);
		return SM_OK;
	}
	if (f->params.verify ? !keep_live(f, has_version, version, data, data_len)
			     : !start_state(f, has_version, version, data, data_len,
					    &start_version, &start))
		return SM_OK;
	memset(&why, 0, sizeof why);
	if (f->raw) {
		bool initial = f->inst->start_kind == SM_START_INITIAL;

		rc = sm_reducer_begin_raw(f->reducer, f->inst->uuid,
					  initial ? NULL : (const unsigned char *)data,
					  initial ? 0 : data_len, start_version, &why, err);
		return reduced(f, rc, &why);
	}
	rc = sm_reducer_begin(f->reducer, f->inst->uuid, start, start_version, &why, err);
	json_object_put(start);
	return reduced(f, rc, &why);
}

static int start_row(sm_fold *f, const sm_pgcopy_row *row, sm_error *err)
{
	long long now = -1;
	bool has_version = !sm_pgcopy_isnull(row, SM_CHUNK_VERSION);

	if (has_version && !sm_pgcopy_int64(row, SM_CHUNK_VERSION, &now))
		return bad_row(err);
	return sm_fold_start(f, has_version, now,
			     sm_pgcopy_isnull(row, SM_CHUNK_DATA) ? NULL : row->val[SM_CHUNK_DATA],
			     sm_pgcopy_length(row, SM_CHUNK_DATA),
			     sm_pgcopy_isnull(row, SM_CHUNK_META) ? NULL : row->val[SM_CHUNK_META],
			     sm_pgcopy_length(row, SM_CHUNK_META), err);
}

/* ------------------------------------------------------------ event row */

/* Decodes what the reducer reads of the event; false when it failed the
 * instance. */
static bool decode_event(sm_fold *f, const sm_event_bytes *e, json_object **data, json_object **meta)
{
	const sm_event_reads *reads = sm_reducer_reads(f->reducer, e->type);
	sm_error perr;

	sm_error_clear(&perr);
	if (sm_decode_event_data(f->json, e->data, e->data_len,
				 reads->all_data ? NULL : &reads->data, data, &perr) != SM_OK) {
		failf(f, SM_FAIL_BAD_EVENT, e->version, e->type, "event data: %s", perr.message);
		return false;
	}
	if (e->meta &&
	    sm_decode_event_metadata(f->json, e->meta, e->meta_len, reads->metadata, meta, &perr) != SM_OK) {
		json_object_put(*data);
		*data = NULL;
		failf(f, SM_FAIL_BAD_EVENT, e->version, e->type, "event metadata: %s", perr.message);
		return false;
	}
	return true;
}

/* An event for a raw-mode reducer: its stored columns as they are. */
static int raw_event(sm_fold *f, const sm_event_bytes *e, sm_error *err)
{
	sm_reduce_failure why;
	sm_raw_event ev;

	memset(&ev, 0, sizeof ev);
	ev.type = e->type;
	ev.version = e->version;
	ev.event_id = e->event_id;
	ev.causation_id = e->causation_id;
	ev.correlation_id = e->correlation_id;
	ev.created_at = e->created_at;
	ev.data = (const unsigned char *)e->data;
	ev.data_len = e->data_len;
	ev.metadata = (const unsigned char *)e->meta;
	ev.metadata_len = e->meta_len;
	memset(&why, 0, sizeof why);
	return reduced(f, sm_reducer_event_raw(f->reducer, &ev, &why, err), &why);
}

int sm_fold_event(sm_fold *f, const sm_event_bytes *e, sm_error *err)
{
	json_object *data = NULL, *meta = NULL;
	char msg[100];
	sm_reduce_failure why;
	sm_event_view ev;
	int rc;

	if (f->state == SM_FOLD_FAILED || f->state == SM_FOLD_SUPERSEDED)
		return SM_OK;
	if (f->state == SM_FOLD_AWAIT_START) {
		if (f->params.verify)
			f->state = SM_FOLD_SUPERSEDED;  /* the live snapshot is gone */
		else
			failf(f, SM_FAIL_BAD_SNAPSHOT, 0, NULL, "%s",
			      "the snapshot disappeared while rebuilding");
		return SM_OK;
	}
	if (f->state != SM_FOLD_FOLDING)
		return sm_error_set(err, SM_ERR_INTERNAL, "an event without an instance");
	if (e->version <= f->skip_through)
		return SM_OK;  /* already in the newer start snapshot */
	if (e->version != f->next_version) {
		snprintf(msg, sizeof msg, "expected stream version %lld", f->next_version);
		failf(f, SM_FAIL_BAD_EVENT, e->version, e->type, "%s", msg);
		return SM_OK;
	}
	f->next_version++;
	f->events++;
	if (f->raw)
		return raw_event(f, e, err);
	if (!decode_event(f, e, &data, &meta))
		return SM_OK;
	memset(&ev, 0, sizeof ev);
	ev.type = e->type;
	ev.version = e->version;
	ev.stream_uuid = f->inst->uuid;
	ev.data = data;
	ev.metadata = meta;
	ev.created_at = e->created_at;
	memset(&why, 0, sizeof why);
	rc = sm_reducer_event(f->reducer, &ev, &why, err);
	json_object_put(data);
	json_object_put(meta);
	return reduced(f, rc, &why);
}

static int event_row(sm_fold *f, const sm_pgcopy_row *row, sm_error *err)
{
	long long created_usec;
	char created[64];
	sm_event_bytes e;

	memset(&e, 0, sizeof e);
	if (!sm_pgcopy_int64(row, SM_CHUNK_VERSION, &e.version))
		return bad_row(err);
	e.type = row->val[SM_CHUNK_TYPE];
	e.data = row->val[SM_CHUNK_DATA];   /* events.data is NOT NULL */
	e.data_len = sm_pgcopy_length(row, SM_CHUNK_DATA);
	if (!sm_pgcopy_isnull(row, SM_CHUNK_EVENT_ID))
		e.event_id = row->val[SM_CHUNK_EVENT_ID];
	if (!sm_pgcopy_isnull(row, SM_CHUNK_CAUSATION))
		e.causation_id = row->val[SM_CHUNK_CAUSATION];
	if (!sm_pgcopy_isnull(row, SM_CHUNK_CORRELATION))
		e.correlation_id = row->val[SM_CHUNK_CORRELATION];
	if (!sm_pgcopy_isnull(row, SM_CHUNK_META)) {
		e.meta = row->val[SM_CHUNK_META];
		e.meta_len = sm_pgcopy_length(row, SM_CHUNK_META);
	}
	if (sm_pgcopy_int64(row, SM_CHUNK_CREATED, &created_usec)) {
		sm_pgcopy_timestamp(created_usec, created, sizeof created);
		e.created_at = created;
	}
	return sm_fold_event(f, &e, err);
}

int sm_fold_row(sm_fold *f, const sm_pgcopy_row *row, sm_error *err)
{
	int kind;

	if (!sm_pgcopy_int32(row, SM_CHUNK_KIND, &kind))
		return bad_row(err);
	if (kind == SM_ROW_START)  /* the first row of an instance, and only then */
		return f->state == SM_FOLD_AWAIT_START ? start_row(f, row, err) : bad_row(err);
	if (kind != SM_ROW_EVENT)
		return bad_row(err);
	if (f->state == SM_FOLD_FAILED || f->state == SM_FOLD_SUPERSEDED)
		return SM_OK;
	return event_row(f, row, err);
}

/* --------------------------------------------------------------- finish */

/* The snapshot's metadata: the live one's (an object), else a new one,
 * with the target module version under the configured key. */
static json_object *metadata_to_write(sm_fold *f)
{
	json_object *meta = f->metadata;

	if (meta && json_object_is_type(meta, json_type_object))
		f->metadata = NULL;
	else
		meta = json_object_new_object();
	json_object_object_add(meta, f->params.metadata_key,
			       json_object_new_int64(f->agg->snapshot_version));
	return meta;
}

/* The reducer's final state, when it is one that can be written. */
static int final_state(sm_fold *f, json_object **state, sm_error *err)
{
	sm_reduce_failure why;
	int rc;

	memset(&why, 0, sizeof why);
	rc = sm_reducer_end(f->reducer, state, &why, err);
	if (rc == SM_REDUCE_FAILED) {
		record(f, why.kind, why.version, why.event_type, why.message);
		f->state = SM_FOLD_FAILED;
		return SM_OK;
	}
	if (rc != SM_OK)
		return rc;
	if (!*state || !json_object_is_type(*state, json_type_object)) {
		record(f, SM_FAIL_REDUCER, 0, NULL, "the reducer's final state is not a JSON object");
	} else if (f->params.no_nul && sm_json_has_nul(*state)) {
		record(f, SM_FAIL_BAD_EVENT, 0, NULL,
		       "the state contains a NUL character (\\u0000), which a jsonb column cannot store");
	} else {
		return SM_OK;
	}
	f->state = SM_FOLD_FAILED;
	json_object_put(*state);
	*state = NULL;
	return SM_OK;
}

/* A raw-mode reducer's final bytes (the writer has them checked). */
static int final_raw(sm_fold *f, sm_fold_result *out, sm_error *err)
{
	sm_reduce_failure why;
	int rc;

	memset(&why, 0, sizeof why);
	rc = sm_reducer_end_raw(f->reducer, &out->raw, &out->raw_len, &why, err);
	if (rc == SM_REDUCE_FAILED) {
		record(f, why.kind, why.version, why.event_type, why.message);
		f->state = SM_FOLD_FAILED;
		return SM_OK;
	}
	return rc;
}

void sm_fold_result_clear(sm_fold_result *r)
{
	json_object_put(r->state);
	free(r->raw);
	json_object_put(r->metadata);
	memset(r, 0, sizeof *r);
}

int sm_fold_finish(sm_fold *f, sm_fold_result *out, sm_error *err)
{
	char msg[200];
	int rc = SM_OK;

	memset(out, 0, sizeof *out);
	if (f->state == SM_FOLD_FOLDING && f->next_version != f->inst->end_version + 1) {
		snprintf(msg, sizeof msg, "events %lld..%lld of the stream are missing",
			 f->next_version, f->inst->end_version);
		record(f, SM_FAIL_BAD_EVENT, f->next_version, NULL, msg);
		f->state = SM_FOLD_FAILED;
		sm_reducer_abort(f->reducer);
	}
	if (f->state == SM_FOLD_AWAIT_START && f->params.verify) {
		f->state = SM_FOLD_SUPERSEDED;  /* the live snapshot is gone */
	} else if (f->state == SM_FOLD_AWAIT_START) {
		record(f, SM_FAIL_MISSING_STREAM, 0, NULL, "the snapshot disappeared while rebuilding");
		f->state = SM_FOLD_FAILED;
	}
	if (f->state == SM_FOLD_FOLDING)
		rc = f->raw ? final_raw(f, out, err) : final_state(f, &out->state, err);
	if (out->state || out->raw)
		out->metadata = metadata_to_write(f);
	json_object_put(f->metadata);
	f->metadata = NULL;
	f->state = SM_FOLD_IDLE;
	return rc;
}

json_object *sm_fold_take_live(sm_fold *f)
{
	json_object *live = f->live;

	f->live = NULL;
	return live;
}

void sm_fold_drop(sm_fold *f)
{
	if (f->state == SM_FOLD_FOLDING)
		sm_reducer_abort(f->reducer);
	json_object_put(f->metadata);
	f->metadata = NULL;
	json_object_put(f->live);
	f->live = NULL;
	f->state = SM_FOLD_IDLE;
}

long long sm_fold_take_events(sm_fold *f, long long min)
{
	long long delta = f->events - f->events_reported;

	if (delta < min || delta == 0)
		return 0;
	f->events_reported = f->events;
	return delta;
}
