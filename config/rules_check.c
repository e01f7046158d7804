/*
 * The analysis behind `snapmig check`: mistakes in rules that compile but
 * are probably wrong, found once when the rules are compiled (while it is
 * still known where each byte of a rule came from) and kept with the rules
 * (sm_rules_warnings).  Each names the place like a compile error does.
 *
 * What it finds:
 *  - entries that can never apply: a `when` whose value is known at load
 *    (false, 1 == 2, $type == "Other"), an earlier entry for the type whose
 *    `when` always holds or is the same condition;
 *  - branches of `if` that can never apply, statements after `fail`;
 *  - reads of state.x when x is not a field of initial (always null);
 *  - `x ?= v` on a field (a struct always has its fields: it never sets);
 *  - a statement that meets a field's initial value of the wrong kind
 *    (`+=` on a string, `append` to an object ...) when nothing assigns the
 *    field another value;
 *  - `in` against a constant that is neither a list nor an object;
 *  - an event type that looks like a module without the Elixir. prefix.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/json.h"

typedef struct checker {
	sm_rules *r;
	size_t cap;
	/* The rule string being looked at. */
	const char *src;
	const sm_text_origin *origin;
	int setting_line;
	const char *where, *part;
	const char *on;          /* the entry's type; NULL for a catch-all */
	/* Fields that some statement assigns a value of any kind. */
	char **assigned;
	size_t n_assigned, assigned_cap;
	bool assigned_all;       /* a computed first key: any field */
} checker;

static void warn_line(checker *k, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warn_line(checker *k, int line, const char *fmt, ...)
{
	sm_rules *r = k->r;
	va_list ap;
	char msg[700];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->warnings = sm_xgrow(r->warnings, &k->cap, r->n_warnings + 1, sizeof *r->warnings);
	r->warnings[r->n_warnings].line = line;
	r->warnings[r->n_warnings].text = sm_xstrdup(msg);
	r->n_warnings++;
}

/* A warning at byte pos of the current rule string. */
static void warn_at(checker *k, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warn_at(checker *k, size_t pos, const char *fmt, ...)
{
	va_list ap;
	char msg[600];
	int line, col;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rl_locate(k->src, k->origin, k->setting_line, pos, &line, &col);
	warn_line(k, line, "%s.%s, col %d: %s", k->where, k->part, col, msg);
}

static bool is_field(const checker *k, const char *name)
{
	return json_object_object_get_ex(k->r->initial, name, NULL);
}

static void field_hint(const checker *k, const char *name, char *buf, size_t size)
{
	char *q = sm_xasprintf("%s?", name);

	buf[0] = '\0';
	if (is_field(k, q))
		snprintf(buf, size, " (did you mean %s?)", name);
	free(q);
}

/* "a string", "a list", "an object" ... */
static const char *kind_of(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_int:
	case json_type_double: return "a number";
	case json_type_string: return "a string";
	case json_type_array: return "a list";
	case json_type_object: return "an object";
	}
	return "a value";
}

/* ------------------------------------------------ values known at load */

/* The value of e when it is known when the file is loaded: *known false
 * otherwise.  Borrowed (or the entry's type for $type). */
static json_object *known_value(const rl_expr *e, json_object *type, bool *known)
{
	*known = true;
	if (e->kind == E_CONST)
		return e->value;
	if (e->kind == E_ROOT && e->root == R_TYPE && type)
		return type;
	*known = false;
	return NULL;
}

/* 1: always holds, 0: never, -1: depends on the event or the state. */
static int known_cond(checker *k, const rl_cond *c, json_object *type)
{
	json_object *a, *b;
	bool ka, kb;
	int l, r;

	switch (c->kind) {
	case C_TRUTHY:
	case C_EXISTS:
		a = known_value(c->a, type, &ka);
		if (!ka)
			return -1;
		if (c->kind == C_EXISTS)
			return a != NULL;
		return a && !(json_object_is_type(a, json_type_boolean) && !json_object_get_boolean(a));
	case C_EQ:
	case C_NE:
		a = known_value(c->a, type, &ka);
		b = known_value(c->b, type, &kb);
		if (!ka || !kb)
			return -1;
		return sm_json_equal(a, b) == (c->kind == C_EQ);
	case C_IN:
		b = known_value(c->b, type, &kb);
		if (kb && b && !json_object_is_type(b, json_type_array) &&
		    !json_object_is_type(b, json_type_object)) {
			warn_at(k, c->b->pos, "in: the right side is %s, not a list or an object, so "
				"this fails every instance that gets here", kind_of(b));
			return -1;
		}
		if (kb && !b)
			return 0;  /* a missing list contains nothing */
		return -1;
	case C_NOT:
		l = known_cond(k, c->l, type);
		return l < 0 ? -1 : !l;
	case C_AND:
	case C_OR:
		l = known_cond(k, c->l, type);
		if (l == (c->kind == C_OR))
			return l;  /* decided by the left side, the right one is not evaluated */
		r = known_cond(k, c->r, type);
		return l < 0 ? -1 : r;
	}
	return -1;
}

/* ----------------------------------------------------- reads of state */

static void check_expr(checker *k, const rl_expr *e);

static void check_cond(checker *k, const rl_cond *c)
{
	if (!c)
		return;
	check_expr(k, c->a);
	check_expr(k, c->b);
	check_cond(k, c->l);
	check_cond(k, c->r);
}

static void check_expr(checker *k, const rl_expr *e)
{
	const char *name = NULL;
	char buf[64];

	if (!e)
		return;
	if (e->kind == E_FIELD && e->base->kind == E_ROOT && e->base->root == R_STATE)
		name = e->name;
	else if (e->kind == E_INDEX && e->base->kind == E_ROOT && e->base->root == R_STATE)
		name = rl_const_key(e->index, buf, sizeof buf);
	if (name && !is_field(k, name)) {
		char hint[160];

		field_hint(k, name, hint, sizeof hint);
		warn_at(k, e->pos, "state.%s is read, but %s is not a field of initial, so it is "
			"always null%s", name, name, hint);
	}
	check_expr(k, e->base);
	check_expr(k, e->index);
	for (size_t i = 0; i < e->n; i++)
		check_expr(k, e->items[i]);
}

/* ------------------------------------------------------- statements */

static const char *first_key(const rl_stmt *s, char *buf, size_t size)
{
	if (s->path.n == 0)
		return NULL;
	return s->path.segs[0].name ? s->path.segs[0].name : rl_const_key(s->path.segs[0].key, buf, size);
}

static void note_assigned(checker *k, const rl_block *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const rl_stmt *s = &b->stmts[i];
		char buf[64];
		const char *key = first_key(s, buf, sizeof buf);

		if (s->kind == S_IF) {
			note_assigned(k, &s->then_b);
			note_assigned(k, &s->else_b);
		} else if (s->path.n && !key) {
			k->assigned_all = true;
		} else if ((s->kind == S_SET || s->kind == S_PUTNEW) && s->path.n == 1) {
			k->assigned = sm_xgrow(k->assigned, &k->assigned_cap, k->n_assigned + 1,
					       sizeof *k->assigned);
			k->assigned[k->n_assigned++] = sm_xstrdup(key);
		}
	}
}

static bool assigned(const checker *k, const char *name)
{
	if (k->assigned_all)
		return true;
	for (size_t i = 0; i < k->n_assigned; i++)
		if (strcmp(k->assigned[i], name) == 0)
			return true;
	return false;
}

/* A statement against the kind of its field's initial value. */
static void check_kind(checker *k, const rl_stmt *s, const char *key)
{
	json_object *v = json_object_object_get(k->r->initial, key);
	const char *need = NULL;

	if (!v || assigned(k, key))
		return;
	if (s->path.n > 1) {
		if (!json_object_is_type(v, json_type_object))
			need = "an object";
	} else if (s->kind == S_ADD) {
		if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
			need = "a number";
	} else if (s->kind == S_APPEND || s->kind == S_PREPEND) {
		if (!json_object_is_type(v, json_type_array))
			need = "a list";
	} else if (s->kind == S_MERGE) {
		if (!json_object_is_type(v, json_type_object))
			need = "an object";
	} else if (s->kind == S_REMOVE) {
		if (!json_object_is_type(v, json_type_array) && !json_object_is_type(v, json_type_object))
			need = "a list or an object";
	}
	if (need)
		warn_at(k, s->pos, "%s: %s is %s in initial, not %s, and nothing assigns it another "
			"value, so this fails", s->text, key, kind_of(v), need);
}

static void check_block(checker *k, const rl_block *b, json_object *type);

static void check_stmt(checker *k, const rl_stmt *s, json_object *type)
{
	char buf[64];
	const char *key = first_key(s, buf, sizeof buf);

	for (size_t i = 0; i < s->path.n; i++)
		check_expr(k, s->path.segs[i].key);
	check_expr(k, s->value);
	check_cond(k, s->cond);
	if (s->kind == S_IF) {
		int holds = known_cond(k, s->cond, type);

		if (holds == 1 && s->else_b.n)
			warn_at(k, s->pos, "%s: the condition always holds, so the else branch never applies",
				s->text);
		else if (holds == 0 && s->then_b.n)
			warn_at(k, s->pos, "%s: the condition never holds, so the then branch never applies",
				s->text);
		check_block(k, &s->then_b, type);
		check_block(k, &s->else_b, type);
		return;
	}
	if (s->kind == S_REMOVE)
		(void)known_cond(k, s->cond, type);
	if (!key || !is_field(k, key))
		return;
	if (s->kind == S_PUTNEW && s->path.n == 1) {
		const char *value = strstr(s->text, "?=");

		value = value ? value + 2 : "";
		while (*value == ' ')
			value++;
		warn_at(k, s->pos, "%s never sets %s: a field of the struct is always present "
			"(Map.put_new); to set it while it is null write %s = state.%s ?? %s",
			s->text, key, key, key, value);
	}
	check_kind(k, s, key);
}

static void check_block(checker *k, const rl_block *b, json_object *type)
{
	for (size_t i = 0; i < b->n; i++) {
		check_stmt(k, &b->stmts[i], type);
		if (b->stmts[i].kind == S_FAIL && i + 1 < b->n) {
			warn_at(k, b->stmts[i + 1].pos, "%s: never applies, it comes after fail",
				b->stmts[i + 1].text);
			break;
		}
	}
}

/* ---------------------------------------------------------- entries */

/* Looks like a module name without the Elixir. prefix: "Domain.X.Added". */
static bool missing_prefix(const char *on)
{
	return on[0] >= 'A' && on[0] <= 'Z' && strchr(on, '.') && strncmp(on, "Elixir.", 7) != 0;
}

/* Entries of one type (its own, or the catch-all ones) in order: an entry
 * after one whose when always holds, or that has the same when, never
 * applies.  holds[i]: what known_cond said of entry i's when. */
static void check_order(checker *k, const rl_type *t, bool catch_all, const int *holds,
			const sm_rules_input *in)
{
	for (size_t a = 0; a < t->n_entries; a++) {
		size_t i = t->entries[a];
		const rl_entry *en = &k->r->entries[i];
		char *text;

		if ((strcmp(en->on, RL_ANY_TYPE) == 0) != catch_all || !en->when)
			continue;
		text = rl_cond_text(en->when);
		for (size_t b = a + 1; b < t->n_entries; b++) {
			const rl_entry *later = &k->r->entries[t->entries[b]];
			int line = in->entries[t->entries[b]].line;
			char *other;

			if ((strcmp(later->on, RL_ANY_TYPE) == 0) != catch_all)
				continue;
			if (holds[i] == 1) {
				warn_line(k, line, "%s: never applies: %s handles %s first and its when "
					  "always holds", later->where, en->where, en->on);
				continue;
			}
			if (!later->when)
				continue;
			other = rl_cond_text(later->when);
			if (strcmp(text, other) == 0)
				warn_line(k, line, "%s: never applies: %s handles %s first with the same when",
					  later->where, en->where, en->on);
			free(other);
		}
		free(text);
	}
}

void rl_check(sm_rules *r, const sm_rules_input *in)
{
	checker k;
	int *holds = sm_xcalloc(r->n_entries + 1, sizeof *holds);

	memset(&k, 0, sizeof k);
	k.r = r;
	for (size_t i = 0; i < r->n_entries; i++)
		note_assigned(&k, &r->entries[i].body);
	for (size_t i = 0; i < r->n_entries; i++) {
		const rl_entry *en = &r->entries[i];
		const sm_rule_source *src = &in->entries[i];
		bool catch_all = strcmp(en->on, RL_ANY_TYPE) == 0;
		json_object *type = catch_all ? NULL : json_object_new_string(en->on);

		k.where = en->where;
		if (!catch_all && missing_prefix(en->on))
			warn_line(&k, en->line, "%s: on = \"%s\": Commanded stores event types as module "
				  "names with the Elixir. prefix (\"Elixir.%s\")", en->where, en->on, en->on);
		holds[i] = -1;
		if (en->when) {
			k.src = src->when;
			k.origin = src->when_origin;
			k.setting_line = en->when_line;
			k.part = "when";
			check_cond(&k, en->when);
			holds[i] = known_cond(&k, en->when, type);
			if (holds[i] == 0)
				warn_at(&k, 0, "never holds (its value is known when the file is loaded), "
					"so the entry never applies");
			else if (holds[i] == 1)
				warn_at(&k, 0, "always holds (its value is known when the file is loaded): "
					"the entry can do without it");
		}
		if (src->do_stmts) {
			k.src = src->do_stmts;
			k.origin = src->do_origin;
			k.setting_line = en->do_line;
			k.part = "do";
			check_block(&k, &en->body, type);
		}
		json_object_put(type);
	}
	for (size_t t = 0; t < r->n_types; t++)
		check_order(&k, &r->types[t], false, holds, in);
	if (r->any)
		check_order(&k, r->any, true, holds, in);
	free(holds);
	for (size_t i = 0; i < k.n_assigned; i++)
		free(k.assigned[i]);
	free(k.assigned);
	/* In the order of the file. */
	for (size_t i = 1; i < r->n_warnings; i++) {
		sm_rules_warning w = r->warnings[i];
		size_t j = i;

		while (j > 0 && r->warnings[j - 1].line > w.line) {
			r->warnings[j] = r->warnings[j - 1];
			j--;
		}
		r->warnings[j] = w;
	}
}
