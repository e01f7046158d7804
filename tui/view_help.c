/*
 * The help screen, generated from the command table (keys.h) like the key
 * bar and the KEYS section of snapmig(1): first the commands that work on
 * the screen help was asked on, then those of the other screens, each with
 * its keys and what it does.  "/" searches it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct help_state {
	tui_list list;               /* a pager over rows; filter = search */
	char below_title[64];        /* the screen help was asked on */
	int rows[TUI_CMD__COUNT + 1];/* commands, -1 for the line between */
	int n_here;                  /* rows[0 .. n_here) work there */
} help_state;

static const int help_cmds[] = {
	TUI_CMD_FILTER, TUI_CMD_NEXT_MATCH, TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

static bool row_has(const void *ctx, int i, const char *text)
{
	const help_state *s = ctx;
	const tui_command_info *ci = s->rows[i] >= 0 ? tui_command(s->rows[i]) : NULL;

	return ci && (strcasestr(ci->key_name, text) || strcasestr(ci->help, text));
}

void *tui_help_new(tui_app *app, tui_view *below)
{
	help_state *s = sm_xcalloc(1, sizeof *s);
	int n = 0;

	(void)app;
	snprintf(s->below_title, sizeof s->below_title, "%s", tui_view_title(below));
	/* The screen's own actions in its order, then moving, searching and
	 * the rest that works there, then every other key. */
	for (const int *c = below->ops->cmds; c && *c != TUI_CMD_NONE; c++)
		s->rows[n++] = *c;
	for (int c = 0; c < TUI_CMD__COUNT; c++) {
		bool listed = false;

		for (int i = 0; i < n && !listed; i++)
			listed = s->rows[i] == c;
		if (!listed && tui_view_has(below, c))
			s->rows[n++] = c;
	}
	s->n_here = n;
	s->rows[n++] = -1;
	for (int c = 0; c < TUI_CMD__COUNT; c++)
		if (!tui_view_has(below, c))
			s->rows[n++] = c;
	s->list.n = n;
	tui_list_init_search(&s->list, "the keys and what they do", row_has, s);
	return s;
}

/* Columns of the key names. */
#define KEY_W 14

static void help_draw(tui_app *app, tui_view *v, tui_rect r)
{
	help_state *s = v->state;
	int y = r.y, w = r.w - KEY_W - 4;
	char status[320];

	(void)app;
	tui_putf(y, r.x + 1, r.w - 2, ST_HEADER, "Keys of the %s screen", s->below_title);
	tui_list_status(&s->list, status, sizeof status);
	tui_put_right(y + 1, r.x + 1, r.w - 2, ST_WARN, status);
	y += 2;
	tui_list_area(&s->list, y, r.y + r.h - y);
	s->list.hmax = 0;
	for (int i = s->list.top; i < s->list.n && i < s->list.top + s->list.page; i++) {
		const tui_command_info *ci;
		bool here = i < s->n_here;
		enum tui_style st = i == s->list.match ? ST_CURSOR : here ? ST_NORMAL : ST_DIM;

		y = tui_list_y(&s->list, i);
		if (s->rows[i] < 0) {
			tui_put(y, r.x + 1, r.w - 2, ST_HEADER, "Keys of the other screens");
			continue;
		}
		ci = tui_command(s->rows[i]);
		tui_put(y, r.x + 3, KEY_W, st, ci->key_name);
		tui_put_from(y, r.x + 4 + KEY_W, w, st, ci->help, s->list.hoff);
		tui_list_hmeasure(&s->list, tui_text_width(ci->help), w);
	}
}

static unsigned help_key(tui_app *app, tui_view *v, int cmd, int key)
{
	(void)app;
	(void)v;
	(void)key;
	return cmd == TUI_CMD_HELP ? TUI_POP : TUI_NONE;
}

const tui_view_ops tui_view_help = {
	.title = "Help", .list = true, .cmds = help_cmds, .draw = help_draw,
	.key = help_key,
};
