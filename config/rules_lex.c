/*
 * Tokens of the rules language.  The lexer never fails hard: anything it
 * cannot read becomes a T_ERROR token with a message, and the parser turns
 * that into a config error at the token's column.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/json.h"

void rl_token_clear(rl_token *tok)
{
	free(tok->str);
	tok->str = NULL;
	tok->len = 0;
}

int rl_column(const char *src, size_t pos)
{
	int col = 1;

	for (size_t i = 0; i < pos && src[i]; i++)
		if (((unsigned char)src[i] & 0xC0) != 0x80)
			col++;
	return col;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void set_error(rl_token *tok, const char *msg)
{
	tok->kind = T_ERROR;
	tok->str = sm_xstrdup(msg);
	tok->len = strlen(msg);
}

/* A quoted string; the opening quote is at lx->pos.  Escapes as in JSON,
 * plus \' so that either quote can be written inside either kind. */
static void lex_string(rl_lexer *lx, rl_token *tok)
{
	char quote = lx->src[lx->pos];
	size_t i = lx->pos + 1;
	/* The value is never longer than its source text. */
	char *buf = sm_xmalloc(lx->len - lx->pos + 1);
	size_t n = 0;

	while (i < lx->len && lx->src[i] != quote) {
		char c = lx->src[i];
		size_t width;
		long cp;

		if (c != '\\') {
			buf[n++] = c;
			i++;
			continue;
		}
		if (i + 1 >= lx->len)
			break;
		c = lx->src[i + 1];
		i += 2;
		if (c != 'u') {
			int byte = c == '\'' ? '\'' : sm_json_escape_byte((unsigned char)c);
			char msg[64];

			if (byte >= 0) {
				buf[n++] = (char)byte;
				continue;
			}
			free(buf);
			tok->pos = i - 2;
			snprintf(msg, sizeof msg, "unknown escape \\%c in string", c);
			set_error(tok, msg);
			lx->pos = lx->len;
			return;
		}
		cp = sm_json_unicode_escape(lx->src + i - 2, lx->len - (i - 2), &width);
		if (cp < 0) {
			free(buf);
			tok->pos = i - 2;
			set_error(tok, cp == SM_JSON_UESC_BAD ? "\\u must be followed by four hex digits"
				  : "unpaired UTF-16 surrogate in \\u escape");
			lx->pos = lx->len;
			return;
		}
		i += width - 2;
		n += sm_utf8_put(buf + n, (unsigned long)cp);
	}
	if (i >= lx->len) {
		free(buf);
		set_error(tok, "unterminated string");
		lx->pos = lx->len;
		return;
	}
	buf[n] = '\0';
	tok->kind = T_STRING;
	tok->str = buf;
	tok->len = n;
	lx->pos = i + 1;
}

/* A JSON number (sm_json_number_scan), not followed by a name. */
static void lex_number(rl_lexer *lx, rl_token *tok)
{
	static const char *const problems[] = {
		[SM_JNUM_NO_DIGIT] = "expected a digit after '-'",
		[SM_JNUM_LEADING_ZERO] = "numbers must not have leading zeros",
		[SM_JNUM_NO_FRACTION] = "expected a digit after '.' in number",
		[SM_JNUM_NO_EXPONENT] = "expected a digit in the exponent of number",
	};
	const char *s = lx->src;
	size_t i = lx->pos;
	bool integral;
	enum sm_json_number_error e = sm_json_number_scan(s, lx->len, &i, &integral);

	if (e != SM_JNUM_OK || (i < lx->len && is_ident_char(s[i]))) {
		set_error(tok, e != SM_JNUM_OK ? problems[e] : "a number must not run into a name");
		lx->pos = lx->len;
		return;
	}
	tok->kind = T_NUMBER;
	tok->str = sm_xstrndup(s + lx->pos, i - lx->pos);
	tok->len = i - lx->pos;
	lx->pos = i;
}

void rl_lex_next(rl_lexer *lx, rl_token *tok)
{
	const char *s = lx->src;

	rl_token_clear(tok);
	while (lx->pos < lx->len && (s[lx->pos] == ' ' || s[lx->pos] == '\t' ||
				     s[lx->pos] == '\n' || s[lx->pos] == '\r'))
		lx->pos++;
	tok->pos = lx->pos;
	if (lx->pos >= lx->len) {
		tok->kind = T_EOF;
		tok->end = lx->pos;
		return;
	}
	{
		char c = s[lx->pos];
		char next = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';

		if (is_ident_start(c)) {
			size_t i = lx->pos;

			while (i < lx->len && is_ident_char(s[i]))
				i++;
			/* A name may end in '?' (Elixir's admin?), unless '?=' or
			 * '??' follows, which are ambiguous without a space. */
			if (i < lx->len && s[i] == '?') {
				char a1 = i + 1 < lx->len ? s[i + 1] : '\0';
				char a2 = i + 2 < lx->len ? s[i + 2] : '\0';

				if ((a1 == '=' && a2 != '=') || a1 == '?') {
					char msg[300];
					int w = (int)(i - lx->pos);

					if (a1 == '=')
						snprintf(msg, sizeof msg, "'%.*s?=' is ambiguous: write '%.*s? = ...' to set "
							 "the field %.*s?, or '%.*s ?= ...' to set %.*s only when it is absent",
							 w, s + lx->pos, w, s + lx->pos, w, s + lx->pos, w, s + lx->pos,
							 w, s + lx->pos);
					else
						snprintf(msg, sizeof msg, "'%.*s?\?' is ambiguous: write '%.*s? ?\? ...' for the "
							 "field %.*s?, or '%.*s ?? ...'", w, s + lx->pos, w, s + lx->pos,
							 w, s + lx->pos, w, s + lx->pos);
					tok->pos = i;
					set_error(tok, msg);
					lx->pos = lx->len;
					tok->end = lx->pos;
					return;
				}
				i++;
			}
			tok->kind = T_IDENT;
			tok->str = sm_xstrndup(s + lx->pos, i - lx->pos);
			tok->len = i - lx->pos;
			lx->pos = i;
		} else if (c == '$') {
			size_t i = lx->pos + 1;

			while (i < lx->len && is_ident_char(s[i]))
				i++;
			if (i == lx->pos + 1) {
				set_error(tok, "expected a name after '$' ($version, $type or $stream)");
				lx->pos = lx->len;
			} else {
				tok->kind = T_VAR;
				tok->str = sm_xstrndup(s + lx->pos + 1, i - lx->pos - 1);
				tok->len = i - lx->pos - 1;
				lx->pos = i;
			}
		} else if (c == '"' || c == '\'') {
			lex_string(lx, tok);
		} else if (c == '-' && next == '-') {
			tok->kind = T_LISTSUB;
			lx->pos += 2;
		} else if (is_digit(c) || c == '-') {
			lex_number(lx, tok);
		} else {
			enum rl_tok k = T_ERROR;
			size_t w = 1;

			switch (c) {
			case '.': k = T_DOT; break;
			case '[': k = T_LBRACK; break;
			case ']': k = T_RBRACK; break;
			case '{': k = T_LBRACE; break;
			case '}': k = T_RBRACE; break;
			case '(': k = T_LPAREN; break;
			case ')': k = T_RPAREN; break;
			case ',': k = T_COMMA; break;
			case ':': k = T_COLON; break;
			case ';': k = T_SEMI; break;
			case '~': k = T_CONCAT; break;
			case '=':
				if (next == '=') {
					k = T_EQ;
					w = 2;
				} else {
					k = T_ASSIGN;
				}
				break;
			case '?':
				if (next == '=' || next == '?') {
					k = next == '=' ? T_PUTNEW : T_COALESCE;
					w = 2;
				}
				break;
			case '+':
				if (next == '=' || next == '+') {
					k = next == '=' ? T_ADD : T_LISTCAT;
					w = 2;
				}
				break;
			case '!':
				if (next == '=') {
					k = T_NE;
					w = 2;
				}
				break;
			default:
				break;
			}
			if (k == T_ERROR) {
				char msg[64];
				unsigned char uc = (unsigned char)c;

				if (uc >= 0x20 && uc < 0x7F)
					snprintf(msg, sizeof msg, "unexpected character '%c'", c);
				else
					snprintf(msg, sizeof msg, "unexpected character (byte 0x%02x)", uc);
				set_error(tok, msg);
				lx->pos = lx->len;
			} else {
				tok->kind = k;
				lx->pos += w;
			}
		}
	}
	tok->end = lx->pos;
}
