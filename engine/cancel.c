/* Cancel tokens; see snapmig.h (sm_cancel) and cancel.h. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <libpq-events.h>

#include "engine/cancel.h"
#include "util/alloc.h"

typedef struct watched {
	PGconn *conn;
	PGcancel *cancel;             /* PQfreeCancel */
} watched;

struct sm_cancel {
	atomic_bool requested;
	bool interrupt_only;
	pthread_mutex_t lock;         /* guards the list */
	watched *list;
	size_t n, cap;
};

static sm_cancel *token_new(bool interrupt_only)
{
	sm_cancel *c = sm_xcalloc(1, sizeof *c);

	atomic_init(&c->requested, false);
	c->interrupt_only = interrupt_only;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

sm_cancel *sm_cancel_new(void)
{
	return token_new(false);
}

sm_cancel *sm_cancel_new_interrupt_only(void)
{
	return token_new(true);
}

void sm_cancel_free(sm_cancel *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		PQfreeCancel(c->list[i].cancel);
	free(c->list);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void sm_cancel_request(sm_cancel *c)
{
	char buf[256];

	if (!c)
		return;
	atomic_store(&c->requested, true);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (c->list[i].cancel)
			(void)PQcancel(c->list[i].cancel, buf, sizeof buf);
	pthread_mutex_unlock(&c->lock);
}

bool sm_cancel_requested(const sm_cancel *c)
{
	return c && atomic_load(&((sm_cancel *)c)->requested);
}

void sm_cancel_reset(sm_cancel *c)
{
	if (c)
		atomic_store(&c->requested, false);
}

/* libpq calls this for each event of a watched connection; it only
 * anchors the token (instance data), nothing to do. */
static int on_event(PGEventId id, void *info, void *pass)
{
	(void)id;
	(void)info;
	(void)pass;
	return 1;
}

void sm_cancel_watch(sm_cancel *c, PGconn *conn)
{
	if (!c || !conn)
		return;
	if (!PQregisterEventProc(conn, on_event, "snapmig cancel", NULL) ||
	    !PQsetInstanceData(conn, on_event, c))
		return;
	pthread_mutex_lock(&c->lock);
	c->list = sm_xgrow(c->list, &c->cap, c->n + 1, sizeof *c->list);
	c->list[c->n].conn = conn;
	c->list[c->n].cancel = PQgetCancel(conn);
	c->n++;
	pthread_mutex_unlock(&c->lock);
}

sm_cancel *sm_cancel_of(const PGconn *conn)
{
	return conn ? PQinstanceData(conn, on_event) : NULL;
}

bool sm_cancel_refuses(const PGconn *conn)
{
	const sm_cancel *c = sm_cancel_of(conn);

	return c && !c->interrupt_only && sm_cancel_requested(c);
}

void sm_cancel_unwatch(PGconn *conn)
{
	sm_cancel *c = sm_cancel_of(conn);

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		if (c->list[i].conn != conn)
			continue;
		PQfreeCancel(c->list[i].cancel);
		c->list[i] = c->list[--c->n];
		break;
	}
	pthread_mutex_unlock(&c->lock);
	PQsetInstanceData(conn, on_event, NULL);
}
