/*
 * A growing string, for code that writes text piece by piece (the
 * canonical rules text, JSON paths).  Its text is NUL-terminated as soon as
 * anything was put (s is NULL before); the owner frees s.
 */
#ifndef SM_UTIL_STRBUF_H
#define SM_UTIL_STRBUF_H

#include <stddef.h>

typedef struct sm_strbuf {
	char *s;
	size_t len, cap;
} sm_strbuf;

/* Appends text[0..n) (which may hold NUL bytes). */
void sm_strbuf_put(sm_strbuf *b, const char *text, size_t n);
/* Appends the string text. */
void sm_strbuf_puts(sm_strbuf *b, const char *text);
void sm_strbuf_printf(sm_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text[0..n) as the inside of a JSON string literal: '"' and '\'
 * escaped by a backslash, bytes below 0x20 as \u00XX, every other byte as
 * it is (UTF-8 passes through). */
void sm_strbuf_json_escaped(sm_strbuf *b, const char *text, size_t n);

#endif
