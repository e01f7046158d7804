/*
 * The JSON parser behind util/json.h: one strict pass over the text that
 * checks everything json.h promises (RFC 8259 syntax, UTF-8, escapes and
 * surrogate pairs, 64-bit integers, nesting depth) and builds json-c
 * objects directly.
 *
 * Why not json-c's tokener: it works a character at a time through a
 * state machine, switches the numeric locale on every call (which takes a
 * process-wide lock, so rebuild workers queued on each other), accepts
 * things that are not JSON (NaN, single quotes) and turns lone surrogates
 * into U+FFFD, which needed a second pass to catch.  And a rebuild's rules
 * read a few members of each event: members the caller does not ask for
 * are checked here just as strictly but never built, which was most of the
 * cost of a rebuild.
 *
 * Containers are kept on an explicit stack, so a deep text costs heap
 * memory (bounded by SM_JSON_MAX_DEPTH), never the thread's stack.
 */
#include "config.h"

#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hex.h"
#include "util/json.h"

/* Buffers above this size are released after a parse: a worker should not
 * hold on to 100 MB after one huge event. */
#define KEEP_LIMIT ((size_t)1 << 20)

typedef struct frame {
	json_object *obj;       /* the container being built; NULL: only checked */
	bool is_object;
	bool build_member;      /* objects: whether the current member is built */
	size_t key_off;         /* objects: the current key in keys */
} frame;

struct sm_json_reader {
	locale_t c_numeric;     /* strtod_l: "1.5" whatever LC_NUMERIC says */
	frame *stack;
	size_t cap_stack;
	char *keys;             /* the open objects' current keys, NUL-terminated */
	size_t len_keys, cap_keys;
	char *buf;              /* unescaped strings, number texts */
	size_t cap_buf;
	bool last_duplicate_wins;
};

/* One parse: the reader's buffers plus the text and where we are. */
typedef struct parser {
	sm_json_reader *r;
	const unsigned char *t;
	size_t len;
	size_t i;
	sm_error *err;
	const sm_json_fields *fields; /* members of the top-level object to build */
	bool build;                   /* false: check only */
} parser;

sm_json_reader *sm_json_reader_new(void)
{
	sm_json_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (r->c_numeric == (locale_t)0) {
		free(r);
		return NULL;
	}
	return r;
}

void sm_json_reader_keep_last_duplicate(sm_json_reader *r, bool last)
{
	r->last_duplicate_wins = last;
}

void sm_json_reader_free(sm_json_reader *r)
{
	if (!r)
		return;
	freelocale(r->c_numeric);
	free(r->stack);
	free(r->keys);
	free(r->buf);
	free(r);
}

static void release_big_buffers(sm_json_reader *r)
{
	if (r->cap_keys > KEEP_LIMIT) {
		free(r->keys);
		r->keys = NULL;
		r->cap_keys = 0;
	}
	if (r->cap_buf > KEEP_LIMIT) {
		free(r->buf);
		r->buf = NULL;
		r->cap_buf = 0;
	}
}

static int fail_at(parser *p, size_t at, const char *why)
{
	return sm_error_set(p->err, SM_ERR_DATA, "invalid JSON at byte %zu: %s", at, why);
}

/* At the end of the text, or at an unexpected character: what belonged
 * there (why), or just "unexpected character" where a value was due. */
static int expected(parser *p, const char *why)
{
	if (p->i >= p->len)
		return fail_at(p, p->len, "unexpected end of JSON");
	return fail_at(p, p->i, why);
}

static int unexpected(parser *p)
{
	return expected(p, "unexpected character");
}

static void skip_ws(parser *p)
{
	while (p->i < p->len) {
		unsigned char c = p->t[p->i];

		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			return;
		p->i++;
	}
}

/* ------------------------------------------------------------- strings */

/* Length of the valid UTF-8 sequence at s[0..n) (s[0] >= 0x80), or 0 with
 * *bad set to the offset of the first byte that breaks it.  Overlong forms,
 * encoded surrogates and code points above U+10FFFF are invalid, as for
 * PostgreSQL and Elixir. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;

	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3;
	else {
		*bad = 0;
		return 0;
	}
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || s[k] < lo || s[k] > hi) {
			*bad = k;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

static long hex4(const unsigned char *s)
{
	long v = 0;

	for (int k = 0; k < 4; k++) {
		int h = sm_hex_digit(s[k]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

int sm_json_escape_byte(int c)
{
	switch (c) {
	case '"': case '\\': case '/': return c;
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return -1;
	}
}

long sm_json_unicode_escape(const char *s, size_t avail, size_t *width)
{
	const unsigned char *t = (const unsigned char *)s;
	long cp, lo;

	*width = 6;
	if (avail < 6 || (cp = hex4(t + 2)) < 0)
		return SM_JSON_UESC_BAD;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return SM_JSON_UESC_LONE;
	if (cp < 0xD800 || cp > 0xDBFF)
		return cp;
	if (avail < 12 || t[6] != '\\' || t[7] != 'u' || (lo = hex4(t + 8)) < 0xDC00 || lo > 0xDFFF)
		return SM_JSON_UESC_LONE;
	*width = 12;
	return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
}

/* The code point of the \u escape at t[i] (t[i] == '\\'), 0 on a malformed
 * escape; *width gets its length (6, or 12 for a surrogate pair). */
static long unicode_escape(parser *p, size_t i, size_t *width, int *rc)
{
	long cp = sm_json_unicode_escape((const char *)p->t + i, p->len - i, width);

	*rc = SM_OK;
	if (cp == SM_JSON_UESC_BAD) {
		*rc = fail_at(p, i, "invalid \\u escape");
		return 0;
	}
	if (cp == SM_JSON_UESC_LONE) {
		/* json-c would silently make it U+FFFD; jsonb and Elixir refuse it. */
		*rc = sm_error_set(p->err, SM_ERR_DATA,
				   "invalid JSON at byte %zu: %.6s is a lone UTF-16 surrogate",
				   i, (const char *)p->t + i);
		return 0;
	}
	return cp;
}

/* Characters that end the plain run of a string. */
static bool special(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/*
 * Checks the string at t[i] == '"' and moves past it.  *start and *end get
 * its raw content; *escaped whether it holds escapes (the content then
 * needs unescape()), *has_nul whether one of them is \u0000.
 */
static int scan_string(parser *p, size_t *start, size_t *end, bool *escaped, bool *has_nul)
{
	const unsigned char *t = p->t;
	size_t i = p->i + 1, len = p->len;
	int rc;

	*escaped = *has_nul = false;
	*start = i;
	for (;;) {
		unsigned char c;

		while (i < len && !special(t[i]))
			i++;
		if (i >= len)
			return fail_at(p, len, "unexpected end of JSON");
		c = t[i];
		if (c == '"')
			break;
		if (c == '\\') {
			size_t width = 2;

			if (i + 1 >= len)
				return fail_at(p, len, "unexpected end of JSON");
			if (t[i + 1] == 'u') {
				long cp = unicode_escape(p, i, &width, &rc);

				if (rc)
					return rc;
				if (cp == 0)
					*has_nul = true;
			} else if (sm_json_escape_byte(t[i + 1]) < 0) {
				return fail_at(p, i, "invalid escape in string");
			}
			*escaped = true;
			i += width;
			continue;
		}
		if (c < 0x20)
			return fail_at(p, i, "control character in string");
		{
			size_t bad, n = utf8_sequence(t + i, len - i, &bad);

			if (!n)
				return fail_at(p, i + bad, "invalid UTF-8");
			i += n;
		}
	}
	*end = i;
	p->i = i + 1;
	return SM_OK;
}

size_t sm_utf8_put(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Writes the unescaped content of a checked string (t[start..end)) to out,
 * which has room for end - start bytes (no escape grows); returns the
 * length. */
static size_t unescape(const unsigned char *t, size_t start, size_t end, char *out)
{
	size_t o = 0;

	for (size_t i = start; i < end;) {
		unsigned char c = t[i];

		if (c != '\\') {
			out[o++] = (char)c;
			i++;
			continue;
		}
		if (t[i + 1] == 'u') {
			/* Checked by scan_string: a code point, never an error. */
			size_t width;
			long cp = sm_json_unicode_escape((const char *)t + i, end - i, &width);

			o += sm_utf8_put(out + o, (unsigned long)cp);
			i += width;
			continue;
		}
		out[o++] = (char)sm_json_escape_byte(t[i + 1]);
		i += 2;
	}
	return o;
}

static char *buf_room(sm_json_reader *r, size_t n)
{
	r->buf = sm_xgrow(r->buf, &r->cap_buf, n, 1);
	return r->buf;
}

/* A string value at p->i: built when p->build. */
static int string_value(parser *p, bool build, json_object **out)
{
	size_t start, end, n;
	bool escaped, has_nul;
	int rc = scan_string(p, &start, &end, &escaped, &has_nul);

	if (rc || !build)
		return rc;
	if (!escaped) {
		*out = json_object_new_string_len((const char *)p->t + start, (int)(end - start));
	} else {
		char *b = buf_room(p->r, end - start + 1);

		n = unescape(p->t, start, end, b);
		*out = json_object_new_string_len(b, (int)n);
	}
	if (!*out)
		return sm_error_set(p->err, SM_ERR_NOMEM, "out of memory");
	return SM_OK;
}

/* An object key at p->i, pushed onto the key stack (NUL-terminated) when
 * build; *key_off gets its offset there. */
static int object_key(parser *p, bool build, size_t *key_off)
{
	sm_json_reader *r = p->r;
	size_t at = p->i, start, end, n;
	bool escaped, has_nul;
	int rc;

	if (at < p->len && p->t[at] == '\'')
		return fail_at(p, at, "single-quoted string");
	if (at >= p->len || p->t[at] != '"')
		return expected(p, "expected a quoted object key");
	rc = scan_string(p, &start, &end, &escaped, &has_nul);
	if (rc)
		return rc;
	if (has_nul)
		/* json-c keys are C strings and would be cut at the NUL:
		 * refuse rather than change the key. */
		return sm_error_set(p->err, SM_ERR_DATA, "object key at byte %zu contains \\u0000", at);
	*key_off = r->len_keys;
	if (!build)
		return SM_OK;
	r->keys = sm_xgrow(r->keys, &r->cap_keys, r->len_keys + (end - start) + 1, 1);
	if (escaped)
		n = unescape(p->t, start, end, r->keys + r->len_keys);
	else {
		n = end - start;
		memcpy(r->keys + r->len_keys, p->t + start, n);
	}
	r->keys[r->len_keys + n] = '\0';
	r->len_keys += n + 1;
	return SM_OK;
}

/* ------------------------------------------------------------- numbers */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A word where a value belongs: true, false, null, or an error that names
 * it (NaN, Infinity: json-c takes them, JSON does not). */
static int word_value(parser *p, bool build, json_object **out)
{
	size_t s = p->i, n;

	while (p->i < p->len && is_letter(p->t[p->i]))
		p->i++;
	n = p->i - s;
	if (n == 4 && memcmp(p->t + s, "true", 4) == 0) {
		if (build)
			*out = json_object_new_boolean(1);
	} else if (n == 5 && memcmp(p->t + s, "false", 5) == 0) {
		if (build)
			*out = json_object_new_boolean(0);
	} else if (n == 4 && memcmp(p->t + s, "null", 4) == 0) {
		*out = NULL;
	} else {
		return sm_error_set(p->err, SM_ERR_DATA, "invalid JSON at byte %zu: %.*s is not a JSON value",
				    s, (int)(n > 20 ? 20 : n), (const char *)p->t + s);
	}
	return SM_OK;
}

static size_t digits(const char *t, size_t len, size_t i)
{
	while (i < len && is_digit((unsigned char)t[i]))
		i++;
	return i;
}

enum sm_json_number_error sm_json_number_scan(const char *t, size_t len, size_t *i,
					      bool *integral)
{
	size_t k = *i;

	*integral = true;
	if (k < len && t[k] == '-')
		k++;
	*i = k;
	if (k >= len || !is_digit((unsigned char)t[k]))
		return SM_JNUM_NO_DIGIT;
	k = t[k] == '0' ? k + 1 : digits(t, len, k);
	*i = k;
	if (k < len && is_digit((unsigned char)t[k]))
		return SM_JNUM_LEADING_ZERO;
	if (k < len && t[k] == '.') {
		*integral = false;
		*i = ++k;
		if (k >= len || !is_digit((unsigned char)t[k]))
			return SM_JNUM_NO_FRACTION;
		k = digits(t, len, k);
	}
	if (k < len && (t[k] == 'e' || t[k] == 'E')) {
		*integral = false;
		if (++k < len && (t[k] == '+' || t[k] == '-'))
			k++;
		*i = k;
		if (k >= len || !is_digit((unsigned char)t[k]))
			return SM_JNUM_NO_EXPONENT;
		k = digits(t, len, k);
	}
	*i = k;
	return SM_JNUM_OK;
}

static int number_value(parser *p, bool build, json_object **out)
{
	const unsigned char *t = p->t;
	size_t s = p->i, i = p->i, len = p->len, digits_start, n;
	bool negative = t[i] == '-', integral;

	digits_start = negative ? s + 1 : s;
	switch (sm_json_number_scan((const char *)t, len, &i, &integral)) {
	case SM_JNUM_OK:
		break;
	case SM_JNUM_NO_DIGIT:
		if (i < len && is_letter(t[i])) {
			/* "-Infinity", "-NaN" */
			while (i < len && is_letter(t[i]))
				i++;
			n = i - s;
			return sm_error_set(p->err, SM_ERR_DATA,
					    "invalid JSON at byte %zu: %.*s is not a JSON value",
					    s, (int)(n > 20 ? 20 : n), (const char *)t + s);
		}
		p->i = i;
		return expected(p, "invalid number (no digit after '-')");
	case SM_JNUM_LEADING_ZERO:
		p->i = i;
		return expected(p, "invalid number (leading zero)");
	case SM_JNUM_NO_FRACTION:
		p->i = i;
		return expected(p, "invalid number (no digit after the point)");
	case SM_JNUM_NO_EXPONENT:
		p->i = i;
		return expected(p, "invalid number (no digit in the exponent)");
	}
	n = i - digits_start;  /* the integer's digits, when integral */
	p->i = i;
	if (integral) {
		/* Exact: int64, or uint64 above INT64_MAX; nothing is rounded. */
		uint64_t mag = 0;
		bool fits = n <= 20;

		for (size_t k = digits_start; fits && k < i; k++) {
			unsigned d = (unsigned)(t[k] - '0');

			if (mag > (UINT64_MAX - d) / 10)
				fits = false;
			else
				mag = mag * 10 + d;
		}
		if (negative && mag > (uint64_t)INT64_MAX + 1)
			fits = false;
		if (!fits) {
			size_t tn = i - s;

			if (tn > 60)
				return sm_error_set(p->err, SM_ERR_DATA,
						    "integer %.*s... (%zu digits) does not fit in 64 bits",
						    30, (const char *)t + s, tn);
			return sm_error_set(p->err, SM_ERR_DATA, "integer %.*s does not fit in 64 bits",
					    (int)tn, (const char *)t + s);
		}
		if (!build)
			return SM_OK;
		if (negative)
			*out = json_object_new_int64(mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN
										  : -(int64_t)mag);
		else if (mag > (uint64_t)INT64_MAX)
			*out = json_object_new_uint64(mag);
		else
			*out = json_object_new_int64((int64_t)mag);
	} else {
		char *b;

		if (!build)
			return SM_OK;
		b = buf_room(p->r, i - s + 1);
		memcpy(b, t + s, i - s);
		b[i - s] = '\0';
		/* The text is kept and printed as it was written (0.1, 1.50,
		 * 1e400); the double is only for arithmetic and comparison. */
		*out = json_object_new_double_s(strtod_l(b, NULL, p->r->c_numeric), b);
	}
	if (!*out)
		return sm_error_set(p->err, SM_ERR_NOMEM, "out of memory");
	return SM_OK;
}

/* --------------------------------------------------------------- values */

static int cmp_key_name(const void *key, const void *name)
{
	return strcmp(key, *(const char *const *)name);
}

static bool wanted(const sm_json_fields *f, const char *key)
{
	return f->n > 0 && bsearch(key, f->names, f->n, sizeof *f->names, cmp_key_name) != NULL;
}

/* Attaches a finished value to the open container on top of the stack
 * (which takes ownership), or drops it when that member is not built. */
static void attach(sm_json_reader *r, frame *f, json_object *v)
{
	if (!f->obj) {
		json_object_put(v);
		return;
	}
	if (f->is_object) {
		const char *key = r->keys + f->key_off;

		if (!f->build_member ||
		    (!r->last_duplicate_wins && json_object_object_get_ex(f->obj, key, NULL)))
			json_object_put(v);  /* not asked for, or a later duplicate */
		else
			/* First wins: the lookup above found no such key. */
			json_object_object_add_ex(f->obj, key, v, r->last_duplicate_wins
				? 0 : JSON_C_OBJECT_ADD_KEY_IS_NEW);
		r->len_keys = f->key_off;
	} else {
		json_object_array_add(f->obj, v);
	}
}

/* Whether the next value (a member or element of f, or the top level when
 * f is NULL) is built. */
static bool build_next(const parser *p, const frame *f)
{
	if (!f)
		return p->build;
	return f->obj && (!f->is_object || f->build_member);
}

/* Reads a member's key and ':' in the object on top of the stack. */
static int member_key(parser *p, frame *f, size_t depth)
{
	int rc;

	skip_ws(p);
	rc = object_key(p, f->obj != NULL, &f->key_off);
	if (rc)
		return rc;
	f->build_member = f->obj && (depth != 1 || !p->fields ||
				     wanted(p->fields, p->r->keys + f->key_off));
	skip_ws(p);
	if (p->i >= p->len || p->t[p->i] != ':')
		return expected(p, "expected ':' after the object key");
	p->i++;
	return SM_OK;
}

static void unwind(sm_json_reader *r, size_t depth, json_object *value)
{
	json_object_put(value);
	while (depth > 0)
		json_object_put(r->stack[--depth].obj);
	r->len_keys = 0;
}

static int parse(parser *p, json_object **out)
{
	sm_json_reader *r = p->r;
	size_t depth = 0;
	json_object *value = NULL;
	int rc = SM_OK;

	*out = NULL;
	r->len_keys = 0;
	for (;;) {
		frame *top = depth ? &r->stack[depth - 1] : NULL;
		bool build = build_next(p, top);
		unsigned char c;

		/* A value is due here. */
		skip_ws(p);
		if (p->i >= p->len) {
			rc = unexpected(p);
			break;
		}
		c = p->t[p->i];
		value = NULL;
		if (c == '{' || c == '[') {
			frame *f;

			if (depth >= SM_JSON_MAX_DEPTH) {
				rc = sm_error_set(p->err, SM_ERR_DATA, "nesting deeper than %d levels",
						  SM_JSON_MAX_DEPTH);
				break;
			}
			r->stack = sm_xgrow(r->stack, &r->cap_stack, depth + 1, sizeof *r->stack);
			f = &r->stack[depth++];
			f->is_object = c == '{';
			f->build_member = false;
			f->obj = !build ? NULL : f->is_object ? json_object_new_object()
							      : json_object_new_array();
			if (build && !f->obj) {
				rc = sm_error_set(p->err, SM_ERR_NOMEM, "out of memory");
				break;
			}
			p->i++;
			skip_ws(p);
			if (p->i < p->len && p->t[p->i] == (f->is_object ? '}' : ']')) {
				p->i++;
				value = f->obj;
				depth--;
			} else if (f->is_object) {
				if ((rc = member_key(p, f, depth)) != SM_OK)
					break;
				continue;
			} else {
				continue;
			}
		} else if (c == '"') {
			rc = string_value(p, build, &value);
		} else if (c == '-' || is_digit(c)) {
			rc = number_value(p, build, &value);
		} else if (is_letter(c)) {
			rc = word_value(p, build, &value);
		} else if (c == '\'') {
			rc = fail_at(p, p->i, "single-quoted string");
		} else {
			rc = unexpected(p);
		}
		if (rc)
			break;

		/* A value is complete: attach it and close what it completes. */
		for (;;) {
			frame *f;

			if (depth == 0) {
				skip_ws(p);
				if (p->i < p->len) {
					rc = unexpected(p);
					break;
				}
				*out = value;
				release_big_buffers(r);
				return SM_OK;
			}
			f = &r->stack[depth - 1];
			attach(r, f, value);
			value = NULL;
			skip_ws(p);
			if (p->i < p->len && p->t[p->i] == ',') {
				p->i++;
				if (f->is_object)
					rc = member_key(p, f, depth);
				break;
			}
			if (p->i < p->len && p->t[p->i] == (f->is_object ? '}' : ']')) {
				p->i++;
				value = f->obj;
				depth--;
				continue;
			}
			rc = expected(p, f->is_object ? "expected ',' or '}'" : "expected ',' or ']'");
			break;
		}
		if (rc)
			break;
	}
	unwind(r, depth, value);
	release_big_buffers(r);
	return rc;
}

/* ------------------------------------------------------------------ API */

static int run(sm_json_reader *r, const char *text, size_t len, const sm_json_fields *fields,
	       bool build, json_object **out, sm_error *err)
{
	parser p = { r, (const unsigned char *)text, len, 0, err, fields, build };
	const char *nul;

	*out = NULL;
	if (len > INT_MAX)
		return sm_error_set(err, SM_ERR_DATA, "JSON text too large (%zu bytes)", len);
	if (len == 0)
		return sm_error_set(err, SM_ERR_DATA, "empty JSON text");
	nul = memchr(text, '\0', len);
	if (nul)
		return sm_error_set(err, SM_ERR_DATA, "NUL byte in JSON text at byte %zu",
				    (size_t)(nul - text));
	return parse(&p, out);
}

int sm_json_reader_parse(sm_json_reader *r, const char *text, size_t len, json_object **out,
			 sm_error *err)
{
	return run(r, text, len, NULL, true, out, err);
}

int sm_json_reader_parse_fields(sm_json_reader *r, const char *text, size_t len,
				const sm_json_fields *fields, json_object **out, sm_error *err)
{
	return run(r, text, len, fields, true, out, err);
}

int sm_json_reader_check(sm_json_reader *r, const char *text, size_t len, sm_error *err)
{
	json_object *unused;

	return run(r, text, len, NULL, false, &unused, err);
}

int sm_json_parse(const char *text, size_t len, json_object **out, sm_error *err)
{
	sm_json_reader *r = sm_json_reader_new();
	int rc;

	*out = NULL;
	if (!r)
		return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
	rc = sm_json_reader_parse(r, text, len, out, err);
	sm_json_reader_free(r);
	return rc;
}
