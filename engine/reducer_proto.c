/*
 * The external reducer protocol (version 1, man/snapmig-reducer.7): what a
 * line from the reducer means, decided without a process.  reducer_exec.c
 * reads the lines and acts on the outcome (crash, give up, drop, fail the
 * instance); keeping the judgement here lets tests and the fuzzer
 * (tests/fuzz_protocol.c) feed it any bytes at all.
 *
 * A line is len bytes, not NUL-terminated, without its newline; it may hold
 * anything a misbehaving program writes (NUL bytes, invalid UTF-8).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/reducer_exec.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/json.h"

static const char *str_member(json_object *obj, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static bool int_member(json_object *obj, const char *key, long long *out)
{
	json_object *v;

	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_int)) {
		*out = (long long)json_object_get_int64(v);
		return true;
	}
	return false;
}

/* The line as a JSON object and its "op" (NULL when it has none): false
 * with why when it is no JSON object. */
static bool message(const char *line, size_t len, json_object **msg, const char **op,
		    char *why, size_t size)
{
	sm_error perr;

	*msg = NULL;
	*op = NULL;
	why[0] = '\0';
	sm_error_clear(&perr);
	if (sm_json_parse_object(line, len, msg, &perr) < 0) {
		snprintf(why, size, "%s", perr.message);
		return false;
	}
	*op = str_member(*msg, "op");
	return true;
}

void sm_exec_excerpt(const char *line, size_t len, char *buf, size_t size)
{
	size_t n = len < 80 ? len : 80;

	if (n >= size)
		n = size - 1;
	while (n > 0 && n < len && ((unsigned char)line[n] & 0xC0) == 0x80)
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];

		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	buf[n] = '\0';
	if (n < len && n + 4 < size)
		strcat(buf, "...");
}

void sm_exec_hello_clear(sm_exec_hello *h)
{
	for (size_t i = 0; i < h->n_types; i++)
		free(h->types[i]);
	free(h->types);
	h->types = NULL;
	h->n_types = 0;
	h->any = false;
	free(h->fingerprint);
	h->fingerprint = NULL;
	free(h->reducer);
	h->reducer = NULL;
	h->raw = h->types_request = h->has_version = false;
	h->snapshot_version = 0;
}

/* An optional boolean member: false when present with another type. */
static bool opt_bool(json_object *obj, const char *key, bool *out)
{
	json_object *v;

	*out = false;
	if (!json_object_object_get_ex(obj, key, &v))
		return true;
	if (!json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

/* The additions of notes/protocol-ext to a hello that is otherwise fine:
 * "raw", "types", "reducer" at the top, "snapshot_version" in the
 * aggregate's entry.  A verdict; out keeps what was read. */
static int hello_additions(json_object *msg, json_object *mine, sm_exec_hello *out,
			   char *why, size_t size)
{
	json_object *v;
	const char *name;

	if (!opt_bool(msg, "raw", &out->raw) || !opt_bool(msg, "types", &out->types_request)) {
		snprintf(why, size, "hello: \"raw\" and \"types\" must be true or false");
		return SM_EXEC_CRASH;
	}
	name = str_member(msg, "reducer");
	if (name) {
		/* Free text for the log and the UI: printable, at most 80 bytes. */
		char buf[100];

		sm_exec_excerpt(name, strlen(name), buf, sizeof buf);
		out->reducer = sm_xstrdup(buf);
	}
	if (json_object_object_get_ex(mine, "snapshot_version", &v)) {
		/* Compared with snapmig.conf's; a value that is none is wrong
		 * at every start. */
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
			snprintf(why, size, "hello: \"snapshot_version\" must be an integer of at least 0");
			return SM_EXEC_GIVE_UP;
		}
		out->has_version = true;
		out->snapshot_version = json_object_get_int64(v);
	}
	return SM_EXEC_REPLY;
}

/* The hello's own entry for the aggregate (mine): the event types it
 * folds ("any" or a list) and its fingerprint.  Returns a verdict; out is
 * the caller's to clear on anything but SM_EXEC_REPLY. */
static int hello_events(json_object *mine, sm_exec_hello *out, char *why, size_t size)
{
	json_object *events, *fp;

	if (!json_object_object_get_ex(mine, "events", &events)) {
		snprintf(why, size, "hello: the aggregate has no \"events\" (a list or \"any\")");
		return SM_EXEC_CRASH;
	}
	if (json_object_is_type(events, json_type_string) &&
	    strcmp(json_object_get_string(events), "any") == 0) {
		out->any = true;
		out->types = sm_xcalloc(1, sizeof *out->types);
	} else if (json_object_is_type(events, json_type_array)) {
		size_t n = json_object_array_length(events);

		out->types = sm_xcalloc(n + 1, sizeof *out->types);
		for (size_t i = 0; i < n; i++) {
			json_object *t = json_object_array_get_idx(events, i);

			if (!json_object_is_type(t, json_type_string)) {
				snprintf(why, size, "hello: an event type is not a string");
				return SM_EXEC_CRASH;
			}
			out->types[out->n_types++] = sm_xstrdup(json_object_get_string(t));
		}
	} else {
		snprintf(why, size, "hello: \"events\" is neither a list nor \"any\"");
		return SM_EXEC_CRASH;
	}
	if (json_object_object_get_ex(mine, "fingerprint", &fp)) {
		/* Folded into every generated row's fingerprint (issue 16): a
		 * value that cannot be one is wrong at every start. */
		if (!json_object_is_type(fp, json_type_string) ||
		    json_object_get_string_len(fp) > SM_EXEC_MAX_FINGERPRINT ||
		    strlen(json_object_get_string(fp)) != (size_t)json_object_get_string_len(fp)) {
			snprintf(why, size, "hello: \"fingerprint\" must be a string of at most %d bytes (no NUL)",
				 SM_EXEC_MAX_FINGERPRINT);
			return SM_EXEC_GIVE_UP;
		}
		out->fingerprint = sm_xstrdup(json_object_get_string(fp));
	}
	return SM_EXEC_REPLY;
}

/* "does not handle T (it handles: A B)" into why. */
static void not_handled(json_object *aggs, const char *agg_type, char *why, size_t size)
{
	size_t used = (size_t)snprintf(why, size, "does not handle %s (it handles:", agg_type);

	json_object_object_foreach(aggs, key, val) {
		(void)val;
		if (used < size)
			used += (size_t)snprintf(why + used, size - used, " %s", key);
	}
	if (used < size)
		snprintf(why + used, size - used, ")");
}

/* The hello's envelope: op, protocol and the aggregate's own entry
 * (*mine, borrowed from msg).  Returns a verdict. */
static int hello_envelope(json_object *msg, const char *op, const char *agg_type,
			  json_object **mine, char *why, size_t size)
{
	json_object *aggs;
	long long proto;

	if (op && strcmp(op, "error") == 0) {
		const char *m = str_member(msg, "message");

		snprintf(why, size, "refused the handshake: %s", m ? m : "(no message)");
		return SM_EXEC_GIVE_UP;
	}
	if (!op || strcmp(op, "hello") != 0) {
		snprintf(why, size, "did not answer the handshake with {\"op\":\"hello\",...}");
		return SM_EXEC_CRASH;
	}
	if (!int_member(msg, "protocol", &proto) || proto != SM_EXEC_PROTOCOL) {
		snprintf(why, size, "speaks protocol %lld, snapmig speaks %d",
			 int_member(msg, "protocol", &proto) ? proto : 0LL, SM_EXEC_PROTOCOL);
		return SM_EXEC_GIVE_UP;
	}
	if (!json_object_object_get_ex(msg, "aggregates", &aggs) ||
	    !json_object_is_type(aggs, json_type_object)) {
		snprintf(why, size, "hello without an \"aggregates\" object");
		return SM_EXEC_CRASH;
	}
	if (!json_object_object_get_ex(aggs, agg_type, mine)) {
		not_handled(aggs, agg_type, why, size);
		return SM_EXEC_GIVE_UP;
	}
	return SM_EXEC_REPLY;
}

int sm_exec_parse_hello(const char *line, size_t len, const char *agg_type,
			sm_exec_hello *out, char *why, size_t size)
{
	json_object *msg, *mine = NULL;
	const char *op;
	int v;

	memset(out, 0, sizeof *out);
	if (!message(line, len, &msg, &op, why, size))
		return SM_EXEC_NOT_PROTOCOL;
	v = hello_envelope(msg, op, agg_type, &mine, why, size);
	if (v == SM_EXEC_REPLY)
		v = hello_events(mine, out, why, size);
	if (v == SM_EXEC_REPLY)
		v = hello_additions(msg, mine, out, why, size);
	json_object_put(msg);
	if (v != SM_EXEC_REPLY)
		sm_exec_hello_clear(out);
	return v;
}

int sm_exec_parse_reply(const char *line, size_t len, long long cur_id, json_object **reply,
			char *why, size_t size)
{
	json_object *msg;
	const char *op;
	long long id;

	*reply = NULL;
	if (!message(line, len, &msg, &op, why, size))
		return SM_EXEC_NOT_PROTOCOL;
	if (!op || (strcmp(op, "state") != 0 && strcmp(op, "error") != 0)) {
		json_object_put(msg);
		snprintf(why, size, "expected op \"state\" or \"error\"");
		return SM_EXEC_NOT_PROTOCOL;
	}
	if (!int_member(msg, "id", &id) || id > cur_id || id <= 0) {
		json_object_put(msg);
		snprintf(why, size, "reply without the id of the instance");
		return SM_EXEC_NOT_PROTOCOL;
	}
	if (id < cur_id) {
		json_object_put(msg);
		return SM_EXEC_STALE;
	}
	*reply = msg;
	return SM_OK;
}

bool sm_exec_reply_is_error(json_object *reply)
{
	const char *op = str_member(reply, "op");

	return op && strcmp(op, "error") == 0;
}

void sm_exec_reply_failure(json_object *msg, sm_reduce_failure *fail)
{
	const char *kind = str_member(msg, "kind");
	const char *type = str_member(msg, "event_type");
	const char *m = str_member(msg, "message");
	enum sm_failure_kind k = SM_FAIL_REDUCER;
	long long version = 0;

	if (kind && strcmp(kind, "unknown_event") == 0)
		k = SM_FAIL_UNKNOWN_EVENT;
	else if (kind && strcmp(kind, "no_match") == 0)
		k = SM_FAIL_NO_MATCH;
	int_member(msg, "version", &version);
	fail->kind = k;
	fail->version = version;
	snprintf(fail->event_type, sizeof fail->event_type, "%s", type ? type : "");
	if (m && m[0])
		snprintf(fail->message, sizeof fail->message, "%s", m);
	else if (k == SM_FAIL_UNKNOWN_EVENT)
		snprintf(fail->message, sizeof fail->message, "unknown event");
	else if (k == SM_FAIL_NO_MATCH)
		snprintf(fail->message, sizeof fail->message, "no clause matched");
	else
		snprintf(fail->message, sizeof fail->message, "reducer error");
}

unsigned char *sm_exec_reply_state_raw(json_object *reply, size_t *n)
{
	json_object *raw;

	*n = 0;
	if (!json_object_object_get_ex(reply, "state_raw", &raw) ||
	    !json_object_is_type(raw, json_type_string))
		return NULL;
	return sm_base64_decode(json_object_get_string(raw), (size_t)json_object_get_string_len(raw), n);
}

void sm_exec_types_reply_clear(sm_exec_types_reply *r)
{
	for (size_t i = 0; i < r->n_unknown; i++) {
		free(r->unknown[i].type);
		free(r->unknown[i].message);
	}
	free(r->unknown);
	r->unknown = NULL;
	r->n_unknown = 0;
}

int sm_exec_parse_types_reply(const char *line, size_t len, long long id,
			      sm_exec_types_reply *out, char *why, size_t size)
{
	json_object *msg, *unknown;
	const char *op, *error;
	long long got;

	memset(out, 0, sizeof *out);
	if (!message(line, len, &msg, &op, why, size))
		return SM_EXEC_NOT_PROTOCOL;
	if (!op || strcmp(op, "types") != 0 || !int_member(msg, "id", &got) || got != id) {
		json_object_put(msg);
		snprintf(why, size, "expected {\"op\":\"types\",\"id\":%lld,...}", id);
		return SM_EXEC_NOT_PROTOCOL;
	}
	error = str_member(msg, "error");
	if (error) {
		snprintf(why, size, "could not check the event types: %.300s", error);
		json_object_put(msg);
		return SM_EXEC_CRASH;
	}
	if (!json_object_object_get_ex(msg, "unknown", &unknown) ||
	    !json_object_is_type(unknown, json_type_object)) {
		json_object_put(msg);
		snprintf(why, size, "a types reply without an \"unknown\" object");
		return SM_EXEC_NOT_PROTOCOL;
	}
	out->unknown = sm_xcalloc((size_t)json_object_object_length(unknown) + 1, sizeof *out->unknown);
	json_object_object_foreach(unknown, type, what) {
		sm_exec_unknown_type *u = &out->unknown[out->n_unknown++];
		const char *kind = json_object_is_type(what, json_type_object) ? str_member(what, "kind") : NULL;
		const char *m = json_object_is_type(what, json_type_object) ? str_member(what, "message") : NULL;

		u->type = sm_xstrdup(type);
		u->kind = kind && strcmp(kind, "unknown_event") == 0 ? SM_FAIL_UNKNOWN_EVENT
			  : kind && strcmp(kind, "no_match") == 0 ? SM_FAIL_NO_MATCH : SM_FAIL_REDUCER;
		u->message = sm_xstrdup(m && m[0] ? m : "the reducer cannot fold it");
	}
	json_object_put(msg);
	return SM_EXEC_REPLY;
}

json_object *sm_exec_reply_state(json_object *reply)
{
	json_object *state;

	if (!json_object_object_get_ex(reply, "state", &state) ||
	    !json_object_is_type(state, json_type_object))
		return NULL;
	return state;
}
