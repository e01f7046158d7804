/*
 * Parser of the rules language (grammar in man/snapmig.conf.5): values and
 * conditions; statements are config/rules_stmt.c.  `initial`, `when` and
 * `do` strings become a syntax tree once, at load time
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

const char *rl_at(parser *p, size_t pos)
{
	const sm_text_origin *o = p->origin;

	if (o && pos <= o->len && o->line[0] != o->line[o->len])
		snprintf(p->at, sizeof p->at, "line %d, col %d", o->line[pos], o->col[pos]);
	else if (o && pos <= o->len)
		snprintf(p->at, sizeof p->at, "col %d", o->col[pos]);
	else
		snprintf(p->at, sizeof p->at, "col %d", rl_column(p->lx.src, pos));
	return p->at;
}

void rl_advance(parser *p)
{
	p->prev_end = p->tok.end;
	rl_lex_next(&p->lx, &p->tok);
	if (p->tok.kind == T_ERROR)
		rl_parser_fail(p, p->tok.pos, "%s", p->tok.str);
}

enum rl_tok rl_peek_kind(parser *p)
{
	rl_lexer copy = p->lx;
	rl_token t = { 0 };
	enum rl_tok k;

	rl_lex_next(&copy, &t);
	k = t.kind;
	rl_token_clear(&t);
	return k;
}

bool rl_nest_enter(parser *p)
{
	if (++p->depth <= RL_MAX_NESTING)
		return true;
	rl_parser_fail(p, p->tok.pos, "nested deeper than %d levels", RL_MAX_NESTING);
	p->depth--;
	return false;
}

bool rl_expect_close(parser *p, enum rl_tok close, size_t open)
{
	if (p->tok.kind != close) {
		rl_parser_fail(p, p->tok.pos, "expected '%s' to close the '%s' at %s, got %s",
			       close == T_RBRACK ? "]" : ")", close == T_RBRACK ? "[" : "(",
			       rl_at(p, open), rl_describe(&p->tok));
		return false;
	}
	rl_advance(p);
	return true;
}

bool rl_is_word(const parser *p, const char *word)
{
	return p->tok.kind == T_IDENT && strcmp(p->tok.str, word) == 0;
}

int rl_root_of(const parser *p)
{
	static const struct {
		const char *sigil, *name;
	} roots[] = {
#define RL_X_ROOT(id, sigil, name) [R_##id] = { sigil, name },
		RL_ROOTS(RL_X_ROOT)
#undef RL_X_ROOT
	};

	if (p->tok.kind != T_IDENT && p->tok.kind != T_VAR)
		return -1;
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
		if ((*roots[i].sigil == '$') == (p->tok.kind == T_VAR) &&
		    strcmp(p->tok.str, roots[i].name) == 0)
			return (int)i;
	return -1;
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
	case T_LISTCAT: return "'++'";
	case T_LISTSUB: return "'--'";
	case T_COALESCE: return "'?\?'";
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

/* -------------------------------------------------------- expressions */

static rl_expr *new_expr_at(enum rl_expr_kind kind, size_t pos)
{
	rl_expr *e = sm_xcalloc(1, sizeof *e);

	e->kind = kind;
	e->pos = pos;
	return e;
}

/* A node that starts at the current token. */
#define new_expr(kind) new_expr_at((kind), p->tok.pos)

static rl_expr *parse_expr(parser *p);

/* `.name` and `[expr]` after a root. */
static rl_expr *parse_postfix(parser *p, rl_expr *base)
{
	while (!p->failed && (p->tok.kind == T_DOT || p->tok.kind == T_LBRACK)) {
		if (p->tok.kind == T_DOT) {
			rl_expr *e;

			rl_advance(p);
			if (p->tok.kind != T_IDENT) {
				rl_parser_fail(p, p->tok.pos, "expected a field name after '.', got %s", rl_describe(&p->tok));
				break;
			}
			e = new_expr_at(E_FIELD, base->pos);
			e->base = base;
			e->name = sm_xstrdup(p->tok.str);
			base = e;
			rl_advance(p);
		} else {
			rl_expr *e, *idx;
			size_t open = p->tok.pos;

			rl_advance(p);
			idx = parse_expr(p);
			e = new_expr_at(E_INDEX, base ? base->pos : open);
			e->base = base;
			e->index = idx;
			base = e;
			if (p->failed || !rl_expect_close(p, T_RBRACK, open))
				break;
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
	rl_advance(p);
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
	{
		size_t pos = e->pos;

		rl_expr_free(e);
		e = new_expr_at(E_CONST, pos);
	}
	e->value = v;
	return e;
}

/*
 * After an element of a list, object or call: consumes the ',' before the
 * next one, or checks that close ends it (the caller consumes close); what
 * and open (where it began) name it in the error.
 */
static void after_element(parser *p, enum rl_tok close, const char *what, size_t open)
{
	if (p->tok.kind == T_COMMA)
		rl_advance(p);
	else if (p->tok.kind != close)
		rl_parser_fail(p, p->tok.pos, "expected ',' or '%s' in %s opened at %s, got %s",
			       close == T_RBRACK ? "]" : close == T_RBRACE ? "}" : ")", what,
			       rl_at(p, open), rl_describe(&p->tok));
}

static rl_expr *parse_list(parser *p)
{
	rl_expr *e = new_expr(E_LIST);
	size_t cap = 0;
	size_t open = p->tok.pos;

	rl_advance(p);
	while (!p->failed && p->tok.kind != T_RBRACK) {
		rl_expr *item = parse_expr(p);

		e->items = sm_xgrow(e->items, &cap, e->n + 1, sizeof *e->items);
		e->items[e->n++] = item;
		if (p->failed)
			break;
		after_element(p, T_RBRACK, "the list", open);
	}
	if (p->failed)
		return e;
	rl_advance(p);
	return fold(e);
}

static rl_expr *parse_object(parser *p)
{
	rl_expr *e = new_expr(E_OBJECT);
	size_t cap = 0, kcap = 0;
	size_t open = p->tok.pos;

	rl_advance(p);
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
			rl_parser_fail(p, p->tok.pos, "expected a key (name or quoted string) in the object opened at %s, got %s",
			     rl_at(p, open), rl_describe(&p->tok));
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
		rl_advance(p);
		if (p->tok.kind != T_COLON) {
			rl_parser_fail(p, p->tok.pos, "expected ':' after key \"%s\", got %s", key, rl_describe(&p->tok));
			break;
		}
		rl_advance(p);
		e->items[e->n - 1] = parse_expr(p);
		if (p->failed)
			break;
		after_element(p, T_RBRACE, "the object", open);
	}
	if (p->failed)
		return e;
	rl_advance(p);
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
	rl_advance(p);
	if (root == R_VERSION || root == R_TYPE || root == R_STREAM)
		return e;
	return parse_postfix(p, e);
}

static const struct {
	const char *name;
	enum rl_fn fn;
	size_t min_args, max_args;
} functions[] = {
#define RL_X_ROW(id, name, min_args, max_args) { name, F_##id, min_args, max_args },
	RL_FUNCTIONS(RL_X_ROW)
#undef RL_X_ROW
};

const char *rl_fn_name(enum rl_fn fn)
{
	for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
		if (functions[i].fn == fn)
			return functions[i].name;
	return "?";
}

static void unknown_function(parser *p, const char *name)
{
	char list[128];
	size_t len = 0;

	list[0] = '\0';
	for (size_t k = 0; k < sizeof functions / sizeof functions[0] && len < sizeof list; k++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "",
					functions[k].name);
	rl_parser_fail(p, p->tok.pos, "unknown function '%s' (the functions are %s)", name, list);
}

/* NAME ( EXPR, ... ) with NAME one of the functions. */
static rl_expr *parse_call(parser *p)
{
	const char *w = p->tok.str;
	size_t k, cap = 0, open;
	char what[64];
	rl_expr *e;

	for (k = 0; k < sizeof functions / sizeof functions[0]; k++)
		if (strcmp(functions[k].name, w) == 0)
			break;
	if (k == sizeof functions / sizeof functions[0]) {
		if (strcmp(w, "exists") == 0 || strcmp(w, "not") == 0)
			rl_parser_fail(p, p->tok.pos, "'%s' makes a condition, not a value: use it in when, "
				       "if or where (%s event.x)", w, w);
		else
			unknown_function(p, w);
		return NULL;
	}
	e = new_expr(E_CALL);
	e->fn = functions[k].fn;
	snprintf(what, sizeof what, "the call of %s", functions[k].name);
	rl_advance(p);
	open = p->tok.pos;
	rl_advance(p);  /* ( */
	while (!p->failed && p->tok.kind != T_RPAREN) {
		e->items = sm_xgrow(e->items, &cap, e->n + 1, sizeof *e->items);
		e->items[e->n++] = parse_expr(p);
		if (p->failed)
			break;
		after_element(p, T_RPAREN, what, open);
	}
	if (p->failed)
		return e;
	if (e->n < functions[k].min_args || e->n > functions[k].max_args) {
		if (functions[k].max_args == 1)
			rl_parser_fail(p, e->pos, "%s takes one value, got %zu", functions[k].name, e->n);
		else
			rl_parser_fail(p, e->pos, "%s takes a list, or 2 to %zu values to compare, got %zu",
				       functions[k].name, functions[k].max_args, e->n);
		return e;
	}
	rl_advance(p);
	return parse_postfix(p, e);
}

static rl_expr *parse_primary(parser *p)
{
	rl_expr *e;

	switch (p->tok.kind) {
	case T_STRING:
		e = new_expr(E_CONST);
		e->value = json_object_new_string_len(p->tok.str, (int)p->tok.len);
		rl_advance(p);
		return e;
	case T_NUMBER:
		return parse_const_number(p);
	case T_LBRACK:
		return parse_list(p);
	case T_LBRACE:
		return parse_object(p);
	case T_LPAREN: {
		size_t open = p->tok.pos;

		rl_advance(p);
		e = parse_expr(p);
		if (p->failed)
			return e;
		e->pos = open;
		if (!rl_expect_close(p, T_RPAREN, open))
			return e;
		return parse_postfix(p, e);
	}
	case T_VAR:
		if (rl_root_of(p) >= 0)
			return parse_root(p, (enum rl_root)rl_root_of(p), p->tok.str);
		rl_parser_fail(p, p->tok.pos, "unknown variable $%s ($version, $type or $stream)",
			       p->tok.str);
		return NULL;
	case T_IDENT: {
		const char *w = p->tok.str;

		if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
			e = new_expr(E_CONST);
			e->value = json_object_new_boolean(w[0] == 't');
			rl_advance(p);
			return e;
		}
		if (strcmp(w, "null") == 0) {
			e = new_expr(E_CONST);
			rl_advance(p);
			return e;
		}
		if (rl_root_of(p) >= 0)
			return parse_root(p, (enum rl_root)rl_root_of(p), w);
		if (rl_peek_kind(p) == T_LPAREN)
			return parse_call(p);
		rl_parser_fail(p, p->tok.pos, "unknown name '%s' (read fields as state.%s, event.%s or meta.%s)",
		     w, w, w, w);
		return NULL;
	}
	default:
		rl_parser_fail(p, p->tok.pos, "expected a value, got %s", rl_describe(&p->tok));
		return NULL;
	}
}

static rl_expr *binary(enum rl_expr_kind kind, rl_expr *a, rl_expr *b)
{
	rl_expr *e = new_expr_at(kind, a ? a->pos : 0);

	e->items = sm_xcalloc(2, sizeof *e->items);
	e->n = 2;
	e->items[0] = a;
	e->items[1] = b;
	return e;
}

static enum rl_expr_kind chain_op(const parser *p)
{
	switch (p->tok.kind) {
	case T_CONCAT: return E_CONCAT;
	case T_LISTCAT: return E_LISTCAT;
	case T_LISTSUB: return E_LISTSUB;
	default: return E_CONST;  /* none */
	}
}

/*
 * The operators after a first operand (left, already parsed), right
 * associative as in Elixir: `~`, `++` and `--` bind alike (as `<>`, `++`
 * and `--` do), `??` looser.  a -- b -- c is a -- (b -- c).  Each operator
 * counts as a level of nesting.
 */
static rl_expr *parse_expr_rest(parser *p, rl_expr *left)
{
	rl_expr **operands = NULL;
	enum rl_expr_kind *ops = NULL;
	size_t n = 1, cap = 0, ocap = 0;
	int depth = p->depth;

	operands = sm_xgrow(operands, &cap, 1, sizeof *operands);
	operands[0] = left;
	while (!p->failed && chain_op(p) != E_CONST) {
		ops = sm_xgrow(ops, &ocap, n, sizeof *ops);
		ops[n - 1] = chain_op(p);
		if (!rl_nest_enter(p))
			break;
		rl_advance(p);
		operands = sm_xgrow(operands, &cap, n + 1, sizeof *operands);
		operands[n++] = parse_primary(p);
	}
	left = operands[n - 1];
	for (size_t i = n - 1; i-- > 0;)
		left = binary(ops[i], operands[i], left);
	free(operands);
	free(ops);
	if (!p->failed && p->tok.kind == T_COALESCE) {
		rl_advance(p);
		left = binary(E_COALESCE, left, parse_expr(p));
	}
	p->depth = depth;
	return left;
}

static rl_expr *parse_expr(parser *p)
{
	rl_expr *e;

	if (!rl_nest_enter(p))
		return NULL;
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
	case T_DOT: case T_LBRACK: case T_CONCAT: case T_LISTCAT: case T_LISTSUB: case T_COALESCE:
	case T_EQ: case T_NE: case T_ASSIGN:
		return true;
	default:
		return rl_is_word(p, "in");
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
	else if (rl_is_word(p, "in"))
		k = C_IN;
	else if (p->tok.kind == T_ASSIGN)
		rl_parser_fail(p, p->tok.pos, "'=' assigns; compare with '=='");
	if (k != C_TRUTHY) {
		c->kind = k;
		rl_advance(p);
		c->b = parse_expr(p);
	}
}

static rl_cond *parse_cond_atom(parser *p)
{
	rl_cond *c;

	if (!rl_nest_enter(p))
		return NULL;
	if (rl_is_word(p, "not")) {
		rl_advance(p);
		c = new_cond(C_NOT);
		c->l = parse_cond_atom(p);
	} else if (p->tok.kind == T_LPAREN) {
		size_t open = p->tok.pos;

		rl_advance(p);
		c = parse_cond(p);
		if (!p->failed)
			rl_expect_close(p, T_RPAREN, open);
		/* `(a ~ b) == c`: the parentheses held a value, not a condition. */
		if (!p->failed && c->kind == C_TRUTHY && continues_value(p)) {
			rl_expr *e = c->a;

			c->a = NULL;
			e = parse_expr_rest(p, parse_postfix(p, e));
			c->a = e;
			if (!p->failed)
				compare(p, c);
		}
	} else if (rl_is_word(p, "exists")) {
		rl_advance(p);
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

/* Operands joined by the word `word` into conditions of kind, left
 * associative: a and b and c is (a and b) and c. */
static rl_cond *parse_joined(parser *p, const char *word, enum rl_cond_kind kind,
			     rl_cond *(*operand)(parser *))
{
	rl_cond *left = operand(p);

	while (!p->failed && rl_is_word(p, word)) {
		rl_cond *c = new_cond(kind);

		rl_advance(p);
		c->l = left;
		c->r = operand(p);
		left = c;
	}
	return left;
}

static rl_cond *parse_and(parser *p)
{
	return parse_joined(p, "and", C_AND, parse_cond_atom);
}

/* `and` binds tighter than `or`. */
static rl_cond *parse_cond(parser *p)
{
	return parse_joined(p, "or", C_OR, parse_and);
}

rl_expr *rl_parse_expr(parser *p)
{
	return parse_expr(p);
}

rl_cond *rl_parse_cond(parser *p)
{
	return parse_cond(p);
}

void rl_parser_init(parser *p, const char *src, const sm_text_origin *origin)
{
	memset(p, 0, sizeof *p);
	p->origin = origin && origin->len == strlen(src) ? origin : NULL;
	p->lx.src = src;
	p->lx.len = strlen(src);
	rl_advance(p);
}

void rl_parser_done(parser *p)
{
	rl_token_clear(&p->tok);
}
