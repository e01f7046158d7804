/* Confirmation before changing an environment; see confirm.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/confirm.h"
#include "cli/output.h"

/* Reads one line from stdin into buf without the newline; false at EOF. */
static bool read_answer(char *buf, size_t size)
{
	size_t len;

	if (!fgets(buf, (int)size, stdin))
		return false;
	len = strlen(buf);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return true;
}

int cli_confirm(const cli_ctx *ctx, const char *verb, const char *gerund, const char *past,
		const char *what, const char *where)
{
	const sm_environment *env = ctx->env;
	const char *confirm_env = cli_opt_arg(ctx, CLI_OPT_CONFIRM_ENV);
	bool yes = cli_opt_given(ctx, CLI_OPT_YES);
	bool terminal = isatty(STDIN_FILENO) != 0;
	bool name_ok = !env->protected_env;
	char answer[256];
	char *name = out_sanitize(env->name);
	int rc = CLI_EXIT_OK;

	if (confirm_env) {
		if (strcmp(confirm_env, env->name) != 0) {
			cli_errorf("--confirm-env %s does not match the environment %s", confirm_env, name);
			free(name);
			return CLI_EXIT_USAGE;
		}
		name_ok = true;
	}
	if (yes && name_ok)
		goto out;
	if (!terminal) {
		if (!yes)
			cli_errorf("refusing to %s without confirmation: stdin is not a terminal "
				   "(use --yes%s)", verb, env->protected_env ? " --confirm-env NAME" : "");
		else
			cli_errorf("environment %s is protected: %s needs --confirm-env %s", name,
				   gerund, name);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	fflush(stdout);
	if (!name_ok) {
		fprintf(stderr, "Environment %s is protected. Type its name to %s %s: ", name, verb, what);
		fflush(stderr);
		if (!read_answer(answer, sizeof answer) || strcmp(answer, env->name) != 0) {
			cli_errorf("the name does not match: nothing %s", past);
			rc = CLI_EXIT_USAGE;
		}
		goto out;
	}
	fprintf(stderr, "%c%s %s %s? [y/N] ", verb[0] >= 'a' && verb[0] <= 'z' ? verb[0] - 'a' + 'A' : verb[0],
		verb + 1, what, where);
	fflush(stderr);
	if (!read_answer(answer, sizeof answer) ||
	    (strcmp(answer, "y") != 0 && strcmp(answer, "yes") != 0)) {
		cli_errorf("not confirmed: nothing %s", past);
		rc = CLI_EXIT_USAGE;
	}
out:
	free(name);
	return rc;
}
