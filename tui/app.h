/*
 * The application state shared by the views, the view interface and the
 * small services the main loop offers them (view stack, dialogs, status
 * message, the rebuild run in progress).
 *
 * Views: each screen is a tui_view_ops with enter/draw/key/poll/leave.
 * Key handlers and polls return TUI_* flags saying what changed, as htop's
 * panels do for its ScreenManager: the main loop draws a view again only
 * when it returned TUI_REDRAW (or the stack, the size or the run changed),
 * redraws each screen region (title, views, message line, key bar) only when
 * it changed, and ends every turn with at most one doupdate.  Only the UI
 * thread touches anything here.
 */
#ifndef SM_TUI_APP_H
#define SM_TUI_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/snapmig.h"
#include "tui/draw.h"
#include "tui/keys.h"
#include "tui/list.h"
#include "tui/call.h"
#include "tui/wcurses.h"

enum {
	TUI_NONE = 0,        /* nothing changed: nothing is drawn again */
	TUI_REDRAW = 1 << 0, /* what the view shows changed: draw it again */
	TUI_POP = 1 << 1,    /* close this view */
	TUI_QUIT = 1 << 2,   /* ask to quit (the app asks if a run is going) */
};

typedef struct tui_rect {
	int y, x, h, w;
} tui_rect;

typedef struct tui_view tui_view;

typedef struct tui_view_ops {
	const char *title;
	const int *cmds;         /* commands working here, TUI_CMD_NONE-terminated */
	bool modal;              /* a dialog: the view below is drawn first */
	/* The view's state begins with a tui_list: the keys the view leaves
	 * (TUI_NONE) go to the list (moving, paging, the filter). */
	bool list;
	void (*enter)(tui_app *app, tui_view *v);          /* may be NULL */
	/* Reads the view's data again: on r, when the data changed (a run
	 * finished, a copy), and when it is entered unless it has an enter.
	 * May be NULL. */
	void (*reload)(tui_app *app, tui_view *v);
	void (*draw)(tui_app *app, tui_view *v, tui_rect r);
	/* cmd is the command bound to key (TUI_CMD_NONE if none); key is the raw
	 * key for text input.  Back that no view or list takes pops the view. */
	unsigned (*key)(tui_app *app, tui_view *v, int cmd, int key); /* may be NULL */
	/* Collects finished background work; returns TUI_REDRAW when what the
	 * view shows changed (new data, a spinner that turns).  May be NULL. */
	unsigned (*poll)(tui_app *app, tui_view *v);
	void (*leave)(tui_app *app, tui_view *v);          /* frees v->state */
} tui_view_ops;

struct tui_view {
	const tui_view_ops *ops;
	void *state;
	unsigned generation;     /* the app's data_generation it has read */
};

#define TUI_MAX_VIEWS 16

struct tui_app {
	const sm_config *cfg;
	const char *initial_env;     /* -e NAME, or NULL */
	sm_engine *eng;              /* the connected environment, or NULL */
	char *where;                 /* sm_engine_describe of eng */

	tui_view stack[TUI_MAX_VIEWS];
	int depth;

	/* The rebuild run (continues while other screens are shown). */
	sm_run *run;
	sm_progress progress;
	unsigned progress_seq;      /* bumped whenever progress is read again */
	bool have_progress;
	bool run_finished_seen;
	double last_progress_poll;
	/* Strings borrowed by the run's options, kept until the run is freed. */
	char **run_strings;
	size_t n_run_strings;
	const char **run_types, **run_uuids;
	size_t n_run_types;

	/* Bumped whenever the data changed (a run finished, a copy): views
	 * holding data read earlier refresh. */
	unsigned data_generation;

	char message[512];
	enum tui_style message_style;
	double message_time;

	unsigned tick;              /* spinner */
	unsigned dirty;             /* screen regions to draw again (app.c) */
	bool quit;
	bool quit_after_cancel;     /* cancel requested on quit: leave when the run stops */
	int exit_code;
	tui_call *dropped;          /* calls no view waits for any more (call.c) */
};

/* View stack. */
void tui_push(tui_app *app, const tui_view_ops *ops, void *state);
void tui_pop(tui_app *app);
tui_view *tui_top(tui_app *app);
/* The view below v on the stack (for modals), NULL at the bottom. */
tui_view *tui_below(tui_app *app, const tui_view *v);

/* A one-line message on the line above the bottom bar (shown ~8 s). */
void tui_message(tui_app *app, enum tui_style st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

double tui_now(void);

/* Dialogs.  The callbacks run on the UI thread after the dialog closed;
 * ctx is borrowed (typically the state of the view below). */
typedef void (*tui_confirm_fn)(tui_app *app, void *ctx);
typedef void (*tui_prompt_fn)(tui_app *app, void *ctx, const char *text);

/* Shows text (lines separated by '\n') and asks y/n; on_yes on 'y'. */
void tui_confirm(tui_app *app, const char *title, const char *text,
		 tui_confirm_fn on_yes, void *ctx);
/* Asks for a line of text; on_submit on Enter (not on Esc). */
void tui_prompt(tui_app *app, const char *title, const char *text,
		const char *initial, tui_prompt_fn on_submit, void *ctx);

/* The rebuild run. */
bool tui_run_active(const tui_app *app);   /* started and not finished */
/* Starts a rebuild (strings are copied); pushes the progress view.
 * Returns false with a message when one is already running or start fails. */
bool tui_run_start(tui_app *app, const char *const *types, size_t n_types,
		   const char *const *uuids, size_t n_uuids, bool only_failed);
/* Asks for quitting: with a run in progress asks whether to cancel it. */
void tui_request_quit(tui_app *app);

/* Engine: set after connecting (the app owns it), closed when leaving the
 * environment. */
void tui_set_engine(tui_app *app, sm_engine *eng);
void tui_close_engine(tui_app *app);

/* Views. */
extern const tui_view_ops tui_view_envs;
extern const tui_view_ops tui_view_overview;
extern const tui_view_ops tui_view_rebuild;
extern const tui_view_ops tui_view_failures;
extern const tui_view_ops tui_view_copy;
extern const tui_view_ops tui_view_snapshot;
extern const tui_view_ops tui_view_instances;
extern const tui_view_ops tui_view_help;

/* Constructors of view states. */
void *tui_envs_new(tui_app *app, const char *autoconnect);
void *tui_overview_new(tui_app *app);
void *tui_failures_new(tui_app *app, const char *type);
/* types: labels/types to copy (copied); n_types 0 = all configured. */
void *tui_copy_new(tui_app *app, const char *const *types, size_t n_types);
void *tui_snapshot_new(tui_app *app, const char *source_uuid);
/* type: the full aggregate type; label: what to show (NULL: the type). */
void *tui_instances_new(tui_app *app, const char *type, const char *label);
void *tui_help_new(tui_app *app, const tui_view_ops *below);

/* Shared: the failure kind as words ("unknown event"). */
const char *tui_failure_kind_text(int kind);

#endif
