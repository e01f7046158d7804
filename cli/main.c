/*
 * snapmig: entry point.  Parses the global options, then either opens the
 * UI (no command, a terminal on stdin and stdout) or runs one command of
 * the scriptable front end.  The command list below is the one source of
 * the dispatch and of the usage text.
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

typedef struct cli_command {
	const char *name;
	cli_command_fn run;
	const char *args;
	const char *help;
} cli_command;

static const cli_command commands[] = {
	{ "status", cli_cmd_status, "",
	  "snapshots per type: versions, work to do, target schema" },
	{ "preflight", cli_cmd_preflight, "",
	  "event types without a handler (exit 1 when any)" },
	{ "rebuild", cli_cmd_rebuild, "[--only-failed] [--uuid ID]...",
	  "generate snapshots into the target schema (resumable)" },
	{ "failures", cli_cmd_failures, "[--kind KIND] [--type TYPE]",
	  "instances that could not be rebuilt" },
	{ "copy", cli_cmd_copy,
	  "[--dry-run] [--yes] [--confirm-env NAME] [--remove-stale]\n"
	  "       [--force-GUARD]...",
	  "copy generated snapshots into the live table" },
	{ "rollback", cli_cmd_rollback, "[COPY_ID]",
	  "undo a copy (default: the last one)" },
	{ "runs", cli_cmd_runs, "[--limit N]",
	  "the run journal, newest first" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: snapmig [OPTION]... [COMMAND [ARG]...]\n"
		"Regenerate the snapshots of Commanded aggregates in an EventStore.\n"
		"Without a command, on a terminal, snapmig opens its interactive UI.\n"
		"\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		fprintf(f, "  %s%s%s\n      %s\n", commands[i].name,
			commands[i].args[0] ? " " : "", commands[i].args, commands[i].help);
		if (commands[i].run == cli_cmd_copy) {
			/* The guard names come from the engine: this cannot go stale. */
			fprintf(f, "      GUARD:");
			for (unsigned bit = 1; bit < (1u << 16); bit <<= 1)
				if (strcmp(sm_copy_guard_name(bit), "?") != 0)
					fprintf(f, "%s %s", bit == 1 ? "" : ",", sm_copy_guard_name(bit));
			fputc('\n', f);
		}
	}
	fprintf(f,
		"\nOptions (before or after the command):\n"
		"  -c, --config FILE     configuration file (default: $SNAPMIG_CONFIG,\n"
		"                        ./snapmig.conf, ~/.config/snapmig/snapmig.conf,\n"
		"                        /etc/snapmig.conf)\n"
		"  -e, --env NAME        environment (may be left out when there is one)\n"
		"  -a, --aggregate TYPE  only this aggregate type or label (repeatable)\n"
		"  -j, --jobs N          parallel workers for rebuild (1-64)\n"
		"      --json            machine-readable output (one JSON document on stdout)\n"
		"  -q, --quiet           no warnings, progress or notes on stderr\n"
		"  -v, --verbose         more detail on stderr\n"
		"  -h, --help            this help\n"
		"      --version         the version\n"
		"\nExit status: 0 success, 1 completed with failures or findings,\n"
		"2 usage or configuration error, 3 database error, 130 interrupted.\n"
		"See snapmig(1) and snapmig.conf(5).\n");
}

/* ----------------------------------------------------------- messages */

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "snapmig: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
}

int cli_usage_errorf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'snapmig --help' for more information.\n");
	return CLI_EXIT_USAGE;
}

void cli_notef(const cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->g.quiet)
		return;
	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
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

int cli_global_option(cli_globals *g, int opt, const char *arg, int *exit_code)
{
	long long n;

	switch (opt) {
	case 'c':
		g->config_path = arg;
		return 0;
	case 'e':
		g->env_name = arg;
		return 0;
	case 'a':
		g->types = sm_xrealloc(g->types, (g->n_types + 1) * sizeof *g->types);
		g->types[g->n_types++] = arg;
		return 0;
	case 'j':
		if (!cli_parse_ll(arg, 1, 64, &n)) {
			*exit_code = cli_usage_errorf("-j: expected a number of workers from 1 to 64, got \"%s\"", arg);
			return 1;
		}
		g->jobs = (int)n;
		return 0;
	case 'q':
		g->quiet = true;
		return 0;
	case 'v':
		g->verbose = true;
		return 0;
	case CLI_OPT_JSON:
		g->json = true;
		return 0;
	case 'h':
		usage(stdout);
		*exit_code = CLI_EXIT_OK;
		return 1;
	case CLI_OPT_VERSION:
		printf("snapmig %s\n", PACKAGE_VERSION);
		*exit_code = CLI_EXIT_OK;
		return 1;
	default:
		return -1;
	}
}

/* After getopt_long returned '?': optopt is the short option letter, or 0
 * (or a long option's code) when the word itself is the best to show. */
static int invalid_option(const char *command, const char *word)
{
	if (optopt > 0 && optopt < 128 && isalnum(optopt))
		return cli_usage_errorf("%s%sinvalid option -%c", command ? command : "",
					command ? ": " : "", optopt);
	return cli_usage_errorf("%s%sinvalid option %s", command ? command : "",
				command ? ": " : "", word);
}

int cli_parse_command(cli_ctx *ctx, int argc, char **argv,
		      const char *shortopts, const struct option *longopts,
		      int (*on_opt)(int opt, const char *arg, void *data),
		      void *data, int *first_arg)
{
	static const struct option globals[] = { CLI_GLOBAL_LONGOPTS };
	size_t n_own = 0, n_glob = sizeof globals / sizeof globals[0];
	struct option *all;
	char *shorts;
	int opt, rc = -1;

	while (longopts && longopts[n_own].name)
		n_own++;
	all = sm_xcalloc(n_own + n_glob + 1, sizeof *all);
	memcpy(all, longopts, n_own * sizeof *all);
	memcpy(all + n_own, globals, n_glob * sizeof *all);
	shorts = sm_xasprintf(":%s%s", CLI_GLOBAL_SHORTOPTS, shortopts ? shortopts : "");

	/* optind = 0 makes glibc start afresh on the new argument vector. */
	optind = 0;
	opterr = 0;
	while (rc < 0 && (opt = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
		int g, code = CLI_EXIT_OK;

		if (opt == '?') {
			rc = invalid_option(argv[0], argv[optind - 1]);
			break;
		}
		if (opt == ':') {
			rc = cli_usage_errorf("%s: option %s needs an argument", argv[0],
					      argv[optind - 1]);
			break;
		}
		g = cli_global_option(&ctx->g, opt, optarg, &code);
		if (g == 1)
			rc = code;
		else if (g < 0) {
			/* getopt_long returns only the options it was given. */
			code = on_opt ? on_opt(opt, optarg, data) : CLI_EXIT_USAGE;
			if (code)
				rc = code;
		}
	}
	free(all);
	free(shorts);
	*first_arg = optind;
	return rc;
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
			cli_errorf("warning: %s", ctx->cfg->warnings[i]);
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
	if (sm_engine_open(ctx->cfg, name, &ctx->eng, &err) != SM_OK)
		return cli_report(&err);
	if (ctx->g.verbose) {
		char *where = sm_engine_describe(ctx->eng);

		cli_errorf("config %s, environment %s (%s)", ctx->cfg->path, name, where);
		free(where);
	}
	return CLI_EXIT_OK;
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
	static const struct option longopts[] = { CLI_GLOBAL_LONGOPTS, { NULL, 0, NULL, 0 } };
	cli_ctx ctx;
	int opt, rc = -1;

	/* Only the character type: display widths need it, while numbers in
	 * JSON must keep the C locale's decimal point. */
	setlocale(LC_CTYPE, "");
	no_core_files();
	memset(&ctx, 0, sizeof ctx);

	/* '+': stop at the command; its own parser takes the rest. */
	opterr = 0;
	while (rc < 0 && (opt = getopt_long(argc, argv, "+:" CLI_GLOBAL_SHORTOPTS,
					    longopts, NULL)) != -1) {
		int code = CLI_EXIT_OK;

		if (opt == '?') {
			rc = invalid_option(NULL, argv[optind - 1]);
		} else if (opt == ':') {
			rc = cli_usage_errorf("option %s needs an argument", argv[optind - 1]);
		} else if (cli_global_option(&ctx.g, opt, optarg, &code) == 1) {
			rc = code;
		}
	}
	if (rc < 0) {
		if (optind >= argc) {
			if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
				rc = run_ui(&ctx);
			} else {
				usage(stderr);
				rc = CLI_EXIT_USAGE;
			}
		} else {
			const char *name = argv[optind];

			for (size_t i = 0; i < N_COMMANDS && rc < 0; i++)
				if (strcmp(commands[i].name, name) == 0)
					rc = commands[i].run(&ctx, argc - optind, argv + optind);
			if (rc < 0)
				rc = cli_usage_errorf("unknown command \"%s\"", name);
		}
	}
	sm_engine_close(ctx.eng);
	if (ctx.cfg)
		sm_config_free(ctx.cfg);
	free(ctx.g.types);
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
		cli_errorf("writing the output failed: %s", strerror(errno));
		rc = CLI_EXIT_DB;
	}
	return rc;
}
