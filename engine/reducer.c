/*
 * Reducer dispatch: the compiled rules of config/rules.h or an external
 * program (reducer_exec.c), behind the one interface of reducer.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/reducer.h"
#include "engine/reducer_exec.h"
#include "util/alloc.h"
#include "util/json.h"

struct sm_reducer {
	const sm_aggregate *agg;
	sm_exec_proc *exec;          /* external reducer, or NULL */
	json_object *state;          /* rules reducer: the state being folded */
};

int sm_reducer_open(const sm_config *cfg, const sm_aggregate *agg, int worker_id,
		    const char *log_path, sm_reducer **out, sm_error *err)
{
	sm_reducer *r = sm_xcalloc(1, sizeof *r);

	r->agg = agg;
	if (agg->exec) {
		int rc = sm_exec_open(cfg, agg, worker_id, log_path, &r->exec, err);

		if (rc < 0) {
			free(r);
			return rc;
		}
	} else if (!agg->rules) {
		free(r);
		return sm_error_set(err, SM_ERR_CONFIG, "aggregate %s has no reducer", agg->type);
	}
	*out = r;
	return SM_OK;
}

void sm_reducer_set_cancel(sm_reducer *r, bool (*cancelled)(void *arg), void *arg)
{
	if (r->exec)
		sm_exec_set_cancel(r->exec, cancelled, arg);
}

void sm_reducer_expect_fingerprint(sm_reducer *r, const char *hello)
{
	if (r->exec)
		sm_exec_expect_fingerprint(r->exec, hello);
}

void sm_reducer_close(sm_reducer *r)
{
	if (!r)
		return;
	if (r->exec)
		sm_exec_close(r->exec);
	json_object_put(r->state);
	free(r);
}

int sm_reduce_fail(sm_reduce_failure *fail, enum sm_failure_kind kind, long long version,
		   const char *event_type, const char *message)
{
	fail->kind = kind;
	fail->version = version;
	snprintf(fail->event_type, sizeof fail->event_type, "%s", event_type ? event_type : "");
	snprintf(fail->message, sizeof fail->message, "%s", message);
	return SM_REDUCE_FAILED;
}

json_object *sm_struct_decode(json_object *initial, json_object *snapshot)
{
	json_object *out = json_object_new_object();

	json_object_object_foreach(initial, key, def) {
		json_object *v;

		if (json_object_object_get_ex(snapshot, key, &v))
			json_object_object_add(out, key, sm_json_copy(v));
		else
			json_object_object_add(out, key, sm_json_copy(def));
	}
	return out;
}

int sm_reducer_begin(sm_reducer *r, const char *stream_uuid,
		     json_object *start_state, long long start_version,
		     sm_reduce_failure *fail, sm_error *err)
{
	if (r->exec)
		return sm_exec_begin(r->exec, stream_uuid, start_state, start_version, fail, err);
	json_object_put(r->state);
	r->state = sm_rules_initial(r->agg->rules);
	if (start_state) {
		json_object *merged;

		if (!json_object_is_type(start_state, json_type_object)) {
			return sm_reduce_fail(fail, SM_FAIL_BAD_SNAPSHOT, 0, NULL,
					      "snapshot data is not a JSON object");
		}
		if (json_object_is_type(r->state, json_type_object)) {
			merged = sm_struct_decode(r->state, start_state);
		} else {
			merged = sm_json_copy(start_state);
		}
		json_object_put(r->state);
		r->state = merged;
	}
	return SM_OK;
}

int sm_reducer_event(sm_reducer *r, const sm_event_view *ev,
		     sm_reduce_failure *fail, sm_error *err)
{
	sm_error e;
	int rc;

	if (r->exec)
		return sm_exec_event(r->exec, ev, fail, err);
	sm_error_clear(&e);
	rc = sm_rules_apply(r->agg->rules, &r->state, ev, &e);
	switch (rc) {
	case SM_APPLY_OK:
		return SM_OK;
	case SM_APPLY_UNKNOWN_EVENT:
		return sm_reduce_fail(fail, SM_FAIL_UNKNOWN_EVENT, ev->version, ev->type,
				      e.message[0] ? e.message : "unknown event");
	case SM_APPLY_NO_MATCH:
		return sm_reduce_fail(fail, SM_FAIL_NO_MATCH, ev->version, ev->type,
				      e.message[0] ? e.message : "no handler matched");
	default:
		return sm_reduce_fail(fail, SM_FAIL_REDUCER, ev->version, ev->type,
				      e.message[0] ? e.message : "reducer error");
	}
}

const sm_event_reads *sm_reducer_reads(const sm_reducer *r, const char *event_type)
{
	static const sm_event_reads whole = { true, { NULL, 0 }, true };
	static const sm_event_reads nothing = { false, { NULL, 0 }, false };
	const sm_event_reads *reads;

	if (r->exec)
		return &whole;
	reads = sm_rules_reads(r->agg->rules, event_type);
	return reads ? reads : &nothing;
}

int sm_reducer_end(sm_reducer *r, json_object **state_out,
		   sm_reduce_failure *fail, sm_error *err)
{
	if (r->exec)
		return sm_exec_end(r->exec, state_out, fail, err);
	*state_out = r->state;
	r->state = NULL;
	return SM_OK;
}

json_object *sm_reducer_raw_json(const unsigned char *raw, size_t len)
{
	json_object *o = NULL, *inner = NULL;
	sm_error ignored;

	if (sm_json_parse((const char *)raw, len, &o, &ignored) != SM_OK)
		return NULL;
	if (json_object_is_type(o, json_type_string) &&
	    sm_json_parse(json_object_get_string(o), (size_t)json_object_get_string_len(o), &inner,
			  &ignored) == SM_OK) {
		json_object_put(o);
		return inner;
	}
	return o;
}

int sm_reducer_initial(sm_reducer *r, const char *stream_uuid, json_object **state_out,
		       sm_reduce_failure *fail, sm_error *err)
{
	int rc;

	*state_out = NULL;
	if (!r->exec) {
		*state_out = sm_rules_initial(r->agg->rules);
		return SM_OK;
	}
	if (sm_reducer_raw(r)) {
		unsigned char *raw = NULL;
		size_t len = 0;

		rc = sm_exec_begin_raw(r->exec, stream_uuid, NULL, 0, 0, fail, err);
		if (rc == SM_OK)
			rc = sm_exec_end_raw(r->exec, &raw, &len, fail, err);
		if (rc == SM_OK)
			*state_out = sm_reducer_raw_json(raw, len);
		else
			sm_exec_abort(r->exec);
		free(raw);
		return rc;
	}
	rc = sm_exec_begin(r->exec, stream_uuid, NULL, 0, fail, err);
	if (rc == SM_OK)
		rc = sm_exec_end(r->exec, state_out, fail, err);
	if (rc != SM_OK)
		sm_exec_abort(r->exec);
	return rc;
}

void sm_reducer_abort(sm_reducer *r)
{
	if (r->exec) {
		sm_exec_abort(r->exec);
		return;
	}
	json_object_put(r->state);
	r->state = NULL;
}

struct sm_exec_proc *sm_reducer_exec(sm_reducer *r)
{
	return r->exec;
}

int sm_reducer_start(sm_reducer *r, sm_reduce_failure *fail, sm_error *err)
{
	return r->exec ? sm_exec_start(r->exec, fail, err) : SM_OK;
}

bool sm_reducer_raw(const sm_reducer *r)
{
	return r->exec && sm_exec_raw(r->exec);
}

int sm_reducer_begin_raw(sm_reducer *r, const char *stream_uuid, const unsigned char *start,
			 size_t start_len, long long start_version, sm_reduce_failure *fail,
			 sm_error *err)
{
	if (!r->exec)
		return sm_error_set(err, SM_ERR_INTERNAL, "raw mode for the rules reducer");
	return sm_exec_begin_raw(r->exec, stream_uuid, start, start_len, start_version, fail, err);
}

int sm_reducer_event_raw(sm_reducer *r, const sm_raw_event *ev, sm_reduce_failure *fail,
			 sm_error *err)
{
	if (!r->exec)
		return sm_error_set(err, SM_ERR_INTERNAL, "raw mode for the rules reducer");
	return sm_exec_event_raw(r->exec, ev, fail, err);
}

int sm_reducer_end_raw(sm_reducer *r, unsigned char **state_out, size_t *len,
		       sm_reduce_failure *fail, sm_error *err)
{
	if (!r->exec)
		return sm_error_set(err, SM_ERR_INTERNAL, "raw mode for the rules reducer");
	return sm_exec_end_raw(r->exec, state_out, len, fail, err);
}

int sm_reducer_known_types(const sm_config *cfg, const sm_aggregate *agg,
			   char ***types, size_t *n, bool *any, sm_error *err)
{
	const char *const *list;
	size_t count;

	if (agg->exec)
		return sm_exec_known_types(cfg, agg, types, n, any, err);
	*any = sm_rules_handles_any(agg->rules);  /* a catch-all entry, on = "*" */
	count = sm_rules_event_types(agg->rules, &list);
	*types = sm_xcalloc(count + 1, sizeof **types);
	for (size_t i = 0; i < count; i++)
		(*types)[i] = sm_xstrdup(list[i]);
	*n = count;
	return SM_OK;
}
