/*
 * Evaluating compiled rules against one event.  The compiled tree and its
 * constants are only read (never json_object_get, never printed, which
 * would write json-c's print buffer), so one sm_rules can serve many
 * threads.  Everything put into the state is a fresh deep copy, so no part
 * of the state is ever shared with another part, a constant or the event.
 * Any value of an unexpected kind ends in SM_APPLY_ERROR with a message,
 * never in a crash.
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

/* A value during evaluation: borrowed (from the state, the event, a
 * constant) or owned by the evaluator. */
typedef struct val {
	json_object *o;
	bool owned;
} val;

typedef struct ctx {
	const sm_rules *rules;
	const sm_event_view *ev;
	json_object *state;
	json_object *it;         /* element of remove ... where */
	json_object *key;        /* its key (string) or index (integer) */
	char msg[512];
} ctx;

static void val_free(val *v)
{
	if (v->owned)
		json_object_put(v->o);
	v->o = NULL;
	v->owned = false;
}

/* Takes ownership of v's object: moves it when owned, copies when borrowed. */
static json_object *val_take(val *v)
{
	json_object *o = v->owned ? v->o : sm_json_copy(v->o);

	v->o = NULL;
	v->owned = false;
	return o;
}

static int problem(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int problem(ctx *c, const char *fmt, ...)
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
static int key_text(ctx *c, json_object *k, const char **out, char *buf, size_t size)
{
	if (json_object_is_type(k, json_type_string)) {
		const char *s = json_object_get_string(k);

		if (memchr(s, '\0', (size_t)json_object_get_string_len(k)))
			return problem(c, "a key must not contain \\u0000");
		*out = s;
		return 0;
	}
	if (json_object_is_type(k, json_type_int) || json_object_is_type(k, json_type_double)) {
		*out = sm_json_number_elixir(k, buf, size);
		if (!*out)
			return problem(c, "a key must be a finite number, got %s",
				       sm_json_number_text(k, buf, size));
		return 0;
	}
	return problem(c, "a key must be a string or a number, got %s", sm_json_type_name(k));
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

static int eval(ctx *c, const rl_expr *e, val *out);

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
	val_free(base);
}

static int eval_index(ctx *c, const rl_expr *e, val *out)
{
	val base, idx;
	json_object *child = NULL;
	bool found = false;

	if (eval(c, e->base, &base))
		return -1;
	if (eval(c, e->index, &idx)) {
		val_free(&base);
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

		if (key_text(c, idx.o, &k, buf, sizeof buf)) {
			val_free(&idx);
			val_free(&base);
			return -1;
		}
		if (json_object_is_type(base.o, json_type_object))
			found = json_object_object_get_ex(base.o, k, &child);
	}
	val_free(&idx);
	child_of(&base, child, found, out);
	return 0;
}

/* Appends the text form of v for `~`. */
static int concat_part(ctx *c, json_object *v, char **buf, size_t *len, size_t *cap)
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
			return problem(c, "~ joins finite numbers, not %s",
				       sm_json_number_text(v, num, sizeof num));
		n = strlen(s);
		break;
	case json_type_boolean:
		s = json_object_get_boolean(v) ? "true" : "false";
		n = strlen(s);
		break;
	default:
		return problem(c, "~ joins strings, numbers, booleans and null, not %s",
			       sm_json_type_name(v) );
	}
	if (*len + n + 1 > INT32_MAX)
		return problem(c, "~: string too long");
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

		if (eval(c, e->items[i], &v)) {
			free(buf);
			return -1;
		}
		rc = concat_part(c, v.o, &buf, &len, &cap);
		val_free(&v);
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

static int eval(ctx *c, const rl_expr *e, val *out)
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
		return problem(c, "internal error: unknown root");
	case E_FIELD: {
		val base;
		json_object *child = NULL;
		bool found = false;

		if (eval(c, e->base, &base))
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

			if (eval(c, e->items[i], &v)) {
				json_object_put(arr);
				return -1;
			}
			json_object_array_add(arr, val_take(&v));
		}
		out->o = arr;
		out->owned = true;
		return 0;
	}
	case E_OBJECT: {
		json_object *obj = json_object_new_object();

		for (size_t i = 0; i < e->n; i++) {
			val v;

			if (eval(c, e->items[i], &v)) {
				json_object_put(obj);
				return -1;
			}
			json_object_object_add(obj, e->keys[i], val_take(&v));
		}
		out->o = obj;
		out->owned = true;
		return 0;
	}
	case E_CONCAT:
		return eval_concat(c, e, out);
	}
	return problem(c, "internal error: unknown expression");
}

int rl_eval_const(const rl_expr *e, json_object **out, char *msg, size_t size)
{
	ctx c;
	val v;

	memset(&c, 0, sizeof c);
	*out = NULL;
	if (eval(&c, e, &v)) {
		snprintf(msg, size, "%s", c.msg);
		return -1;
	}
	*out = val_take(&v);
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
		if (key_text(c, needle, &k, buf, sizeof buf))
			return -1;
		return json_object_object_get_ex(hay, k, NULL) ? 1 : 0;
	}
	if (json_object_is_type(hay, json_type_null))
		return 0;  /* a missing list is an empty one */
	return problem(c, "in: the right side must be a list or an object, got %s",
		       sm_json_type_name(hay));
}

static int cond(ctx *c, const rl_cond *k)
{
	val a, b;
	int r;

	switch (k->kind) {
	case C_NOT:
		r = cond(c, k->l);
		return r < 0 ? r : !r;
	case C_AND:
		r = cond(c, k->l);
		return r <= 0 ? r : cond(c, k->r);
	case C_OR:
		r = cond(c, k->l);
		return r != 0 ? r : cond(c, k->r);
	case C_EXISTS:
	case C_TRUTHY:
		if (eval(c, k->a, &a))
			return -1;
		if (k->kind == C_EXISTS)
			r = a.o != NULL;
		else
			r = a.o != NULL && !(json_object_is_type(a.o, json_type_boolean) &&
					     !json_object_get_boolean(a.o));
		val_free(&a);
		return r;
	case C_EQ:
	case C_NE:
	case C_IN:
		if (eval(c, k->a, &a))
			return -1;
		if (eval(c, k->b, &b)) {
			val_free(&a);
			return -1;
		}
		if (k->kind == C_IN)
			r = contains(c, b.o, a.o);
		else
			r = sm_json_equal(a.o, b.o) == (k->kind == C_EQ);
		val_free(&a);
		val_free(&b);
		return r;
	}
	return problem(c, "internal error: unknown condition");
}

/* --------------------------------------------------------- statements */

/* Finds the object that holds the last segment of path and that segment's
 * key.  With create, missing or null objects along the way are created;
 * without, *parent is NULL when something along the way is absent.
 * *key points into keybuf or into a string of the state. */
static int resolve(ctx *c, const rl_path *path, bool create, json_object **parent,
		   char **key)
{
	json_object *cur = c->state;

	*parent = NULL;
	*key = NULL;
	for (size_t i = 0; i < path->n; i++) {
		const rl_seg *s = &path->segs[i];
		const char *k = s->name;
		char buf[64];
		val kv = { NULL, false };
		json_object *child = NULL;

		if (!k) {
			if (eval(c, s->key, &kv))
				return -1;
			if (key_text(c, kv.o, &k, buf, sizeof buf)) {
				val_free(&kv);
				return -1;
			}
		}
		/* The state's top-level keys are the fields of initial (see
		 * rules_compile.c); literal keys were checked at load. */
		if (i == 0 && !s->name && c->rules &&
		    !json_object_object_get_ex(c->rules->initial, k, NULL)) {
			problem(c, "%s is not a field of initial (the state's top-level keys are the "
				"aggregate struct's fields)", k);
			val_free(&kv);
			return -1;
		}
		if (i + 1 == path->n) {
			*parent = cur;
			*key = sm_xstrdup(k);
			val_free(&kv);
			return 0;
		}
		if (!json_object_object_get_ex(cur, k, &child) || !child) {
			if (!create) {
				val_free(&kv);
				return 0;
			}
			child = json_object_new_object();
			json_object_object_add(cur, k, child);
		} else if (!json_object_is_type(child, json_type_object)) {
			problem(c, "%s is %s, not an object", k,
				sm_json_type_name(child));
			val_free(&kv);
			return -1;
		}
		val_free(&kv);
		cur = child;
	}
	return 0;
}

static int do_set(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *parent;
	char *key;

	if (eval(c, s->value, &v))
		return -1;
	if (resolve(c, &s->path, true, &parent, &key)) {
		val_free(&v);
		return -1;
	}
	if (s->kind == S_PUTNEW && json_object_object_get_ex(parent, key, NULL)) {
		val_free(&v);
		free(key);
		return 0;
	}
	json_object_object_add(parent, key, val_take(&v));
	free(key);
	return 0;
}

static bool is_num(json_object *o)
{
	return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

static int do_add(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *parent, *cur = NULL, *sum, *zero = NULL;
	char *key;
	const char *why;
	int rc = -1;

	if (eval(c, s->value, &v))
		return -1;
	if (!is_num(v.o)) {
		problem(c, "the value to add is %s, not a number", sm_json_type_name(v.o));
		val_free(&v);
		return -1;
	}
	if (resolve(c, &s->path, true, &parent, &key)) {
		val_free(&v);
		return -1;
	}
	json_object_object_get_ex(parent, key, &cur);
	if (!cur)
		cur = zero = json_object_new_int64(0);
	if (!is_num(cur)) {
		problem(c, "the current value is %s, not a number", sm_json_type_name(cur));
	} else if (!(sum = sm_json_add(cur, v.o, &why))) {
		problem(c, "%s", why);
	} else {
		json_object_object_add(parent, key, sum);
		rc = 0;
	}
	json_object_put(zero);
	val_free(&v);
	free(key);
	return rc;
}

static int do_delete(ctx *c, const rl_stmt *s)
{
	json_object *parent;
	char *key;

	if (resolve(c, &s->path, false, &parent, &key))
		return -1;
	if (s->path.n == 1 && c->rules) {
		free(key);
		return problem(c, "a field of the aggregate struct cannot be deleted (set it to null)");
	}
	if (parent)
		json_object_object_del(parent, key);
	free(key);
	return 0;
}

/* The list at path, created empty when missing or null. */
static int list_at(ctx *c, const rl_stmt *s, json_object **list)
{
	json_object *parent, *cur = NULL;
	char *key;

	if (resolve(c, &s->path, true, &parent, &key))
		return -1;
	json_object_object_get_ex(parent, key, &cur);
	if (!cur) {
		cur = json_object_new_array();
		json_object_object_add(parent, key, cur);
	}
	free(key);
	if (!json_object_is_type(cur, json_type_array))
		return problem(c, "not a list (%s)", sm_json_type_name(cur));
	*list = cur;
	return 0;
}

static int do_append(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *list = NULL;

	if (eval(c, s->value, &v))
		return -1;
	if (list_at(c, s, &list)) {
		val_free(&v);
		return -1;
	}
	json_object_array_add(list, val_take(&v));
	if (s->kind == S_PREPEND) {
		/* json-c 0.16 has no insert; rotate the new last element to the
		 * front inside the (public) array_list. */
		array_list *al = json_object_get_array(list);
		void *last = al->array[al->length - 1];

		memmove(al->array + 1, al->array, (al->length - 1) * sizeof *al->array);
		al->array[0] = last;
	}
	return 0;
}

static int do_remove(ctx *c, const rl_stmt *s)
{
	json_object *parent, *cur = NULL;
	char *key;
	json_object *saved_it = c->it, *saved_key = c->key;
	int rc = 0;

	if (resolve(c, &s->path, false, &parent, &key))
		return -1;
	if (parent)
		json_object_object_get_ex(parent, key, &cur);
	free(key);
	if (!cur)
		return 0;
	if (json_object_is_type(cur, json_type_array)) {
		array_list *al = json_object_get_array(cur);
		size_t n = al->length, w = 0;
		unsigned char *drop = sm_xcalloc(n + 1, 1);

		/* Decide for every element first, then compact: conditions
		 * may read the list itself through state. */
		for (size_t i = 0; i < n && rc == 0; i++) {
			int r;

			c->it = al->array[i];
			c->key = json_object_new_int64((int64_t)i);
			r = cond(c, s->cond);
			json_object_put(c->key);
			if (r < 0)
				rc = -1;
			drop[i] = r > 0;
		}
		if (rc == 0) {
			for (size_t i = 0; i < n; i++) {
				if (drop[i])
					json_object_put(al->array[i]);
				else
					al->array[w++] = al->array[i];
			}
			al->length = w;
		}
		free(drop);
	} else if (json_object_is_type(cur, json_type_object)) {
		size_t n = (size_t)json_object_object_length(cur), k = 0;
		char **doomed = sm_xcalloc(n + 1, sizeof *doomed);

		json_object_object_foreach(cur, entry_key, entry_val) {
			int r;

			if (rc)
				break;
			c->it = entry_val;
			c->key = json_object_new_string(entry_key);
			r = cond(c, s->cond);
			json_object_put(c->key);
			if (r < 0)
				rc = -1;
			else if (r > 0)
				doomed[k++] = sm_xstrdup(entry_key);
		}
		for (size_t i = 0; i < k; i++) {
			if (rc == 0)
				json_object_object_del(cur, doomed[i]);
			free(doomed[i]);
		}
		free(doomed);
	} else {
		rc = problem(c, "not a list or an object (%s)", sm_json_type_name(cur));
	}
	c->it = saved_it;
	c->key = saved_key;
	return rc;
}

static int do_merge(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *parent, *cur = NULL, *src;
	char *key;

	if (eval(c, s->value, &v))
		return -1;
	if (!json_object_is_type(v.o, json_type_object)) {
		problem(c, "the value to merge is %s, not an object", sm_json_type_name(v.o));
		val_free(&v);
		return -1;
	}
	if (resolve(c, &s->path, true, &parent, &key)) {
		val_free(&v);
		return -1;
	}
	json_object_object_get_ex(parent, key, &cur);
	if (!cur) {
		cur = json_object_new_object();
		json_object_object_add(parent, key, cur);
	}
	free(key);
	if (!json_object_is_type(cur, json_type_object)) {
		val_free(&v);
		return problem(c, "not an object (%s)", sm_json_type_name(cur));
	}
	/* A private copy, so that merging an object into itself is harmless. */
	src = val_take(&v);
	json_object_object_foreach(src, mk, mv)
		json_object_object_add(cur, mk, json_object_get(mv));
	json_object_put(src);
	return 0;
}

static int run_stmt(ctx *c, const sm_rules *rules, json_object **state, const rl_stmt *s)
{
	switch (s->kind) {
	case S_SET:
	case S_PUTNEW:
		return do_set(c, s);
	case S_ADD:
		return do_add(c, s);
	case S_DELETE:
		return do_delete(c, s);
	case S_APPEND:
	case S_PREPEND:
		return do_append(c, s);
	case S_REMOVE:
		return do_remove(c, s);
	case S_MERGE:
		return do_merge(c, s);
	case S_RESET:
		json_object_put(*state);
		*state = sm_json_copy(rules->initial);
		c->state = *state;
		return 0;
	}
	return problem(c, "internal error: unknown statement");
}

/* Statement texts can be long (object literals): keep messages readable. */
static void short_text(const char *text, char *buf, size_t size)
{
	size_t n = strlen(text);

	if (n < size) {
		memcpy(buf, text, n + 1);
		return;
	}
	snprintf(buf, size, "%.*s...", (int)(size - 4), text);
}

int sm_rules_apply(const sm_rules *rules, json_object **state,
		   const sm_event_view *event, sm_error *err)
{
	const rl_type *t;
	ctx c;
	char what[96];

	t = rl_find_type(rules, event->type ? event->type : "");
	if (!t) {
		sm_error_set(err, SM_ERR_DATA, "unknown event %s at v%lld (no entry with this on)",
			     event->type ? event->type : "(none)", event->version);
		return SM_APPLY_UNKNOWN_EVENT;
	}
	if (!json_object_is_type(*state, json_type_object)) {
		sm_error_set(err, SM_ERR_DATA, "the state is %s, not an object, at %s v%lld",
			     sm_json_type_name(*state), event->type, event->version);
		return SM_APPLY_ERROR;
	}
	memset(&c, 0, sizeof c);
	c.rules = rules;
	c.ev = event;
	c.state = *state;
	for (size_t i = 0; i < t->n_entries; i++) {
		const rl_entry *en = &rules->entries[t->entries[i]];

		if (en->when) {
			int r = cond(&c, en->when);

			if (r < 0) {
				short_text(en->when_text, what, sizeof what);
				sm_error_set(err, SM_ERR_DATA, "when %s: %s at %s v%lld",
					     what, c.msg, event->type, event->version);
				return SM_APPLY_ERROR;
			}
			if (!r)
				continue;
		}
		for (size_t k = 0; k < en->n_stmts; k++) {
			if (run_stmt(&c, rules, state, &en->stmts[k])) {
				short_text(en->stmts[k].text, what, sizeof what);
				sm_error_set(err, SM_ERR_DATA, "%s: %s at %s v%lld",
					     what, c.msg, event->type, event->version);
				return SM_APPLY_ERROR;
			}
		}
		return SM_APPLY_OK;
	}
	sm_error_set(err, SM_ERR_DATA, "no handler matched %s at v%lld (no when held)",
		     event->type, event->version);
	return SM_APPLY_NO_MATCH;
}
