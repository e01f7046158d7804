/*
 * Background tasks of the UI: one synchronous engine call run on a thread
 * of its own so that the UI thread never blocks on the database.  The UI
 * starts a task, polls tui_task_done() from its loop and then collects the
 * result with tui_task_finish().  A view that goes away while its task still
 * runs hands it to tui_task_abandon(): the app joins it later and frees its
 * context then.  The task function must not touch curses.
 */
#ifndef SM_TUI_TASK_H
#define SM_TUI_TASK_H

#include <stdbool.h>

#include "util/error.h"

typedef struct tui_task tui_task;
typedef struct tui_app tui_app;

/* Runs on the task's thread; ctx holds inputs and receives outputs. */
typedef int (*tui_task_fn)(void *ctx, sm_error *err);
/* Frees ctx and the outputs in it (for abandoned tasks). */
typedef void (*tui_task_free_fn)(void *ctx);

/* Starts fn(ctx) on a new thread with the terminal signals blocked (they
 * are for the UI thread).  ctx must stay valid until the task is finished
 * or abandoned. */
tui_task *tui_task_start(tui_task_fn fn, void *ctx, tui_task_free_fn free_ctx);
bool tui_task_done(const tui_task *t);
/* Joins (blocks only if not done), frees the task, returns fn's status and
 * copies its error into err.  ctx stays with the caller. */
int tui_task_finish(tui_task *t, sm_error *err);
/* Gives the task (and its ctx, freed with free_ctx once done) to the app. */
void tui_task_abandon(tui_app *app, tui_task *t);

/* App side: joins and frees the abandoned tasks that are done (all of them
 * when wait is true).  Returns how many are still running. */
int tui_tasks_reap(tui_app *app, bool wait);

#endif
