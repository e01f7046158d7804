/*
 * The command-line front end: what its modules share.  A thin client of
 * engine/snapmig.h.  The commands and their options are the tables of
 * cli/commands.h; parse.c parses argv against them, help.c prints the
 * usage and the completion scripts from them, main.c runs the command.
 * Every command opens the environment through cli_open and returns a
 * process exit code (man/snapmig.1, EXIT STATUS).
 */
#ifndef SM_CLI_CLI_H
#define SM_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "cli/commands.h"
#include "engine/snapmig.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FINDINGS = 1,    /* completed, with failures or findings */
	CLI_EXIT_USAGE = 2,       /* usage or configuration error */
	CLI_EXIT_DB = 3,          /* database (or other runtime) error */
	CLI_EXIT_BUSY = 4,        /* another operation holds the target schema */
	CLI_EXIT_INTERRUPTED = 130,
};

/* The global options, as the commands use them (from ctx->opt). */
typedef struct cli_globals {
	const char *config_path;  /* -c, borrowed from argv */
	const char *env_name;     /* -e, borrowed from argv */
	const char *const *types; /* -a (repeatable), borrowed from ctx->opt */
	size_t n_types;
	int jobs;                 /* -j; 0 = the environment's setting */
	bool json, quiet, verbose;
} cli_globals;

/* Every occurrence of one option. */
typedef struct cli_opt_values {
	const char **args;        /* owned array; strings borrowed from argv */
	size_t n;                 /* times given */
} cli_opt_values;

typedef struct cli_ctx {
	cli_globals g;
	cli_opt_values opt[CLI_OPT__COUNT];
	sm_config *cfg;           /* owned; loaded by cli_load_config */
	sm_engine *eng;           /* owned; opened by cli_open */
	const sm_environment *env;/* borrowed from cfg */
	bool json_printed;        /* the run's JSON document is out */
} cli_ctx;

/* ---------------------------------------------------------- the tables */

/* A row of CLI_OPTIONS (commands.h). */
typedef struct cli_option {
	const char *name;         /* long name, without "--" */
	int letter;               /* short option, 0 when none */
	const char *arg;          /* argument name, NULL for a flag */
	unsigned where;           /* CLI_GLOBAL / CLI_FOR(...) bits, CLI_REPEAT */
	const char *help;
} cli_option;

/* A row of CLI_COMMANDS. */
typedef struct cli_command {
	const char *name;
	int (*run)(cli_ctx *ctx, int argc, char **argv);
	const char *operands;
	int max_operands;
	const char *help;         /* NULL: hidden */
} cli_command;

const cli_option *cli_option_info(int id);
const cli_command *cli_command_info(int id);
/* Does command cmd take option id?  cmd < 0: before any command. */
bool cli_option_applies(int id, int cmd);
/* The command called name (hidden ones too), or -1. */
int cli_command_find(const char *name);

/* The options given: whether, the last argument (NULL when not given),
 * every argument in order (borrowed from argv). */
bool cli_opt_given(const cli_ctx *ctx, enum cli_option_id id);
const char *cli_opt_arg(const cli_ctx *ctx, enum cli_option_id id);
const char *const *cli_opt_args(const cli_ctx *ctx, enum cli_option_id id, size_t *n);

/* ------------------------------------------------------------ parse.c */

/*
 * Parses argv against the tables: global options, the command, then its
 * own options and the global ones again, in any order with its operands.
 * Fills ctx->opt and ctx->g, *cmd (-1 when there is none) and the operands
 * (*operands points into argv).  Returns -1 to go on, or the exit code to
 * stop with: 0 after --help or --version, 2 after a usage error (printed,
 * with "did you mean" when a name is close).
 */
int cli_parse(cli_ctx *ctx, int argc, char **argv, int *cmd,
	      int *n_operands, char ***operands);
void cli_ctx_free(cli_ctx *ctx);

/* "; did you mean status?" when a visible command is close to name, else
 * "".  Caller frees. */
char *cli_command_suggest(const char *name);

/* ------------------------------------------------------------- help.c */

/* The usage (cmd < 0) or a command's usage and options. */
void cli_usage(FILE *f, int cmd);

/* ------------------------------------------------------------- main.c */

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

/* "snapmig: <message>" on stderr; the first error of the run is also the
 * message of the JSON error document (--json). */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, plus a hint to --help; returns CLI_EXIT_USAGE. */
int cli_usage_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational line on stderr unless -q. */
void cli_notef(const cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A new JSON document holding the environment's name (or null). */
json_object *cli_json_doc(const cli_ctx *ctx);
/* Prints doc as the run's JSON document on stdout and frees it.  With
 * --json, a run that fails without one gets an error document instead. */
void cli_json_emit(cli_ctx *ctx, json_object *doc);

/* A command line that reaches the same environment again:
 * "snapmig -c FILE -e NAME <rest>" (-c when it was given), words quoted
 * for the shell where needed.  Caller frees. */
char *cli_command_line(const cli_ctx *ctx, const char *rest);

/* Parses a decimal integer in [min, max]; false when it is not one. */
bool cli_parse_ll(const char *s, long long min, long long max, long long *out);

/* Is the aggregate type `type` selected by -a (true when -a is absent)? */
bool cli_type_selected(const cli_ctx *ctx, const char *type, const char *label);

/* How a run's progress is shown on stderr: JSON lines with --json,
 * nothing with -q, bars on a terminal, plain lines otherwise
 * (cli/progress.h's modes; defined in cmd_rebuild.c). */
int cli_progress_mode(const cli_ctx *ctx);

/* The label of a configured type, or the type itself. */
const char *cli_type_label(const cli_ctx *ctx, const char *type);

/* An operation holding the target schema, as JSON (cmd_status.c): its
 * operation, environment, host, pid, user, start, run id and server
 * session. */
json_object *cli_activity_json(const sm_activity *a);

/* ---------------------------------------------------------- commands */

#define CLI_X_DECLARE(id, name, fn, operands, max, help) \
	int fn(cli_ctx *ctx, int argc, char **argv);
CLI_COMMANDS(CLI_X_DECLARE)
#undef CLI_X_DECLARE

#endif
