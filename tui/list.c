/* What every list screen shares: see list.h. */
#include "config.h"

#include <stdio.h>

#include "tui/app.h"
#include "tui/list.h"

void tui_list_fit(tui_list *l)
{
	int page = l->page < 1 ? 1 : l->page;

	if (l->pager) {
		/* The cursor is the first line shown. */
		if (l->top > l->n - page)
			l->top = l->n - page;
		if (l->top < 0)
			l->top = 0;
		l->cur = l->top;
		return;
	}
	if (l->cur >= l->n)
		l->cur = l->n - 1;
	if (l->cur < 0)
		l->cur = 0;
	if (l->top > l->n - page)
		l->top = l->n - page;
	if (l->top < 0)
		l->top = 0;
	if (l->cur < l->top)
		l->top = l->cur;
	if (l->cur >= l->top + page)
		l->top = l->cur - page + 1;
}

void tui_list_area(tui_list *l, int y, int h)
{
	l->y0 = y;
	l->page = h < 1 ? 1 : h;
	tui_list_fit(l);
}

/* Moves the cursor (a pager: the page) by delta rows. */
static void move_by(tui_list *l, int delta)
{
	if (l->pager)
		l->top += delta;
	else
		l->cur += delta;
}

static bool move_key(tui_list *l, int cmd)
{
	int page = l->page < 1 ? 1 : l->page;

	switch (cmd) {
	case TUI_CMD_UP: move_by(l, -1); break;
	case TUI_CMD_DOWN: move_by(l, 1); break;
	case TUI_CMD_PGUP: l->cur -= page; l->top -= page; break;
	case TUI_CMD_PGDN: l->cur += page; l->top += page; break;
	case TUI_CMD_HOME: l->cur = l->top = 0; break;
	case TUI_CMD_END: l->cur = l->top = l->n; break;
	default: return false;
	}
	if (l->pager)
		l->cur = l->top;
	tui_list_fit(l);
	return true;
}

void tui_list_init(tui_list *l, const char *filter_what, tui_list_fn on_change, void *ctx)
{
	l->filter_what = filter_what;
	l->on_change = on_change;
	l->ctx = ctx;
}

void tui_list_set_filter(tui_app *app, tui_list *l, const char *text)
{
	snprintf(l->filter, sizeof l->filter, "%s", text);
	if (l->on_change)
		l->on_change(app, l->ctx);
}

static void filter_typed(tui_app *app, void *ctx, const char *text)
{
	tui_list_set_filter(app, ctx, text);
}

unsigned tui_list_key(tui_app *app, tui_list *l, int cmd)
{
	if (move_key(l, cmd))
		return TUI_REDRAW;
	if (!l->filter_what)
		return TUI_NONE;
	if (cmd == TUI_CMD_FILTER) {
		tui_prompt(app, "Filter", l->filter_what, l->filter, filter_typed, l);
		return TUI_REDRAW;
	}
	if (cmd == TUI_CMD_BACK && l->filter[0]) {
		tui_list_set_filter(app, l, "");
		return TUI_REDRAW;
	}
	return TUI_NONE;
}

int tui_list_y(const tui_list *l, int i)
{
	return l->y0 + i - l->top;
}

bool tui_list_row(const tui_list *l, int i, int x, int w)
{
	if (i != l->cur || l->pager)
		return false;
	tui_fill(tui_list_y(l, i), x, w, ST_CURSOR);
	return true;
}
