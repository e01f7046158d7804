/*
 * The pure parts of verify and of the shape summary, without a server:
 * jsonb equality (numbers by exact decimal value), the differences and
 * their paths, shapes and how two shapes differ, and Commanded's struct
 * decoding of a snapshot.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/reducer.h"
#include "tests/testlib.h"
#include "util/alloc.h"
#include "util/json.h"
#include "util/json_diff.h"

static json_object *J(const char *text)
{
	json_object *o = NULL;
	sm_error err;

	ck_assert_msg(sm_json_parse(text, strlen(text), &o, &err) == SM_OK, "%s: %s", text, err.message);
	return o;
}

static bool jeq(const char *a, const char *b)
{
	json_object *x = J(a), *y = J(b);
	bool eq = sm_jsonb_equal(x, y);

	json_object_put(x);
	json_object_put(y);
	return eq;
}

/* ------------------------------------------------------------- numbers */

START_TEST(test_numbers_compare_by_exact_decimal_value)
{
	ck_assert_int_eq(sm_json_number_cmp("1", "1.0"), 0);
	ck_assert_int_eq(sm_json_number_cmp("1", "1e0"), 0);
	ck_assert_int_eq(sm_json_number_cmp("1", "10e-1"), 0);
	ck_assert_int_eq(sm_json_number_cmp("100", "1E+2"), 0);
	ck_assert_int_eq(sm_json_number_cmp("0.50", "5e-1"), 0);
	ck_assert_int_eq(sm_json_number_cmp("-0", "0"), 0);
	ck_assert_int_eq(sm_json_number_cmp("0.000", "-0e5"), 0);
	ck_assert_int_lt(sm_json_number_cmp("1.5", "2"), 0);
	ck_assert_int_gt(sm_json_number_cmp("-1.5", "-2"), 0);
	ck_assert_int_lt(sm_json_number_cmp("-1", "0"), 0);
	ck_assert_int_gt(sm_json_number_cmp("1e3", "999.999"), 0);
	ck_assert_int_lt(sm_json_number_cmp("0.099", "0.1"), 0);
}
END_TEST

START_TEST(test_numbers_never_round_through_a_double)
{
	/* Equal as doubles, different as numeric. */
	ck_assert_int_ne(sm_json_number_cmp("0.1", "0.10000000000000001"), 0);
	ck_assert(!jeq("0.1", "0.10000000000000001"));
	ck_assert(!jeq("9007199254740993", "9007199254740992.0"));
	ck_assert(jeq("9007199254740993", "9007199254740993.000"));
	ck_assert(jeq("18446744073709551615", "1.8446744073709551615e19"));
	ck_assert(!jeq("18446744073709551615", "18446744073709551614"));
	ck_assert(!jeq("-9223372036854775808", "9223372036854775807"));
}
END_TEST

/* ------------------------------------------------------------ equality */

START_TEST(test_jsonb_equality_ignores_key_order_only)
{
	ck_assert(jeq("{\"a\": 1, \"b\": [1, 2]}", "{\"b\": [1, 2.0], \"a\": 1.00}"));
	ck_assert(!jeq("{\"a\": 1}", "{\"a\": 1, \"b\": null}"));
	ck_assert(!jeq("[1, 2]", "[2, 1]"));
	ck_assert(!jeq("[1]", "1"));
	ck_assert(!jeq("\"1\"", "1"));
	ck_assert(!jeq("null", "false"));
	ck_assert(!jeq("\"\\u00e9\"", "\"e\\u0301\""));  /* no Unicode normalisation */
	ck_assert(jeq("\"\\u00e9\"", "\"\xc3\xa9\""));
}
END_TEST

/* ---------------------------------------------------------------- diff */

typedef struct seen {
	char lines[32][200];
	int n;
} seen;

/* The lines recorded in s are exactly the ones given, in order (NULL ends
 * them). */
static void expect_lines(const seen *s, ...)
{
	va_list ap;
	const char *want;
	int i = 0;

	va_start(ap, s);
	while ((want = va_arg(ap, const char *)) != NULL) {
		ck_assert_msg(i < s->n, "line %d missing: expected %s", i, want);
		ck_assert_str_eq(s->lines[i], want);
		i++;
	}
	va_end(ap);
	ck_assert_int_eq(s->n, i);
}

static bool record(void *ctx, enum sm_json_diff_kind kind, const char *path, const char *gpath,
		   json_object *va, json_object *vb)
{
	static const char *const names[] = { "value", "only_a", "only_b", "number_form" };
	seen *s = ctx;

	if (s->n < 32)
		snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %s %s %s|%s", names[kind], path,
			 gpath, kind == SM_DIFF_ONLY_B ? "-" : sm_json_print(va, NULL),
			 kind == SM_DIFF_ONLY_A ? "-" : sm_json_print(vb, NULL));
	return true;
}

static size_t diff(const char *a, const char *b, seen *s)
{
	json_object *x = J(a), *y = J(b);
	size_t n;

	memset(s, 0, sizeof *s);
	n = sm_json_diff(x, y, record, s);
	json_object_put(x);
	json_object_put(y);
	return n;
}

START_TEST(test_diff_names_each_differing_path_with_both_values)
{
	seen s;
	size_t n = diff("{\"id\": \"a\", \"count\": 5, \"members\": [{\"role\": \"x\"}, {\"role\": \"y\"}]}",
			"{\"id\": \"a\", \"count\": 10, \"members\": [{\"role\": \"x\"}, {\"role\": \"z\"}]}",
			&s);

	ck_assert_int_eq(n, 2);
	expect_lines(&s, "value .count .count 5|10",
		     "value .members[1].role .members[].role \"y\"|\"z\"",
		     NULL);
}
END_TEST

START_TEST(test_diff_tells_absent_keys_from_null_ones)
{
	seen s;
	size_t n = diff("{\"a\": null, \"b\": 1}", "{\"b\": 1, \"c\": null}", &s);

	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(s.lines[0], "only_a .a .a null|-");
	ck_assert_str_eq(s.lines[1], "only_b .c .c -|null");
}
END_TEST

START_TEST(test_diff_reports_arrays_of_other_lengths_whole)
{
	seen s;
	size_t n = diff("{\"t\": [1, 2]}", "{\"t\": [1, 2, 3]}", &s);

	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(s.lines[0], "value .t .t [1,2]|[1,2,3]");
	n = diff("{\"t\": {\"x\": 1}}", "{\"t\": [1]}", &s);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(s.lines[0], "value .t .t {\"x\":1}|[1]");
}
END_TEST

START_TEST(test_diff_notes_an_integer_against_a_float_without_counting_it)
{
	seen s;
	size_t n = diff("{\"n\": 1, \"m\": 2.0, \"k\": 1e2}", "{\"n\": 1.0, \"m\": 2.00, \"k\": 100}", &s);

	ck_assert_int_eq(n, 0);
	expect_lines(&s, "number_form .k .k 1e2|100", "number_form .n .n 1|1.0", NULL);
}
END_TEST

START_TEST(test_diff_quotes_keys_that_are_not_identifiers)
{
	seen s;
	size_t n = diff("{\"admin?\": true, \"a b\": 1, \"q\\\"\": 1, \"1x\": 1}",
			"{\"admin?\": false, \"a b\": 2, \"q\\\"\": 2, \"1x\": 2}", &s);

	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(s.lines[0], "value .[\"1x\"] .[\"1x\"] 1|2");
	ck_assert_str_eq(s.lines[1], "value .[\"a b\"] .[\"a b\"] 1|2");
	ck_assert_str_eq(s.lines[2], "value .[\"admin?\"] .[\"admin?\"] true|false");
	ck_assert_str_eq(s.lines[3], "value .[\"q\\\"\"] .[\"q\\\"\"] 1|2");
}
END_TEST

START_TEST(test_diff_of_equal_values_finds_nothing)
{
	seen s;

	ck_assert_int_eq(diff("{\"a\": [1, {\"b\": \"c\"}], \"d\": null}",
			      "{\"d\": null, \"a\": [1.0, {\"b\": \"c\"}]}", &s), 0);
	ck_assert_int_eq(diff("[]", "[]", &s), 0);
	ck_assert_int_eq(diff("3", "4", &s), 1);
	ck_assert_str_eq(s.lines[0], "value . . 3|4");
}
END_TEST

/* -------------------------------------------------------------- shapes */

static void shape_line(void *ctx, enum sm_json_shape_change change, const char *path,
		       unsigned types_a, unsigned types_b)
{
	static const char *const names[] = { "added", "removed", "retyped" };
	seen *s = ctx;
	char a[64], b[64];

	if (s->n < 32)
		snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %s %s>%s", names[change], path,
			 sm_json_type_bits_name(types_a, a, sizeof a),
			 sm_json_type_bits_name(types_b, b, sizeof b));
}

static void shapes(const char *a, const char *b, seen *s)
{
	json_object *x = J(a), *y = J(b);
	sm_json_shape sa = { 0 }, sb = { 0 };

	memset(s, 0, sizeof *s);
	ck_assert(sm_json_shape_of(x, 1000, &sa));
	ck_assert(sm_json_shape_of(y, 1000, &sb));
	sm_json_shape_compare(&sa, &sb, shape_line, s);
	sm_json_shape_clear(&sa);
	sm_json_shape_clear(&sb);
	json_object_put(x);
	json_object_put(y);
}

START_TEST(test_shape_reports_added_removed_and_retyped_keys_once)
{
	seen s;

	shapes("{\"id\": \"a\", \"old\": 1, \"subs\": {}, \"cfg\": {\"url\": \"u\"}}",
	       "{\"id\": \"a\", \"count\": 0, \"subs\": [], \"cfg\": {\"url\": \"u\", \"t\": 5}}", &s);
	expect_lines(&s, "added .cfg.t absent>number",
		     "added .count absent>number",
		     "removed .old number>absent",
		     "retyped .subs object>array",
		     NULL);
}
END_TEST

START_TEST(test_shape_leaves_out_what_is_below_a_change)
{
	seen s;

	/* The new object's keys are news only through the object itself. */
	shapes("{\"inc\": null}", "{\"inc\": {\"id\": 1, \"at\": \"t\"}}", &s);
	expect_lines(&s, "retyped .inc null>object", NULL);
	shapes("{}", "{\"cfg\": {\"url\": \"u\"}}", &s);
	expect_lines(&s, "added .cfg absent>object", NULL);
}
END_TEST

START_TEST(test_shape_ignores_arrays_gaining_or_losing_elements)
{
	seen s;

	shapes("{\"tags\": []}", "{\"tags\": [\"a\", \"b\"]}", &s);
	expect_lines(&s, NULL);
	shapes("{\"subs\": [{\"id\": 1}]}", "{\"subs\": []}", &s);
	expect_lines(&s, NULL);
	/* Elements of another type, or with another key, are news. */
	shapes("{\"tags\": [\"a\"]}", "{\"tags\": [1]}", &s);
	expect_lines(&s, "retyped .tags[] string>number", NULL);
	shapes("{\"subs\": [{\"id\": 1}]}", "{\"subs\": [{\"id\": 1, \"c\": 2}, {\"id\": 3}]}", &s);
	expect_lines(&s, "added .subs[].c absent>number", NULL);
}
END_TEST

START_TEST(test_shape_keeps_at_most_max_paths)
{
	json_object *x = J("{\"a\": 1, \"b\": {\"c\": 2, \"d\": 3}}");
	sm_json_shape s = { 0 };

	ck_assert(!sm_json_shape_of(x, 2, &s));
	ck_assert_int_eq(s.n, 2);
	ck_assert(sm_json_shape_of(x, 4, &s));
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_ge(sm_json_shape_find(&s, ".b.d"), 0);
	ck_assert_int_eq(s.items[sm_json_shape_find(&s, ".b.d")].parent, sm_json_shape_find(&s, ".b"));
	ck_assert_int_eq(sm_json_shape_find(&s, ".x"), -1);
	sm_json_shape_clear(&s);
	json_object_put(x);
}
END_TEST

/* ---------------------------------------------------------------- struct */

START_TEST(test_struct_decode_keeps_initial_keys_only)
{
	json_object *initial = J("{\"id\": null, \"count\": 0, \"tags\": []}");
	json_object *snap = J("{\"id\": \"x\", \"count\": 3, \"gone\": true}");
	json_object *want = J("{\"id\": \"x\", \"count\": 3, \"tags\": []}");
	json_object *got = sm_struct_decode(initial, snap);

	ck_assert(sm_jsonb_equal(got, want));
	json_object_put(got);
	json_object_put(want);
	json_object_put(snap);
	json_object_put(initial);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_numbers_compare_by_exact_decimal_value);
	tcase_add_test(tc, test_numbers_never_round_through_a_double);
	tcase_add_test(tc, test_jsonb_equality_ignores_key_order_only);
	tcase_add_test(tc, test_diff_names_each_differing_path_with_both_values);
	tcase_add_test(tc, test_diff_tells_absent_keys_from_null_ones);
	tcase_add_test(tc, test_diff_reports_arrays_of_other_lengths_whole);
	tcase_add_test(tc, test_diff_notes_an_integer_against_a_float_without_counting_it);
	tcase_add_test(tc, test_diff_quotes_keys_that_are_not_identifiers);
	tcase_add_test(tc, test_diff_of_equal_values_finds_nothing);
	tcase_add_test(tc, test_shape_reports_added_removed_and_retyped_keys_once);
	tcase_add_test(tc, test_shape_leaves_out_what_is_below_a_change);
	tcase_add_test(tc, test_shape_ignores_arrays_gaining_or_losing_elements);
	tcase_add_test(tc, test_shape_keeps_at_most_max_paths);
	tcase_add_test(tc, test_struct_decode_keeps_initial_keys_only);
	return tl_run_case("verify_units", tc);
}
