/*
 * Fuzz target: the binary COPY decoder (engine/pgcopy.h) on the messages a
 * server could send.
 *
 * Input: the first byte gives the number of fields of a row (1 + b % 16),
 * the rest is a sequence of CopyData messages, each a 16-bit big-endian
 * length and that many bytes (a length past the end takes what is left).
 * Each message is decoded from a buffer of exactly len + 1 bytes (libpq's
 * terminator included), so that AddressSanitizer sees any read or write
 * past it.  Checked for every message:
 *  - a row's fields lie inside the message, each followed by a NUL, and
 *    the decoder changed no other byte;
 *  - typed reads succeed exactly for fields of their size;
 *  - with 7 fields (the rebuild's chunk query), the decoder agrees with
 *    the one it replaced (rebuild_worker.c's copy_message, kept below as
 *    the reference) on every message before the trailer: same verdict,
 *    same fields (differential fuzzing).
 * A mismatch abort()s so that libFuzzer reports it.
 */
#include "config.h"

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pgcopy.h"
#include "tests/fuzz.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_pgcopy: %s\n", what);
	abort();
}

/* ------------------------------------------ the reference (old decoder) */

#define REF_FIELDS 7

typedef struct ref_row {
	const char *val[REF_FIELDS];
	int len[REF_FIELDS];
} ref_row;

static int ref_be32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return (int)be32toh(v);
}

static const char ref_null[8];

/* 1 row, 0 trailer, -1 anything else (as rebuild_worker.c had it). */
static int ref_decode(bool *header_seen, char *buf, int len, ref_row *r)
{
	static const char signature[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };
	const char *p = buf, *end = buf + len;
	int16_t fields;

	if (!*header_seen) {
		int ext;

		if (len < 19 || memcmp(p, signature, sizeof signature) != 0)
			return -1;
		ext = ref_be32(p + 15);
		if (ext < 0 || ext > len - 19)
			return -1;
		p += 19 + ext;
		*header_seen = true;
	}
	if (end - p < 2)
		return -1;
	fields = (int16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
	p += 2;
	if (fields == -1)
		return p == end ? 0 : -1;
	if (fields != REF_FIELDS)
		return -1;
	for (int i = 0; i < REF_FIELDS; i++) {
		int n;

		if (end - p < 4)
			return -1;
		n = ref_be32(p);
		p += 4;
		if (n == -1) {
			r->val[i] = ref_null;
			r->len[i] = -1;
			continue;
		}
		if (n < 0 || n > end - p)
			return -1;
		r->val[i] = p;
		r->len[i] = n;
		p += n;
	}
	if (p != end)
		return -1;
	for (int i = 0; i < REF_FIELDS; i++)
		if (r->len[i] >= 0)
			buf[(r->val[i] - buf) + r->len[i]] = '\0';
	return 1;
}

/* ---------------------------------------------------------------- checks */

static void check_row(const char *buf, const char *orig, size_t len, int fields,
		      const sm_pgcopy_row *r)
{
	char *expect = malloc(len + 1);
	long long v;
	int k;

	if (!expect)
		abort();
	memcpy(expect, orig, len + 1);
	for (int i = 0; i < fields; i++) {
		if (r->len[i] < 0) {
			if (!sm_pgcopy_isnull(r, i) || sm_pgcopy_length(r, i) != 0 || r->val[i][0])
				fail("a NULL field does not read as NULL");
			continue;
		}
		if (r->val[i] < buf || r->val[i] + r->len[i] > buf + len)
			fail("a field lies outside the message");
		expect[(r->val[i] - buf) + r->len[i]] = '\0';
		if (sm_pgcopy_int64(r, i, &v) != (r->len[i] == 8) ||
		    sm_pgcopy_int32(r, i, &k) != (r->len[i] == 4))
			fail("a typed read disagrees with the field's size");
	}
	if (memcmp(expect, buf, len + 1) != 0)
		fail("the decoder changed bytes other than the field terminators");
	free(expect);
}

static void compare(int got, int ref, const sm_pgcopy_row *r, const ref_row *rr,
		    const char *buf, const char *rbuf)
{
	static const int verdict[] = { [SM_PGCOPY_ROW] = 1, [SM_PGCOPY_TRAILER] = 0,
				       [SM_PGCOPY_BAD] = -1 };

	if (verdict[got] != ref)
		fail("the decoder and the reference disagree on a message");
	if (got != SM_PGCOPY_ROW)
		return;
	for (int i = 0; i < REF_FIELDS; i++)
		if (r->len[i] != rr->len[i] ||
		    (r->len[i] >= 0 && r->val[i] - buf != rr->val[i] - rbuf))
			fail("the decoder and the reference disagree on a field");
}

int sm_fuzz_pgcopy(const uint8_t *data, size_t size)
{
	sm_pgcopy d;
	bool ref_header = false;
	int fields;

	if (size < 1)
		return 0;
	fields = 1 + data[0] % SM_PGCOPY_MAX_FIELDS;
	sm_pgcopy_init(&d, fields);
	for (size_t at = 1; at + 2 <= size;) {
		size_t len = ((size_t)data[at] << 8) | data[at + 1];
		char *buf, *orig, *rbuf;
		sm_pgcopy_row r;
		ref_row rr;
		bool before_trailer = !d.trailer_seen;
		enum sm_pgcopy_msg got;

		at += 2;
		if (len > size - at)
			len = size - at;
		buf = malloc(len + 1);
		orig = malloc(len + 1);
		rbuf = malloc(len + 1);
		if (!buf || !orig || !rbuf)
			abort();
		memcpy(buf, data + at, len);
		buf[len] = '\0';
		memcpy(orig, buf, len + 1);
		memcpy(rbuf, buf, len + 1);
		at += len;
		got = sm_pgcopy_decode(&d, buf, len, &r);
		if (got == SM_PGCOPY_ROW)
			check_row(buf, orig, len, fields, &r);
		if (fields == REF_FIELDS && before_trailer)
			compare(got, ref_decode(&ref_header, rbuf, (int)len, &rr), &r, &rr, buf, rbuf);
		free(buf);
		free(orig);
		free(rbuf);
	}
	return 0;
}

SM_FUZZ_TARGET(sm_fuzz_pgcopy)
