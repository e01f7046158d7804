/* Rebuild progress on stderr: bars, plain lines or JSON lines; see progress.h. */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/output.h"
#include "cli/progress.h"
#include "util/alloc.h"
#include "util/clock.h"

#define LINE_INTERVAL 5.0   /* seconds between plain lines */
#define JSON_INTERVAL 1.0   /* seconds between JSON lines */
#define LABEL_MAX 24        /* display columns of a type's label in a bar */

void progress_init(progress_view *v, enum progress_mode mode, FILE *f)
{
	memset(v, 0, sizeof *v);
	v->mode = mode;
	v->f = f;
	v->last_shown = -1e9;
	v->what = "rebuild";
	v->interval = mode == PROGRESS_LINES ? LINE_INTERVAL
		    : mode == PROGRESS_JSON ? JSON_INTERVAL : 0.0;
}

static double fraction(const sm_type_progress *t)
{
	if (t->events_planned > 0)
		return (double)t->events_done / (double)t->events_planned;
	if (t->instances_planned > 0)
		return (double)t->instances_done / (double)t->instances_planned;
	return 0.0;
}

json_object *progress_type_json(const sm_type_progress *t, bool with_type)
{
#define F(m) OUT_FIELD(sm_type_progress, m)
	static const out_field fields[] = {
		F(instances_planned), F(instances_done), F(events_planned), F(events_done), F(failed),
	};
#undef F
	json_object *o = json_object_new_object();
	json_object *kinds = json_object_new_object();

	if (with_type) {
		out_json_add(o, "type", out_json_string(t->type));
		out_json_add(o, "label", out_json_string(t->label));
	}
	OUT_JSON_FIELDS(o, t, fields);
	for (int k = 0; k < SM_FAIL__COUNT; k++)
		out_json_add(kinds, sm_failure_kind_name((enum sm_failure_kind)k),
			     json_object_new_int64(t->failures[k]));
	out_json_add(o, "failures", kinds);
	/* Whole numbers are enough for rates, and they print the same everywhere. */
	out_json_add(o, "events_per_sec", json_object_new_int64(llround(t->events_per_sec)));
	out_json_add(o, "eta_seconds", t->eta_seconds < 0 ? NULL
		     : json_object_new_int64(llround(t->eta_seconds)));
	return o;
}

static void show_json(progress_view *v, const sm_progress *p)
{
	json_object *o = json_object_new_object();
	json_object *types = json_object_new_array();

	out_json_add(o, "event", json_object_new_string("progress"));
	out_json_add(o, "state", json_object_new_string(sm_run_state_name(p->state)));
	out_json_add(o, "run_id", p->run_id ? json_object_new_int64(p->run_id) : NULL);
	out_json_add(o, "jobs", json_object_new_int(p->jobs));
	out_json_add(o, "elapsed_seconds", json_object_new_int64(llround(p->elapsed_seconds)));
	out_json_add(o, "total", progress_type_json(&p->total, false));
	for (size_t i = 0; i < p->n_types; i++)
		json_object_array_add(types, progress_type_json(&p->types[i], true));
	out_json_add(o, "types", types);
	out_json_print(v->f, o, false);
	json_object_put(o);
	fflush(v->f);
}

static void show_line(progress_view *v, const sm_progress *p)
{
	const sm_type_progress *t = &p->total;
	char el[32], ed[32], ep[32], id[32], ip[32], fl[32], rate[32], eta[32];

	fprintf(v->f, "snapmig: %s %s %s: %s/%s events (%d%%), %s/%s instances, "
		"%s failed, %s events/s, ETA %s",
		v->what, sm_run_state_name(p->state), sm_fmt_duration(el, sizeof el, p->elapsed_seconds),
		sm_fmt_count(ed, sizeof ed, t->events_done),
		sm_fmt_count(ep, sizeof ep, t->events_planned), (int)(fraction(t) * 100.0),
		sm_fmt_count(id, sizeof id, t->instances_done),
		sm_fmt_count(ip, sizeof ip, t->instances_planned),
		sm_fmt_count(fl, sizeof fl, t->failed),
		sm_fmt_count(rate, sizeof rate, llround(t->events_per_sec)),
		sm_fmt_duration(eta, sizeof eta, t->eta_seconds));
	/* A rebuild shared by several processes: the whole run's chunks. */
	if (p->n_processes > 1)
		fprintf(v->f, "; %lld/%lld chunks by %zu processes", p->chunks_done,
			p->chunks_total, p->n_processes);
	fputc('\n', v->f);
	fflush(v->f);
}

static int terminal_columns(FILE *f)
{
	struct winsize ws;

	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The numbers after a bar: " 42% 1,234/5,678 ev  1 failed  9,876 ev/s  ETA 0:12" */
static void bar_tail(char *buf, size_t size, const sm_type_progress *t, double fr)
{
	char ed[32], ep[32], fl[32], rate[32], eta[32];

	snprintf(buf, size, " %3d%% %s/%s ev  %s failed  %s ev/s  ETA %s",
		 (int)(fr * 100.0), sm_fmt_count(ed, sizeof ed, t->events_done),
		 sm_fmt_count(ep, sizeof ep, t->events_planned),
		 sm_fmt_count(fl, sizeof fl, t->failed),
		 sm_fmt_count(rate, sizeof rate, llround(t->events_per_sec)),
		 sm_fmt_duration(eta, sizeof eta, t->eta_seconds));
}

/* One line: label padded to label_w, a bar of bar_w cells (none when
 * bar_w is 0), the numbers; cut to cols so that nothing wraps and the
 * redraw in place stays correct. */
static void bar_line(FILE *f, const char *label, size_t label_w, double fr,
		     const char *tail, int bar_w, int cols)
{
	char *lab = out_truncate(label, label_w);
	size_t lw = out_width(lab);
	int room = cols - 1 - (int)label_w;

	fputs("\r\033[2K", f);
	fputs(lab, f);
	fprintf(f, "%*s", (int)(label_w - (lw < label_w ? lw : label_w)), "");
	if (bar_w > 0) {
		int filled = (int)(fr * bar_w);

		fputs(" [", f);
		for (int i = 0; i < bar_w; i++)
			fputc(i < filled ? '#' : '.', f);
		fputc(']', f);
		room -= bar_w + 3;
	}
	if (room > 0)
		fprintf(f, "%.*s", room, tail);
	fputc('\n', f);
	free(lab);
}

static void show_bars(progress_view *v, const sm_progress *p)
{
	int cols = terminal_columns(v->f);
	size_t n = p->n_types + 1, label_w = 3; /* "all" */
	char (*tails)[160];
	double *fr;
	int bar_w, tail_w = 0;

	if (v->lines_drawn > 0)
		fprintf(v->f, "\r\033[%dA", v->lines_drawn);
	v->lines_drawn = 0;
	if (p->state == SM_RUN_PLANNING) {
		fprintf(v->f, "\r\033[2Kplanning the %s...\n\033[J", v->what);
		v->lines_drawn = 1;
		fflush(v->f);
		return;
	}
	/* Same label and bar widths on every line, so that the bars line up. */
	tails = sm_xcalloc(n, sizeof *tails);
	fr = sm_xcalloc(n, sizeof *fr);
	for (size_t i = 0; i < n; i++) {
		const sm_type_progress *t = i < p->n_types ? &p->types[i] : &p->total;
		const char *label = i < p->n_types ? (t->label ? t->label : t->type) : "all";
		size_t lw = out_width(label);

		/* A type with nothing to do is complete once planning is over. */
		fr[i] = t->events_planned || t->instances_planned ? fraction(t) : 1.0;
		if (fr[i] > 1.0)
			fr[i] = 1.0;
		bar_tail(tails[i], sizeof tails[i], t, fr[i]);
		if ((int)strlen(tails[i]) > tail_w)
			tail_w = (int)strlen(tails[i]);
		if (lw > label_w)
			label_w = lw;
	}
	if (label_w > LABEL_MAX)
		label_w = LABEL_MAX;
	bar_w = cols - 1 - (int)label_w - 3 - tail_w;
	if (bar_w > 40)
		bar_w = 40;
	if (bar_w < 10)
		bar_w = 0;
	for (size_t i = 0; i < n; i++) {
		const sm_type_progress *t = i < p->n_types ? &p->types[i] : &p->total;
		const char *label = i < p->n_types ? (t->label ? t->label : t->type)
			: p->state == SM_RUN_CANCELLING ? "all (cancelling)" : "all";

		bar_line(v->f, label, label_w, fr[i], tails[i], bar_w, cols);
		v->lines_drawn++;
	}
	/* A shorter redraw than the last one leaves old lines below: clear them. */
	fputs("\033[J", v->f);
	fflush(v->f);
	free(tails);
	free(fr);
}

void progress_update(progress_view *v, const sm_progress *p, double now)
{
	if (v->mode == PROGRESS_NONE)
		return;
	if (v->mode != PROGRESS_BARS && now - v->last_shown < v->interval)
		return;
	/* A log line saying "0 of 0" while planning says nothing. */
	if (v->mode == PROGRESS_LINES && p->state == SM_RUN_PLANNING)
		return;
	v->last_shown = now;
	switch (v->mode) {
	case PROGRESS_BARS: show_bars(v, p); break;
	case PROGRESS_LINES: show_line(v, p); break;
	case PROGRESS_JSON: show_json(v, p); break;
	case PROGRESS_NONE: break;
	}
}

void progress_finish(progress_view *v, const sm_progress *p)
{
	v->last_shown = -1e9;
	progress_update(v, p, sm_now());
	v->lines_drawn = 0;
}

void progress_note(progress_view *v, const char *text)
{
	if (v->mode == PROGRESS_JSON) {
		json_object *o = json_object_new_object();

		out_json_add(o, "event", json_object_new_string("note"));
		out_json_add(o, "message", out_json_string(text));
		out_json_print(v->f, o, false);
		json_object_put(o);
	} else {
		if (v->mode == PROGRESS_BARS && v->lines_drawn > 0) {
			/* Above the bars; the next update draws them again below. */
			fprintf(v->f, "\r\033[%dA\033[J", v->lines_drawn);
			v->lines_drawn = 0;
		}
		fprintf(v->f, "snapmig: %s\n", text);
	}
	fflush(v->f);
}

/* ------------------------------------------------------ watching a run */

#define POLL_MS 200

static volatile sig_atomic_t interrupted_by;

static void on_signal(int sig)
{
	interrupted_by = sig;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	/* An interrupted sleep is fine: the flag is looked at next. */
	nanosleep(&ts, NULL);
}

/* Polls the run until it ends; turns a signal into a cancel. */
static void watch(sm_run *run, progress_view *view)
{
	bool cancelled = false;

	for (;;) {
		sm_progress p;
		bool done = sm_run_finished(run);

		if (interrupted_by && !cancelled) {
			sm_run_cancel(run);
			cancelled = true;
			progress_note(view, "interrupted: cancelling, committed work is kept");
		}
		memset(&p, 0, sizeof p);
		sm_run_progress(run, &p);
		if (!done)
			progress_update(view, &p, sm_now());
		sm_progress_clear(&p);
		if (done)
			break;
		sleep_ms(POLL_MS);
	}
}

int progress_run(progress_view *view, int (*start)(void *arg, sm_run **run, sm_error *err),
		 void *arg, sm_run **run, bool *interrupted, sm_error *err)
{
	struct sigaction sa, old_int, old_term;
	int status;

	interrupted_by = 0;
	/* The handlers stay installed only while the run is polled.  No
	 * SA_RESTART: the poll's sleep should end at once. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	/* The engine's threads block the signals: they reach this thread. */
	status = start(arg, run, err);
	if (status == SM_OK) {
		watch(*run, view);
		sm_error_clear(err);
		status = sm_run_wait(*run, err);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	*interrupted = interrupted_by != 0;
	return status;
}
