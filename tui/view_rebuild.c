/*
 * The rebuild progress screen: an overall bar and one bar per aggregate
 * type (events folded / planned, instances, failures, rate, ETA), from the
 * progress the app polls from the engine's workers; the types sort by
 * name, events or failures.  Leaving the screen leaves the run running;
 * cancelling asks first and keeps committed work.  A rebuild shared by
 * several processes (one planned it, the others joined: B on the
 * overview, rebuild --join) shows the whole plan's counts and one line per
 * process; cancelling stops this process only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct rebuild_state {
	tui_list list;     /* scrolls over the types, two lines each */
	unsigned seen_seq; /* app->progress_seq drawn last */
} rebuild_state;

static const int rebuild_cmds[] = {
	TUI_CMD_CANCEL, TUI_CMD_FAILURES, TUI_CMD_COPY, TUI_CMD_SORT_NEXT,
	TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

enum { BY_PLAN, BY_NAME, BY_EVENTS, BY_FAILURES };
static const char *const rebuild_sorts[] = { "plan order", "name", "events", "failures", NULL };

static const char *progress_name(const sm_type_progress *t)
{
	return t->label ? t->label : t->type;
}

static long long progress_value(const sm_type_progress *t, int sort)
{
	return sort == BY_EVENTS ? t->events_planned : sort == BY_FAILURES ? t->failed : 0;
}

static int cmp_progress(const void *ctx, int a, int b)
{
	const rebuild_state *s = ((const void *const *)ctx)[0];
	const sm_progress *p = ((const void *const *)ctx)[1];
	const sm_type_progress *x = &p->types[a], *y = &p->types[b];

	if (s->list.sort == BY_NAME)
		return strcasecmp(progress_name(x), progress_name(y));
	return tui_cmp_larger(progress_value(x, s->list.sort), progress_value(y, s->list.sort),
			      a, b);
}

static double fraction(const sm_type_progress *t)
{
	if (t->events_planned > 0)
		return (double)t->events_done / (double)t->events_planned;
	if (t->instances_planned > 0)
		return (double)t->instances_done / (double)t->instances_planned;
	return 0;
}

/* Two lines: the label and a bar, then the numbers. */
static void draw_type(tui_app *app, const sm_type_progress *t, const char *name,
		      int y, int x, int w, bool bold)
{
	char line[512], a[32], b[32], c[32], d[32], e[32], rate[32], eta[32];
	double f = fraction(t);
	int label_w = w / 4 < 24 ? w / 4 : 24;
	int bar_w = w - label_w - 8;

	(void)app;
	tui_put(y, x, label_w, bold ? ST_HEADER : ST_NORMAL, name);
	tui_bar(y, x + label_w + 1, bar_w, f);
	tui_putf(y, x + label_w + 2 + bar_w, 6, ST_NORMAL, "%3.0f%%", f * 100);
	snprintf(rate, sizeof rate, "%s/s", sm_fmt_count(e, sizeof e, (long long)(t->events_per_sec + 0.5)));
	snprintf(line, sizeof line,
		 "events %s/%s  instances %s/%s  failed %s  %s  ETA %s",
		 sm_fmt_count(a, sizeof a, t->events_done), sm_fmt_count(b, sizeof b, t->events_planned),
		 sm_fmt_count(c, sizeof c, t->instances_done), sm_fmt_count(d, sizeof d, t->instances_planned),
		 sm_fmt_count(e, sizeof e, t->failed), rate, sm_fmt_duration(eta, sizeof eta, t->eta_seconds));
	tui_put(y + 1, x + 2, w - 2, t->failed ? ST_WARN : ST_DIM, line);
}

/* The processes of a shared rebuild from row y in at most max_rows rows
 * (at least 3): the chunks of the whole plan, a header, one line per
 * process (* marks this one).  Returns the last row used. */
static int draw_processes(const sm_progress *p, int y, int x, int w, int max_rows)
{
	bool finished = p->state == SM_RUN_DONE || p->state == SM_RUN_CANCELLED ||
			p->state == SM_RUN_FAILED;
	tui_col cols[] = {
		{ "", 1, 1, false, 0, 0, 0, 0, 0 },
		{ "Host", 0, 8, false, 0, 0, 0, 0, 0 },
		{ "Pid", 8, 8, true, 0, 0, 0, 0, 0 },
		{ "Jobs", 5, 5, true, 0, 0, 0, 0, 0 },
		{ "Chunks", 8, 8, true, 0, 0, 0, 0, 0 },
		{ "Events/s", 10, 10, true, 0, 0, 0, 0, 0 },
		{ "Failed", 8, 8, true, 1, 0, 0, 0, 0 },
		{ "Run", 8, 8, true, 3, 0, 0, 0, 0 },
		{ "State", 0, 7, false, 2, 0, 0, 0, 0 },
	};
	const size_t nc = sizeof cols / sizeof cols[0];
	size_t shown = p->n_processes;
	char a[32], b[32];

	if (max_rows < 3)
		max_rows = 3;
	if (shown > (size_t)max_rows - 2)
		shown = (size_t)max_rows - 3;
	/* The engine reads the others' part while this process works: once
	 * it has ended, the lines are as they were then. */
	tui_putf(y++, x, w, ST_NORMAL, "%s: %s/%s chunks done by %zu processes (plan of run #%lld)",
		 finished ? "Shared, at this process's end" : "Shared",
		 sm_fmt_count(a, sizeof a, p->chunks_done), sm_fmt_count(b, sizeof b, p->chunks_total),
		 p->n_processes, p->plan_run_id);
	tui_cols_layout(cols, nc, x, w);
	tui_cols_header(cols, nc, y);
	for (size_t i = 0; i < shown; i++) {
		const sm_process_progress *q = &p->processes[i];
		enum tui_style st = q->failed ? ST_WARN : q->finished ? ST_DIM : ST_NORMAL;

		y++;
		tui_cell(&cols[0], y, ST_HEADER, q->self ? "*" : "");
		tui_cell(&cols[1], y, st, q->host);
		snprintf(a, sizeof a, "%ld", q->pid);
		tui_cell(&cols[2], y, st, a);
		snprintf(a, sizeof a, "%d", q->jobs);
		tui_cell(&cols[3], y, st, a);
		tui_cell(&cols[4], y, st, sm_fmt_count(a, sizeof a, q->chunks));
		tui_cell(&cols[5], y, st, sm_fmt_count(a, sizeof a, (long long)(q->events_per_sec + 0.5)));
		tui_cell(&cols[6], y, st, sm_fmt_count(a, sizeof a, q->failed));
		snprintf(a, sizeof a, "#%lld", q->run_id);
		tui_cell(&cols[7], y, st, a);
		/* This process's journal gets its end after the last read. */
		tui_cell(&cols[8], y, st, q->self && finished ? sm_run_state_name(p->state) : q->outcome);
	}
	if (shown < p->n_processes)
		tui_putf(++y, x, w, ST_DIM, "  ... and %zu more processes (J: the journal)",
			 p->n_processes - shown);
	return y;
}

static void rebuild_draw(tui_app *app, tui_view *v, tui_rect r)
{
	rebuild_state *s = v->state;
	const sm_progress *p = &app->progress;
	char el[32], a[64], b[32];
	int y = r.y, x = r.x + 1, w = r.w - 2;
	enum tui_style st;
	int *order;

	if (!app->run || !app->have_progress) {
		tui_put(y + 1, x, w, ST_DIM, "No rebuild in this session.");
		return;
	}
	st = p->state == SM_RUN_FAILED ? ST_BAD :
	     p->state == SM_RUN_CANCELLED || p->state == SM_RUN_CANCELLING ? ST_WARN :
	     p->state == SM_RUN_DONE ? (p->total.failed ? ST_WARN : ST_GOOD) : ST_NORMAL;
	tui_putf(y++, x, w, st, "Rebuild run #%lld: %s%s  %d workers  elapsed %s",
		 p->run_id, sm_run_state_name(p->state),
		 tui_run_active(app) ? " " : "",
		 p->jobs, sm_fmt_duration(el, sizeof el, p->elapsed_seconds));
	if (tui_run_active(app))
		tui_put(y - 1, x + w - 2, 2, ST_WARN, tui_spinner(app->tick));
	switch (p->state) {
	case SM_RUN_PLANNING:
		tui_put(y, x, w, ST_DIM, "Planning: reading the snapshots and streams to rebuild ...");
		break;
	case SM_RUN_CANCELLING:
		tui_put(y, x, w, ST_WARN, "Cancelling: finishing the current batches; committed work is kept.");
		break;
	case SM_RUN_DONE:
		tui_putf(y, x, w, p->total.failed ? ST_WARN : ST_GOOD,
			 "Done: %s instances processed, %s failed%s",
			 sm_fmt_count(a, sizeof a, p->total.instances_done),
			 sm_fmt_count(b, sizeof b, p->total.failed),
			 p->total.failed ? "  (f: see the failures)" : "  (c: copy them live)");
		break;
	case SM_RUN_CANCELLED:
		tui_put(y, x, w, ST_WARN, tui_run_shared(app) ?
			"Cancelled: this process stopped, its committed work is kept; the others go on." :
			"Cancelled: every committed batch is kept; a new rebuild resumes from there.");
		break;
	case SM_RUN_FAILED:
		tui_putf(y, x, w, ST_BAD, "Stopped by an error: %s", p->error.message);
		break;
	default:
		tui_put(y, x, w, ST_DIM, tui_run_shared(app) ?
			"x stops this process only (the others go on); q leaves it running." :
			"x cancels (committed work is kept); q leaves it running.");
		break;
	}
	if (p->n_processes > 1)
		y = draw_processes(p, y + 1, x, w, r.y + r.h - y - 7);
	y += 2;
	draw_type(app, &p->total, "All types", y, x, w, true);
	y += 3;
	s->list.n = (int)p->n_types;
	order = sm_xcalloc(p->n_types + 1, sizeof *order);
	for (size_t i = 0; i < p->n_types; i++)
		order[i] = (int)i;
	tui_sort_index(order, s->list.n, cmp_progress, (const void *[]){ s, p }, s->list.desc);
	tui_put_right(y - 1, x + w / 2, w / 2, ST_WARN, tui_list_status(&s->list, a, sizeof a));
	tui_list_area(&s->list, y, (r.y + r.h - y) / 2);
	for (int i = s->list.top; i < s->list.n && i < s->list.top + s->list.page; i++, y += 2) {
		const sm_type_progress *t = &p->types[order[i]];

		draw_type(app, t, progress_name(t), y, x, w, false);
	}
	free(order);
}

/* The cancel dialog's text, as the run is now (it may end meanwhile). */
static const char *cancel_text(tui_app *app, void *ctx, char *buf, size_t size)
{
	(void)ctx;
	if (tui_run_active(app) && tui_run_shared(app))
		return "Stop this process's part of the shared rebuild?\n\n"
		       "Its committed chunks are kept; the chunk it works on\n"
		       "is unclaimed again, and the other processes go on.";
	if (tui_run_active(app))
		return "Stop the rebuild?\n\nEvery committed batch is kept; "
		       "running the rebuild\nagain resumes from there.";
	snprintf(buf, size, "The rebuild has ended (%s): there is nothing to cancel.",
		 app->have_progress ? sm_run_state_name(app->progress.state) : "?");
	return buf;
}

static bool rebuild_can(tui_app *app, tui_view *v, int cmd)
{
	(void)v;
	switch (cmd) {
	case TUI_CMD_CANCEL:
		return tui_run_active(app);
	case TUI_CMD_COPY:
		return app->run && !tui_run_active(app);
	default:
		return true;
	}
}

static void cancel_run(tui_app *app, void *ctx)
{
	(void)ctx;
	if (tui_run_active(app)) {
		sm_run_cancel(app->run);
		tui_message(app, ST_WARN, tui_run_shared(app) ?
			    "Stopping this process; its committed chunks are kept, the others go on" :
			    "Cancelling the rebuild; committed work is kept");
	}
}

static unsigned rebuild_key(tui_app *app, tui_view *v, int cmd, int key)
{
	(void)v;
	(void)key;
	switch (cmd) {
	case TUI_CMD_CANCEL:
		if (tui_run_active(app))
			tui_confirm_live(app, "Cancel the rebuild", cancel_text, cancel_run, NULL);
		else
			tui_message(app, ST_DIM, "No rebuild is running");
		return TUI_REDRAW;
	case TUI_CMD_FAILURES:
		tui_push(app, &tui_view_failures, tui_failures_new(app, NULL));
		return TUI_REDRAW;
	case TUI_CMD_COPY:
		if (tui_run_active(app)) {
			tui_message(app, ST_WARN, "Wait for the rebuild to finish before copying");
			return TUI_REDRAW;
		}
		tui_push(app, &tui_view_copy, tui_copy_new(app, app->run_types,
							    app->n_run_types));
		return TUI_REDRAW;
	default:
		return TUI_NONE;
	}
}

static void rebuild_enter(tui_app *app, tui_view *v)
{
	rebuild_state *s;

	(void)app;
	if (v->state)
		return;
	s = sm_xcalloc(1, sizeof *s);
	s->list.pager = true;
	s->list.sorts = rebuild_sorts;
	v->state = s;
}

/* Drawn again whenever the app has read the progress again. */
static unsigned rebuild_poll(tui_app *app, tui_view *v)
{
	rebuild_state *s = v->state;

	if (s->seen_seq == app->progress_seq)
		return TUI_NONE;
	s->seen_seq = app->progress_seq;
	return TUI_REDRAW;
}

const tui_view_ops tui_view_rebuild = {
	.title = "Rebuild", .list = true, .cmds = rebuild_cmds,
	.enter = rebuild_enter, .draw = rebuild_draw, .key = rebuild_key,
	.can = rebuild_can, .poll = rebuild_poll,
};
