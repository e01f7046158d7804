/*
 * Fuzz target: decoding event data (engine/event_data.h) in each storage
 * variant of the column, and the stability of what snapmig prints back.
 *
 * Input: the first byte selects the variant (modulo 3), the rest is the
 * column's content as stored:
 *  0  bytea: the rest is the stored bytes, handed over as they are;
 *  1  jsonb: the rest is the JSON text the value was inserted as; only
 *     valid JSON can be stored (our parser stands in for PostgreSQL's), and
 *     the read expression hands over a string's content or else the text;
 *  2  double-encoded jsonb: the rest is the JSON text a serializer wrote,
 *     stored as a jsonb string (printed and read back as one here).
 * Whatever decodes must print back to text that parses to the same value
 * and prints the same again: a decimal keeps its exact text, an integer
 * its exact value.  Decoding only some members (what a rule reads) must
 * accept exactly the same texts and give those members of the whole
 * decode, and checking without building must agree too.  A mismatch
 * abort()s so that libFuzzer reports it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/event_data.h"
#include "tests/fuzz.h"
#include "util/json.h"

static void fail(const char *what, const char *a, const char *b)
{
	fprintf(stderr, "fuzz_json: %s\n  first:  %.300s\n  second: %.300s\n", what,
		a ? a : "", b ? b : "");
	abort();
}

/* Same shape, and every number with the same decimal text. */
static void same_numbers(json_object *a, json_object *b)
{
	enum json_type t = json_object_get_type(a);

	if (t != json_object_get_type(b))
		fail("type changed in the round trip", sm_json_type_name(a), sm_json_type_name(b));
	switch (t) {
	case json_type_int:
	case json_type_double: {
		char ta[128], tb[128];

		sm_json_number_text(a, ta, sizeof ta);
		sm_json_number_text(b, tb, sizeof tb);
		if (strcmp(ta, tb) != 0)
			fail("number text changed in the round trip", ta, tb);
		break;
	}
	case json_type_array: {
		size_t n = json_object_array_length(a);

		if (n != json_object_array_length(b))
			fail("array length changed", NULL, NULL);
		for (size_t i = 0; i < n; i++)
			same_numbers(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i));
		break;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			fail("number of keys changed", NULL, NULL);
		json_object_object_foreach(a, key, va) {
			json_object *vb;

			if (!json_object_object_get_ex(b, key, &vb))
				fail("key lost in the round trip", key, NULL);
			same_numbers(va, vb);
		}
		break;
	}
	default:
		break;
	}
}

/* Prints obj, reads the text back, prints again: all must agree. */
static void round_trip(json_object *obj)
{
	size_t n1, n2;
	const char *p1 = sm_json_print(obj, &n1);
	char *first = malloc(n1 + 1);
	json_object *again = NULL, *copy;
	sm_error err;

	if (!first)
		abort();
	memcpy(first, p1, n1 + 1);
	sm_error_clear(&err);
	if (sm_json_parse(first, n1, &again, &err) != SM_OK)
		fail("printed JSON does not parse again", first, err.message);
	{
		const char *p2 = sm_json_print(again, &n2);

		if (n1 != n2 || memcmp(first, p2, n1) != 0)
			fail("printed JSON is not stable", first, p2);
	}
	same_numbers(obj, again);
	if (!sm_json_equal(obj, again))
		fail("round trip changed the value", first, NULL);
	if (sm_json_has_nul(obj) != sm_json_has_nul(again))
		fail("round trip changed NUL characters", first, NULL);
	copy = sm_json_copy(obj);
	if (!sm_json_equal(obj, copy))
		fail("copy differs", first, NULL);
	json_object_put(copy);
	json_object_put(again);
	free(first);
}

/* Decoding only some members agrees with the whole decode. */
static void selected(const char *text, size_t len, json_object *whole)
{
	static const char *const names[] = { "a", "id", "x" };
	const sm_json_fields fields = { names, 3 };
	json_object *part = NULL, *meta = NULL;
	sm_error err;
	int rc;

	sm_error_clear(&err);
	rc = sm_decode_event_data(NULL, text, len, &fields, &part, &err);
	if ((rc == SM_OK) != (whole != NULL))
		fail("decoding some members accepts other texts than decoding all", err.message, NULL);
	if (part) {
		size_t n = 0;

		for (size_t i = 0; i < 3; i++) {
			json_object *a, *b;
			bool in_whole = json_object_object_get_ex(whole, names[i], &a);

			if (in_whole != json_object_object_get_ex(part, names[i], &b) ||
			    (in_whole && !sm_json_equal(a, b)))
				fail("a selected member differs from the whole decode", names[i], NULL);
			n += in_whole;
		}
		if (json_object_object_length(part) != (int)n)
			fail("members that were not asked for were built", NULL, NULL);
	}
	json_object_put(part);
	rc = sm_decode_event_metadata(NULL, text, len, false, &meta, &err);
	if (meta)
		fail("checking metadata built a value", NULL, NULL);
	if (whole && rc != SM_OK)
		fail("checking refused what decoding accepted", err.message, NULL);
}

static void decode(const char *text, size_t len)
{
	json_object *data = NULL, *meta = NULL;
	sm_error err;

	sm_error_clear(&err);
	if (sm_decode_event_data(NULL, text, len, NULL, &data, &err) == SM_OK) {
		if (!json_object_is_type(data, json_type_object))
			fail("event data decoded to something else than an object", NULL, NULL);
		round_trip(data);
	} else if (data || err.code == SM_OK || !err.message[0]) {
		fail("failed decoding without a reason", err.message, NULL);
	}
	sm_error_clear(&err);
	if (sm_decode_event_metadata(NULL, text, len, true, &meta, &err) == SM_OK) {
		if (meta && !json_object_is_type(meta, json_type_object))
			fail("metadata decoded to something else than an object", NULL, NULL);
		if (!!meta != !!data)
			fail("data and metadata decoding disagree on an object", NULL, NULL);
		if (meta)
			round_trip(meta);
	} else if (data) {
		fail("metadata refused what data accepted", err.message, NULL);
	}
	selected(text, len, data);
	json_object_put(data);
	json_object_put(meta);
}

/* What a jsonb read expression hands over for a stored value. */
static void decode_jsonb(json_object *stored)
{
	if (json_object_is_type(stored, json_type_string)) {
		decode(json_object_get_string(stored), (size_t)json_object_get_string_len(stored));
	} else {
		size_t n;
		const char *s = sm_json_print(stored, &n);

		decode(s, n);
	}
}

int sm_fuzz_json(const uint8_t *data, size_t size)
{
	const char *rest;
	size_t len;
	json_object *stored = NULL;
	sm_error err;

	if (size == 0)
		return 0;
	/* An exact-size copy, so that reading past the end is caught. */
	len = size - 1;
	{
		char *buf = malloc(len ? len : 1);

		if (!buf)
			abort();
		memcpy(buf, data + 1, len);
		rest = buf;
	}
	sm_error_clear(&err);
	switch (data[0] % 3) {
	case 0:
		decode(rest, len);
		break;
	case 1:
		if (sm_json_parse(rest, len, &stored, &err) == SM_OK)
			decode_jsonb(stored);
		break;
	default: {
		/* PostgreSQL text holds neither NUL nor invalid UTF-8: such
		 * input cannot be stored, which the read-back below detects
		 * for UTF-8. */
		json_object *wrap;
		size_t n;
		const char *printed;

		if (memchr(rest, '\0', len))
			break;
		wrap = json_object_new_string_len(rest, (int)len);
		printed = sm_json_print(wrap, &n);
		if (sm_json_parse(printed, n, &stored, &err) == SM_OK) {
			if (!json_object_is_type(stored, json_type_string) ||
			    (size_t)json_object_get_string_len(stored) != len ||
			    memcmp(json_object_get_string(stored), rest, len) != 0)
				fail("a JSON string does not read back as itself", printed, NULL);
			decode_jsonb(stored);
		}
		json_object_put(wrap);
		break;
	}
	}
	json_object_put(stored);
	free((void *)rest);
	return 0;
}

SM_FUZZ_TARGET(sm_fuzz_json)
