/*
 * Where the bytes of a rule string are in the configuration file, so that
 * an error inside a `do` split over several lines names the line it is on.
 *
 * libconfig joins adjacent strings ("a; " "b") into one value and tells
 * only the line of the setting's name.  This module scans the file text
 * from that line the way libconfig 1.5's scanner reads it: the name, '='
 * or ':', then string literals separated by blanks and comments (#, //,
 * slash-star), with the escapes \" \\ \n \r \t \f \xHH, any other
 * backslash kept as it is, and line breaks inside the quotes kept too.
 * The decoded text must equal libconfig's value, byte for byte; otherwise
 * (or when anything else is unexpected) there is no origin and messages
 * fall back to the setting's line.
 */
#include <config.h>  /* autoconf's; "config.h" would find config/config.h */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_origin.h"
#include "util/alloc.h"
#include "util/hex.h"

typedef struct scan {
	const char *t;
	size_t len, i;
	int line;
	size_t line_start;       /* byte offset where the current line starts */
} scan;

static void step(scan *s)
{
	if (s->t[s->i] == '\n') {
		s->line++;
		s->line_start = s->i + 1;
	}
	s->i++;
}

/* Skips blanks and comments; false at the end of the text. */
static bool skip_blank(scan *s)
{
	while (s->i < s->len) {
		char c = s->t[s->i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
			step(s);
		} else if (c == '#' || (c == '/' && s->i + 1 < s->len && s->t[s->i + 1] == '/')) {
			while (s->i < s->len && s->t[s->i] != '\n')
				step(s);
		} else if (c == '/' && s->i + 1 < s->len && s->t[s->i + 1] == '*') {
			step(s);
			step(s);
			while (s->i < s->len && !(s->t[s->i] == '*' && s->i + 1 < s->len && s->t[s->i + 1] == '/'))
				step(s);
			if (s->i < s->len) {
				step(s);
				step(s);
			}
		} else {
			return true;
		}
	}
	return false;
}

/* Column (in characters, 1-based) of byte offset at, counted from byte
 * offset from, both on the current line. */
static int chars_between(const char *t, size_t from, size_t at)
{
	int col = 1;

	for (size_t k = from; k < at; k++)
		if (((unsigned char)t[k] & 0xC0) != 0x80)
			col++;
	return col;
}

typedef struct builder {
	char *text;
	int *line, *col;
	size_t n, cap;
} builder;

static void emit(builder *b, char c, int line, int col)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->text = sm_xrealloc(b->text, b->cap);
		b->line = sm_xrealloc(b->line, b->cap * sizeof *b->line);
		b->col = sm_xrealloc(b->col, b->cap * sizeof *b->col);
	}
	b->text[b->n] = c;
	b->line[b->n] = line;
	b->col[b->n] = col;
	b->n++;
}

static void builder_free(builder *b)
{
	free(b->text);
	free(b->line);
	free(b->col);
}

/* The string literals at s (after '=' or ':'); false when there are none
 * or one is not closed.  Columns count from the piece's opening quote
 * (1 = the first character inside it), or from the start of the line
 * after a line break inside the quotes. */
static bool read_strings(scan *s, builder *b, int *end_line, int *end_col)
{
	int pieces = 0;

	while (skip_blank(s) && s->t[s->i] == '"') {
		size_t base;

		step(s);
		base = s->i;  /* columns count from here: the piece, or its line */
		while (s->i < s->len && s->t[s->i] != '"') {
			int line = s->line, col = chars_between(s->t, base, s->i);
			char c = s->t[s->i];

			if (c == '\n') {  /* a raw line break inside the quotes */
				emit(b, c, line, col);
				step(s);
				base = s->i;
				continue;
			}
			if (c == '\\' && s->i + 1 < s->len) {
				char e = s->t[s->i + 1];

				if (e == 'x' && s->i + 3 < s->len && sm_hex_digit((unsigned char)s->t[s->i + 2]) >= 0 &&
				    sm_hex_digit((unsigned char)s->t[s->i + 3]) >= 0) {
					emit(b, (char)(sm_hex_digit((unsigned char)s->t[s->i + 2]) * 16 + sm_hex_digit((unsigned char)s->t[s->i + 3])), line, col);
					s->i += 4;
					continue;
				}
				if (strchr("\"\\nrtf", e)) {
					emit(b, e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e == 'f' ? '\f' : e,
					     line, col);
					s->i += 2;
					continue;
				}
			}
			emit(b, c, line, col);
			s->i++;
		}
		if (s->i >= s->len)
			return false;
		*end_line = s->line;
		*end_col = chars_between(s->t, base, s->i);
		step(s);  /* closing quote */
		pieces++;
	}
	return pieces > 0;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '*';
}

sm_text_origin *sm_text_origin_find(const char *file_text, size_t len, int line,
				    const char *name, const char *value)
{
	scan s = { file_text, len, 0, 1, 0 };
	size_t name_len = strlen(name), value_len = strlen(value);

	/* To the setting's line. */
	while (s.i < s.len && s.line < line)
		step(&s);
	while (s.i < s.len && s.line == line) {
		size_t at;

		if (!skip_blank(&s) || s.line != line)
			break;
		at = s.i;
		if (s.t[at] == '"') {  /* a string that is not our value: skip it */
			builder skip = { 0 };
			int el, ec;

			if (!read_strings(&s, &skip, &el, &ec)) {
				builder_free(&skip);
				return NULL;
			}
			builder_free(&skip);
			continue;
		}
		if (!is_name_char(s.t[at])) {
			step(&s);
			continue;
		}
		while (s.i < s.len && is_name_char(s.t[s.i]))
			step(&s);
		if (s.i - at != name_len || memcmp(s.t + at, name, name_len) != 0)
			continue;
		{
			scan after = s;
			builder b = { 0 };
			int end_line = 0, end_col = 0;

			if (skip_blank(&after) && (after.t[after.i] == '=' || after.t[after.i] == ':')) {
				step(&after);
				if (read_strings(&after, &b, &end_line, &end_col) && b.n == value_len &&
				    memcmp(b.text, value, value_len) == 0) {
					sm_text_origin *o = sm_xcalloc(1, sizeof *o);

					/* One past the end: just after the last character. */
					emit(&b, '\0', end_line, end_col);
					o->line = b.line;
					o->col = b.col;
					o->len = value_len;
					free(b.text);
					return o;
				}
			}
			builder_free(&b);
		}
	}
	return NULL;
}

void sm_text_origin_free(sm_text_origin *o)
{
	if (!o)
		return;
	free((int *)o->line);
	free((int *)o->col);
	free(o);
}

struct sm_source_files {
	char **paths;
	char **texts;            /* NULL when the file could not be read */
	size_t *lens;
	size_t n;
};

sm_source_files *sm_source_files_new(void)
{
	return sm_xcalloc(1, sizeof(sm_source_files));
}

void sm_source_files_free(sm_source_files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->n; i++) {
		free(files->paths[i]);
		free(files->texts[i]);
	}
	free(files->paths);
	free(files->texts);
	free(files->lens);
	free(files);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			text = sm_xrealloc(text, cap);
		}
		got = fread(text + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(text);
		text = NULL;
	} else {
		text[n] = '\0';
		*len = n;
	}
	fclose(f);
	return text;
}

sm_text_origin *sm_text_origin_in(sm_source_files *files, const char *path, int line,
				  const char *name, const char *value)
{
	size_t i;

	if (!files || !path || !value)
		return NULL;
	for (i = 0; i < files->n; i++)
		if (strcmp(files->paths[i], path) == 0)
			break;
	if (i == files->n) {
		files->paths = sm_xrealloc(files->paths, (i + 1) * sizeof *files->paths);
		files->texts = sm_xrealloc(files->texts, (i + 1) * sizeof *files->texts);
		files->lens = sm_xrealloc(files->lens, (i + 1) * sizeof *files->lens);
		files->paths[i] = sm_xstrdup(path);
		files->lens[i] = 0;
		files->texts[i] = read_all(path, &files->lens[i]);
		files->n++;
	}
	if (!files->texts[i])
		return NULL;
	return sm_text_origin_find(files->texts[i], files->lens[i], line, name, value);
}
