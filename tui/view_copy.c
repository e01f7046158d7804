/*
 * The copy screen: the engine's copy plan for the chosen types (replace /
 * insert / keep newer / untouched / stale without replacement) and its
 * guards, the options (override guards, remove stale rows), a confirmation
 * (a protected environment needs its name typed), the verified result and
 * a rollback of that copy.  Under the plan, the shape summary of the type
 * under the cursor (which keys the new snapshots add, remove or retype
 * against the live ones they replace): what a reviewer reads before
 * approving.  Planning, the shape, copying and rolling back run on
 * background calls.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

enum copy_phase { CP_PLANNING, CP_PLAN, CP_COPYING, CP_RESULT, CP_ROLLING_BACK, CP_ROLLED_BACK };

typedef struct copy_state {
	tui_list list;             /* over the plan's types */
	char **types;
	size_t n_types;
	bool remove_stale;
	unsigned force;
	enum copy_phase phase;
	sm_copy_plan *plan;
	sm_copy_result *result;
	sm_rollback_result *rb;
	tui_call *call;            /* planning, copying or rolling back (phase says) */
	char error[1200];
	sm_shape_summary *shape;   /* NULL until read */
	tui_call *shape_call;
	char shape_error[512];
} copy_state;

static const int copy_cmds[] = {
	TUI_CMD_COPY, TUI_CMD_OVERRIDE, TUI_CMD_REMOVE_STALE, TUI_CMD_ROLLBACK,
	TUI_CMD_REFRESH, TUI_CMD_SORT_NEXT, TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

/* The plan's types: as planned, by name, by rows replaced, by stale rows. */
enum { BY_PLAN, BY_NAME, BY_REPLACE, BY_STALE };
static const char *const copy_sorts[] = { "plan order", "name", "replace", "stale", NULL };

static void on_lock_wait(void *p, double waited)
{
	tui_call_args *a = p;

	atomic_store(&a->report, (long long)(waited * 1000));
}

/* The copy options of a call (types strv, remove_stale flag, force bits)
 * in o; returns o. */
static const sm_copy_options *copy_options(tui_call_args *a, sm_copy_options *o)
{
	memset(o, 0, sizeof *o);
	o->types = a->strv;
	o->n_types = a->n_strv;
	o->remove_stale = a->flag;
	o->force = a->bits;
	o->on_lock_wait = on_lock_wait;
	o->ctx = a;
	return o;
}

TUI_CALL_FN(plan, sm_copy_plan,
	    sm_copy_plan_read(a->eng, copy_options(a, &(sm_copy_options){ 0 }), a->cancel, &res, err),
	    sm_copy_plan_free)
TUI_CALL_FN(result, sm_copy_result,
	    sm_copy_run(a->eng, copy_options(a, &(sm_copy_options){ 0 }), a->cancel, &res, err),
	    sm_copy_result_free)
TUI_CALL_FN(rb, sm_rollback_result, sm_rollback_run(a->eng, a->num, a->cancel, &res, err),
	    sm_rollback_result_free)
TUI_CALL_FN(shape, sm_shape_summary,
	    sm_copy_shape_read(a->eng, copy_options(a, &(sm_copy_options){ 0 }), NULL, &res, err),
	    sm_shape_summary_free)

tui_call *tui_rollback_call(tui_app *app, long long copy_id)
{
	const tui_call_args in = { .eng = app->eng, .num = copy_id, .writes = true };

	return tui_call_start(app, rb_fn, rb_free, &in);
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void start_copy_call(tui_app *app, copy_state *s, bool execute)
{
	const tui_call_args in = {
		.eng = app->eng, .strv = (const char *const *)s->types, .n_strv = s->n_types,
		.flag = s->remove_stale, .bits = s->force, .writes = execute,
	};

	/* A plan being read is out of date; a copy is never started twice. */
	if (execute && s->call)
		return;
	s->error[0] = 0;
	s->phase = execute ? CP_COPYING : CP_PLANNING;
	if (execute)
		s->call = tui_call_start(app, result_fn, result_free, &in);
	else
		tui_call_restart(app, &s->call, plan_fn, plan_free, &in);
}

/* Reads the shape summary again (it depends on the types only). */
static void start_shape_call(tui_app *app, copy_state *s)
{
	const tui_call_args in = {
		.eng = app->eng, .strv = (const char *const *)s->types, .n_strv = s->n_types,
	};

	s->shape_error[0] = 0;
	tui_call_restart(app, &s->shape_call, shape_fn, shape_free, &in);
}

void *tui_copy_new(tui_app *app, const char *const *types, size_t n_types)
{
	copy_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	s->n_types = n_types;
	s->types = sm_xcalloc(n_types + 1, sizeof *s->types);
	for (size_t i = 0; i < n_types; i++)
		s->types[i] = sm_xstrdup(types[i]);
	s->list.sorts = copy_sorts;
	return s;
}

/* Plans again (only while the plan is shown). */
static void copy_reload(tui_app *app, tui_view *v)
{
	copy_state *s = v->state;

	if (s->phase == CP_PLAN || s->phase == CP_PLANNING) {
		start_copy_call(app, s, false);
		start_shape_call(app, s);
	}
}

/* Collects the shape summary when it has been read. */
static unsigned shape_poll(tui_app *app, copy_state *s)
{
	void *out;
	int got = tui_call_take(app, &s->shape_call, &out, s->shape_error, sizeof s->shape_error,
				"Cannot read the shape summary");

	if (got < 0)
		return s->shape_call ? TUI_REDRAW : TUI_NONE;
	if (got > 0) {
		sm_shape_summary_free(s->shape);
		s->shape = out;
	}
	return TUI_REDRAW;
}

static unsigned copy_poll(tui_app *app, tui_view *v)
{
	copy_state *s = v->state;
	unsigned flags = s->call ? TUI_REDRAW : TUI_NONE; /* the spinner turns, the lock wait counts */
	sm_error err;
	void *out;
	int rc;

	flags |= shape_poll(app, s);
	if (!tui_call_collect(app, &s->call, &rc, &out, &err))
		return flags;
	if (s->phase == CP_ROLLING_BACK) {
		if (rc == SM_OK) {
			s->rb = out;
			s->phase = CP_ROLLED_BACK;
			app->data_generation++;
			tui_message(app, ST_GOOD, "Copy #%lld rolled back", s->rb->copy_id);
		} else {
			rb_free(out);
			snprintf(s->error, sizeof s->error, "Rollback failed: %s", err.message);
			s->phase = CP_RESULT;
		}
		return TUI_REDRAW;
	}
	if (s->phase == CP_COPYING) {
		if (rc == SM_OK) {
			s->result = out;
			s->phase = CP_RESULT;
			app->data_generation++;
			tui_message(app, s->result->verified ? ST_GOOD : ST_BAD,
				    "Copy #%lld committed%s", s->result->copy_id,
				    s->result->verified ? " and verified" : ", verification FAILED");
		} else {
			result_free(out);
			snprintf(s->error, sizeof s->error, "%s: %s",
				 rc == SM_ERR_GUARD ? "Copy refused" : "Copy failed (nothing changed)",
				 err.message);
			s->phase = CP_PLAN;
		}
	} else {
		if (rc == SM_OK) {
			sm_copy_plan_free(s->plan);
			s->plan = out;
		} else {
			plan_free(out);
			snprintf(s->error, sizeof s->error, "Cannot plan the copy: %s", err.message);
		}
		s->phase = CP_PLAN;
	}
	return TUI_REDRAW;
}

static unsigned tripped_guards(const copy_state *s)
{
	unsigned g = 0;

	for (size_t i = 0; s->plan && i < s->plan->n_types; i++)
		g |= s->plan->types[i].guards;
	return g;
}

static void guard_names(unsigned bits, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < SM_GUARD__COUNT; i++)
		if ((bits & (1u << i)) && o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "",
					      sm_copy_guard_name(1u << i));
}

static long long plan_value(const sm_copy_type_plan *t, int sort)
{
	return sort == BY_REPLACE ? t->replace : sort == BY_STALE ? t->stale_without_replacement : 0;
}

static int cmp_plan(const void *ctx, int a, int b)
{
	const copy_state *s = ctx;
	const sm_copy_type_plan *x = &s->plan->types[a], *y = &s->plan->types[b];

	if (s->list.sort == BY_NAME)
		return strcmp(x->label ? x->label : x->type, y->label ? y->label : y->type);
	return tui_cmp_larger(plan_value(x, s->list.sort), plan_value(y, s->list.sort), a, b);
}

/* The shape summary of type t in h lines from y: its changes, most
 * instances first, as many as fit. */
static void draw_shape(tui_app *app, const copy_state *s, const sm_copy_type_plan *t, tui_rect r,
		       int y, int h)
{
	const sm_shape_type *st = NULL;
	const char *label = t->label ? t->label : t->type;
	int x = r.x + 1, w = r.w - 2;
	char a[32], b[32];

	for (size_t i = 0; s->shape && i < s->shape->n_types; i++)
		if (strcmp(s->shape->types[i].type, t->type) == 0)
			st = &s->shape->types[i];
	if (s->shape_error[0]) {
		tui_put_wrapped(y, x, w, h, ST_BAD, s->shape_error);
		return;
	}
	if (!st) {
		tui_putf(y, x, w, ST_WARN, s->shape_call ? "%s reading the shape of %s's new snapshots ..." :
			 "%s%s: no shape summary", s->shape_call ? tui_spinner(app->tick) : "", label);
		return;
	}
	if (!st->compared) {
		tui_putf(y, x, w, ST_DIM, "Shape of %s: nothing replaced, nothing to compare", label);
		return;
	}
	if (!st->n_changes) {
		tui_putf(y, x, w, ST_GOOD, "Shape of %s: the same as the live snapshots (%s compared%s%s)",
			 label, sm_fmt_count(a, sizeof a, st->compared), st->unreadable ? ", not JSON objects: " : "",
			 st->unreadable ? sm_fmt_count(b, sizeof b, st->unreadable) : "");
		return;
	}
	tui_putf(y++, x, w, ST_WARN, "Shape of %s against the live snapshots (%s compared): "
		 "%zu change%s%s", label, sm_fmt_count(a, sizeof a, st->compared), st->n_changes,
		 st->n_changes == 1 ? "" : "s", st->cut ? " and more" : "");
	for (size_t k = 0; k < st->n_changes && k < (size_t)h - 1; k++) {
		const sm_shape_change *c = &st->changes[k];
		char *what = sm_shape_change_text(c);

		if (k == (size_t)h - 2 && st->n_changes > (size_t)h - 1)
			tui_putf(y++, x + 2, w - 2, ST_DIM, "... %zu more (snapmig copy --dry-run lists them)",
				 st->n_changes - k);
		else
			tui_putf(y++, x + 2, w - 2, ST_NORMAL, "%s %s in %s (%s)", c->path, what,
				 sm_shape_share(a, sizeof a, c->instances, st->compared),
				 sm_fmt_count(b, sizeof b, c->instances));
		free(what);
	}
}

static void draw_plan(tui_app *app, copy_state *s, tui_rect r, int y)
{
	tui_col cols[] = {
		{ "Type", 0, 12, false, 0, 0, 0 },
		{ "Generated", 9, 9, true, 3, 0, 0 },
		{ "Replace", 9, 9, true, 0, 0, 0 },
		{ "Insert", 9, 9, true, 2, 0, 0 },
		{ "Keep newer", 10, 10, true, 0, 0, 0 },
		{ "Untouched", 9, 9, true, 1, 0, 0 },
		{ "Stale", 9, 9, true, 0, 0, 0 },
		{ "Guards", 0, 8, false, 0, 0, 0 },
	};
	const size_t nc = sizeof cols / sizeof cols[0];
	const sm_copy_plan *p = s->plan;
	int bottom = r.y + r.h;
	char n[64], g[64];
	unsigned tripped = tripped_guards(s);
	int *order = sm_xcalloc(p->n_types + 1, sizeof *order);
	int room = bottom - y - 8, shape_h = room >= 9 ? 5 : room >= 5 ? 2 : 0;

	for (size_t i = 0; i < p->n_types; i++)
		order[i] = (int)i;
	s->list.n = (int)p->n_types;
	tui_sort_index(order, s->list.n, cmp_plan, s, s->list.desc);
	tui_put_right(y - 1, r.x + r.w / 2, r.w / 2 - 1, ST_WARN,
		      tui_list_status(&s->list, n, sizeof n));
	tui_list_table(&s->list, cols, nc, r.x + 1, r.w - 2, y, bottom - 7 - shape_h);
	for (int i = s->list.top; i < s->list.n && i < s->list.top + s->list.page; i++) {
		const sm_copy_type_plan *t = &p->types[order[i]];
		bool cur = tui_list_row(&s->list, i, r.x + 1, r.w - 2);
		enum tui_style st = cur ? ST_CURSOR : ST_NORMAL;

		y = tui_list_y(&s->list, i);
		tui_cell(&cols[0], y, st, t->label ? t->label : t->type);
		tui_cell(&cols[1], y, st, sm_fmt_count(n, sizeof n, t->generated));
		tui_cell(&cols[2], y, st, sm_fmt_count(n, sizeof n, t->replace));
		tui_cell(&cols[3], y, st, sm_fmt_count(n, sizeof n, t->insert));
		tui_cell(&cols[4], y, st, sm_fmt_count(n, sizeof n, t->keep_newer));
		tui_cell(&cols[5], y, st, sm_fmt_count(n, sizeof n, t->untouched));
		tui_cell(&cols[6], y, cur ? ST_CURSOR : t->stale_without_replacement ? ST_WARN : ST_NORMAL,
			 sm_fmt_count(n, sizeof n, t->stale_without_replacement));
		guard_names(t->guards, g, sizeof g);
		tui_cell(&cols[7], y, cur ? ST_CURSOR : t->guards ? ((t->guards & s->force) == t->guards ?
								    ST_WARN : ST_BAD) : ST_GOOD,
			 t->guards ? g : "ok");
	}
	tui_list_cols_end(&s->list, cols, nc);
	if (shape_h && s->list.n > 0)
		draw_shape(app, s, &p->types[order[s->list.cur]], r, bottom - 7 - shape_h, shape_h);
	y = bottom - 7;
	if (s->list.n > 0) {
		const sm_copy_type_plan *t = &p->types[order[s->list.cur]];

		if (t->guard_message)
			tui_put_wrapped(y, r.x + 1, r.w - 2, 2, ST_BAD, t->guard_message);
		else
			tui_putf(y, r.x + 1, r.w - 2, ST_DIM, "%s: no guard tripped%s%s",
				 t->label ? t->label : t->type,
				 t->lag_events ? ", generated rows behind by events: " : "",
				 t->lag_events ? sm_fmt_count(n, sizeof n, t->lag_events) : "");
	}
	y += 2;
	tui_putf(y++, r.x + 1, r.w - 2, s->remove_stale ? ST_WARN : ST_NORMAL,
		 "Stale rows without replacement (d): %s",
		 s->remove_stale ? "REMOVED, Commanded will replay them" : "kept");
	guard_names(tripped, g, sizeof g);
	if (tripped)
		tui_putf(y++, r.x + 1, r.w - 2, p->guards ? ST_BAD : ST_WARN,
			 "Guards tripped: %s  -  %s  (o toggles the override)", g,
			 p->guards ? "the copy is refused" : "OVERRIDDEN");
	else
		tui_put(y++, r.x + 1, r.w - 2, ST_GOOD, "No guard tripped.");
	tui_put(y, r.x + 1, r.w - 2, ST_NORMAL, p->guards ?
		"Nothing is written until the guards pass or are overridden." :
		"c copies: one transaction, replaced rows backed up, verified after commit.");
	free(order);
}

static void copy_draw(tui_app *app, tui_view *v, tui_rect r)
{
	copy_state *s = v->state;
	const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;
	int y = r.y, x = r.x + 1, w = r.w - 2;
	char a[32], b[32], c[32], d[32], e[32];

	if (env)
		tui_putf(y, x, w, ST_NORMAL, "Copy %s.snapshots -> %s.snapshots  (%s)",
			 env->settings.target_schema, env->settings.source_schema,
			 s->n_types ? "selected types" : "all configured types");
	y++;
	if (s->error[0])
		y += tui_put_wrapped(y, x, w, 2, ST_BAD, s->error);
	y++;
	switch (s->phase) {
	case CP_PLANNING:
		tui_putf(y, x, w, ST_WARN, "%s reading the copy plan ...", tui_spinner(app->tick));
		break;
	case CP_COPYING: {
		long long ms = tui_call_report(s->call);

		if (ms > 0)
			tui_putf(y, x, w, ST_WARN, "%s waiting for the lock on the live snapshots "
				 "table: %.0f s (snapshot writers hold it)", tui_spinner(app->tick),
				 (double)ms / 1000);
		else
			tui_putf(y, x, w, ST_WARN, "%s copying in one transaction ...",
				 tui_spinner(app->tick));
		break;
	}
	case CP_PLAN:
		if (s->plan)
			draw_plan(app, s, r, y);
		break;
	case CP_RESULT:
	case CP_ROLLING_BACK:
	case CP_ROLLED_BACK: {
		const sm_copy_result *res = s->result;

		tui_putf(y++, x, w, res->verified ? ST_GOOD : ST_BAD, "Copy #%lld committed.  Verified: %s",
			 res->copy_id, res->verified ? "yes (row counts and checksum read back)" : "NO");
		tui_putf(y++, x, w, ST_NORMAL, "replaced %s  inserted %s  kept newer %s  removed %s  backed up %s",
			 sm_fmt_count(a, sizeof a, res->replaced), sm_fmt_count(b, sizeof b, res->inserted),
			 sm_fmt_count(c, sizeof c, res->kept_newer), sm_fmt_count(d, sizeof d, res->removed),
			 sm_fmt_count(e, sizeof e, res->backed_up));
		tui_putf(y++, x, w, ST_DIM, "checksum %s", res->checksum ? res->checksum : "-");
		y++;
		if (s->phase == CP_ROLLING_BACK) {
			tui_putf(y, x, w, ST_WARN, "%s rolling back copy #%lld ...",
				 tui_spinner(app->tick), res->copy_id);
		} else if (s->phase == CP_ROLLED_BACK) {
			const sm_rollback_result *rb = s->rb;

			tui_putf(y++, x, w, ST_GOOD, "Rolled back copy #%lld (journal #%lld): "
				 "restored %s, deleted %s", rb->copy_id, rb->rollback_id,
				 sm_fmt_count(a, sizeof a, rb->restored), sm_fmt_count(b, sizeof b, rb->deleted));
			if (rb->drifted) {
				tui_putf(y++, x, w, ST_WARN, "%s rows changed after the copy were left "
					 "as they are, e.g.:", sm_fmt_count(c, sizeof c, rb->drifted));
				for (size_t i = 0; i < rb->n_drifted_uuids && y < r.y + r.h; i++)
					tui_put(y++, x + 2, w - 2, ST_DIM, rb->drifted_uuids[i]);
			}
		} else {
			tui_put(y, x, w, ST_NORMAL, "u rolls this copy back (restores the backed-up rows).");
		}
		break;
	}
	}
}

static void run_copy(tui_app *app, void *ctx)
{
	if (!tui_config_current(app)) {
		tui_message(app, ST_WARN, "Nothing copied: %s", tui_config_stale_text(app));
		return;
	}
	start_copy_call(app, ctx, true);
}

static void run_rollback(tui_app *app, void *ctx)
{
	copy_state *s = ctx;

	if (s->call || !s->result)
		return;
	s->error[0] = 0;
	s->phase = CP_ROLLING_BACK;
	s->call = tui_rollback_call(app, s->result->copy_id);
}

void tui_confirm_rollback(tui_app *app, long long copy_id, tui_confirm_fn on_yes, void *ctx)
{
	const sm_environment *env = sm_engine_env(app->eng);
	char text[512];

	snprintf(text, sizeof text,
		 "Roll back copy #%lld: restore the live rows it replaced\n"
		 "and delete the rows it inserted (rows changed since\n"
		 "are reported, not overwritten).%s", copy_id,
		 env->protected_env ? "\n\nThis environment is PROTECTED.\n"
		 "Type its name to roll back:" : "\n\nRoll back now?");
	if (env->protected_env)
		tui_confirm_typed(app, "Rollback", text, env->name, "nothing rolled back", on_yes, ctx);
	else
		tui_confirm(app, "Rollback", text, on_yes, ctx);
}

static void confirm_copy(tui_app *app, copy_state *s)
{
	const sm_environment *env = sm_engine_env(app->eng);
	long long repl = 0, ins = 0, keep = 0, stale = 0;
	size_t changes = 0;
	char text[1024], a[32], b[32], c[32], d[32], shape[96];

	if (s->phase != CP_PLAN || !s->plan) {
		tui_message(app, ST_DIM, s->phase == CP_RESULT ? "Already copied (u rolls back)" :
			    "Wait for the plan");
		return;
	}
	if (s->plan->guards) {
		tui_message(app, ST_BAD, "Guards tripped: fix them, or override with o");
		return;
	}
	if (!tui_config_current(app)) {
		tui_message(app, ST_WARN, "%s", tui_config_stale_text(app));
		return;
	}
	for (size_t i = 0; i < s->plan->n_types; i++) {
		repl += s->plan->types[i].replace;
		ins += s->plan->types[i].insert;
		keep += s->plan->types[i].keep_newer;
		stale += s->plan->types[i].stale_without_replacement;
	}
	for (size_t i = 0; s->shape && i < s->shape->n_types; i++)
		changes += s->shape->types[i].n_changes;
	if (!s->shape)
		snprintf(shape, sizeof shape, "not read yet");
	else if (changes)
		snprintf(shape, sizeof shape, "%zu key%s added, removed or retyped", changes,
			 changes == 1 ? "" : "s");
	else
		snprintf(shape, sizeof shape, "as the live snapshots");
	snprintf(text, sizeof text,
		 "Copy into %s.snapshots of environment %s:\n"
		 "  replace %s, insert %s, keep %s newer live rows\n"
		 "  stale rows without replacement: %s %s\n"
		 "  shape of the new snapshots: %s\n"
		 "Replaced rows are backed up; u rolls the copy back.%s",
		 env->settings.source_schema, env->name, sm_fmt_count(a, sizeof a, repl),
		 sm_fmt_count(b, sizeof b, ins), sm_fmt_count(c, sizeof c, keep),
		 sm_fmt_count(d, sizeof d, stale), s->remove_stale ? "removed" : "kept", shape,
		 env->protected_env ? "\n\nThis environment is PROTECTED.\nType its name to copy:" :
		 "\n\nCopy now?");
	if (env->protected_env)
		tui_confirm_typed(app, "Copy into a protected environment", text, env->name,
				  "nothing copied", run_copy, s);
	else
		tui_confirm(app, "Copy", text, run_copy, s);
}

static unsigned copy_key(tui_app *app, tui_view *v, int cmd, int key)
{
	copy_state *s = v->state;

	(void)key;
	switch (cmd) {
	case TUI_CMD_COPY:
		confirm_copy(app, s);
		return TUI_REDRAW;
	case TUI_CMD_OVERRIDE:
		if (s->phase == CP_PLAN) {
			s->force = s->force ? 0 : tripped_guards(s);
			start_copy_call(app, s, false);
		}
		return TUI_REDRAW;
	case TUI_CMD_REMOVE_STALE:
		if (s->phase == CP_PLAN) {
			s->remove_stale = !s->remove_stale;
			start_copy_call(app, s, false);
		}
		return TUI_REDRAW;
	case TUI_CMD_ROLLBACK:
		if (s->phase != CP_RESULT) {
			tui_message(app, ST_DIM, "Nothing to roll back on this screen yet");
			return TUI_REDRAW;
		}
		tui_confirm_rollback(app, s->result->copy_id, run_rollback, s);
		return TUI_REDRAW;
	case TUI_CMD_BACK:
		if (s->call && (s->phase == CP_COPYING || s->phase == CP_ROLLING_BACK)) {
			tui_message(app, ST_WARN, "Wait: the transaction is running");
			return TUI_REDRAW;
		}
		return TUI_POP;
	default:
		return TUI_NONE;
	}
}

static bool copy_can(tui_app *app, tui_view *v, int cmd)
{
	const copy_state *s = v->state;

	(void)app;
	switch (cmd) {
	case TUI_CMD_COPY:
	case TUI_CMD_OVERRIDE:
	case TUI_CMD_REMOVE_STALE:
	case TUI_CMD_REFRESH:
		return s->phase == CP_PLAN;
	case TUI_CMD_ROLLBACK:
		return s->phase == CP_RESULT;
	default:
		return true;
	}
}

static void copy_leave(tui_app *app, tui_view *v)
{
	copy_state *s = v->state;

	tui_call_drop(app, &s->call);
	tui_call_drop(app, &s->shape_call);
	sm_shape_summary_free(s->shape);
	sm_copy_plan_free(s->plan);
	sm_copy_result_free(s->result);
	sm_rollback_result_free(s->rb);
	free_strings(s->types, s->n_types);
}

const tui_view_ops tui_view_copy = {
	.title = "Copy", .list = true, .cmds = copy_cmds, .reload = copy_reload,
	.draw = copy_draw, .key = copy_key, .can = copy_can, .poll = copy_poll,
	.leave = copy_leave,
};
