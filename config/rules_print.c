/*
 * The canonical text of compiled rules (sm_rules_canonical): what the
 * rules do, written from the syntax tree, so that whitespace, comments,
 * quoting, the split of strings over lines and the order of entries of
 * different event types do not change it, while any change that can change
 * a generated snapshot does.
 *
 * The text is itself rules source, one part per line:
 *
 *     snapmig-rules 2
 *     initial {"id":null,"l":[]}
 *     on "Elixir.X.Events.Added"
 *     when (event.n == 1)
 *     do state.id = event.id; append state.l (event.a ~ "x")
 *
 * Event types come in strcmp order, each with its entries in config order
 * (only the order within one type decides which entry applies).  Every
 * operator is parenthesised, every path starts at `state`, every name that
 * is not a plain identifier is a quoted key.  Constants are JSON as the
 * state would hold them (a decimal keeps its text, which the snapshot
 * keeps too).  The first line names the version of the language's
 * meaning: it changes whenever the same rules could produce another
 * snapshot (tests/fuzz_rules.c re-compiles this text and expects the same
 * text back).
 */
#include <config.h>  /* autoconf's; "config.h" would find config/config.h */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/strbuf.h"
#include "util/json.h"

/* Bump whenever evaluation changes what the same rules produce.
 * 2: keys made from numbers and `~` write numbers as Elixir's to_string/1. */
#define RL_SEMANTICS_VERSION 2

/* A JSON string literal (the rules read JSON escapes). */
static void put_string(sm_strbuf *b, const char *s, size_t n)
{
	sm_strbuf_puts(b, "\"");
	sm_strbuf_json_escaped(b, s, n);
	sm_strbuf_puts(b, "\"");
}

/* A name as the lexer reads it: [A-Za-z_][A-Za-z0-9_]*, maybe ending in '?'. */
static bool is_ident(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
		      (*s >= '0' && *s <= '9')))
			break;
	if (*s == '?')
		s++;
	return *s == '\0';
}

/* A member name after a value or a path: `.name` or `["any text"]`.  The
 * two spellings read the same member, so they print the same. */
static void put_member(sm_strbuf *b, const char *name, size_t n)
{
	if (strlen(name) == n && is_ident(name)) {
		sm_strbuf_puts(b, ".");
		sm_strbuf_puts(b, name);
		return;
	}
	sm_strbuf_puts(b, "[");
	put_string(b, name, n);
	sm_strbuf_puts(b, "]");
}

/* A constant as JSON.  Printing writes json-c's print buffer of the object
 * printed, so a private copy is printed. */
static void put_const(sm_strbuf *b, json_object *v)
{
	json_object *copy = sm_json_copy(v);
	size_t n;
	const char *s = sm_json_print(copy, &n);

	sm_strbuf_put(b, s, n);
	json_object_put(copy);
}

static const char *root_name(enum rl_root root)
{
	static const char *const names[] = {
#define RL_X_NAME(id, sigil, name) [R_##id] = sigil name,
		RL_ROOTS(RL_X_NAME)
#undef RL_X_NAME
	};

	return (size_t)root < sizeof names / sizeof names[0] ? names[root] : "?";
}

static bool is_const_string(const rl_expr *e)
{
	return e && e->kind == E_CONST && json_object_is_type(e->value, json_type_string);
}

static void put_expr(sm_strbuf *b, const rl_expr *e);

/* open, e's items separated by ", ", close: a list or a call's arguments. */
static void put_items(sm_strbuf *b, const char *open, const rl_expr *e, const char *close)
{
	sm_strbuf_puts(b, open);
	for (size_t i = 0; i < e->n; i++) {
		if (i)
			sm_strbuf_puts(b, ", ");
		put_expr(b, e->items[i]);
	}
	sm_strbuf_puts(b, close);
}

/* A key after a value or in a path: a constant string as a member, any
 * other expression in brackets. */
static void put_key(sm_strbuf *b, const rl_expr *key)
{
	if (is_const_string(key)) {
		put_member(b, json_object_get_string(key->value),
			   (size_t)json_object_get_string_len(key->value));
	} else {
		sm_strbuf_puts(b, "[");
		put_expr(b, key);
		sm_strbuf_puts(b, "]");
	}
}

static void put_expr(sm_strbuf *b, const rl_expr *e)
{
	switch (e->kind) {
	case E_CONST:
		put_const(b, e->value);
		return;
	case E_ROOT:
		sm_strbuf_puts(b, root_name(e->root));
		return;
	case E_FIELD:
		put_expr(b, e->base);
		put_member(b, e->name, strlen(e->name));
		return;
	case E_INDEX:
		put_expr(b, e->base);
		put_key(b, e->index);
		return;
	case E_LIST:
		put_items(b, "[", e, "]");
		return;
	case E_OBJECT:
		sm_strbuf_puts(b, "{");
		for (size_t i = 0; i < e->n; i++) {
			if (i)
				sm_strbuf_puts(b, ", ");
			put_string(b, e->keys[i], strlen(e->keys[i]));
			sm_strbuf_puts(b, ": ");
			put_expr(b, e->items[i]);
		}
		sm_strbuf_puts(b, "}");
		return;
	case E_CONCAT:
	case E_LISTCAT:
	case E_LISTSUB:
	case E_COALESCE:
		sm_strbuf_puts(b, "(");
		put_expr(b, e->items[0]);
		sm_strbuf_puts(b, e->kind == E_CONCAT ? " ~ " : e->kind == E_LISTCAT ? " ++ "
		       : e->kind == E_LISTSUB ? " -- " : " ?? ");
		put_expr(b, e->items[1]);
		sm_strbuf_puts(b, ")");
		return;
	case E_CALL:
		sm_strbuf_puts(b, rl_fn_name(e->fn));
		put_items(b, "(", e, ")");
		return;
	}
	sm_strbuf_puts(b, "?");
}

static void put_cond(sm_strbuf *b, const rl_cond *c)
{
	const char *op = NULL;

	switch (c->kind) {
	case C_TRUTHY:
		put_expr(b, c->a);
		return;
	case C_EXISTS:
		sm_strbuf_puts(b, "exists ");
		put_expr(b, c->a);
		return;
	case C_NOT:
		sm_strbuf_puts(b, "not ");
		put_cond(b, c->l);
		return;
	case C_EQ: op = " == "; break;
	case C_NE: op = " != "; break;
	case C_IN: op = " in "; break;
	case C_AND:
	case C_OR:
		sm_strbuf_puts(b, "(");
		put_cond(b, c->l);
		sm_strbuf_puts(b, c->kind == C_AND ? " and " : " or ");
		put_cond(b, c->r);
		sm_strbuf_puts(b, ")");
		return;
	}
	sm_strbuf_puts(b, "(");
	put_expr(b, c->a);
	sm_strbuf_puts(b, op ? op : " ? ");
	put_expr(b, c->b);
	sm_strbuf_puts(b, ")");
}

static void put_path(sm_strbuf *b, const rl_path *path)
{
	sm_strbuf_puts(b, "state");
	for (size_t i = 0; i < path->n; i++) {
		const rl_seg *s = &path->segs[i];

		if (s->name)
			put_member(b, s->name, strlen(s->name));
		else
			put_key(b, s->key);
	}
}

static void put_stmt(sm_strbuf *b, const rl_stmt *s);

static void put_block(sm_strbuf *b, const rl_block *blk)
{
	for (size_t i = 0; i < blk->n; i++) {
		if (i)
			sm_strbuf_puts(b, "; ");
		put_stmt(b, &blk->stmts[i]);
	}
}

static void put_stmt(sm_strbuf *b, const rl_stmt *s)
{
	const rl_stmt_word *w = rl_stmt_word_of(s->kind);

	if (!w->word) {  /* an assignment */
		put_path(b, &s->path);
		sm_strbuf_puts(b, s->kind == S_SET ? " = " : s->kind == S_PUTNEW ? " ?= " : " += ");
		put_expr(b, s->value);
		return;
	}
	sm_strbuf_puts(b, w->word);
	switch (w->operands) {
	case RL_OPS_NONE:
		return;
	case RL_OPS_IF:
		/* elif is else if: the same tree, so the same text */
		sm_strbuf_puts(b, " ");
		put_cond(b, s->cond);
		sm_strbuf_puts(b, " then ");
		put_block(b, &s->then_b);
		if (s->else_b.n) {
			sm_strbuf_puts(b, s->then_b.n ? " else " : "else ");
			put_block(b, &s->else_b);
		}
		sm_strbuf_puts(b, s->then_b.n || s->else_b.n ? " end" : "end");
		return;
	case RL_OPS_VALUE:
		sm_strbuf_puts(b, " ");
		put_expr(b, s->value);
		return;
	case RL_OPS_PATH:
	case RL_OPS_PATH_VALUE:
	case RL_OPS_PATH_WHERE:
		sm_strbuf_puts(b, " ");
		put_path(b, &s->path);
		break;
	}
	if (w->operands == RL_OPS_PATH_WHERE) {
		sm_strbuf_puts(b, " where ");
		put_cond(b, s->cond);
	} else if (s->value) {
		sm_strbuf_puts(b, " ");
		put_expr(b, s->value);
	}
}

static void put_entry(sm_strbuf *b, const rl_entry *en)
{
	sm_strbuf_puts(b, "on ");
	put_string(b, en->on, strlen(en->on));
	sm_strbuf_puts(b, "\n");
	if (en->when) {
		sm_strbuf_puts(b, "when ");
		put_cond(b, en->when);
		sm_strbuf_puts(b, "\n");
	}
	if (en->body.n) {
		sm_strbuf_puts(b, "do ");
		put_block(b, &en->body);
		sm_strbuf_puts(b, "\n");
	}
}

char *rl_cond_text(const rl_cond *c)
{
	sm_strbuf b = { NULL, 0, 0 };

	put_cond(&b, c);
	return b.s;
}

char *rl_canonical(const sm_rules *rules)
{
	sm_strbuf b = { NULL, 0, 0 };

	sm_strbuf_printf(&b, "snapmig-rules %d\n", RL_SEMANTICS_VERSION);
	sm_strbuf_puts(&b, "initial ");
	put_const(&b, rules->initial);
	sm_strbuf_puts(&b, "\n");
	for (size_t i = 0; i < rules->n_types; i++) {
		const rl_type *t = &rules->types[rules->sorted[i]];

		for (size_t k = 0; k < t->n_entries; k++) {
			const rl_entry *en = &rules->entries[t->entries[k]];

			if (en->on == t->name)  /* not the catch-all entries that follow */
				put_entry(&b, en);
		}
	}
	for (size_t k = 0; rules->any && k < rules->any->n_entries; k++)
		put_entry(&b, &rules->entries[rules->any->entries[k]]);
	return b.s;
}

const char *sm_rules_canonical(const sm_rules *rules)
{
	return rules->canonical;
}
