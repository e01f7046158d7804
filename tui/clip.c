/*
 * Copying to the clipboard (y, Y): the terminal's clipboard through the
 * OSC 52 escape sequence when the terminal takes it (inside tmux, a
 * terminal whose terminfo has Ms, or one known to), and always a file as
 * well, for terminals that ignore the sequence: the message names both.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tui/app.h"
#include "util/alloc.h"
#include "util/fs.h"

#ifndef O_NOFOLLOW
#define O_NOFOLLOW 0
#endif

/* Terminals limit what OSC 52 may carry (xterm: about 100 kB). */
#define OSC52_MAX 100000

static char *base64(const char *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = sm_xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = 0;
	return out;
}

/* Whether the terminal takes OSC 52. */
static bool osc52_works(void)
{
	static const char *const known[] = {
		"xterm", "alacritty", "foot", "kitty", "wezterm", "contour", "ghostty",
	};
	const char *term = getenv("TERM");
	char *ms;

	if (getenv("TMUX") && *getenv("TMUX"))
		return true;        /* tmux takes it (set-clipboard) */
	ms = tigetstr("Ms");
	if (ms && ms != (char *)-1)
		return true;
	for (size_t i = 0; term && i < sizeof known / sizeof known[0]; i++)
		if (strncmp(term, known[i], strlen(known[i])) == 0)
			return true;
	return false;
}

/* The file that always receives the copy: in $XDG_RUNTIME_DIR (private to
 * the user) or $XDG_CACHE_HOME/snapmig (default ~/.cache/snapmig). */
static char *clip_path(void)
{
	const char *run = getenv("XDG_RUNTIME_DIR"), *cache = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char *dir, *path;

	if (run && *run)
		dir = sm_xasprintf("%s/snapmig", run);
	else if (cache && *cache)
		dir = sm_xasprintf("%s/snapmig", cache);
	else
		dir = sm_xasprintf("%s/.cache/snapmig", home && *home ? home : ".");
	if (sm_mkdir_p(dir, 0700) != 0) {
		free(dir);
		return NULL;
	}
	path = sm_xasprintf("%s/clipboard", dir);
	free(dir);
	return path;
}

static bool write_file(const char *path, const char *text, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, text, n) == (ssize_t)n;
	return close(fd) == 0 && ok;
}

void tui_yank(tui_app *app, const char *what, const char *text)
{
	size_t n = strlen(text);
	char *path = clip_path();
	bool filed = path && write_file(path, text, n);
	int file_errno = errno;
	bool sent = false;

	if (n * 4 / 3 + 4 <= OSC52_MAX && osc52_works()) {
		char *b64 = base64(text, n);

		/* Straight to the terminal, between two curses updates. */
		fprintf(stdout, "\033]52;c;%s\a", b64);
		fflush(stdout);
		free(b64);
		sent = true;
	}
	/* The path last: a narrow terminal cuts it, not what happened. */
	if (sent && filed)
		tui_message(app, ST_GOOD, "Copied %s to the clipboard (OSC 52) and to %s", what, path);
	else if (sent)
		tui_message(app, ST_GOOD, "Copied %s to the clipboard (OSC 52)", what);
	else if (filed)
		tui_message(app, ST_GOOD, "Copied %s (the terminal takes no OSC 52) to %s", what, path);
	else
		tui_message(app, ST_BAD, "Cannot copy %s: %s: %s", what, path ? path : "no file",
			    strerror(file_errno));
	free(path);
}
