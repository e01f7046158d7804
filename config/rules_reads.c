/*
 * What the entries of each event type read of an event (sm_event_reads in
 * config/rules.h), found once at compile time by walking their `when`
 * conditions and `do` statements.  A rebuild builds only those members of
 * each event's data; reading members it did not ask for would see null,
 * so the walk errs on the side of "all": anything but a plain member name
 * or a constant string key makes the whole object needed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"

typedef struct reads_acc {
	bool all_data, metadata;
	char **names;
	size_t n, cap;
} reads_acc;

static void add_name(reads_acc *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], name) == 0)
			return;
	a->names = sm_xgrow(a->names, &a->cap, a->n + 1, sizeof *a->names);
	a->names[a->n++] = sm_xstrdup(name);
}

static bool is_root(const rl_expr *e, enum rl_root root)
{
	return e && e->kind == E_ROOT && e->root == root;
}

static void walk_expr(reads_acc *a, const rl_expr *e);

static void walk_cond(reads_acc *a, const rl_cond *c)
{
	if (!c)
		return;
	walk_expr(a, c->a);
	walk_expr(a, c->b);
	walk_cond(a, c->l);
	walk_cond(a, c->r);
}

static void walk_expr(reads_acc *a, const rl_expr *e)
{
	if (!e)
		return;
	switch (e->kind) {
	case E_CONST:
		return;
	case E_ROOT:
		if (e->root == R_EVENT)
			a->all_data = true;
		else if (e->root == R_META)
			a->metadata = true;
		return;
	case E_FIELD:
		if (is_root(e->base, R_EVENT))
			add_name(a, e->name);
		else
			walk_expr(a, e->base);
		return;
	case E_INDEX:
		if (is_root(e->base, R_EVENT) && e->index && e->index->kind == E_CONST &&
		    json_object_is_type(e->index->value, json_type_string) &&
		    strlen(json_object_get_string(e->index->value)) ==
			    (size_t)json_object_get_string_len(e->index->value)) {
			add_name(a, json_object_get_string(e->index->value));
			return;
		}
		walk_expr(a, e->base);
		walk_expr(a, e->index);
		return;
	case E_LIST:
	case E_OBJECT:
	case E_CONCAT:
	case E_LISTCAT:
	case E_LISTSUB:
	case E_COALESCE:
	case E_CALL:
		for (size_t i = 0; i < e->n; i++)
			walk_expr(a, e->items[i]);
		return;
	}
	a->all_data = true;  /* an expression kind this walk does not know */
}

static void walk_block(reads_acc *a, const rl_block *b);

static void walk_stmt(reads_acc *a, const rl_stmt *s)
{
	for (size_t i = 0; i < s->path.n; i++)
		walk_expr(a, s->path.segs[i].key);
	walk_expr(a, s->value);
	walk_cond(a, s->cond);
	walk_block(a, &s->then_b);
	walk_block(a, &s->else_b);
}

static void walk_block(reads_acc *a, const rl_block *b)
{
	for (size_t i = 0; i < b->n; i++)
		walk_stmt(a, &b->stmts[i]);
}

static int cmp_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void compute_type(const sm_rules *rules, rl_type *type)
{
	reads_acc a;

	memset(&a, 0, sizeof a);
	for (size_t k = 0; k < type->n_entries; k++) {
		const rl_entry *en = &rules->entries[type->entries[k]];

		walk_cond(&a, en->when);
		walk_block(&a, &en->body);
	}
	if (a.n)
		qsort(a.names, a.n, sizeof *a.names, cmp_name);
	type->read_names = a.names;
	type->reads.all_data = a.all_data;
	type->reads.metadata = a.metadata;
	type->reads.data.names = (const char *const *)a.names;
	type->reads.data.n = a.n;
}

void rl_compute_reads(sm_rules *rules)
{
	for (size_t t = 0; t < rules->n_types; t++)
		compute_type(rules, &rules->types[t]);
	if (rules->any)
		compute_type(rules, rules->any);
}

void rl_reads_free(rl_type *type)
{
	for (size_t i = 0; i < type->reads.data.n; i++)
		free(type->read_names[i]);
	free(type->read_names);
	type->read_names = NULL;
	type->reads.data.n = 0;
}

const sm_event_reads *sm_rules_reads(const sm_rules *rules, const char *event_type)
{
	const rl_type *t = rules && event_type ? rl_find_type(rules, event_type) : NULL;

	if (!t && rules && event_type)
		t = rules->any;
	return t ? &t->reads : NULL;
}
