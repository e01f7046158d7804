/*
 * Progress of a run (rebuild, verify) on stderr, in one of three forms
 * chosen once:
 *  - a live bar per aggregate type and an overall bar, redrawn in place,
 *    when stderr is a terminal;
 *  - a plain line every few seconds otherwise (logs, CI);
 *  - one JSON object per line ("event": "progress") with --json.
 * Nothing here touches the engine beyond reading an sm_progress.
 */
#ifndef SM_CLI_PROGRESS_H
#define SM_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "engine/snapmig.h"

enum progress_mode { PROGRESS_NONE, PROGRESS_BARS, PROGRESS_LINES, PROGRESS_JSON };

typedef struct progress_view {
	enum progress_mode mode;
	FILE *f;
	double last_shown;        /* monotonic seconds of the last output */
	double interval;          /* seconds between outputs (not for bars) */
	int lines_drawn;          /* bars currently on screen */
	const char *what;         /* "rebuild" (the default), "verify" */
} progress_view;

void progress_init(progress_view *v, enum progress_mode mode, FILE *f);

/* Shows p if its interval has passed (bars: every call).  now is monotonic
 * seconds. */
void progress_update(progress_view *v, const sm_progress *p, double now);

/* The last state, whatever the interval, and leaves the bars on screen. */
void progress_finish(progress_view *v, const sm_progress *p);

/* Prints a line of its own on stderr without breaking the bars. */
void progress_note(progress_view *v, const char *text);

/* JSON object of one type's progress (with_type: its type and label) or
 * of the total (without). */
json_object *progress_type_json(const sm_type_progress *t, bool with_type);

/*
 * Starts a run with start(arg, &run, err) and shows its progress on view
 * until it has finished.  The engine's threads are started with SIGINT and
 * SIGTERM blocked, so that they reach this thread only; while the run is
 * polled those signals only set a flag, which becomes sm_run_cancel (the
 * run keeps what it finished).  Returns start's status (*run NULL when it
 * failed) or, once the run has finished, sm_run_wait's; *interrupted: a
 * signal came.
 */
int progress_run(progress_view *view, int (*start)(void *arg, sm_run **run, sm_error *err),
		 void *arg, sm_run **run, bool *interrupted, sm_error *err);

#endif
