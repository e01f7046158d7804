/*
 * Comparing two JSON values as PostgreSQL's jsonb `=` compares them, and
 * saying where they differ, for `snapmig verify` and the shape summary of a
 * copy.  Pure functions: no allocation that outlives a call except what
 * the caller frees, no global state; tested by tests/test_verify_units.c.
 *
 * jsonb equality, exactly:
 *  - objects are equal when they have the same keys (order never matters)
 *    and equal values under each;
 *  - arrays when they have the same length and equal elements in order;
 *  - strings when their characters are the same (byte for byte in UTF-8);
 *  - numbers by exact decimal value, as numeric compares them: 1 = 1.0 =
 *    1e0 = 10e-1, but 0.1 differs from 0.10000000000000001 (no rounding to
 *    a double ever takes place);
 *  - null, true and false each equal only themselves.
 * Elixir tells 1 from 1.0 (an integer and a float) where jsonb does not:
 * the diff reports such a place as SM_DIFF_NUMBER_FORM, which is not a
 * difference for jsonb but may be one for the application.
 *
 * Paths are written as jq writes them: "." for the whole value, ".name",
 * ".members[2].role", and .["key"] for a key that is not an identifier
 * ([A-Za-z_][A-Za-z0-9_]*), e.g. .["admin?"] or .["a b"].  A generalized
 * path writes every array index as "[]" (".members[].role"), so that the
 * same place in different instances has one name.
 */
#ifndef SM_UTIL_JSON_DIFF_H
#define SM_UTIL_JSON_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/* Two JSON number texts (as JSON writes them, or the decimal forms of
 * sm_json_number_text) compared by exact value: < 0, 0, > 0.  Text that
 * is not a number sorts before every number and equals only itself. */
int sm_json_number_cmp(const char *a, const char *b);

/* jsonb `=` of two values (NULL is JSON null). */
bool sm_jsonb_equal(json_object *a, json_object *b);

enum sm_json_diff_kind {
	SM_DIFF_VALUE,        /* present on both sides with unequal values */
	SM_DIFF_ONLY_A,       /* the key is only in a (b: absent) */
	SM_DIFF_ONLY_B,       /* the key is only in b */
	SM_DIFF_NUMBER_FORM,  /* equal numbers, one an integer and one not (1 vs 1.0) */
};

/* Called for each place where a and b differ, in a walk that sorts object
 * keys by strcmp: path and gpath (generalized) are valid during the call;
 * va and vb the values there (NULL for an absent side; a JSON null is a
 * json_object of type null only when the caller's parser builds one, so
 * test presence with kind, not with NULL).  Return false to stop. */
typedef bool (*sm_json_diff_fn)(void *ctx, enum sm_json_diff_kind kind, const char *path,
				const char *gpath, json_object *va, json_object *vb);

/*
 * Walks a and b and calls fn for every difference, deepest first within
 * a branch: two objects are compared key by key, two arrays of the same
 * length element by element; arrays of different lengths, and values of
 * different JSON types, are one difference at their own path (the whole
 * values).  Returns the number of differences found (NUMBER_FORM places
 * not counted), which is 0 exactly when sm_jsonb_equal(a, b).
 */
size_t sm_json_diff(json_object *a, json_object *b, sm_json_diff_fn fn, void *ctx);

/* The JSON types a value at a path can have, as bits. */
enum sm_json_type_bit {
	SM_JT_NULL = 1 << 0,
	SM_JT_BOOLEAN = 1 << 1,
	SM_JT_NUMBER = 1 << 2,
	SM_JT_STRING = 1 << 3,
	SM_JT_ARRAY = 1 << 4,
	SM_JT_OBJECT = 1 << 5,
};
unsigned sm_json_type_bit(json_object *v);
/* "null", "boolean", ... or "number|string" for several bits, into buf. */
const char *sm_json_type_bits_name(unsigned bits, char *buf, size_t size);

/*
 * The shape of a value: every generalized path below the root with the
 * JSON types found there (the union over the elements of an array).  For
 * each path, parent is the index of the enclosing path (-1 for a key of
 * the root).  Built by sm_json_shape_of; paths are sorted by strcmp.
 */
typedef struct sm_json_shape_entry {
	char *path;
	unsigned types;
	int parent;
	bool element;          /* an array's elements ("[]"), not an object's key */
} sm_json_shape_entry;

typedef struct sm_json_shape {
	sm_json_shape_entry *items;
	size_t n, cap;
} sm_json_shape;

/* Replaces *shape with the shape of v (a value of any type: a non-object
 * has no paths).  At most max_paths paths are kept (the first in walk
 * order); returns false when some were left out. */
bool sm_json_shape_of(json_object *v, size_t max_paths, sm_json_shape *shape);
void sm_json_shape_clear(sm_json_shape *shape);
/* The entry of path, or -1. */
int sm_json_shape_find(const sm_json_shape *shape, const char *path);

enum sm_json_shape_change {
	SM_JSON_SHAPE_ADDED,   /* in b, not in a */
	SM_JSON_SHAPE_REMOVED, /* in a, not in b */
	SM_JSON_SHAPE_RETYPED, /* in both, with other types */
};

/*
 * Where the shape of b differs from that of a (a: the live snapshot, b:
 * the new one), reported once per path and only where it is news: a
 * path below one that is itself added, removed or retyped is left out,
 * and so are the elements of an array that is empty on either side (an
 * empty array says nothing about the shape of its elements).  fn gets the
 * change, the path and the types on each side (0 for an absent side).
 */
typedef void (*sm_json_shape_fn)(void *ctx, enum sm_json_shape_change change, const char *path,
				 unsigned types_a, unsigned types_b);
void sm_json_shape_compare(const sm_json_shape *a, const sm_json_shape *b,
			   sm_json_shape_fn fn, void *ctx);

/* Appends the path step of key to a path being built (jq form) into buf
 * of size; returns the new length, or size when it did not fit. */
size_t sm_json_path_key(char *buf, size_t len, size_t size, const char *key);

#endif
