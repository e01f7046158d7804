/*
 * Parser and compiler of the rules language (grammar in man/snapmig.conf.5):
 * `initial`, `when` and `do` strings become a syntax tree once, at load
 * time.  The first error stops parsing and is reported with the column of
 * the token where it was found.
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

typedef struct parser {
	rl_lexer lx;
	rl_token tok;            /* current token */
	size_t prev_end;         /* end of the last consumed token */
	int depth;
	bool in_where;           /* `it` and `key` are defined */
	bool constant;           /* `initial`: no event, state or variables */
	bool failed;
	size_t err_pos;
	char msg[256];
} parser;

static void fail(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(parser *p, size_t pos, const char *fmt, ...)
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
		fail(p, p->tok.pos, "%s", p->tok.str);
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

static const char *describe(const rl_token *t)
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

static void stmt_free(rl_stmt *s)
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
				fail(p, p->tok.pos, "expected a field name after '.', got %s", describe(&p->tok));
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
				fail(p, p->tok.pos, "expected ']' to close the '[' at col %d, got %s",
				     rl_column(p->lx.src, open), describe(&p->tok));
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
		fail(p, p->tok.pos, "%s", err.message);
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
			fail(p, p->tok.pos, "expected ',' or ']' in the list opened at col %d, got %s",
			     rl_column(p->lx.src, open), describe(&p->tok));
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
				fail(p, p->tok.pos, "object keys must not contain \\u0000");
				break;
			}
			key = sm_xstrdup(p->tok.str);
		} else {
			fail(p, p->tok.pos, "expected a key (name or quoted string) in the object opened at col %d, got %s",
			     rl_column(p->lx.src, open), describe(&p->tok));
			break;
		}
		for (size_t i = 0; i < e->n; i++)
			if (strcmp(e->keys[i], key) == 0)
				fail(p, key_pos, "duplicate key \"%s\" in object", key);
		e->keys = sm_xgrow(e->keys, &kcap, e->n + 1, sizeof *e->keys);
		e->items = sm_xgrow(e->items, &cap, e->n + 1, sizeof *e->items);
		e->keys[e->n] = key;
		e->items[e->n] = NULL;
		e->n++;
		if (p->failed)
			break;
		advance(p);
		if (p->tok.kind != T_COLON) {
			fail(p, p->tok.pos, "expected ':' after key \"%s\", got %s", key, describe(&p->tok));
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
			fail(p, p->tok.pos, "expected ',' or '}' in the object opened at col %d, got %s",
			     rl_column(p->lx.src, open), describe(&p->tok));
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
		fail(p, p->tok.pos, "initial must be a constant: %s%s cannot be used here",
		     p->tok.kind == T_VAR ? "$" : "", word);
		return NULL;
	}
	if ((root == R_IT || root == R_KEY) && !p->in_where) {
		fail(p, p->tok.pos, "'%s' is only defined in the condition of remove ... where", word);
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
			fail(p, p->tok.pos, "expected ')' to close the '(' at col %d, got %s",
			     rl_column(p->lx.src, open), describe(&p->tok));
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
		fail(p, p->tok.pos, "unknown variable $%s ($version, $type or $stream)", v);
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
		fail(p, p->tok.pos, "unknown name '%s' (read fields as state.%s, event.%s or meta.%s)",
		     w, w, w, w);
		return NULL;
	}
	default:
		fail(p, p->tok.pos, "expected a value, got %s", describe(&p->tok));
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
		fail(p, p->tok.pos, "nested deeper than %d levels", MAX_NESTING);
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
		fail(p, p->tok.pos, "'=' assigns; compare with '=='");
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
		fail(p, p->tok.pos, "nested deeper than %d levels", MAX_NESTING);
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
			fail(p, p->tok.pos, "expected ')' to close the '(' at col %d, got %s",
			     rl_column(p->lx.src, open), describe(&p->tok));
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

static void add_seg(rl_path *path, size_t *cap, char *name, rl_expr *key)
{
	path->segs = sm_xgrow(path->segs, cap, path->n + 1, sizeof *path->segs);
	path->segs[path->n].name = name;
	path->segs[path->n].key = key;
	path->n++;
}

/* PATH := name seg* | state seg+ ; seg := .name | [expr] */
static void parse_path(parser *p, rl_path *path)
{
	size_t cap = 0;

	if (p->tok.kind != T_IDENT) {
		fail(p, p->tok.pos, "expected a statement (a path such as name or a.b, or delete, "
		     "append, prepend, remove, merge, reset), got %s", describe(&p->tok));
		return;
	}
	if (is_word(p, "state")) {
		advance(p);
		if (p->tok.kind != T_DOT && p->tok.kind != T_LBRACK) {
			fail(p, p->tok.pos, "expected '.' or '[' after state in a path");
			return;
		}
	} else if (is_word(p, "event") || is_word(p, "meta") || is_word(p, "it") || is_word(p, "key")) {
		fail(p, p->tok.pos, "'%s' cannot be changed; paths are rooted at the state", p->tok.str);
		return;
	} else {
		add_seg(path, &cap, sm_xstrdup(p->tok.str), NULL);
		advance(p);
	}
	/* A '[' continues the path only when nothing separates it from the
	 * path: `append l [1]` appends a list, `append l[1] x` is a key. */
	while (!p->failed && (p->tok.kind == T_DOT ||
			      (p->tok.kind == T_LBRACK && p->tok.pos == p->prev_end))) {
		if (p->tok.kind == T_DOT) {
			advance(p);
			if (p->tok.kind != T_IDENT) {
				fail(p, p->tok.pos, "expected a field name after '.', got %s", describe(&p->tok));
				return;
			}
			add_seg(path, &cap, sm_xstrdup(p->tok.str), NULL);
			advance(p);
		} else {
			size_t open = p->tok.pos;
			rl_expr *key;

			advance(p);
			key = parse_expr(p);
			add_seg(path, &cap, NULL, key);
			if (p->failed)
				return;
			if (p->tok.kind != T_RBRACK) {
				fail(p, p->tok.pos, "expected ']' to close the '[' at col %d, got %s",
				     rl_column(p->lx.src, open), describe(&p->tok));
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
			fail(p, p->tok.pos, "expected 'where' after the path of remove, got %s", describe(&p->tok));
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
		fail(p, p->tok.pos, "expected '=' after path");
		return;
	}
	advance(p);
	s->value = parse_expr(p);
}

static void parser_init(parser *p, const char *src)
{
	memset(p, 0, sizeof *p);
	p->lx.src = src;
	p->lx.len = strlen(src);
	advance(p);
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

static char *trimmed(const char *src, size_t from, size_t to)
{
	while (from < to && (src[from] == ' ' || src[from] == '\t' || src[from] == '\n' || src[from] == '\r'))
		from++;
	while (to > from && (src[to - 1] == ' ' || src[to - 1] == '\t' || src[to - 1] == '\n' || src[to - 1] == '\r'))
		to--;
	return sm_xstrndup(src + from, to - from);
}

/* ----------------------------------------------------- compile & free */

static int report(const parser *p, const char *src, const char *file, int line,
		  const char *where, const char *part, sm_error *err)
{
	return sm_error_set_at(err, SM_ERR_CONFIG, file, line, "%s%s%s, col %d: %s",
			       where, part ? "." : "", part ? part : "",
			       rl_column(src, p->err_pos), p->msg);
}

static int check_text(const char *src, const char *file, int line, const char *where,
		      const char *part, sm_error *err)
{
	size_t bad;

	if (!valid_utf8(src, &bad))
		return sm_error_set_at(err, SM_ERR_CONFIG, file, line, "%s%s%s, col %d: invalid UTF-8",
				       where, part ? "." : "", part ? part : "", rl_column(src, bad));
	return SM_OK;
}

static int compile_initial(sm_rules *r, const char *src, int line, const char *where,
			   const char *file, sm_error *err)
{
	parser p;
	rl_expr *e;
	char msg[256];
	json_object *v = NULL;

	if (check_text(src, file, line, where, NULL, err))
		return SM_ERR_CONFIG;
	parser_init(&p, src);
	p.constant = true;
	e = parse_expr(&p);
	if (!p.failed && p.tok.kind != T_EOF)
		fail(&p, p.tok.pos, "unexpected %s after the initial value", describe(&p.tok));
	rl_token_clear(&p.tok);
	if (p.failed) {
		rl_expr_free(e);
		return report(&p, src, file, line, where, NULL, err);
	}
	if (rl_eval_const(e, &v, msg, sizeof msg) != 0) {
		rl_expr_free(e);
		return sm_error_set_at(err, SM_ERR_CONFIG, file, line, "%s: %s", where, msg);
	}
	rl_expr_free(e);
	if (!json_object_is_type(v, json_type_object)) {
		sm_error_set_at(err, SM_ERR_CONFIG, file, line,
				"%s: the initial state must be an object { ... }, got %s",
				where, sm_json_type_name(v));
		json_object_put(v);
		return SM_ERR_CONFIG;
	}
	r->initial = v;
	return SM_OK;
}

static int compile_when(rl_entry *en, const sm_rule_source *src, const char *file, sm_error *err)
{
	parser p;
	int line = src->when_line ? src->when_line : src->line;

	if (check_text(src->when, file, line, src->where, "when", err))
		return SM_ERR_CONFIG;
	parser_init(&p, src->when);
	en->when = parse_cond(&p);
	if (!p.failed && p.tok.kind != T_EOF)
		fail(&p, p.tok.pos, "unexpected %s after the condition (combine conditions with and/or)",
		     describe(&p.tok));
	rl_token_clear(&p.tok);
	if (p.failed)
		return report(&p, src->when, file, line, src->where, "when", err);
	en->when_text = trimmed(src->when, 0, strlen(src->when));
	return SM_OK;
}

static int compile_do(rl_entry *en, const sm_rule_source *src, const char *file, sm_error *err)
{
	parser p;
	size_t cap = 0;
	int line = src->do_line ? src->do_line : src->line;

	if (check_text(src->do_stmts, file, line, src->where, "do", err))
		return SM_ERR_CONFIG;
	parser_init(&p, src->do_stmts);
	while (!p.failed && p.tok.kind != T_EOF) {
		rl_stmt *s;
		size_t start = p.tok.pos;

		if (p.tok.kind == T_SEMI) {  /* empty statement */
			advance(&p);
			continue;
		}
		en->stmts = sm_xgrow(en->stmts, &cap, en->n_stmts + 1, sizeof *en->stmts);
		s = &en->stmts[en->n_stmts++];
		memset(s, 0, sizeof *s);
		parse_stmt(&p, s);
		if (p.failed)
			break;
		s->text = trimmed(src->do_stmts, start, p.prev_end);
		if (p.tok.kind == T_SEMI)
			advance(&p);
		else if (p.tok.kind != T_EOF)
			fail(&p, p.tok.pos, "expected ';' between statements, got %s", describe(&p.tok));
	}
	rl_token_clear(&p.tok);
	if (p.failed)
		return report(&p, src->do_stmts, file, line, src->where, "do", err);
	return SM_OK;
}

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

const rl_type *rl_find_type(const sm_rules *rules, const char *event_type)
{
	size_t lo = 0, hi = rules->n_types;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const rl_type *t = &rules->types[rules->sorted[mid]];
		int c = strcmp(event_type, t->name);

		if (c == 0)
			return t;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int group_types(sm_rules *r, const sm_rule_source *entries, const char *file, sm_error *err)
{
	size_t cap = 0;

	for (size_t i = 0; i < r->n_entries; i++) {
		rl_type *t = NULL;

		for (size_t k = 0; k < r->n_types && !t; k++)
			if (strcmp(r->types[k].name, entries[i].on) == 0)
				t = &r->types[k];
		if (!t) {
			r->types = sm_xgrow(r->types, &cap, r->n_types + 1, sizeof *r->types);
			t = &r->types[r->n_types++];
			memset(t, 0, sizeof *t);
			t->name = sm_xstrdup(entries[i].on);
		} else {
			/* An entry after one without `when` can never apply;
			 * like an Elixir clause that cannot match, it is a
			 * mistake worth stopping for. */
			size_t last = t->entries[t->n_entries - 1];

			if (!r->entries[last].when)
				return sm_error_set_at(err, SM_ERR_CONFIG, file, entries[i].line,
						       "%s: never applies: %s handles %s first and has no when",
						       entries[i].where, entries[last].where, entries[i].on);
		}
		t->entries = sm_xrealloc(t->entries, (t->n_entries + 1) * sizeof *t->entries);
		t->entries[t->n_entries++] = i;
		r->entries[i].on = t->name;
	}
	r->sorted = sm_xcalloc(r->n_types + 1, sizeof *r->sorted);
	r->type_names = sm_xcalloc(r->n_types + 1, sizeof *r->type_names);
	for (size_t i = 0; i < r->n_types; i++)
		r->type_names[i] = r->types[i].name;
	sort_types(r);
	rl_compute_reads(r);
	return SM_OK;
}

int sm_rules_compile(const char *initial, int initial_line, const char *initial_where,
		     const sm_rule_source *entries, size_t n_entries,
		     const char *file, sm_rules **out, sm_error *err)
{
	sm_rules *r = sm_xcalloc(1, sizeof *r);
	int rc;

	*out = NULL;
	rc = compile_initial(r, initial ? initial : "{}", initial_line,
			     initial_where ? initial_where : "initial", file, err);
	r->entries = sm_xcalloc(n_entries + 1, sizeof *r->entries);
	r->n_entries = n_entries;
	for (size_t i = 0; rc == SM_OK && i < n_entries; i++) {
		if (!entries[i].on || !entries[i].on[0])
			rc = sm_error_set_at(err, SM_ERR_CONFIG, file, entries[i].line,
					     "%s: missing on (the event type)", entries[i].where);
		if (rc == SM_OK && entries[i].when)
			rc = compile_when(&r->entries[i], &entries[i], file, err);
		if (rc == SM_OK && entries[i].do_stmts)
			rc = compile_do(&r->entries[i], &entries[i], file, err);
	}
	if (rc == SM_OK)
		rc = group_types(r, entries, file, err);
	if (rc != SM_OK) {
		sm_rules_free(r);
		return rc;
	}
	r->canonical = rl_canonical(r);
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
		for (size_t k = 0; k < en->n_stmts; k++)
			stmt_free(&en->stmts[k]);
		free(en->stmts);
	}
	free(rules->entries);
	for (size_t i = 0; i < rules->n_types; i++) {
		free(rules->types[i].name);
		free(rules->types[i].entries);
		rl_reads_free(&rules->types[i]);
	}
	free(rules->types);
	free(rules->sorted);
	free(rules->type_names);
	free(rules->canonical);
	free(rules);
}

json_object *sm_rules_initial(const sm_rules *rules)
{
	return sm_json_copy(rules->initial);
}

bool sm_rules_handles(const sm_rules *rules, const char *event_type)
{
	return rules && event_type && rl_find_type(rules, event_type) != NULL;
}

size_t sm_rules_event_types(const sm_rules *rules, const char *const **types)
{
	*types = rules->type_names;
	return rules->n_types;
}
