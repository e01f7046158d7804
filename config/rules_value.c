/*
 * What Elixir does with JSON values, for the functions and list operators
 * of the rules language.  JSON maps onto Elixir terms as Jason decodes:
 * an integer is an integer, a number with a fraction or an exponent is a
 * float, null/true/false are the atoms nil/true/false, an object is a map
 * with string keys, a string is a binary.  So:
 *  - `==` (sm_json_equal) compares numbers by value, 1 == 1.0;
 *  - `===` (rl_strict_equal: Enum.uniq, List.delete, --) does not:
 *    1 !== 1.0, but 0.0 === -0.0 (OTP 25; OTP 27 tells them apart);
 *  - the term order (rl_term_compare: max, min) is
 *    number < atom < map < list < binary, with atoms by name
 *    (false < nil < true), maps by size, then keys, then values, lists
 *    element by element, binaries byte by byte; an integer and a float
 *    compare by exact value and are equal when the values are.
 * Each was checked against Elixir 1.14 on OTP 25 (tests/test_rules.c).
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/json.h"

/* Exact integer value (int64 or uint64 range). */
static __int128 int_value(json_object *o)
{
	int64_t i = json_object_get_int64(o);

	if (i == INT64_MAX)
		return (__int128)json_object_get_uint64(o);
	return i;
}

static int sign(__int128 d)
{
	return d < 0 ? -1 : d > 0;
}

/* An integer against a double, by exact value. */
static int compare_int_double(__int128 i, double d)
{
	double f;

	if (isnan(d))
		return 0;
	if (d >= 18446744073709551616.0)  /* 2^64, beyond every JSON integer here */
		return -1;
	if (d < -18446744073709551616.0)
		return 1;
	f = floor(d);
	if (i != (__int128)f)
		return i < (__int128)f ? -1 : 1;
	return d > f ? -1 : 0;
}

static int compare_numbers(json_object *a, json_object *b)
{
	bool ai = json_object_is_type(a, json_type_int), bi = json_object_is_type(b, json_type_int);

	if (ai && bi)
		return sign(int_value(a) - int_value(b));
	if (ai)
		return compare_int_double(int_value(a), json_object_get_double(b));
	if (bi)
		return -compare_int_double(int_value(b), json_object_get_double(a));
	{
		double x = json_object_get_double(a), y = json_object_get_double(b);

		return x < y ? -1 : x > y;
	}
}

/* Rank of a value's kind in the term order. */
static int rank(json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_int:
	case json_type_double: return 0;
	case json_type_null:
	case json_type_boolean: return 1;
	case json_type_object: return 2;
	case json_type_array: return 3;
	case json_type_string: return 4;
	}
	return 5;
}

static const char *atom_name(json_object *o)
{
	if (!o)
		return "nil";
	return json_object_get_boolean(o) ? "true" : "false";
}

static int compare_bytes(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);

	if (c)
		return c < 0 ? -1 : 1;
	return na < nb ? -1 : na > nb;
}

static int cmp_key(const void *x, const void *y)
{
	const char *a = *(const char *const *)x, *b = *(const char *const *)y;

	return compare_bytes(a, strlen(a), b, strlen(b));
}

/* The keys of an object in term order (caller frees the array). */
static const char **sorted_keys(json_object *o, size_t *n)
{
	const char **keys;
	size_t k = 0;

	*n = (size_t)json_object_object_length(o);
	keys = sm_xcalloc(*n + 1, sizeof *keys);
	json_object_object_foreach(o, key, val) {
		(void)val;
		keys[k++] = key;
	}
	qsort(keys, *n, sizeof *keys, cmp_key);
	return keys;
}

static int compare_objects(json_object *a, json_object *b)
{
	size_t na, nb;
	const char **ka, **kb;
	int c = 0;

	if (json_object_object_length(a) != json_object_object_length(b))
		return json_object_object_length(a) < json_object_object_length(b) ? -1 : 1;
	ka = sorted_keys(a, &na);
	kb = sorted_keys(b, &nb);
	for (size_t i = 0; i < na && !c; i++)
		c = cmp_key(&ka[i], &kb[i]);
	for (size_t i = 0; i < na && !c; i++)
		c = rl_term_compare(json_object_object_get(a, ka[i]), json_object_object_get(b, kb[i]));
	free(ka);
	free(kb);
	return c;
}

int rl_term_compare(json_object *a, json_object *b)
{
	int ra = rank(a), rb = rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (ra) {
	case 0:
		return compare_numbers(a, b);
	case 1:
		return sign(strcmp(atom_name(a), atom_name(b)));
	case 2:
		return compare_objects(a, b);
	case 3: {
		size_t na = json_object_array_length(a), nb = json_object_array_length(b);

		for (size_t i = 0; i < na && i < nb; i++) {
			int c = rl_term_compare(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i));

			if (c)
				return c;
		}
		return na < nb ? -1 : na > nb;
	}
	case 4:
		return compare_bytes(json_object_get_string(a), (size_t)json_object_get_string_len(a),
				     json_object_get_string(b), (size_t)json_object_get_string_len(b));
	}
	return 0;
}

bool rl_strict_equal(json_object *a, json_object *b)
{
	enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

	if (ta != tb)
		return false;
	switch (ta) {
	case json_type_int:
		return int_value(a) == int_value(b);
	case json_type_double:
		return json_object_get_double(a) == json_object_get_double(b);
	case json_type_array: {
		size_t n = json_object_array_length(a);

		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!rl_strict_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	case json_type_object:
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, va) {
			json_object *vb;

			if (!json_object_object_get_ex(b, key, &vb) || !rl_strict_equal(va, vb))
				return false;
		}
		return true;
	default:
		/* null, booleans and strings: == is === */
		return sm_json_equal(a, b);
	}
}

/* ------------------------------------------------------------ functions */

json_object *rl_uniq(json_object *list)
{
	size_t n = json_object_array_length(list);
	json_object *out = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(list, i);
		size_t m = json_object_array_length(out);
		bool seen = false;

		for (size_t k = 0; k < m && !seen; k++)
			seen = rl_strict_equal(json_object_array_get_idx(out, k), v);
		if (!seen)
			json_object_array_add(out, sm_json_copy(v));
	}
	return out;
}

json_object *rl_extreme(json_object *const *values, size_t n, bool max)
{
	json_object *best = n ? values[0] : NULL;

	/* Ties keep the first: Enum.max([1, 1.0]) is 1, Enum.max([1.0, 1]) 1.0. */
	for (size_t i = 1; i < n; i++) {
		int c = rl_term_compare(values[i], best);

		if (max ? c > 0 : c < 0)
			best = values[i];
	}
	return best;
}

json_object *rl_list_concat(json_object *a, json_object *b)
{
	size_t na = json_object_array_length(a), nb = json_object_array_length(b);
	json_object *out = json_object_new_array_ext((int)(na + nb));

	for (size_t i = 0; i < na; i++)
		json_object_array_add(out, sm_json_copy(json_object_array_get_idx(a, i)));
	for (size_t i = 0; i < nb; i++)
		json_object_array_add(out, sm_json_copy(json_object_array_get_idx(b, i)));
	return out;
}

json_object *rl_list_subtract(json_object *a, json_object *b)
{
	size_t na = json_object_array_length(a), nb = json_object_array_length(b);
	unsigned char *gone = sm_xcalloc(na + 1, 1);
	json_object *out = json_object_new_array_ext((int)na);

	/* Each element of b takes away the first element of a that is
	 * === to it and not taken yet. */
	for (size_t k = 0; k < nb; k++) {
		json_object *v = json_object_array_get_idx(b, k);

		for (size_t i = 0; i < na; i++) {
			if (!gone[i] && rl_strict_equal(json_object_array_get_idx(a, i), v)) {
				gone[i] = 1;
				break;
			}
		}
	}
	for (size_t i = 0; i < na; i++)
		if (!gone[i])
			json_object_array_add(out, sm_json_copy(json_object_array_get_idx(a, i)));
	free(gone);
	return out;
}
