/*
 * The one confirmation of the commands that change an environment (copy,
 * rollback, discard), so that they ask alike: on a terminal the user
 * confirms unless --yes; a protected environment also needs its name, from
 * --confirm-env or typed at the prompt; without a terminal and without
 * --yes nothing happens.
 */
#ifndef SM_CLI_CONFIRM_H
#define SM_CLI_CONFIRM_H

#include "cli/cli.h"

/*
 * Asks before an operation, reading --yes and --confirm-env.  verb,
 * gerund and past: "copy", "copying", "copied"; what: its object ("12
 * snapshots into the live table"); where: the environment as the yes/no
 * question names it ("of prod").  The questions: "Copy 12 snapshots into
 * the live table of prod? [y/N]", for a protected environment "Type its
 * name to copy 12 snapshots into the live table:".  Returns CLI_EXIT_OK
 * when it may go ahead, else an exit code (the reason printed).
 */
int cli_confirm(const cli_ctx *ctx, const char *verb, const char *gerund, const char *past,
		const char *what, const char *where);

#endif
