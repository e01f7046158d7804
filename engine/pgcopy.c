/* PostgreSQL's binary COPY format, decoded; see pgcopy.h. */
#include "config.h"

#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/pgcopy.h"

/* The file header: signature, 32-bit flags, 32-bit extension length. */
static const char signature[11] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0' };
#define HEADER_LEN 19

/* Where a NULL field points. */
static const char null_field[1];

static uint32_t be32_at(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

void sm_pgcopy_init(sm_pgcopy *d, int fields)
{
	memset(d, 0, sizeof *d);
	d->fields = fields;
}

/* Skips the file header that precedes the first row; false when it is
 * not one. */
static bool skip_header(const char **p, const char *end)
{
	uint32_t ext;

	if (end - *p < HEADER_LEN || memcmp(*p, signature, sizeof signature) != 0)
		return false;
	ext = be32_at(*p + 15);
	if (ext > (uint32_t)(end - *p - HEADER_LEN))
		return false;
	*p += HEADER_LEN + ext;
	return true;
}

enum sm_pgcopy_msg sm_pgcopy_decode(sm_pgcopy *d, char *buf, size_t len, sm_pgcopy_row *row)
{
	const char *p = buf, *end = buf + len;
	int16_t fields;

	if (d->trailer_seen || d->fields < 1 || d->fields > SM_PGCOPY_MAX_FIELDS)
		return SM_PGCOPY_BAD;
	if (!d->header_seen) {
		if (!skip_header(&p, end))
			return SM_PGCOPY_BAD;
		d->header_seen = true;
	}
	if (end - p < 2)
		return SM_PGCOPY_BAD;
	fields = (int16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
	p += 2;
	if (fields == -1) {
		d->trailer_seen = p == end;
		return d->trailer_seen ? SM_PGCOPY_TRAILER : SM_PGCOPY_BAD;
	}
	if (fields != d->fields)
		return SM_PGCOPY_BAD;
	for (int i = 0; i < d->fields; i++) {
		uint32_t n;

		if (end - p < 4)
			return SM_PGCOPY_BAD;
		n = be32_at(p);
		p += 4;
		if (n == UINT32_MAX) {        /* -1: NULL */
			row->val[i] = null_field;
			row->len[i] = -1;
			continue;
		}
		if (n > (uint32_t)(end - p))
			return SM_PGCOPY_BAD;
		row->val[i] = p;
		row->len[i] = (int)n;
		p += n;
	}
	if (p != end)
		return SM_PGCOPY_BAD;
	/* The byte after a field is the next field's length, read by now, or
	 * the terminator after the message. */
	for (int i = 0; i < d->fields; i++)
		if (row->len[i] >= 0)
			buf[(row->val[i] - buf) + row->len[i]] = '\0';
	return SM_PGCOPY_ROW;
}

bool sm_pgcopy_isnull(const sm_pgcopy_row *row, int i)
{
	return row->len[i] < 0;
}

size_t sm_pgcopy_length(const sm_pgcopy_row *row, int i)
{
	return row->len[i] < 0 ? 0 : (size_t)row->len[i];
}

bool sm_pgcopy_int32(const sm_pgcopy_row *row, int i, int *out)
{
	if (row->len[i] != 4)
		return false;
	*out = (int)(int32_t)be32_at(row->val[i]);
	return true;
}

bool sm_pgcopy_int64(const sm_pgcopy_row *row, int i, long long *out)
{
	uint64_t v;

	if (row->len[i] != 8)
		return false;
	memcpy(&v, row->val[i], 8);
	*out = (long long)(int64_t)be64toh(v);
	return true;
}

void sm_pgcopy_timestamp(long long usec, char *buf, size_t size)
{
	time_t secs = (time_t)(usec / 1000000) + 946684800;
	long long frac = usec % 1000000;
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		secs -= 1;
	}
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, size, "%s", "?");
		return;
	}
	/* Once per event: digits by hand, snprintf showed in profiles. */
	if (size >= 28 && tm.tm_year >= -1900 && tm.tm_year + 1900 <= 9999) {
		static const char pattern[] = "0000-00-00T00:00:00.000000Z";
		const int fields[][3] = {  /* value, end offset, digits */
			{ tm.tm_year + 1900, 4, 4 }, { tm.tm_mon + 1, 7, 2 }, { tm.tm_mday, 10, 2 },
			{ tm.tm_hour, 13, 2 }, { tm.tm_min, 16, 2 }, { tm.tm_sec, 19, 2 },
			{ (int)frac, 26, 6 },
		};

		memcpy(buf, pattern, sizeof pattern);
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			int v = fields[i][0];

			for (int k = 1; k <= fields[i][2]; k++, v /= 10)
				buf[fields[i][1] - k] = (char)('0' + v % 10);
		}
		return;
	}
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
