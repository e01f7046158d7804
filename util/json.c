/*
 * JSON values on top of json-c 0.16, with the guarantees of json.h:
 * printing, Elixir-style doubles, numbers, equality, copies.  Parsing is
 * util/json_parse.c.
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

#include <json-c/printbuf.h>

#include "util/alloc.h"
#include "util/json.h"

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

int sm_json_reader_parse_object_fields(sm_json_reader *r, const char *text, size_t len,
				       const sm_json_fields *fields, json_object **out,
				       sm_error *err)
{
	return require_object(sm_json_reader_parse_fields(r, text, len, fields, out, err),
			      out, err);
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

/* The decimal of prec significant digits next to text (a "%.*e" text of
 * that precision), one unit of the last digit up or down, into out. */
static void next_decimal(const char *text, int up, char *out, size_t size)
{
	char digits[40];
	const char *e = strchr(text, 'e');
	size_t n = 0;
	int exp10 = e ? atoi(e + 1) : 0, i;

	for (const char *p = text; p < e && n + 2 < sizeof digits; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	/* Add or take one unit of the last digit, carrying. */
	for (i = (int)n - 1; i >= 0; i--) {
		if (up && digits[i] < '9') {
			digits[i]++;
			break;
		}
		if (!up && digits[i] > '0') {
			digits[i]--;
			break;
		}
		digits[i] = up ? '0' : '9';
	}
	if (i < 0 && up) {  /* 9.99 up: 10.00, one more digit */
		memmove(digits + 1, digits, n);
		digits[0] = '1';
		exp10++;
	}
	digits[n] = '\0';
	snprintf(out, size, "%c.%se%d", digits[0], digits + 1, exp10);
}

/*
 * Shortest digits as Erlang's float_to_binary(F, [short]) finds them (the
 * Ryu algorithm): the fewest significant digits that read back as v, and
 * of those the decimal nearest to v.  digits gets them without trailing
 * zeros, *exp10 the decimal exponent of the first digit.  (v is positive.)
 *
 * The nearest decimal of a precision is the "%.*e" text; when it does not
 * read back, its neighbour on v's side may still do so, because the
 * interval of texts that read back as v is not centred on v when v is a
 * power of two (the gap to the next smaller double is half the gap to the
 * next larger one).  Everywhere else the interval is centred, and starting
 * at 15 digits gives the same result as trying 1, 2, ... 15: a decimal of
 * at most 15 significant digits (DBL_DIG) survives the trip through a
 * double, so when a shorter text reads back as v, the 15-digit text of v is
 * that text padded with zeros, which are stripped below.  Subnormals carry
 * fewer digits: the argument does not hold there either.
 */
static void shortest_digits(double v, char *digits, size_t size, int *exp10)
{
	char buf[64], other[64];
	int mant_exp;
	bool power_of_two = frexp(v, &mant_exp) == 0.5;

	for (int prec = v < DBL_MIN || power_of_two ? 1 : DBL_DIG; prec <= 17; prec++) {
		double c;

		snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
		c = strtod(buf, NULL);
		if (c == v)
			break;
		if (power_of_two) {
			next_decimal(buf, c < v, other, sizeof other);
			if (strtod(other, NULL) == v) {
				memcpy(buf, other, sizeof buf);
				break;
			}
		}
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
 * Formats like Erlang's float_to_binary(F, [short]) (what Jason writes on
 * current OTP; io_lib_format:fwrite_g gives the same): the shortest
 * round-trip digits, in plain notation unless the exponent form is shorter
 * or the value is integral and at least 2^53.
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
	} else if (place >= len && place - len + 2 <= cost && fabs(v) < 9007199254740992.0) {
		/* Integral values from 2^53 on are always in exponent form
		 * (OTP: "there could be loss in precision when adding 1"). */
		memset(zeros, '0', (size_t)(place - len));
		zeros[place - len] = '\0';
		snprintf(out, size, "%s%s%s.0", sign, digits, zeros);
	} else if (len == 1) {
		snprintf(out, size, "%s%s.0e%s", sign, digits, expl);
	} else {
		snprintf(out, size, "%s%c.%se%s", sign, digits[0], digits + 1, expl);
	}
}

/* json-c serializer of a computed double: its shortest Elixir text is made
 * when the tree is printed, not at every `+=` (formatting costs more than
 * the addition, and only the last value of a running sum is printed). */
static int print_elixir_double(json_object *obj, struct printbuf *pb, int level, int flags)
{
	char text[64];

	(void)level;
	(void)flags;
	format_elixir_double(json_object_get_double(obj), text, sizeof text);
	return printbuf_memappend(pb, text, (int)strlen(text));
}

json_object *sm_json_new_double(double value)
{
	json_object *o;

	if (!isfinite(value))
		return NULL;
	o = json_object_new_double(value);
	if (o)
		json_object_set_serializer(o, print_elixir_double, NULL, NULL);
	return o;
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

const char *sm_json_number_elixir(json_object *obj, char *buf, size_t size)
{
	double d;

	if (json_object_is_type(obj, json_type_int))
		return sm_json_number_text(obj, buf, size);
	if (!json_object_is_type(obj, json_type_double))
		return NULL;
	d = json_object_get_double(obj);
	if (!isfinite(d))
		return NULL;
	format_elixir_double(d, buf, size);
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

bool sm_json_equal_by(json_object *a, json_object *b,
		      bool (*numbers)(json_object *a, json_object *b))
{
	enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

	if (is_number(a) && is_number(b))
		return numbers(a, b);
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
			if (!sm_json_equal_by(json_object_array_get_idx(a, i),
					      json_object_array_get_idx(b, i), numbers))
				return false;
		return true;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, va) {
			json_object *vb;

			if (!json_object_object_get_ex(b, key, &vb) ||
			    !sm_json_equal_by(va, vb, numbers))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

bool sm_json_equal(json_object *a, json_object *b)
{
	return sm_json_equal_by(a, b, numbers_equal);
}

/* Our own deep copy: json_object_deep_copy would print a computed double
 * (which has a serializer but no kept text) the json-c way. */
static json_object *copy_value(json_object *obj)
{
	json_object *dst;

	switch (json_object_get_type(obj)) {
	case json_type_null:
		return NULL;
	case json_type_boolean:
		return json_object_new_boolean(json_object_get_boolean(obj));
	case json_type_int: {
		int64_t i = json_object_get_int64(obj);

		if (i == INT64_MAX && json_object_get_uint64(obj) > (uint64_t)INT64_MAX)
			return json_object_new_uint64(json_object_get_uint64(obj));
		return json_object_new_int64(i);
	}
	case json_type_double: {
		/* Parsed doubles keep their text as userdata (see
		 * sm_json_number_text); computed ones have none. */
		const char *kept = json_object_get_userdata(obj);
		double d = json_object_get_double(obj);

		return kept ? json_object_new_double_s(d, kept) : sm_json_new_double(d);
	}
	case json_type_string:
		return json_object_new_string_len(json_object_get_string(obj),
						  json_object_get_string_len(obj));
	case json_type_array: {
		size_t n = json_object_array_length(obj);

		dst = json_object_new_array_ext((int)n);
		for (size_t i = 0; dst && i < n; i++)
			json_object_array_add(dst, copy_value(json_object_array_get_idx(obj, i)));
		return dst;
	}
	case json_type_object:
		dst = json_object_new_object();
		if (!dst)
			return NULL;
		json_object_object_foreach(obj, key, val)
			/* The source has no duplicate keys: skip the lookup. */
			json_object_object_add_ex(dst, key, copy_value(val),
						  JSON_C_OBJECT_ADD_KEY_IS_NEW);
		return dst;
	}
	return NULL;
}

json_object *sm_json_copy(json_object *obj)
{
	json_object *dst;

	if (!obj)
		return NULL;
	dst = copy_value(obj);
	if (!dst) {
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
