/*
 * Statements of the rules language (the `do` strings): paths, the
 * statement words, `if ... then ... else ... end` blocks and `fail`.
 * Values and conditions come from config/rules_parse.c.
 *
 * A statement word is a plain field name when what follows it makes it a
 * path (`delete = 1`, `end.x = 2`), so no word is reserved.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"

typedef rl_parser parser;

static const rl_stmt_word stmt_words[] = {
	[S_SET] = { NULL, RL_OPS_PATH_VALUE },
	[S_PUTNEW] = { NULL, RL_OPS_PATH_VALUE },
	[S_ADD] = { NULL, RL_OPS_PATH_VALUE },
#define RL_X_ROW(id, word, operands) [S_##id] = { word, operands },
	RL_WORD_STMTS(RL_X_ROW)
#undef RL_X_ROW
};

const rl_stmt_word *rl_stmt_word_of(enum rl_stmt_kind k)
{
	return &stmt_words[k];
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
	rl_block_free(&s->then_b);
	rl_block_free(&s->else_b);
}

void rl_block_free(rl_block *b)
{
	for (size_t i = 0; i < b->n; i++)
		stmt_free(&b->stmts[i]);
	free(b->stmts);
	b->stmts = NULL;
	b->n = 0;
}

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
		char words[128];
		size_t len = 0;

		words[0] = '\0';
		for (size_t k = 0; k < sizeof stmt_words / sizeof stmt_words[0]; k++)
			if (stmt_words[k].word && len < sizeof words)
				len += (size_t)snprintf(words + len, sizeof words - len, ", %s",
							stmt_words[k].word);
		rl_parser_fail(p, p->tok.pos, "expected a statement (a path such as name or a.b, or%s), "
			       "got %s", words + 1, rl_describe(&p->tok));
		return;
	}
	if (rl_is_word(p, "state")) {
		rl_advance(p);
		if (p->tok.kind != T_DOT && p->tok.kind != T_LBRACK) {
			rl_parser_fail(p, p->tok.pos, "expected '.' or '[' after state in a path");
			return;
		}
	} else if (rl_root_of(p) >= 0) {
		rl_parser_fail(p, p->tok.pos, "'%s' cannot be changed; paths are rooted at the state",
			       p->tok.str);
		return;
	} else {
		add_seg(path, &cap, sm_xstrdup(p->tok.str), NULL, p->tok.pos);
		rl_advance(p);
	}
	/* A '[' continues the path only when nothing separates it from the
	 * path: `append l [1]` appends a list, `append l[1] x` is a key. */
	while (!p->failed && (p->tok.kind == T_DOT ||
			      (p->tok.kind == T_LBRACK && p->tok.pos == p->prev_end))) {
		if (p->tok.kind == T_DOT) {
			rl_advance(p);
			if (p->tok.kind != T_IDENT) {
				rl_parser_fail(p, p->tok.pos, "expected a field name after '.', got %s",
					       rl_describe(&p->tok));
				return;
			}
			add_seg(path, &cap, sm_xstrdup(p->tok.str), NULL, p->tok.pos);
			rl_advance(p);
		} else {
			size_t open = p->tok.pos;
			rl_expr *key;

			rl_advance(p);
			key = rl_parse_expr(p);
			add_seg(path, &cap, NULL, key, open);
			if (p->failed || !rl_expect_close(p, T_RBRACK, open))
				return;
		}
	}
}

/* Is the current name used as a word, rather than as the start of a path
 * (`delete = 1` sets a field called delete)? */
static bool word_here(parser *p, const char *word)
{
	enum rl_tok next;

	if (!rl_is_word(p, word))
		return false;
	next = rl_peek_kind(p);
	return next != T_ASSIGN && next != T_PUTNEW && next != T_ADD &&
	       next != T_DOT && next != T_LBRACK;
}

/* Does a block end here (`elif`, `else` or `end` used as a word)? */
static bool block_end(parser *p)
{
	return word_here(p, "end") || word_here(p, "else") || word_here(p, "elif");
}

static char *trimmed(const char *src, size_t from, size_t to)
{
	while (from < to && strchr(" \t\n\r", src[from]))
		from++;
	while (to > from && strchr(" \t\n\r", src[to - 1]))
		to--;
	return sm_xstrndup(src + from, to - from);
}

static void parse_stmts(parser *p, rl_block *b, bool nested);

/* After `if` or `elif`: COND then BLOCK, then elif/else/end. */
static void parse_if(parser *p, rl_stmt *s, size_t open)
{
	size_t start = p->tok.pos;

	s->kind = S_IF;
	s->cond = rl_parse_cond(p);
	if (p->failed)
		return;
	{
		char *cond = trimmed(p->lx.src, start, p->prev_end);

		s->text = sm_xasprintf("if %s", cond);
		free(cond);
	}
	if (!word_here(p, "then")) {
		rl_parser_fail(p, p->tok.pos, "expected 'then' after the condition of if, got %s",
			       rl_describe(&p->tok));
		return;
	}
	rl_advance(p);
	parse_stmts(p, &s->then_b, true);
	if (p->failed)
		return;
	if (word_here(p, "elif")) {
		/* elif C then ... is else if C then ... end, sharing one end. */
		size_t pos = p->tok.pos;
		rl_stmt *inner;

		rl_advance(p);
		s->else_b.stmts = sm_xcalloc(1, sizeof *s->else_b.stmts);
		s->else_b.n = 1;
		inner = &s->else_b.stmts[0];
		inner->pos = pos;
		parse_if(p, inner, open);
		return;
	}
	if (word_here(p, "else")) {
		rl_advance(p);
		parse_stmts(p, &s->else_b, true);
		if (p->failed)
			return;
	}
	if (!word_here(p, "end")) {
		rl_parser_fail(p, p->tok.pos, "expected 'end' to close the 'if' at %s, got %s",
			       rl_at(p, open), rl_describe(&p->tok));
		return;
	}
	rl_advance(p);
}

/* The statement that begins with its word here (-1: none). */
static int stmt_of_word(parser *p)
{
	for (size_t k = 0; k < sizeof stmt_words / sizeof stmt_words[0]; k++)
		if (stmt_words[k].word && word_here(p, stmt_words[k].word))
			return (int)k;
	return -1;
}

static void parse_stmt(parser *p, rl_stmt *s)
{
	int k = stmt_of_word(p);
	size_t open = p->tok.pos;

	if (k >= 0) {
		s->kind = (enum rl_stmt_kind)k;
		rl_advance(p);
		switch (stmt_words[k].operands) {
		case RL_OPS_NONE:
			return;
		case RL_OPS_IF:
			parse_if(p, s, open);
			return;
		case RL_OPS_VALUE:
			s->value = rl_parse_expr(p);
			return;
		case RL_OPS_PATH:
		case RL_OPS_PATH_VALUE:
		case RL_OPS_PATH_WHERE:
			break;
		}
		parse_path(p, &s->path);
		if (p->failed || stmt_words[k].operands == RL_OPS_PATH)
			return;
		if (stmt_words[k].operands == RL_OPS_PATH_VALUE) {
			s->value = rl_parse_expr(p);
			return;
		}
		if (!rl_is_word(p, "where")) {
			rl_parser_fail(p, p->tok.pos, "expected 'where' after the path of %s, got %s",
				       stmt_words[k].word, rl_describe(&p->tok));
			return;
		}
		rl_advance(p);
		p->in_where = true;
		s->cond = rl_parse_cond(p);
		p->in_where = false;
		return;
	}
	if (word_here(p, "end") || word_here(p, "else") || word_here(p, "elif") || word_here(p, "then")) {
		rl_parser_fail(p, p->tok.pos, "'%s' without 'if'", p->tok.str);
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
	rl_advance(p);
	s->value = rl_parse_expr(p);
}

/* Statements separated by ';' until the end of the text, or, nested in
 * an if, until elif/else/end. */
static void parse_stmts(parser *p, rl_block *b, bool nested)
{
	size_t cap = b->n;

	if (!rl_nest_enter(p))
		return;
	while (!p->failed && p->tok.kind != T_EOF && !(nested && block_end(p))) {
		rl_stmt *s;
		size_t start = p->tok.pos;

		if (p->tok.kind == T_SEMI) {  /* empty statement */
			rl_advance(p);
			continue;
		}
		b->stmts = sm_xgrow(b->stmts, &cap, b->n + 1, sizeof *b->stmts);
		s = &b->stmts[b->n++];
		memset(s, 0, sizeof *s);
		s->pos = start;
		parse_stmt(p, s);
		if (p->failed)
			break;
		if (!s->text)
			s->text = trimmed(p->lx.src, start, p->prev_end);
		if (p->tok.kind == T_SEMI)
			rl_advance(p);
		else if (p->tok.kind != T_EOF && !(nested && block_end(p)))
			rl_parser_fail(p, p->tok.pos, "expected ';' between statements, got %s",
				       rl_describe(&p->tok));
	}
	p->depth--;
}

void rl_parse_block(parser *p, rl_block *b)
{
	parse_stmts(p, b, false);
}
