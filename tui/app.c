/*
 * The interface's main loop: terminal setup and restore, signals (handlers
 * only set a flag), the view stack, the status and key bars, the rebuild
 * run that lives across screens, and sm_tui_run.
 *
 * One turn of the loop: act on signals, free the dropped background calls that ended,
 * poll the run's progress (4 times a second), let the views poll their
 * calls, draw again the screen regions that changed (then one wnoutrefresh
 * and one doupdate; nothing at all when nothing changed), then wait up to
 * 100 ms for a key.  The regions are the title line, the views, the
 * message line and the key bar; see the DIRTY_* bits.
 */
#include "config.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tui/app.h"
#include "tui/tui.h"
#include "util/alloc.h"
#include "util/clock.h"

/* Quitting cancels what runs and waits for it to stop: a cancelled call
 * returns within about 100 ms plus a round trip to the server, the run
 * within about a second.  Only a server that cannot be reached at all (a
 * cancel request that never arrives) makes it wait longer; after
 * QUIT_GIVE_UP_MS it leaves anyway.  The wait is said on the screen after
 * QUIT_SAY_MS. */
#define QUIT_SAY_MS 150
#define QUIT_GIVE_UP_MS 10000

/* Screen regions to draw again (tui_app.dirty). */
enum {
	DIRTY_TITLE = 1 << 0,
	DIRTY_BODY = 1 << 1,
	DIRTY_MESSAGE = 1 << 2,
	DIRTY_KEYS = 1 << 3,
	DIRTY_ALL = DIRTY_TITLE | DIRTY_BODY | DIRTY_MESSAGE | DIRTY_KEYS,
};

static volatile sig_atomic_t pending_signal;

static void on_signal(int sig)
{
	pending_signal = sig;
}

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP };
#define N_SIGNALS (sizeof handled_signals / sizeof handled_signals[0])

/* Set while curses owns the terminal, for the fatal hook. */
static bool curses_active;

static void fatal_restore(void)
{
	if (curses_active) {
		curses_active = false;
		endwin();
	}
}

/* ------------------------------------------------------------ view stack */

void tui_push(tui_app *app, const tui_view_ops *ops, void *state)
{
	tui_view *v;

	if (app->depth >= TUI_MAX_VIEWS) {
		/* Deep enough: replace the top instead of growing without end. */
		tui_pop(app);
	}
	v = &app->stack[app->depth++];
	v->ops = ops;
	v->state = state;
	v->generation = app->data_generation;
	app->dirty = DIRTY_ALL;
	/* A message belongs to the screen it was said on (a dialog over the
	 * screen is still that screen). */
	if (!ops->modal)
		app->message[0] = 0;
	if (ops->enter)
		ops->enter(app, v);
	else if (ops->reload)
		ops->reload(app, v);
}

void tui_pop(tui_app *app)
{
	tui_view *v;

	if (app->depth == 0)
		return;
	v = &app->stack[--app->depth];
	if (!v->ops->modal)
		app->message[0] = 0;
	if (v->ops->leave)
		v->ops->leave(app, v);
	free(v->state);
	v->ops = NULL;
	v->state = NULL;
	app->dirty = DIRTY_ALL;
}

tui_view *tui_top(tui_app *app)
{
	return app->depth ? &app->stack[app->depth - 1] : NULL;
}

tui_view *tui_below(tui_app *app, const tui_view *v)
{
	for (int i = 1; i < app->depth; i++)
		if (&app->stack[i] == v)
			return &app->stack[i - 1];
	return NULL;
}

void tui_message(tui_app *app, enum tui_style st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(app->message, sizeof app->message, fmt, ap);
	va_end(ap);
	app->message_style = st;
	app->message_time = sm_now();
	app->dirty |= DIRTY_MESSAGE;
}

void tui_redraw_all(tui_app *app)
{
	app->dirty = DIRTY_ALL;
}

/* ------------------------------------------------------------------- run */

bool tui_run_active(const tui_app *app)
{
	return app->run && !app->run_finished_seen;
}

bool tui_run_shared(const tui_app *app)
{
	const sm_progress *p = &app->progress;

	return app->run && app->have_progress &&
		(p->n_processes > 1 || (p->plan_run_id && p->plan_run_id != p->run_id));
}

static void free_run_strings(tui_app *app)
{
	for (size_t i = 0; i < app->n_run_strings; i++)
		free(app->run_strings[i]);
	free(app->run_strings);
	free(app->run_types);
	free(app->run_uuids);
	app->run_strings = NULL;
	app->n_run_strings = 0;
	app->run_types = app->run_uuids = NULL;
	app->n_run_types = 0;
}

static const char **copy_strings(tui_app *app, const char *const *src, size_t n)
{
	const char **out;

	if (!n)
		return NULL;
	out = sm_xcalloc(n, sizeof *out);
	app->run_strings = sm_xrealloc(app->run_strings,
				       (app->n_run_strings + n) * sizeof *app->run_strings);
	for (size_t i = 0; i < n; i++) {
		char *s = sm_xstrdup(src[i]);

		app->run_strings[app->n_run_strings++] = s;
		out[i] = s;
	}
	return out;
}

static void poll_run(tui_app *app, bool force)
{
	double now = sm_now();
	enum sm_run_state st;

	if (!app->run || (!force && now - app->last_progress_poll < 0.25))
		return;
	app->last_progress_poll = now;
	if (app->have_progress)
		sm_progress_clear(&app->progress);
	sm_run_progress(app->run, &app->progress);
	app->have_progress = true;
	app->progress_seq++;
	app->dirty |= DIRTY_TITLE;
	st = app->progress.state;
	if ((st == SM_RUN_DONE || st == SM_RUN_CANCELLED || st == SM_RUN_FAILED) &&
	    !app->run_finished_seen) {
		char a[32], b[32];

		app->run_finished_seen = true;
		app->data_generation++;
		app->dirty = DIRTY_ALL;
		if (st == SM_RUN_DONE)
			tui_message(app, app->progress.total.failed ? ST_WARN : ST_GOOD,
				    "Rebuild finished: %s instances, %s failed",
				    sm_fmt_count(a, sizeof a, app->progress.total.instances_done),
				    sm_fmt_count(b, sizeof b, app->progress.total.failed));
		else if (st == SM_RUN_CANCELLED)
			tui_message(app, ST_WARN, "Rebuild cancelled: committed work is kept");
		else
			tui_message(app, ST_BAD, "Rebuild failed: %s", app->progress.error.message);
	}
	if (app->quit_after_cancel && app->run_finished_seen)
		app->quit = true;
}

/* Whether a run may start now; frees the previous, finished one. */
static bool run_may_start(tui_app *app)
{
	if (!app->eng)
		return false;
	if (tui_run_active(app)) {
		tui_message(app, ST_WARN, "A rebuild is already running (p shows it)");
		return false;
	}
	if (!tui_config_current(app)) {
		tui_message(app, ST_WARN, "Rebuild not started: %s", tui_config_stale_text(app));
		return false;
	}
	if (app->run) {
		if (app->have_progress)
			sm_progress_clear(&app->progress);
		app->have_progress = false;
		sm_run_free(app->run);
		app->run = NULL;
	}
	free_run_strings(app);
	return true;
}

/* Starts the rebuild of opts (its strings are the app's run strings) and
 * shows its progress. */
static bool run_launch(tui_app *app, const sm_rebuild_options *opts, const char *what)
{
	sm_error err;
	sm_run *run = NULL;
	int rc;

	sm_error_clear(&err);
	/* (The run's threads block the terminal's signals themselves.) */
	rc = sm_rebuild_start(app->eng, opts, &run, &err);
	if (rc != SM_OK) {
		tui_message(app, ST_BAD, "%s: %s", what, err.message);
		free_run_strings(app);
		return false;
	}
	app->run = run;
	app->run_finished_seen = false;
	app->last_progress_poll = 0;
	app->dirty = DIRTY_ALL;
	poll_run(app, true);
	if (tui_top(app)->ops != &tui_view_rebuild)
		tui_push(app, &tui_view_rebuild, NULL);
	return true;
}

bool tui_run_start(tui_app *app, const char *const *types, size_t n_types,
		   const char *const *uuids, size_t n_uuids, bool only_failed)
{
	sm_rebuild_options opts;

	if (!run_may_start(app))
		return false;
	memset(&opts, 0, sizeof opts);
	app->run_types = copy_strings(app, types, n_types);
	app->n_run_types = n_types;
	app->run_uuids = copy_strings(app, uuids, n_uuids);
	opts.types = app->run_types;
	opts.n_types = n_types;
	opts.uuids = app->run_uuids;
	opts.n_uuids = n_uuids;
	opts.only_failed = only_failed;
	return run_launch(app, &opts, "Rebuild not started");
}

bool tui_run_join(tui_app *app, int jobs)
{
	const sm_rebuild_options opts = { .join = true, .jobs = jobs };

	if (!run_may_start(app))
		return false;
	return run_launch(app, &opts, "Not joined");
}

static void cancel_and_quit(tui_app *app, void *ctx)
{
	(void)ctx;
	if (tui_run_active(app)) {
		sm_run_cancel(app->run);
		app->quit_after_cancel = true;
		tui_message(app, ST_WARN, "Cancelling the rebuild; committed work is kept...");
	} else {
		app->quit = true;
	}
}

/* The quit dialog's text as the run is now: it may end, or be resized
 * away and back, while the dialog waits. */
static const char *quit_text(tui_app *app, void *ctx, char *buf, size_t size)
{
	char pct[32] = "";

	(void)ctx;
	if (!tui_run_active(app) && tui_calls_write(app))
		return "A copy or a rollback is running.\n"
		       "Quitting cancels it: its transaction is rolled back,\n"
		       "and nothing of it is written.\n\n"
		       "Cancel it and quit?";
	if (!tui_run_active(app) && app->run) {
		snprintf(buf, size, "The rebuild has ended (%s).\n\nQuit?",
			 app->have_progress ? sm_run_state_name(app->progress.state) : "?");
		return buf;
	}
	if (!tui_run_active(app))
		return "The copy or rollback has ended.\n\nQuit?";
	if (app->have_progress && app->progress.total.events_planned > 0)
		snprintf(pct, sizeof pct, " (%.0f%%)",
			 100.0 * (double)app->progress.total.events_done /
			 (double)app->progress.total.events_planned);
	if (tui_run_shared(app)) {
		snprintf(buf, size,
			 "A rebuild shared with other processes is running%s.\n"
			 "Quitting stops this process's part: its committed chunks\n"
			 "are kept, and the other processes go on.\n\n"
			 "Stop this process's part and quit?", pct);
		return buf;
	}
	snprintf(buf, size,
		 "A rebuild is running%s.\n"
		 "Quitting cancels it: every committed batch is kept,\n"
		 "and running the rebuild again resumes from there.\n\n"
		 "Cancel the rebuild and quit?", pct);
	return buf;
}

void tui_request_quit(tui_app *app)
{
	if (!tui_run_active(app) && !tui_calls_write(app)) {
		app->quit = true;
		return;
	}
	tui_confirm_live(app, "Quit snapmig", quit_text, cancel_and_quit, NULL);
}

/* --------------------------------------------------------------- drawing */

static void draw_title(tui_app *app, const tui_view *top)
{
	char buf[512], status[128] = "";
	int x, right = 0;
	const sm_environment *env = app->eng ? sm_engine_env(app->eng) : NULL;

	tui_fill(0, 0, COLS, ST_TITLE);
	/* The run's state first: it must stay visible on any screen. */
	if (app->run && app->have_progress) {
		const sm_type_progress *t = &app->progress.total;
		double frac = t->events_planned > 0 ?
			(double)t->events_done / (double)t->events_planned : 0;

		if (tui_run_active(app))
			snprintf(status, sizeof status, " %s rebuild %s %.0f%% ",
				 tui_spinner(app->tick),
				 sm_run_state_name(app->progress.state), frac * 100);
		else
			snprintf(status, sizeof status, " rebuild %s ",
				 sm_run_state_name(app->progress.state));
		right = tui_text_width(status);
		if (right > COLS / 2)
			right = COLS / 2;
		tui_put_right(0, COLS - right, right, ST_TITLE, status);
	}
	/* Then whether the configuration file changed since it was read. */
	if (app->cfg_error[0] || app->cfg_changed) {
		const char *cs = app->cfg_error[0] ? " config error (r) " : " config changed (r) ";
		int w = tui_text_width(cs);

		if (right + w < COLS / 2) {
			right += w;
			tui_put(0, COLS - right, w, ST_WARN, cs);
		}
	}
	/* The where goes last: it is the part that may be cut. */
	x = tui_putf(0, 0, COLS - right, ST_TITLE, " snapmig | %s ", tui_view_title(top));
	if (env) {
		snprintf(buf, sizeof buf, "| %s%s (%s)", env->name,
			 env->protected_env ? " PROTECTED" : "", app->where ? app->where : "");
		tui_put(0, x, COLS - right - x - 1, ST_TITLE, buf);
	}
}

const char *tui_view_title(const tui_view *v)
{
	return v->ops->name ? v->ops->name(v) : v->ops->title;
}

bool tui_view_has(const tui_view *v, int cmd)
{
	if (cmd == TUI_CMD_HELP || cmd == TUI_CMD_BACK || cmd == TUI_CMD_INTERRUPT)
		return true;
	for (const int *c = v->ops->cmds; c && *c != TUI_CMD_NONE; c++)
		if (*c == cmd)
			return true;
	return v->ops->list && tui_list_handles(v->state, cmd);
}

/* Commands a list may or may not offer (filter, state, sort). */
static bool is_list_cmd(int cmd)
{
	return cmd == TUI_CMD_FILTER || cmd == TUI_CMD_STATE || cmd == TUI_CMD_SORT_NEXT ||
	       cmd == TUI_CMD_SORT_PREV || cmd == TUI_CMD_SORT_INVERT;
}

/* The actions of the top view that do something now: moving around is in
 * the help, the bar shows the rest. */
static void draw_keybar(tui_app *app, tui_view *top)
{
	int x = 0, y = LINES - 1;

	tui_fill(y, 0, COLS, ST_KEYBAR);
	for (const int *c = top->ops->cmds; c && *c != TUI_CMD_NONE; c++) {
		const tui_command_info *ci = tui_command(*c);
		int need;

		if (!ci->label[0] || (top->ops->can && !top->ops->can(app, top, *c)) ||
		    (is_list_cmd(*c) && !(top->ops->list && tui_list_handles(top->state, *c))))
			continue;
		need = tui_text_width(ci->key_name) + tui_text_width(ci->label) + 3;
		if (x + need > COLS)
			break;
		x += tui_put(y, x, COLS - x, ST_KEYBAR, " ");
		x += tui_put(y, x, COLS - x, ST_KEY, ci->key_name);
		x += tui_put(y, x, COLS - x, ST_KEYBAR, " ");
		x += tui_put(y, x, COLS - x, ST_KEYBAR, ci->label);
		x += tui_put(y, x, COLS - x, ST_KEYBAR, " ");
	}
}

static void draw_too_small(void)
{
	char buf[128];
	int y = LINES / 2 - 1;

	if (LINES <= 0 || COLS <= 0)
		return;
	snprintf(buf, sizeof buf, "Window too small: %dx%d", COLS, LINES);
	tui_put(y < 0 ? 0 : y, 0, COLS, ST_WARN, buf);
	if (LINES > 1)
		tui_put(y + 1 < LINES ? y + 1 : 0, 0, COLS, ST_NORMAL,
			"snapmig needs at least 80x24.");
	if (LINES > 2)
		tui_put(y + 2 < LINES ? y + 2 : 0, 0, COLS, ST_DIM, "Enlarge it, or q to quit.");
}

static bool too_small(void)
{
	return COLS < 80 || LINES < 24;
}

/* Blanks rows y .. y + h - 1 before a region is drawn again. */
static void clear_rows(int y, int h)
{
	for (int i = y; i < y + h && i < LINES; i++) {
		move(i, 0);
		clrtoeol();
	}
}

/* The views from the lowest one that shows (modals draw over the views
 * below them) to the top. */
static int first_shown(const tui_app *app)
{
	int first = app->depth - 1;

	while (first > 0 && app->stack[first].ops->modal)
		first--;
	return first < 0 ? 0 : first;
}

static bool message_shown(const tui_app *app)
{
	return app->message[0] && sm_now() - app->message_time < 8;
}

/* Draws the regions marked dirty, then one wnoutrefresh and one doupdate;
 * nothing when nothing changed. */
static void draw(tui_app *app)
{
	tui_view *top = tui_top(app);
	tui_rect content = { 1, 0, LINES - 3, COLS };
	unsigned d = app->dirty;

	if (!d)
		return;
	app->dirty = 0;
	if (too_small() || !top) {
		erase();
		if (top)
			draw_too_small();
	} else {
		if (d == DIRTY_ALL)
			erase();
		if (d & DIRTY_TITLE) {
			clear_rows(0, 1);
			draw_title(app, top);
		}
		if (d & DIRTY_BODY) {
			clear_rows(content.y, content.h);
			for (int i = first_shown(app); i < app->depth; i++)
				app->stack[i].ops->draw(app, &app->stack[i], content);
		}
		if (d & DIRTY_MESSAGE) {
			clear_rows(LINES - 2, 1);
			if (message_shown(app))
				tui_put(LINES - 2, 1, COLS - 2, app->message_style, app->message);
		}
		if (d & DIRTY_KEYS)
			draw_keybar(app, top);
	}
	wnoutrefresh(stdscr);
	doupdate();
}

/* -------------------------------------------------------------- the loop */

static void handle_signal(tui_app *app, int sig)
{
	if (sig == SIGINT) {
		if (!tui_run_active(app))
			app->exit_code = 130;
		tui_request_quit(app);
		return;
	}
	/* TERM / HUP: nobody to ask.  Stop the run cleanly (committed work is
	 * kept) and leave. */
	app->exit_code = 128 + sig;
	if (tui_run_active(app)) {
		sm_run_cancel(app->run);
		app->quit_after_cancel = true;
	} else {
		app->quit = true;
	}
}

/* Acts on the flags a view or its list returned for cmd (key: the raw key). */
static void act(tui_app *app, unsigned flags, int key)
{
	/* The key bar too: what a key changed may change what is offered. */
	if (flags & TUI_REDRAW)
		app->dirty |= DIRTY_BODY | DIRTY_KEYS;
	if (flags & TUI_POP) {
		/* Esc also starts unknown escape sequences: it never quits. */
		if (app->depth == 1 && key == 27)
			return;
		if (app->depth == 1)
			tui_request_quit(app);
		else
			tui_pop(app);
	}
	if (flags & TUI_QUIT)
		tui_request_quit(app);
}

/* cmd for the top view: the view first, then its list, then what the app
 * does for every view (r reloads, back pops). */
static void dispatch(tui_app *app, tui_view *top, int cmd, int key)
{
	unsigned flags;

	if (cmd == TUI_CMD_HELP && !top->ops->modal && top->ops != &tui_view_help) {
		tui_push(app, &tui_view_help, tui_help_new(app, top));
		return;
	}
	flags = top->ops->key ? top->ops->key(app, top, cmd, key) : TUI_NONE;
	if (flags == TUI_NONE && top->ops->list)
		flags = tui_list_key(app, top->state, cmd);
	if (flags == TUI_NONE && cmd == TUI_CMD_REFRESH) {
		/* r reads the configuration file again too. */
		if (tui_config_reload(app))
			tui_engine_follow_config(app);
		if (top->ops->reload)
			top->ops->reload(app, top);
		flags = TUI_REDRAW;
	}
	if (flags == TUI_NONE && cmd == TUI_CMD_BACK)
		flags = TUI_POP;
	act(app, flags, key);
}

/* One mouse event: the wheel scrolls the top view's list, a click picks a
 * row, a second click on it opens it. */
static void mouse_event(tui_app *app, const MEVENT *ev)
{
	tui_view *top = tui_top(app);
	unsigned flags;
	int wheel = 0, cmd;

	if (!top || !top->ops->list)
		return;
	if (ev->bstate & BUTTON4_PRESSED)
		wheel = -1;
#ifdef BUTTON5_PRESSED
	else if (ev->bstate & BUTTON5_PRESSED)
		wheel = 1;
#endif
	cmd = tui_list_mouse(top->state, ev->y, (ev->bstate & BUTTON1_PRESSED) != 0, wheel,
			     sm_now(), &flags);
	act(app, flags, 0);
	if (cmd != TUI_CMD_NONE)
		dispatch(app, top, cmd, 0);
}

/* Every queued mouse event: with an event left queued, ncurses's next
 * read of a key waits for input without a timeout. */
static void handle_mouse(tui_app *app)
{
	MEVENT ev;

	while (getmouse(&ev) == OK)
		mouse_event(app, &ev);
}

static void handle_key(tui_app *app, int key)
{
	tui_view *top = tui_top(app);
	int cmd = tui_key_command(key);
	tui_list *l;

	if (!top)
		return;
	if (too_small()) {
		if (key == 'q')
			tui_request_quit(app);
		return;
	}
	if (key == TK_FN(KEY_MOUSE)) {
		handle_mouse(app);
		return;
	}
	l = top->ops->list ? top->state : NULL;
	if (l && l->typing) {
		act(app, tui_list_type(app, l, key, cmd), key);
		return;
	}
	dispatch(app, top, cmd, key);
}

/* Lets every view collect its finished work (calls of views below a dialog
 * keep finishing too) and read data that changed again; a view that changed
 * and shows is drawn again. */
static void poll_views(tui_app *app)
{
	for (int i = 0; i < app->depth; i++) {
		tui_view *v = &app->stack[i];
		unsigned flags = TUI_NONE;

		if (v->ops->reload && v->generation != app->data_generation && app->eng) {
			v->generation = app->data_generation;
			v->ops->reload(app, v);
			flags = TUI_REDRAW;
		}
		if (v->ops->poll)
			flags |= v->ops->poll(app, v);
		if ((flags & TUI_REDRAW) && i >= first_shown(app))
			app->dirty |= DIRTY_BODY | DIRTY_KEYS;
	}
}

static int read_key(void)
{
	wint_t wch;
	int r = wget_wch(stdscr, &wch);

	if (r == OK)
		return (int)wch;
	if (r == KEY_CODE_YES)
		return TK_FN((int)wch);
	return 0;
}

static void main_loop(tui_app *app)
{
	while (!app->quit && app->depth > 0) {
		int sig = pending_signal;
		int key;

		if (sig) {
			pending_signal = 0;
			handle_signal(app, sig);
		}
		tui_calls_reap(app);
		tui_engine_poll(app);
		tui_config_watch(app);
		app->tick++;
		poll_run(app, false);
		poll_views(app);
		if (app->message[0] && !message_shown(app)) {
			app->message[0] = 0;
			app->dirty |= DIRTY_MESSAGE;
		}
		if (app->quit || app->depth == 0)
			break;
		draw(app);
		key = read_key();
		if (key == TK_FN(KEY_RESIZE)) {
			app->dirty = DIRTY_ALL;  /* LINES/COLS are updated already */
			continue;
		}
		if (key != 0)
			handle_key(app, key);
	}
}

/* ------------------------------------------------------------ entry point */

/* Waits up to ms for the run and every call to have stopped (they were
 * asked to), saying so on the screen when it takes a while.  Whether they
 * did. */
static bool stopped(tui_app *app, int ms)
{
	double t0 = sm_now();
	bool said = false;

	for (;;) {
		bool run_going = app->run && !sm_run_finished(app->run);
		double waited = (sm_now() - t0) * 1000.0;

		if (tui_calls_reap(app) == 0 && !run_going)
			return true;
		if (waited >= ms)
			return false;
		if (!said && waited >= QUIT_SAY_MS) {
			said = true;
			erase();
			tui_put(LINES / 2, 2, COLS - 4, ST_WARN,
				"Stopping the database calls in progress ...");
			wnoutrefresh(stdscr);
			doupdate();
		}
		napms(10);
	}
}

int sm_tui_run(const sm_config *cfg, const char *env_name, sm_error *err)
{
	struct sigaction sa, old[N_SIGNALS];
	tui_app app;
	SCREEN *scr;
	const char *cs;

	sm_error_clear(err);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		sm_error_set(err, SM_ERR_USAGE, "the interface needs a terminal on stdin and stdout");
		return 2;
	}
	setlocale(LC_ALL, "");
	cs = nl_langinfo(CODESET);
	tui_draw_init(cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0));

	/* Before newterm: curses leaves handlers that are already set alone. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_SIGNALS; i++)
		sigaction(handled_signals[i], &sa, &old[i]);
	pending_signal = 0;

	if (!getenv("ESCDELAY"))
		set_escdelay(25);
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		for (size_t i = 0; i < N_SIGNALS; i++)
			sigaction(handled_signals[i], &old[i], NULL);
		sm_error_set(err, SM_ERR_USAGE, "cannot use the terminal (TERM=%s)",
			     getenv("TERM") ? getenv("TERM") : "");
		return 2;
	}
	curses_active = true;
	sm_set_fatal_hook(fatal_restore);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	/* Presses, not clicks: no waiting to tell a click from a drag.  The
	 * releases are asked for too, and ignored: a release outside the mask
	 * stays queued, and ncurses then waits for a key without a timeout. */
	mouseinterval(0);
#ifdef BUTTON5_PRESSED
	mousemask(BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
#else
	mousemask(BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON4_PRESSED, NULL);
#endif
	wtimeout(stdscr, 100);
	tui_theme_init();

	memset(&app, 0, sizeof app);
	tui_config_init(&app, cfg);
	app.initial_env = env_name;
	tui_push(&app, &tui_view_envs, tui_envs_new(&app, env_name));
	main_loop(&app);

	/* Leaving: nothing may still run when cfg goes away.  Everything is
	 * asked to stop at once, then waited for. */
	if (app.run && !sm_run_finished(app.run))
		sm_run_cancel(app.run);
	while (app.depth > 0)
		tui_pop(&app);
	tui_call_drop(&app, &app.reopen);
	tui_calls_stop_all(&app);
	if (!stopped(&app, QUIT_GIVE_UP_MS)) {
		/* A server that cannot be reached: their threads still use the
		 * engine and the configuration, so nothing is freed; closing
		 * the process closes their connections. */
		endwin();
		for (size_t i = 0; i < N_SIGNALS; i++)
			sigaction(handled_signals[i], &old[i], NULL);
		fprintf(stderr, "snapmig: database calls did not stop within %d s; "
			"leaving them\n", QUIT_GIVE_UP_MS / 1000);
		_exit(app.exit_code ? app.exit_code : 1);
	}
	tui_session_end(&app);
	free_run_strings(&app);

	curses_active = false;
	endwin();
	delscreen(scr);
	sm_set_fatal_hook(NULL);
	for (size_t i = 0; i < N_SIGNALS; i++)
		sigaction(handled_signals[i], &old[i], NULL);
	return app.exit_code;
}
