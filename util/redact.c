/* Masking passwords in text; see redact.h. */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"
#include "util/hex.h"
#include "util/redact.h"

#define MAX_SECRETS 16

typedef struct secrets {
	char *item[MAX_SECRETS];
	size_t n;
} secrets;

static void add_secret(secrets *s, const char *p, size_t n)
{
	if (n == 0 || s->n >= MAX_SECRETS)
		return;
	if (n == strlen(SM_REDACTED) && memcmp(p, SM_REDACTED, n) == 0)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->item[i]) == n && memcmp(s->item[i], p, n) == 0)
			return;
	s->item[s->n++] = sm_xstrndup(p, n);
}

/* The raw text and, when it differs, its percent-decoded form (an invalid
 * escape stays as written: libpq refuses it and quotes the raw text). */
static void add_uri_secret(secrets *s, const char *p, size_t n)
{
	char *dec = sm_xmalloc(n + 1);
	size_t len = 0;

	add_secret(s, p, n);
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (p[i] == '%' && i + 2 < n &&
		    (hi = sm_hex_digit((unsigned char)p[i + 1])) >= 0 && (lo = sm_hex_digit((unsigned char)p[i + 2])) >= 0) {
			dec[len++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			dec[len++] = p[i];
		}
	}
	add_secret(s, dec, strnlen(dec, len));
	free(dec);
}

static bool is_uri(const char *ci)
{
	return strncmp(ci, "postgresql://", 13) == 0 || strncmp(ci, "postgres://", 11) == 0;
}

/* URI: the user info's password (up to the first '@', as libpq reads it,
 * and up to the last one before the path, in case the '@' was meant to be
 * part of it) and every `password=` of the query. */
static void uri_secrets(secrets *s, const char *ci)
{
	const char *p = strstr(ci, "://") + 3;
	const char *end = p + strcspn(p, "/?");
	const char *first = memchr(p, '@', (size_t)(end - p));
	const char *q;

	if (first) {
		const char *last = first, *colon;

		for (q = first; q < end; q++)
			if (*q == '@')
				last = q;
		colon = memchr(p, ':', (size_t)(first - p));
		if (colon) {
			add_uri_secret(s, colon + 1, (size_t)(first - colon - 1));
			add_uri_secret(s, colon + 1, (size_t)(last - colon - 1));
		}
	}
	q = strchr(p, '?');
	while (q) {
		const char *val, *stop;

		q++;
		stop = q + strcspn(q, "&");
		val = memchr(q, '=', (size_t)(stop - q));
		if (val && (size_t)(val - q) == 8 && strncasecmp(q, "password", 8) == 0)
			add_uri_secret(s, val + 1, (size_t)(stop - val - 1));
		q = *stop ? stop : NULL;
	}
}

/* key = value pairs: the value of every `password`, as written and with its
 * quotes and backslash escapes resolved. */
static void keyword_secrets(secrets *s, const char *ci)
{
	const char *p = ci;

	while (*p) {
		const char *key, *val;
		size_t klen;
		char *plain;
		size_t len = 0;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		klen = (size_t)(p - key);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			break;  /* malformed from here on: the generic pass still runs */
		p++;
		while (isspace((unsigned char)*p))
			p++;
		val = p;
		plain = sm_xmalloc(strlen(p) + 1);
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && p[1])
					p++;
				plain[len++] = *p++;
			}
			if (*p)
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p)) {
				if (*p == '\\' && p[1])
					p++;
				plain[len++] = *p++;
			}
		}
		if (klen == 8 && strncmp(key, "password", 8) == 0) {
			add_secret(s, val, (size_t)(p - val));
			add_secret(s, plain, len);
		}
		free(plain);
	}
}

/* Replaces every occurrence of needle in *text. */
static void replace_all(char **text, const char *needle)
{
	size_t nl = strlen(needle), rl = strlen(SM_REDACTED);
	size_t cap = 0, len = 0;
	char *out = NULL;
	const char *p = *text, *hit;

	if (!nl || !strstr(p, needle))
		return;
	while ((hit = strstr(p, needle)) != NULL) {
		out = sm_xgrow(out, &cap, len + (size_t)(hit - p) + rl + 1, 1);
		memcpy(out + len, p, (size_t)(hit - p));
		len += (size_t)(hit - p);
		memcpy(out + len, SM_REDACTED, rl);
		len += rl;
		p = hit + nl;
	}
	out = sm_xgrow(out, &cap, len + strlen(p) + 1, 1);
	strcpy(out + len, p);
	free(*text);
	*text = out;
}

/* Replaces text[from, to) by SM_REDACTED; returns the index after it. */
static size_t splice(char **text, size_t from, size_t to)
{
	size_t rl = strlen(SM_REDACTED), tail = strlen(*text + to);
	char *out;

	if (to - from == rl && memcmp(*text + from, SM_REDACTED, rl) == 0)
		return to;
	out = sm_xmalloc(from + rl + tail + 1);
	memcpy(out, *text, from);
	memcpy(out + from, SM_REDACTED, rl);
	memcpy(out + from + rl, *text + to, tail + 1);
	free(*text);
	*text = out;
	return from + rl;
}

/* Whatever still looks like a secret: `scheme://user:secret@host` and
 * `password=secret` (or `password = 'sec ret'`). */
static void generic_pass(char **text)
{
	size_t i = 0;

	while ((*text)[i]) {
		char *t = *text;

		if (strncmp(t + i, "://", 3) == 0) {
			size_t a = i + 3, end = a + strcspn(t + a, "/?#\"' \t\r\n");
			size_t at = 0, colon = 0;

			for (size_t k = a; k < end; k++)
				if (t[k] == '@')
					at = k;
			for (size_t k = a; at && k < at; k++)
				if (t[k] == ':') {
					colon = k;
					break;
				}
			if (at && colon && at > colon + 1) {
				i = splice(text, colon + 1, at);
				continue;
			}
			i += 3;
			continue;
		}
		if (strncasecmp(t + i, "password", 8) == 0) {
			size_t k = i + 8, v;

			while (t[k] == ' ' || t[k] == '\t')
				k++;
			if (t[k] != '=') {
				i += 8;
				continue;
			}
			k++;
			while (t[k] == ' ' || t[k] == '\t')
				k++;
			v = k;
			if (t[k] == '\'') {
				k++;
				while (t[k] && t[k] != '\'') {
					if (t[k] == '\\' && t[k + 1])
						k++;
					k++;
				}
				if (t[k])
					k++;
			} else {
				while (t[k] && !isspace((unsigned char)t[k]) && t[k] != '&' &&
				       t[k] != '"' && t[k] != ')' && t[k] != ',')
					k++;
			}
			i = k > v ? splice(text, v, k) : k;
			continue;
		}
		i++;
	}
}

static int longer_first(const void *a, const void *b)
{
	size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);

	return (x < y) - (x > y);
}

char *sm_redact(const char *text, const char *conninfo, const char *password)
{
	secrets s = { .n = 0 };
	char *out = sm_xstrdup(text ? text : "");

	if (password)
		add_secret(&s, password, strlen(password));
	if (conninfo) {
		while (isspace((unsigned char)*conninfo))
			conninfo++;
		if (is_uri(conninfo))
			uri_secrets(&s, conninfo);
		else
			keyword_secrets(&s, conninfo);
	}
	qsort(s.item, s.n, sizeof s.item[0], longer_first);
	for (size_t i = 0; i < s.n; i++) {
		replace_all(&out, s.item[i]);
		free(s.item[i]);
	}
	generic_pass(&out);
	return out;
}

void sm_redact_buf(char *buf, size_t size, const char *conninfo, const char *password)
{
	char *r;
	size_t n;

	if (!size)
		return;
	r = sm_redact(buf, conninfo, password);
	n = strlen(r);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)r[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(buf, r, n);
	buf[n] = '\0';
	free(r);
}
