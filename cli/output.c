/* Tables, sanitised text and JSON for the command line; see output.h. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "cli/output.h"
#include "util/alloc.h"

/* Decodes one UTF-8 sequence at s (len bytes available).  Returns its length
 * and the code point, or 0 for an invalid or truncated sequence. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values above U+10FFFF are invalid. */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Copies s, replacing invalid UTF-8 by U+FFFD and, when controls is set,
 * control characters by '?'. */
static char *clean_copy(const char *s, bool controls)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p);
	/* U+FFFD is 3 bytes and replaces at least one byte. */
	char *out = sm_xmalloc(len * 3 + 1);
	size_t o = 0;

	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, len, &cp);

		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			len--;
			continue;
		}
		if (controls && (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))) {
			out[o++] = '?';
		} else {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		len -= n;
	}
	out[o] = '\0';
	return out;
}

char *out_sanitize(const char *s)
{
	return clean_copy(s, true);
}

static size_t cp_width(uint32_t cp)
{
	int w = wcwidth((wchar_t)cp);

	/* Outside a UTF-8 locale wcwidth knows nothing beyond ASCII; one
	 * column is the best guess for a terminal that shows the text at all. */
	return w < 0 ? 1 : (size_t)w;
}

size_t out_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), w = 0;

	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, len, &cp);

		if (n == 0) {
			w++;
			p++;
			len--;
			continue;
		}
		w += cp_width(cp);
		p += n;
		len -= n;
	}
	return w;
}

char *out_truncate(const char *s, size_t max_cols)
{
	char *clean = out_sanitize(s);
	const unsigned char *p = (const unsigned char *)clean;
	size_t len = strlen(clean), w = 0;

	if (out_width(clean) <= max_cols)
		return clean;
	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, len, &cp);
		size_t cw = cp_width(cp);

		/* Room for the ellipsis (one column) must remain. */
		if (w + cw + 1 > max_cols)
			break;
		w += cw;
		p += n;
		len -= n;
	}
	{
		size_t keep = (size_t)((const char *)p - clean);
		char *out = sm_xmalloc(keep + 4);

		memcpy(out, clean, keep);
		memcpy(out + keep, "\xe2\x80\xa6", 4); /* "…" and NUL */
		free(clean);
		return out;
	}
}

void out_appendf(char **s, const char *sep, const char *fmt, ...)
{
	va_list ap;
	char *text, *next;

	va_start(ap, fmt);
	text = sm_xvasprintf(fmt, ap);
	va_end(ap);
	next = sm_xasprintf("%s%s%s", *s, **s ? sep : "", text);
	free(text);
	free(*s);
	*s = next;
}

/* ------------------------------------------------------------ tables */

struct out_table {
	size_t ncols;
	char **headers;
	char *align;
	char **cells;     /* row-major, nrows * ncols */
	size_t ncells, cap;
};

out_table *out_table_new(size_t ncols, const char *const *headers, const char *align)
{
	out_table *t = sm_xcalloc(1, sizeof *t);

	t->ncols = ncols;
	t->headers = sm_xcalloc(ncols, sizeof *t->headers);
	for (size_t i = 0; i < ncols; i++)
		t->headers[i] = out_sanitize(headers[i]);
	t->align = sm_xstrdup(align);
	return t;
}

static void table_push(out_table *t, char *owned)
{
	t->cells = sm_xgrow(t->cells, &t->cap, t->ncells + 1, sizeof *t->cells);
	t->cells[t->ncells++] = owned;
}

void out_table_cell(out_table *t, const char *text)
{
	table_push(t, out_sanitize(text));
}

void out_table_cellf(out_table *t, const char *fmt, ...)
{
	va_list ap;
	char *raw;

	va_start(ap, fmt);
	raw = sm_xvasprintf(fmt, ap);
	va_end(ap);
	table_push(t, out_sanitize(raw));
	free(raw);
}

void out_table_count(out_table *t, long long n)
{
	char buf[32];

	out_table_cell(t, sm_fmt_count(buf, sizeof buf, n));
}

/* Field f of the struct at base: its text (true), or its count. */
static bool field_read(const void *base, const out_field *f, const char **text,
		      long long *count)
{
	const char *at = (const char *)base + f->offset;

	if (f->text)
		memcpy(text, at, sizeof *text);
	else
		memcpy(count, at, sizeof *count);
	return f->text;
}

void out_table_fields(out_table *t, const void *base, const out_field *fields, size_t n)
{
	const char *text;
	long long count;

	for (size_t i = 0; i < n; i++) {
		if (field_read(base, &fields[i], &text, &count))
			out_table_cell(t, text);
		else
			out_table_count(t, count);
	}
}

size_t out_table_rows(const out_table *t)
{
	return t->ncells / t->ncols;
}

/* Appends s to the line, padded to width (right-aligned when align is 'r'). */
static void put_cell(char **line, size_t *len, size_t *cap, const char *s,
		     size_t width, char align)
{
	size_t w = out_width(s), n = strlen(s);
	size_t pad = width > w ? width - w : 0;

	*line = sm_xgrow(*line, cap, *len + n + pad + 3, 1);
	if (align == 'r') {
		memset(*line + *len, ' ', pad);
		*len += pad;
	}
	memcpy(*line + *len, s, n);
	*len += n;
	if (align != 'r') {
		memset(*line + *len, ' ', pad);
		*len += pad;
	}
	(*line)[*len] = '\0';
}

void out_table_print(const out_table *t, FILE *f)
{
	size_t *width = sm_xcalloc(t->ncols, sizeof *width);
	size_t nrows = t->ncells / t->ncols;
	char *line = NULL;
	size_t cap = 0;

	for (size_t c = 0; c < t->ncols; c++)
		width[c] = out_width(t->headers[c]);
	for (size_t i = 0; i < nrows * t->ncols; i++) {
		size_t w = out_width(t->cells[i]);

		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t r = 0; r <= nrows; r++) {
		size_t len = 0;

		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];

			if (c)
				put_cell(&line, &len, &cap, "  ", 2, 'l');
			put_cell(&line, &len, &cap, s, width[c], t->align[c] ? t->align[c] : 'l');
		}
		/* Padding of empty trailing cells would only be noise for grep. */
		while (len && line[len - 1] == ' ')
			len--;
		fwrite(line, 1, len, f);
		fputc('\n', f);
	}
	free(line);
	free(width);
}

void out_table_free(out_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		free(t->headers[i]);
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->headers);
	free(t->cells);
	free(t->align);
	free(t);
}

/* -------------------------------------------------------------- JSON */

json_object *out_json_string(const char *s)
{
	json_object *o;
	char *clean;

	if (!s)
		return NULL; /* json-c's representation of null */
	clean = clean_copy(s, false);
	o = json_object_new_string(clean);
	free(clean);
	return o;
}

json_object *out_json_strings(char *const *items, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, out_json_string(items[i]));
	return a;
}

void out_json_add(json_object *obj, const char *key, json_object *value)
{
	json_object_object_add(obj, key, value);
}

void out_json_add_fields(json_object *obj, const void *base,
			 const out_field *fields, size_t n)
{
	const char *text;
	long long count;

	for (size_t i = 0; i < n; i++) {
		if (field_read(base, &fields[i], &text, &count))
			out_json_add(obj, fields[i].name, out_json_string(text));
		else
			out_json_add(obj, fields[i].name, json_object_new_int64(count));
	}
}

json_object *out_json_records(const void *items, size_t n, size_t size,
			      const out_field *fields, size_t n_fields)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		out_json_add_fields(o, (const char *)items + i * size, fields, n_fields);
		json_object_array_add(arr, o);
	}
	return arr;
}

void out_json_print(FILE *f, json_object *obj, bool pretty)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
		    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
			    : JSON_C_TO_STRING_PLAIN);

	fputs(json_object_to_json_string_ext(obj, flags), f);
	fputc('\n', f);
}
