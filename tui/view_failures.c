/*
 * The failures screen: the current failures grouped by aggregate type,
 * kind and event type ("unknown event  Elixir...Paused  312 instances"),
 * each group expandable to its instances (source_uuid, stream version,
 * message).  Enter on a group expands or collapses it, on an instance opens
 * the failure with its whole message.  From a group: re-run only its failed
 * instances, or save the list to a file; from an instance: inspect its
 * snapshots, copy its uuid.  The groups sort by type, by their number of
 * failures, by age or by event type; the state filter picks one kind.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct fgroup {
	const sm_failure *head;  /* first item: type, kind, event type */
	size_t first, count;     /* range in the sorted items */
	const char *newest;      /* the latest recorded_at of its items */
	bool expanded;
} fgroup;

typedef struct frow {
	int group;
	int item;                /* index in items, -1 for the group's own row */
} frow;

typedef struct failures_state {
	tui_list lst;                /* over rows */
	char *type;
	sm_failure_list *list;
	const sm_failure **items;    /* filtered, sorted */
	size_t n_items;
	fgroup *groups;
	size_t n_groups;
	int *order;                  /* groups in the order shown */
	frow *rows;
	char **expanded;             /* keys of expanded groups, kept across refreshes */
	size_t n_expanded;
	tui_call *call;
	char error[1024];
} failures_state;

static const int failures_cmds[] = {
	TUI_CMD_OPEN, TUI_CMD_RERUN, TUI_CMD_SAVE, TUI_CMD_INSPECT, TUI_CMD_YANK,
	TUI_CMD_FILTER, TUI_CMD_STATE, TUI_CMD_SORT_NEXT, TUI_CMD_REFRESH, TUI_CMD_HELP,
	TUI_CMD_BACK, TUI_CMD_NONE,
};

enum { BY_TYPE, BY_COUNT, BY_AGE, BY_EVENT };
static const char *const failures_sorts[] = { "type", "failures", "age", "event", NULL };
/* The state filter: one failure kind (tui_failure_kind_text). */
static const char *kind_states[SM_FAIL__COUNT + 1];

const char *tui_failure_kind_text(int kind)
{
	return sm_failure_kind_label((enum sm_failure_kind)kind);
}

TUI_CALL_FN(fail, sm_failure_list, sm_failures_read(a->eng, a->str, -1, a->cancel, &res, err),
	    sm_failure_list_free)

static int strcmp0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int same_group(const sm_failure *a, const sm_failure *b)
{
	int d = strcmp0(a->source_type, b->source_type);

	if (!d)
		d = (int)a->kind - (int)b->kind;
	if (!d)
		d = strcmp0(a->event_type, b->event_type);
	return d;
}

/* Items by group, then by source_uuid. */
static int cmp_failure(const void *pa, const void *pb)
{
	const sm_failure *a = *(const sm_failure *const *)pa;
	const sm_failure *b = *(const sm_failure *const *)pb;
	int d = same_group(a, b);

	return d ? d : strcmp0(a->source_uuid, b->source_uuid);
}

/* Items by group, then the newest first (for the order by age). */
static int cmp_failure_age(const void *pa, const void *pb)
{
	const sm_failure *a = *(const sm_failure *const *)pa;
	const sm_failure *b = *(const sm_failure *const *)pb;
	int d = same_group(a, b);

	if (!d)
		d = strcmp0(b->recorded_at, a->recorded_at);
	return d ? d : strcmp0(a->source_uuid, b->source_uuid);
}

static int cmp_groups(const void *ctx, int a, int b)
{
	const failures_state *s = ctx;
	const fgroup *x = &s->groups[a], *y = &s->groups[b];
	int d = 0;

	switch (s->lst.sort) {
	case BY_COUNT:
		d = tui_cmp_larger((long long)x->count, (long long)y->count, 0, 0);
		break;
	case BY_AGE:
		d = strcmp0(y->newest, x->newest);
		break;
	case BY_EVENT:
		d = strcmp0(x->head->event_type, y->head->event_type);
		break;
	default:
		break;
	}
	return d ? d : a - b;
}

static char *group_key(const sm_failure *f)
{
	return sm_xasprintf("%s\x1f%d\x1f%s", f->source_type ? f->source_type : "",
			    (int)f->kind, f->event_type ? f->event_type : "");
}

static bool was_expanded(const failures_state *s, const sm_failure *f)
{
	char *k = group_key(f);
	bool found = false;

	for (size_t i = 0; i < s->n_expanded && !found; i++)
		found = strcmp(s->expanded[i], k) == 0;
	free(k);
	return found;
}

static void remember_expanded(failures_state *s)
{
	for (size_t i = 0; i < s->n_expanded; i++)
		free(s->expanded[i]);
	s->n_expanded = 0;
	s->expanded = sm_xrealloc(s->expanded, (s->n_groups + 1) * sizeof *s->expanded);
	for (size_t g = 0; g < s->n_groups; g++)
		if (s->groups[g].expanded)
			s->expanded[s->n_expanded++] = group_key(s->groups[g].head);
}

static bool matches(const sm_failure *f, const char *filter, int state)
{
	if (state && (int)f->kind != state - 1)
		return false;
	return !filter[0] ||
	       (f->source_type && strcasestr(f->source_type, filter)) ||
	       (f->event_type && strcasestr(f->event_type, filter)) ||
	       (f->source_uuid && strcasestr(f->source_uuid, filter)) ||
	       (f->message && strcasestr(f->message, filter)) ||
	       strcasestr(tui_failure_kind_text((int)f->kind), filter);
}

/* Rebuilds the visible rows from the groups' expanded flags. */
static void build_rows(failures_state *s)
{
	int n = 0;

	free(s->rows);
	s->rows = sm_xcalloc(s->n_items + s->n_groups + 1, sizeof *s->rows);
	for (size_t k = 0; k < s->n_groups; k++) {
		int g = s->order[k];

		s->rows[n++] = (frow){ g, -1 };
		if (s->groups[g].expanded)
			for (size_t i = 0; i < s->groups[g].count; i++)
				s->rows[n++] = (frow){ g, (int)(s->groups[g].first + i) };
	}
	s->lst.n = n;
	tui_list_fit(&s->lst);
}

static void build_groups(failures_state *s)
{
	free(s->items);
	free(s->groups);
	free(s->order);
	s->items = NULL;
	s->groups = NULL;
	s->order = NULL;
	s->n_items = s->n_groups = 0;
	if (!s->list) {
		build_rows(s);
		return;
	}
	s->items = sm_xcalloc(s->list->n + 1, sizeof *s->items);
	for (size_t i = 0; i < s->list->n; i++)
		if (matches(&s->list->items[i], s->lst.filter, s->lst.state))
			s->items[s->n_items++] = &s->list->items[i];
	qsort(s->items, s->n_items, sizeof *s->items,
	      s->lst.sort == BY_AGE ? cmp_failure_age : cmp_failure);
	s->groups = sm_xcalloc(s->n_items + 1, sizeof *s->groups);
	for (size_t i = 0; i < s->n_items; i++) {
		fgroup *g;

		if (i == 0 || same_group(s->items[i - 1], s->items[i]) != 0) {
			g = &s->groups[s->n_groups++];
			g->head = s->items[i];
			g->first = i;
			g->expanded = was_expanded(s, s->items[i]);
		}
		g = &s->groups[s->n_groups - 1];
		g->count++;
		if (strcmp0(s->items[i]->recorded_at, g->newest) > 0)
			g->newest = s->items[i]->recorded_at;
	}
	s->order = sm_xcalloc(s->n_groups + 1, sizeof *s->order);
	for (size_t g = 0; g < s->n_groups; g++)
		s->order[g] = (int)g;
	tui_sort_index(s->order, (int)s->n_groups, cmp_groups, s, s->lst.desc);
	build_rows(s);
}

/* The filter changed: the groups again, expanded as they were. */
static void refilter(tui_app *app, void *ctx)
{
	failures_state *s = ctx;

	(void)app;
	remember_expanded(s);
	build_groups(s);
}

static void failures_reload(tui_app *app, tui_view *v)
{
	failures_state *s = v->state;
	const tui_call_args in = { .eng = app->eng, .str = s->type };

	if (app->eng)
		tui_call_restart(app, &s->call, fail_fn, fail_free, &in);
}

void *tui_failures_new(tui_app *app, const char *type)
{
	failures_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	s->type = sm_xstrdup(type);
	for (int k = 0; k < SM_FAIL__COUNT; k++)
		kind_states[k] = tui_failure_kind_text(k);
	tui_list_init(&s->lst, "the type, kind, event type, uuid or message", kind_states,
		      failures_sorts, refilter, s);
	return s;
}

static unsigned failures_poll(tui_app *app, tui_view *v)
{
	failures_state *s = v->state;
	unsigned flags = s->call ? TUI_REDRAW : TUI_NONE;
	void *out;

	if (tui_call_take(app, &s->call, &out, s->error, sizeof s->error, NULL) > 0) {
		remember_expanded(s);
		free(s->items);     /* points into the old list */
		s->items = NULL;
		sm_failure_list_free(s->list);
		s->list = out;
		build_groups(s);
	}
	return flags;
}

static const char *type_label(tui_app *app, const char *type)
{
	const sm_aggregate *a = type ? sm_config_find_aggregate(app->cfg, type) : NULL;

	return a && a->label ? a->label : type ? type : "?";
}

static void failures_draw(tui_app *app, tui_view *v, tui_rect r)
{
	failures_state *s = v->state;
	tui_col gcols[] = {
		{ "", 2, 2, false, 0, 0, 0 },
		{ "Type", 10, 10, false, 0, 0, 0 },
		{ "Kind", 14, 14, false, 0, 0, 0 },
		{ "Event type", 0, 16, false, 0, 0, 0 },
		{ "Instances", 13, 13, true, 0, 0, 0 },
	};
	tui_col icols[] = {
		{ "", 4, 4, false, 0, 0, 0 },
		{ "source_uuid", 0, 20, false, 0, 0, 0 },
		{ "version", 9, 9, true, 0, 0, 0 },
		{ "message", 0, 24, false, 0, 0, 0 },
	};
	int y = r.y;
	char a[32], b[96];

	snprintf(b, sizeof b, "%s failures in %zu groups", sm_fmt_count(a, sizeof a, (long long)s->n_items),
		 s->n_groups);
	tui_list_title(&s->lst, y++, r.x + 1, r.w - 2, ST_NORMAL, b, s->call, app->tick);
	if (s->error[0])
		tui_putf(y, r.x + 1, r.w - 2, ST_BAD, "Cannot read the failures: %s", s->error);
	y++;
	/* Two tables on the same rows: groups, and the failures of a group. */
	tui_cols_layout(icols, 4, r.x + 1, r.w - 2);
	tui_list_cols_begin(&s->lst, icols, 4);
	tui_list_table(&s->lst, gcols, 5, r.x + 1, r.w - 2, y, r.y + r.h);
	for (int i = s->lst.top; i < s->lst.n && i < s->lst.top + s->lst.page; i++) {
		const frow *row = &s->rows[i];
		const fgroup *g = &s->groups[row->group];
		bool cur = tui_list_row(&s->lst, i, r.x + 1, r.w - 2);
		enum tui_style st = cur ? ST_CURSOR : ST_NORMAL;

		y = tui_list_y(&s->lst, i);
		if (row->item < 0) {
			tui_cell(&gcols[0], y, cur ? ST_CURSOR : ST_MARK,
				 g->expanded ? "-" : "+");
			tui_cell(&gcols[1], y, st, type_label(app, g->head->source_type));
			tui_cell(&gcols[2], y, cur ? ST_CURSOR : ST_BAD,
				 tui_failure_kind_text((int)g->head->kind));
			tui_cell(&gcols[3], y, st, g->head->event_type ? g->head->event_type : "-");
			snprintf(b, sizeof b, "%s instance%s", sm_fmt_count(a, sizeof a, (long long)g->count),
				 g->count == 1 ? "" : "s");
			tui_cell(&gcols[4], y, st, b);
		} else {
			const sm_failure *f = s->items[row->item];

			tui_cell(&icols[1], y, st, f->source_uuid);
			snprintf(b, sizeof b, "v%lld", f->stream_version);
			tui_cell(&icols[2], y, cur ? ST_CURSOR : ST_DIM, f->stream_version ? b : "-");
			tui_cell(&icols[3], y, cur ? ST_CURSOR : ST_DIM, f->message);
		}
	}
	/* Sideways as far as the widest cut cell of either table. */
	tui_list_cols_end(&s->lst, icols, 4);
	tui_list_cols_end(&s->lst, gcols, 5);
	if (!s->call && s->list && s->n_items == 0)
		tui_put(s->lst.y0, r.x + 2, r.w - 4, ST_GOOD, s->lst.filter[0] || s->lst.state ?
			"No failure matches the filter." : "No failures recorded.");
}

/* A failure with its whole message, to read and search. */
static void open_failure(tui_app *app, const sm_failure *f)
{
	char ver[32], run[32];
	char *title, *text;

	snprintf(ver, sizeof ver, "%lld", f->stream_version);
	snprintf(run, sizeof run, "#%lld", f->run_id);
	title = sm_xasprintf("%s  %s", tui_failure_kind_text((int)f->kind),
			     f->source_uuid ? f->source_uuid : "?");
	text = sm_xasprintf("Instance     %s\n"
			    "Type         %s (%s)\n"
			    "Kind         %s (%s)\n"
			    "Event type   %s\n"
			    "Version      %s\n"
			    "Run          %s, recorded %s\n"
			    "\n"
			    "%s\n",
			    f->source_uuid ? f->source_uuid : "-",
			    f->source_type ? f->source_type : "-",
			    type_label(app, f->source_type),
			    tui_failure_kind_text((int)f->kind), sm_failure_kind_name(f->kind),
			    f->event_type ? f->event_type : "-",
			    f->stream_version ? ver : "- (no event)",
			    f->run_id ? run : "-", f->recorded_at ? f->recorded_at : "-",
			    f->message ? f->message : "");
	tui_push(app, &tui_view_text, tui_text_new(app, "Failure", title, text, f->source_uuid));
	free(title);
	free(text);
}

static void rerun_group(tui_app *app, void *ctx)
{
	failures_state *s = ctx;
	const fgroup *g;
	const char **uuids;
	const char *type;

	if (s->lst.n == 0)
		return;
	g = &s->groups[s->rows[s->lst.cur].group];
	type = g->head->source_type;
	uuids = sm_xcalloc(g->count + 1, sizeof *uuids);
	for (size_t i = 0; i < g->count; i++)
		uuids[i] = s->items[g->first + i]->source_uuid;
	tui_run_start(app, &type, 1, uuids, g->count, true);
	free(uuids);
}

static void confirm_rerun(tui_app *app, failures_state *s)
{
	const fgroup *g;
	char text[1024], a[32];

	if (s->lst.n == 0)
		return;
	if (!tui_config_current(app)) {
		tui_message(app, ST_WARN, "%s", tui_config_stale_text(app));
		return;
	}
	g = &s->groups[s->rows[s->lst.cur].group];
	if (!g->head->source_type || !sm_config_find_aggregate(app->cfg, g->head->source_type)) {
		tui_message(app, ST_WARN, "%s is not in the configuration: nothing to re-run",
			    g->head->source_type ? g->head->source_type : "?");
		return;
	}
	snprintf(text, sizeof text,
		 "Re-run only the %s failed instance%s of\n%s: %s%s%s?\n\n"
		 "(Fix the configuration first: an instance that fails\nagain stays listed.)",
		 sm_fmt_count(a, sizeof a, (long long)g->count), g->count == 1 ? "" : "s",
		 type_label(app, g->head->source_type), tui_failure_kind_text((int)g->head->kind),
		 g->head->event_type ? " " : "", g->head->event_type ? g->head->event_type : "");
	tui_confirm(app, "Re-run failed instances", text, rerun_group, s);
}

/* Tabs and line breaks inside a field would break the TSV. */
static void put_field(FILE *f, const char *s, bool last)
{
	for (const char *p = s ? s : ""; *p; p++)
		fputc(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p, f);
	fputc(last ? '\n' : '\t', f);
}

static void save_list(tui_app *app, void *ctx, const char *path)
{
	failures_state *s = ctx;
	FILE *f;
	int failed;

	if (!path[0])
		return;
	f = fopen(path, "w");
	if (!f) {
		tui_message(app, ST_BAD, "Cannot write %s: %s", path, strerror(errno));
		return;
	}
	fputs("source_type\tkind\tevent_type\tstream_version\tsource_uuid\trun_id\trecorded_at\tmessage\n", f);
	for (size_t i = 0; i < s->n_items; i++) {
		const sm_failure *x = s->items[i];
		char num[32];

		put_field(f, x->source_type, false);
		put_field(f, sm_failure_kind_name(x->kind), false);
		put_field(f, x->event_type, false);
		snprintf(num, sizeof num, "%lld", x->stream_version);
		put_field(f, num, false);
		put_field(f, x->source_uuid, false);
		snprintf(num, sizeof num, "%lld", x->run_id);
		put_field(f, num, false);
		put_field(f, x->recorded_at, false);
		put_field(f, x->message, true);
	}
	failed = ferror(f);
	if (fclose(f) != 0 || failed)
		tui_message(app, ST_BAD, "Writing %s failed: %s", path, strerror(errno));
	else
		tui_message(app, ST_GOOD, "Saved %zu failures to %s", s->n_items, path);
}

static unsigned failures_key(tui_app *app, tui_view *v, int cmd, int key)
{
	failures_state *s = v->state;
	const frow *row = s->lst.n > 0 ? &s->rows[s->lst.cur] : NULL;

	(void)key;
	switch (cmd) {
	case TUI_CMD_OPEN:
		if (row && row->item >= 0) {
			open_failure(app, s->items[row->item]);
		} else if (row) {
			int g = row->group;

			s->groups[g].expanded = !s->groups[g].expanded;
			build_rows(s);
			/* Keep the cursor on the group's row. */
			for (int i = 0; i < s->lst.n; i++)
				if (s->rows[i].group == g && s->rows[i].item < 0)
					s->lst.cur = i;
			tui_list_fit(&s->lst);
		}
		return TUI_REDRAW;
	case TUI_CMD_RERUN:
		confirm_rerun(app, s);
		return TUI_REDRAW;
	case TUI_CMD_SAVE: {
		const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;
		char def[512];

		snprintf(def, sizeof def, "snapmig-failures-%s.tsv", env ? env->name : "env");
		tui_prompt(app, "Save failures", "Write the listed failures (tab-separated) to:",
			   def, save_list, s);
		return TUI_REDRAW;
	}
	case TUI_CMD_INSPECT:
		if (row && row->item >= 0)
			tui_push(app, &tui_view_snapshot,
				 tui_snapshot_new(app, s->items[row->item]->source_uuid));
		else
			tui_message(app, ST_DIM, "Expand a group (Enter) and pick an instance");
		return TUI_REDRAW;
	case TUI_CMD_YANK:
		if (row && row->item >= 0)
			tui_yank(app, "the source_uuid", s->items[row->item]->source_uuid);
		else
			tui_message(app, ST_DIM, "Expand a group (Enter) and pick an instance");
		return TUI_REDRAW;
	default:
		return TUI_NONE;
	}
}

static bool failures_can(tui_app *app, tui_view *v, int cmd)
{
	const failures_state *s = v->state;
	const frow *row = s->lst.n > 0 ? &s->rows[s->lst.cur] : NULL;

	(void)app;
	switch (cmd) {
	case TUI_CMD_OPEN:
	case TUI_CMD_RERUN:
	case TUI_CMD_SAVE:
		return row != NULL;
	case TUI_CMD_INSPECT:
	case TUI_CMD_YANK:
		return row && row->item >= 0;
	default:
		return true;
	}
}

static void failures_leave(tui_app *app, tui_view *v)
{
	failures_state *s = v->state;

	tui_call_drop(app, &s->call);
	sm_failure_list_free(s->list);
	for (size_t i = 0; i < s->n_expanded; i++)
		free(s->expanded[i]);
	free(s->expanded);
	free(s->items);
	free(s->groups);
	free(s->order);
	free(s->rows);
	free(s->type);
}

const tui_view_ops tui_view_failures = {
	.title = "Failures", .list = true, .cmds = failures_cmds,
	.reload = failures_reload, .draw = failures_draw, .key = failures_key,
	.can = failures_can, .poll = failures_poll, .leave = failures_leave,
};
