/*
 * util/json: what snapmig promises about JSON that Elixir wrote and will
 * read again (exact decimals and 64-bit integers, refusal of what cannot be
 * kept exactly, strict syntax, Elixir-style printing of computed doubles).
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testlib.h"
#include "util/json.h"

static char printed[8192];
static char reason[1024];

/* Parses and re-prints; returns the status. */
static int roundtrip(const char *text, size_t len)
{
	json_object *o = NULL;
	sm_error err;
	int rc;

	sm_error_clear(&err);
	rc = sm_json_parse(text, len, &o, &err);
	snprintf(printed, sizeof printed, "%s", rc == 0 ? sm_json_print(o, NULL) : "");
	snprintf(reason, sizeof reason, "%s", err.message);
	json_object_put(o);
	return rc;
}

#define SAME(text) do { \
	ck_assert_msg(roundtrip(text, strlen(text)) == 0, "%s: %s", text, reason); \
	ck_assert_str_eq(printed, text); \
} while (0)

#define REFUSED(text, why) do { \
	ck_assert_int_eq(roundtrip(text, strlen(text)), SM_ERR_DATA); \
	ck_assert_str_eq(reason, why); \
} while (0)

START_TEST(test_decimals_keep_their_exact_text)
{
	SAME("{\"a\":0.1,\"b\":1.50,\"c\":1e400,\"d\":-0.0,\"e\":2.50E-3}");
}
END_TEST

START_TEST(test_64_bit_integers_stay_exact)
{
	SAME("[9223372036854775807,-9223372036854775808,18446744073709551615,9007199254740993,0]");
}
END_TEST

START_TEST(test_integers_beyond_64_bits_are_refused)
{
	REFUSED("{\"n\":18446744073709551616}", "integer 18446744073709551616 does not fit in 64 bits");
	REFUSED("[-9223372036854775809]", "integer -9223372036854775809 does not fit in 64 bits");
	REFUSED("123456789012345678901234567890123456789012345678901234567890123",
		"integer 123456789012345678901234567890... (63 digits) does not fit in 64 bits");
}
END_TEST

START_TEST(test_big_digit_strings_inside_strings_are_text)
{
	SAME("{\"id\":\"123456789012345678901234567890\",\"q\":\"\\\"99999999999999999999\"}");
}
END_TEST

/* Jason (Commanded 1.x) keeps the first of a key given twice; Poison kept
 * the last.  Either way the key is printed once. */
START_TEST(test_duplicate_keys_first_wins_and_print_once)
{
	sm_json_reader *r = sm_json_reader_new();
	json_object *o = NULL;
	sm_error err;

	ck_assert_int_eq(roundtrip("{\"a\":1,\"b\":2,\"a\":3}", 19), 0);
	ck_assert_str_eq(printed, "{\"a\":1,\"b\":2}");
	ck_assert_int_eq(roundtrip("{\"o\":{\"k\":[1],\"k\":{\"x\":2}},\"o\":0}", 33), 0);
	ck_assert_str_eq(printed, "{\"o\":{\"k\":[1]}}");
	sm_error_clear(&err);
	sm_json_reader_keep_last_duplicate(r, true);
	ck_assert_int_eq(sm_json_reader_parse(r, "{\"a\":1,\"b\":2,\"a\":3}", 19, &o, &err), 0);
	ck_assert_str_eq(sm_json_print(o, NULL), "{\"a\":3,\"b\":2}");
	json_object_put(o);
	sm_json_reader_free(r);
}
END_TEST

START_TEST(test_invalid_utf8_is_refused)
{
	REFUSED("{\"a\":\"\xc3\x28\"}", "invalid JSON at byte 7: invalid UTF-8");
}
END_TEST

/* json-c would turn a lone surrogate into U+FFFD, silently changing the
 * data; PostgreSQL's jsonb and Elixir's Jason refuse it. */
START_TEST(test_lone_surrogates_are_refused_pairs_are_kept)
{
	REFUSED("{\"a\":\"x\\ud800\"}", "invalid JSON at byte 7: \\ud800 is a lone UTF-16 surrogate");
	REFUSED("{\"a\":\"\\uDC00y\"}", "invalid JSON at byte 6: \\uDC00 is a lone UTF-16 surrogate");
	REFUSED("[\"\\ud83d\\u0041\"]", "invalid JSON at byte 2: \\ud83d is a lone UTF-16 surrogate");
	REFUSED("[\"\\ud83d\\ude00\\ude00\"]",
		"invalid JSON at byte 14: \\ude00 is a lone UTF-16 surrogate");
	SAME("[\"\xf0\x9f\x98\x80\"]");
	ck_assert_int_eq(roundtrip("[\"\\ud83d\\ude00\", \"\\\\ud800\"]", 27), 0);
	ck_assert_str_eq(printed, "[\"\xf0\x9f\x98\x80\",\"\\\\ud800\"]");
}
END_TEST

START_TEST(test_nesting_is_limited_to_2000_levels)
{
	char *buf = malloc(2 * 2001 + 1);

	memset(buf, '[', 2000);
	memset(buf + 2000, ']', 2000);
	ck_assert_int_eq(roundtrip(buf, 4000), 0);
	memset(buf, '[', 2001);
	memset(buf + 2001, ']', 2001);
	ck_assert_int_eq(roundtrip(buf, 4002), SM_ERR_DATA);
	ck_assert_str_eq(reason, "nesting deeper than 2000 levels");
	free(buf);
}
END_TEST

START_TEST(test_trailing_garbage_is_refused_whitespace_is_not)
{
	REFUSED("{} x", "invalid JSON at byte 3: unexpected character");
	REFUSED("{}{}", "invalid JSON at byte 2: unexpected character");
	ck_assert_int_eq(roundtrip("{}\n\t ", 5), 0);
	ck_assert_int_eq(roundtrip("12", 2), 0);
	ck_assert_str_eq(printed, "12");
}
END_TEST

START_TEST(test_incomplete_and_empty_texts_are_refused)
{
	REFUSED("{\"a\":", "invalid JSON at byte 5: unexpected end of JSON");
	REFUSED("", "empty JSON text");
}
END_TEST

START_TEST(test_nul_byte_is_refused_but_escaped_nul_is_kept)
{
	ck_assert_int_eq(roundtrip("{\"a\":\"x\0y\"}", 11), SM_ERR_DATA);
	ck_assert_str_eq(reason, "NUL byte in JSON text at byte 7");
	SAME("{\"a\":\"x\\u0000y\"}");
	REFUSED("{\"a\\u0000b\":1}", "object key at byte 1 contains \\u0000");
}
END_TEST

START_TEST(test_non_json_extensions_of_json_c_are_refused)
{
	REFUSED("[NaN]", "invalid JSON at byte 1: NaN is not a JSON value");
	REFUSED("[-Infinity]", "invalid JSON at byte 1: -Infinity is not a JSON value");
	REFUSED("{'a':1}", "invalid JSON at byte 1: single-quoted string");
	REFUSED("[1,]", "invalid JSON at byte 3: unexpected character");
	REFUSED("/* c */ 1", "invalid JSON at byte 0: unexpected character");
	SAME("[\"it's\",true,false,null]");
}
END_TEST

START_TEST(test_parse_object_requires_an_object)
{
	json_object *o;
	sm_error err;

	sm_error_clear(&err);
	ck_assert_int_eq(sm_json_parse_object("[1]", 3, &o, &err), SM_ERR_DATA);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(err.message, "expected a JSON object, got array");
	ck_assert_int_eq(sm_json_parse_object("{\"a\":[]}", 8, &o, &err), 0);
	json_object_put(o);
}
END_TEST

START_TEST(test_print_keeps_slashes_and_utf8)
{
	SAME("{\"url\":\"https://x/y\",\"name\":\"Zo\xc3\xab \xf0\x9f\x98\x80\"}");
}
END_TEST

START_TEST(test_new_double_prints_shortest_elixir_form)
{
	static const struct { double v; const char *text; } cases[] = {
		{ 1.0, "1.0" }, { 0.1, "0.1" }, { 1e20, "1.0e20" }, { 100.0, "100.0" },
		{ 1000.0, "1.0e3" }, { 1234.5, "1234.5" }, { 0.0001, "0.0001" }, { 0.00001, "1.0e-5" },
		{ 1.5e-5, "1.5e-5" }, { -0.0, "-0.0" }, { 0.1 + 0.2, "0.30000000000000004" },
		{ 5e-324, "5.0e-324" }, { 1.7976931348623157e308, "1.7976931348623157e308" },
		{ 123456789012.0, "123456789012.0" }, { -2.5, "-2.5" },
		/* From 2^53 on, integral values take the exponent form. */
		{ 9007199254740991.0, "9007199254740991.0" }, { 9007199254740992.0, "9.007199254740992e15" },
		{ -18014398509481984.0, "-1.8014398509481984e16" }, { 1e15, "1.0e15" },
		{ 1200.0, "1.2e3" }, { 120.0, "120.0" }, { 12340.0, "12340.0" }, { 0.001234, "0.001234" },
		{ 1.5e-4, "1.5e-4" }, { 0.0012, "0.0012" }, { 99.99, "99.99" }, { 9.9e100, "9.9e100" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *o = sm_json_new_double(cases[i].v);
		json_object *back;
		sm_error err;
		const char *t = sm_json_print(o, NULL);

		ck_assert_msg(strcmp(t, cases[i].text) == 0, "%.17g printed as %s, expected %s",
			      cases[i].v, t, cases[i].text);
		/* And it reads back as the same double. */
		ck_assert_int_eq(sm_json_parse(t, strlen(t), &back, &err), 0);
		ck_assert(json_object_get_double(back) == cases[i].v);
		json_object_put(back);
		json_object_put(o);
	}
}
END_TEST

/* Significant digits of a printed double ("1.25e-3" -> 3, "100.0" -> 1). */
static int significant_digits(const char *t)
{
	char d[64];
	int n = 0;

	for (; *t && *t != 'e'; t++)
		if (*t >= '0' && *t <= '9' && n < 63)
			d[n++] = *t;
	d[n] = '\0';
	while (n > 1 && d[n - 1] == '0')
		n--;
	{
		int z = 0;

		while (z < n - 1 && d[z] == '0')
			z++;
		return n - z;
	}
}

/* For random doubles (any bits, and short decimals): the printed text reads
 * back as the same double, and no text with one digit less would. */
START_TEST(test_new_double_is_shortest_for_random_values)
{
	unsigned long long x = 88172645463325252ULL;

	for (int i = 0; i < 200000; i++) {
		double v;
		json_object *o;
		const char *t;
		int n;
		char shorter[64];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (i % 2) {
			memcpy(&v, &x, sizeof v);
			if (!isfinite(v) || v == 0)
				continue;
		} else {
			v = (double)(long long)(x % 2000000001ULL - 1000000000LL) /
			    pow(10, (double)(x % 23));
			if (v == 0)
				continue;
		}
		o = sm_json_new_double(v);
		t = sm_json_print(o, NULL);
		ck_assert_msg(strtod(t, NULL) == v, "%.17g printed as %s", v, t);
		n = significant_digits(t);
		if (n > 1) {
			snprintf(shorter, sizeof shorter, "%.*e", n - 2, v);
			ck_assert_msg(strtod(shorter, NULL) != v, "%.17g printed as %s, but %s reads back too",
				      v, t, shorter);
		}
		json_object_put(o);
	}
}
END_TEST

static json_object *p(const char *t)
{
	json_object *o;
	sm_error err;

	ck_assert_int_eq(sm_json_parse(t, strlen(t), &o, &err), 0);
	return o;
}

/* Against Elixir itself: tests/data/elixir-floats.txt holds the text
 * Elixir 1.14 on OTP 25 gives each of 4,000 doubles (to_string/1, which is
 * float_to_binary(F, [short])), made by tests/data/elixir-floats.exs. */
START_TEST(test_doubles_print_exactly_as_elixir_writes_them)
{
	const char *srcdir = getenv("SNAPMIG_SRCDIR");
	char path[4096], hex[32], want[128];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof path, "%s/tests/data/elixir-floats.txt", srcdir ? srcdir : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	while (fscanf(f, "%31s %127s", hex, want) == 2) {
		unsigned long long bits = strtoull(hex, NULL, 16);
		double v;
		json_object *o, *plain;
		char buf[64];

		memcpy(&v, &bits, sizeof v);
		o = sm_json_new_double(v);
		ck_assert_msg(strcmp(sm_json_print(o, NULL), want) == 0, "%s (%.17g): printed %s, Elixir writes %s",
			      hex, v, sm_json_print(o, NULL), want);
		plain = json_object_new_double(v);
		ck_assert_str_eq(sm_json_number_elixir(plain, buf, sizeof buf), want);
		json_object_put(plain);
		json_object_put(o);
		n++;
	}
	fclose(f);
	ck_assert_int_gt(n, 4000);
}
END_TEST

START_TEST(test_number_elixir_text_ignores_the_text_a_number_was_read_from)
{
	static const char *const cases[][2] = {
		{ "1e2", "100.0" }, { "1.50", "1.5" }, { "1e20", "1.0e20" }, { "1E+2", "100.0" },
		{ "-0.0", "-0.0" }, { "0.10", "0.1" }, { "100", "100" }, { "-0", "0" },
		{ "18446744073709551615", "18446744073709551615" }, { "-9223372036854775808", "-9223372036854775808" },
		{ "2.50e-3", "0.0025" }, { "123456789.0", "123456789.0" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *o = p(cases[i][0]);

		ck_assert_msg(strcmp(sm_json_number_elixir(o, buf, sizeof buf), cases[i][1]) == 0,
			      "%s gave %s, expected %s", cases[i][0], buf, cases[i][1]);
		json_object_put(o);
	}
	{
		json_object *o = p("1e400"), *s = p("\"1\"");

		ck_assert_ptr_null(sm_json_number_elixir(o, buf, sizeof buf));
		ck_assert_ptr_null(sm_json_number_elixir(s, buf, sizeof buf));
		json_object_put(o);
		json_object_put(s);
	}
}
END_TEST

START_TEST(test_new_double_refuses_nan_and_infinity)
{
	ck_assert_ptr_null(sm_json_new_double(NAN));
	ck_assert_ptr_null(sm_json_new_double(INFINITY));
}
END_TEST

START_TEST(test_equal_is_deep_and_compares_numbers_by_value)
{
	static const struct { const char *a, *b; bool eq; } cases[] = {
		{ "1", "1.0", true }, { "1", "1.5", false }, { "0.1", "0.10", true },
		{ "9007199254740993", "9007199254740992.0", false },
		{ "18446744073709551615", "18446744073709551615", true },
		{ "{\"a\":[1,{\"b\":null}]}", "{\"a\":[1.0,{\"b\":null}]}", true },
		{ "{\"a\":1}", "{\"a\":1,\"b\":2}", false }, { "[1,2]", "[2,1]", false },
		{ "\"a\"", "\"a\"", true }, { "null", "null", true }, { "true", "1", false },
		{ "\"a\\u0000b\"", "\"a\\u0000c\"", false },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *a = p(cases[i].a), *b = p(cases[i].b);

		ck_assert_msg(sm_json_equal(a, b) == cases[i].eq, "%s vs %s", cases[i].a, cases[i].b);
		json_object_put(a);
		json_object_put(b);
	}
}
END_TEST

START_TEST(test_copy_is_deep_and_keeps_decimal_text)
{
	json_object *a = p("{\"n\":1.50,\"l\":[{\"x\":1e400}],\"u\":18446744073709551615}");
	json_object *b = sm_json_copy(a);

	json_object_object_add(json_object_array_get_idx(json_object_object_get(b, "l"), 0), "x",
			       json_object_new_int(2));
	ck_assert_str_eq(sm_json_print(a, NULL), "{\"n\":1.50,\"l\":[{\"x\":1e400}],\"u\":18446744073709551615}");
	ck_assert_str_eq(sm_json_print(b, NULL), "{\"n\":1.50,\"l\":[{\"x\":2}],\"u\":18446744073709551615}");
	json_object_put(a);
	json_object_put(b);
	ck_assert_ptr_null(sm_json_copy(NULL));
}
END_TEST

START_TEST(test_has_nul_finds_nul_in_nested_strings)
{
	json_object *a = p("{\"a\":[1,{\"b\":\"x\\u0000\"}]}"), *b = p("{\"a\":[\"x\"]}");

	ck_assert(sm_json_has_nul(a));
	ck_assert(!sm_json_has_nul(b));
	json_object_put(a);
	json_object_put(b);
}
END_TEST

START_TEST(test_add_keeps_integers_exact_and_refuses_overflow)
{
	json_object *a = p("9223372036854775807"), *one = p("1"), *half = p("0.5"), *r;
	const char *why;

	r = sm_json_add(a, one, &why);
	ck_assert_str_eq(sm_json_print(r, NULL), "9223372036854775808");
	json_object_put(r);
	r = sm_json_add(one, half, &why);
	ck_assert_str_eq(sm_json_print(r, NULL), "1.5");
	json_object_put(r);
	json_object_put(a);
	a = p("18446744073709551615");
	ck_assert_ptr_null(sm_json_add(a, one, &why));
	ck_assert_str_eq(why, "integer overflow: the sum does not fit in 64 bits");
	json_object_put(a);
	a = p("1e400");
	ck_assert_ptr_null(sm_json_add(a, one, &why));
	ck_assert_str_eq(why, "the sum is not a finite number");
	json_object_put(a);
	json_object_put(one);
	json_object_put(half);
}
END_TEST

START_TEST(test_number_text_does_not_depend_on_printing)
{
	json_object *a = p("[1.50,-7,18446744073709551615]");
	json_object *d = sm_json_new_double(0.1 + 0.2);
	char buf[64];

	ck_assert_str_eq(sm_json_number_text(json_object_array_get_idx(a, 0), buf, sizeof buf), "1.50");
	ck_assert_str_eq(sm_json_number_text(json_object_array_get_idx(a, 1), buf, sizeof buf), "-7");
	ck_assert_str_eq(sm_json_number_text(json_object_array_get_idx(a, 2), buf, sizeof buf), "18446744073709551615");
	ck_assert_str_eq(sm_json_number_text(d, buf, sizeof buf), "0.30000000000000004");
	json_object_put(a);
	json_object_put(d);
}
END_TEST

/* A reused reader gives the same results as fresh parses, also right after
 * an error that left the tokener in the middle of a value, and for a text
 * above the size it keeps its own buffers for. */
START_TEST(test_a_reused_reader_is_not_affected_by_earlier_texts)
{
	sm_json_reader *r = sm_json_reader_new();
	json_object *o = NULL;
	sm_error err;
	size_t big_len = (2u << 20) + 16;
	char *big = malloc(big_len + 1);

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(big);
	sm_error_clear(&err);
	ck_assert_int_eq(sm_json_reader_parse_object(r, "{\"a\": [1, {\"b\": ", 16, &o, &err),
			 SM_ERR_DATA);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(sm_json_reader_parse_object(r, "[1]", 3, &o, &err), SM_ERR_DATA);
	ck_assert_str_eq(err.message, "expected a JSON object, got array");
	ck_assert_int_eq(sm_json_reader_parse_object(r, "{\"x\":0.10}", 10, &o, &err), SM_OK);
	ck_assert_str_eq(sm_json_print(o, NULL), "{\"x\":0.10}");
	json_object_put(o);
	ck_assert_int_eq(sm_json_reader_parse(r, "12", 2, &o, &err), SM_OK);
	ck_assert_int_eq(json_object_get_int64(o), 12);
	json_object_put(o);
	memcpy(big, "{\"s\":\"", 6);
	memset(big + 6, 'x', big_len - 8);
	memcpy(big + big_len - 2, "\"}", 2);
	ck_assert_int_eq(sm_json_reader_parse_object(r, big, big_len, &o, &err), SM_OK);
	ck_assert_uint_eq(strlen(json_object_get_string(json_object_object_get(o, "s"))), big_len - 8);
	json_object_put(o);
	ck_assert_int_eq(sm_json_reader_parse(r, "{\"n\":99999999999999999999}", 26, &o, &err),
			 SM_ERR_DATA);
	ck_assert_int_eq(sm_json_reader_parse(r, "true", 4, &o, &err), SM_OK);
	ck_assert(json_object_get_boolean(o));
	json_object_put(o);
	free(big);
	sm_json_reader_free(r);
}
END_TEST

/* json-c 0.16 kept a pending high surrogate across json_tokener_reset: after
 * one event cut off after "\ud83d\u", the next text read by the same
 * worker got a U+FFFD before its first \u escape (found by fuzzing the
 * parser against the json-c based one it replaced). */
START_TEST(test_a_cut_off_surrogate_does_not_leak_into_the_next_text)
{
	sm_json_reader *r = sm_json_reader_new();
	json_object *o = NULL;
	sm_error err;

	sm_error_clear(&err);
	ck_assert_int_eq(sm_json_reader_parse(r, "\"\\ud83d\\u", 9, &o, &err), SM_ERR_DATA);
	ck_assert_int_eq(sm_json_reader_parse(r, "{\"a\":\"x\\u0000y\"}", 16, &o, &err), SM_OK);
	ck_assert_str_eq(sm_json_print(o, NULL), "{\"a\":\"x\\u0000y\"}");
	json_object_put(o);
	sm_json_reader_free(r);
}
END_TEST

/* What json-c took but JSON, PostgreSQL's jsonb and Elixir's Jason refuse. */
START_TEST(test_leading_zeros_bare_dots_and_raw_control_characters_are_refused)
{
	REFUSED("[01]", "invalid JSON at byte 2: invalid number (leading zero)");
	REFUSED("{\"a\":-00}", "invalid JSON at byte 7: invalid number (leading zero)");
	REFUSED("[7.]", "invalid JSON at byte 3: invalid number (no digit after the point)");
	REFUSED("[1e]", "invalid JSON at byte 3: invalid number (no digit in the exponent)");
	REFUSED("[-]", "invalid JSON at byte 2: invalid number (no digit after '-')");
	REFUSED("[1 2]", "invalid JSON at byte 3: expected ',' or ']'");
	REFUSED("{\"a\" 1}", "invalid JSON at byte 5: expected ':' after the object key");
	REFUSED("{\"a\":1 \"b\":2}", "invalid JSON at byte 7: expected ',' or '}'");
	REFUSED("{\"a\":1,}", "invalid JSON at byte 7: expected a quoted object key");
	REFUSED("[\"a\tb\"]", "invalid JSON at byte 3: control character in string");
	REFUSED("[\"\\x\"]", "invalid JSON at byte 2: invalid escape in string");
	REFUSED("[\"\\u12\"]", "invalid JSON at byte 2: invalid \\u escape");
	SAME("[0,-0.5,1.0e-7,0e0,\"a\\tb\"]");
}
END_TEST

START_TEST(test_overlong_and_surrogate_utf8_is_refused)
{
	REFUSED("[\"\xc0\xaf\"]", "invalid JSON at byte 2: invalid UTF-8");
	REFUSED("[\"\xe0\x80\xaf\"]", "invalid JSON at byte 3: invalid UTF-8");
	REFUSED("[\"\xed\xa0\x80\"]", "invalid JSON at byte 3: invalid UTF-8");
	REFUSED("[\"\xf4\x90\x80\x80\"]", "invalid JSON at byte 3: invalid UTF-8");
	REFUSED("[\"\xe2\x82\"]", "invalid JSON at byte 4: invalid UTF-8");
	SAME("[\"\xed\x9f\xbf\xf4\x8f\xbf\xbf\xc2\x80\"]");
}
END_TEST

/* Only the named members are built, the rest is checked as strictly. */
START_TEST(test_field_selection_builds_only_the_named_members)
{
	static const char *const names[] = { "a", "z" };
	const sm_json_fields f = { names, 2 };
	sm_json_reader *r = sm_json_reader_new();
	json_object *o = NULL;
	sm_error err;
	const char *text = "{\"a\":{\"n\":[1,2.50]},\"b\":{\"deep\":[true,null,\"\\u00e9\"]},"
			   "\"a\":{\"n\":[3]},\"c\":7}";

	sm_error_clear(&err);
	ck_assert_int_eq(sm_json_reader_parse_object_fields(r, text, strlen(text), &f, &o, &err), SM_OK);
	ck_assert_str_eq(sm_json_print(o, NULL), "{\"a\":{\"n\":[1,2.50]}}");
	json_object_put(o);
	sm_json_reader_keep_last_duplicate(r, true);
	ck_assert_int_eq(sm_json_reader_parse_object_fields(r, text, strlen(text), &f, &o, &err), SM_OK);
	ck_assert_str_eq(sm_json_print(o, NULL), "{\"a\":{\"n\":[3]}}");
	json_object_put(o);
	sm_json_reader_keep_last_duplicate(r, false);
	/* What is not built is still checked: a bad member fails the text. */
	text = "{\"a\":1,\"b\":[18446744073709551616]}";
	ck_assert_int_eq(sm_json_reader_parse_object_fields(r, text, strlen(text), &f, &o, &err),
			 SM_ERR_DATA);
	ck_assert_str_eq(err.message, "integer 18446744073709551616 does not fit in 64 bits");
	text = "{\"b\":\"\\udc00\",\"a\":1}";
	ck_assert_int_eq(sm_json_reader_parse_object_fields(r, text, strlen(text), &f, &o, &err),
			 SM_ERR_DATA);
	text = "{\"b\":{\"k\\u0000\":1}}";
	ck_assert_int_eq(sm_json_reader_parse_object_fields(r, text, strlen(text), &f, &o, &err),
			 SM_ERR_DATA);
	ck_assert_str_eq(err.message, "object key at byte 6 contains \\u0000");
	/* No names: an empty object, after checking everything. */
	{
		const sm_json_fields none = { NULL, 0 };

		text = "{\"a\":1,\"b\":[]}";
		ck_assert_int_eq(sm_json_reader_parse_object_fields(r, text, strlen(text), &none, &o,
								    &err), SM_OK);
		ck_assert_str_eq(sm_json_print(o, NULL), "{}");
		json_object_put(o);
	}
	sm_json_reader_free(r);
}
END_TEST

START_TEST(test_check_accepts_and_refuses_exactly_what_parse_does)
{
	static const char *const texts[] = {
		"{\"a\":[1,{\"b\":null}]}", "[1,]", "{\"a\":\"\\ud800\"}", "12", "\"s\"", "[-0.0e+1]",
		"{\"a\":1}x", "[18446744073709551615]", "[-9223372036854775809]", "{\"\xff\":1}",
	};
	sm_json_reader *r = sm_json_reader_new();

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		json_object *o = NULL;
		sm_error e1, e2;
		int parsed = sm_json_reader_parse(r, texts[i], strlen(texts[i]), &o, &e1);

		json_object_put(o);
		ck_assert_int_eq(sm_json_reader_check(r, texts[i], strlen(texts[i]), &e2), parsed);
		if (parsed)
			ck_assert_str_eq(e1.message, e2.message);
	}
	sm_json_reader_free(r);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_decimals_keep_their_exact_text);
	tcase_add_test(tc, test_64_bit_integers_stay_exact);
	tcase_add_test(tc, test_integers_beyond_64_bits_are_refused);
	tcase_add_test(tc, test_big_digit_strings_inside_strings_are_text);
	tcase_add_test(tc, test_duplicate_keys_first_wins_and_print_once);
	tcase_add_test(tc, test_invalid_utf8_is_refused);
	tcase_add_test(tc, test_lone_surrogates_are_refused_pairs_are_kept);
	tcase_add_test(tc, test_nesting_is_limited_to_2000_levels);
	tcase_add_test(tc, test_trailing_garbage_is_refused_whitespace_is_not);
	tcase_add_test(tc, test_incomplete_and_empty_texts_are_refused);
	tcase_add_test(tc, test_nul_byte_is_refused_but_escaped_nul_is_kept);
	tcase_add_test(tc, test_non_json_extensions_of_json_c_are_refused);
	tcase_add_test(tc, test_parse_object_requires_an_object);
	tcase_add_test(tc, test_print_keeps_slashes_and_utf8);
	tcase_add_test(tc, test_new_double_prints_shortest_elixir_form);
	tcase_add_test(tc, test_new_double_is_shortest_for_random_values);
	tcase_add_test(tc, test_new_double_refuses_nan_and_infinity);
	tcase_add_test(tc, test_doubles_print_exactly_as_elixir_writes_them);
	tcase_add_test(tc, test_number_elixir_text_ignores_the_text_a_number_was_read_from);
	tcase_add_test(tc, test_equal_is_deep_and_compares_numbers_by_value);
	tcase_add_test(tc, test_copy_is_deep_and_keeps_decimal_text);
	tcase_add_test(tc, test_has_nul_finds_nul_in_nested_strings);
	tcase_add_test(tc, test_add_keeps_integers_exact_and_refuses_overflow);
	tcase_add_test(tc, test_number_text_does_not_depend_on_printing);
	tcase_add_test(tc, test_a_reused_reader_is_not_affected_by_earlier_texts);
	tcase_add_test(tc, test_a_cut_off_surrogate_does_not_leak_into_the_next_text);
	tcase_add_test(tc, test_leading_zeros_bare_dots_and_raw_control_characters_are_refused);
	tcase_add_test(tc, test_overlong_and_surrogate_utf8_is_refused);
	tcase_add_test(tc, test_field_selection_builds_only_the_named_members);
	tcase_add_test(tc, test_check_accepts_and_refuses_exactly_what_parse_does);
	return tl_run_case("json", tc);
}
