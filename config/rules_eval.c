/*
 * Values and conditions of compiled rules, evaluated against one event
 * (the statements are config/rules_apply.c).  The compiled tree and its
 * constants are only read (never json_object_get, never printed, which
 * would write json-c's print buffer), so one sm_rules can serve many
 * threads.  Any value of an unexpected kind is a failure with a message,
 * never a crash.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules_internal.h"
#include "util/alloc.h"
#include "util/json.h"

typedef rl_val val;
typedef rl_ctx ctx;

void rl_val_free(val *v)
{
	if (v->owned)
		json_object_put(v->o);
	v->o = NULL;
	v->owned = false;
}

/* Takes ownership of v's object: moves it when owned, copies when borrowed. */
json_object *rl_val_take(val *v)
{
	json_object *o = v->owned ? v->o : sm_json_copy(v->o);

	v->o = NULL;
	v->owned = false;
	return o;
}

int rl_problem(ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Text of a key: strings as they are, numbers as Elixir's to_string/1
 * writes them (an integer as it is, a float in its shortest form: 1e2 is
 * "100.0", 1.50 is "1.5"), whatever text they were read from.  *out points
 * into k or buf. */
int rl_key_text(ctx *c, json_object *k, const char **out, char *buf, size_t size)
{
	if (json_object_is_type(k, json_type_string)) {
		const char *s = json_object_get_string(k);

		if (memchr(s, '\0', (size_t)json_object_get_string_len(k)))
			return rl_problem(c, "a key must not contain \\u0000");
		*out = s;
		return 0;
	}
	if (json_object_is_type(k, json_type_int) || json_object_is_type(k, json_type_double)) {
		*out = sm_json_number_elixir(k, buf, size);
		if (!*out)
			return rl_problem(c, "a key must be a finite number, got %s",
				       sm_json_number_text(k, buf, size));
		return 0;
	}
	return rl_problem(c, "a key must be a string or a number, got %s", sm_json_type_name(k));
}

const char *rl_const_key(const rl_expr *e, char *buf, size_t size)
{
	json_object *k;

	if (!e || e->kind != E_CONST)
		return NULL;
	k = e->value;
	if (json_object_is_type(k, json_type_string)) {
		const char *s = json_object_get_string(k);

		return strlen(s) == (size_t)json_object_get_string_len(k) ? s : NULL;
	}
	if (json_object_is_type(k, json_type_int) || json_object_is_type(k, json_type_double))
		return sm_json_number_elixir(k, buf, size);
	return NULL;
}

/* Child of a value; a field of anything but an object (or a position
 * outside a list) reads as null, as a missing struct field reads as nil. */
static void child_of(val *base, json_object *child, bool found, val *out)
{
	out->o = NULL;
	out->owned = false;
	if (found && child) {
		if (base->owned) {
			out->o = json_object_get(child);
			out->owned = true;
		} else {
			out->o = child;
		}
	}
	rl_val_free(base);
}

static int eval_index(ctx *c, const rl_expr *e, val *out)
{
	val base, idx;
	json_object *child = NULL;
	bool found = false;

	if (rl_eval(c, e->base, &base))
		return -1;
	if (rl_eval(c, e->index, &idx)) {
		rl_val_free(&base);
		return -1;
	}
	if (json_object_is_type(base.o, json_type_array) && json_object_is_type(idx.o, json_type_int)) {
		int64_t i = json_object_get_int64(idx.o);
		size_t n = json_object_array_length(base.o);

		if (i >= 0 && (uint64_t)i < n) {
			child = json_object_array_get_idx(base.o, (size_t)i);
			found = true;
		}
	} else {
		const char *k;
		char buf[64];

		if (rl_key_text(c, idx.o, &k, buf, sizeof buf)) {
			rl_val_free(&idx);
			rl_val_free(&base);
			return -1;
		}
		if (json_object_is_type(base.o, json_type_object))
			found = json_object_object_get_ex(base.o, k, &child);
	}
	rl_val_free(&idx);
	child_of(&base, child, found, out);
	return 0;
}

/* Appends the text form of v for `~` and `fail`. */
int rl_text_of(ctx *c, json_object *v, char **buf, size_t *len, size_t *cap)
{
	const char *s;
	size_t n;
	char num[64];

	switch (json_object_get_type(v)) {
	case json_type_null:
		return 0;
	case json_type_string:
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		break;
	case json_type_int:
	case json_type_double:
		/* As Elixir's to_string/1 (`<>` joins what it gives). */
		s = sm_json_number_elixir(v, num, sizeof num);
		if (!s)
			return rl_problem(c, "~ joins finite numbers, not %s",
				       sm_json_number_text(v, num, sizeof num));
		n = strlen(s);
		break;
	case json_type_boolean:
		s = json_object_get_boolean(v) ? "true" : "false";
		n = strlen(s);
		break;
	default:
		return rl_problem(c, "~ joins strings, numbers, booleans and null, not %s",
				  sm_json_type_name(v));
	}
	if (*len + n + 1 > INT32_MAX)
		return rl_problem(c, "~: string too long");
	*buf = sm_xgrow(*buf, cap, *len + n + 1, 1);
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

static int eval_concat(ctx *c, const rl_expr *e, val *out)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	for (size_t i = 0; i < e->n; i++) {
		val v;
		int rc;

		if (rl_eval(c, e->items[i], &v)) {
			free(buf);
			return -1;
		}
		rc = rl_text_of(c, v.o, &buf, &len, &cap);
		rl_val_free(&v);
		if (rc) {
			free(buf);
			return -1;
		}
	}
	out->o = json_object_new_string_len(buf ? buf : "", (int)len);
	out->owned = true;
	free(buf);
	return 0;
}

/* a ++ b, a -- b: both lists, as Elixir requires (nil ++ [1] raises;
 * [1] ++ nil makes an improper list that no encoder writes). */
static int eval_list_op(ctx *c, const rl_expr *e, val *out)
{
	const char *op = e->kind == E_LISTCAT ? "++" : "--";
	val a, b;

	if (rl_eval(c, e->items[0], &a))
		return -1;
	if (rl_eval(c, e->items[1], &b)) {
		rl_val_free(&a);
		return -1;
	}
	if (!json_object_is_type(a.o, json_type_array) || !json_object_is_type(b.o, json_type_array)) {
		bool left = !json_object_is_type(a.o, json_type_array);

		rl_problem(c, "%s: the %s side is %s, not a list", op, left ? "left" : "right",
			   sm_json_type_name(left ? a.o : b.o));
		rl_val_free(&a);
		rl_val_free(&b);
		return -1;
	}
	out->o = e->kind == E_LISTCAT ? rl_list_concat(a.o, b.o) : rl_list_subtract(a.o, b.o);
	out->owned = true;
	rl_val_free(&a);
	rl_val_free(&b);
	return 0;
}

static int eval_call(ctx *c, const rl_expr *e, val *out)
{
	const char *name = rl_fn_name(e->fn);
	val *args = sm_xcalloc(e->n + 1, sizeof *args);
	json_object **values = NULL;
	json_object *list = NULL;
	size_t n = 0;
	int rc = -1;

	for (size_t i = 0; i < e->n; i++) {
		if (rl_eval(c, e->items[i], &args[i]))
			goto out;
	}
	if (e->n == 1) {
		list = args[0].o;
		if (!json_object_is_type(list, json_type_array)) {
			rl_problem(c, "%s: not a list (%s)", name, sm_json_type_name(list));
			goto out;
		}
	}
	switch (e->fn) {
	case F_LENGTH:
		out->o = json_object_new_int64((int64_t)json_object_array_length(list));
		out->owned = true;
		rc = 0;
		break;
	case F_UNIQ:
		out->o = rl_uniq(list);
		out->owned = true;
		rc = 0;
		break;
	case F_MAX:
	case F_MIN:
		/* max(list) is Enum.max(list); max(a, b, ...) Enum.max([a, b, ...]). */
		if (list) {
			n = json_object_array_length(list);
			values = sm_xcalloc(n + 1, sizeof *values);
			for (size_t i = 0; i < n; i++)
				values[i] = json_object_array_get_idx(list, i);
		} else {
			n = e->n;
			values = sm_xcalloc(n + 1, sizeof *values);
			for (size_t i = 0; i < n; i++)
				values[i] = args[i].o;
		}
		if (n == 0) {
			rl_problem(c, "%s: the list is empty", name);
			break;
		}
		out->o = sm_json_copy(rl_extreme(values, n, e->fn == F_MAX));
		out->owned = true;
		rc = 0;
		break;
	}
out:
	for (size_t i = 0; i < e->n; i++)
		rl_val_free(&args[i]);
	free(args);
	free(values);
	return rc;
}

int rl_eval(ctx *c, const rl_expr *e, val *out)
{
	out->o = NULL;
	out->owned = false;
	switch (e->kind) {
	case E_CONST:
		out->o = e->value;
		return 0;
	case E_ROOT:
		switch (e->root) {
		case R_EVENT: out->o = c->ev ? c->ev->data : NULL; return 0;
		case R_META: out->o = c->ev ? c->ev->metadata : NULL; return 0;
		case R_STATE: out->o = c->state; return 0;
		case R_IT: out->o = c->it; return 0;
		case R_KEY: out->o = c->key; return 0;
		case R_VERSION:
			out->o = c->ev ? json_object_new_int64(c->ev->version) : NULL;
			out->owned = out->o != NULL;
			return 0;
		case R_TYPE:
			out->o = c->ev && c->ev->type ? json_object_new_string(c->ev->type) : NULL;
			out->owned = out->o != NULL;
			return 0;
		case R_STREAM:
			out->o = c->ev && c->ev->stream_uuid ? json_object_new_string(c->ev->stream_uuid) : NULL;
			out->owned = out->o != NULL;
			return 0;
		}
		return rl_problem(c, "internal error: unknown root");
	case E_FIELD: {
		val base;
		json_object *child = NULL;
		bool found = false;

		if (rl_eval(c, e->base, &base))
			return -1;
		if (json_object_is_type(base.o, json_type_object))
			found = json_object_object_get_ex(base.o, e->name, &child);
		child_of(&base, child, found, out);
		return 0;
	}
	case E_INDEX:
		return eval_index(c, e, out);
	case E_LIST: {
		json_object *arr = json_object_new_array_ext((int)e->n);

		for (size_t i = 0; i < e->n; i++) {
			val v;

			if (rl_eval(c, e->items[i], &v)) {
				json_object_put(arr);
				return -1;
			}
			json_object_array_add(arr, rl_val_take(&v));
		}
		out->o = arr;
		out->owned = true;
		return 0;
	}
	case E_OBJECT: {
		json_object *obj = json_object_new_object();

		for (size_t i = 0; i < e->n; i++) {
			val v;

			if (rl_eval(c, e->items[i], &v)) {
				json_object_put(obj);
				return -1;
			}
			json_object_object_add(obj, e->keys[i], rl_val_take(&v));
		}
		out->o = obj;
		out->owned = true;
		return 0;
	}
	case E_CONCAT:
		return eval_concat(c, e, out);
	case E_LISTCAT:
	case E_LISTSUB:
		return eval_list_op(c, e, out);
	case E_COALESCE:
		/* if is_nil(a), do: b, else: a -- b only when needed */
		if (rl_eval(c, e->items[0], out))
			return -1;
		if (out->o)
			return 0;
		return rl_eval(c, e->items[1], out);
	case E_CALL:
		return eval_call(c, e, out);
	}
	return rl_problem(c, "internal error: unknown expression");
}

int rl_eval_const(const rl_expr *e, json_object **out, char *msg, size_t size)
{
	ctx c;
	val v;

	memset(&c, 0, sizeof c);
	*out = NULL;
	if (rl_eval(&c, e, &v)) {
		snprintf(msg, size, "%s", c.msg);
		return -1;
	}
	*out = rl_val_take(&v);
	return 0;
}

/* --------------------------------------------------------- conditions */

static int contains(ctx *c, json_object *hay, json_object *needle)
{
	if (json_object_is_type(hay, json_type_array)) {
		size_t n = json_object_array_length(hay);

		for (size_t i = 0; i < n; i++)
			if (sm_json_equal(json_object_array_get_idx(hay, i), needle))
				return 1;
		return 0;
	}
	if (json_object_is_type(hay, json_type_object)) {
		const char *k;
		char buf[64];

		if (json_object_is_type(needle, json_type_null) || json_object_is_type(needle, json_type_boolean))
			return 0;
		if (rl_key_text(c, needle, &k, buf, sizeof buf))
			return -1;
		return json_object_object_get_ex(hay, k, NULL) ? 1 : 0;
	}
	if (json_object_is_type(hay, json_type_null))
		return 0;  /* a missing list is an empty one */
	return rl_problem(c, "in: the right side must be a list or an object, got %s",
		       sm_json_type_name(hay));
}

int rl_eval_cond(ctx *c, const rl_cond *k)
{
	val a, b;
	int r;

	switch (k->kind) {
	case C_NOT:
		r = rl_eval_cond(c, k->l);
		return r < 0 ? r : !r;
	case C_AND:
		r = rl_eval_cond(c, k->l);
		return r <= 0 ? r : rl_eval_cond(c, k->r);
	case C_OR:
		r = rl_eval_cond(c, k->l);
		return r != 0 ? r : rl_eval_cond(c, k->r);
	case C_EXISTS:
	case C_TRUTHY:
		if (rl_eval(c, k->a, &a))
			return -1;
		if (k->kind == C_EXISTS)
			r = a.o != NULL;
		else
			r = a.o != NULL && !(json_object_is_type(a.o, json_type_boolean) &&
					     !json_object_get_boolean(a.o));
		rl_val_free(&a);
		return r;
	case C_EQ:
	case C_NE:
	case C_IN:
		if (rl_eval(c, k->a, &a))
			return -1;
		if (rl_eval(c, k->b, &b)) {
			rl_val_free(&a);
			return -1;
		}
		if (k->kind == C_IN)
			r = contains(c, b.o, a.o);
		else
			r = sm_json_equal(a.o, b.o) == (k->kind == C_EQ);
		rl_val_free(&a);
		rl_val_free(&b);
		return r;
	}
	return rl_problem(c, "internal error: unknown condition");
}

