/*
 * The commands that need no database: `check` (load and analyse the
 * configuration) and `fold TYPE` (fold events given as JSON lines with the
 * rebuild's own fold, engine/snapmig.h's offline fold).  Neither connects,
 * so both work where the store is out of reach: on a laptop, in an
 * application's CI.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "util/alloc.h"
#include "util/json.h"

/* -------------------------------------------------------------- check */

int cli_cmd_check(cli_ctx *ctx, int argc, char **argv)
{
	char **warnings = NULL;
	size_t n, rules = 0;
	int rc;

	(void)argc;
	(void)argv;
	if ((rc = cli_load_config(ctx)) != CLI_EXIT_OK)
		return rc;
	n = sm_config_check(ctx->cfg, &warnings);
	for (size_t i = 0; i < ctx->cfg->n_aggs; i++)
		rules += ctx->cfg->aggs[i].rules != NULL;
	if (ctx->g.json) {
		json_object *doc = cli_json_doc(ctx);
		json_object *envs = json_object_new_array(), *aggs = json_object_new_array();
		json_object *w = json_object_new_array();

		out_json_add(doc, "config", out_json_string(ctx->cfg->path));
		out_json_add(doc, "valid", json_object_new_boolean(1));
		for (size_t i = 0; i < ctx->cfg->n_envs; i++)
			json_object_array_add(envs, out_json_string(ctx->cfg->envs[i].name));
		out_json_add(doc, "environments", envs);
		for (size_t i = 0; i < ctx->cfg->n_aggs; i++) {
			const sm_aggregate *a = &ctx->cfg->aggs[i];
			json_object *o = json_object_new_object();

			out_json_add(o, "type", out_json_string(a->type));
			out_json_add(o, "label", out_json_string(a->label));
			out_json_add(o, "snapshot_version", json_object_new_int64(a->snapshot_version));
			out_json_add(o, "reducer", json_object_new_string(a->rules ? "rules" : "exec"));
			json_object_array_add(aggs, o);
		}
		out_json_add(doc, "aggregates", aggs);
		for (size_t i = 0; i < ctx->cfg->n_warnings; i++)
			json_object_array_add(w, out_json_string(ctx->cfg->warnings[i]));
		for (size_t i = 0; i < n; i++)
			json_object_array_add(w, out_json_string(warnings[i]));
		out_json_add(doc, "warnings", w);
		cli_json_emit(ctx, doc);
	} else {
		char *path = out_sanitize(ctx->cfg->path);

		for (size_t i = 0; i < n; i++) {
			char *clean = out_sanitize(warnings[i]);

			fprintf(stderr, "snapmig: warning: %s\n", clean);
			free(clean);
		}
		printf("%s: valid: %zu environment%s, %zu aggregate type%s (%zu with rules, %zu external)",
		       path, ctx->cfg->n_envs, ctx->cfg->n_envs == 1 ? "" : "s", ctx->cfg->n_aggs,
		       ctx->cfg->n_aggs == 1 ? "" : "s", rules, ctx->cfg->n_aggs - rules);
		if (n + ctx->cfg->n_warnings)
			printf(", %zu warning%s", n + ctx->cfg->n_warnings,
			       n + ctx->cfg->n_warnings == 1 ? "" : "s");
		putchar('\n');
		free(path);
	}
	sm_config_check_free(warnings, n);
	return CLI_EXIT_OK;
}

/* --------------------------------------------------------------- fold */

/* The whole of a file (path "-": stdin) into *text; false with errno. */
static bool read_all(const char *path, char **text, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 0, n = 0;
	char *buf = NULL;

	if (!f)
		return false;
	for (;;) {
		size_t got;

		buf = sm_xgrow(buf, &cap, n + 65536, 1);
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	buf[n] = '\0';
	if (ferror(f)) {
		int e = errno;

		if (f != stdin)
			fclose(f);
		free(buf);
		errno = e;
		return false;
	}
	if (f != stdin)
		fclose(f);
	*text = buf;
	*len = n;
	return true;
}

static void result_json(cli_ctx *ctx, const char *type, const sm_offline_result *r)
{
	json_object *doc = cli_json_doc(ctx);

	out_json_add(doc, "type", out_json_string(type));
	out_json_add(doc, "events", json_object_new_int64(r->events));
	out_json_add(doc, "version", json_object_new_int64(r->version));
	if (r->failed) {
		json_object *f = json_object_new_object();

		out_json_add(f, "kind", json_object_new_string(sm_failure_kind_name(r->kind)));
		out_json_add(f, "stream_version", r->fail_version ? json_object_new_int64(r->fail_version) : NULL);
		out_json_add(f, "line", r->fail_line ? json_object_new_int64(r->fail_line) : NULL);
		out_json_add(f, "event_type", out_json_string(r->event_type));
		out_json_add(f, "message", out_json_string(r->message));
		out_json_add(doc, "failure", f);
	} else {
		json_object *state = NULL;
		sm_error err;

		/* Our own reader keeps every number's text as the fold wrote it. */
		if (sm_json_parse(r->state, strlen(r->state), &state, &err) != SM_OK)
			state = out_json_string(r->state);
		out_json_add(doc, "state", state);
	}
	cli_json_emit(ctx, doc);
}

static void failure_text(const sm_offline_result *r)
{
	char *ev = out_sanitize(r->event_type ? r->event_type : "");
	char *msg = out_sanitize(r->message);

	if (r->fail_line)
		fprintf(stderr, "snapmig: failed at event %lld (line %lld) %s: %s: %s\n",
			r->fail_version, r->fail_line, ev, sm_failure_kind_name(r->kind), msg);
	else
		fprintf(stderr, "snapmig: failed: %s: %s\n", sm_failure_kind_name(r->kind), msg);
	free(ev);
	free(msg);
}

/* Feeds the lines of in to the fold, one at a time; CLI_EXIT_OK or an
 * exit code. */
static int feed(sm_offline_fold *f, FILE *in, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	sm_error err;
	int rc = CLI_EXIT_OK;

	while (rc == CLI_EXIT_OK && (n = getline(&line, &cap, in)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			n--;
		sm_error_clear(&err);
		if (sm_offline_fold_line(f, line, (size_t)n, &err) != SM_OK) {
			/* Input that is not event lines is a bad argument. */
			if (err.code == SM_ERR_DATA)
				err.code = SM_ERR_USAGE;
			rc = cli_report(&err);
		}
	}
	if (rc == CLI_EXIT_OK && ferror(in)) {
		cli_errorf("%s: %s", name, strerror(errno));
		rc = CLI_EXIT_USAGE;
	}
	free(line);
	return rc;
}

int cli_cmd_fold(cli_ctx *ctx, int argc, char **argv)
{
	const char *input = argc > 1 ? argv[1] : "-";
	const char *state_path = cli_opt_arg(ctx, CLI_OPT_STATE);
	sm_offline_options o;
	sm_offline_result r;
	sm_offline_fold *f = NULL;
	sm_error err;
	FILE *in;
	char *state = NULL;
	size_t state_len = 0;
	long long v;
	int rc;

	if (argc < 1)
		return cli_usage_errorf("fold: which aggregate type (label or type)?");
	if ((rc = cli_load_config(ctx)) != CLI_EXIT_OK)
		return rc;
	memset(&o, 0, sizeof o);
	if (ctx->g.env_name) {
		const sm_environment *env = sm_config_find_env(ctx->cfg, ctx->g.env_name);

		if (!env)
			return cli_usage_errorf("no environment \"%s\" in %s", ctx->g.env_name,
						ctx->cfg->path);
		o.settings = &env->settings;
	}
	if (cli_opt_given(ctx, CLI_OPT_STATE_VERSION)) {
		if (!state_path)
			return cli_usage_errorf("--state-version needs --state");
		if (!cli_parse_ll(cli_opt_arg(ctx, CLI_OPT_STATE_VERSION), 0, (long long)1e18, &v))
			return cli_usage_errorf("--state-version: expected a number, got '%s'",
						cli_opt_arg(ctx, CLI_OPT_STATE_VERSION));
		o.start_version = v;
	}
	o.stream_uuid = cli_opt_arg(ctx, CLI_OPT_STREAM);
	o.reducer_log = ctx->g.quiet ? NULL : "/dev/stderr";
	if (state_path && strcmp(state_path, "-") == 0 && strcmp(input, "-") == 0)
		return cli_usage_errorf("--state - and the events cannot both be standard input");
	if (state_path && !read_all(state_path, &state, &state_len)) {
		cli_errorf("%s: %s", state_path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	o.start_state = state;
	o.start_len = state_len;
	in = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
	if (!in) {
		cli_errorf("%s: %s", input, strerror(errno));
		free(state);
		return CLI_EXIT_USAGE;
	}
	sm_error_clear(&err);
	rc = sm_offline_fold_open(ctx->cfg, argv[0], &o, &f, &err);
	free(state);
	if (rc != SM_OK) {
		if (in != stdin)
			fclose(in);
		return cli_report(&err);
	}
	rc = feed(f, in, input);
	if (in != stdin)
		fclose(in);
	if (rc == CLI_EXIT_OK && sm_offline_fold_finish(f, &r, &err) != SM_OK)
		rc = cli_report(&err);
	sm_offline_fold_close(f);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (ctx->g.json)
		result_json(ctx, argv[0], &r);
	else if (r.failed)
		failure_text(&r);
	else
		printf("%s\n", r.state);
	rc = r.failed ? CLI_EXIT_FINDINGS : CLI_EXIT_OK;
	sm_offline_result_clear(&r);
	return rc;
}
