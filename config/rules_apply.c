/*
 * Applying compiled rules to one event (sm_rules_apply): the statements,
 * on the state, with the values and conditions of config/rules_eval.c.
 * Everything put into the state is a fresh deep copy, so no part of the
 * state is ever shared with another part, a constant or the event.  Any
 * value of an unexpected kind ends in SM_APPLY_ERROR with a message, never
 * in a crash.
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
			if (rl_eval(c, s->key, &kv))
				return -1;
			if (rl_key_text(c, kv.o, &k, buf, sizeof buf)) {
				rl_val_free(&kv);
				return -1;
			}
		}
		/* The state's top-level keys are the fields of initial (see
		 * rules_compile.c); literal keys were checked at load. */
		if (i == 0 && !s->name && c->rules &&
		    !json_object_object_get_ex(c->rules->initial, k, NULL)) {
			rl_problem(c, "%s is not a field of initial (the state's top-level keys are the "
				"aggregate struct's fields)", k);
			rl_val_free(&kv);
			return -1;
		}
		if (i + 1 == path->n) {
			*parent = cur;
			*key = sm_xstrdup(k);
			rl_val_free(&kv);
			return 0;
		}
		if (!json_object_object_get_ex(cur, k, &child) || !child) {
			if (!create) {
				rl_val_free(&kv);
				return 0;
			}
			child = json_object_new_object();
			json_object_object_add(cur, k, child);
		} else if (!json_object_is_type(child, json_type_object)) {
			rl_problem(c, "%s is %s, not an object", k,
				sm_json_type_name(child));
			rl_val_free(&kv);
			return -1;
		}
		rl_val_free(&kv);
		cur = child;
	}
	return 0;
}

/*
 * The value of s (*v) and the place its path names, made when missing
 * (*parent, *key): the caller frees them.  A value that ok (NULL: any)
 * refuses is the problem "the value <what> is <its type>, not <want>".
 */
static int value_and_place(ctx *c, const rl_stmt *s, bool (*ok)(json_object *), const char *what,
			   const char *want, val *v, json_object **parent, char **key)
{
	if (rl_eval(c, s->value, v))
		return -1;
	if (ok && !ok(v->o)) {
		rl_problem(c, "the value %s is %s, not %s", what, sm_json_type_name(v->o), want);
		rl_val_free(v);
		return -1;
	}
	if (resolve(c, &s->path, true, parent, key)) {
		rl_val_free(v);
		return -1;
	}
	return 0;
}

static int do_set(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *parent;
	char *key;

	if (value_and_place(c, s, NULL, NULL, NULL, &v, &parent, &key))
		return -1;
	if (s->kind == S_PUTNEW && json_object_object_get_ex(parent, key, NULL)) {
		rl_val_free(&v);
		free(key);
		return 0;
	}
	json_object_object_add(parent, key, rl_val_take(&v));
	free(key);
	return 0;
}

static bool is_num(json_object *o)
{
	return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

static bool is_obj(json_object *o)
{
	return json_object_is_type(o, json_type_object);
}

static int do_add(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *parent, *cur = NULL, *sum, *zero = NULL;
	char *key;
	const char *why;
	int rc = -1;

	if (value_and_place(c, s, is_num, "to add", "a number", &v, &parent, &key))
		return -1;
	json_object_object_get_ex(parent, key, &cur);
	if (!cur)
		cur = zero = json_object_new_int64(0);
	if (!is_num(cur)) {
		rl_problem(c, "the current value is %s, not a number", sm_json_type_name(cur));
	} else if (!(sum = sm_json_add(cur, v.o, &why))) {
		rl_problem(c, "%s", why);
	} else {
		json_object_object_add(parent, key, sum);
		rc = 0;
	}
	json_object_put(zero);
	rl_val_free(&v);
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
		return rl_problem(c, "a field of the aggregate struct cannot be deleted (set it to null)");
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
		return rl_problem(c, "not a list (%s)", sm_json_type_name(cur));
	*list = cur;
	return 0;
}

static int do_append(ctx *c, const rl_stmt *s)
{
	val v;
	json_object *list = NULL;

	if (rl_eval(c, s->value, &v))
		return -1;
	if (list_at(c, s, &list)) {
		rl_val_free(&v);
		return -1;
	}
	json_object_array_add(list, rl_val_take(&v));
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
			r = rl_eval_cond(c, s->cond);
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
			r = rl_eval_cond(c, s->cond);
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
		rc = rl_problem(c, "not a list or an object (%s)", sm_json_type_name(cur));
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

	if (value_and_place(c, s, is_obj, "to merge", "an object", &v, &parent, &key))
		return -1;
	json_object_object_get_ex(parent, key, &cur);
	if (!cur) {
		cur = json_object_new_object();
		json_object_object_add(parent, key, cur);
	}
	free(key);
	if (!json_object_is_type(cur, json_type_object)) {
		rl_val_free(&v);
		return rl_problem(c, "not an object (%s)", sm_json_type_name(cur));
	}
	/* A private copy, so that merging an object into itself is harmless. */
	src = rl_val_take(&v);
	json_object_object_foreach(src, mk, mv)
		json_object_object_add(cur, mk, json_object_get(mv));
	json_object_put(src);
	return 0;
}

static int run_block(ctx *c, json_object **state, const rl_block *b);

/* fail EXPR: raise to_string(EXPR), as a failure of the instance. */
static int do_fail(ctx *c, const rl_stmt *s)
{
	val v;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (rl_eval(c, s->value, &v))
		return -1;
	rc = rl_text_of(c, v.o, &text, &len, &cap);
	if (rc == 0) {
		rl_problem(c, "%.*s", (int)len, text ? text : "");
		c->failed_by_rule = true;
	} else {
		rl_problem(c, "the message is %s, not text", sm_json_type_name(v.o));
	}
	rl_val_free(&v);
	free(text);
	return -1;
}

static int run_stmt(ctx *c, json_object **state, const rl_stmt *s)
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
		*state = sm_json_copy(c->rules->initial);
		c->state = *state;
		return 0;
	case S_IF: {
		int r = rl_eval_cond(c, s->cond);

		if (r < 0)
			return -1;
		/* A failure inside names its own statement. */
		if (run_block(c, state, r ? &s->then_b : &s->else_b)) {
			c->failed_text = c->failed_text ? c->failed_text : s->text;
			return -1;
		}
		return 0;
	}
	case S_FAIL:
		return do_fail(c, s);
	}
	return rl_problem(c, "internal error: unknown statement");
}

static int run_block(ctx *c, json_object **state, const rl_block *b)
{
	for (size_t k = 0; k < b->n; k++) {
		if (run_stmt(c, state, &b->stmts[k])) {
			if (!c->failed_text)
				c->failed_text = b->stmts[k].text;
			return -1;
		}
	}
	return 0;
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
	if (!t)
		t = rules->any;  /* on = "*" */
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
			int r = rl_eval_cond(&c, en->when);

			if (r < 0) {
				short_text(en->when_text, what, sizeof what);
				sm_error_set(err, SM_ERR_DATA, "when %s: %s at %s v%lld",
					     what, c.msg, event->type, event->version);
				return SM_APPLY_ERROR;
			}
			if (!r)
				continue;
		}
		if (run_block(&c, state, &en->body)) {
			if (c.failed_by_rule) {
				sm_error_set(err, SM_ERR_DATA, "fail: %s at %s v%lld",
					     c.msg, event->type, event->version);
			} else {
				short_text(c.failed_text ? c.failed_text : "", what, sizeof what);
				sm_error_set(err, SM_ERR_DATA, "%s: %s at %s v%lld",
					     what, c.msg, event->type, event->version);
			}
			return SM_APPLY_ERROR;
		}
		return SM_APPLY_OK;
	}
	sm_error_set(err, SM_ERR_DATA, "no handler matched %s at v%lld (no when held)",
		     event->type, event->version);
	return SM_APPLY_NO_MATCH;
}
