/*
 * Fuzz target: the external reducer protocol reader (engine/reducer_proto.c),
 * what snapmig makes of any line a reducer program writes.
 *
 * Input: lines (split at '\n', a '\r' before it dropped, as engine/child.c
 * delivers them).  The first is read as the handshake reply, every line
 * (the first too) as a reply while instance 3 is open (its raw state
 * decoded too), as the reply to "types" request 3, and as an excerpt for
 * messages.  Each outcome must be one of the documented ones with its
 * promises kept (a reason when refused, the open instance's id when
 * accepted, terminated strings); a broken promise abort()s.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/reducer_exec.h"
#include "tests/fuzz.h"
#include "util/base64.h"

#define AGG "Elixir.F.Account"
#define CUR_ID 3

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_protocol: %s: %.300s\n", what, detail ? detail : "");
	abort();
}

static void excerpts(const char *line, size_t len)
{
	static const size_t sizes[] = { 100, 84, 9, 2, 1 };

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char buf[100];

		memset(buf, 'x', sizeof buf);
		sm_exec_excerpt(line, len, buf, sizes[i]);
		if (!memchr(buf, '\0', sizes[i]))
			fail("excerpt not terminated within its buffer", NULL);
		for (const char *p = buf; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				fail("control character in an excerpt", buf);
	}
}

static void hello(const char *line, size_t len)
{
	sm_exec_hello h;
	char why[700];
	int rc;

	memset(why, 'x', sizeof why);
	rc = sm_exec_parse_hello(line, len, AGG, &h, why, sizeof why);
	if (!memchr(why, '\0', sizeof why))
		fail("hello: reason not terminated", NULL);
	switch (rc) {
	case SM_OK:
		if (!h.types || h.types[h.n_types] != NULL)
			fail("hello: type list not NULL-terminated", NULL);
		if (h.any && h.n_types)
			fail("hello: both any and a list", NULL);
		for (size_t i = 0; i < h.n_types; i++)
			(void)strlen(h.types[i]);
		if (h.has_version && h.snapshot_version < 0)
			fail("hello: a negative snapshot_version", NULL);
		if (h.reducer) {
			if (strlen(h.reducer) > 100)
				fail("hello: reducer name not cut", h.reducer);
			for (const char *p = h.reducer; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					fail("hello: control character in the reducer name", h.reducer);
		}
		if (h.fingerprint && strlen(h.fingerprint) > SM_EXEC_MAX_FINGERPRINT)
			fail("hello: fingerprint too long", NULL);
		break;
	case SM_EXEC_NOT_PROTOCOL:
	case SM_EXEC_CRASH:
	case SM_EXEC_GIVE_UP:
		if (!why[0])
			fail("hello refused without a reason", NULL);
		if (h.types || h.n_types || h.any || h.reducer || h.fingerprint || h.raw ||
		    h.has_version || h.types_request)
			fail("hello refused but something kept", why);
		break;
	default:
		fail("hello: undocumented result", NULL);
	}
	sm_exec_hello_clear(&h);
}

/* Decoded bytes encode back to text that decodes to the same bytes. */
static void base64_round_trip(const unsigned char *bytes, size_t n)
{
	size_t len = sm_base64_encoded_len(n), back_n;
	char *text = malloc(len + 1);
	unsigned char *back;

	if (!text)
		abort();
	if (bytes)
		sm_base64_encode(bytes, n, text);
	back = bytes ? sm_base64_decode(text, len, &back_n) : NULL;
	if (bytes && (!back || back_n != n || memcmp(back, bytes, n) != 0))
		fail("base64 does not round-trip", NULL);
	free(back);
	free(text);
}

static void reply(const char *line, size_t len)
{
	json_object *r = (json_object *)&r;   /* must be reset */
	char why[1100];
	int rc = sm_exec_parse_reply(line, len, CUR_ID, &r, why, sizeof why);

	switch (rc) {
	case SM_OK: {
		json_object *id;

		if (!r || !json_object_object_get_ex(r, "id", &id) ||
		    json_object_get_int64(id) != CUR_ID)
			fail("reply accepted without the open instance's id", NULL);
		if (sm_exec_reply_is_error(r)) {
			sm_reduce_failure f;

			memset(&f, 'x', sizeof f);
			sm_exec_reply_failure(r, &f);
			if (!memchr(f.message, '\0', sizeof f.message) || !f.message[0] ||
			    !memchr(f.event_type, '\0', sizeof f.event_type))
				fail("error reply: failure strings", NULL);
			if (f.kind != SM_FAIL_REDUCER && f.kind != SM_FAIL_UNKNOWN_EVENT &&
			    f.kind != SM_FAIL_NO_MATCH)
				fail("error reply: unexpected kind", NULL);
		} else {
			json_object *st = sm_exec_reply_state(r);
			size_t n = 12345;
			unsigned char *raw = sm_exec_reply_state_raw(r, &n);

			if (st && !json_object_is_type(st, json_type_object))
				fail("state that is not an object", NULL);
			if (raw && raw[n] != '\0')
				fail("raw state not terminated", NULL);
			if (!raw && n != 0)
				fail("no raw state but a length", NULL);
			base64_round_trip(raw, n);
			free(raw);
		}
		json_object_put(r);
		break;
	}
	case SM_EXEC_STALE:
		if (r)
			fail("stale reply kept", NULL);
		break;
	case SM_EXEC_NOT_PROTOCOL:
		if (r || !why[0])
			fail("refused reply: a reply or no reason", NULL);
		break;
	default:
		fail("reply: undocumented result", NULL);
	}
}

static void types_reply(const char *line, size_t len)
{
	sm_exec_types_reply r;
	char why[700];
	int rc;

	memset(why, 'x', sizeof why);
	rc = sm_exec_parse_types_reply(line, len, CUR_ID, &r, why, sizeof why);
	if (!memchr(why, '\0', sizeof why))
		fail("types reply: reason not terminated", NULL);
	switch (rc) {
	case SM_EXEC_REPLY:
		for (size_t i = 0; i < r.n_unknown; i++) {
			(void)strlen(r.unknown[i].type);
			if (!r.unknown[i].message || !r.unknown[i].message[0])
				fail("types reply: an unknown type without a message", NULL);
			if (r.unknown[i].kind != SM_FAIL_UNKNOWN_EVENT &&
			    r.unknown[i].kind != SM_FAIL_NO_MATCH && r.unknown[i].kind != SM_FAIL_REDUCER)
				fail("types reply: unexpected kind", NULL);
		}
		break;
	case SM_EXEC_NOT_PROTOCOL:
	case SM_EXEC_CRASH:
		if (!why[0] || r.unknown || r.n_unknown)
			fail("types reply refused without a reason, or with types", NULL);
		break;
	default:
		fail("types reply: undocumented result", NULL);
	}
	sm_exec_types_reply_clear(&r);
}

int sm_fuzz_protocol(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	bool first = true;

	while (pos < size || first) {
		size_t end = pos, len;
		char *line;

		while (end < size && data[end] != '\n')
			end++;
		len = end - pos;
		if (len > 0 && data[pos + len - 1] == '\r')
			len--;
		/* An exact-size copy, so that reading past the end is caught. */
		line = malloc(len ? len : 1);
		if (!line)
			abort();
		memcpy(line, data + pos, len);
		excerpts(line, len);
		if (first)
			hello(line, len);
		reply(line, len);
		types_reply(line, len);
		free(line);
		first = false;
		pos = end + 1;
	}
	return 0;
}

SM_FUZZ_TARGET(sm_fuzz_protocol)
