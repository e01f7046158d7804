/*
 * `rebuild`: starts the engine's run, polls its progress about five times
 * a second, shows it on stderr and prints a summary.  SIGINT/SIGTERM only
 * set a flag; the loop turns it into sm_run_cancel, so committed batches
 * stay and the program exits 130 (cli/progress.h, progress_run).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "util/alloc.h"

static void summary_json(cli_ctx *ctx, const sm_progress *p, int status)
{
	static const out_field plan_fields[] = {
		OUT_FIELD(sm_progress, plan_run_id), OUT_FIELD(sm_progress, chunks_total),
		OUT_FIELD(sm_progress, chunks_done),
	};
#define F(m) OUT_FIELD(sm_process_progress, m)
	static const out_field process_counts[] = { F(chunks), F(instances), F(events), F(failed) };
#undef F
	json_object *doc = cli_json_doc(ctx);
	json_object *types = json_object_new_array();

	out_json_add(doc, "run_id", p->run_id ? json_object_new_int64(p->run_id) : NULL);
	out_json_add(doc, "state", json_object_new_string(sm_run_state_name(p->state)));
	out_json_add(doc, "jobs", json_object_new_int(p->jobs));
	out_json_add(doc, "elapsed_seconds",
		     json_object_new_int64(llround(p->elapsed_seconds)));
	out_json_add(doc, "total", progress_type_json(&p->total, false));
	for (size_t i = 0; i < p->n_types; i++)
		json_object_array_add(types, progress_type_json(&p->types[i], true));
	out_json_add(doc, "types", types);
	if (p->plan_run_id) {
		json_object *procs = json_object_new_array();

		OUT_JSON_FIELDS(doc, p, plan_fields);
		for (size_t i = 0; i < p->n_processes; i++) {
			const sm_process_progress *x = &p->processes[i];
			json_object *o = json_object_new_object();

			out_json_add(o, "run_id", json_object_new_int64(x->run_id));
			out_json_add(o, "host", json_object_new_string(x->host));
			out_json_add(o, "pid", json_object_new_int64(x->pid));
			out_json_add(o, "jobs", json_object_new_int(x->jobs));
			out_json_add(o, "outcome", json_object_new_string(x->outcome));
			out_json_add(o, "self", json_object_new_boolean(x->self));
			OUT_JSON_FIELDS(o, x, process_counts);
			out_json_add(o, "events_per_sec", json_object_new_int64(llround(x->events_per_sec)));
			json_object_array_add(procs, o);
		}
		out_json_add(doc, "processes", procs);
	}
	if (status != SM_OK && status != SM_ERR_CANCELLED) {
		char buf[1400];

		out_json_add(doc, "error", out_json_string(sm_error_format(&p->error, buf, sizeof buf)));
	}
	cli_json_emit(ctx, doc);
}

static char *kinds_text(const sm_type_progress *t)
{
	char *s = sm_xstrdup("");

	for (int k = 0; k < SM_FAIL__COUNT; k++)
		if (t->failures[k])
			out_appendf(&s, ", ", "%s %lld", sm_failure_kind_name((enum sm_failure_kind)k),
				    t->failures[k]);
	return s;
}

/* The processes that shared the plan, when there were several. */
static void processes_table(const sm_progress *p)
{
	static const char *const headers[] = {
		"RUN", "HOST", "PID", "CHUNKS", "INSTANCES", "EVENTS", "EVENTS/S", "FAILED", "STATE",
	};
	out_table *t;

	if (p->n_processes < 2)
		return;
	t = out_table_new(9, headers, "rlrrrrrrl");
	for (size_t i = 0; i < p->n_processes; i++) {
		const sm_process_progress *x = &p->processes[i];
		char buf[64];

		snprintf(buf, sizeof buf, "%lld%s", x->run_id, x->self ? "*" : "");
		out_table_cell(t, buf);
		out_table_cell(t, x->host);
		snprintf(buf, sizeof buf, "%ld", x->pid);
		out_table_cell(t, buf);
		out_table_cell(t, sm_fmt_count(buf, sizeof buf, x->chunks));
		out_table_cell(t, sm_fmt_count(buf, sizeof buf, x->instances));
		out_table_cell(t, sm_fmt_count(buf, sizeof buf, x->events));
		out_table_cell(t, sm_fmt_count(buf, sizeof buf, llround(x->events_per_sec)));
		out_table_cell(t, sm_fmt_count(buf, sizeof buf, x->failed));
		out_table_cell(t, x->outcome);
	}
	printf("\nplan of run %lld: %lld of %lld chunks done by %zu processes\n", p->plan_run_id,
	       p->chunks_done, p->chunks_total, p->n_processes);
	out_table_print(t, stdout);
	out_table_free(t);
}

static void summary_table(const sm_progress *p)
{
	static const char *const headers[] = {
		"TYPE", "INSTANCES", "DONE", "EVENTS", "FAILED", "FAILURES",
	};
#define F(m) OUT_FIELD(sm_type_progress, m)
	static const out_field columns[] = {
		F(instances_planned), F(instances_done), F(events_done), F(failed),
	};
#undef F
	out_table *t = out_table_new(6, headers, "lrrrrl");
	char el[32], ev[32], inst[32], fl[32];

	for (size_t i = 0; i <= p->n_types; i++) {
		const sm_type_progress *tp = i < p->n_types ? &p->types[i] : &p->total;
		char *kinds = kinds_text(tp);

		if (i == p->n_types)
			out_table_cell(t, "all");
		else
			out_table_cell(t, tp->label ? tp->label : tp->type);
		OUT_TABLE_FIELDS(t, tp, columns);
		out_table_cell(t, kinds);
		free(kinds);
	}
	out_table_print(t, stdout);
	out_table_free(t);
	processes_table(p);
	printf("\nrun %lld %s in %s: %s instances, %s events folded, %s failed",
	       p->run_id, sm_run_state_name(p->state),
	       sm_fmt_duration(el, sizeof el, p->elapsed_seconds),
	       sm_fmt_count(inst, sizeof inst, p->total.instances_done),
	       sm_fmt_count(ev, sizeof ev, p->total.events_done),
	       sm_fmt_count(fl, sizeof fl, p->total.failed));
	if (p->total.failed)
		printf(" (see: snapmig failures)");
	putchar('\n');
	if (p->state == SM_RUN_CANCELLED)
		printf("cancelled: the completed instances are kept; "
		       "running rebuild again resumes from them.\n");
}

int cli_progress_mode(const cli_ctx *ctx)
{
	if (ctx->g.json)
		return PROGRESS_JSON;
	if (ctx->g.quiet)
		return PROGRESS_NONE;
	return isatty(STDERR_FILENO) ? PROGRESS_BARS : PROGRESS_LINES;
}

static int start_rebuild(void *arg, sm_run **run, sm_error *err)
{
	cli_ctx *ctx = arg;
	sm_rebuild_options opts;

	memset(&opts, 0, sizeof opts);
	opts.types = ctx->g.types;
	opts.n_types = ctx->g.n_types;
	opts.uuids = cli_opt_args(ctx, CLI_OPT_UUID, &opts.n_uuids);
	opts.only_failed = cli_opt_given(ctx, CLI_OPT_ONLY_FAILED);
	opts.join = cli_opt_given(ctx, CLI_OPT_JOIN);
	opts.jobs = ctx->g.jobs;
	return sm_rebuild_start(ctx->eng, &opts, run, err);
}

int cli_cmd_rebuild(cli_ctx *ctx, int argc, char **argv)
{
	progress_view view;
	sm_progress p;
	sm_run *run = NULL;
	sm_error err;
	bool interrupted;
	int rc, status;

	(void)argc;
	(void)argv;
	if ((rc = cli_open(ctx)) != CLI_EXIT_OK)
		return rc;

	progress_init(&view, cli_progress_mode(ctx), stderr);
	sm_error_clear(&err);
	status = progress_run(&view, start_rebuild, ctx, &run, &interrupted, &err);
	if (!run)
		return cli_report(&err);

	memset(&p, 0, sizeof p);
	sm_run_progress(run, &p);
	progress_finish(&view, &p);
	if (ctx->g.json)
		summary_json(ctx, &p, status);
	else if (p.state != SM_RUN_FAILED || p.total.instances_planned > 0)
		summary_table(&p);

	if (status == SM_OK)
		rc = p.total.failed ? CLI_EXIT_FINDINGS : CLI_EXIT_OK;
	else if (status == SM_ERR_CANCELLED || interrupted)
		rc = CLI_EXIT_INTERRUPTED;
	else
		rc = cli_report(err.code ? &err : &p.error);
	sm_progress_clear(&p);
	sm_run_free(run);
	return rc;
}
