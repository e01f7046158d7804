/*
 * man-keys: prints the KEYS section of snapmig(1) in roff, from the
 * interface's command table (tui/keys.h) that also makes its help screen
 * and key bar, so the page cannot list other keys than the program has.
 * Run at build time by Makefile.am; the page it goes into is shipped.
 */
#include "config.h"

#include <stdio.h>

#include "tui/keys.h"

/* Text for a roff text line: backslashes and hyphens escaped, a leading
 * control character neutralised. */
static void roff_text(const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", stdout);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
	}
}

int main(void)
{
	puts(".SH KEYS\n"
	     "The keys of the interactive interface, as its help screen\n"
	     "(\\fB?\\fR) lists them; the bottom bar of each screen shows those that\n"
	     "work there.");
	for (int c = 0; c < TUI_CMD__COUNT; c++) {
		const tui_command_info *ci = tui_command(c);

		puts(".TP 12");
		fputs("\\fB", stdout);
		roff_text(ci->key_name);
		puts("\\fR");
		roff_text(ci->help);
		putchar('\n');
	}
	return ferror(stdout) ? 1 : 0;
}
