/* A growing string; see strbuf.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/strbuf.h"

void sm_strbuf_put(sm_strbuf *b, const char *text, size_t n)
{
	b->s = sm_xgrow(b->s, &b->cap, b->len + n + 1, 1);
	memcpy(b->s + b->len, text, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void sm_strbuf_puts(sm_strbuf *b, const char *text)
{
	sm_strbuf_put(b, text, strlen(text));
}

void sm_strbuf_printf(sm_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Formatted in place: measured first, then written after the text. */
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	b->s = sm_xgrow(b->s, &b->cap, b->len + (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sm_strbuf_json_escaped(sm_strbuf *b, const char *text, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			sm_strbuf_put(b, esc, 2);
		} else if (c < 0x20) {
			sm_strbuf_printf(b, "\\u%04x", c);
		} else {
			sm_strbuf_put(b, text + i, 1);
		}
	}
}
