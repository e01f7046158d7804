/*
 * Output of the command line: sanitised text, aligned tables measured by
 * display width, numbers with thousands separators, JSON documents.
 *
 * Strings that come from the database or the configuration may contain
 * anything; every cell of a table goes through out_sanitize, and every
 * JSON string through out_json_string (valid UTF-8 guaranteed).
 */
#ifndef SM_CLI_OUTPUT_H
#define SM_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

/* A copy of s (NULL → "") with control characters (C0, DEL, C1) replaced by
 * '?' and invalid UTF-8 by U+FFFD; caller frees. */
char *out_sanitize(const char *s);

/* Display columns of a sanitised UTF-8 string. */
size_t out_width(const char *s);

/* A sanitised copy cut to at most max_cols display columns, ending in "…"
 * when cut; caller frees. */
char *out_truncate(const char *s, size_t max_cols);

/* "1,234,567" into buf (at least 32 bytes); returns buf. */
const char *out_count(char *buf, size_t size, long long n);

/* "1:02:03" / "2:03" / "?" for a negative value; returns buf. */
const char *out_duration(char *buf, size_t size, double seconds);

/* ------------------------------------------------------------ tables */

typedef struct out_table out_table;

/* align: one char per column, 'l' or 'r'.  headers: ncols strings. */
out_table *out_table_new(size_t ncols, const char *const *headers, const char *align);
/* Appends a cell to the current row (a new row starts after ncols cells).
 * The text is sanitised and copied. */
void out_table_cell(out_table *t, const char *text);
void out_table_cellf(out_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_table_count(out_table *t, long long n);
size_t out_table_rows(const out_table *t);
/* Prints with two spaces between columns and no trailing blanks. */
void out_table_print(const out_table *t, FILE *f);
void out_table_free(out_table *t);

/* -------------------------------------------------------------- JSON */

/* A JSON string of s (NULL → JSON null), invalid UTF-8 replaced. */
json_object *out_json_string(const char *s);
/* Adds key: value to obj (value ownership moves into obj). */
void out_json_add(json_object *obj, const char *key, json_object *value);
/* Prints obj followed by a newline: pretty (documents on stdout) or on one
 * line (progress events).  Does not free obj. */
void out_json_print(FILE *f, json_object *obj, bool pretty);

#endif
