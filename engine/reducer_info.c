/*
 * What the reducers of some aggregate types are and say of themselves,
 * for the pre-flight, status and the UI: external reducers are started
 * for their handshake (and asked about event types), all at once, one
 * thread each, since a reducer may take seconds to start (a build tool, a
 * VM).  Nothing here touches the database.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/reducer_exec.h"
#include "util/alloc.h"
#include "util/thread.h"

typedef struct check_job {
	const sm_config *cfg;
	enum sm_column_type data, metadata;
	sm_reducer_check *check;
} check_job;

static void *check_main(void *arg)
{
	check_job *j = arg;
	sm_reducer_check *c = j->check;

	sm_error_clear(&c->err);
	c->rc = sm_exec_check_types(j->cfg, c->agg, j->data, j->metadata, c->types, c->n_types,
				    &c->hello, &c->reply, &c->err);
	return NULL;
}

void sm_reducer_checks_run(const sm_config *cfg, enum sm_column_type data,
			   enum sm_column_type metadata, sm_reducer_check *checks, size_t n)
{
	check_job *jobs = sm_xcalloc(n + 1, sizeof *jobs);
	pthread_t *threads = sm_xcalloc(n + 1, sizeof *threads);
	bool *started = sm_xcalloc(n + 1, sizeof *started);

	for (size_t i = 0; i < n; i++) {
		jobs[i].cfg = cfg;
		jobs[i].data = data;
		jobs[i].metadata = metadata;
		jobs[i].check = &checks[i];
		started[i] = sm_thread_start(&threads[i], check_main, &jobs[i]) == 0;
		if (!started[i])
			check_main(&jobs[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
	free(jobs);
	free(threads);
	free(started);
}

void sm_reducer_check_clear(sm_reducer_check *c)
{
	sm_exec_hello_clear(&c->hello);
	sm_exec_types_reply_clear(&c->reply);
}

void sm_reducer_desc_fill(sm_reducer_desc *d, const sm_aggregate *agg, const sm_reducer_check *c)
{
	memset(d, 0, sizeof *d);
	d->type = sm_xstrdup(agg->type);
	d->config_version = agg->snapshot_version;
	d->external = agg->exec != NULL;
	if (!c)
		return;
	d->answered = c->rc == SM_OK;
	if (!d->answered) {
		d->error = sm_xstrdup(c->err.message);
		return;
	}
	d->name = sm_xstrdup(c->hello.reducer);
	d->raw = c->hello.raw;
	d->has_app_version = c->hello.has_version;
	d->app_version = c->hello.snapshot_version;
	d->version_mismatch = d->has_app_version && d->app_version != d->config_version;
}

void sm_reducer_desc_clear(sm_reducer_desc *d)
{
	free(d->type);
	free(d->error);
	free(d->name);
	memset(d, 0, sizeof *d);
}

int sm_reducers_describe(sm_engine *eng, const char *const *types, size_t n_types,
			 sm_preflight **out, sm_error *err)
{
	const sm_aggregate **aggs = NULL;
	sm_reducer_check *checks;
	size_t n_aggs = 0, n_checks = 0;
	sm_preflight *pf;
	int rc;

	*out = NULL;
	rc = sm_engine_select_types(eng, types, n_types, &aggs, &n_aggs, err);
	if (rc)
		return rc;
	checks = sm_xcalloc(n_aggs + 1, sizeof *checks);
	for (size_t i = 0; i < n_aggs; i++)
		if (aggs[i]->exec)
			checks[n_checks++].agg = aggs[i];
	sm_reducer_checks_run(eng->cfg, SM_COL_MISSING, SM_COL_MISSING, checks, n_checks);
	pf = sm_xcalloc(1, sizeof *pf);
	pf->reducers = sm_xcalloc(n_aggs + 1, sizeof *pf->reducers);
	for (size_t i = 0, k = 0; i < n_aggs; i++) {
		sm_reducer_desc *d = &pf->reducers[pf->n_reducers++];

		sm_reducer_desc_fill(d, aggs[i], aggs[i]->exec ? &checks[k++] : NULL);
		pf->n_mismatches += d->version_mismatch;
	}
	for (size_t i = 0; i < n_checks; i++)
		sm_reducer_check_clear(&checks[i]);
	free(checks);
	free(aggs);
	*out = pf;
	return SM_OK;
}
