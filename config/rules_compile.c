/*
 * Compiling a rules reducer (config/rules.h): `initial`, then each entry's
 * `when` and `do` through the parser (rules_parse.c), then the checks that
 * need the whole picture (every literal top-level key is a field of
 * initial), then the grouping of entries by event type.  Also the lookups
 * and the freeing of compiled rules.
 */
#include <config.h>  /* autoconf's; "config.h" would find config/config.h */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/json.h"

/* Where a rule string is, for messages: "file:line: where.part, col N: ...". */
typedef struct place {
	const char *src;
	const char *file;
	int line;                /* of the setting */
	const char *where;
	const char *part;        /* "when", "do" or NULL */
	const sm_text_origin *origin;  /* of each byte of src; NULL: unknown */
} place;

/* The origin of pl's text, when it matches the text. */
static const sm_text_origin *origin_of(const place *pl)
{
	return pl->origin && pl->origin->len == strlen(pl->src) ? pl->origin : NULL;
}

static int report(const place *pl, size_t pos, sm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int report(const place *pl, size_t pos, sm_error *err, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	int line, col;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rl_locate(pl->src, pl->origin, pl->line, pos, &line, &col);
	return sm_error_set_at(err, SM_ERR_CONFIG, pl->file, line, "%s%s%s, col %d: %s",
			       pl->where, pl->part ? "." : "", pl->part ? pl->part : "", col, msg);
}

void rl_locate(const char *src, const sm_text_origin *origin, int setting_line, size_t pos,
	       int *line, int *col)
{
	if (origin && origin->len == strlen(src) && pos <= origin->len) {
		*line = origin->line[pos];
		*col = origin->col[pos];
	} else {
		*line = setting_line;
		*col = rl_column(src, pos);
	}
}

/* Is text valid UTF-8?  Rule strings end up in snapshots. */
static bool valid_utf8(const char *s, size_t *bad)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (u[i]) {
		unsigned c = u[i];
		size_t n;
		unsigned cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			*bad = i;
			return false;
		}
		for (size_t k = 1; k <= n; k++) {
			if ((u[i + k] & 0xC0) != 0x80) {
				*bad = i;
				return false;
			}
			cp = (cp << 6) | (u[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF)) {
			*bad = i;
			return false;
		}
		i += n + 1;
	}
	return true;
}

static int check_text(const place *pl, sm_error *err)
{
	size_t bad;

	if (!valid_utf8(pl->src, &bad))
		return report(pl, bad, err, "invalid UTF-8");
	return SM_OK;
}

static int compile_initial(sm_rules *r, const place *pl, sm_error *err)
{
	rl_parser p;
	rl_expr *e;
	char msg[256];
	json_object *v = NULL;

	if (check_text(pl, err))
		return SM_ERR_CONFIG;
	rl_parser_init(&p, pl->src, origin_of(pl));
	p.constant = true;
	e = rl_parse_expr(&p);
	if (!p.failed && p.tok.kind != T_EOF)
		rl_parser_fail(&p, p.tok.pos, "unexpected %s after the initial value", rl_describe(&p.tok));
	rl_parser_done(&p);
	if (p.failed) {
		rl_expr_free(e);
		return report(pl, p.err_pos, err, "%s", p.msg);
	}
	if (rl_eval_const(e, &v, msg, sizeof msg) != 0) {
		rl_expr_free(e);
		return sm_error_set_at(err, SM_ERR_CONFIG, pl->file, pl->line, "%s: %s", pl->where, msg);
	}
	rl_expr_free(e);
	if (!json_object_is_type(v, json_type_object)) {
		sm_error_set_at(err, SM_ERR_CONFIG, pl->file, pl->line,
				"%s: the initial state must be an object { ... }, got %s",
				pl->where, sm_json_type_name(v));
		json_object_put(v);
		return SM_ERR_CONFIG;
	}
	r->initial = v;
	return SM_OK;
}

static char *trimmed_all(const char *src)
{
	size_t from = 0, to = strlen(src);

	while (from < to && strchr(" \t\n\r", src[from]))
		from++;
	while (to > from && strchr(" \t\n\r", src[to - 1]))
		to--;
	return sm_xstrndup(src + from, to - from);
}

static int compile_when(rl_entry *en, const place *pl, sm_error *err)
{
	rl_parser p;

	if (check_text(pl, err))
		return SM_ERR_CONFIG;
	rl_parser_init(&p, pl->src, origin_of(pl));
	en->when = rl_parse_cond(&p);
	if (!p.failed && p.tok.kind != T_EOF)
		rl_parser_fail(&p, p.tok.pos, "unexpected %s after the condition (combine conditions with and/or)",
			       rl_describe(&p.tok));
	rl_parser_done(&p);
	if (p.failed)
		return report(pl, p.err_pos, err, "%s", p.msg);
	en->when_text = trimmed_all(pl->src);
	return SM_OK;
}

/* ------------------------------------------------ fields of the struct */

/*
 * An aggregate's state is an Elixir struct: its top-level keys are the
 * keys of initial, always all of them.  `%S{s | x: v}` does not compile
 * for another key, the derived Jason.Encoder writes only fields, and a
 * snapshot is decoded into the struct, so a key outside initial would live
 * on in a full replay and vanish in a catch-up.  A literal path is checked
 * here; a computed one when it is applied (rules_eval.c).
 */

/* The text of a literal first segment, or NULL when it is computed. */
static const char *literal_key(const rl_seg *seg, char *buf, size_t size)
{
	if (seg->name)
		return seg->name;
	return rl_const_key(seg->key, buf, size);
}

/* "id, items, name" (shortened when long). */
static void field_list(json_object *initial, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	json_object_object_foreach(initial, k, v) {
		size_t n = strlen(k) + (used ? 2 : 0);

		(void)v;
		if (used + n + 6 > size) {
			memcpy(out + used, used ? ", ..." : "...", used ? 6 : 4);
			return;
		}
		snprintf(out + used, size - used, "%s%s", used ? ", " : "", k);
		used += n;
	}
	if (!used)
		snprintf(out, size, "none: initial is {}");
}

static int check_block_fields(const sm_rules *r, const rl_block *b, const place *pl, sm_error *err);

static int check_stmt_fields(const sm_rules *r, const rl_stmt *s, const place *pl, sm_error *err)
{
	char buf[64], fields[300], hint[160];
	const char *k;

	if (s->kind == S_IF)
		return check_block_fields(r, &s->then_b, pl, err) ? SM_ERR_CONFIG
			: check_block_fields(r, &s->else_b, pl, err);
	if (s->path.n == 0)
		return SM_OK;
	k = literal_key(&s->path.segs[0], buf, sizeof buf);
	if (!k)
		return SM_OK;
	if (!json_object_object_get_ex(r->initial, k, NULL)) {
		char *q = sm_xasprintf("%s?", k);

		hint[0] = '\0';
		if (json_object_object_get_ex(r->initial, q, NULL))
			snprintf(hint, sizeof hint, " (did you mean %s? -- the field's name ends in '?')", k);
		free(q);
		field_list(r->initial, fields, sizeof fields);
		return report(pl, s->path.segs[0].pos, err,
			      "%s is not a field of initial%s; the state's top-level keys are the aggregate "
			      "struct's fields, the keys of initial (%s)", k, hint, fields);
	}
	if (s->kind == S_DELETE && s->path.n == 1)
		return report(pl, s->pos, err,
			      "delete %s: a field of the aggregate struct cannot be deleted (set it to null)", k);
	return SM_OK;
}

static int check_block_fields(const sm_rules *r, const rl_block *b, const place *pl, sm_error *err)
{
	for (size_t i = 0; i < b->n; i++)
		if (check_stmt_fields(r, &b->stmts[i], pl, err))
			return SM_ERR_CONFIG;
	return SM_OK;
}

static int compile_do(const sm_rules *r, rl_entry *en, const place *pl, sm_error *err)
{
	rl_parser p;

	if (check_text(pl, err))
		return SM_ERR_CONFIG;
	rl_parser_init(&p, pl->src, origin_of(pl));
	rl_parse_block(&p, &en->body);
	rl_parser_done(&p);
	if (p.failed)
		return report(pl, p.err_pos, err, "%s", p.msg);
	return check_block_fields(r, &en->body, pl, err);
}

/* -------------------------------------------------------- event types */

static int cmp_type(const void *a, const void *b, void *ctx)
{
	const rl_type *types = ctx;

	return strcmp(types[*(const size_t *)a].name, types[*(const size_t *)b].name);
}

/* A small insertion sort: qsort_r is not portable and type counts are small. */
static void sort_types(sm_rules *r)
{
	for (size_t i = 0; i < r->n_types; i++)
		r->sorted[i] = i;
	for (size_t i = 1; i < r->n_types; i++) {
		size_t v = r->sorted[i], j = i;

		while (j > 0 && cmp_type(&r->sorted[j - 1], &v, r->types) > 0) {
			r->sorted[j] = r->sorted[j - 1];
			j--;
		}
		r->sorted[j] = v;
	}
}

/* bsearch over rules->sorted: an event type against the type an index names. */
typedef struct type_key {
	const char *name;
	const rl_type *types;
} type_key;

static int cmp_type_key(const void *key, const void *index)
{
	const type_key *k = key;

	return strcmp(k->name, k->types[*(const size_t *)index].name);
}

const rl_type *rl_find_type(const sm_rules *rules, const char *event_type)
{
	type_key key = { event_type, rules->types };
	const size_t *at = rules->n_types ? bsearch(&key, rules->sorted, rules->n_types,
						    sizeof *rules->sorted, cmp_type_key)
					  : NULL;

	return at ? &rules->types[*at] : NULL;
}

static void add_entry(rl_type *t, size_t i)
{
	t->entries = sm_xrealloc(t->entries, (t->n_entries + 1) * sizeof *t->entries);
	t->entries[t->n_entries++] = i;
}

/*
 * Groups the entries by event type.  Entries for on = "*" (catch-all, like
 * Elixir's `def apply(state, _event)`) come after all others in the file,
 * as the last clauses of apply/2 do: for a type, its own entries are tried
 * first, then the catch-all ones; a type without entries gets the
 * catch-all ones alone.
 */
static int group_types(sm_rules *r, const sm_rule_source *entries, const char *file, sm_error *err)
{
	size_t cap = 0;
	const sm_rule_source *first_any = NULL;

	for (size_t i = 0; i < r->n_entries; i++) {
		bool any = strcmp(entries[i].on, RL_ANY_TYPE) == 0;
		rl_type *t = NULL;

		if (any) {
			if (!r->any) {
				r->any = sm_xcalloc(1, sizeof *r->any);
				r->any->name = sm_xstrdup(RL_ANY_TYPE);
				first_any = &entries[i];
			}
			t = r->any;
		} else if (first_any) {
			return sm_error_set_at(err, SM_ERR_CONFIG, file, entries[i].line,
					       "%s: comes after the catch-all %s (on = \"*\"); Elixir tries "
					       "apply/2 clauses in order, so put the catch-all entries last",
					       entries[i].where, first_any->where);
		}
		for (size_t k = 0; k < r->n_types && !t; k++)
			if (strcmp(r->types[k].name, entries[i].on) == 0)
				t = &r->types[k];
		if (!t) {
			r->types = sm_xgrow(r->types, &cap, r->n_types + 1, sizeof *r->types);
			t = &r->types[r->n_types++];
			memset(t, 0, sizeof *t);
			t->name = sm_xstrdup(entries[i].on);
		} else if (t->n_entries) {
			/* An entry after one without `when` can never apply;
			 * like an Elixir clause that cannot match, it is a
			 * mistake worth stopping for. */
			size_t last = t->entries[t->n_entries - 1];

			if (!r->entries[last].when)
				return sm_error_set_at(err, SM_ERR_CONFIG, file, entries[i].line,
						       "%s: never applies: %s handles %s first and has no when",
						       entries[i].where, entries[last].where, entries[i].on);
		}
		add_entry(t, i);
		r->entries[i].on = t->name;
	}
	/* The catch-all entries follow each type's own. */
	for (size_t k = 0; r->any && k < r->n_types; k++)
		for (size_t i = 0; i < r->any->n_entries; i++)
			add_entry(&r->types[k], r->any->entries[i]);
	r->sorted = sm_xcalloc(r->n_types + 1, sizeof *r->sorted);
	r->type_names = sm_xcalloc(r->n_types + 1, sizeof *r->type_names);
	for (size_t i = 0; i < r->n_types; i++)
		r->type_names[i] = r->types[i].name;
	sort_types(r);
	rl_compute_reads(r);
	return SM_OK;
}

/* ----------------------------------------------------- compile & free */

static int compile_entry(sm_rules *r, rl_entry *en, const sm_rule_source *src, const char *file,
			 sm_error *err)
{
	place pl = { NULL, file, 0, src->where, NULL, NULL };

	en->where = sm_xstrdup(src->where);
	en->line = src->line;
	en->when_line = src->when_line ? src->when_line : src->line;
	en->do_line = src->do_line ? src->do_line : src->line;
	if (!src->on || !src->on[0])
		return sm_error_set_at(err, SM_ERR_CONFIG, file, src->line,
				       "%s: missing on (the event type)", src->where);
	if (src->when) {
		pl.src = src->when;
		pl.line = en->when_line;
		pl.part = "when";
		pl.origin = src->when_origin;
		if (compile_when(en, &pl, err))
			return SM_ERR_CONFIG;
	}
	if (src->do_stmts) {
		pl.src = src->do_stmts;
		pl.line = en->do_line;
		pl.part = "do";
		pl.origin = src->do_origin;
		if (compile_do(r, en, &pl, err))
			return SM_ERR_CONFIG;
	}
	return SM_OK;
}

int sm_rules_compile(const char *initial, int initial_line, const char *initial_where,
		     const sm_rule_source *entries, size_t n_entries,
		     const char *file, sm_rules **out, sm_error *err)
{
	sm_rules_input in = { initial, initial_line, initial_where, NULL, entries, n_entries, file };

	return sm_rules_compile_input(&in, out, err);
}

int sm_rules_compile_input(const sm_rules_input *in, sm_rules **out, sm_error *err)
{
	sm_rules *r = sm_xcalloc(1, sizeof *r);
	const sm_rule_source *entries = in->entries;
	size_t n_entries = in->n_entries;
	const char *file = in->file ? in->file : "";
	place pl = { in->initial ? in->initial : "{}", file, in->initial_line,
		     in->initial_where ? in->initial_where : "initial", NULL,
		     in->initial ? in->initial_origin : NULL };
	int rc;

	*out = NULL;
	r->file = sm_xstrdup(file);
	r->initial_line = in->initial_line;
	rc = compile_initial(r, &pl, err);
	r->entries = sm_xcalloc(n_entries + 1, sizeof *r->entries);
	r->n_entries = n_entries;
	for (size_t i = 0; rc == SM_OK && i < n_entries; i++)
		rc = compile_entry(r, &r->entries[i], &entries[i], file, err);
	if (rc == SM_OK)
		rc = group_types(r, entries, file, err);
	if (rc != SM_OK) {
		sm_rules_free(r);
		return rc;
	}
	r->canonical = rl_canonical(r);
	rl_check(r, in);
	*out = r;
	return SM_OK;
}

void sm_rules_free(sm_rules *rules)
{
	if (!rules)
		return;
	json_object_put(rules->initial);
	for (size_t i = 0; i < rules->n_entries; i++) {
		rl_entry *en = &rules->entries[i];

		rl_cond_free(en->when);
		free(en->when_text);
		rl_block_free(&en->body);
		free(en->where);
	}
	free(rules->entries);
	for (size_t i = 0; i < rules->n_types; i++) {
		free(rules->types[i].name);
		free(rules->types[i].entries);
		rl_reads_free(&rules->types[i]);
	}
	free(rules->types);
	if (rules->any) {
		free(rules->any->name);
		free(rules->any->entries);
		rl_reads_free(rules->any);
		free(rules->any);
	}
	free(rules->sorted);
	free(rules->type_names);
	free(rules->canonical);
	for (size_t i = 0; i < rules->n_warnings; i++)
		free(rules->warnings[i].text);
	free(rules->warnings);
	free(rules->file);
	free(rules);
}

json_object *sm_rules_initial(const sm_rules *rules)
{
	return sm_json_copy(rules->initial);
}

bool sm_rules_handles(const sm_rules *rules, const char *event_type)
{
	return rules && event_type && (rules->any || rl_find_type(rules, event_type) != NULL);
}

size_t sm_rules_warnings(const sm_rules *rules, const sm_rules_warning **out)
{
	*out = rules->warnings;
	return rules->n_warnings;
}

size_t sm_rules_entries(const sm_rules *rules)
{
	return rules->n_entries;
}

const char *sm_rules_file(const sm_rules *rules)
{
	return rules->file;
}

bool sm_rules_handles_any(const sm_rules *rules)
{
	return rules && rules->any;
}

size_t sm_rules_event_types(const sm_rules *rules, const char *const **types)
{
	*types = rules->type_names;
	return rules->n_types;
}
