/* jsonb equality, differences and shapes of JSON values; see json_diff.h. */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/json.h"
#include "util/json_diff.h"
#include "util/strbuf.h"

/* ------------------------------------------------------------- numbers */

/* A number text as sign, significant digits (no leading or trailing
 * zeros) and the decimal exponent of the first of them: value =
 * 0.DIGITS x 10^exp.  Exponents beyond +-1e15 saturate, which no JSON text
 * a store can hold reaches with meaning. */
typedef struct decimal {
	int sign;              /* -1, 1; 0 for zero */
	const char *digits;    /* into a copy owned by the caller */
	size_t n;
	long long exp;
} decimal;

#define EXP_LIMIT 1000000000000000LL

/* Parses s (JSON number grammar, with the leniency of an optional '+' in
 * the exponent); false when it is not a number.  buf receives the digits. */
static bool parse_decimal(const char *s, char *buf, size_t size, decimal *d)
{
	const char *p = s;
	size_t n = 0;
	long long point = 0;        /* digits before the point, counted */
	long long e = 0;
	bool any = false, seen_nonzero = false;
	int esign = 1;

	memset(d, 0, sizeof *d);
	d->sign = 1;
	if (*p == '-') {
		d->sign = -1;
		p++;
	}
	for (; isdigit((unsigned char)*p); p++) {
		any = true;
		if (*p == '0' && !seen_nonzero)
			continue;
		seen_nonzero = true;
		point++;
		if (n + 1 < size)
			buf[n++] = *p;
	}
	if (*p == '.') {
		p++;
		for (; isdigit((unsigned char)*p); p++) {
			any = true;
			if (*p == '0' && !seen_nonzero) {
				point--;
				continue;
			}
			seen_nonzero = true;
			if (n + 1 < size)
				buf[n++] = *p;
		}
	}
	if (!any)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			esign = *p++ == '-' ? -1 : 1;
		if (!isdigit((unsigned char)*p))
			return false;
		for (; isdigit((unsigned char)*p); p++)
			if (e < EXP_LIMIT)
				e = e * 10 + (*p - '0');
	}
	if (*p)
		return false;
	while (n > 0 && buf[n - 1] == '0')
		n--;
	buf[n] = '\0';
	d->digits = buf;
	d->n = n;
	if (n == 0) {
		d->sign = 0;
		return true;
	}
	d->exp = point + esign * e;
	return true;
}

static int cmp_magnitude(const decimal *a, const decimal *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c;

	if (a->exp != b->exp)
		return a->exp < b->exp ? -1 : 1;
	c = memcmp(a->digits, b->digits, n);
	if (c)
		return c < 0 ? -1 : 1;
	return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
}

int sm_json_number_cmp(const char *a, const char *b)
{
	size_t la = strlen(a) + 1, lb = strlen(b) + 1;
	char *ba = sm_xmalloc(la), *bb = sm_xmalloc(lb);
	decimal da, db;
	bool oka = parse_decimal(a, ba, la, &da), okb = parse_decimal(b, bb, lb, &db);
	int c;

	if (!oka || !okb)
		c = oka == okb ? strcmp(a, b) : oka ? 1 : -1;
	else if (da.sign != db.sign)
		c = da.sign < db.sign ? -1 : 1;
	else
		c = da.sign * cmp_magnitude(&da, &db);
	free(ba);
	free(bb);
	return c;
}

static bool is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static bool numbers_equal(json_object *a, json_object *b)
{
	char ta[128], tb[128];

	if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
		return json_object_get_int64(a) == json_object_get_int64(b) &&
		       json_object_get_uint64(a) == json_object_get_uint64(b);
	/* A kept decimal text can be long (any precision): compare texts. */
	{
		const char *ka = json_object_is_type(a, json_type_double) ? json_object_get_userdata(a) : NULL;
		const char *kb = json_object_is_type(b, json_type_double) ? json_object_get_userdata(b) : NULL;

		if (!ka)
			ka = sm_json_number_text(a, ta, sizeof ta);
		if (!kb)
			kb = sm_json_number_text(b, tb, sizeof tb);
		return sm_json_number_cmp(ka, kb) == 0;
	}
}

/* ---------------------------------------------------------- equality */

static int key_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

bool sm_jsonb_equal(json_object *a, json_object *b)
{
	return sm_json_equal_by(a, b, numbers_equal);
}

/* ------------------------------------------------------------- paths */

static bool is_identifier(const char *key)
{
	if (!(isalpha((unsigned char)*key) || *key == '_'))
		return false;
	for (const char *p = key + 1; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return false;
	return true;
}

static void path_key(sm_strbuf *p, const char *key)
{
	if (is_identifier(key)) {
		sm_strbuf_put(p, ".", 1);
		sm_strbuf_puts(p, key);
		return;
	}
	sm_strbuf_put(p, ".[\"", 3);
	sm_strbuf_json_escaped(p, key, strlen(key));
	sm_strbuf_put(p, "\"]", 2);
}

size_t sm_json_path_key(char *buf, size_t len, size_t size, const char *key)
{
	sm_strbuf p = { NULL, 0, 0 };

	path_key(&p, key);
	if (len + p.len + 1 > size) {
		free(p.s);
		return size;
	}
	memcpy(buf + len, p.s, p.len + 1);
	free(p.s);
	return len + p.len;
}

static void path_index(sm_strbuf *p, size_t i)
{
	char b[32];
	int n = snprintf(b, sizeof b, "[%zu]", i);

	sm_strbuf_put(p, b, (size_t)n);
}

static const char *path_text(const sm_strbuf *p)
{
	return p->len ? p->s : ".";
}

/* -------------------------------------------------------------- diff */

typedef struct differ {
	sm_json_diff_fn fn;
	void *ctx;
	sm_strbuf exact, general;
	size_t found;
	bool stopped;
} differ;

static void report(differ *d, enum sm_json_diff_kind kind, json_object *a, json_object *b)
{
	if (kind != SM_DIFF_NUMBER_FORM)
		d->found++;
	if (!d->stopped && d->fn &&
	    !d->fn(d->ctx, kind, path_text(&d->exact), path_text(&d->general), a, b))
		d->stopped = true;
}

/* The keys of one or two objects, sorted and distinct. */
static const char **sorted_keys(json_object *a, json_object *b, size_t *n_out)
{
	size_t n = 0, cap = (size_t)json_object_object_length(a) +
			    (b ? (size_t)json_object_object_length(b) : 0) + 1;
	const char **keys = sm_xcalloc(cap, sizeof *keys);
	size_t w = 0;

	json_object_object_foreach(a, ka, va) {
		(void)va;
		keys[n++] = ka;
	}
	if (b) {
		json_object_object_foreach(b, kb, vb) {
			(void)vb;
			keys[n++] = kb;
		}
	}
	qsort(keys, n, sizeof *keys, key_cmp);
	for (size_t i = 0; i < n; i++)
		if (w == 0 || strcmp(keys[w - 1], keys[i]) != 0)
			keys[w++] = keys[i];
	*n_out = w;
	return keys;
}

static void diff_value(differ *d, json_object *a, json_object *b);

static void diff_objects(differ *d, json_object *a, json_object *b)
{
	size_t n, el = d->exact.len, gl = d->general.len;
	const char **keys = sorted_keys(a, b, &n);

	for (size_t i = 0; i < n; i++) {
		json_object *va = NULL, *vb = NULL;
		bool ina = json_object_object_get_ex(a, keys[i], &va);
		bool inb = json_object_object_get_ex(b, keys[i], &vb);

		path_key(&d->exact, keys[i]);
		path_key(&d->general, keys[i]);
		if (ina && inb)
			diff_value(d, va, vb);
		else
			report(d, ina ? SM_DIFF_ONLY_A : SM_DIFF_ONLY_B, va, vb);
		d->exact.len = el;
		d->general.len = gl;
		d->exact.s[el] = '\0';
		d->general.s[gl] = '\0';
	}
	free(keys);
}

static void diff_value(differ *d, json_object *a, json_object *b)
{
	if (is_number(a) && is_number(b)) {
		if (!numbers_equal(a, b))
			report(d, SM_DIFF_VALUE, a, b);
		else if (json_object_get_type(a) != json_object_get_type(b))
			report(d, SM_DIFF_NUMBER_FORM, a, b);
		return;
	}
	if (json_object_is_type(a, json_type_object) && json_object_is_type(b, json_type_object)) {
		diff_objects(d, a, b);
		return;
	}
	if (json_object_is_type(a, json_type_array) && json_object_is_type(b, json_type_array) &&
	    json_object_array_length(a) == json_object_array_length(b)) {
		size_t el = d->exact.len, gl = d->general.len;

		sm_strbuf_put(&d->general, "[]", 2);
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			path_index(&d->exact, i);
			diff_value(d, json_object_array_get_idx(a, i), json_object_array_get_idx(b, i));
			d->exact.len = el;
			d->exact.s[el] = '\0';
		}
		d->general.len = gl;
		d->general.s[gl] = '\0';
		return;
	}
	if (!sm_jsonb_equal(a, b))
		report(d, SM_DIFF_VALUE, a, b);
}

size_t sm_json_diff(json_object *a, json_object *b, sm_json_diff_fn fn, void *ctx)
{
	differ d;

	memset(&d, 0, sizeof d);
	d.fn = fn;
	d.ctx = ctx;
	sm_strbuf_put(&d.exact, "", 0);
	sm_strbuf_put(&d.general, "", 0);
	diff_value(&d, a, b);
	free(d.exact.s);
	free(d.general.s);
	return d.found;
}

/* ------------------------------------------------------------- shapes */

unsigned sm_json_type_bit(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return SM_JT_NULL;
	case json_type_boolean: return SM_JT_BOOLEAN;
	case json_type_int:
	case json_type_double: return SM_JT_NUMBER;
	case json_type_string: return SM_JT_STRING;
	case json_type_array: return SM_JT_ARRAY;
	case json_type_object: return SM_JT_OBJECT;
	}
	return 0;
}

const char *sm_json_type_bits_name(unsigned bits, char *buf, size_t size)
{
	static const char *const names[] = { "null", "boolean", "number", "string", "array", "object" };
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (int i = 0; i < 6; i++) {
		if (!(bits & (1u << i)))
			continue;
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
					len ? "|" : "", names[i]);
		if (len >= size)
			break;
	}
	if (!bits && size)
		snprintf(buf, size, "absent");
	return buf;
}

typedef struct shaper {
	sm_json_shape *shape;
	size_t max;
	bool complete;
	sm_strbuf p;
	int *slots;            /* hash table of entry index + 1, 0 = empty */
	size_t n_slots;        /* a power of two, at least twice the entries */
} shaper;

static size_t hash_text(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void rehash(shaper *s)
{
	size_t n = s->n_slots ? s->n_slots * 2 : 64;

	free(s->slots);
	s->slots = sm_xcalloc(n, sizeof *s->slots);
	s->n_slots = n;
	for (size_t i = 0; i < s->shape->n; i++) {
		size_t h = hash_text(s->shape->items[i].path) & (n - 1);

		while (s->slots[h])
			h = (h + 1) & (n - 1);
		s->slots[h] = (int)i + 1;
	}
}

/* The entry of the current path, added when new (-1 when full). */
static int shape_entry(shaper *s, int parent, bool element)
{
	sm_json_shape *sh = s->shape;
	size_t h;

	if (2 * (sh->n + 1) > s->n_slots)
		rehash(s);
	for (h = hash_text(s->p.s) & (s->n_slots - 1); s->slots[h]; h = (h + 1) & (s->n_slots - 1))
		if (strcmp(sh->items[s->slots[h] - 1].path, s->p.s) == 0)
			return s->slots[h] - 1;
	if (sh->n >= s->max) {
		s->complete = false;
		return -1;
	}
	sh->items = sm_xgrow(sh->items, &sh->cap, sh->n + 1, sizeof *sh->items);
	sh->items[sh->n].path = sm_xstrdup(s->p.s);
	sh->items[sh->n].types = 0;
	sh->items[sh->n].parent = parent;
	sh->items[sh->n].element = element;
	s->slots[h] = (int)sh->n + 1;
	return (int)sh->n++;
}

static void shape_walk(shaper *s, json_object *v, int self);

static void shape_child(shaper *s, json_object *child, int parent, bool element)
{
	int e = shape_entry(s, parent, element);

	if (e < 0)
		return;
	s->shape->items[e].types |= sm_json_type_bit(child);
	shape_walk(s, child, e);
}

static void shape_walk(shaper *s, json_object *v, int self)
{
	size_t len = s->p.len;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, child) {
			path_key(&s->p, key);
			shape_child(s, child, self, false);
			s->p.len = len;
			s->p.s[len] = '\0';
		}
	} else if (json_object_is_type(v, json_type_array)) {
		sm_strbuf_put(&s->p, "[]", 2);
		for (size_t i = 0; i < json_object_array_length(v); i++)
			shape_child(s, json_object_array_get_idx(v, i), self, true);
		s->p.len = len;
		s->p.s[len] = '\0';
	}
}

typedef struct sort_item {
	const char *path;
	int old;
} sort_item;

static int sort_item_cmp(const void *x, const void *y)
{
	return strcmp(((const sort_item *)x)->path, ((const sort_item *)y)->path);
}

/* Sorts the entries by path and points each parent at its new place. */
static void shape_sort(sm_json_shape *shape)
{
	size_t n = shape->n;
	sort_item *order = sm_xcalloc(n + 1, sizeof *order);
	int *where = sm_xcalloc(n + 1, sizeof *where);
	sm_json_shape_entry *sorted = sm_xcalloc(n + 1, sizeof *sorted);

	for (size_t i = 0; i < n; i++) {
		order[i].path = shape->items[i].path;
		order[i].old = (int)i;
	}
	qsort(order, n, sizeof *order, sort_item_cmp);
	for (size_t i = 0; i < n; i++) {
		sorted[i] = shape->items[order[i].old];
		where[order[i].old] = (int)i;
	}
	for (size_t i = 0; i < n; i++)
		if (sorted[i].parent >= 0)
			sorted[i].parent = where[sorted[i].parent];
	free(shape->items);
	shape->items = sorted;
	shape->cap = n + 1;
	free(order);
	free(where);
}

bool sm_json_shape_of(json_object *v, size_t max_paths, sm_json_shape *shape)
{
	shaper s;

	sm_json_shape_clear(shape);
	memset(&s, 0, sizeof s);
	s.shape = shape;
	s.max = max_paths;
	s.complete = true;
	sm_strbuf_put(&s.p, "", 0);
	shape_walk(&s, v, -1);
	free(s.p.s);
	free(s.slots);
	shape_sort(shape);
	return s.complete;
}

void sm_json_shape_clear(sm_json_shape *shape)
{
	for (size_t i = 0; i < shape->n; i++)
		free(shape->items[i].path);
	free(shape->items);
	memset(shape, 0, sizeof *shape);
}

int sm_json_shape_find(const sm_json_shape *shape, const char *path)
{
	size_t lo = 0, hi = shape->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(shape->items[mid].path, path);

		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Whether entry i of x, or a path above it, is one whose change is
 * reported (or an array element gained or lost): its own change would
 * only repeat that news. */
static bool under_change(const sm_json_shape *x, int i, const sm_json_shape *other)
{
	for (int p = x->items[i].parent; p >= 0; p = x->items[p].parent) {
		int o = sm_json_shape_find(other, x->items[p].path);

		if (o < 0 || other->items[o].types != x->items[p].types)
			return true;
	}
	return false;
}

void sm_json_shape_compare(const sm_json_shape *a, const sm_json_shape *b,
			   sm_json_shape_fn fn, void *ctx)
{
	size_t i = 0, j = 0;

	/* A merge of the two sorted lists. */
	while (i < a->n || j < b->n) {
		int c = i >= a->n ? 1 : j >= b->n ? -1 : strcmp(a->items[i].path, b->items[j].path);

		if (c < 0) {
			if (!a->items[i].element && !under_change(a, (int)i, b))
				fn(ctx, SM_JSON_SHAPE_REMOVED, a->items[i].path, a->items[i].types, 0);
			i++;
		} else if (c > 0) {
			if (!b->items[j].element && !under_change(b, (int)j, a))
				fn(ctx, SM_JSON_SHAPE_ADDED, b->items[j].path, 0, b->items[j].types);
			j++;
		} else {
			if (a->items[i].types != b->items[j].types && !under_change(b, (int)j, a))
				fn(ctx, SM_JSON_SHAPE_RETYPED, b->items[j].path, a->items[i].types,
				   b->items[j].types);
			i++;
			j++;
		}
	}
}
