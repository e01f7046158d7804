/*
 * Private to the rules language (config/rules_*.c): tokens, the syntax tree
 * and the compiled form.  Everything built here is immutable after
 * sm_rules_compile returns; the evaluator only reads it, which is what makes
 * sm_rules_apply reentrant.
 */
#ifndef SM_CONFIG_RULES_INTERNAL_H
#define SM_CONFIG_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config/rules.h"
#include "util/error.h"

/* ------------------------------------------------------------ tokens */

enum rl_tok {
	T_EOF,
	T_IDENT,     /* name or keyword; keywords are decided by the parser */
	T_VAR,       /* $version, $type, $stream (text without '$') */
	T_STRING,    /* value in str/len, escapes resolved */
	T_NUMBER,    /* text as written */
	T_DOT, T_LBRACK, T_RBRACK, T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN,
	T_COMMA, T_COLON, T_SEMI,
	T_ASSIGN,    /* =  */
	T_PUTNEW,    /* ?= */
	T_ADD,       /* += */
	T_EQ,        /* == */
	T_NE,        /* != */
	T_CONCAT,    /* ~  */
	T_LISTCAT,   /* ++ */
	T_LISTSUB,   /* -- */
	T_COALESCE,  /* ?? */
	T_ERROR,     /* message in str */
};

typedef struct rl_token {
	enum rl_tok kind;
	size_t pos;        /* byte offset of the first character */
	size_t end;        /* byte offset just past it */
	char *str;         /* T_IDENT/T_VAR/T_NUMBER text, T_STRING value, T_ERROR message */
	size_t len;        /* length of str (strings may contain NUL) */
} rl_token;

typedef struct rl_lexer {
	const char *src;
	size_t len;
	size_t pos;
} rl_lexer;

/* Reads the next token; tok->str is malloc'ed (caller frees with
 * rl_token_clear). */
void rl_lex_next(rl_lexer *lx, rl_token *tok);
void rl_token_clear(rl_token *tok);

/* 1-based column of byte offset pos (counting UTF-8 characters). */
int rl_column(const char *src, size_t pos);

/* ------------------------------------------------------- syntax tree */

/* The roots of a path, X(id, sigil, name): written sigil name ("$version").
 * The parser, the printer and the statements' path check read this list. */
#define RL_ROOTS(X) \
	X(EVENT, "", "event") X(META, "", "meta") X(STATE, "", "state") \
	X(IT, "", "it") X(KEY, "", "key") \
	X(VERSION, "$", "version") X(TYPE, "$", "type") X(STREAM, "$", "stream")

enum rl_root {
#define RL_X_ENUM(id, sigil, name) R_##id,
	RL_ROOTS(RL_X_ENUM)
#undef RL_X_ENUM
};

enum rl_expr_kind {
	E_CONST,     /* value */
	E_ROOT,      /* root */
	E_FIELD,     /* base . name */
	E_INDEX,     /* base [ index ] */
	E_LIST,      /* items */
	E_OBJECT,    /* keys, items */
	/* The binary operators: items[0] OP items[1]. */
	E_CONCAT,    /* ~  */
	E_LISTCAT,   /* ++ */
	E_LISTSUB,   /* -- */
	E_COALESCE,  /* ?? */
	E_CALL,      /* fn(items...) */
};

/* The functions of values (E_CALL), X(id, name, min_args, max_args): the
 * enum, the parser's table and its list of names in errors. */
#define RL_FUNCTIONS(X) \
	X(LENGTH, "length", 1, 1) X(UNIQ, "uniq", 1, 1) \
	X(MAX, "max", 1, 256) X(MIN, "min", 1, 256)

enum rl_fn {
#define RL_X_ENUM(id, name, min_args, max_args) F_##id,
	RL_FUNCTIONS(RL_X_ENUM)
#undef RL_X_ENUM
};
const char *rl_fn_name(enum rl_fn fn);

typedef struct rl_expr rl_expr;
struct rl_expr {
	enum rl_expr_kind kind;
	json_object *value;      /* E_CONST (may be NULL = JSON null) */
	enum rl_root root;       /* E_ROOT */
	rl_expr *base;           /* E_FIELD, E_INDEX */
	char *name;              /* E_FIELD */
	rl_expr *index;          /* E_INDEX */
	rl_expr **items;         /* E_LIST, E_OBJECT values, operands, arguments */
	char **keys;             /* E_OBJECT */
	size_t n;
	enum rl_fn fn;           /* E_CALL */
	size_t pos;              /* byte offset of its first token, for messages */
};

enum rl_cond_kind {
	C_TRUTHY,    /* a bare expression: holds unless null or false */
	C_EQ, C_NE, C_IN, C_EXISTS, C_NOT, C_AND, C_OR,
};

typedef struct rl_cond rl_cond;
struct rl_cond {
	enum rl_cond_kind kind;
	rl_expr *a, *b;          /* operands of comparisons, C_EXISTS, C_TRUTHY */
	rl_cond *l, *r;          /* C_NOT (l), C_AND, C_OR */
};

/* One segment of a PATH: a fixed name, or a computed key. */
typedef struct rl_seg {
	char *name;              /* NULL when computed */
	rl_expr *key;
	size_t pos;              /* byte offset in the source, for errors */
} rl_seg;

typedef struct rl_path {
	rl_seg *segs;
	size_t n;                /* >= 1 */
} rl_path;

/* What follows the word of a statement that begins with one. */
enum rl_stmt_operands {
	RL_OPS_NONE,        /* reset */
	RL_OPS_VALUE,       /* fail VALUE */
	RL_OPS_PATH,        /* delete PATH */
	RL_OPS_PATH_VALUE,  /* append PATH VALUE */
	RL_OPS_PATH_WHERE,  /* remove PATH where COND */
	RL_OPS_IF,          /* if COND then ... (elif/else) end */
};

/* The statements that begin with their word, X(id, word, operands): the
 * parser, the printer and the parser's list of statements read it.  The
 * others are assignments: PATH = VALUE, ?=, +=. */
#define RL_WORD_STMTS(X) \
	X(DELETE, "delete", RL_OPS_PATH) X(APPEND, "append", RL_OPS_PATH_VALUE) \
	X(PREPEND, "prepend", RL_OPS_PATH_VALUE) X(REMOVE, "remove", RL_OPS_PATH_WHERE) \
	X(MERGE, "merge", RL_OPS_PATH_VALUE) X(RESET, "reset", RL_OPS_NONE) \
	X(IF, "if", RL_OPS_IF) X(FAIL, "fail", RL_OPS_VALUE)

enum rl_stmt_kind {
	S_SET, S_PUTNEW, S_ADD,
#define RL_X_ENUM(id, word, operands) S_##id,
	RL_WORD_STMTS(RL_X_ENUM)
#undef RL_X_ENUM
};

/* The word and operands of statement kind k (word NULL for an assignment). */
typedef struct rl_stmt_word {
	const char *word;
	enum rl_stmt_operands operands;
} rl_stmt_word;
const rl_stmt_word *rl_stmt_word_of(enum rl_stmt_kind k);

typedef struct rl_stmt rl_stmt;

/* Statements applied in order. */
typedef struct rl_block {
	rl_stmt *stmts;
	size_t n;
} rl_block;

struct rl_stmt {
	enum rl_stmt_kind kind;
	char *text;              /* the statement as written (for S_IF: "if COND"), for messages */
	size_t pos;              /* byte offset of its first token in the source */
	rl_path path;            /* all but S_RESET, S_IF, S_FAIL */
	rl_expr *value;          /* S_SET..S_ADD, S_APPEND, S_PREPEND, S_MERGE, S_FAIL */
	rl_cond *cond;           /* S_REMOVE, S_IF */
	rl_block then_b, else_b; /* S_IF; `elif` is an S_IF alone in else_b */
};

/* The event type of a catch-all entry. */
#define RL_ANY_TYPE "*"

typedef struct rl_entry {
	const char *on;          /* points into sm_rules.types or sm_rules.any */
	rl_cond *when;           /* NULL: always */
	char *when_text;
	rl_block body;
	char *where;             /* "aggregates[0].events[3]", for messages */
	int line, when_line, do_line;  /* config lines of the entry, its when and do */
} rl_entry;

/* An event type and the entries for it, in config order, followed by the
 * catch-all entries (on = "*"), which come last in the file. */
typedef struct rl_type {
	char *name;
	size_t *entries;
	size_t n_entries;
	sm_event_reads reads;    /* what the entries read of an event */
	char **read_names;       /* owns reads.data.names */
} rl_type;

struct sm_rules {
	json_object *initial;    /* an object; only ever deep-copied */
	char *file;              /* config file, for messages */
	int initial_line;
	rl_entry *entries;
	size_t n_entries;
	rl_type *types;          /* distinct, config order */
	size_t n_types;
	size_t *sorted;          /* indexes into types, sorted by name */
	const char **type_names; /* for sm_rules_event_types */
	rl_type *any;            /* the catch-all entries alone; NULL when none */
	char *canonical;         /* sm_rules_canonical (config/rules_print.c) */
	sm_rules_warning *warnings;  /* rl_check; texts owned */
	size_t n_warnings;
};

/* ------------------------------------------------------------ parser */

/* One rule string being parsed (config/rules_parse.c).  The first error
 * stops parsing: failed is set, with the message and its byte offset. */
typedef struct rl_parser {
	rl_lexer lx;
	rl_token tok;            /* current token */
	size_t prev_end;         /* end of the last consumed token */
	int depth;
	bool in_where;           /* `it` and `key` are defined */
	bool constant;           /* `initial`: no event, state or variables */
	bool failed;
	size_t err_pos;
	char msg[256];
	const sm_text_origin *origin;  /* where the text is in the file; NULL: unknown */
	char at[48];             /* rl_at's text */
} rl_parser;

/* "col 7", or "line 42, col 7" in a rule split over several lines: where
 * byte offset pos is, for messages that point at another place.  Valid
 * until the next call. */
const char *rl_at(rl_parser *p, size_t pos);

/* Reads the first token of src (which, like origin, must outlive the
 * parser); origin may be NULL. */
void rl_parser_init(rl_parser *p, const char *src, const sm_text_origin *origin);
/* Frees the current token. */
void rl_parser_done(rl_parser *p);
void rl_parser_fail(rl_parser *p, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "a name", "'('", "end of text" ... */
const char *rl_describe(const rl_token *t);
/* Consumes the current token. */
void rl_advance(rl_parser *p);
/* The kind of the token after the current one, consuming nothing. */
enum rl_tok rl_peek_kind(rl_parser *p);
/* Is the current token the name word? */
bool rl_is_word(const rl_parser *p, const char *word);
/* Consumes close (T_RPAREN or T_RBRACK), which ends what opened at open;
 * false, with the error, when the current token is another. */
bool rl_expect_close(rl_parser *p, enum rl_tok close, size_t open);
/* The root the current token names (a name, or a $variable), or -1. */
int rl_root_of(const rl_parser *p);

/* Nesting limit for lists, objects, parentheses, operators, `not` and
 * `if`: deep enough for any real rule, shallow enough that recursion (in
 * the parser, the evaluator and the printer) cannot exhaust the stack. */
#define RL_MAX_NESTING 64
/* Enters one level of nesting; false, with the error, when that would
 * be deeper than RL_MAX_NESTING (and then the level is not entered). */
bool rl_nest_enter(rl_parser *p);

rl_expr *rl_parse_expr(rl_parser *p);
rl_cond *rl_parse_cond(rl_parser *p);
/* Statements separated by ';' up to the end of the text. */
void rl_parse_block(rl_parser *p, rl_block *b);

void rl_block_free(rl_block *b);

/* Looks up the type record for an event type; NULL when not handled. */
const rl_type *rl_find_type(const sm_rules *rules, const char *event_type);

/* Fills each type's reads from its entries (config/rules_reads.c). */
void rl_compute_reads(sm_rules *rules);
void rl_reads_free(rl_type *type);

void rl_expr_free(rl_expr *e);
void rl_cond_free(rl_cond *c);

/* -------------------------------------------------------- evaluation */

/* A value during evaluation: borrowed (from the state, the event, a
 * constant) or owned by the evaluator. */
typedef struct rl_val {
	json_object *o;
	bool owned;
} rl_val;

/* One application of rules to one event (config/rules_eval.c,
 * rules_apply.c).  A failing step returns -1 with the reason in msg. */
typedef struct rl_ctx {
	const sm_rules *rules;   /* NULL for constants */
	const sm_event_view *ev;
	json_object *state;
	json_object *it;         /* element of remove ... where */
	json_object *key;        /* its key (string) or index (integer) */
	const char *failed_text; /* the statement that failed, for the message */
	bool failed_by_rule;     /* the failure is a `fail` statement's */
	char msg[512];
} rl_ctx;

void rl_val_free(rl_val *v);
/* Takes ownership of v's object: moves it when owned, copies when borrowed. */
json_object *rl_val_take(rl_val *v);
int rl_problem(rl_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text of a key (a string, or a number as Elixir's to_string/1 writes it);
 * *out points into k or buf. */
int rl_key_text(rl_ctx *c, json_object *k, const char **out, char *buf, size_t size);
int rl_eval(rl_ctx *c, const rl_expr *e, rl_val *out);
/* Appends to_string(v) to *buf (a string as it is, a number as Elixir
 * writes it, null as "", a boolean as its word); a list or an object is
 * a failure. */
int rl_text_of(rl_ctx *c, json_object *v, char **buf, size_t *len, size_t *cap);
/* 1 when the condition holds, 0 when not, -1 on failure. */
int rl_eval_cond(rl_ctx *c, const rl_cond *k);

/* Elixir's semantics of values (config/rules_value.c). */
int rl_term_compare(json_object *a, json_object *b);       /* <0, 0, >0 */
bool rl_strict_equal(json_object *a, json_object *b);      /* === */
json_object *rl_uniq(json_object *list);                    /* new list */
json_object *rl_extreme(json_object *const *values, size_t n, bool max);  /* borrowed */
json_object *rl_list_concat(json_object *a, json_object *b);   /* a ++ b, new */
json_object *rl_list_subtract(json_object *a, json_object *b); /* a -- b, new */

/* Evaluates a constant expression (config/rules_eval.c); msg receives the
 * reason on failure. */
int rl_eval_const(const rl_expr *e, json_object **out, char *msg, size_t size);

/* The key a constant names in a path (a string, or a number's text);
 * NULL when e is not a constant string or number.  May return buf. */
const char *rl_const_key(const rl_expr *e, char *buf, size_t size);

/* The canonical text of one condition (caller frees). */
char *rl_cond_text(const rl_cond *c);

/* Line and column of byte offset pos of src, a rule string whose setting
 * is on setting_line: from origin when known, else the setting's line and
 * the column in src (config/rules_compile.c). */
void rl_locate(const char *src, const sm_text_origin *origin, int setting_line, size_t pos,
	       int *line, int *col);

/* Finds the mistakes that load but are probably wrong (config/rules_check.c)
 * and keeps them in r->warnings; called by sm_rules_compile_input. */
void rl_check(sm_rules *r, const sm_rules_input *in);

/* The canonical text of compiled rules (config/rules_print.c); caller
 * frees.  Called once by sm_rules_compile, before the rules are shared. */
char *rl_canonical(const sm_rules *rules);

#endif
