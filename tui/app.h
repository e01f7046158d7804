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
#include <stdint.h>

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
	const char *(*name)(const tui_view *v); /* a title of its own, may be NULL */
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
	/* Whether cmd does something now (the key bar offers only those);
	 * NULL: every command of cmds always does. */
	bool (*can)(tui_app *app, tui_view *v, int cmd);
	/* Collects finished background work; returns TUI_REDRAW when what the
	 * view shows changed (new data, a spinner that turns).  May be NULL. */
	unsigned (*poll)(tui_app *app, tui_view *v);
	/* Frees what v->state owns (the app frees v->state itself, a block
	 * of memory from malloc); may be NULL. */
	void (*leave)(tui_app *app, tui_view *v);
} tui_view_ops;

struct tui_view {
	const tui_view_ops *ops;
	void *state;
	unsigned generation;     /* the app's data_generation it has read */
};

#define TUI_MAX_VIEWS 16

struct tui_app {
	/* The configuration and the environment (session.c). */
	const sm_config *cfg;        /* as last read */
	unsigned cfg_generation;     /* bumped whenever it is read again */
	uint64_t cfg_hash, cfg_stamp;/* its files' contents and stat */
	double cfg_checked;
	bool cfg_changed;            /* the files differ from cfg */
	char cfg_error[1200];        /* why reading them again failed */
	sm_config **owned_cfgs;      /* read again by the UI, freed at the end */
	size_t n_owned_cfgs;
	tui_call *reopen;            /* connecting with cfg read again */
	sm_engine **retired;         /* replaced engines still used by calls */
	size_t n_retired;
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
	tui_call *calls;            /* every call not collected yet (call.c) */
};

/* View stack. */
void tui_push(tui_app *app, const tui_view_ops *ops, void *state);
void tui_pop(tui_app *app);
tui_view *tui_top(tui_app *app);
/* The view below v on the stack (for modals), NULL at the bottom. */
tui_view *tui_below(tui_app *app, const tui_view *v);

/* A one-line message on the line above the bottom bar, for the screen it
 * is said on: shown ~8 s or until another screen opens or this one
 * closes. */
void tui_message(tui_app *app, enum tui_style st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Dialogs.  The callbacks run on the UI thread after the dialog closed;
 * ctx is borrowed (typically the state of the view below). */
typedef void (*tui_confirm_fn)(tui_app *app, void *ctx);
typedef void (*tui_prompt_fn)(tui_app *app, void *ctx, const char *text);

/* Shows text (lines separated by '\n') and asks y/n; on_yes on 'y'. */
void tui_confirm(tui_app *app, const char *title, const char *text,
		 tui_confirm_fn on_yes, void *ctx);
/* Like tui_confirm with a text that follows the state of things: text
 * (buf is size bytes to write it into; it returns buf or a constant) is
 * asked again every turn while the dialog shows. */
typedef const char *(*tui_text_fn)(tui_app *app, void *ctx, char *buf, size_t size);
void tui_confirm_live(tui_app *app, const char *title, tui_text_fn text,
		      tui_confirm_fn on_yes, void *ctx);
/* A confirmation by typing expect (a protected environment's name):
 * on_yes when what was typed matches; otherwise says "The name does not
 * match: <refused>" ("nothing copied"). */
void tui_confirm_typed(tui_app *app, const char *title, const char *text,
		       const char *expect, const char *refused, tui_confirm_fn on_yes, void *ctx);
/* Asks for a line of text; on_submit on Enter (not on Esc). */
void tui_prompt(tui_app *app, const char *title, const char *text,
		const char *initial, tui_prompt_fn on_submit, void *ctx);

/* Copies text to the clipboard (OSC 52) and to a file, and says so; what
 * names it in the message ("the source_uuid"). */
void tui_yank(tui_app *app, const char *what, const char *text);

/* Line editing of s (cap bytes): Backspace, Ctrl-U (clear) and printable
 * characters; returns whether key edited. */
bool tui_text_edit(char *s, size_t cap, int key);

/* The rebuild run. */
bool tui_run_active(const tui_app *app);   /* started and not finished */
/* Whether other processes work on the run's plan too (or did), or it
 * joined another's: cancelling stops this process's part only. */
bool tui_run_shared(const tui_app *app);
/* Starts a rebuild (strings are copied); pushes the progress view.
 * Returns false with a message when one is already running or start fails. */
bool tui_run_start(tui_app *app, const char *const *types, size_t n_types,
		   const char *const *uuids, size_t n_uuids, bool only_failed);
/* Joins the rebuild planned in the target schema by another process (of
 * any host) with jobs workers (0: the environment's setting): this
 * process claims chunks of its plan until none is left; cancelling stops
 * this process only.  Pushes the progress view; false with a message
 * when there is nothing to join or joining fails. */
bool tui_run_join(tui_app *app, int jobs);
/* Asks for quitting: with a run in progress asks whether to cancel it. */
void tui_request_quit(tui_app *app);

/* Draw everything again this turn. */
void tui_redraw_all(tui_app *app);

/* Session (session.c).  Engine: set after connecting (the app owns it),
 * closed when leaving the environment; an engine that calls still use is
 * closed when they have ended (tui_engine_poll), never waited for. */
void tui_set_engine(tui_app *app, sm_engine *eng);
void tui_close_engine(tui_app *app);
void tui_config_init(tui_app *app, const sm_config *cfg);
/* Looks at the configuration files about once a second: cfg_changed. */
void tui_config_watch(tui_app *app);
/* Reads the configuration again when its files changed (not while a
 * rebuild runs).  Returns false when it is not current afterwards (an
 * error in the file: cfg_error, and a message). */
bool tui_config_reload(tui_app *app);
/* Connected with a configuration that was read again since: connect with
 * the new one in the background. */
void tui_engine_follow_config(tui_app *app);
/* Opens environment env of cfg in the background; the result is an
 * sm_engine (sm_engine_close). */
tui_call *tui_engine_open_call(tui_app *app, const sm_config *cfg, const char *env);
/* Each turn: closes retired engines no call uses any more, takes the
 * engine of tui_engine_follow_config when it is connected. */
void tui_engine_poll(tui_app *app);
int tui_engines_reap(tui_app *app);
/* Whether a run may start: the file is as read and the engine uses it. */
bool tui_config_current(const tui_app *app);
/* Why not, for a message. */
const char *tui_config_stale_text(const tui_app *app);
/* At the end, once no call runs: closes the engines, frees configs. */
void tui_session_end(tui_app *app);

/* Views. */
extern const tui_view_ops tui_view_envs;
extern const tui_view_ops tui_view_overview;
extern const tui_view_ops tui_view_rebuild;
extern const tui_view_ops tui_view_failures;
extern const tui_view_ops tui_view_copy;
extern const tui_view_ops tui_view_snapshot;
extern const tui_view_ops tui_view_instances;
extern const tui_view_ops tui_view_help;
extern const tui_view_ops tui_view_text;
extern const tui_view_ops tui_view_runs;

/* Constructors of view states. */
void *tui_envs_new(tui_app *app, const char *autoconnect);
void *tui_overview_new(tui_app *app);
void *tui_failures_new(tui_app *app, const char *type);
/* types: labels/types to copy (copied); n_types 0 = all configured. */
void *tui_copy_new(tui_app *app, const char *const *types, size_t n_types);
void *tui_snapshot_new(tui_app *app, const char *source_uuid);
/* type: the full aggregate type; label: what to show (NULL: the type). */
void *tui_instances_new(tui_app *app, const char *type, const char *label);
/* below: the view help was asked on (it stays on the stack under help). */
void *tui_help_new(tui_app *app, tui_view *below);
void *tui_runs_new(tui_app *app);
/* A text to read (copied): name for the title bar, title above the text,
 * uuid the instance it is about (y copies it, i inspects it) or NULL. */
void *tui_text_new(tui_app *app, const char *name, const char *title, const char *text,
		   const char *uuid);
/* The title of view v (its name, else its ops' title). */
const char *tui_view_title(const tui_view *v);
/* Whether cmd works on view v: one of its commands, or one its list
 * handles (for the help screen). */
bool tui_view_has(const tui_view *v, int cmd);

/* Starts rolling back copy copy_id in the background; the result is an
 * sm_rollback_result (free with sm_rollback_result_free). */
tui_call *tui_rollback_call(tui_app *app, long long copy_id);
/* Asks before rolling back copy copy_id (typing the environment's name
 * when it is protected); on_yes when confirmed. */
void tui_confirm_rollback(tui_app *app, long long copy_id, tui_confirm_fn on_yes, void *ctx);

/* Shared: the failure kind as words ("unknown event"). */
const char *tui_failure_kind_text(int kind);

#endif
