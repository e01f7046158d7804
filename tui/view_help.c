/* The help screen, generated from the command table (keys.h). */
#include "config.h"

#include <stdlib.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct help_state {
	tui_list list;               /* a pager over the commands */
	const tui_view_ops *below;   /* the screen help was asked on */
} help_state;

static const int help_cmds[] = {
	TUI_CMD_UP, TUI_CMD_DOWN, TUI_CMD_PGUP, TUI_CMD_PGDN, TUI_CMD_HOME,
	TUI_CMD_END, TUI_CMD_BACK, TUI_CMD_NONE,
};

void *tui_help_new(tui_app *app, const tui_view_ops *below)
{
	help_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	s->below = below;
	s->list.n = TUI_CMD__COUNT;
	s->list.pager = true;
	return s;
}

static bool works_here(const tui_view_ops *ops, int cmd)
{
	if (cmd == TUI_CMD_HELP)
		return true;
	for (const int *c = ops ? ops->cmds : NULL; c && *c != TUI_CMD_NONE; c++)
		if (*c == cmd)
			return true;
	return false;
}

static void help_draw(tui_app *app, tui_view *v, tui_rect r)
{
	help_state *s = v->state;
	int y = r.y;

	(void)app;
	tui_putf(y++, r.x + 1, r.w - 2, ST_HEADER, "Keys  (* = works on the %s screen)",
		 s->below ? s->below->title : "previous");
	y++;
	tui_list_area(&s->list, y, r.h - 3);
	for (int i = s->list.top; i < s->list.n && y < r.y + r.h; i++, y++) {
		const tui_command_info *ci = tui_command(i);
		bool here = works_here(s->below, i);

		tui_put(y, r.x + 1, 2, ST_MARK, here ? "*" : " ");
		tui_put(y, r.x + 3, 9, here ? ST_NORMAL : ST_DIM, ci->key_name);
		tui_put(y, r.x + 13, r.w - 14, here ? ST_NORMAL : ST_DIM, ci->help);
	}
}

static unsigned help_key(tui_app *app, tui_view *v, int cmd, int key)
{
	(void)app;
	(void)v;
	(void)key;
	return cmd == TUI_CMD_HELP ? TUI_POP : TUI_NONE;
}

static void help_leave(tui_app *app, tui_view *v)
{
	(void)app;
	free(v->state);
}

const tui_view_ops tui_view_help = {
	.title = "Help", .list = true, .cmds = help_cmds, .draw = help_draw,
	.key = help_key, .leave = help_leave,
};
