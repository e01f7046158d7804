/*
 * Output of the command line: sanitised text, aligned tables measured by
 * display width, JSON documents (numbers and durations: util/format.h).
 *
 * Strings that come from the database or the configuration may contain
 * anything; every cell of a table goes through out_sanitize, and every
 * JSON string through out_json_string (valid UTF-8 guaranteed).
 */
#ifndef SM_CLI_OUTPUT_H
#define SM_CLI_OUTPUT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "util/format.h"

/* A copy of s (NULL → "") with control characters (C0, DEL, C1) replaced by
 * '?' and invalid UTF-8 by U+FFFD; caller frees. */
char *out_sanitize(const char *s);

/* Display columns of a sanitised UTF-8 string. */
size_t out_width(const char *s);

/* A sanitised copy cut to at most max_cols display columns, ending in "…"
 * when cut; caller frees. */
char *out_truncate(const char *s, size_t max_cols);

/* Appends sep (unless *s is empty) and the formatted text to the malloc'ed
 * string *s: "a, b, c" built in a loop. */
void out_appendf(char **s, const char *sep, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ fields */

/* A member of an engine struct that a table or JSON shows (JSON under the
 * member's own name): a count (long long: OUT_FIELD(sm_copy_result,
 * replaced)) or a text (char *: OUT_TEXT(sm_run_record, outcome); NULL is
 * JSON's null, an empty cell). */
typedef struct out_field {
	const char *name;
	size_t offset;
	bool text;
} out_field;
/* (_Generic without a default refuses, at compile time, a member of
 * another type.) */
#define OUT_FIELD(type, member) \
	{ #member, offsetof(type, member) + \
		   0 * sizeof(char[_Generic(((type *)0)->member, long long: 1)]), false }
#define OUT_TEXT(type, member) \
	{ #member, offsetof(type, member) + \
		   0 * sizeof(char[_Generic(((type *)0)->member, char *: 1)]), true }

/* ------------------------------------------------------------ tables */

typedef struct out_table out_table;

/* align: one char per column, 'l' or 'r'.  headers: ncols strings. */
out_table *out_table_new(size_t ncols, const char *const *headers, const char *align);
/* Appends a cell to the current row (a new row starts after ncols cells).
 * The text is sanitised and copied. */
void out_table_cell(out_table *t, const char *text);
void out_table_cellf(out_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_table_count(out_table *t, long long n);
/* A cell for each field of fields[0..n) of the struct at base. */
void out_table_fields(out_table *t, const void *base, const out_field *fields, size_t n);
#define OUT_TABLE_FIELDS(t, base, fields) \
	out_table_fields(t, base, fields, sizeof fields / sizeof fields[0])
size_t out_table_rows(const out_table *t);
/* Prints with two spaces between columns and no trailing blanks. */
void out_table_print(const out_table *t, FILE *f);
void out_table_free(out_table *t);

/* -------------------------------------------------------------- JSON */

/* A JSON string of s (NULL → JSON null), invalid UTF-8 replaced. */
json_object *out_json_string(const char *s);
/* A JSON array of the strings items[0..n). */
json_object *out_json_strings(char *const *items, size_t n);
/* Adds key: value to obj (value ownership moves into obj). */
void out_json_add(json_object *obj, const char *key, json_object *value);
/* Adds each field of fields[0..n) of the struct at base to obj. */
void out_json_add_fields(json_object *obj, const void *base,
			 const out_field *fields, size_t n);
#define OUT_JSON_FIELDS(obj, base, fields) \
	out_json_add_fields(obj, base, fields, sizeof fields / sizeof fields[0])
/* A JSON array of one object per struct of items[0..n) (each of size
 * bytes): the fields of each, as out_json_add_fields adds them. */
json_object *out_json_records(const void *items, size_t n, size_t size,
			      const out_field *fields, size_t n_fields);
#define OUT_JSON_RECORDS(items, n, fields) \
	out_json_records(items, n, sizeof *(items), fields, sizeof fields / sizeof fields[0])

/* Prints obj followed by a newline: pretty (documents on stdout) or on one
 * line (progress events).  Does not free obj. */
void out_json_print(FILE *f, json_object *obj, bool pretty);

#endif
