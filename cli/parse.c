/*
 * The command line parsed against the tables of commands.h: getopt_long
 * gets option arrays built from the rows that apply, so abbreviations,
 * "--opt=value", grouped short options and "--" behave as in every GNU
 * program; a name it does not know gets "did you mean".
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "util/alloc.h"

_Static_assert(CLI_CMD__COUNT < 30, "CLI_FOR needs a bit per command below CLI_GLOBAL");

static const cli_option options[CLI_OPT__COUNT] = {
#define CLI_X_ROW(id, name, letter, arg, where, help) \
	[CLI_OPT_##id] = { name, letter, arg, where, help },
#define CLI_X_ROW_GUARD(id, name, trips, override) CLI_FORCE_ROW(CLI_X_ROW, FORCE_##id, name, override)
	CLI_OPTIONS(CLI_X_ROW)
#undef CLI_X_ROW_GUARD
#undef CLI_X_ROW
};

static const cli_command commands[CLI_CMD__COUNT] = {
#define CLI_X_ROW(id, name, fn, operands, max, help) \
	[CLI_CMD_##id] = { name, fn, operands, max, help },
	CLI_COMMANDS(CLI_X_ROW)
#undef CLI_X_ROW
};

/* getopt_long's val for a long option: its row, above every letter. */
#define LONG_VAL(id) (0x100 + (id))

const cli_option *cli_option_info(int id)
{
	return id >= 0 && id < CLI_OPT__COUNT ? &options[id] : NULL;
}

const cli_command *cli_command_info(int id)
{
	return id >= 0 && id < CLI_CMD__COUNT ? &commands[id] : NULL;
}

bool cli_option_applies(int id, int cmd)
{
	unsigned where = options[id].where;

	if (where & CLI_GLOBAL)
		return true;
	return cmd >= 0 && (where & (1u << cmd));
}

int cli_command_find(const char *name)
{
	for (int c = 0; c < CLI_CMD__COUNT; c++)
		if (strcmp(commands[c].name, name) == 0)
			return c;
	return -1;
}

bool cli_opt_given(const cli_ctx *ctx, enum cli_option_id id)
{
	return ctx->opt[id].n > 0;
}

const char *cli_opt_arg(const cli_ctx *ctx, enum cli_option_id id)
{
	const cli_opt_values *v = &ctx->opt[id];

	return v->n && v->args ? v->args[v->n - 1] : NULL;
}

const char *const *cli_opt_args(const cli_ctx *ctx, enum cli_option_id id, size_t *n)
{
	*n = ctx->opt[id].args ? ctx->opt[id].n : 0;
	return ctx->opt[id].args;
}

void cli_ctx_free(cli_ctx *ctx)
{
	for (int i = 0; i < CLI_OPT__COUNT; i++)
		free(ctx->opt[i].args);
}

/* ------------------------------------------------------ did you mean */

/* Edit distance with transpositions (optimal string alignment), capped:
 * names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][64];

	if (la >= 63 || lb >= 63)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i + 2) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

/* The candidates closest to word (at most three, each prefixed by prefix,
 * as "a", "a or b", "a, b or c"), or NULL when none is close. */
static char *suggest(const char *word, const char *const *candidates, size_t n,
		     const char *prefix)
{
	size_t len = strlen(word), best = (size_t)-1, found = 0;
	/* A typo or two, fewer for short words; a prefix counts as one. */
	size_t limit = len < 4 ? 1 : len < 7 ? 2 : 3;
	char *out = sm_xstrdup("");

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			size_t d = distance(word, candidates[i]);

			if (len >= 2 && strncmp(candidates[i], word, len) == 0 && d > 1)
				d = 1;
			if (pass == 0) {
				if (d < best)
					best = d;
				continue;
			}
			if (d != best || best > limit || found == 3)
				continue;
			found++;
			out_appendf(&out, ", ", "%s%s", prefix, candidates[i]);
		}
	}
	if (!found) {
		free(out);
		return NULL;
	}
	if (found > 1) {
		/* "a, b, c" → "a, b or c" */
		char *comma = strrchr(out, ','), *next;

		*comma = '\0';
		next = sm_xasprintf("%s or%s", out, comma + 1);
		free(out);
		out = next;
	}
	return out;
}

/* ----------------------------------------------------------- errors */

static int usage_error(int cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(int cmd, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = sm_xvasprintf(fmt, ap);
	va_end(ap);
	cli_errorf("%s%s%s", cmd >= 0 ? commands[cmd].name : "", cmd >= 0 ? ": " : "", msg);
	free(msg);
	if (cmd >= 0)
		fprintf(stderr, "Try 'snapmig %s --help' for more information.\n", commands[cmd].name);
	else
		fprintf(stderr, "Try 'snapmig --help' for more information.\n");
	return CLI_EXIT_USAGE;
}

/* " (an option of copy and rollback)": who takes option id (caller frees). */
static char *owners_hint(int id)
{
	char *s = sm_xstrdup(""), *hint;
	int left = 0, n = 0;

	for (int c = 0; c < CLI_CMD__COUNT; c++)
		left += (options[id].where & (1u << c)) != 0;
	/* "copy", "copy and rollback", "copy, rollback and discard" */
	for (int c = 0; c < CLI_CMD__COUNT; c++)
		if (options[id].where & (1u << c))
			out_appendf(&s, ++n == left ? " and " : ", ", "%s", commands[c].name);
	hint = sm_xasprintf(" (an option of %s)", s);
	free(s);
	return hint;
}

/* After getopt_long returned '?'. letter: optopt (a short option's letter,
 * else 0); word: the argument it was in. */
static int invalid_option(int cmd, int letter, const char *word)
{
	const char *names[CLI_OPT__COUNT];
	size_t n = 0, len;
	char *name, *hint = NULL;
	int rc;

	if (letter > 0 && letter < 128 && isalnum(letter)) {
		for (int i = 0; i < CLI_OPT__COUNT && !hint; i++)
			if (options[i].letter == letter && !cli_option_applies(i, cmd))
				hint = owners_hint(i);
		rc = usage_error(cmd, "invalid option -%c%s", letter, hint ? hint : "");
		free(hint);
		return rc;
	}
	if (strncmp(word, "--", 2) != 0)
		return usage_error(cmd, "invalid option %s", word);
	len = strcspn(word + 2, "=");
	name = sm_xasprintf("%.*s", (int)len, word + 2);
	for (int i = 0; i < CLI_OPT__COUNT; i++) {
		if (!cli_option_applies(i, cmd)) {
			if (!hint && strcmp(options[i].name, name) == 0)
				hint = owners_hint(i);
			continue;
		}
		if (strncmp(options[i].name, name, len) == 0)
			names[n++] = options[i].name;
	}
	if (!hint && n > 1) {
		/* glibc refuses a prefix of several names: say which. */
		char *list = sm_xstrdup("");

		for (size_t i = 0; i < n; i++)
			out_appendf(&list, ", ", "--%s", names[i]);
		hint = sm_xasprintf(" is ambiguous: %s", list);
		free(list);
		rc = usage_error(cmd, "option --%s%s", name, hint);
	} else {
		if (!hint) {
			char *close;

			n = 0;
			for (int i = 0; i < CLI_OPT__COUNT; i++)
				if (cli_option_applies(i, cmd))
					names[n++] = options[i].name;
			close = suggest(name, names, n, "--");
			if (close)
				hint = sm_xasprintf("; did you mean %s?", close);
			free(close);
		}
		rc = usage_error(cmd, "invalid option --%s%s", name, hint ? hint : "");
	}
	free(hint);
	free(name);
	return rc;
}

char *cli_command_suggest(const char *name)
{
	const char *names[CLI_CMD__COUNT];
	size_t n = 0;
	char *close, *hint;

	for (int c = 0; c < CLI_CMD__COUNT; c++)
		if (commands[c].help)
			names[n++] = commands[c].name;
	if (!(close = suggest(name, names, n, "")))
		return sm_xstrdup("");
	hint = sm_xasprintf("; did you mean %s?", close);
	free(close);
	return hint;
}

static int unknown_command(const char *name)
{
	char *hint = cli_command_suggest(name);
	int rc = usage_error(-1, "unknown command \"%s\"%s", name, hint);

	free(hint);
	return rc;
}

/* ---------------------------------------------------------- parsing */

static void store(cli_ctx *ctx, int id, const char *arg)
{
	cli_opt_values *v = &ctx->opt[id];

	if (options[id].arg) {
		v->args = sm_xrealloc(v->args, (v->n + 1) * sizeof *v->args);
		v->args[v->n] = arg;
	}
	v->n++;
}

static int option_by_letter(int letter)
{
	for (int i = 0; i < CLI_OPT__COUNT; i++)
		if (options[i].letter == letter)
			return i;
	return -1;
}

/*
 * One getopt_long pass over argv with the options of cmd (-1: the global
 * ones, stopping at the first operand, which is the command).  Returns -1
 * to go on, or an exit code.
 */
static int parse_pass(cli_ctx *ctx, int argc, char **argv, int cmd)
{
	struct option longopts[CLI_OPT__COUNT + 1];
	char shorts[3 + 2 * CLI_OPT__COUNT + 1];
	size_t nl = 0, ns = 0;
	int opt, rc = -1;

	/* '+': stop at the command; ':': tell a missing argument apart. */
	if (cmd < 0)
		shorts[ns++] = '+';
	shorts[ns++] = ':';
	for (int i = 0; i < CLI_OPT__COUNT; i++) {
		if (!cli_option_applies(i, cmd))
			continue;
		longopts[nl++] = (struct option){ options[i].name,
			options[i].arg ? required_argument : no_argument, NULL, LONG_VAL(i) };
		if (options[i].letter) {
			shorts[ns++] = (char)options[i].letter;
			if (options[i].arg)
				shorts[ns++] = ':';
		}
	}
	longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
	shorts[ns] = '\0';

	/* optind = 0 makes glibc start afresh on a new argument vector. */
	optind = 0;
	opterr = 0;
	while (rc < 0 && (opt = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		int id = opt >= LONG_VAL(0) ? opt - LONG_VAL(0) : option_by_letter(opt);

		if (opt == '?') {
			rc = invalid_option(cmd, optopt, argv[optind - 1]);
		} else if (opt == ':') {
			rc = usage_error(cmd, "option %s needs an argument", argv[optind - 1]);
		} else if (id == CLI_OPT_HELP) {
			cli_usage(stdout, cmd);
			rc = CLI_EXIT_OK;
		} else if (id == CLI_OPT_VERSION) {
			printf("snapmig %s\n", PACKAGE_VERSION);
			rc = CLI_EXIT_OK;
		} else if (id >= 0) {
			store(ctx, id, optarg);
		}
	}
	return rc;
}

/* ctx->g from ctx->opt. */
static int apply_globals(cli_ctx *ctx)
{
	cli_globals *g = &ctx->g;
	const char *jobs = cli_opt_arg(ctx, CLI_OPT_JOBS);

	g->config_path = cli_opt_arg(ctx, CLI_OPT_CONFIG);
	g->env_name = cli_opt_arg(ctx, CLI_OPT_ENV);
	g->types = cli_opt_args(ctx, CLI_OPT_AGGREGATE, &g->n_types);
	g->json = cli_opt_given(ctx, CLI_OPT_JSON);
	g->quiet = cli_opt_given(ctx, CLI_OPT_QUIET);
	g->verbose = cli_opt_given(ctx, CLI_OPT_VERBOSE);
	if (jobs) {
		long long n;

		if (!cli_parse_ll(jobs, 1, SM_MAX_JOBS, &n))
			return cli_usage_errorf("-j: expected a number of workers from 1 to %d, got \"%s\"",
						SM_MAX_JOBS, jobs);
		g->jobs = (int)n;
	}
	return -1;
}

int cli_parse(cli_ctx *ctx, int argc, char **argv, int *cmd,
	      int *n_operands, char ***operands)
{
	int rc, first;

	*cmd = -1;
	*n_operands = 0;
	*operands = NULL;
	if ((rc = parse_pass(ctx, argc, argv, -1)) >= 0)
		return rc;
	if (optind < argc) {
		first = optind;
		if ((*cmd = cli_command_find(argv[first])) < 0)
			return unknown_command(argv[first]);
		/* The command's own pass: argv[first] is its argv[0]. */
		if ((rc = parse_pass(ctx, argc - first, argv + first, *cmd)) >= 0)
			return rc;
		*operands = argv + first + optind;
		*n_operands = argc - first - optind;
		if (*n_operands > commands[*cmd].max_operands)
			return usage_error(*cmd, "unexpected argument \"%s\"%s",
					   (*operands)[commands[*cmd].max_operands],
					   commands[*cmd].max_operands ? "" : " (types go with -a)");
	}
	return apply_globals(ctx);
}
