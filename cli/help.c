/*
 * Text generated from the tables of commands.h: the usage, each command's
 * --help, the `help` command, and the bash and zsh completion scripts of
 * the hidden `completion` command.  Nothing here lists a command or an
 * option by hand.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/alloc.h"

#define WIDTH 79            /* columns of the usage text */
#define MAX_LABEL 26        /* widest "  -c, --config FILE" before help moves down */

/* The values an option argument or operand named arg takes, when the
 * program knows them: NULL-terminated, static.  KIND: failure kinds. */
static const char *const *arg_values(const char *arg)
{
	static const char *kinds[SM_FAIL__COUNT + 1];

	if (!arg || strcmp(arg, "KIND") != 0)
		return NULL;
	for (int k = 0; k < SM_FAIL__COUNT; k++)
		kinds[k] = sm_failure_kind_name((enum sm_failure_kind)k);
	kinds[SM_FAIL__COUNT] = NULL;
	return kinds;
}

/* Prints text from column col on, broken at spaces before WIDTH; each new
 * line starts at column indent.  Returns the column after it. */
static size_t wrap(FILE *f, size_t col, size_t indent, const char *text)
{
	while (*text) {
		size_t word = strcspn(text, " ");

		if (col > indent && col + 1 + word > WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, word, f);
		col += word;
		text += word;
		text += strspn(text, " ");
	}
	return col;
}

/* "[--uuid ID]..." of one option, for a synopsis (caller frees). */
static char *option_synopsis(const cli_option *o)
{
	return sm_xasprintf("[--%s%s%s]%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "",
			    o->where & CLI_REPEAT ? "..." : "");
}

/* Prints token after a space from column *col on, or on a new line at
 * column indent when it would pass WIDTH. */
static void put_token(FILE *f, size_t *col, size_t indent, const char *token)
{
	if (*col > indent && *col + 1 + strlen(token) > WIDTH) {
		fprintf(f, "\n%*s", (int)indent, "");
		*col = indent;
	} else {
		fputc(' ', f);
		(*col)++;
	}
	fputs(token, f);
	*col += strlen(token);
}

/* After the command's name (at column col): its own options, then its
 * operands, continued at column indent. */
static void command_synopsis(FILE *f, int cmd, size_t col, size_t indent)
{
	const cli_command *c = cli_command_info(cmd);

	for (int i = 0; i < CLI_OPT__COUNT; i++) {
		const cli_option *o = cli_option_info(i);
		char *s;

		if (o->where & CLI_GLOBAL || !cli_option_applies(i, cmd))
			continue;
		s = option_synopsis(o);
		put_token(f, &col, indent, s);
		free(s);
	}
	if (c->operands[0])
		put_token(f, &col, indent, c->operands);
	fputc('\n', f);
}

/* "  -c, --config FILE" / "      --json" (caller frees). */
static char *option_label(const cli_option *o)
{
	char letter[8] = "    ";

	if (o->letter)
		snprintf(letter, sizeof letter, "-%c, ", o->letter);
	return sm_xasprintf("  %s--%s%s%s", letter, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* The global options, or cmd's own, one per line with their help. */
static void option_list(FILE *f, int cmd, bool globals)
{
	size_t col = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < CLI_OPT__COUNT; i++) {
			const cli_option *o = cli_option_info(i);
			const char *const *values = arg_values(o->arg);
			char *label;
			size_t len;

			if (!(o->where & CLI_GLOBAL) != !globals || !cli_option_applies(i, cmd))
				continue;
			label = option_label(o);
			len = strlen(label);
			if (pass == 0) {
				if (len + 2 > col && len + 2 <= MAX_LABEL)
					col = len + 2;
				free(label);
				continue;
			}
			fputs(label, f);
			if (len + 2 > col)
				fprintf(f, "\n%*s", (int)col, "");
			else
				fprintf(f, "%*s", (int)(col - len), "");
			{
				size_t at = wrap(f, col, col, o->help);

				for (size_t v = 0; values && values[v]; v++) {
					char *word = sm_xasprintf("%s%s%s", v ? "" : "(", values[v],
								  values[v + 1] ? "," : ")");

					at = wrap(f, at + 1 > col ? at : col, col, word);
					free(word);
				}
			}
			fputc('\n', f);
			free(label);
		}
	}
}

static void command_usage(FILE *f, int cmd)
{
	const cli_command *c = cli_command_info(cmd);
	bool own = false;

	fprintf(f, "Usage: snapmig [OPTION]... %s", c->name);
	command_synopsis(f, cmd, strlen("Usage: snapmig [OPTION]... ") + strlen(c->name), 7);
	if (c->help)
		fprintf(f, "%c%s.\n", c->help[0] >= 'a' && c->help[0] <= 'z'
			? c->help[0] - 'a' + 'A' : c->help[0], c->help + 1);
	for (int i = 0; i < CLI_OPT__COUNT; i++)
		own |= !(cli_option_info(i)->where & CLI_GLOBAL) && cli_option_applies(i, cmd);
	if (own) {
		fprintf(f, "\nOptions:\n");
		option_list(f, cmd, false);
	}
	fprintf(f, "\nGlobal options (before or after the command):\n");
	option_list(f, cmd, true);
	fprintf(f, "\nSee snapmig(1), COMMANDS, for the details.\n");
}

void cli_usage(FILE *f, int cmd)
{
	if (cmd >= 0) {
		command_usage(f, cmd);
		return;
	}
	fprintf(f,
		"Usage: snapmig [OPTION]... [COMMAND [ARG]...]\n"
		"Regenerate the snapshots of Commanded aggregates in an EventStore.\n"
		"Without a command, on a terminal, snapmig opens its interactive UI.\n"
		"\nCommands:\n");
	for (int i = 0; i < CLI_CMD__COUNT; i++) {
		const cli_command *c = cli_command_info(i);

		if (!c->help)
			continue;
		fprintf(f, "  %s", c->name);
		command_synopsis(f, i, 2 + strlen(c->name), 2 + strlen(c->name) + 1);
		fprintf(f, "      %s\n", c->help);
	}
	fprintf(f, "\nOptions (before or after the command):\n");
	option_list(f, -1, true);
	fprintf(f,
		"\nExit status: 0 success, 1 completed with failures or findings,\n"
		"2 usage or configuration error, 3 database error, 130 interrupted.\n"
		"'snapmig help COMMAND' shows a command's options.\n"
		"See snapmig(1) and snapmig.conf(5).\n");
}

int cli_cmd_help(cli_ctx *ctx, int argc, char **argv)
{
	int cmd = -1;

	(void)ctx;
	if (argc > 0 && (cmd = cli_command_find(argv[0])) < 0) {
		char *hint = cli_command_suggest(argv[0]);

		cli_usage_errorf("help: no command \"%s\"%s", argv[0], hint);
		free(hint);
		return CLI_EXIT_USAGE;
	}
	cli_usage(stdout, cmd);
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------- completion */

/* 'text' for the shell, ' as '\'' */
static void shell_quoted(FILE *f, const char *text)
{
	fputc('\'', f);
	for (const char *p = text; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", f);
		else
			fputc(*p, f);
	}
	fputc('\'', f);
}

/* A line of the script that prints the candidate "prefix word<TAB>help". */
static void candidate(FILE *f, const char *indent, const char *prefix, const char *word,
		      const char *help)
{
	char *w = sm_xasprintf("%s%s", prefix, word);

	fprintf(f, "%sprintf '%%s\\t%%s\\n' ", indent);
	shell_quoted(f, w);
	fputc(' ', f);
	shell_quoted(f, help ? help : "");
	fputc('\n', f);
	free(w);
}

/* "-c|--config": the words that name option o. */
static void option_pattern(FILE *f, const cli_option *o)
{
	if (o->letter)
		fprintf(f, "-%c|", o->letter);
	fprintf(f, "--%s", o->name);
}

/* The first operand's name without brackets: "[COMMAND]" → "COMMAND"
 * (into buf). */
static const char *operand_name(const cli_command *c, char *buf, size_t size)
{
	const char *p = c->operands + strspn(c->operands, "[");

	snprintf(buf, size, "%.*s", (int)strcspn(p, " |]."), p);
	return buf;
}

/* _snapmig_commands and _snapmig_options COMMAND: the candidates. */
static void completion_names(FILE *f)
{
	fputs("_snapmig_commands() {\n", f);
	for (int c = 0; c < CLI_CMD__COUNT; c++)
		if (cli_command_info(c)->help)
			candidate(f, "\t", "", cli_command_info(c)->name, cli_command_info(c)->help);
	fputs("}\n\n# _snapmig_options COMMAND: the options after COMMAND (\"\": before one)\n"
	      "_snapmig_options() {\n", f);
	for (int i = 0; i < CLI_OPT__COUNT; i++)
		if (cli_option_info(i)->where & CLI_GLOBAL)
			candidate(f, "\t", "--", cli_option_info(i)->name, cli_option_info(i)->help);
	fputs("\tcase $1 in\n", f);
	for (int c = 0; c < CLI_CMD__COUNT; c++) {
		fprintf(f, "\t%s)\n", cli_command_info(c)->name);
		for (int i = 0; i < CLI_OPT__COUNT; i++) {
			const cli_option *o = cli_option_info(i);

			if (!(o->where & CLI_GLOBAL) && cli_option_applies(i, c))
				candidate(f, "\t\t", "--", o->name, o->help);
		}
		fputs("\t\t;;\n", f);
	}
	fputs("\tesac\n}\n\n", f);
}

/* _snapmig_takes COMMAND WORD: the argument name of an option. */
static void completion_takes(FILE *f)
{
	fputs("# _snapmig_takes COMMAND WORD: the argument that option WORD takes\n"
	      "_snapmig_takes() {\n\tcase $2 in\n", f);
	for (int i = 0; i < CLI_OPT__COUNT; i++) {
		const cli_option *o = cli_option_info(i);

		if (!o->arg || !(o->where & CLI_GLOBAL))
			continue;
		fputs("\t", f);
		option_pattern(f, o);
		fprintf(f, ") echo %s; return ;;\n", o->arg);
	}
	fputs("\tesac\n\tcase $1 in\n", f);
	for (int c = 0; c < CLI_CMD__COUNT; c++) {
		bool any = false;

		for (int i = 0; i < CLI_OPT__COUNT; i++) {
			const cli_option *o = cli_option_info(i);

			if (!o->arg || o->where & CLI_GLOBAL || !cli_option_applies(i, c))
				continue;
			if (!any)
				fprintf(f, "\t%s)\n\t\tcase $2 in\n", cli_command_info(c)->name);
			any = true;
			fputs("\t\t", f);
			option_pattern(f, o);
			fprintf(f, ") echo %s ;;\n", o->arg);
		}
		if (any)
			fputs("\t\tesac ;;\n", f);
	}
	fputs("\tesac\n}\n\n", f);
}

/* _snapmig_operand COMMAND and _snapmig_values PROGRAM CONFIG WHAT: what
 * an argument is, and its values.  Environments and types come from the
 * configuration, through the program itself. */
static void completion_values(FILE *f)
{
	static const char *const fetched[] = { "NAME", "TYPE" };
	static const char *const known[] = { "KIND" };
	char buf[64];

	fputs("# _snapmig_operand COMMAND: what its first operand is\n"
	      "_snapmig_operand() {\n\tcase $1 in\n", f);
	for (int c = 0; c < CLI_CMD__COUNT; c++)
		if (cli_command_info(c)->help && cli_command_info(c)->operands[0])
			fprintf(f, "\t%s) echo %s ;;\n", cli_command_info(c)->name,
				operand_name(cli_command_info(c), buf, sizeof buf));
	fputs("\tesac\n}\n\n"
	      "# _snapmig_values PROGRAM CONFIG WHAT: the values of an argument\n"
	      "_snapmig_values() {\n\tcase $3 in\n\tFILE) printf '\\tFILE\\n' ;;\n", f);
	for (size_t i = 0; i < sizeof fetched / sizeof fetched[0]; i++)
		fprintf(f, "\t%s)\n"
			"\t\tif [ -n \"$2\" ]; then \"$1\" -q -c \"$2\" completion words %s 2>/dev/null\n"
			"\t\telse \"$1\" -q completion words %s 2>/dev/null; fi ;;\n",
			fetched[i], fetched[i], fetched[i]);
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		fprintf(f, "\t%s)\n", known[i]);
		for (const char *const *v = arg_values(known[i]); v && *v; v++)
			candidate(f, "\t\t", "", *v, "");
		fputs("\t\t;;\n", f);
	}
	fputs("\tCOMMAND) _snapmig_commands ;;\n\tesac\n}\n\n", f);
}

/* _snapmig_candidates: reads the words typed so far and prints the
 * candidates for the current one ("<TAB>FILE": file names). */
static void completion_driver(FILE *f)
{
	fputs("# _snapmig_candidates PROGRAM CURRENT-WORD WORDS-BEFORE-IT...\n"
	      "_snapmig_candidates() {\n"
	      "\tlocal prog=\"$1\" cur=\"$2\" cmd= want= config= operands=0 w\n"
	      "\tshift 2\n"
	      "\tfor w in \"$@\"; do\n"
	      "\t\tif [ -n \"$want\" ]; then\n"
	      "\t\t\t[ \"$want\" != config ] || config=$w\n"
	      "\t\t\twant=\n"
	      "\t\t\tcontinue\n"
	      "\t\tfi\n"
	      "\t\tcase $w in\n\t\t", f);
	option_pattern(f, cli_option_info(CLI_OPT_CONFIG));
	fprintf(f, ") want=config ;;\n"
		"\t\t--%s=*) config=${w#*=} ;;\n"
		"\t\t-*) want=$(_snapmig_takes \"$cmd\" \"$w\") ;;\n"
		"\t\t*) if [ -z \"$cmd\" ]; then cmd=$w; else operands=$((operands + 1)); fi ;;\n"
		"\t\tesac\n"
		"\tdone\n"
		"\t[ \"$want\" != config ] || want=FILE\n"
		"\tif [ -n \"$want\" ]; then\n"
		"\t\t_snapmig_values \"$prog\" \"$config\" \"$want\"\n"
		"\telif [ \"${cur#-}\" != \"$cur\" ]; then\n"
		"\t\t_snapmig_options \"$cmd\"\n"
		"\telif [ -z \"$cmd\" ]; then\n"
		"\t\t_snapmig_commands\n"
		"\telif [ \"$operands\" = 0 ]; then\n"
		"\t\twant=$(_snapmig_operand \"$cmd\")\n"
		"\t\t[ -z \"$want\" ] || _snapmig_values \"$prog\" \"$config\" \"$want\"\n"
		"\tfi\n"
		"}\n\n", cli_option_info(CLI_OPT_CONFIG)->name);
}

static const char bash_part[] =
	"_snapmig() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} out line\n"
	"\tlocal -a words=()\n"
	"\tout=$(_snapmig_candidates \"${COMP_WORDS[0]}\" \"$cur\" \"${COMP_WORDS[@]:1:COMP_CWORD-1}\")\n"
	"\tif [ \"$out\" = $'\\tFILE' ]; then\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\twhile IFS= read -r line; do\n"
	"\t\t[ -z \"$line\" ] || words+=(\"${line%%$'\\t'*}\")\n"
	"\tdone <<<\"$out\"\n"
	"\tmapfile -t COMPREPLY < <(compgen -W \"${words[*]}\" -- \"$cur\")\n"
	"}\n"
	"complete -F _snapmig snapmig\n";

static const char zsh_part[] =
	"_snapmig() {\n"
	"\tlocal out line w d\n"
	"\tlocal -a cands\n"
	"\tout=$(_snapmig_candidates \"${words[1]}\" \"${words[CURRENT]}\" \"${(@)words[2,CURRENT-1]}\")\n"
	"\tif [[ $out == $'\\tFILE' ]]; then\n"
	"\t\t_files\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tfor line in \"${(@f)out}\"; do\n"
	"\t\t[[ -n $line ]] || continue\n"
	"\t\tw=${line%%$'\\t'*}\n"
	"\t\td=${line#*$'\\t'}\n"
	"\t\tif [[ -n $d ]]; then cands+=(\"${w//:/\\\\:}:$d\"); else cands+=(\"${w//:/\\\\:}\"); fi\n"
	"\tdone\n"
	"\t_describe -t snapmig snapmig cands\n"
	"}\n"
	"if [ \"$funcstack[1]\" = _snapmig ]; then\n"
	"\t_snapmig \"$@\"\n"
	"else\n"
	"\tcompdef _snapmig snapmig\n"
	"fi\n";

/* Prints what the configuration holds for an argument: environment names
 * (NAME) or aggregate types by label (TYPE). */
static int completion_words(cli_ctx *ctx, const char *what)
{
	int rc;

	if (strcmp(what, "NAME") != 0 && strcmp(what, "TYPE") != 0)
		return cli_usage_errorf("completion words: expected NAME or TYPE");
	if ((rc = cli_load_config(ctx)) != CLI_EXIT_OK)
		return rc;
	if (what[0] == 'N')
		for (size_t i = 0; i < ctx->cfg->n_envs; i++)
			printf("%s\n", ctx->cfg->envs[i].name);
	else
		for (size_t i = 0; i < ctx->cfg->n_aggs; i++)
			printf("%s\n", ctx->cfg->aggs[i].label);
	return CLI_EXIT_OK;
}

int cli_cmd_completion(cli_ctx *ctx, int argc, char **argv)
{
	bool bash = argc == 1 && strcmp(argv[0], "bash") == 0;
	bool zsh = argc == 1 && strcmp(argv[0], "zsh") == 0;

	if (argc == 2 && strcmp(argv[0], "words") == 0)
		return completion_words(ctx, argv[1]);
	if (!bash && !zsh)
		return cli_usage_errorf("completion: expected bash or zsh");
	if (zsh)
		printf("#compdef snapmig\n");
	printf("# %s completion for snapmig %s, generated by `snapmig completion %s`\n"
	       "# from its command and option tables.  Load it with\n"
	       "#   %s\n\n",
	       bash ? "bash" : "zsh", PACKAGE_VERSION, argv[0],
	       bash ? "source <(snapmig completion bash)"
		    : "source <(snapmig completion zsh)   (after compinit)");
	/* Shell functions that bash and zsh both accept; candidates are
	 * printed one a line as "word<TAB>help". */
	completion_names(stdout);
	completion_takes(stdout);
	completion_values(stdout);
	completion_driver(stdout);
	fputs(bash ? bash_part : zsh_part, stdout);
	return CLI_EXIT_OK;
}
