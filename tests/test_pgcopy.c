/*
 * The binary COPY decoder (engine/pgcopy.h) on messages built here byte by
 * byte: what it accepts, what it refuses, and that it touches nothing but
 * the byte after each field.  Pure: no server.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pgcopy.h"
#include "tests/testlib.h"

/* A message under construction (with room for libpq's terminator). */
typedef struct msg {
	char buf[512];
	size_t len;
} msg;

static void put(msg *m, const void *p, size_t n)
{
	ck_assert_uint_le(m->len + n, sizeof m->buf - 1);
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void put16(msg *m, int v)
{
	unsigned char b[2] = { (unsigned char)((unsigned)v >> 8), (unsigned char)v };

	put(m, b, 2);
}

static void put32(msg *m, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	put(m, b, 4);
}

static void header(msg *m, uint32_t ext)
{
	static const char sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };

	put(m, sig, sizeof sig);
	put32(m, 0);
	put32(m, ext);
	for (uint32_t i = 0; i < ext; i++)
		put(m, "x", 1);
}

/* A field: its length, then its bytes (NULL: a NULL field). */
static void field(msg *m, const char *bytes, size_t n)
{
	if (!bytes) {
		put32(m, UINT32_MAX);
		return;
	}
	put32(m, (uint32_t)n);
	put(m, bytes, n);
}

/* A fresh decoder for rows of `fields` fields, and the start of the first
 * message: the file header and the row's field count. */
static void first_row(sm_pgcopy *d, msg *m, int fields)
{
	sm_pgcopy_init(d, fields);
	m->len = 0;
	header(m, 0);
	put16(m, fields);
}

static enum sm_pgcopy_msg decode(sm_pgcopy *d, msg *m, sm_pgcopy_row *r)
{
	m->buf[m->len] = '\0';   /* as libpq terminates every message */
	return sm_pgcopy_decode(d, m->buf, m->len, r);
}

START_TEST(test_header_rows_and_trailer_decode)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 }, b = { .len = 0 }, t = { .len = 0 };

	first_row(&d, &a, 2);
	field(&a, "ab", 2);
	field(&a, "", 0);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_ROW);
	ck_assert_int_eq(r.len[0], 2);
	ck_assert_str_eq(r.val[0], "ab");
	ck_assert_int_eq(r.len[1], 0);
	ck_assert_str_eq(r.val[1], "");
	put16(&b, 2);
	field(&b, "xyz", 3);
	field(&b, "1", 1);
	ck_assert_int_eq(decode(&d, &b, &r), SM_PGCOPY_ROW);
	ck_assert_str_eq(r.val[0], "xyz");
	ck_assert_str_eq(r.val[1], "1");
	put16(&t, -1);
	ck_assert_int_eq(decode(&d, &t, &r), SM_PGCOPY_TRAILER);
	ck_assert(d.trailer_seen);
}
END_TEST

START_TEST(test_the_header_extension_is_skipped)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 };

	sm_pgcopy_init(&d, 1);
	header(&a, 5);
	put16(&a, 1);
	field(&a, "v", 1);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_ROW);
	ck_assert_str_eq(r.val[0], "v");
}
END_TEST

START_TEST(test_a_null_field_has_length_minus_one_and_reads_as_empty)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 };
	long long v = 7;

	first_row(&d, &a, 2);
	field(&a, NULL, 0);
	field(&a, "z", 1);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_ROW);
	ck_assert(sm_pgcopy_isnull(&r, 0));
	ck_assert_int_eq(r.len[0], -1);
	ck_assert_uint_eq(sm_pgcopy_length(&r, 0), 0);
	ck_assert_str_eq(r.val[0], "");
	ck_assert(!sm_pgcopy_int64(&r, 0, &v));
	ck_assert_int_eq(v, 7);
	ck_assert(!sm_pgcopy_isnull(&r, 1));
}
END_TEST

START_TEST(test_only_the_byte_after_each_field_is_written)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 }, before;

	first_row(&d, &a, 3);
	field(&a, "one", 3);
	field(&a, NULL, 0);
	field(&a, "three", 5);
	a.buf[a.len] = '\0';
	before = a;
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_ROW);
	for (size_t i = 0; i <= a.len; i++) {
		bool end = (i == (size_t)(r.val[0] - a.buf) + 3) || i == a.len;

		if (end)
			ck_assert_int_eq(a.buf[i], '\0');
		else
			ck_assert_msg(a.buf[i] == before.buf[i], "byte %zu changed", i);
	}
	ck_assert_str_eq(r.val[2], "three");
}
END_TEST

START_TEST(test_a_row_with_another_field_count_is_refused)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 };

	sm_pgcopy_init(&d, 2);
	header(&a, 0);
	put16(&a, 1);
	field(&a, "a", 1);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_BAD);
}
END_TEST

START_TEST(test_a_field_longer_than_the_message_is_refused)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 };

	first_row(&d, &a, 1);
	put32(&a, 4);
	put(&a, "abc", 3);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_BAD);
	/* A negative length other than -1 too. */
	a.len = 0;
	first_row(&d, &a, 1);
	put32(&a, 0xfffffffe);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_BAD);
}
END_TEST

START_TEST(test_bytes_after_the_last_field_are_refused)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 };

	first_row(&d, &a, 1);
	field(&a, "a", 1);
	put(&a, "!", 1);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_BAD);
}
END_TEST

START_TEST(test_a_first_message_without_the_signature_is_refused)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 }, b = { .len = 0 };

	sm_pgcopy_init(&d, 1);
	put16(&a, 1);
	field(&a, "a", 1);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_BAD);
	/* An extension longer than the message. */
	sm_pgcopy_init(&d, 1);
	header(&b, 0);
	b.len -= 4;
	put32(&b, 100);
	ck_assert_int_eq(decode(&d, &b, &r), SM_PGCOPY_BAD);
}
END_TEST

START_TEST(test_nothing_may_follow_the_trailer)
{
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 }, t = { .len = 0 }, b = { .len = 0 }, t2 = { .len = 0 };

	first_row(&d, &a, 1);
	field(&a, "a", 1);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_ROW);
	put16(&t, -1);
	put(&t, "x", 1);
	ck_assert_int_eq(decode(&d, &t, &r), SM_PGCOPY_BAD);
	t.len = 2;
	ck_assert_int_eq(decode(&d, &t, &r), SM_PGCOPY_TRAILER);
	put16(&b, 1);
	field(&b, "b", 1);
	ck_assert_int_eq(decode(&d, &b, &r), SM_PGCOPY_BAD);
	put16(&t2, -1);
	ck_assert_int_eq(decode(&d, &t2, &r), SM_PGCOPY_BAD);
}
END_TEST

START_TEST(test_typed_fields_need_exactly_their_size)
{
	static const char i8[8] = { 0, 0, 0, 1, 0, 0, 0, 2 };
	static const char neg[8] = { '\377', '\377', '\377', '\377', '\377', '\377', '\377', '\376' };
	static const char i4[4] = { 0, 0, 1, 0 };
	sm_pgcopy d;
	sm_pgcopy_row r;
	msg a = { .len = 0 };
	long long v;
	int k;

	first_row(&d, &a, 4);
	field(&a, i8, 8);
	field(&a, neg, 8);
	field(&a, i4, 4);
	field(&a, i8, 7);
	ck_assert_int_eq(decode(&d, &a, &r), SM_PGCOPY_ROW);
	ck_assert(sm_pgcopy_int64(&r, 0, &v));
	ck_assert_int_eq(v, 4294967298LL);
	ck_assert(sm_pgcopy_int64(&r, 1, &v));
	ck_assert_int_eq(v, -2);
	ck_assert(sm_pgcopy_int32(&r, 2, &k));
	ck_assert_int_eq(k, 256);
	ck_assert(!sm_pgcopy_int64(&r, 2, &v));
	ck_assert(!sm_pgcopy_int32(&r, 0, &k));
	ck_assert(!sm_pgcopy_int64(&r, 3, &v));
}
END_TEST

START_TEST(test_timestamps_print_as_iso_8601_with_microseconds)
{
	char buf[64];

	sm_pgcopy_timestamp(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "2000-01-01T00:00:00.000000Z");
	sm_pgcopy_timestamp(746535760699001LL, buf, sizeof buf);
	ck_assert_str_eq(buf, "2023-08-28T11:02:40.699001Z");
	sm_pgcopy_timestamp(-1, buf, sizeof buf);
	ck_assert_str_eq(buf, "1999-12-31T23:59:59.999999Z");
	/* Beyond year 9999: the slow path, same form. */
	sm_pgcopy_timestamp(252455616000000000LL, buf, sizeof buf);
	ck_assert_str_eq(buf, "10000-01-01T00:00:00.000000Z");
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, test_header_rows_and_trailer_decode);
	tcase_add_test(tc, test_the_header_extension_is_skipped);
	tcase_add_test(tc, test_a_null_field_has_length_minus_one_and_reads_as_empty);
	tcase_add_test(tc, test_only_the_byte_after_each_field_is_written);
	tcase_add_test(tc, test_a_row_with_another_field_count_is_refused);
	tcase_add_test(tc, test_a_field_longer_than_the_message_is_refused);
	tcase_add_test(tc, test_bytes_after_the_last_field_are_refused);
	tcase_add_test(tc, test_a_first_message_without_the_signature_is_refused);
	tcase_add_test(tc, test_nothing_may_follow_the_trailer);
	tcase_add_test(tc, test_typed_fields_need_exactly_their_size);
	tcase_add_test(tc, test_timestamps_print_as_iso_8601_with_microseconds);
	return tl_run_case("pgcopy", tc);
}
