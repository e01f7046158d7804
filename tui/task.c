/* Background tasks of the UI: see task.h. */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tui/app.h"
#include "tui/task.h"
#include "util/alloc.h"

struct tui_task {
	pthread_t thread;
	tui_task_fn fn;
	void *ctx;
	tui_task_free_fn free_ctx;
	int status;
	sm_error err;
	atomic_bool done;
};

struct tui_task_node {
	tui_task *task;
	struct tui_task_node *next;
};

static void *task_main(void *arg)
{
	tui_task *t = arg;

	sm_error_clear(&t->err);
	t->status = t->fn(t->ctx, &t->err);
	/* Release: the results written by fn are visible to whoever sees done. */
	atomic_store_explicit(&t->done, true, memory_order_release);
	return NULL;
}

tui_task *tui_task_start(tui_task_fn fn, void *ctx, tui_task_free_fn free_ctx)
{
	tui_task *t = sm_xcalloc(1, sizeof *t);
	sigset_t block, old;
	int rc;

	t->fn = fn;
	t->ctx = ctx;
	t->free_ctx = free_ctx;
	atomic_init(&t->done, false);
	/* The new thread inherits this mask: terminal signals must reach the
	 * UI thread, whose handler only sets a flag. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&t->thread, NULL, task_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		/* No thread: run it here rather than fail; the UI blocks once. */
		task_main(t);
		t->thread = pthread_self();
	}
	return t;
}

bool tui_task_done(const tui_task *t)
{
	return atomic_load_explicit(&((tui_task *)t)->done, memory_order_acquire);
}

int tui_task_finish(tui_task *t, sm_error *err)
{
	int status;

	if (!pthread_equal(t->thread, pthread_self()))
		pthread_join(t->thread, NULL);
	status = t->status;
	if (err)
		*err = t->err;
	free(t);
	return status;
}

void tui_task_abandon(tui_app *app, tui_task *t)
{
	struct tui_task_node *n;

	if (!t)
		return;
	n = sm_xcalloc(1, sizeof *n);
	n->task = t;
	n->next = app->orphans;
	app->orphans = n;
}

int tui_tasks_reap(tui_app *app, bool wait)
{
	struct tui_task_node **p = &app->orphans;
	int running = 0;

	while (*p) {
		struct tui_task_node *n = *p;

		if (wait || tui_task_done(n->task)) {
			void *ctx = n->task->ctx;
			tui_task_free_fn free_ctx = n->task->free_ctx;

			tui_task_finish(n->task, NULL);
			if (free_ctx)
				free_ctx(ctx);
			*p = n->next;
			free(n);
		} else {
			running++;
			p = &n->next;
		}
	}
	return running;
}
