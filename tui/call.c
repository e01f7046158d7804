/* Background engine calls of the UI: see call.h. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tui/app.h"
#include "tui/call.h"
#include "util/alloc.h"
#include "util/thread.h"

struct tui_call {
	pthread_t thread;
	bool threaded;             /* false: ran on the UI thread (no thread) */
	/* The thread that requests the cancel (PQcancel waits for the
	 * server), started once; joined when it has said it is done. */
	pthread_t canceller;
	bool cancelling;           /* a cancel was asked for */
	bool cancel_threaded;      /* canceller runs (else it was done here) */
	atomic_bool cancel_sent;
	tui_call_fn fn;
	tui_call_free_fn free_out;
	tui_call_args args;        /* strings owned */
	void *out;
	int status;
	sm_error err;
	atomic_bool done;
	bool dropped;              /* no view waits for it: the app frees it */
	struct tui_call *next;     /* in the app's list of live calls */
};

static void *call_main(void *arg)
{
	tui_call *c = arg;

	sm_error_clear(&c->err);
	c->out = NULL;
	c->status = c->fn(&c->args, &c->out, &c->err);
	/* Release: what fn wrote is visible to whoever sees done. */
	atomic_store_explicit(&c->done, true, memory_order_release);
	return NULL;
}

static bool call_done(const tui_call *c)
{
	return atomic_load_explicit(&((tui_call *)c)->done, memory_order_acquire);
}

/* Whether the call and its canceller (if any) have both finished: only
 * then may it be freed (joining them does not wait). */
static bool call_ended(const tui_call *c)
{
	return call_done(c) &&
	       (!c->cancel_threaded || atomic_load(&((tui_call *)c)->cancel_sent));
}

static void *cancel_main(void *arg)
{
	tui_call *c = arg;

	sm_cancel_request(c->args.cancel);
	atomic_store(&c->cancel_sent, true);
	return NULL;
}

/* Asks c to stop, once: on a thread of its own when c still runs. */
static void call_cancel(tui_call *c)
{
	if (c->cancelling)
		return;
	c->cancelling = true;
	if (call_done(c))
		return;
	/* The terminal's signals are for the UI thread (util/thread.h). */
	c->cancel_threaded = sm_thread_start(&c->canceller, cancel_main, c) == 0;
	if (!c->cancel_threaded)
		sm_cancel_request(c->args.cancel);  /* no thread: wait for it once */
}

/* Joins the threads (they have ended: call_ended) and frees the call and
 * its copies; the result stays with whoever took it. */
static void call_free(tui_call *c)
{
	if (c->threaded)
		pthread_join(c->thread, NULL);
	if (c->cancel_threaded)
		pthread_join(c->canceller, NULL);
	sm_cancel_free(c->args.cancel);
	free((char *)c->args.str);
	free((char *)c->args.str2);
	for (size_t i = 0; i < c->args.n_strv; i++)
		free((char *)c->args.strv[i]);
	free((char **)c->args.strv);
	free(c);
}

tui_call *tui_call_start(tui_app *app, tui_call_fn fn, tui_call_free_fn free_out,
			 const tui_call_args *in)
{
	tui_call *c = sm_xcalloc(1, sizeof *c);
	char **strv = NULL;

	c->next = app->calls;
	app->calls = c;
	c->fn = fn;
	c->free_out = free_out;
	c->args.eng = in->eng;
	c->args.cfg = in->cfg;
	c->args.str = sm_xstrdup(in->str);
	c->args.str2 = sm_xstrdup(in->str2);
	if (in->n_strv) {
		strv = sm_xcalloc(in->n_strv + 1, sizeof *strv);
		for (size_t i = 0; i < in->n_strv; i++)
			strv[i] = sm_xstrdup(in->strv[i]);
	}
	c->args.strv = (const char *const *)strv;
	c->args.n_strv = in->n_strv;
	c->args.num = in->num;
	c->args.limit = in->limit;
	c->args.flag = in->flag;
	c->args.bits = in->bits;
	c->args.writes = in->writes;
	c->args.cancel = sm_cancel_new();
	atomic_init(&c->args.report, 0);
	atomic_init(&c->done, false);
	atomic_init(&c->cancel_sent, false);
	c->threaded = sm_thread_start(&c->thread, call_main, c) == 0;
	if (!c->threaded)
		call_main(c);   /* no thread: run it here; the UI blocks once */
	return c;
}

/* Takes c out of the app's list of live calls. */
static void unlink_call(tui_app *app, tui_call *c)
{
	for (tui_call **p = &app->calls; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			return;
		}
	}
}

void tui_call_restart(tui_app *app, tui_call **cp, tui_call_fn fn, tui_call_free_fn free_out,
		      const tui_call_args *in)
{
	tui_call_drop(app, cp);
	*cp = tui_call_start(app, fn, free_out, in);
}

bool tui_call_collect(tui_app *app, tui_call **cp, int *rc, void **out, sm_error *err)
{
	tui_call *c = *cp;

	if (!c || !call_ended(c))
		return false;
	*rc = c->status;
	*out = c->out;
	if (err)
		*err = c->err;
	unlink_call(app, c);
	call_free(c);
	*cp = NULL;
	return true;
}

int tui_call_take(tui_app *app, tui_call **cp, void **out, char *errbuf, size_t size,
		  const char *what)
{
	tui_call_free_fn free_out = *cp ? (*cp)->free_out : NULL;
	sm_error err;
	int rc;

	if (!tui_call_collect(app, cp, &rc, out, &err))
		return -1;
	if (rc == SM_OK) {
		errbuf[0] = 0;
		return 1;
	}
	if (*out && free_out)
		free_out(*out);
	*out = NULL;
	snprintf(errbuf, size, "%s%s%s", what ? what : "", what ? ": " : "", err.message);
	return 0;
}

void tui_call_drop(tui_app *app, tui_call **cp)
{
	(void)app;
	if (!*cp)
		return;
	(*cp)->dropped = true;
	/* Its result would be out of date: stop what it waits for.  A write
	 * completes (its screen refuses to be left meanwhile). */
	if (!(*cp)->args.writes)
		call_cancel(*cp);
	*cp = NULL;
}

void tui_calls_stop_all(tui_app *app)
{
	for (tui_call *c = app->calls; c; c = c->next) {
		c->dropped = true;
		call_cancel(c);
	}
}


bool tui_calls_write(const tui_app *app)
{
	for (const tui_call *c = app->calls; c; c = c->next)
		if (c->args.writes && !call_done(c))
			return true;
	return false;
}

bool tui_calls_use(const tui_app *app, const sm_engine *eng, const sm_config *cfg)
{
	for (const tui_call *c = app->calls; c; c = c->next)
		if ((eng && c->args.eng == eng) || (cfg && c->args.cfg == cfg))
			return true;
	return false;
}

long long tui_call_report(const tui_call *c)
{
	return c ? atomic_load(&((tui_call *)c)->args.report) : 0;
}

int tui_calls_reap(tui_app *app)
{
	tui_call **p = &app->calls;
	int running = 0;

	while (*p) {
		tui_call *c = *p;

		if (!c->dropped) {
			p = &c->next;
		} else if (call_ended(c)) {
			*p = c->next;
			if (c->out && c->free_out)
				c->free_out(c->out);
			call_free(c);
		} else {
			running++;
			p = &c->next;
		}
	}
	return running;
}
