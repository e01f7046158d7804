/*
 * snapmig: entry point.  Parses the command line against the tables of
 * cli/commands.h, then either opens the UI (no command, a terminal on stdin
 * and stdout) or runs one command of the scriptable front end.  Also the
 * helpers every command shares: messages, exit codes, the configuration
 * and the environment.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "tui/tui.h"
#include "util/alloc.h"

/* ----------------------------------------------------------- messages */

/* The first error of the run: the JSON error document says it (--json). */
static struct {
	char message[1024];
	char sqlstate[6];
} first_error;

static void remember(const char *message, const char *sqlstate)
{
	if (first_error.message[0])
		return;
	snprintf(first_error.message, sizeof first_error.message, "%s", message);
	snprintf(first_error.sqlstate, sizeof first_error.sqlstate, "%s", sqlstate ? sqlstate : "");
}

static void vmessage(bool error, const char *fmt, va_list ap)
{
	if (error && !first_error.message[0]) {
		char buf[sizeof first_error.message];
		va_list copy;

		va_copy(copy, ap);
		vsnprintf(buf, sizeof buf, fmt, copy);
		va_end(copy);
		remember(buf, NULL);
	}
	fflush(stdout);
	fputs("snapmig: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(true, fmt, ap);
	va_end(ap);
}

int cli_usage_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(true, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'snapmig --help' for more information.\n");
	return CLI_EXIT_USAGE;
}

/* A line on stderr that is not an error (warnings, -v). */
static void infof(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void infof(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(false, fmt, ap);
	va_end(ap);
}

void cli_notef(const cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->g.quiet)
		return;
	va_start(ap, fmt);
	vmessage(false, fmt, ap);
	va_end(ap);
}

json_object *cli_json_doc(const cli_ctx *ctx)
{
	json_object *doc = json_object_new_object();

	out_json_add(doc, "environment", out_json_string(ctx->env ? ctx->env->name
									: ctx->g.env_name));
	return doc;
}

void cli_json_emit(cli_ctx *ctx, json_object *doc)
{
	out_json_print(stdout, doc, true);
	json_object_put(doc);
	ctx->json_printed = true;
}

/* With --json, a run that failed before its command printed a document
 * (no configuration, no connection, a usage error) prints this one. */
static void json_error_document(cli_ctx *ctx, int rc)
{
	static const char *const what[] = {
		[CLI_EXIT_FINDINGS] = "completed with findings",
		[CLI_EXIT_USAGE] = "usage or configuration error",
		[CLI_EXIT_DB] = "database error",
		[CLI_EXIT_BUSY] = "the target schema is in use",
	};
	const char *msg = first_error.message;
	json_object *doc = cli_json_doc(ctx);

	if (!*msg)
		msg = rc > 0 && rc <= CLI_EXIT_BUSY ? what[rc] : "interrupted";
	out_json_add(doc, "error", out_json_string(msg));
	out_json_add(doc, "sqlstate", first_error.sqlstate[0]
		     ? json_object_new_string(first_error.sqlstate) : NULL);
	out_json_add(doc, "exit_status", json_object_new_int(rc));
	cli_json_emit(ctx, doc);
}

int cli_exit_code(int status)
{
	switch (status) {
	case SM_OK:
		return CLI_EXIT_OK;
	case SM_ERR_USAGE:
	case SM_ERR_CONFIG:
		return CLI_EXIT_USAGE;
	case SM_ERR_CANCELLED:
		return CLI_EXIT_INTERRUPTED;
	case SM_ERR_GUARD:
		/* A guard refused: the plan has findings, nothing was written. */
		return CLI_EXIT_FINDINGS;
	case SM_ERR_BUSY:
		return CLI_EXIT_BUSY;
	default:
		return CLI_EXIT_DB;
	}
}

int cli_report(const sm_error *err)
{
	char buf[sizeof err->message + sizeof err->file + 32];

	char *clean;

	/* Messages may quote database text (type names, stream ids). */
	clean = out_sanitize(sm_error_format(err, buf, sizeof buf));
	remember(clean, err->sqlstate);
	if (err->sqlstate[0])
		cli_errorf("%s (SQLSTATE %s)", clean, err->sqlstate);
	else
		cli_errorf("%s", clean);
	free(clean);
	return cli_exit_code(err->code ? err->code : SM_ERR_INTERNAL);
}

/* ------------------------------------------------------------ options */

bool cli_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* ------------------------------------------------ config, environment */

int cli_load_config(cli_ctx *ctx)
{
	sm_error err;
	char *path = NULL;
	int rc;

	if (ctx->cfg)
		return CLI_EXIT_OK;
	sm_error_clear(&err);
	rc = sm_config_locate(ctx->g.config_path, &path, &err);
	if (rc == SM_OK)
		rc = sm_config_load(path, &ctx->cfg, &err);
	free(path);
	if (rc != SM_OK) {
		/* Whatever the engine says, a config that cannot be used is a
		 * configuration error for the user. */
		if (err.code != SM_ERR_NOMEM)
			err.code = SM_ERR_CONFIG;
		return cli_report(&err);
	}
	if (!ctx->g.quiet)
		for (size_t i = 0; i < ctx->cfg->n_warnings; i++)
			infof("warning: %s", ctx->cfg->warnings[i]);
	return CLI_EXIT_OK;
}

static void list_environments(const sm_config *cfg)
{
	fprintf(stderr, "environments in %s:", cfg->path);
	for (size_t i = 0; i < cfg->n_envs; i++)
		fprintf(stderr, " %s", cfg->envs[i].name);
	fputc('\n', stderr);
}

int cli_open(cli_ctx *ctx)
{
	const char *name = ctx->g.env_name;
	sm_error err;
	int rc;

	if ((rc = cli_load_config(ctx)) != CLI_EXIT_OK)
		return rc;
	if (ctx->eng)
		return CLI_EXIT_OK;
	if (!name) {
		if (ctx->cfg->n_envs != 1) {
			cli_errorf("%s: choose an environment with -e NAME",
				   ctx->cfg->n_envs ? "several environments are configured"
						    : "no environment is configured");
			if (ctx->cfg->n_envs)
				list_environments(ctx->cfg);
			return CLI_EXIT_USAGE;
		}
		name = ctx->cfg->envs[0].name;
	}
	ctx->env = sm_config_find_env(ctx->cfg, name);
	if (!ctx->env) {
		cli_errorf("no environment named \"%s\"", name);
		list_environments(ctx->cfg);
		return CLI_EXIT_USAGE;
	}
	sm_error_clear(&err);
	if (sm_engine_open(ctx->cfg, name, NULL, &ctx->eng, &err) != SM_OK)
		return cli_report(&err);
	if (ctx->g.verbose) {
		char *where = sm_engine_describe(ctx->eng);

		infof("config %s, environment %s (%s)", ctx->cfg->path, name, where);
		free(where);
	}
	return CLI_EXIT_OK;
}

/* s as one word for a POSIX shell (caller frees). */
static char *shell_word(const char *s)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_./:=@%+,-";
	size_t n = 2;
	char *out, *o;

	if (*s && strspn(s, plain) == strlen(s))
		return sm_xstrdup(s);
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	o = out = sm_xmalloc(n + 1);
	*o++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

char *cli_command_line(const cli_ctx *ctx, const char *rest)
{
	char *conf = ctx->g.config_path ? shell_word(ctx->g.config_path) : NULL;
	char *env = shell_word(ctx->env->name);
	char *line = sm_xasprintf("snapmig%s%s -e %s %s", conf ? " -c " : "", conf ? conf : "",
				  env, rest);

	free(conf);
	free(env);
	return line;
}

bool cli_type_selected(const cli_ctx *ctx, const char *type, const char *label)
{
	if (ctx->g.n_types == 0)
		return true;
	for (size_t i = 0; i < ctx->g.n_types; i++) {
		const char *want = ctx->g.types[i];

		if ((type && strcmp(want, type) == 0) || (label && strcmp(want, label) == 0))
			return true;
	}
	return false;
}

const char *cli_type_label(const cli_ctx *ctx, const char *type)
{
	const sm_aggregate *a = ctx->cfg && type ? sm_config_find_aggregate(ctx->cfg, type) : NULL;

	return a ? a->label : type;
}

/* --------------------------------------------------------------- main */

static int run_ui(cli_ctx *ctx)
{
	sm_error err;
	int rc;

	if ((rc = cli_load_config(ctx)) != CLI_EXIT_OK)
		return rc;
	sm_error_clear(&err);
	rc = sm_tui_run(ctx->cfg, ctx->g.env_name, &err);
	if (err.code != SM_OK)
		cli_report(&err);
	return rc;
}

/* A core file would hold the password of the environment (from conninfo
 * or password_env) and every libpq buffer.  SNAPMIG_CORE_DUMPS=1 keeps the
 * limit the user set, for a bug report. */
static void no_core_files(void)
{
	const char *keep = getenv("SNAPMIG_CORE_DUMPS");
	struct rlimit rl;

	if (keep && strcmp(keep, "1") == 0)
		return;
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = 0;
		(void)setrlimit(RLIMIT_CORE, &rl);
	}
}

int main(int argc, char **argv)
{
	cli_ctx ctx;
	char **operands;
	int cmd, n_operands, rc;

	/* Only the character type: display widths need it, while numbers in
	 * JSON must keep the C locale's decimal point. */
	setlocale(LC_CTYPE, "");
	no_core_files();
	memset(&ctx, 0, sizeof ctx);

	rc = cli_parse(&ctx, argc, argv, &cmd, &n_operands, &operands);
	if (rc < 0 && cmd >= 0) {
		rc = cli_command_info(cmd)->run(&ctx, n_operands, operands);
	} else if (rc < 0) {
		if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
			rc = run_ui(&ctx);
		} else {
			cli_usage(stderr, -1);
			rc = CLI_EXIT_USAGE;
		}
	}
	/* One JSON document, also when the run failed before its own. */
	if (rc != CLI_EXIT_OK && cmd >= 0 && cli_opt_given(&ctx, CLI_OPT_JSON) &&
	    !ctx.json_printed)
		json_error_document(&ctx, rc);
	sm_engine_close(ctx.eng);
	if (ctx.cfg)
		sm_config_free(ctx.cfg);
	cli_ctx_free(&ctx);
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
		cli_errorf("writing the output failed: %s", strerror(errno));
		rc = CLI_EXIT_DB;
	}
	return rc;
}
