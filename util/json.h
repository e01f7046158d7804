/*
 * JSON reading and writing with the guarantees snapmig promises about data
 * that Elixir wrote and will read again:
 *  - decimals keep their exact text (json-c keeps it for parsed doubles);
 *  - 64-bit integers stay exact; an integer that does not fit in 64 bits is
 *    an error (json-c would silently clamp it, so the text is pre-scanned);
 *  - duplicate keys: the first occurrence counts, as Elixir's Jason decodes
 *    them (a reader can be told to keep the last, as Poison did), and
 *    nothing printed ever contains a duplicate key;
 *  - invalid UTF-8, nesting deeper than SM_JSON_MAX_DEPTH, trailing garbage
 *    are errors with a short reason;
 *  - keys are plain strings whatever they look like.
 * Printing is compact, without escaping '/', UTF-8 kept as is.
 */
#ifndef SM_UTIL_JSON_H
#define SM_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "util/error.h"

#define SM_JSON_MAX_DEPTH 2000

/* Parses text[0..len) (need not be NUL-terminated; embedded NUL bytes are an
 * error) into *out (caller owns: json_object_put).  On error returns
 * SM_ERR_DATA with a one-line reason in err ("invalid JSON at byte 17",
 * "integer 123456789012345678901 does not fit in 64 bits", "invalid UTF-8",
 * "nesting deeper than 2000 levels"). */
int sm_json_parse(const char *text, size_t len, json_object **out, sm_error *err);

/* Like sm_json_parse, but also requires an object at the top level
 * ("expected a JSON object, got array"). */
int sm_json_parse_object(const char *text, size_t len, json_object **out, sm_error *err);

/* A parser to reuse for many texts, with the same results as sm_json_parse:
 * it keeps its buffers (and a "C" numeric locale) between texts, so a
 * rebuild worker keeps one reader for all its events.  One reader must not
 * be used by two threads at once. */
typedef struct sm_json_reader sm_json_reader;

/* NULL when out of memory.  Free with sm_json_reader_free (NULL is fine). */
sm_json_reader *sm_json_reader_new(void);
void sm_json_reader_free(sm_json_reader *r);
int sm_json_reader_parse(sm_json_reader *r, const char *text, size_t len, json_object **out,
			 sm_error *err);
int sm_json_reader_parse_object(sm_json_reader *r, const char *text, size_t len,
				json_object **out, sm_error *err);

/* Which occurrence of a key given twice in one object counts.  Jason,
 * which Commanded 1.x and EventStore 1.x decode with, keeps the first;
 * Poison (Commanded 0.x) kept the last.  (PostgreSQL's jsonb keeps the
 * last when a value is stored, so jsonb values never have duplicates.)
 * A new reader keeps the first; sm_json_parse always does. */
void sm_json_reader_keep_last_duplicate(sm_json_reader *r, bool last);

/* Names of members of a top-level object, sorted by strcmp, distinct. */
typedef struct sm_json_fields {
	const char *const *names;
	size_t n;
} sm_json_fields;

/* Like sm_json_reader_parse, but when the text is an object only the
 * members named in fields are built (all when fields is NULL); the others
 * are checked just as strictly, so the text is accepted or refused exactly
 * as by sm_json_reader_parse.  The _object form also requires an object. */
int sm_json_reader_parse_fields(sm_json_reader *r, const char *text, size_t len,
				const sm_json_fields *fields, json_object **out, sm_error *err);
int sm_json_reader_parse_object_fields(sm_json_reader *r, const char *text, size_t len,
				       const sm_json_fields *fields, json_object **out,
				       sm_error *err);

/* Only checks the text: SM_OK exactly when sm_json_reader_parse would
 * accept it, without building anything. */
int sm_json_reader_check(sm_json_reader *r, const char *text, size_t len, sm_error *err);

/* What breaks a number for sm_json_number_scan. */
enum sm_json_number_error {
	SM_JNUM_OK,
	SM_JNUM_NO_DIGIT,       /* no digit where the number (after its '-') starts */
	SM_JNUM_LEADING_ZERO,   /* a digit after a leading 0 */
	SM_JNUM_NO_FRACTION,    /* no digit after the point */
	SM_JNUM_NO_EXPONENT,    /* no digit in the exponent */
};

/*
 * Scans the JSON number at t[*i..len): -?(0|[1-9][0-9]*)(\.[0-9]+)?
 * ([eE][+-]?[0-9]+)?.  On SM_JNUM_OK *i is just after it; otherwise *i is
 * at the byte that breaks it (after the '-', the 0, the point or the
 * exponent's letter and sign).  *integral: neither fraction nor exponent.
 * Pure; the JSON parser and the rules' lexer both read numbers with it.
 */
enum sm_json_number_error sm_json_number_scan(const char *t, size_t len, size_t *i,
					      bool *integral);

/*
 * The code point of the \uXXXX escape at s[0..avail) (s[0] is its '\'), a
 * UTF-16 surrogate pair (\uD8xx\uDCxx) joined into one; *width gets its
 * length (6, or 12 for a pair).  SM_JSON_UESC_BAD when four hex digits do
 * not follow, SM_JSON_UESC_LONE for a surrogate without its partner.  Pure;
 * the JSON parser and the rules' lexer both read \u with it.
 */
#define SM_JSON_UESC_BAD  (-1L)
#define SM_JSON_UESC_LONE (-2L)
long sm_json_unicode_escape(const char *s, size_t avail, size_t *width);
/* The byte that the escape \c stands for in a JSON string (\n a newline,
 * \" \\ \/ themselves), or -1 when \c is none of the eight (\u is read by
 * sm_json_unicode_escape). */
int sm_json_escape_byte(int c);
/* Writes code point cp (at most U+10FFFF) as UTF-8 to out, which has room
 * for 4 bytes; returns how many it wrote. */
size_t sm_utf8_put(char *out, unsigned long cp);

/* Compact JSON text of obj; the pointer is owned by obj and valid until obj
 * changes or is freed (json_object_to_json_string_length semantics).
 * *len receives the length. */
const char *sm_json_print(json_object *obj, size_t *len);

/* A new double that prints in the shortest form that reads back as the same
 * double, Elixir style (1.0, 0.1, 1.0e20); NaN/Inf are refused (NULL). */
json_object *sm_json_new_double(double value);

/* Deep JSON equality; numbers compare by value (1 == 1.0) as doubles do
 * (Elixir's ==; util/json_diff.h has jsonb's exact equality). */
bool sm_json_equal(json_object *a, json_object *b);
/* Deep JSON equality with numbers (of either JSON kind, int or double)
 * compared by numbers(a, b); every other value as sm_json_equal does. */
bool sm_json_equal_by(json_object *a, json_object *b,
		      bool (*numbers)(json_object *a, json_object *b));

/* Deep copy (caller owns). */
json_object *sm_json_copy(json_object *obj);

/* true when some string (key or value) inside obj contains a NUL character,
 * which PostgreSQL jsonb cannot store. */
bool sm_json_has_nul(json_object *obj);

/* Additions for the rules language and the engine. */

/* "null", "boolean", "number", "string", "array", "object". */
const char *sm_json_type_name(json_object *obj);

/* Decimal text of a number (int or double; "" otherwise) into buf, without
 * writing into obj: a kept decimal text is returned as it is, a computed
 * double in its shortest Elixir form.  Returns buf. */
const char *sm_json_number_text(json_object *obj, char *buf, size_t size);

/* The text Elixir's to_string/1 gives a number: an integer as it is, a
 * float as Erlang's float_to_binary(F, [short]) writes it ("100.0" for 1e2,
 * "1.5" for 1.50, "1.0e20" for 1e20), whatever text it was read from.
 * Returns buf, or NULL when obj is not a finite number.  Never writes into
 * obj. */
const char *sm_json_number_elixir(json_object *obj, char *buf, size_t size);

/* a + b for two numbers (caller owns the result): two integers give an
 * integer, exact, or NULL with *why set when the sum leaves the 64-bit
 * range; otherwise a double (sm_json_new_double), NULL when not finite. */
json_object *sm_json_add(json_object *a, json_object *b, const char **why);

#endif
