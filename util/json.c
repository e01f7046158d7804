/*
 * JSON reading and writing on top of json-c 0.16, with the guarantees of
 * json.h.  json-c already keeps the text of parsed decimals (so 0.1 and 1.50
 * print back unchanged) and lets the last duplicate key win; what it does
 * not do is refuse integers beyond 64 bits (it clamps them), so the text is
 * pre-scanned for integer literals before it is trusted.
 *
 * Nothing here keeps global state; every function is reentrant as long as
 * the json_object it is given is not changed by another thread.  The
 * read-only helpers (sm_json_equal, sm_json_copy, sm_json_number_text) never
 * write into their argument, not even json-c's print buffer, so they may be
 * used on objects shared between threads.
 */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json.h"

/* What find_unrepresentable found. */
enum unrepresentable {
	UNREP_NONE,
	UNREP_INTEGER,       /* beyond 64 bits */
	UNREP_NUL_KEY,       /* an object key containing \u0000 */
	UNREP_SINGLE_QUOTE,  /* a single-quoted string */
	UNREP_BAD_WORD,      /* NaN, Infinity and the like */
	UNREP_SURROGATE,     /* a \u escape of a lone UTF-16 surrogate */
};

/* The value of 4 hex digits, or -1. */
static long hex4(const char *p)
{
	long v = 0;

	for (int k = 0; k < 4; k++) {
		char h = p[k];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= h - '0';
		else if (h >= 'a' && h <= 'f')
			v |= h - 'a' + 10;
		else if (h >= 'A' && h <= 'F')
			v |= h - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Length of a lone surrogate escape at text[i] ("\uD800" not followed by a
 * low surrogate escape, or a low one on its own), else 0. */
static size_t lone_surrogate(const char *text, size_t len, size_t i)
{
	long hi, lo;

	if (i + 6 > len || text[i + 1] != 'u')
		return 0;
	hi = hex4(text + i + 2);
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return 6;
	if (hi < 0xD800 || hi > 0xDBFF)
		return 0;
	if (i + 12 > len || text[i + 6] != '\\' || text[i + 7] != 'u')
		return 6;
	lo = hex4(text + i + 8);
	return lo >= 0xDC00 && lo <= 0xDFFF ? 0 : 6;
}

/* Whether text[i] starts a high surrogate escape followed by a low one. */
static bool surrogate_pair(const char *text, size_t len, size_t i)
{
	long hi, lo;

	if (i + 12 > len || text[i + 1] != 'u' || text[i + 6] != '\\' || text[i + 7] != 'u')
		return false;
	hi = hex4(text + i + 2);
	lo = hex4(text + i + 8);
	return hi >= 0xD800 && hi <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF;
}

/*
 * Finds the first thing that json-c accepts but that is not JSON or cannot
 * be kept exactly: an integer literal outside strings that does not fit in
 * int64 (negative) or uint64 (positive), an object key containing \u0000,
 * single quotes, words other than true/false/null, a lone surrogate (which
 * json-c would silently turn into U+FFFD).  The text has already been
 * accepted by the tokener, so the only job is to classify tokens.  Sets
 * *start and *end when one is found.
 */
static enum unrepresentable find_unrepresentable(const char *text, size_t len, size_t *start,
						 size_t *end)
{
	size_t i = 0;

	while (i < len) {
		char c = text[i];

		if (c == '"') {
			size_t s = i;
			bool has_nul = false;

			i++;
			while (i < len && text[i] != '"') {
				if (text[i] == '\\') {
					size_t lone = lone_surrogate(text, len, i);

					if (lone) {
						*start = i;
						*end = i + lone;
						return UNREP_SURROGATE;
					}
					if (surrogate_pair(text, len, i)) {
						i += 12;
						continue;
					}
					if (i + 5 < len && memcmp(text + i + 1, "u0000", 5) == 0)
						has_nul = true;
					i++;
				}
				i++;
			}
			i++;
			if (has_nul) {
				/* json-c keys are C strings and would be cut at the
				 * NUL: refuse rather than change the key. */
				size_t j = i;

				while (j < len && (text[j] == ' ' || text[j] == '\t' ||
						   text[j] == '\n' || text[j] == '\r'))
					j++;
				if (j < len && text[j] == ':') {
					*start = s;
					*end = i;
					return UNREP_NUL_KEY;
				}
			}
			continue;
		}
		if (c == '\'') {
			/* json-c accepts single-quoted strings even in strict
			 * mode; JSON does not. */
			*start = i;
			*end = i + 1;
			return UNREP_SINGLE_QUOTE;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			/* json-c also takes NaN and Infinity; JSON only has
			 * these three words. */
			size_t s = i;

			while (i < len && ((text[i] >= 'a' && text[i] <= 'z') ||
					   (text[i] >= 'A' && text[i] <= 'Z')))
				i++;
			if (!((i - s == 4 && memcmp(text + s, "true", 4) == 0) ||
			      (i - s == 5 && memcmp(text + s, "false", 5) == 0) ||
			      (i - s == 4 && memcmp(text + s, "null", 4) == 0))) {
				*start = s;
				*end = i;
				return UNREP_BAD_WORD;
			}
			continue;
		}
		if (c == '-' || (c >= '0' && c <= '9')) {
			size_t s = i, digits_start, ndigits;
			bool negative = c == '-', integral = true;

			if (negative)
				i++;
			digits_start = i;
			while (i < len && text[i] >= '0' && text[i] <= '9')
				i++;
			ndigits = i - digits_start;
			if (ndigits == 0) {
				/* "-Infinity", "-NaN" */
				while (i < len && ((text[i] >= 'a' && text[i] <= 'z') ||
						   (text[i] >= 'A' && text[i] <= 'Z')))
					i++;
				*start = s;
				*end = i;
				return UNREP_BAD_WORD;
			}
			while (i < len && (text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
					   text[i] == '+' || text[i] == '-' ||
					   (text[i] >= '0' && text[i] <= '9'))) {
				integral = false;
				i++;
			}
			if (integral && ndigits >= 19) {
				/* 19 digits may or may not fit; decide exactly. */
				const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
				size_t limit_len = strlen(limit);
				size_t skip = 0;

				/* JSON forbids leading zeros, but be safe. */
				while (skip + 1 < ndigits && text[digits_start + skip] == '0')
					skip++;
				ndigits -= skip;
				if (ndigits > limit_len ||
				    (ndigits == limit_len &&
				     memcmp(text + digits_start + skip, limit, limit_len) > 0)) {
					*start = s;
					*end = i;
					return UNREP_INTEGER;
				}
			}
			continue;
		}
		i++;
	}
	return UNREP_NONE;
}

static const char *tokener_reason(enum json_tokener_error jerr)
{
	switch (jerr) {
	case json_tokener_error_depth:
		return NULL; /* handled by the caller with the limit in the text */
	case json_tokener_error_parse_utf8_string:
		return "invalid UTF-8";
	case json_tokener_continue:
	case json_tokener_error_parse_eof:
		return "unexpected end of JSON";
	default:
		return json_tokener_error_desc(jerr);
	}
}

struct sm_json_reader {
	json_tokener *tok;
};

/* Texts above this size get a tokener of their own: the tokener's string
 * buffer keeps the size of the longest string it has seen, and a worker
 * should not hold on to 100 MB after one huge event. */
#define READER_KEEP_LIMIT ((size_t)1 << 20)

static json_tokener *new_tokener(void)
{
	json_tokener *tok = json_tokener_new_ex(SM_JSON_MAX_DEPTH);

	if (tok)
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return tok;
}

sm_json_reader *sm_json_reader_new(void)
{
	sm_json_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->tok = new_tokener();
	if (!r->tok) {
		free(r);
		return NULL;
	}
	return r;
}

void sm_json_reader_free(sm_json_reader *r)
{
	if (!r)
		return;
	json_tokener_free(r->tok);
	free(r);
}

int sm_json_parse(const char *text, size_t len, json_object **out, sm_error *err)
{
	sm_json_reader *r = sm_json_reader_new();
	int rc;

	*out = NULL;
	if (!r)
		return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
	rc = sm_json_reader_parse(r, text, len, out, err);
	sm_json_reader_free(r);
	return rc;
}

int sm_json_reader_parse(sm_json_reader *r, const char *text, size_t len, json_object **out,
			 sm_error *err)
{
	json_tokener *tok = r->tok, *own = NULL;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t end, bad_start, bad_end;
	enum unrepresentable kind;

	*out = NULL;
	if (len > INT_MAX)
		return sm_error_set(err, SM_ERR_DATA, "JSON text too large (%zu bytes)", len);
	if (len == 0)
		return sm_error_set(err, SM_ERR_DATA, "empty JSON text");
	{
		const char *nul = memchr(text, '\0', len);

		if (nul)
			return sm_error_set(err, SM_ERR_DATA, "NUL byte in JSON text at byte %zu",
					    (size_t)(nul - text));
	}
	if (len > READER_KEEP_LIMIT) {
		own = new_tokener();
		if (!own)
			return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
		tok = own;
	}
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare number at the very end is only complete once the tokener
		 * sees a character that cannot continue it; whitespace is
		 * harmless. */
		obj = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		if (jerr == json_tokener_success)
			end = len;
	}
	if (own)
		json_tokener_free(own);
	if (jerr != json_tokener_success) {
		const char *why = tokener_reason(jerr);

		json_object_put(obj);
		if (!why)
			return sm_error_set(err, SM_ERR_DATA, "nesting deeper than %d levels",
					    SM_JSON_MAX_DEPTH);
		return sm_error_set(err, SM_ERR_DATA, "invalid JSON at byte %zu: %s", end, why);
	}
	/* Trailing whitespace is fine, anything else is not. */
	while (end < len && (text[end] == ' ' || text[end] == '\t' ||
			     text[end] == '\n' || text[end] == '\r'))
		end++;
	if (end < len) {
		json_object_put(obj);
		return sm_error_set(err, SM_ERR_DATA, "invalid JSON at byte %zu: trailing characters", end);
	}
	kind = find_unrepresentable(text, len, &bad_start, &bad_end);
	if (kind != UNREP_NONE) {
		size_t n = bad_end - bad_start;

		json_object_put(obj);
		switch (kind) {
		case UNREP_BAD_WORD:
			return sm_error_set(err, SM_ERR_DATA,
					    "invalid JSON at byte %zu: %.*s is not a JSON value",
					    bad_start, (int)(n > 20 ? 20 : n), text + bad_start);
		case UNREP_SINGLE_QUOTE:
			return sm_error_set(err, SM_ERR_DATA,
					    "invalid JSON at byte %zu: single-quoted string", bad_start);
		case UNREP_NUL_KEY:
			return sm_error_set(err, SM_ERR_DATA,
					    "object key at byte %zu contains \\u0000", bad_start);
		case UNREP_SURROGATE:
			return sm_error_set(err, SM_ERR_DATA,
					    "invalid JSON at byte %zu: %.*s is a lone UTF-16 surrogate",
					    bad_start, (int)n, text + bad_start);
		default:
			break;
		}
		if (n > 60)
			return sm_error_set(err, SM_ERR_DATA,
					    "integer %.*s... (%zu digits) does not fit in 64 bits",
					    30, text + bad_start, n);
		return sm_error_set(err, SM_ERR_DATA, "integer %.*s does not fit in 64 bits",
				    (int)n, text + bad_start);
	}
	*out = obj;
	return SM_OK;
}

static const char *type_word(json_object *obj)
{
	switch (json_object_get_type(obj)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_double:
	case json_type_int: return "number";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_string: return "string";
	}
	return "value";
}

static int require_object(int rc, json_object **out, sm_error *err)
{
	if (rc != SM_OK)
		return rc;
	if (!json_object_is_type(*out, json_type_object)) {
		sm_error_set(err, SM_ERR_DATA, "expected a JSON object, got %s", type_word(*out));
		json_object_put(*out);
		*out = NULL;
		return SM_ERR_DATA;
	}
	return SM_OK;
}

int sm_json_parse_object(const char *text, size_t len, json_object **out, sm_error *err)
{
	return require_object(sm_json_parse(text, len, out, err), out, err);
}

int sm_json_reader_parse_object(sm_json_reader *r, const char *text, size_t len,
				json_object **out, sm_error *err)
{
	return require_object(sm_json_reader_parse(r, text, len, out, err), out, err);
}

const char *sm_json_type_name(json_object *obj)
{
	return type_word(obj);
}

const char *sm_json_print(json_object *obj, size_t *len)
{
	size_t n = 0;
	const char *s = json_object_to_json_string_length(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	if (len)
		*len = n;
	return s;
}

/*
 * Shortest digits: the smallest precision whose %e text reads back as the
 * same double.  digits gets the significant digits without trailing zeros,
 * *exp10 the decimal exponent of the first digit.
 * Starting at 15 digits gives the same result as trying 1, 2, ... 15: any
 * decimal of at most 15 significant digits (DBL_DIG) survives the trip
 * through a double, so when a shorter text reads back as v, the 15-digit
 * text of v is that text padded with zeros, which are stripped below.
 * (v is positive here.)
 */
static void shortest_digits(double v, char *digits, size_t size, int *exp10)
{
	char buf[64];

	/* Subnormals carry fewer digits: the argument does not hold there. */
	for (int prec = v < DBL_MIN ? 1 : DBL_DIG; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	{
		char *e = strchr(buf, 'e');
		size_t n = 0;

		*exp10 = e ? atoi(e + 1) : 0;
		for (const char *p = buf; p < e && *p; p++)
			if (*p >= '0' && *p <= '9' && n + 1 < size)
				digits[n++] = *p;
		while (n > 1 && digits[n - 1] == '0')
			n--;
		digits[n] = '\0';
	}
}

/*
 * Formats like Erlang's io_lib_format:fwrite_g (what Elixir's Float.to_string
 * and Jason use): the shortest round-trip digits, in plain notation unless
 * the exponent form is shorter.
 */
static void format_elixir_double(double v, char *out, size_t size)
{
	char digits[32], expl[16], zeros[400];
	int exp10, place, len, cost;
	const char *sign = signbit(v) ? "-" : "";

	if (v == 0) {
		snprintf(out, size, "%s0.0", sign);
		return;
	}
	shortest_digits(fabs(v), digits, sizeof digits, &exp10);
	len = (int)strlen(digits);
	place = exp10 + 1;  /* value = 0.DIGITS * 10^place */
	snprintf(expl, sizeof expl, "%d", place - 1);
	/* Length of the exponent form beyond the digits: "e", the exponent and
	 * the dot (plus the ".0" of a single digit). */
	cost = (int)strlen(expl) + 1 + (len == 1 ? 2 : 1);
	if (place == 0) {
		snprintf(out, size, "%s0.%s", sign, digits);
	} else if (place > 0 && place < len) {
		snprintf(out, size, "%s%.*s.%s", sign, place, digits, digits + place);
	} else if (place < 0 && 2 - place <= cost) {
		memset(zeros, '0', (size_t)-place);
		zeros[-place] = '\0';
		snprintf(out, size, "%s0.%s%s", sign, zeros, digits);
	} else if (place >= len && place - len + 2 <= cost) {
		memset(zeros, '0', (size_t)(place - len));
		zeros[place - len] = '\0';
		snprintf(out, size, "%s%s%s.0", sign, digits, zeros);
	} else if (len == 1) {
		snprintf(out, size, "%s%s.0e%s", sign, digits, expl);
	} else {
		snprintf(out, size, "%s%c.%se%s", sign, digits[0], digits + 1, expl);
	}
}

json_object *sm_json_new_double(double value)
{
	char text[64];

	if (!isfinite(value))
		return NULL;
	format_elixir_double(value, text, sizeof text);
	return json_object_new_double_s(value, text);
}

/* Reads the decimal text of a number without touching json-c's print buffer
 * (json_object_to_json_string would write into obj). */
const char *sm_json_number_text(json_object *obj, char *buf, size_t size)
{
	if (json_object_is_type(obj, json_type_int)) {
		int64_t i = json_object_get_int64(obj);

		if (i == INT64_MAX)
			snprintf(buf, size, "%" PRIu64, json_object_get_uint64(obj));
		else
			snprintf(buf, size, "%" PRId64, i);
		return buf;
	}
	if (json_object_is_type(obj, json_type_double)) {
		/* json-c keeps the parsed text (or the text given to
		 * json_object_new_double_s) as the object's userdata. */
		const char *kept = json_object_get_userdata(obj);

		if (kept)
			snprintf(buf, size, "%s", kept);
		else
			format_elixir_double(json_object_get_double(obj), buf, size);
		return buf;
	}
	if (size)
		buf[0] = '\0';
	return buf;
}

/* Exact integer value as a 128-bit number (int64 or uint64 range). */
static __int128 int_value(json_object *obj)
{
	int64_t i = json_object_get_int64(obj);

	if (i == INT64_MAX)
		return (__int128)json_object_get_uint64(obj);
	return i;
}

static json_object *new_int128(__int128 v)
{
	if (v >= INT64_MIN && v <= INT64_MAX)
		return json_object_new_int64((int64_t)v);
	if (v > 0 && v <= (__int128)UINT64_MAX)
		return json_object_new_uint64((uint64_t)v);
	return NULL;
}

json_object *sm_json_add(json_object *a, json_object *b, const char **why)
{
	*why = NULL;
	if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int)) {
		json_object *r = new_int128(int_value(a) + int_value(b));

		if (!r)
			*why = "integer overflow: the sum does not fit in 64 bits";
		return r;
	}
	{
		double sum = json_object_get_double(a) + json_object_get_double(b);
		json_object *r = sm_json_new_double(sum);

		if (!r)
			*why = "the sum is not a finite number";
		return r;
	}
}

static bool numbers_equal(json_object *a, json_object *b)
{
	if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
		return int_value(a) == int_value(b);
	if (json_object_is_type(a, json_type_int)) {
		json_object *t = a;

		a = b;
		b = t;
	}
	/* a is a double here; b an int or a double. */
	if (json_object_is_type(b, json_type_double))
		return json_object_get_double(a) == json_object_get_double(b);
	{
		double d = json_object_get_double(a);
		__int128 i = int_value(b);

		/* Compare exactly: an integral double within range against the
		 * integer, never through a rounding conversion of the integer. */
		if (!isfinite(d) || d != floor(d) || fabs(d) > 3.4e38)
			return false;
		return (__int128)d == i;
	}
}

static bool is_number(json_object *o)
{
	return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

bool sm_json_equal(json_object *a, json_object *b)
{
	enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

	if (is_number(a) && is_number(b))
		return numbers_equal(a, b);
	if (ta != tb)
		return false;
	switch (ta) {
	case json_type_null:
		return true;
	case json_type_boolean:
		return !json_object_get_boolean(a) == !json_object_get_boolean(b);
	case json_type_string:
		return json_object_get_string_len(a) == json_object_get_string_len(b) &&
		       memcmp(json_object_get_string(a), json_object_get_string(b),
			      (size_t)json_object_get_string_len(a)) == 0;
	case json_type_array: {
		size_t n = json_object_array_length(a);

		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!sm_json_equal(json_object_array_get_idx(a, i),
					   json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, va) {
			json_object *vb;

			if (!json_object_object_get_ex(b, key, &vb) || !sm_json_equal(va, vb))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

json_object *sm_json_copy(json_object *obj)
{
	json_object *dst = NULL;

	if (!obj)
		return NULL;
	/* json_object_deep_copy copies the kept decimal text too and only reads
	 * the source. */
	if (json_object_deep_copy(obj, &dst, NULL) != 0) {
		fprintf(stderr, "snapmig: out of memory (copying JSON)\n");
		abort();
	}
	return dst;
}

bool sm_json_has_nul(json_object *obj)
{
	switch (json_object_get_type(obj)) {
	case json_type_string:
		return memchr(json_object_get_string(obj), '\0',
			      (size_t)json_object_get_string_len(obj)) != NULL;
	case json_type_array: {
		size_t n = json_object_array_length(obj);

		for (size_t i = 0; i < n; i++)
			if (sm_json_has_nul(json_object_array_get_idx(obj, i)))
				return true;
		return false;
	}
	case json_type_object: {
		json_object_object_foreach(obj, key, val) {
			/* json-c keys are C strings: a key with \u0000 is cut at the
			 * NUL, so only values can be checked exactly. */
			(void)key;
			if (sm_json_has_nul(val))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}
