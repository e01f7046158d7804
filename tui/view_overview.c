/*
 * The aggregates overview: one row per aggregate type (configured ones in
 * config order, then types found only in the store, greyed), with what a
 * rebuild would do and the state of the target schema; a detail panel for
 * the row under the cursor shows every number of it, so nothing is lost
 * when the table drops columns on a narrow terminal; L or Enter lists the
 * row's instances.  The rows filter by name and by state (failed, stale,
 * behind) and sort by name, snapshots, events or failures.  The inventory
 * and the pre-flight are read on background calls.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct overview_state {
	tui_list list;         /* over visible */
	sm_inventory *inv;
	sm_preflight *pf;
	sm_rebuild_plan *plan;  /* what b would do, read when b is pressed */
	tui_call *inv_call, *pf_call, *plan_call, *discard_call;
	char inv_error[1024], pf_error[1024], plan_error[1024];
	char **selected;       /* selected types (full names) */
	size_t n_selected;
	int *visible;
} overview_state;

static const int overview_cmds[] = {
	TUI_CMD_SELECT, TUI_CMD_SELECT_ALL, TUI_CMD_REBUILD, TUI_CMD_JOIN, TUI_CMD_FAILURES,
	TUI_CMD_COPY, TUI_CMD_DISCARD, TUI_CMD_RUNS, TUI_CMD_INSTANCES, TUI_CMD_INSPECT, TUI_CMD_PROGRESS,
	TUI_CMD_REFRESH, TUI_CMD_FILTER, TUI_CMD_STATE, TUI_CMD_SORT_NEXT, TUI_CMD_HELP,
	TUI_CMD_BACK, TUI_CMD_OPEN, TUI_CMD_NONE,
};

/* The state filter: rows with failures recorded, with snapshots at an old
 * version (full replays), with snapshots behind their stream (catch-ups). */
static const char *const overview_states[] = { "failed", "stale", "behind", NULL };
enum { BY_CONFIG, BY_NAME, BY_SNAPSHOTS, BY_EVENTS, BY_FAILURES };
static const char *const overview_sorts[] = {
	"config order", "name", "snapshots", "events", "failures", NULL,
};

TUI_CALL_FN(inv, sm_inventory, sm_inventory_read(a->eng, a->cancel, &res, err), sm_inventory_free)
TUI_CALL_FN(pf, sm_preflight, sm_preflight_run(a->eng, NULL, 0, a->cancel, &res, err), sm_preflight_free)
TUI_CALL_FN(discard, sm_discard_result, sm_discard_run(a->eng, a->strv, a->n_strv, a->cancel, &res, err),
	    sm_discard_result_free)

static int plan_read(tui_call_args *a, sm_rebuild_plan **res, sm_error *err)
{
	const sm_rebuild_options opts = { .types = a->strv, .n_types = a->n_strv };

	return sm_rebuild_plan_read(a->eng, &opts, a->cancel, res, err);
}

TUI_CALL_FN(plan, sm_rebuild_plan, plan_read(a, &res, err), sm_rebuild_plan_free)

static void overview_reload(tui_app *app, tui_view *v)
{
	overview_state *s = v->state;
	const tui_call_args in = { .eng = app->eng };

	/* Calls still reading were asked before: start again. */
	tui_call_restart(app, &s->inv_call, inv_fn, inv_free, &in);
	tui_call_restart(app, &s->pf_call, pf_fn, pf_free, &in);
}

static bool is_selected(const overview_state *s, const char *type)
{
	for (size_t i = 0; i < s->n_selected; i++)
		if (strcmp(s->selected[i], type) == 0)
			return true;
	return false;
}

static void toggle_selected(overview_state *s, const char *type)
{
	for (size_t i = 0; i < s->n_selected; i++) {
		if (strcmp(s->selected[i], type) == 0) {
			free(s->selected[i]);
			s->selected[i] = s->selected[--s->n_selected];
			return;
		}
	}
	s->selected = sm_xrealloc(s->selected, (s->n_selected + 1) * sizeof *s->selected);
	s->selected[s->n_selected++] = sm_xstrdup(type);
}

static void clear_selected(overview_state *s)
{
	for (size_t i = 0; i < s->n_selected; i++)
		free(s->selected[i]);
	s->n_selected = 0;
}

static bool in_state(const sm_type_inventory *t, int state)
{
	switch (state) {
	case 1: return t->failures > 0;
	case 2: return t->stale > 0;
	case 3: return t->behind > 0;
	default: return true;
	}
}

static long long sort_value(const sm_type_inventory *t, int sort)
{
	switch (sort) {
	case BY_SNAPSHOTS: return t->snapshots;
	case BY_EVENTS: return t->events_to_fold;
	case BY_FAILURES: return t->failures;
	default: return 0;
	}
}

static const char *type_name(const sm_type_inventory *t)
{
	return t->label ? t->label : t->type;
}

static int cmp_types(const void *ctx, int a, int b)
{
	const overview_state *s = ctx;
	const sm_type_inventory *x = &s->inv->types[a], *y = &s->inv->types[b];
	long long vx, vy;

	switch (s->list.sort) {
	case BY_CONFIG:
		return a - b;
	case BY_NAME:
		return strcasecmp(type_name(x), type_name(y));
	default:
		/* The largest first: that is what one looks for. */
		vx = sort_value(x, s->list.sort);
		vy = sort_value(y, s->list.sort);
		return tui_cmp_larger(vx, vy, a, b);
	}
}

/* The rows shown: the filter and the state, in the order chosen. */
static void apply_filter(tui_app *app, void *ctx)
{
	overview_state *s = ctx;
	const char *f = s->list.filter;
	int n = 0;

	(void)app;
	free(s->visible);
	s->visible = sm_xcalloc(s->inv ? s->inv->n_types + 1 : 1, sizeof *s->visible);
	for (size_t i = 0; s->inv && i < s->inv->n_types; i++) {
		const sm_type_inventory *t = &s->inv->types[i];

		if ((!f[0] || strcasestr(t->type, f) || (t->label && strcasestr(t->label, f))) &&
		    in_state(t, s->list.state))
			s->visible[n++] = (int)i;
	}
	tui_sort_index(s->visible, n, cmp_types, s, s->list.desc);
	s->list.n = n;
	tui_list_fit(&s->list);
}

void *tui_overview_new(tui_app *app)
{
	overview_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	tui_list_init(&s->list, "the type or its label", overview_states, overview_sorts,
		      apply_filter, s);
	return s;
}

static unsigned overview_poll(tui_app *app, tui_view *v)
{
	overview_state *s = v->state;
	/* Spinners turn while the calls run. */
	unsigned flags = s->inv_call || s->pf_call || s->plan_call ? TUI_REDRAW : TUI_NONE;
	void *out;

	if (tui_call_take(app, &s->inv_call, &out, s->inv_error, sizeof s->inv_error, NULL) > 0) {
		sm_inventory_free(s->inv);
		s->inv = out;
		apply_filter(app, s);
	}
	{
		char why[1024];
		int got = tui_call_take(app, &s->discard_call, &out, why, sizeof why, "Discard failed");

		if (got >= 0) {
			const sm_discard_result *d = out;
			char a[32], b[32];

			if (got > 0)
				tui_message(app, ST_GOOD, "Discarded %s generated snapshots and %s failures "
					    "(journal #%lld); a rebuild generates them again",
					    sm_fmt_count(a, sizeof a, d->rows), sm_fmt_count(b, sizeof b, d->failures), d->run_id);
			else
				tui_message(app, ST_BAD, "%s", why);
			discard_free(out);
			app->data_generation++;
			overview_reload(app, v);
		}
	}
	if (tui_call_take(app, &s->pf_call, &out, s->pf_error, sizeof s->pf_error, NULL) > 0) {
		sm_preflight_free(s->pf);
		s->pf = out;
	}
	if (tui_call_take(app, &s->plan_call, &out, s->plan_error, sizeof s->plan_error,
			  NULL) > 0)
		s->plan = out;
	return flags;
}

/* Unknown event types of a type (count, and the first one). */
static size_t unknown_of(const overview_state *s, const char *type,
			 const sm_unknown_event **first)
{
	size_t n = 0;

	*first = NULL;
	for (size_t i = 0; s->pf && i < s->pf->n_unknown; i++) {
		if (strcmp(s->pf->unknown[i].source_type, type) == 0) {
			if (!*first)
				*first = &s->pf->unknown[i];
			n++;
		}
	}
	return n;
}

static bool preflight_skipped(const overview_state *s, const char *type)
{
	for (size_t i = 0; s->pf && i < s->pf->n_skipped; i++)
		if (strcmp(s->pf->skipped_types[i], type) == 0)
			return true;
	return false;
}

/* The pre-flight's word on a type's reducer, NULL before it came. */
static const sm_reducer_desc *reducer_of(const overview_state *s, const char *type)
{
	for (size_t i = 0; s->pf && i < s->pf->n_reducers; i++)
		if (strcmp(s->pf->reducers[i].type, type) == 0)
			return &s->pf->reducers[i];
	return NULL;
}

/* "Reducer: rules", or the external kind and what it says of itself: the
 * Commanded bridge (elixir/snapmig_commanded) names itself in its hello. */
static void reducer_text(const sm_reducer_desc *d, char *buf, size_t size, enum tui_style *st)
{
	const char *kind = d->name && strncmp(d->name, "snapmig_commanded ", 18) == 0
		? "Commanded bridge" : "external";

	*st = ST_NORMAL;
	if (!d->external) {
		snprintf(buf, size, "Reducer: rules");
	} else if (!d->answered) {
		*st = ST_BAD;
		snprintf(buf, size, "Reducer: external, no handshake: %s", d->error ? d->error : "");
	} else if (d->version_mismatch) {
		*st = ST_BAD;
		snprintf(buf, size, "Reducer: %s, %s%s; the application says v%lld, the config "
			 "v%lld: rebuild refused until they agree", kind, d->name ? d->name : "unnamed",
			 d->raw ? " (raw)" : "", d->app_version, d->config_version);
	} else {
		snprintf(buf, size, "Reducer: %s, %s%s%s", kind, d->name ? d->name : "unnamed",
			 d->raw ? " (raw)" : "", d->has_app_version ? "; the application agrees on the version" : "");
	}
}

static void versions_text(const sm_type_inventory *t, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < t->n_versions && o < size; i++) {
		char n[32];

		o += (size_t)snprintf(buf + o, size - o, "%sv%lld %s",
				      i ? (tui_draw_utf8() ? " \u00b7 " : ", ") : "",
				      t->versions[i].version, sm_fmt_count(n, sizeof n, t->versions[i].count));
	}
	if (t->n_versions == 0)
		snprintf(buf, size, "-");
}

static const char *preflight_text(tui_app *app, const overview_state *s,
				  const sm_type_inventory *t, char *buf, size_t size,
				  enum tui_style *st)
{
	const sm_unknown_event *first;
	size_t n;

	*st = ST_NORMAL;
	if (!t->configured)
		return "-";
	if (!s->pf) {
		*st = ST_DIM;
		return s->pf_call ? tui_spinner(app->tick) : "?";
	}
	if (reducer_of(s, t->type) && reducer_of(s, t->type)->version_mismatch) {
		*st = ST_BAD;
		return "version!";
	}
	if (preflight_skipped(s, t->type)) {
		*st = ST_DIM;
		return "skipped";
	}
	n = unknown_of(s, t->type, &first);
	if (n == 0) {
		*st = ST_GOOD;
		return "ok";
	}
	*st = ST_BAD;
	snprintf(buf, size, "%zu unknown", n);
	return buf;
}

static const char *target_text(const sm_type_inventory *t, char *buf, size_t size,
			       enum tui_style *st)
{
	char a[32], b[32];

	if (!t->configured) {
		*st = ST_DIM;
		return "not in config";
	}
	if (t->failures > 0) {
		*st = ST_BAD;
		snprintf(buf, size, "%s failed", sm_fmt_count(a, sizeof a, t->failures));
	} else if (t->target_at_version == 0 && t->target_stale > 0) {
		/* Made by another reducer or configuration: never copied. */
		*st = ST_WARN;
		snprintf(buf, size, "%s stale", sm_fmt_count(a, sizeof a, t->target_stale));
	} else if (t->target_at_version == 0) {
		*st = ST_DIM;
		snprintf(buf, size, "not started");
	} else if (t->target_at_version < t->snapshots - t->missing_streams) {
		*st = ST_WARN;
		snprintf(buf, size, "partial %s/%s", sm_fmt_count(a, sizeof a, t->target_at_version),
			 sm_fmt_count(b, sizeof b, t->snapshots));
	} else if (t->target_current < t->target_at_version) {
		*st = ST_WARN;
		snprintf(buf, size, "generated, %s behind",
			 sm_fmt_count(a, sizeof a, t->target_at_version - t->target_current));
	} else {
		*st = ST_GOOD;
		snprintf(buf, size, "generated");
	}
	return buf;
}

static void draw_detail(tui_app *app, const overview_state *s,
			const sm_type_inventory *t, int y, int x, int w, int h)
{
	char a[32], b[32], c[32], d[32], vers[256], line[1024];
	const sm_unknown_event *first;
	size_t n_unknown;
	int row = y;

	(void)app;
	if (h <= 0)
		return;
	tui_hline(y - 1, x, w, ST_DIM);
	tui_putf(row++, x, w, ST_HEADER, "%s  %s", t->label ? t->label : t->type, t->type);
	if (!t->configured) {
		tui_put_wrapped(row, x, w, h - 1, ST_DIM,
				"Found in the store's snapshots but not in the configuration: "
				"snapmig cannot rebuild it. Add an aggregate with this type to "
				"the config to include it.");
		return;
	}
	versions_text(t, vers, sizeof vers);
	tui_putf(row++, x, w, ST_NORMAL, "Snapshots %s: %s; target v%lld", sm_fmt_count(a, sizeof a, t->snapshots),
		 vers, t->target_version);
	if (row >= y + h)
		return;
	tui_putf(row++, x, w, ST_NORMAL, "Full replays %s, catch-ups %s, events to fold %s",
		 sm_fmt_count(b, sizeof b, t->stale), sm_fmt_count(c, sizeof c, t->behind), sm_fmt_count(d, sizeof d, t->events_to_fold));
	if (row >= y + h)
		return;
	{
		char stale[64] = "";

		/* Rows of another reducer or configuration: never copied. */
		if (t->target_stale)
			snprintf(stale, sizeof stale, " (%s stale)", sm_fmt_count(d, sizeof d, t->target_stale));
		tui_putf(row++, x, w, t->failures ? ST_BAD : t->target_stale ? ST_WARN : ST_NORMAL,
			 "Target schema: %s rows%s, %s at v%lld, %s current; failures %s; no stream %s",
			 sm_fmt_count(a, sizeof a, t->target_rows), stale, sm_fmt_count(b, sizeof b, t->target_at_version),
			 t->target_version, sm_fmt_count(c, sizeof c, t->target_current), sm_fmt_count(d, sizeof d, t->failures),
			 sm_fmt_count(vers, sizeof vers, t->missing_streams));
	}
	if (row >= y + h)
		return;
	if (reducer_of(s, t->type)) {
		enum tui_style st;

		reducer_text(reducer_of(s, t->type), line, sizeof line, &st);
		tui_put(row++, x, w, st, line);
		if (row >= y + h)
			return;
	}
	n_unknown = unknown_of(s, t->type, &first);
	if (s->pf_error[0] && !s->pf) {
		tui_putf(row, x, w, ST_BAD, "Pre-flight failed: %s", s->pf_error);
	} else if (n_unknown) {
		snprintf(line, sizeof line, "Pre-flight: %zu unknown event type%s, e.g. %s "
			 "(%s events in %s streams, e.g. %s)", n_unknown, n_unknown == 1 ? "" : "s",
			 first->event_type, sm_fmt_count(a, sizeof a, first->events), sm_fmt_count(b, sizeof b, first->streams),
			 first->n_examples ? first->examples[0] : "-");
		tui_put_wrapped(row, x, w, y + h - row, ST_BAD, line);
	} else if (s->pf) {
		tui_put(row, x, w, ST_GOOD, preflight_skipped(s, t->type) ?
			"Pre-flight: skipped (external reducer)" :
			"Pre-flight: every event type in its streams has a handler");
	}
}

static void overview_draw(tui_app *app, tui_view *v, tui_rect r)
{
	overview_state *s = v->state;
	const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;
	tui_col cols[] = {
		{ "", 3, 3, false, 0, 0, 0 },
		{ "Type", 0, 12, false, 0, 0, 0 },
		{ "Snapshots", 10, 10, true, 0, 0, 0 },
		{ "Versions", 0, 14, false, 5, 0, 0 },
		{ "Target", 6, 6, false, 3, 0, 0 },
		{ "Rebuild", 9, 9, true, 0, 0, 0 },
		{ "Catch-up", 9, 9, true, 2, 0, 0 },
		{ "Events", 11, 11, true, 1, 0, 0 },
		{ "Pre-flight", 10, 10, false, 4, 0, 0 },
		{ "Target schema", 0, 13, false, 0, 0, 0 },
	};
	const size_t nc = sizeof cols / sizeof cols[0];
	int y = r.y, detail_h = 6;
	char buf[256];

	if (env && s->inv) {
		snprintf(buf, sizeof buf, "Source %s (%s) -> target %s (%s)%s",
			 env->settings.source_schema, sm_column_type_name(s->inv->source_data),
			 env->settings.target_schema,
			 s->inv->target_data == SM_COL_MISSING ? "not created yet" :
			 sm_column_type_name(s->inv->target_data),
			 s->inv->source_double_encoded ? ", double-encoded jsonb" : "");
		tui_put(y, r.x + 1, r.w - 2, ST_NORMAL, buf);
		if (s->inv->last_run_id)
			tui_putf(y, r.x + r.w - 18, 17, ST_DIM, "last run #%lld", s->inv->last_run_id);
	}
	y++;
	if (s->inv_call)
		tui_putf(y, r.x + 1, r.w - 2, ST_WARN, "%s reading the inventory ...",
			 tui_spinner(app->tick));
	else if (s->inv_error[0])
		tui_putf(y, r.x + 1, r.w - 2, ST_BAD, "Inventory failed: %s (r: retry)", s->inv_error);
	else if (s->inv && s->inv->activity.busy) {
		char who[900];

		/* Another process holds the target: its rebuild, copy, ... */
		tui_putf(y, r.x + 1, r.w - 2, ST_WARN, "In use: %s",
			 sm_activity_describe(&s->inv->activity, who, sizeof who));
	} else {
		int x = r.x + 1;

		if (s->n_selected)
			x += tui_putf(y, x, r.w - 2, ST_MARK, "%zu marked  ", s->n_selected);
		tui_put(y, x, r.x + r.w - 1 - x, ST_WARN,
			tui_list_status(&s->list, buf, sizeof buf));
	}
	y++;
	tui_list_table(&s->list, cols, nc, r.x + 1, r.w - 2, y, r.y + r.h - detail_h - 1);
	for (int i = s->list.top; s->inv && i < s->list.n && i < s->list.top + s->list.page; i++) {
		const sm_type_inventory *t = &s->inv->types[s->visible[i]];
		bool cur = tui_list_row(&s->list, i, r.x + 1, r.w - 2);
		enum tui_style base = cur ? ST_CURSOR : t->configured ? ST_NORMAL : ST_DIM;
		enum tui_style st;
		char n[32], vers[256], pfb[32], tb[64];
		const char *txt;

		y = tui_list_y(&s->list, i);
		tui_cell(&cols[0], y, cur ? ST_CURSOR : ST_MARK,
			 is_selected(s, t->type) ? "[x]" : t->configured ? "[ ]" : "");
		tui_cell(&cols[1], y, base, t->label ? t->label : t->type);
		tui_cell(&cols[2], y, base, sm_fmt_count(n, sizeof n, t->snapshots));
		versions_text(t, vers, sizeof vers);
		tui_cell(&cols[3], y, base, vers);
		snprintf(tb, sizeof tb, "v%lld", t->target_version);
		tui_cell(&cols[4], y, base, t->configured ? tb : "-");
		tui_cell(&cols[5], y, base, t->configured ? sm_fmt_count(n, sizeof n, t->stale) : "-");
		tui_cell(&cols[6], y, base, t->configured ? sm_fmt_count(n, sizeof n, t->behind) : "-");
		tui_cell(&cols[7], y, base, t->configured ? sm_fmt_count(n, sizeof n, t->events_to_fold) : "-");
		txt = preflight_text(app, s, t, pfb, sizeof pfb, &st);
		tui_cell(&cols[8], y, cur ? ST_CURSOR : st, txt);
		txt = target_text(t, tb, sizeof tb, &st);
		tui_cell(&cols[9], y, cur ? ST_CURSOR : st, txt);
	}
	tui_list_cols_end(&s->list, cols, nc);
	if (s->inv && s->inv->n_types == 0)
		tui_put(s->list.y0, r.x + 2, r.w - 4, ST_WARN,
			"No aggregate types: none configured and no snapshots in the store.");
	else if (s->inv && s->list.n == 0)
		tui_put(s->list.y0, r.x + 2, r.w - 4, ST_WARN,
			"No aggregate type matches (Esc or q clears the filter).");
	if (s->inv && s->list.n > 0)
		draw_detail(app, s, &s->inv->types[s->visible[s->list.cur]],
			    r.y + r.h - detail_h, r.x + 1, r.w - 2, detail_h);
}

/* Whether the inventory saw another process's rebuild on the target. */
static bool other_rebuild(const overview_state *s)
{
	return s->inv && s->inv->activity.busy &&
		strncmp(s->inv->activity.operation, "rebuild", 7) == 0;
}

/* The configured types the command applies to: the selection, else the
 * row under the cursor.  Returns a malloc'ed array of borrowed strings. */
static const char **target_types(const overview_state *s, size_t *n)
{
	const char **out;

	*n = 0;
	if (!s->inv || s->list.n == 0)
		return NULL;
	out = sm_xcalloc(s->inv->n_types + 1, sizeof *out);
	for (size_t i = 0; i < s->inv->n_types; i++) {
		const sm_type_inventory *t = &s->inv->types[i];

		if (t->configured && is_selected(s, t->type))
			out[(*n)++] = t->type;
	}
	if (*n == 0) {
		const sm_type_inventory *t = &s->inv->types[s->visible[s->list.cur]];

		if (t->configured)
			out[(*n)++] = t->type;
	}
	if (*n == 0) {
		free(out);
		return NULL;
	}
	return out;
}

static const sm_type_inventory *find_type(const overview_state *s, const char *type)
{
	for (size_t i = 0; s->inv && i < s->inv->n_types; i++)
		if (strcmp(s->inv->types[i].type, type) == 0)
			return &s->inv->types[i];
	return NULL;
}

static void start_rebuild(tui_app *app, void *ctx)
{
	overview_state *s = ctx;
	size_t n;
	const char **types;

	if (!s->plan) {
		tui_message(app, ST_WARN, "Rebuild not started: its plan was not read%s",
			    s->plan_call ? " yet" : "");
		return;
	}
	types = target_types(s, &n);
	if (types)
		tui_run_start(app, types, n, NULL, 0, false);
	free(types);
}

/* The rebuild dialog's text: the plan once it is read (sm_rebuild_plan_read
 * plans as the run does, so the counts are the run's). */
static const char *plan_text(tui_app *app, void *ctx, char *buf, size_t size)
{
	overview_state *s = ctx;
	const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;
	const sm_rebuild_plan *p = s->plan;
	char a[32], b[32], c[32];
	size_t o = 0, unknown = 0;

	if (!env)
		return "Not connected.";
	if (s->plan_call) {
		snprintf(buf, size, "Rebuild into schema %s:\n\n%s reading the plan ...\n\n"
			 "(n: do not rebuild)", env->settings.target_schema,
			 tui_spinner(app->tick));
		return buf;
	}
	if (!p) {
		snprintf(buf, size, "The plan could not be read:\n%s\n\nNothing was started (n).",
			 s->plan_error);
		return buf;
	}
	o += (size_t)snprintf(buf + o, size - o, "Rebuild into schema %s:\n",
			      env->settings.target_schema);
	for (size_t i = 0; i < p->n_types && o < size; i++) {
		const sm_unknown_event *first;

		unknown += unknown_of(s, p->types[i].type, &first);
		if (i < 6)
			o += (size_t)snprintf(buf + o, size - o, "  %-16s %s instances, %s events\n",
					      p->types[i].label ? p->types[i].label :
					      p->types[i].type,
					      sm_fmt_count(a, sizeof a, p->types[i].instances),
					      sm_fmt_count(b, sizeof b, p->types[i].events));
	}
	if (p->n_types > 6 && o < size)
		o += (size_t)snprintf(buf + o, size - o, "  ... and %zu more types\n",
				      p->n_types - 6);
	if (o < size)
		o += (size_t)snprintf(buf + o, size - o,
				      "\nPlan: %s instances, %s events to fold, %d worker%s.",
				      sm_fmt_count(a, sizeof a, p->instances),
				      sm_fmt_count(b, sizeof b, p->events), p->jobs,
				      p->jobs == 1 ? "" : "s");
	if (p->failing && o < size)
		o += (size_t)snprintf(buf + o, size - o,
				      "\n%s of them fail at once (no stream, or metadata\n"
				      "that is not JSON): listed on the failures screen.",
				      sm_fmt_count(c, sizeof c, p->failing));
	if (unknown && o < size)
		o += (size_t)snprintf(buf + o, size - o,
				      "\nPre-flight: %zu unknown event type%s: the streams holding\n"
				      "them will fail (listed on the failures screen).",
				      unknown, unknown == 1 ? "" : "s");
	if (o < size)
		snprintf(buf + o, size - o, p->instances ? "\n\nStart the rebuild?" :
			 "\n\nNothing to do: every instance is current.  Start anyway?");
	return buf;
}

/* b: reads the plan of the rebuild of the marked types (or the row) in
 * the background and asks, showing it once it is read. */
static void confirm_rebuild(tui_app *app, overview_state *s)
{
	size_t n;
	const char **types = target_types(s, &n);
	tui_call_args in = { .eng = app->eng };

	if (!types) {
		tui_message(app, ST_WARN, "Nothing to rebuild: mark configured types (m, a)");
		return;
	}
	if (tui_run_active(app)) {
		tui_message(app, ST_WARN, "A rebuild is already running (p shows it)");
		free(types);
		return;
	}
	if (!tui_config_current(app)) {
		tui_message(app, ST_WARN, "%s", tui_config_stale_text(app));
		free(types);
		return;
	}
	sm_rebuild_plan_free(s->plan);
	s->plan = NULL;
	s->plan_error[0] = 0;
	in.strv = types;
	in.n_strv = n;
	tui_call_restart(app, &s->plan_call, plan_fn, plan_free, &in);
	free(types);
	tui_confirm_live(app, "Rebuild", plan_text, start_rebuild, s);
}

static void start_join(tui_app *app, void *ctx, const char *text)
{
	char *end;
	long jobs = strtol(text, &end, 10);

	(void)ctx;
	while (*end == ' ')
		end++;
	if (end == text || *end || jobs < 1 || jobs > SM_MAX_JOBS) {
		tui_message(app, ST_WARN, "Not joined: workers must be a number from 1 to %d",
			    SM_MAX_JOBS);
		return;
	}
	tui_run_join(app, (int)jobs);
}

/* B: joins the rebuild another process runs on the target, after asking
 * how many workers this process adds.  The inventory says who runs it
 * (as it was read: the engine finds the plan as it is now). */
static void confirm_join(tui_app *app, overview_state *s)
{
	const sm_environment *env = sm_engine_env(app->eng);
	const sm_activity *a = other_rebuild(s) ? &s->inv->activity : NULL;
	char text[1400], jobs[16];

	if (tui_run_active(app)) {
		tui_message(app, ST_WARN, "A rebuild is already running (p shows it)");
		return;
	}
	if (a)
		snprintf(text, sizeof text,
			 "Running on target schema %s:\n"
			 "  run #%lld, %s,%s%s on %s (pid %ld)\n"
			 "  since %s\n\n", env->settings.target_schema, a->run_id, a->operation,
			 a->os_user[0] ? " by " : "", a->os_user, a->host[0] ? a->host : "?", a->pid,
			 a->started_at);
	else
		snprintf(text, sizeof text,
			 "No rebuild was running on target schema %s\n"
			 "when the overview was read (r reads it again).\n"
			 "Joining finds one that runs now.\n\n", env->settings.target_schema);
	snprintf(text + strlen(text), sizeof text - strlen(text),
		 "This process works on its plan too: the same types,\n"
		 "with this configuration's reducers (they must be the plan's).\n"
		 "Cancelling it (x) stops this process only; the others go on.\n\n"
		 "Workers of this process (1-%d):", SM_MAX_JOBS);
	snprintf(jobs, sizeof jobs, "%d", env->settings.jobs);
	tui_prompt(app, "Join the running rebuild", text, jobs, start_join, s);
}

static void start_discard(tui_app *app, void *ctx)
{
	overview_state *s = ctx;
	size_t n;
	const char **types = target_types(s, &n);
	/* A write: leaving does not cancel it, quitting asks first. */
	tui_call_args in = { .eng = app->eng, .writes = true };

	if (!types || s->discard_call) {
		free(types);
		return;
	}
	in.strv = types;
	in.n_strv = n;
	s->discard_call = tui_call_start(app, discard_fn, discard_free, &in);
	free(types);
}

/* Drops generated rows on purpose, after the confirmation copy asks for
 * (the name of a protected environment typed). */
static void confirm_discard(tui_app *app, overview_state *s)
{
	const sm_environment *env = sm_engine_env(app->eng);
	size_t n, o = 0;
	const char **types = target_types(s, &n);
	char text[2048], a[32];

	if (!types) {
		tui_message(app, ST_WARN, "Nothing to discard: mark configured types (m, a)");
		return;
	}
	if (tui_run_active(app)) {
		tui_message(app, ST_WARN, "A rebuild is running: discard when it has ended");
		free(types);
		return;
	}
	o += (size_t)snprintf(text + o, sizeof text - o, "Discard the generated snapshots in schema %s:\n",
			      env->settings.target_schema);
	for (size_t i = 0; i < n && o < sizeof text; i++) {
		const sm_type_inventory *t = find_type(s, types[i]);

		o += (size_t)snprintf(text + o, sizeof text - o, "  %-16s %s rows\n",
				      t->label ? t->label : t->type, sm_fmt_count(a, sizeof a, t->target_rows));
	}
	if (o < sizeof text)
		snprintf(text + o, sizeof text - o,
			 "The live table is not touched; a rebuild generates them again.%s",
			 env->protected_env ? "\n\nThis environment is PROTECTED.\nType its name to discard:"
					    : "\n\nDiscard now?");
	if (env->protected_env)
		tui_confirm_typed(app, "Discard", text, env->name, "nothing discarded", start_discard, s);
	else
		tui_confirm(app, "Discard", text, start_discard, s);
	free(types);
}

static void inspect_uuid(tui_app *app, void *ctx, const char *text)
{
	(void)ctx;
	if (text[0])
		tui_push(app, &tui_view_snapshot, tui_snapshot_new(app, text));
}

static unsigned overview_key(tui_app *app, tui_view *v, int cmd, int key)
{
	overview_state *s = v->state;
	const sm_type_inventory *cur = s->inv && s->list.n > 0 ?
		&s->inv->types[s->visible[s->list.cur]] : NULL;


	(void)key;
	switch (cmd) {
	case TUI_CMD_SELECT:
		if (cur && cur->configured) {
			toggle_selected(s, cur->type);
			tui_list_key(app, &s->list, TUI_CMD_DOWN);
		}
		return TUI_REDRAW;
	case TUI_CMD_SELECT_ALL: {
		size_t configured = 0;

		for (size_t i = 0; s->inv && i < s->inv->n_types; i++)
			configured += s->inv->types[i].configured;
		if (s->n_selected == configured) {
			clear_selected(s);
		} else {
			clear_selected(s);
			for (size_t i = 0; s->inv && i < s->inv->n_types; i++)
				if (s->inv->types[i].configured)
					toggle_selected(s, s->inv->types[i].type);
		}
		return TUI_REDRAW;
	}
	case TUI_CMD_REBUILD:
		confirm_rebuild(app, s);
		return TUI_REDRAW;
	case TUI_CMD_JOIN:
		confirm_join(app, s);
		return TUI_REDRAW;
	case TUI_CMD_DISCARD:
		confirm_discard(app, s);
		return TUI_REDRAW;
	case TUI_CMD_FAILURES:
		tui_push(app, &tui_view_failures, tui_failures_new(app, NULL));
		return TUI_REDRAW;
	case TUI_CMD_RUNS:
		tui_push(app, &tui_view_runs, tui_runs_new(app));
		return TUI_REDRAW;
	case TUI_CMD_COPY: {
		size_t n;
		const char **types = target_types(s, &n);

		if (!types) {
			tui_message(app, ST_WARN, "Nothing to copy: mark configured types (m, a)");
			return TUI_REDRAW;
		}
		tui_push(app, &tui_view_copy, tui_copy_new(app, types, n));
		free(types);
		return TUI_REDRAW;
	}
	case TUI_CMD_INSTANCES:
	case TUI_CMD_OPEN:
		if (cur)
			tui_push(app, &tui_view_instances, tui_instances_new(app, cur->type, cur->label));
		return TUI_REDRAW;
	case TUI_CMD_INSPECT:
		tui_prompt(app, "Inspect an instance",
			   "source_uuid of the aggregate instance (its stream_uuid):",
			   "", inspect_uuid, s);
		return TUI_REDRAW;
	case TUI_CMD_PROGRESS:
		if (app->run)
			tui_push(app, &tui_view_rebuild, NULL);
		else
			tui_message(app, ST_WARN, "No rebuild in this session yet (b starts one)");
		return TUI_REDRAW;
	case TUI_CMD_BACK:
		/* (Back with a filter set clears it: the list does.) */
		if (!s->list.filter[0] && app->depth > 1 && tui_run_active(app)) {
			tui_message(app, ST_WARN, "A rebuild is running in this environment: "
				    "cancel it (p, then x) before leaving it");
			return TUI_REDRAW;
		}
		return TUI_NONE;
	default:
		return TUI_NONE;
	}
}

static void overview_leave(tui_app *app, tui_view *v)
{
	overview_state *s = v->state;

	tui_call_drop(app, &s->inv_call);
	tui_call_drop(app, &s->pf_call);
	tui_call_drop(app, &s->discard_call);
	tui_call_drop(app, &s->plan_call);
	sm_inventory_free(s->inv);
	sm_preflight_free(s->pf);
	sm_rebuild_plan_free(s->plan);
	clear_selected(s);
	free(s->selected);
	free(s->visible);
}

const tui_view_ops tui_view_overview = {
	.title = "Aggregates", .list = true, .cmds = overview_cmds,
	.reload = overview_reload, .draw = overview_draw, .key = overview_key,
	.poll = overview_poll, .leave = overview_leave,
};
