/*
 * Folding events given as data, without a database (`snapmig fold`): the
 * rebuild's own fold (engine/rebuild_fold.h) and reducer, fed from JSON
 * lines instead of the rows of a COPY.  Each line's data and metadata are
 * printed back to JSON text and handed to the fold as bytes, so that they
 * are decoded exactly as a rebuild decodes a column (strictness, duplicate
 * keys, what the rules read).  The i-th event is at stream version
 * start_version + i; a failure names it and the line it came from.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/rebuild_fold.h"
#include "engine/reducer.h"
#include "util/alloc.h"
#include "util/json.h"

struct sm_offline_fold {
	const sm_aggregate *agg;
	sm_reducer *reducer;
	sm_json_reader *json;      /* the fold's (events, start state) */
	sm_json_reader *lines;     /* the input lines' */
	sm_fold fold;
	sm_instance inst;
	bool started;
	long long events;          /* folded so far */
	long long line;            /* lines read */
	long long *lines_of;       /* input line of each event, by position */
	size_t cap_lines;
	/* The instance's failure, from the fold's sink. */
	bool failed;
	enum sm_failure_kind kind;
	long long fail_version;
	char *event_type, *message;
};

static void record_failure(void *ctx, const sm_instance *inst, enum sm_failure_kind kind,
			   long long version, const char *event_type, const char *message)
{
	sm_offline_fold *f = ctx;

	(void)inst;
	if (f->failed)
		return;
	f->failed = true;
	f->kind = kind;
	f->fail_version = version;
	f->event_type = event_type && *event_type ? sm_xstrdup(event_type) : NULL;
	f->message = sm_xstrdup(message);
}

void sm_offline_fold_close(sm_offline_fold *f)
{
	if (!f)
		return;
	if (f->started)
		sm_fold_drop(&f->fold);
	sm_reducer_close(f->reducer);
	sm_json_reader_free(f->json);
	sm_json_reader_free(f->lines);
	free(f->inst.uuid);
	free(f->lines_of);
	free(f->event_type);
	free(f->message);
	free(f);
}

int sm_offline_fold_open(const sm_config *cfg, const char *type, const sm_offline_options *o,
			 sm_offline_fold **out, sm_error *err)
{
	const sm_settings *set = o && o->settings ? o->settings : &cfg->defaults;
	const sm_aggregate *agg = sm_config_find_aggregate(cfg, type);
	sm_offline_fold *f;
	sm_fold_params fp;
	sm_fold_sink sink;
	int rc;

	*out = NULL;
	if (!agg)
		return sm_error_set(err, SM_ERR_USAGE, "no aggregate type or label \"%s\" in %s",
				    type, cfg->path);
	f = sm_xcalloc(1, sizeof *f);
	f->agg = agg;
	f->json = sm_json_reader_new();
	f->lines = sm_json_reader_new();
	if (!f->json || !f->lines) {
		sm_offline_fold_close(f);
		return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
	}
	sm_json_reader_keep_last_duplicate(f->json, set->last_duplicate_wins);
	sm_json_reader_keep_last_duplicate(f->lines, set->last_duplicate_wins);
	rc = sm_reducer_open(cfg, agg, 1, o ? o->reducer_log : NULL, &f->reducer, err);
	if (rc != SM_OK) {
		sm_offline_fold_close(f);
		return rc;
	}
	memset(&fp, 0, sizeof fp);
	fp.metadata_key = set->metadata_key;
	sink.fail = record_failure;
	sink.ctx = f;
	sm_fold_init(&f->fold, f->json, sink, &fp);
	f->inst.uuid = sm_xstrdup(o && o->stream_uuid ? o->stream_uuid : "offline");
	f->inst.start_kind = o && o->start_state ? SM_START_LIVE : SM_START_INITIAL;
	f->inst.start_version = o && o->start_state ? o->start_version : 0;
	f->inst.end_version = f->inst.start_version;
	sm_fold_begin(&f->fold, &f->inst, agg, f->reducer);
	f->started = true;
	/* The start row: a snapshot at start_version with no metadata (the
	 * fold then takes it as given), or nothing for the initial state. */
	rc = sm_fold_start(&f->fold, true, f->inst.start_version, o ? o->start_state : NULL,
			   o && o->start_state ? o->start_len : 0, NULL, 0, err);
	if (rc != SM_OK) {
		sm_offline_fold_close(f);
		return rc;
	}
	*out = f;
	return SM_OK;
}

/* A member of the line's object as JSON text (compact), or NULL when it
 * is absent or null. */
static char *member_text(json_object *line, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(line, key, &v) || !v)
		return NULL;
	return sm_xstrdup(sm_json_print(v, NULL));
}

int sm_offline_fold_line(sm_offline_fold *f, const char *text, size_t len, sm_error *err)
{
	json_object *line = NULL, *type, *created;
	sm_event_bytes e;
	char *data, *meta;
	sm_error perr;
	size_t blank = 0;
	int rc;

	f->line++;
	while (blank < len && (text[blank] == ' ' || text[blank] == '\t' || text[blank] == '\r'))
		blank++;
	if (blank == len || f->failed)
		return SM_OK;
	sm_error_clear(&perr);
	if (sm_json_reader_parse_object(f->lines, text, len, &line, &perr) != SM_OK)
		return sm_error_set(err, SM_ERR_DATA, "line %lld: %s", f->line, perr.message);
	if (!json_object_object_get_ex(line, "type", &type) || !json_object_is_type(type, json_type_string)) {
		json_object_put(line);
		return sm_error_set(err, SM_ERR_DATA, "line %lld: no \"type\" (a string)", f->line);
	}
	if (!json_object_object_get_ex(line, "data", NULL)) {
		json_object_put(line);
		return sm_error_set(err, SM_ERR_DATA, "line %lld: no \"data\"", f->line);
	}
	data = member_text(line, "data");
	meta = member_text(line, "metadata");
	memset(&e, 0, sizeof e);
	e.type = json_object_get_string(type);
	e.version = f->inst.start_version + f->events + 1;
	e.data = data ? data : "null";
	e.data_len = strlen(e.data);
	e.meta = meta;
	e.meta_len = meta ? strlen(meta) : 0;
	if (json_object_object_get_ex(line, "created_at", &created) &&
	    json_object_is_type(created, json_type_string))
		e.created_at = json_object_get_string(created);
	f->lines_of = sm_xgrow(f->lines_of, &f->cap_lines, (size_t)f->events + 1, sizeof *f->lines_of);
	f->lines_of[f->events++] = f->line;
	f->inst.end_version = e.version;
	rc = sm_fold_event(&f->fold, &e, err);
	free(data);
	free(meta);
	json_object_put(line);
	return rc;
}

int sm_offline_fold_finish(sm_offline_fold *f, sm_offline_result *out, sm_error *err)
{
	sm_fold_result res;
	int rc;

	memset(out, 0, sizeof out[0]);
	rc = sm_fold_finish(&f->fold, &res, err);
	f->started = false;
	if (rc != SM_OK) {
		sm_fold_result_clear(&res);
		return rc;
	}
	out->events = f->events;
	out->version = f->inst.end_version;
	if (res.state) {
		out->state = sm_xstrdup(sm_json_print(res.state, NULL));
	} else if (res.raw) {
		/* A raw-mode reducer's bytes, as a rebuild would store them. */
		out->state = sm_xmalloc(res.raw_len + 1);
		memcpy(out->state, res.raw, res.raw_len);
		out->state[res.raw_len] = '\0';
	}
	sm_fold_result_clear(&res);
	if (out->state)
		return SM_OK;
	out->failed = true;
	out->kind = f->failed ? f->kind : SM_FAIL_REDUCER;
	out->fail_version = f->fail_version;
	out->message = sm_xstrdup(f->message ? f->message : "the fold gave no state");
	out->event_type = sm_xstrdup(f->event_type);
	if (f->fail_version > f->inst.start_version &&
	    f->fail_version - f->inst.start_version <= f->events)
		out->fail_line = f->lines_of[f->fail_version - f->inst.start_version - 1];
	return SM_OK;
}

void sm_offline_result_clear(sm_offline_result *r)
{
	free(r->state);
	free(r->event_type);
	free(r->message);
	memset(r, 0, sizeof *r);
}
