/*
 * The instance browser: the instances (live snapshots) of one aggregate
 * type, by source_uuid, with the live and generated versions and whether
 * the generated snapshot differs; Enter opens the inspect view of the
 * instance under the cursor (its verify at the live version).  The list
 * filters by source_uuid as you type and by state (differs, same, not
 * generated, unreadable, stale, current, failed),
 * and sorts by uuid or by version.  A type may have millions of instances,
 * so only a window around the visible rows is held: the list is as long as
 * the count the engine reports, and a background call reads the window
 * again whenever the visible rows leave it (the engine filters and sorts).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct instances_state {
	tui_list lst;                /* over all matching instances */
	char *type, *label;
	sm_instance_list *list;      /* the window read last, NULL before */
	tui_call *call;
	char *call_key;              /* what the running call reads (query_key) */
	bool want_reload;            /* filter, refresh or data changed */
	bool failed;                 /* no automatic retry after an error: r retries */
	char error[1024];
} instances_state;

static const int instances_cmds[] = {
	TUI_CMD_OPEN, TUI_CMD_YANK, TUI_CMD_FILTER, TUI_CMD_STATE, TUI_CMD_SORT_NEXT,
	TUI_CMD_REFRESH, TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

/* The state filter: the comparison's states, then stale (not at the
 * target version), current (at it: what verify checks) and failed (a
 * failure recorded). */
static const char *const instance_states[] = {
	"differs", "same", "not generated", "unreadable", "stale", "current", "failed", NULL,
};
static const enum sm_instance_state state_of[] = {
	SM_INSTANCE_DIFFERENT, SM_INSTANCE_SAME, SM_INSTANCE_NOT_GENERATED,
	SM_INSTANCE_UNREADABLE,
};
enum { STATE_STALE = 5, STATE_CURRENT = 6, STATE_FAILED = 7 };
static const char *const instance_sorts[] = { "uuid", "version", NULL };

/* How a call's args carry the query: the state in bits, the order in
 * flag, reversed in limit's sign. */
static int inst_read(tui_call_args *a, sm_instance_list **res, sm_error *err)
{
	sm_instance_query q = {
		.type = a->str, .uuid_filter = a->str2, .offset = a->num,
		.limit = a->limit < 0 ? -a->limit : a->limit, .reverse = a->limit < 0,
		.order = a->flag ? SM_INSTANCES_BY_VERSION : SM_INSTANCES_BY_UUID,
	};

	if (a->bits >= 1 && a->bits <= 4)
		q.states = 1u << state_of[a->bits - 1];
	q.stale = a->bits == STATE_STALE;
	q.current = a->bits == STATE_CURRENT;
	q.failed = a->bits == STATE_FAILED;
	return sm_instances_query(a->eng, &q, a->cancel, res, err);
}

TUI_CALL_FN(inst, sm_instance_list, inst_read(a, &res, err), sm_instance_list_free)

/* What the list shows: a window read for another is dropped. */
static char *query_key(const tui_list *l)
{
	return sm_xasprintf("%d/%d/%d/%s", l->state, l->sort, l->desc, l->filter);
}

/* The loaded row at list index i, NULL when outside the window. */
static const sm_instance_row *row_at(const instances_state *s, int i)
{
	long long k;

	if (!s->list)
		return NULL;
	k = i - s->list->offset;
	return k >= 0 && k < (long long)s->list->n ? &s->list->items[k] : NULL;
}

/* Whether the rows on screen are all in the window read. */
static bool window_covers(const instances_state *s)
{
	int end = s->lst.top + (s->lst.page > 0 ? s->lst.page : 1);

	if (!s->list)
		return false;
	if (end > s->lst.n)
		end = s->lst.n;
	for (int i = s->lst.top; i < end; i++)
		if (!row_at(s, i))
			return false;
	return true;
}

/* Where the window for the visible rows starts: a page above them. */
static long long window_offset(const instances_state *s)
{
	long long offset = (long long)s->lst.top - (s->lst.page > 0 ? s->lst.page : 20);

	return offset < 0 ? 0 : offset;
}

/* Reads a window of three pages around the visible rows. */
static void fetch(tui_app *app, instances_state *s)
{
	int page = s->lst.page > 0 ? s->lst.page : 20;
	int limit = page * 3 < 60 ? 60 : page * 3;
	const tui_call_args in = {
		.eng = app->eng, .str = s->type, .str2 = s->lst.filter,
		.num = window_offset(s), .limit = s->lst.desc ? -limit : limit,
		.bits = (unsigned)s->lst.state, .flag = s->lst.sort == 1,
	};

	if (s->call || !app->eng)
		return;
	free(s->call_key);
	s->call_key = query_key(&s->lst);
	s->want_reload = false;
	s->call = tui_call_start(app, inst_fn, inst_free, &in);
}

/* The filter, state or order changed: read the first window of the new
 * list (a window being read for the old one is dropped when it comes). */
static void refilter(tui_app *app, void *ctx)
{
	instances_state *s = ctx;

	(void)app;
	s->lst.cur = s->lst.top = 0;
	s->want_reload = true;
	s->failed = false;
}

void *tui_instances_new(tui_app *app, const char *type, const char *label)
{
	instances_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	s->type = sm_xstrdup(type);
	s->label = sm_xstrdup(label ? label : type);
	tui_list_init(&s->lst, "the source_uuid", instance_states, instance_sorts, refilter, s);
	return s;
}

/* Asks for the window again (poll reads it). */
static void instances_reload(tui_app *app, tui_view *v)
{
	instances_state *s = v->state;

	/* A window being read was asked for before: read it again. */
	tui_call_drop(app, &s->call);
	s->want_reload = true;
	s->failed = false;
}

static unsigned instances_poll(tui_app *app, tui_view *v)
{
	instances_state *s = v->state;
	unsigned flags = s->call ? TUI_REDRAW : TUI_NONE;
	char *key = query_key(&s->lst);
	void *out;
	int got = tui_call_take(app, &s->call, &out, s->error, sizeof s->error, NULL);

	if (got >= 0) {
		s->failed = got == 0;
		if (got > 0 && strcmp(s->call_key, key) == 0) {
			/* (A window read for an older filter, state or order is
			 * dropped: the new one is read next.) */
			sm_instance_list_free(s->list);
			s->list = out;
			out = NULL;
			s->lst.n = s->list->total > 0x7fffffff ? 0x7fffffff : (int)s->list->total;
			tui_list_fit(&s->lst);
		}
		inst_free(out);
	}
	free(key);
	/* The same window again only when asked: rows that vanished since the
	 * count would otherwise be read in a loop. */
	if (!s->call && !s->failed &&
	    (s->want_reload || !s->list ||
	     (!window_covers(s) && window_offset(s) != s->list->offset))) {
		fetch(app, s);
		flags |= TUI_REDRAW;
	}
	return flags;
}

static const char *state_text(enum sm_instance_state st, enum tui_style *style)
{
	switch (st) {
	case SM_INSTANCE_SAME: *style = ST_GOOD; return "same";
	case SM_INSTANCE_DIFFERENT: *style = ST_DIFF; return "differs";
	case SM_INSTANCE_NOT_GENERATED: *style = ST_DIM; return "not generated";
	default: *style = ST_BAD; return "unreadable";
	}
}

static void instances_draw(tui_app *app, tui_view *v, tui_rect r)
{
	instances_state *s = v->state;
	tui_col cols[] = {
		{ "source_uuid", 0, 16, false, 0, 0, 0 },
		{ "Live", 10, 10, true, 0, 0, 0 },
		{ "Live mv", 8, 8, true, 2, 0, 0 },
		{ "Generated", 10, 10, true, 0, 0, 0 },
		{ "Gen mv", 7, 7, true, 1, 0, 0 },
		{ "Compared", 14, 14, false, 0, 0, 0 },
	};
	const size_t nc = sizeof cols / sizeof cols[0];
	int y = r.y;
	char a[32], title[512];

	snprintf(title, sizeof title, "%s  %s: %s instance%s", s->label, s->type,
		 s->list ? sm_fmt_count(a, sizeof a, s->list->total) : "?",
		 s->list && s->list->total == 1 ? "" : "s");
	tui_list_title(&s->lst, y++, r.x + 1, r.w - 2, ST_HEADER, title, s->call, app->tick);
	if (s->error[0])
		tui_putf(y, r.x + 1, r.w - 2, ST_BAD, "Cannot read the instances: %s (r: retry)",
			 s->error);
	y++;
	tui_list_table(&s->lst, cols, nc, r.x + 1, r.w - 2, y, r.y + r.h);
	for (int i = s->lst.top; i < s->lst.n && i < s->lst.top + s->lst.page; i++) {
		const sm_instance_row *row = row_at(s, i);
		bool cur = tui_list_row(&s->lst, i, r.x + 1, r.w - 2);
		enum tui_style base = cur ? ST_CURSOR : ST_NORMAL, st;
		char b[32];
		const char *txt;
		bool gen;

		y = tui_list_y(&s->lst, i);
		if (!row) {
			tui_cell(&cols[0], y, cur ? ST_CURSOR : ST_DIM, tui_draw_utf8() ? "\u2026" : "...");
			continue;
		}
		gen = row->state != SM_INSTANCE_NOT_GENERATED;
		tui_cell(&cols[0], y, base, row->source_uuid);
		snprintf(b, sizeof b, "%lld", row->live_version);
		tui_cell(&cols[1], y, base, b);
		snprintf(b, sizeof b, "v%lld", row->live_module_version);
		tui_cell(&cols[2], y, base, b);
		snprintf(b, sizeof b, "%lld", row->gen_version);
		tui_cell(&cols[3], y, base, gen ? b : "-");
		snprintf(b, sizeof b, "v%lld", row->gen_module_version);
		tui_cell(&cols[4], y, base, gen ? b : "-");
		txt = state_text(row->state, &st);
		tui_cell(&cols[5], y, cur ? ST_CURSOR : st, txt);
	}
	tui_list_cols_end(&s->lst, cols, nc);
	if (s->list && !s->call && s->lst.n == 0)
		tui_put(s->lst.y0, r.x + 2, r.w - 4, ST_WARN, s->lst.filter[0] || s->lst.state ?
			"No instance matches the filter." : "No instances of this type.");
}

static unsigned instances_key(tui_app *app, tui_view *v, int cmd, int key)
{
	instances_state *s = v->state;
	const sm_instance_row *row = s->lst.n > 0 ? row_at(s, s->lst.cur) : NULL;

	(void)key;
	switch (cmd) {
	case TUI_CMD_OPEN:
		if (row)
			tui_push(app, &tui_view_snapshot, tui_snapshot_new(app, row->source_uuid));
		return TUI_REDRAW;
	case TUI_CMD_YANK:
		if (row)
			tui_yank(app, "the source_uuid", row->source_uuid);
		return TUI_REDRAW;
	default:
		return TUI_NONE;
	}
}

static void instances_leave(tui_app *app, tui_view *v)
{
	instances_state *s = v->state;

	tui_call_drop(app, &s->call);
	sm_instance_list_free(s->list);
	free(s->call_key);
	free(s->type);
	free(s->label);
}

const tui_view_ops tui_view_instances = {
	.title = "Instances", .list = true, .cmds = instances_cmds,
	.reload = instances_reload, .draw = instances_draw,
	.key = instances_key, .poll = instances_poll, .leave = instances_leave,
};
