/*
 * The command line as data, as git's parse_options and tig's request.h do
 * it: one row per command and one per option.  The parser, the usage text,
 * `help`, each command's --help, "did you mean" and the bash and zsh
 * completion scripts are all generated from these two tables, so none of
 * them can disagree with what the parser accepts.
 *
 * Adding a command: one CLI_COMMANDS row and its function
 *     int cli_cmd_NAME(cli_ctx *ctx, int argc, char **argv)
 * which gets the operands only (argv[0] is the first one; the parser has
 * already checked that there are at most max_operands) and reads its
 * options with cli_opt_given / cli_opt_arg / cli_opt_args (cli.h).
 * Adding an option: one CLI_OPTIONS row, with the commands that take it;
 * then describe it in man/snapmig.1.in (tests/test_cli_usage.sh checks
 * that the page names every option and command).
 */
#ifndef SM_CLI_COMMANDS_H
#define SM_CLI_COMMANDS_H

#include "engine/snapmig.h"   /* SM_COPY_GUARDS, SM_MAX_JOBS_TEXT */

/*
 * X(ID, name, function, operands, max_operands, help)
 * operands: how the usage shows them ("" for none); help: one line, NULL
 * for a hidden command (left out of the usage and of completion).
 */
#define CLI_COMMANDS(X) \
	X(STATUS,     "status",     cli_cmd_status,     "",          0, \
	  "snapshots per type: versions, work to do, target schema") \
	X(PREFLIGHT,  "preflight",  cli_cmd_preflight,  "",          0, \
	  "event types without a handler (exit 1 when any)") \
	X(VERIFY,     "verify",     cli_cmd_verify,     "",          0, \
	  "fold up to each live snapshot and compare (exit 1 when one differs)") \
	X(REBUILD,    "rebuild",    cli_cmd_rebuild,    "",          0, \
	  "generate snapshots into the target schema (resumable)") \
	X(FAILURES,   "failures",   cli_cmd_failures,   "",          0, \
	  "instances that could not be rebuilt") \
	X(COPY,       "copy",       cli_cmd_copy,       "",          0, \
	  "copy generated snapshots into the live table") \
	X(ROLLBACK,   "rollback",   cli_cmd_rollback,   "[COPY_ID]", 1, \
	  "undo a copy (default: the last one that changed the live table)") \
	X(DISCARD,    "discard",    cli_cmd_discard,    "[TYPE]...", 1000, \
	  "drop generated snapshots of the types (default: every configured type)") \
	X(RUNS,       "runs",       cli_cmd_runs,       "",          0, \
	  "the run journal, newest first") \
	X(CHECK,      "check",      cli_cmd_check,      "",          0, \
	  "load and analyse the configuration without a database (exit 2 when invalid)") \
	X(FOLD,       "fold",       cli_cmd_fold,       "TYPE [FILE]", 2, \
	  "fold events given as JSON lines (FILE or stdin), without a database") \
	X(HELP,       "help",       cli_cmd_help,       "[COMMAND]", 1, \
	  "this help, or the options of COMMAND") \
	X(COMPLETION, "completion", cli_cmd_completion, "bash|zsh|words WHAT", 2, \
	  NULL)

/* Which commands take an option: CLI_FOR(COPY) | CLI_FOR(ROLLBACK). */
#define CLI_FOR(cmd) (1u << CLI_CMD_##cmd)
#define CLI_GLOBAL   0x40000000u  /* before or after any command */
#define CLI_REPEAT   0x80000000u  /* each occurrence counts (usage shows "...") */

/*
 * X(ID, long name, short letter or 0, argument or NULL, where, help)
 * where: CLI_GLOBAL or CLI_FOR(...) | ..., plus CLI_REPEAT.
 * The argument's name also tells the completion scripts what to offer:
 * FILE a file, NAME an environment of the configuration, TYPE an aggregate
 * type, KIND a failure kind, COMMAND a command; anything else nothing.
 * The --force-GUARD rows come from the engine's list of copy guards
 * (SM_COPY_GUARDS in engine/snapmig.h), one per guard with its override
 * text as help: so whoever expands CLI_OPTIONS(X) also defines
 * X_GUARD(id, name, trips, override) as
 * CLI_FORCE_ROW(X, FORCE_##id, name, override).  copy overrides sm_copy_guard_parse of what follows "force-".
 */
#define CLI_OPTIONS(X) \
	X(CONFIG,       "config",         'c', "FILE", CLI_GLOBAL, \
	  "configuration file (default: $SNAPMIG_CONFIG, ./snapmig.conf, " \
	  "~/.config/snapmig/snapmig.conf, /etc/snapmig.conf)") \
	X(ENV,          "env",            'e', "NAME", CLI_GLOBAL, \
	  "environment (may be left out when there is one)") \
	X(AGGREGATE,    "aggregate",      'a', "TYPE", CLI_GLOBAL | CLI_REPEAT, \
	  "only this aggregate type or label (repeatable)") \
	X(JOBS,         "jobs",           'j', "N",    CLI_GLOBAL, \
	  "parallel workers for rebuild (1-" SM_MAX_JOBS_TEXT ")") \
	X(JSON,         "json",           0,   NULL,   CLI_GLOBAL, \
	  "machine-readable output (one JSON document on stdout)") \
	X(QUIET,        "quiet",          'q', NULL,   CLI_GLOBAL, \
	  "no warnings, progress or notes on stderr") \
	X(VERBOSE,      "verbose",        'v', NULL,   CLI_GLOBAL, \
	  "more detail on stderr") \
	X(HELP,         "help",           'h', NULL,   CLI_GLOBAL, \
	  "this help; after a command, the command's") \
	X(VERSION,      "version",        0,   NULL,   CLI_GLOBAL, \
	  "the version") \
	X(ONLY_FAILED,  "only-failed",    0,   NULL,   CLI_FOR(REBUILD), \
	  "only the instances with a failure recorded by an earlier run") \
	X(JOIN,         "join",           0,   NULL,   CLI_FOR(REBUILD), \
	  "help the rebuild planned in the target schema (from any machine): " \
	  "claim its chunks until none is left") \
	X(UUID,         "uuid",           0,   "ID",   CLI_FOR(REBUILD) | CLI_FOR(VERIFY) | CLI_REPEAT, \
	  "only this instance (its source_uuid; repeatable)") \
	X(KIND,         "kind",           0,   "KIND", CLI_FOR(FAILURES), \
	  "only this kind of failure") \
	X(TYPE,         "type",           0,   "TYPE", CLI_FOR(FAILURES), \
	  "only this aggregate type (label or type; default: the -a types)") \
	X(DRY_RUN,      "dry-run",        0,   NULL,   CLI_FOR(COPY), \
	  "print the plan and stop") \
	X(YES,          "yes",            'y', NULL,   CLI_FOR(COPY) | CLI_FOR(ROLLBACK) | CLI_FOR(DISCARD), \
	  "do not ask for confirmation") \
	X(CONFIRM_ENV,  "confirm-env",    0,   "NAME", CLI_FOR(COPY) | CLI_FOR(ROLLBACK) | CLI_FOR(DISCARD), \
	  "the environment's name: a protected one needs it without a prompt") \
	X(LIST,         "list",           0,   NULL,   CLI_FOR(ROLLBACK), \
	  "list the copies and which of them can be rolled back") \
	X(REMOVE_STALE, "remove-stale",   0,   NULL,   CLI_FOR(COPY), \
	  "delete stale live rows that have no generated replacement") \
	SM_COPY_GUARDS(X##_GUARD) \
	X(LIMIT,        "limit",          0,   "N",    CLI_FOR(RUNS), \
	  "how many runs (default 20)") \
	X(SAMPLE,       "sample",         0,   "N|P%", CLI_FOR(VERIFY), \
	  "check at most N instances of each type, or P percent of them") \
	X(SEED,         "seed",           0,   "N",    CLI_FOR(VERIFY), \
	  "which sample: the same seed checks the same instances (default 0)") \
	X(EXAMPLES,     "examples",       0,   "N",    CLI_FOR(VERIFY), \
	  "differing and failed instances shown per type (default 10)") \
	X(STATE,        "state",          0,   "FILE", CLI_FOR(FOLD), \
	  "start from this state (a snapshot's data) instead of the initial one") \
	X(STATE_VERSION, "state-version", 0,   "N",    CLI_FOR(FOLD), \
	  "the stream version of --state (the events follow it; default 0)") \
	X(STREAM,       "stream",         0,   "ID",   CLI_FOR(FOLD), \
	  "the stream_uuid the reducer is told (default: offline)")

/* (FORCE_##id is pasted by the caller, before the guard's id could be
 * expanded as a macro: config.h defines VERSION.) */
#define CLI_FORCE_ROW(X, force_id, name, override) \
	X(force_id, "force-" name, 0, NULL, CLI_FOR(COPY), override)

enum cli_command_id {
#define CLI_X_ENUM(id, name, fn, operands, max, help) CLI_CMD_##id,
	CLI_COMMANDS(CLI_X_ENUM)
#undef CLI_X_ENUM
	CLI_CMD__COUNT
};

enum cli_option_id {
#define CLI_X_ENUM(id, name, letter, arg, where, help) CLI_OPT_##id,
#define CLI_X_ENUM_GUARD(id, name, trips, override) CLI_FORCE_ROW(CLI_X_ENUM, FORCE_##id, name, override)
	CLI_OPTIONS(CLI_X_ENUM)
#undef CLI_X_ENUM_GUARD
#undef CLI_X_ENUM
	CLI_OPT__COUNT
};

#endif
