/*
 * Background engine calls of the UI: the one way a view talks to the
 * database without blocking the UI thread.
 *
 * A view starts a call (one synchronous engine function on a thread of its
 * own), its poll collects the result once the call has finished, and a view
 * that goes away drops its call: the call is cancelled (its token, see
 * sm_cancel in engine/snapmig.h) and the app frees it and its result once
 * it has returned, which a cancelled engine call does within about 100 ms
 * plus a round trip to the server.  Inputs are copied into the call's
 * tui_call_args, so the view may go away at any time; the output is one
 * pointer with its free function.  The call function runs on the call's
 * thread and never touches curses.
 *
 * Nothing here waits on a thread: a cancel is requested on a short-lived
 * thread of its own (sm_cancel_request sends PQcancel, which waits for the
 * server), and a thread is joined only once it has said it is done.
 */
#ifndef SM_TUI_CALL_H
#define SM_TUI_CALL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/snapmig.h"

typedef struct tui_app tui_app;
typedef struct tui_call tui_call;

/* The inputs of a call.  tui_call_start copies the strings (the call owns
 * the copies); eng and cfg are borrowed and stay valid while the call runs
 * (the app keeps them until every call using them has ended). */
typedef struct tui_call_args {
	sm_engine *eng;
	const sm_config *cfg;
	const char *str;           /* a type, a source_uuid, an environment name */
	const char *str2;          /* a second string (a filter) */
	const char *const *strv;   /* a list of strings (types) */
	size_t n_strv;
	long long num;             /* an id, an offset */
	int limit;
	bool flag;
	unsigned bits;
	/* The call changes data (a copy, a rollback): dropping it does not
	 * cancel it (its transaction completes), quitting asks first. */
	bool writes;
	/* The call's own cancel token, set by tui_call_start (ignored in the
	 * args given to it): pass it to the engine call. */
	sm_cancel *cancel;
	/* Written by the call function while it runs (e.g. milliseconds waited
	 * for a lock); the view reads it with tui_call_report. */
	atomic_llong report;
} tui_call_args;

/* Runs on the call's thread: *out receives the result (freed with the
 * call's free function if nobody collects it). */
typedef int (*tui_call_fn)(tui_call_args *a, void **out, sm_error *err);
typedef void (*tui_call_free_fn)(void *out);

/*
 * Defines the call function NAME_fn, which runs EXPR (an engine call that
 * stores its result of type TYPE in `res`, with the args in `a` and the
 * error in `err`: sm_runs_read(a->eng, a->limit, a->cancel, &res, err)) and hands res
 * over, and NAME_free, which frees such a result with FREE.
 */
#define TUI_CALL_FN(name, type, expr, free_fn) \
	static int name##_fn(tui_call_args *a, void **out, sm_error *err) \
	{ \
		type *res = NULL; \
		int rc = (expr); \
		\
		(void)a; \
		*out = res; \
		return rc; \
	} \
	static void name##_free(void *p) \
	{ \
		free_fn(p); \
	}

/* Starts fn with copies of in's strings on a new thread (terminal signals
 * blocked there: they are for the UI thread). */
tui_call *tui_call_start(tui_app *app, tui_call_fn fn, tui_call_free_fn free_out,
			 const tui_call_args *in);

/* Drops *cp if it runs (its result would be out of date) and starts
 * another in its place. */
void tui_call_restart(tui_app *app, tui_call **cp, tui_call_fn fn, tui_call_free_fn free_out,
		      const tui_call_args *in);

/* When *cp has finished: frees the call (*cp = NULL), stores fn's status in
 * *rc, its result in *out (the caller owns it; may be NULL) and its error in
 * err (may be NULL), and returns true.  False while it runs or when *cp is
 * NULL. */
bool tui_call_collect(tui_app *app, tui_call **cp, int *rc, void **out, sm_error *err);

/* tui_call_collect for a view that shows an error as text: when *cp has
 * finished, 1 with its result in *out (the caller owns it) and errbuf
 * emptied, or 0 with the error message in errbuf (prefixed by what, when
 * not NULL) and the result freed; -1 while it runs or when *cp is NULL. */
int tui_call_take(tui_app *app, tui_call **cp, void **out, char *errbuf, size_t size,
		  const char *what);

/* The view no longer waits for *cp (*cp = NULL): a call that only reads
 * is cancelled; the app frees it and its result once it has ended.
 * Nothing when *cp is NULL. */
void tui_call_drop(tui_app *app, tui_call **cp);

/* The call's args->report as last written. */
long long tui_call_report(const tui_call *c);

/* App side: frees the dropped calls that have ended.  Returns how many
 * dropped calls are still running. */
int tui_calls_reap(tui_app *app);
/* Quitting (the views are gone): drops and cancels every call, writes too
 * (a cancelled copy or rollback is rolled back whole); tui_calls_reap
 * frees them as they end. */
void tui_calls_stop_all(tui_app *app);
/* Whether a dropped call that writes still runs. */
bool tui_calls_write(const tui_app *app);
/* Whether a call still running or not yet collected borrows eng or cfg
 * (NULL: not asked). */
bool tui_calls_use(const tui_app *app, const sm_engine *eng, const sm_config *cfg);

#endif
