/*
 * Parser of the rules language (grammar in man/snapmig.conf.5): `initial`,
 * `when` and `do` strings become a syntax tree once, at load time
 * (config/rules_compile.c puts the trees together).  The first error stops
 * parsing and is kept with the byte offset of the token where it was found.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/json.h"

/* Nesting limit for lists, objects, parentheses and `not`: deep enough for
 * any real rule, shallow enough that recursion cannot exhaust the stack. */
#define MAX_NESTING 64

typedef rl_parser parser;

void rl_parser_fail(parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err_pos = pos;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof p->msg, fmt, ap);
	va_end(ap);
}

static void advance(parser *p)
{
	p->prev_end = p->tok.end;
	rl_lex_next(&p->lx, &p->tok);
	if (p->tok.kind == T_ERROR)
		rl_parser_fail(p, p->tok.pos, "%s", p->tok.str);
}

/* The token after the current one, without consuming anything. */
static enum rl_tok peek_kind(parser *p)
{
	rl_lexer copy = p->lx;
	rl_token t = { 0 };
	enum rl_tok k;

	rl_lex_next(&copy, &t);
	k = t.kind;
	rl_token_clear(&t);
	return k;
}

static bool is_word(const parser *p, const char *word)
{
	return p->tok.kind == T_IDENT && strcmp(p->tok.str, word) == 0;
}

const char *rl_describe(const rl_token *t)
{
	switch (t->kind) {
	case T_EOF: return "end of text";
	case T_IDENT: return "a name";
	case T_VAR: return "a $variable";
	case T_STRING: return "a string";
	case T_NUMBER: return "a number";
	case T_DOT: return "'.'";
	case T_LBRACK: return "'['";
	case T_RBRACK: return "']'";
	case T_LBRACE: return "'{'";
	case T_RBRACE: return "'}'";
	case T_LPAREN: return "'('";
	case T_RPAREN: return "')'";
	case T_COMMA: return "','";
	case T_COLON: return "':'";
	case T_SEMI: return "';'";
	case T_ASSIGN: return "'='";
	case T_PUTNEW: return "'?='";
	case T_ADD: return "'+='";
	case T_EQ: return "'=='";
	case T_NE: return "'!='";
	case T_CONCAT: return "'~'";
	case T_ERROR: return "an error";
	}
	return "a token";
}

/* ------------------------------------------------------------ freeing */

void rl_expr_free(rl_expr *e)
{
	if (!e)
		return;
	json_object_put(e->value);
	rl_expr_free(e->base);
	rl_expr_free(e->index);
	free(e->name);
	for (size_t i = 0; i < e->n; i++) {
		if (e->items)
			rl_expr_free(e->items[i]);
		if (e->keys)
			free(e->keys[i]);
	}
	free(e->items);
	free(e->keys);
	free(e);
}

void rl_cond_free(rl_cond *c)
{
	if (!c)
		return;
	rl_expr_free(c->a);
	rl_expr_free(c->b);
	rl_cond_free(c->l);
	rl_cond_free(c->r);
	free(c);
}

static void path_free(rl_path *path)
{
	for (size_t i = 0; i < path->n; i++) {
		free(path->segs[i].name);
		rl_expr_free(path->segs[i].key);
	}
	free(path->segs);
	path->segs = NULL;
	path->n = 0;
}

void rl_stmt_free(rl_stmt *s)
{
	free(s->text);
	path_free(&s->path);
	rl_expr_free(s->value);
	rl_cond_free(s->cond);
}

/* -------------------------------------------------------- expressions */

static rl_expr *new_expr(enum rl_expr_kind kind)
{
	rl_expr *e = sm_xcalloc(1, sizeof *e);

	e->kind = kind;
	return e;
}

static rl_expr *parse_expr(parser *p);

/* `.name` and `[expr]` after a root. */
static rl_expr *parse_postfix(parser *p, rl_expr *base)
{
	while (!p->failed && (p->tok.kind == T_DOT || p->tok.kind == T_LBRACK)) {
		if (p->tok.kind == T_DOT) {
			rl_expr *e;

			advance(p);
			if (p->tok.kind != T_IDENT) {
				rl_parser_fail(p, p->tok.pos, "expected a field name after '.', got %s", rl_describe(&p->tok));
				break;
			}
			e = new_expr(E_FIELD);
			e->base = base;
			e->name = sm_xstrdup(p->tok.str);
			base = e;
			advance(p);
		} else {
			rl_expr *e, *idx;
			size_t open = p->tok.pos;

			advance(p);
			idx = parse_expr(p);
			e = new_expr(E_INDEX);
			e->base = base;
			e->index = idx;
			base = e;
			if (p->failed)
				break;
			if (p->tok.kind != T_RBRACK) {
				rl_parser_fail(p, p->tok.pos, "expected ']' to close the '[' at col %d, got %s",
				     rl_column(p->lx.src, open), rl_describe(&p->tok));
				break;
			}
			advance(p);
		}
	}
	return base;
}

static rl_expr *parse_const_number(parser *p)
{
	json_object *v = NULL;
	sm_error err;
	rl_expr *e;

	sm_error_clear(&err);
	if (sm_json_parse(p->tok.str, p->tok.len, &v, &err) != SM_OK) {
		rl_parser_fail(p, p->tok.pos, "%s", err.message);
		return NULL;
	}
	e = new_expr(E_CONST);
	e->value = v;
	advance(p);
	return e;
}

/* Lists and objects whose parts are all constant become one constant. */
static rl_expr *fold(rl_expr *e)
{
	json_object *v;

	for (size_t i = 0; i < e->n; i++)
		if (e->items[i]->kind != E_CONST)
			return e;
	if (e->kind == E_LIST) {
		v = json_object_new_array_ext((int)e->n);
		for (size_t i = 0; i < e->n; i++)
			json_object_array_add(v, sm_json_copy(e->items[i]->value));
	} else {
		v = json_object_new_object();
		for (size_t i = 0; i < e->n; i++)
			json_object_object_add(v, e->keys[i], sm_json_copy(e->items[i]->value));
	}
	rl_expr_free(e);
	e = new_expr(E_CONST);
	e->value = v;
	return e;
}

static rl_expr *parse_list(parser *p)
{
	rl_expr *e = new_expr(E_LIST);
	size_t cap = 0;
	size_t open = p->tok.pos;

	advance(p);
	while (!p->failed && p->tok.kind != T_RBRACK) {
		rl_expr *item = parse_expr(p);

		e->items = sm_xgrow(e->items, &cap, e->n + 1, sizeof *e->items);
		e->items[e->n++] = item;
		if (p->failed)
			break;
		if (p->tok.kind == T_COMMA) {
			advance(p);
			continue;
		}
		if (p->tok.kind != T_RBRACK)
			rl_parser_fail(p, p->tok.pos, "expected ',' or ']' in the list opened at col %d, got %s",
			     rl_column(p->lx.src, open), rl_describe(&p->tok));
	}
	if (p->failed)
		return e;
	advance(p);
	return fold(e);
}

static rl_expr *parse_object(parser *p)
{
	rl_expr *e = new_expr(E_OBJECT);
	size_t cap = 0, kcap = 0;
	size_t open = p->tok.pos;

	advance(p);
	while (!p->failed && p->tok.kind != T_RBRACE) {
		char *key;
		size_t key_pos = p->tok.pos;

		if (p->tok.kind == T_IDENT) {
			key = sm_xstrdup(p->tok.str);
		} else if (p->tok.kind == T_STRING) {
			if (memchr(p->tok.str, '\0', p->tok.len)) {
				rl_parser_fail(p, p->tok.pos, "object keys must not contain \\u0000");
				break;
			}
			key = sm_xstrdup(p->tok.str);
		} else {
			rl_parser_fail(p, p->tok.pos, "expected a key (name or quoted string) in the object opened at col %d, got %s",
			     rl_column(p->lx.src, open), rl_describe(&p->tok));
			break;
		}
		for (size_t i = 0; i < e->n; i++)
			if (strcmp(e->keys[i], key) == 0)
				rl_parser_fail(p, key_pos, "duplicate key \"%s\" in object", key);
		e->keys = sm_xgrow(e->keys, &kcap, e->n + 1, sizeof *e->keys);
		e->items = sm_xgrow(e->items, &cap, e->n + 1, sizeof *e->items);
		e->keys[e->n] = key;
		e->items[e->n] = NULL;
		e->n++;
		if (p->failed)
			break;
		advance(p);
		if (p->tok.kind != T_COLON) {
			rl_parser_fail(p, p->tok.pos, "expected ':' after key \"%s\", got %s", key, rl_describe(&p->tok));
			break;
		}
		advance(p);
		e->items[e->n - 1] = parse_expr(p);
		if (p->failed)
			break;
		if (p->tok.kind == T_COMMA) {
			advance(p);
			continue;
		}
		if (p->tok.kind != T_RBRACE)
			rl_parser_fail(p, p->tok.pos, "expected ',' or '}' in the object opened at col %d, got %s",
			     rl_column(p->lx.src, open), rl_describe(&p->tok));
	}
	if (p->failed)
		return e;
	advance(p);
	return fold(e);
}

static rl_expr *parse_root(parser *p, enum rl_root root, const char *word)
{
	rl_expr *e;

	if (p->constant) {
		rl_parser_fail(p, p->tok.pos, "initial must be a constant: %s%s cannot be used here",
		     p->tok.kind == T_VAR ? "$" : "", word);
		return NULL;
	}
	if ((root == R_IT || root == R_KEY) && !p->in_where) {
		rl_parser_fail(p, p->tok.pos, "'%s' is only defined in the condition of remove ... where", word);
		return NULL;
	}
	e = new_expr(E_ROOT);
	e->root = root;
	advance(p);
	if (root == R_VERSION || root == R_TYPE || root == R_STREAM)
		return e;
	return parse_postfix(p, e);
}

static rl_expr *parse_primary(parser *p)
{
	rl_expr *e;

	switch (p->tok.kind) {
	case T_STRING:
		e = new_expr(E_CONST);
		e->value = json_object_new_string_len(p->tok.str, (int)p->tok.len);
		advance(p);
		return e;
	case T_NUMBER:
		return parse_const_number(p);
	case T_LBRACK:
		return parse_list(p);
	case T_LBRACE:
		return parse_object(p);
	case T_LPAREN: {
		size_t open = p->tok.pos;

		advance(p);
		e = parse_expr(p);
		if (p->failed)
			return e;
		if (p->tok.kind != T_RPAREN) {
			rl_parser_fail(p, p->tok.pos, "expected ')' to close the '(' at col %d, got %s",
			     rl_column(p->lx.src, open), rl_describe(&p->tok));
			return e;
		}
		advance(p);
		return parse_postfix(p, e);
	}
	case T_VAR: {
		const char *v = p->tok.str;

		if (strcmp(v, "version") == 0)
			return parse_root(p, R_VERSION, "version");
		if (strcmp(v, "type") == 0)
			return parse_root(p, R_TYPE, "type");
		if (strcmp(v, "stream") == 0)
			return parse_root(p, R_STREAM, "stream");
		rl_parser_fail(p, p->tok.pos, "unknown variable $%s ($version, $type or $stream)", v);
		return NULL;
	}
	case T_IDENT: {
		const char *w = p->tok.str;

		if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
			e = new_expr(E_CONST);
			e->value = json_object_new_boolean(w[0] == 't');
			advance(p);
			return e;
		}
		if (strcmp(w, "null") == 0) {
			e = new_expr(E_CONST);
			advance(p);
			return e;
		}
		if (strcmp(w, "event") == 0)
			return parse_root(p, R_EVENT, "event");
		if (strcmp(w, "meta") == 0)
			return parse_root(p, R_META, "meta");
		if (strcmp(w, "state") == 0)
			return parse_root(p, R_STATE, "state");
		if (strcmp(w, "it") == 0)
			return parse_root(p, R_IT, "it");
		if (strcmp(w, "key") == 0)
			return parse_root(p, R_KEY, "key");
		rl_parser_fail(p, p->tok.pos, "unknown name '%s' (read fields as state.%s, event.%s or meta.%s)",
		     w, w, w, w);
		return NULL;
	}
	default:
		rl_parser_fail(p, p->tok.pos, "expected a value, got %s", rl_describe(&p->tok));
		return NULL;
	}
}

/* The operators after a first operand (left, already parsed). */
static rl_expr *parse_expr_rest(parser *p, rl_expr *left)
{
	while (!p->failed && p->tok.kind == T_CONCAT) {
		rl_expr *e = new_expr(E_CONCAT);

		advance(p);
		e->items = sm_xcalloc(2, sizeof *e->items);
		e->n = 2;
		e->items[0] = left;
		e->items[1] = parse_primary(p);
		left = e;
	}
	return left;
}

static rl_expr *parse_expr(parser *p)
{
	rl_expr *e;

	if (++p->depth > MAX_NESTING) {
		rl_parser_fail(p, p->tok.pos, "nested deeper than %d levels", MAX_NESTING);
		p->depth--;
		return NULL;
	}
	e = parse_primary(p);
	if (!p->failed)
		e = parse_expr_rest(p, e);
	p->depth--;
	return e;
}

/* --------------------------------------------------------- conditions */

static rl_cond *new_cond(enum rl_cond_kind kind)
{
	rl_cond *c = sm_xcalloc(1, sizeof *c);

	c->kind = kind;
	return c;
}

static rl_cond *parse_cond(parser *p);

/* After a value in a condition: does an operator continue it? */
static bool continues_value(const parser *p)
{
	switch (p->tok.kind) {
	case T_DOT: case T_LBRACK: case T_CONCAT: case T_EQ: case T_NE: case T_ASSIGN:
		return true;
	default:
		return is_word(p, "in");
	}
}

/* c holds a value (C_TRUTHY); a comparison operator after it makes it
 * a comparison. */
static void compare(parser *p, rl_cond *c)
{
	enum rl_cond_kind k = C_TRUTHY;

	if (p->tok.kind == T_EQ)
		k = C_EQ;
	else if (p->tok.kind == T_NE)
		k = C_NE;
	else if (is_word(p, "in"))
		k = C_IN;
	else if (p->tok.kind == T_ASSIGN)
		rl_parser_fail(p, p->tok.pos, "'=' assigns; compare with '=='");
	if (k != C_TRUTHY) {
		c->kind = k;
		advance(p);
		c->b = parse_expr(p);
	}
}

static rl_cond *parse_cond_atom(parser *p)
{
	rl_cond *c;

	if (++p->depth > MAX_NESTING) {
		rl_parser_fail(p, p->tok.pos, "nested deeper than %d levels", MAX_NESTING);
		p->depth--;
		return NULL;
	}
	if (is_word(p, "not")) {
		advance(p);
		c = new_cond(C_NOT);
		c->l = parse_cond_atom(p);
	} else if (p->tok.kind == T_LPAREN) {
		size_t open = p->tok.pos;

		advance(p);
		c = parse_cond(p);
		if (!p->failed && p->tok.kind != T_RPAREN)
			rl_parser_fail(p, p->tok.pos, "expected ')' to close the '(' at col %d, got %s",
			     rl_column(p->lx.src, open), rl_describe(&p->tok));
		if (!p->failed)
			advance(p);
		/* `(a ~ b) == c`: the parentheses held a value, not a condition. */
		if (!p->failed && c->kind == C_TRUTHY && continues_value(p)) {
			rl_expr *e = c->a;

			c->a = NULL;
			e = parse_expr_rest(p, parse_postfix(p, e));
			c->a = e;
			if (!p->failed)
				compare(p, c);
		}
	} else if (is_word(p, "exists")) {
		advance(p);
		c = new_cond(C_EXISTS);
		c->a = parse_expr(p);
	} else {
		c = new_cond(C_TRUTHY);
		c->a = parse_expr(p);
		if (!p->failed)
			compare(p, c);
	}
	p->depth--;
	return c;
}

static rl_cond *parse_and(parser *p)
{
	rl_cond *left = parse_cond_atom(p);

	while (!p->failed && is_word(p, "and")) {
		rl_cond *c = new_cond(C_AND);

		advance(p);
		c->l = left;
		c->r = parse_cond_atom(p);
		left = c;
	}
	return left;
}

static rl_cond *parse_cond(parser *p)
{
	rl_cond *left = parse_and(p);

	while (!p->failed && is_word(p, "or")) {
		rl_cond *c = new_cond(C_OR);

		advance(p);
		c->l = left;
		c->r = parse_and(p);
		left = c;
	}
	return left;
}

/* --------------------------------------------------------- statements */

static void add_seg(rl_path *path, size_t *cap, char *name, rl_expr *key, size_t pos)
{
	path->segs = sm_xgrow(path->segs, cap, path->n + 1, sizeof *path->segs);
	path->segs[path->n].name = name;
	path->segs[path->n].key = key;
	path->segs[path->n].pos = pos;
	path->n++;
}

/* PATH := name seg* | state seg+ ; seg := .name | [expr] */
static void parse_path(parser *p, rl_path *path)
{
	size_t cap = 0;

	if (p->tok.kind != T_IDENT) {
		rl_parser_fail(p, p->tok.pos, "expected a statement (a path such as name or a.b, or delete, "
		     "append, prepend, remove, merge, reset), got %s", rl_describe(&p->tok));
		return;
	}
	if (is_word(p, "state")) {
		advance(p);
		if (p->tok.kind != T_DOT && p->tok.kind != T_LBRACK) {
			rl_parser_fail(p, p->tok.pos, "expected '.' or '[' after state in a path");
			return;
		}
	} else if (is_word(p, "event") || is_word(p, "meta") || is_word(p, "it") || is_word(p, "key")) {
		rl_parser_fail(p, p->tok.pos, "'%s' cannot be changed; paths are rooted at the state", p->tok.str);
		return;
	} else {
		add_seg(path, &cap, sm_xstrdup(p->tok.str), NULL, p->tok.pos);
		advance(p);
	}
	/* A '[' continues the path only when nothing separates it from the
	 * path: `append l [1]` appends a list, `append l[1] x` is a key. */
	while (!p->failed && (p->tok.kind == T_DOT ||
			      (p->tok.kind == T_LBRACK && p->tok.pos == p->prev_end))) {
		if (p->tok.kind == T_DOT) {
			advance(p);
			if (p->tok.kind != T_IDENT) {
				rl_parser_fail(p, p->tok.pos, "expected a field name after '.', got %s", rl_describe(&p->tok));
				return;
			}
			add_seg(path, &cap, sm_xstrdup(p->tok.str), NULL, p->tok.pos);
			advance(p);
		} else {
			size_t open = p->tok.pos;
			rl_expr *key;

			advance(p);
			key = parse_expr(p);
			add_seg(path, &cap, NULL, key, open);
			if (p->failed)
				return;
			if (p->tok.kind != T_RBRACK) {
				rl_parser_fail(p, p->tok.pos, "expected ']' to close the '[' at col %d, got %s",
				     rl_column(p->lx.src, open), rl_describe(&p->tok));
				return;
			}
			advance(p);
		}
	}
}

static bool keyword_statement(parser *p, const char *word)
{
	enum rl_tok next;

	if (!is_word(p, word))
		return false;
	/* `delete = 1` sets a field called delete. */
	next = peek_kind(p);
	return next != T_ASSIGN && next != T_PUTNEW && next != T_ADD &&
	       next != T_DOT && next != T_LBRACK;
}

static void parse_stmt(parser *p, rl_stmt *s)
{
	if (keyword_statement(p, "reset")) {
		s->kind = S_RESET;
		advance(p);
		return;
	}
	if (keyword_statement(p, "delete")) {
		s->kind = S_DELETE;
		advance(p);
		parse_path(p, &s->path);
		return;
	}
	if (keyword_statement(p, "append") || keyword_statement(p, "prepend") ||
	    keyword_statement(p, "merge")) {
		s->kind = is_word(p, "append") ? S_APPEND : is_word(p, "prepend") ? S_PREPEND : S_MERGE;
		advance(p);
		parse_path(p, &s->path);
		if (!p->failed)
			s->value = parse_expr(p);
		return;
	}
	if (keyword_statement(p, "remove")) {
		s->kind = S_REMOVE;
		advance(p);
		parse_path(p, &s->path);
		if (p->failed)
			return;
		if (!is_word(p, "where")) {
			rl_parser_fail(p, p->tok.pos, "expected 'where' after the path of remove, got %s", rl_describe(&p->tok));
			return;
		}
		advance(p);
		p->in_where = true;
		s->cond = parse_cond(p);
		p->in_where = false;
		return;
	}
	parse_path(p, &s->path);
	if (p->failed)
		return;
	switch (p->tok.kind) {
	case T_ASSIGN: s->kind = S_SET; break;
	case T_PUTNEW: s->kind = S_PUTNEW; break;
	case T_ADD: s->kind = S_ADD; break;
	default:
		rl_parser_fail(p, p->tok.pos, "expected '=' after path");
		return;
	}
	advance(p);
	s->value = parse_expr(p);
}

static char *trimmed(const char *src, size_t from, size_t to)
{
	while (from < to && (src[from] == ' ' || src[from] == '\t' || src[from] == '\n' || src[from] == '\r'))
		from++;
	while (to > from && (src[to - 1] == ' ' || src[to - 1] == '\t' || src[to - 1] == '\n' || src[to - 1] == '\r'))
		to--;
	return sm_xstrndup(src + from, to - from);
}

void rl_parse_stmts(parser *p, rl_stmt **stmts, size_t *n)
{
	size_t cap = *n;

	while (!p->failed && p->tok.kind != T_EOF) {
		rl_stmt *s;
		size_t start = p->tok.pos;

		if (p->tok.kind == T_SEMI) {  /* empty statement */
			advance(p);
			continue;
		}
		*stmts = sm_xgrow(*stmts, &cap, *n + 1, sizeof **stmts);
		s = &(*stmts)[(*n)++];
		memset(s, 0, sizeof *s);
		s->pos = start;
		parse_stmt(p, s);
		if (p->failed)
			break;
		s->text = trimmed(p->lx.src, start, p->prev_end);
		if (p->tok.kind == T_SEMI)
			advance(p);
		else if (p->tok.kind != T_EOF)
			rl_parser_fail(p, p->tok.pos, "expected ';' between statements, got %s", rl_describe(&p->tok));
	}
}

rl_expr *rl_parse_expr(parser *p)
{
	return parse_expr(p);
}

rl_cond *rl_parse_cond(parser *p)
{
	return parse_cond(p);
}

void rl_parser_init(parser *p, const char *src)
{
	memset(p, 0, sizeof *p);
	p->lx.src = src;
	p->lx.len = strlen(src);
	advance(p);
}

void rl_parser_done(parser *p)
{
	rl_token_clear(&p->tok);
}
