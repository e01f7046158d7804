/*
 * The command-line front end: what its modules share.  A thin client of
 * engine/snapmig.h; every command parses its own options (the global ones
 * are accepted after the command too), opens the environment through
 * cli_open and returns a process exit code (man/snapmig.1, EXIT STATUS).
 */
#ifndef SM_CLI_CLI_H
#define SM_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/snapmig.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FINDINGS = 1,    /* completed, with failures or findings */
	CLI_EXIT_USAGE = 2,       /* usage or configuration error */
	CLI_EXIT_DB = 3,          /* database (or other runtime) error */
	CLI_EXIT_INTERRUPTED = 130,
};

/* Options valid before and after the command. */
typedef struct cli_globals {
	const char *config_path;  /* -c, borrowed from argv */
	const char *env_name;     /* -e, borrowed from argv */
	const char **types;       /* -a (repeatable); array owned, strings from argv */
	size_t n_types;
	int jobs;                 /* -j; 0 = the environment's setting */
	bool json, quiet, verbose;
} cli_globals;

typedef struct cli_ctx {
	cli_globals g;
	sm_config *cfg;           /* owned; loaded by cli_load_config */
	sm_engine *eng;           /* owned; opened by cli_open */
	const sm_environment *env;/* borrowed from cfg */
} cli_ctx;

/* ---------------------------------------------------------- main.c */

/* Long options shared by every command; a command appends its own.  The
 * val of each is a CLI_OPT_* code or a short option letter. */
enum {
	CLI_OPT_JSON = 0x100,
	CLI_OPT_VERSION,
	CLI_OPT__COMMAND = 0x200, /* first code free for commands */
};
#define CLI_GLOBAL_SHORTOPTS "c:e:a:j:qvh"
#define CLI_GLOBAL_LONGOPTS                                          \
	{ "config", required_argument, NULL, 'c' },                  \
	{ "env", required_argument, NULL, 'e' },                     \
	{ "aggregate", required_argument, NULL, 'a' },               \
	{ "jobs", required_argument, NULL, 'j' },                    \
	{ "quiet", no_argument, NULL, 'q' },                         \
	{ "verbose", no_argument, NULL, 'v' },                       \
	{ "json", no_argument, NULL, CLI_OPT_JSON },                 \
	{ "help", no_argument, NULL, 'h' },                          \
	{ "version", no_argument, NULL, CLI_OPT_VERSION }

/*
 * Handles a global option returned by getopt_long.  Returns 0 when it was
 * one and was applied, -1 when opt is not a global option, or an exit code
 * (> 0, or CLI_EXIT_OK after --help/--version printed) through *exit_code
 * with 1 returned when the program should stop now.
 */
int cli_global_option(cli_globals *g, int opt, const char *arg, int *exit_code);

/* Loads the configuration (once) and prints its warnings unless -q. */
int cli_load_config(cli_ctx *ctx);

/* Loads the configuration, resolves the environment (-e, or the only one)
 * and opens the engine.  Returns CLI_EXIT_OK or an exit code after printing
 * the error. */
int cli_open(cli_ctx *ctx);

/* "snapmig: <message>" on stderr, with the config file:line when set;
 * returns the exit code for err->code. */
int cli_report(const sm_error *err);
int cli_exit_code(int status);

/* "snapmig: <message>" on stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, plus a hint to --help; returns CLI_EXIT_USAGE. */
int cli_usage_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line on stderr unless -q. */
void cli_notef(const cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses a decimal integer in [min, max]; false when it is not one. */
bool cli_parse_ll(const char *s, long long min, long long max, long long *out);

/* Is the aggregate type `type` selected by -a (true when -a is absent)? */
bool cli_type_selected(const cli_ctx *ctx, const char *type, const char *label);

/* The label of a configured type, or the type itself. */
const char *cli_type_label(const cli_ctx *ctx, const char *type);

/* ---------------------------------------------------------- commands */

typedef int (*cli_command_fn)(cli_ctx *ctx, int argc, char **argv);

int cli_cmd_status(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_preflight(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rebuild(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_copy(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_rollback(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_failures(cli_ctx *ctx, int argc, char **argv);
int cli_cmd_runs(cli_ctx *ctx, int argc, char **argv);

/*
 * Runs getopt_long over a command's arguments (argv[0] is the command's
 * name) with the global options added to the command's own.  For each
 * command option calls on_opt(opt, optarg, data) (NULL when the command has
 * none), which returns 0 or an exit code.  Non-option arguments are left in argv[*first_arg .. argc).  Returns
 * -1 to go on, or an exit code to stop with.
 */
int cli_parse_command(cli_ctx *ctx, int argc, char **argv,
		      const char *shortopts, const struct option *longopts,
		      int (*on_opt)(int opt, const char *arg, void *data),
		      void *data, int *first_arg);

#endif
