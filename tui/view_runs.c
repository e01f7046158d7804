/*
 * The runs screen: the journal of the environment's target schema, every
 * rebuild, copy and rollback of any process (the CLI, another UI), newest
 * first, with its outcome, when it started, how long it took, who ran it
 * and a summary of its details.  Enter opens a run with its whole details;
 * u rolls back the copy under the cursor (asked first, the name typed in a
 * protected environment).  The rows filter by text and by state (failed,
 * also done with failures, or refused; cancelled; running) and sort by
 * age, kind, outcome or duration.
 */
#include "config.h"     /* _GNU_SOURCE: timegm */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tui/app.h"
#include "util/alloc.h"
#include "util/json.h"

/* The newest runs read. */
#define RUNS_LIMIT 1000

typedef struct runs_state {
	tui_list list;              /* over visible */
	sm_run_list *runs;
	char **summary;             /* per run: its details on one line */
	double *took;               /* per run: seconds, -1 while running */
	long long *undone_by;       /* per copy: the rollback run that undid it */
	int *visible;
	tui_call *call, *rb_call;
	long long rb_copy;          /* the copy rb_call rolls back */
	char error[1100];
} runs_state;

static const int runs_cmds[] = {
	TUI_CMD_OPEN, TUI_CMD_ROLLBACK, TUI_CMD_FILTER, TUI_CMD_STATE, TUI_CMD_SORT_NEXT,
	TUI_CMD_REFRESH, TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

static const char *const runs_states[] = { "failed", "cancelled", "running", NULL };
enum { BY_AGE, BY_KIND, BY_OUTCOME, BY_DURATION };
static const char *const runs_sorts[] = { "age", "kind", "outcome", "duration", NULL };

TUI_CALL_FN(runs, sm_run_list, sm_runs_read(a->eng, a->limit, a->cancel, &res, err), sm_run_list_free)

/* Seconds since the epoch of "2026-12-06T06:52:20Z"; -1 when not that. */
static double iso_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm);
}

static long long num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* A rebuild's details on one line: its types and totals. */
static void rebuild_summary(json_object *d, char *buf, size_t size)
{
	json_object *types;
	long long planned = 0, done = 0, failed = 0;
	size_t o = 0;

	if (!json_object_object_get_ex(d, "types", &types) ||
	    !json_object_is_type(types, json_type_object))
		return;
	json_object_object_foreach(types, type, t) {
		json_object *f;
		const char *dot = strrchr(type, '.');

		planned += num(t, "instances_planned");
		done += num(t, "instances_done");
		if (json_object_object_get_ex(t, "failures", &f) &&
		    json_object_is_type(f, json_type_object)) {
			json_object_object_foreach(f, kind, n) {
				(void)kind;
				failed += json_object_get_int64(n);
			}
		}
		if (o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "",
					      dot ? dot + 1 : type);
	}
	if (o < size)
		snprintf(buf + o, size - o, ": instances %lld/%lld, failed %lld%s", done, planned,
			 failed, num(d, "only_failed") ? " (only failed)" : "");
}

/* A run's details on one line, by its kind. */
static char *summarize(const sm_run_record *r)
{
	json_object *d = NULL;
	sm_error err;
	char buf[512] = "";
	json_object *e;

	if (!r->details || sm_json_parse(r->details, strlen(r->details), &d, &err) != SM_OK ||
	    !json_object_is_type(d, json_type_object)) {
		if (d)
			json_object_put(d);
		return sm_xstrdup(r->details ? r->details : "");
	}
	if (strcmp(r->kind, "rebuild") == 0)
		rebuild_summary(d, buf, sizeof buf);
	else if (strcmp(r->kind, "copy") == 0 && json_object_object_get_ex(d, "replaced", &e))
		snprintf(buf, sizeof buf, "replaced %lld, inserted %lld, removed %lld%s",
			 num(d, "replaced"), num(d, "inserted"), num(d, "removed"),
			 num(d, "verified") ? ", verified" : ", NOT verified");
	else if (strcmp(r->kind, "rollback") == 0)
		snprintf(buf, sizeof buf, "copy #%lld: restored %lld, deleted %lld, drifted %lld",
			 num(d, "copy_id"), num(d, "restored"), num(d, "deleted"), num(d, "drifted"));
	if (json_object_object_get_ex(d, "error", &e))
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "; " : "",
			 json_object_get_string(e));
	json_object_put(d);
	return sm_xstrdup(buf);
}

static bool in_state(const sm_run_record *r, int state)
{
	switch (state) {
	case 1: return strstr(r->outcome, "fail") || strcmp(r->outcome, "refused") == 0;
	case 2: return strcmp(r->outcome, "cancelled") == 0;
	case 3: return strcmp(r->outcome, "running") == 0;
	default: return true;
	}
}

static int cmp_runs(const void *ctx, int a, int b)
{
	const runs_state *s = ctx;
	const sm_run_record *x = &s->runs->items[a], *y = &s->runs->items[b];
	int d = 0;

	switch (s->list.sort) {
	case BY_KIND:
		d = strcmp(x->kind, y->kind);
		break;
	case BY_OUTCOME:
		d = strcmp(x->outcome, y->outcome);
		break;
	case BY_DURATION:
		/* The longest first. */
		d = tui_cmp_larger((long long)(s->took[a] * 1000), (long long)(s->took[b] * 1000), 0, 0);
		break;
	default:
		break;
	}
	return d ? d : a - b;     /* then the newest first, as read */
}

static void apply_filter(tui_app *app, void *ctx)
{
	runs_state *s = ctx;
	const char *f = s->list.filter;
	int n = 0;

	(void)app;
	for (size_t i = 0; s->runs && i < s->runs->n; i++) {
		const sm_run_record *r = &s->runs->items[i];
		char id[32];

		snprintf(id, sizeof id, "#%lld", r->run_id);
		if (in_state(r, s->list.state) &&
		    (!f[0] || strcasestr(r->kind, f) || strcasestr(r->outcome, f) ||
		     strcasestr(id, f) || (r->os_user && strcasestr(r->os_user, f)) ||
		     strcasestr(r->environment, f) || strcasestr(s->summary[i], f)))
			s->visible[n++] = (int)i;
	}
	tui_sort_index(s->visible, n, cmp_runs, s, s->list.desc);
	s->list.n = n;
	tui_list_fit(&s->list);
}

static void clear_runs(runs_state *s)
{
	for (size_t i = 0; s->runs && i < s->runs->n; i++)
		free(s->summary[i]);
	free(s->summary);
	free(s->took);
	free(s->undone_by);
	free(s->visible);
	sm_run_list_free(s->runs);
	s->runs = NULL;
	s->summary = NULL;
	s->took = NULL;
	s->undone_by = NULL;
	s->visible = NULL;
}

/* Takes a new list: the summaries, durations and which copies were rolled
 * back (a done rollback names its copy in its details). */
static void take_runs(runs_state *s, sm_run_list *runs)
{
	size_t n = runs->n;

	clear_runs(s);
	s->runs = runs;
	s->summary = sm_xcalloc(n + 1, sizeof *s->summary);
	s->took = sm_xcalloc(n + 1, sizeof *s->took);
	s->undone_by = sm_xcalloc(n + 1, sizeof *s->undone_by);
	s->visible = sm_xcalloc(n + 1, sizeof *s->visible);
	for (size_t i = 0; i < n; i++) {
		const sm_run_record *r = &runs->items[i];
		double a = iso_time(r->started_at), b = iso_time(r->finished_at);

		s->summary[i] = summarize(r);
		s->took[i] = a >= 0 && b >= a ? b - a : -1;
	}
	for (size_t i = 0; i < n; i++) {
		const sm_run_record *r = &runs->items[i];
		long long copy;

		if (strcmp(r->kind, "rollback") != 0 || strcmp(r->outcome, "done") != 0 ||
		    sscanf(s->summary[i], "copy #%lld", &copy) != 1)
			continue;
		for (size_t k = 0; k < n; k++)
			if (runs->items[k].run_id == copy)
				s->undone_by[k] = r->run_id;
	}
}

void *tui_runs_new(tui_app *app)
{
	runs_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	tui_list_init(&s->list, "the kind, outcome, #id, user or details", runs_states,
		      runs_sorts, apply_filter, s);
	return s;
}

static void runs_reload(tui_app *app, tui_view *v)
{
	runs_state *s = v->state;
	const tui_call_args in = { .eng = app->eng, .limit = RUNS_LIMIT };

	if (app->eng)
		tui_call_restart(app, &s->call, runs_fn, runs_free, &in);
}

static unsigned runs_poll(tui_app *app, tui_view *v)
{
	runs_state *s = v->state;
	unsigned flags = s->call || s->rb_call ? TUI_REDRAW : TUI_NONE;
	sm_error err;
	void *out;
	int rc;

	if (tui_call_take(app, &s->call, &out, s->error, sizeof s->error,
			  "Cannot read the runs") > 0) {
		take_runs(s, out);
		apply_filter(app, s);
	}
	if (tui_call_collect(app, &s->rb_call, &rc, &out, &err)) {
		const sm_rollback_result *rb = out;
		char a[32], b[32];

		if (rc == SM_OK)
			tui_message(app, rb->drifted ? ST_WARN : ST_GOOD,
				    "Copy #%lld rolled back (run #%lld): restored %s, deleted %s%s",
				    rb->copy_id, rb->rollback_id, sm_fmt_count(a, sizeof a, rb->restored),
				    sm_fmt_count(b, sizeof b, rb->deleted),
				    rb->drifted ? "; rows changed since were left" : "");
		else
			tui_message(app, ST_BAD, "Rollback of copy #%lld failed: %s", s->rb_copy,
				    err.message);
		sm_rollback_result_free(out);
		app->data_generation++;     /* the journal, the live table */
	}
	return flags;
}

static const sm_run_record *current(const runs_state *s, int *index)
{
	if (!s->runs || s->list.n == 0)
		return NULL;
	*index = s->visible[s->list.cur];
	return &s->runs->items[*index];
}

static enum tui_style outcome_style(const char *outcome)
{
	if (strcmp(outcome, "done") == 0)
		return ST_GOOD;
	if (strcmp(outcome, "running") == 0 || strcmp(outcome, "cancelled") == 0 ||
	    strncmp(outcome, "done", 4) == 0)
		return ST_WARN;   /* "done with failures" */
	return ST_BAD;
}

/* "2026-12-06 06:52" from the ISO text. */
static const char *when(const char *iso, char *buf, size_t size)
{
	snprintf(buf, size, "%.16s", iso ? iso : "-");
	for (char *p = buf; *p; p++)
		if (*p == 'T')
			*p = ' ';
	return buf;
}

static void runs_draw(tui_app *app, tui_view *v, tui_rect r)
{
	runs_state *s = v->state;
	tui_col cols[] = {
		{ "Run", 6, 6, true, 0, 0, 0 },
		{ "Kind", 8, 8, false, 0, 0, 0 },
		{ "Outcome", 18, 18, false, 0, 0, 0 },
		{ "Started (UTC)", 16, 16, false, 2, 0, 0 },
		{ "Took", 8, 8, true, 3, 0, 0 },
		{ "By", 10, 10, false, 4, 0, 0 },
		{ "Details", 0, 20, false, 0, 0, 0 },
	};
	const size_t nc = sizeof cols / sizeof cols[0];
	int y = r.y;
	char a[32], b[64];

	snprintf(b, sizeof b, "%s run%s", s->runs ? sm_fmt_count(a, sizeof a, (long long)s->list.n) : "?",
		 s->list.n == 1 ? "" : "s");
	tui_list_title(&s->list, y++, r.x + 1, r.w - 2, ST_NORMAL, b, s->call, app->tick);
	if (s->rb_call)
		tui_putf(y, r.x + 1, r.w - 2, ST_WARN, "%s rolling back copy #%lld ...",
			 tui_spinner(app->tick), s->rb_copy);
	else if (s->error[0])
		tui_put(y, r.x + 1, r.w - 2, ST_BAD, s->error);
	y++;
	tui_list_table(&s->list, cols, nc, r.x + 1, r.w - 2, y, r.y + r.h);
	for (int i = s->list.top; i < s->list.n && i < s->list.top + s->list.page; i++) {
		int k = s->visible[i];
		const sm_run_record *run = &s->runs->items[k];
		bool cur = tui_list_row(&s->list, i, r.x + 1, r.w - 2);
		enum tui_style st = cur ? ST_CURSOR : ST_NORMAL;
		char details[600];

		y = tui_list_y(&s->list, i);
		snprintf(a, sizeof a, "#%lld", run->run_id);
		tui_cell(&cols[0], y, st, a);
		tui_cell(&cols[1], y, st, run->kind);
		tui_cell(&cols[2], y, cur ? ST_CURSOR : outcome_style(run->outcome), run->outcome);
		tui_cell(&cols[3], y, st, when(run->started_at, b, sizeof b));
		tui_cell(&cols[4], y, st, s->took[k] >= 0 ? sm_fmt_duration(a, sizeof a, s->took[k]) : "-");
		tui_cell(&cols[5], y, cur ? ST_CURSOR : ST_DIM, run->os_user ? run->os_user : "-");
		if (s->undone_by[k])
			snprintf(details, sizeof details, "rolled back by #%lld; %s", s->undone_by[k],
				 s->summary[k]);
		else
			snprintf(details, sizeof details, "%s", s->summary[k]);
		tui_cell(&cols[6], y, st, details);
	}
	tui_list_cols_end(&s->list, cols, nc);
	if (s->runs && s->list.n == 0)
		tui_put(s->list.y0, r.x + 2, r.w - 4, ST_DIM, s->runs->n ?
			"No run matches (Esc or q clears the filter)." :
			"No runs recorded in this environment yet.");
}

/* A run with its whole details, pretty-printed. */
static void open_run(tui_app *app, const runs_state *s, int k)
{
	const sm_run_record *r = &s->runs->items[k];
	json_object *d = NULL;
	sm_error err;
	char name[32], took[32], *title, *text;
	const char *details = r->details ? r->details : "";

	if (r->details && sm_json_parse(r->details, strlen(r->details), &d, &err) == SM_OK)
		details = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_SPACED |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(name, sizeof name, "Run #%lld", r->run_id);
	title = sm_xasprintf("%s %s: %s", r->kind, name, r->outcome);
	text = sm_xasprintf("Kind         %s\n"
			    "Outcome      %s%s\n"
			    "Environment  %s\n"
			    "By           %s (database user %s)\n"
			    "Started      %s\n"
			    "Finished     %s\n"
			    "Took         %s\n"
			    "%s\n"
			    "Details\n%s\n",
			    r->kind, r->outcome,
			    s->undone_by[k] ? " (rolled back since)" : "",
			    r->environment, r->os_user ? r->os_user : "-",
			    r->db_user ? r->db_user : "-", r->started_at ? r->started_at : "-",
			    r->finished_at ? r->finished_at : "-",
			    s->took[k] >= 0 ? sm_fmt_duration(took, sizeof took, s->took[k]) : "-",
			    strcmp(r->kind, "copy") == 0 && !s->undone_by[k] &&
			    strcmp(r->outcome, "done") == 0 ?
			    "(u on the runs screen rolls this copy back)\n" : "",
			    details);
	tui_push(app, &tui_view_text, tui_text_new(app, name, title, text, NULL));
	if (d)
		json_object_put(d);
	free(title);
	free(text);
}

static void run_rollback(tui_app *app, void *ctx)
{
	runs_state *s = ctx;
	if (!s->rb_call)
		s->rb_call = tui_rollback_call(app, s->rb_copy);
}

/* Why the run under the cursor cannot be rolled back, NULL when it can. */
static const char *no_rollback(const runs_state *s, const sm_run_record *r, int k)
{
	if (!r)
		return "No run here";
	if (strcmp(r->kind, "copy") != 0)
		return "Only a copy can be rolled back";
	if (strcmp(r->outcome, "done") != 0)
		return "This copy did not complete: nothing to roll back";
	if (s->undone_by[k])
		return "This copy was rolled back already";
	return NULL;
}

static unsigned runs_key(tui_app *app, tui_view *v, int cmd, int key)
{
	runs_state *s = v->state;
	int k = -1;
	const sm_run_record *r = current(s, &k);
	const char *why;

	(void)key;
	switch (cmd) {
	case TUI_CMD_OPEN:
		if (r)
			open_run(app, s, k);
		return TUI_REDRAW;
	case TUI_CMD_ROLLBACK:
		why = no_rollback(s, r, k);
		if (why) {
			tui_message(app, ST_DIM, "%s", why);
		} else if (s->rb_call) {
			tui_message(app, ST_WARN, "A rollback is running");
		} else if (!tui_config_current(app)) {
			tui_message(app, ST_WARN, "%s", tui_config_stale_text(app));
		} else {
			s->rb_copy = r->run_id;
			tui_confirm_rollback(app, s->rb_copy, run_rollback, s);
		}
		return TUI_REDRAW;
	case TUI_CMD_BACK:
		if (s->rb_call) {
			tui_message(app, ST_WARN, "Wait: the rollback is running");
			return TUI_REDRAW;
		}
		return TUI_NONE;
	default:
		return TUI_NONE;
	}
}

static bool runs_can(tui_app *app, tui_view *v, int cmd)
{
	const runs_state *s = v->state;
	int k = -1;
	const sm_run_record *r = current(s, &k);

	(void)app;
	switch (cmd) {
	case TUI_CMD_OPEN:
		return r != NULL;
	case TUI_CMD_ROLLBACK:
		return !s->rb_call && !no_rollback(s, r, k);
	default:
		return true;
	}
}

static void runs_leave(tui_app *app, tui_view *v)
{
	runs_state *s = v->state;

	tui_call_drop(app, &s->call);
	tui_call_drop(app, &s->rb_call);
	clear_runs(s);
}

const tui_view_ops tui_view_runs = {
	.title = "Runs", .list = true, .cmds = runs_cmds, .reload = runs_reload,
	.draw = runs_draw, .key = runs_key, .can = runs_can, .poll = runs_poll,
	.leave = runs_leave,
};
