/*
 * A text to read: a failure with its whole message, a run with its
 * details.  The text is wrapped to the width of the screen and scrolls;
 * "/" searches it as you type, n and N go to the next and previous match.
 * When the text is about one instance, y copies its source_uuid and i
 * opens its snapshots.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "util/alloc.h"

typedef struct text_state {
	tui_list list;              /* a pager over the wrapped lines; filter = search */
	char *name;                 /* for the title bar */
	char *title;                /* the first line, above the text */
	char *text;
	char *uuid;                 /* the instance it is about, or NULL */
	char **lines;               /* text wrapped to wrapped_w columns */
	size_t n_lines;
	int wrapped_w;
} text_state;

static const int text_cmds[] = {
	TUI_CMD_FILTER, TUI_CMD_NEXT_MATCH, TUI_CMD_PREV_MATCH, TUI_CMD_YANK,
	TUI_CMD_INSPECT, TUI_CMD_HELP, TUI_CMD_BACK, TUI_CMD_NONE,
};

static bool line_has(const void *ctx, int i, const char *text)
{
	return strcasestr(((const text_state *)ctx)->lines[i], text) != NULL;
}

void *tui_text_new(tui_app *app, const char *name, const char *title, const char *text,
		   const char *uuid)
{
	text_state *s = sm_xcalloc(1, sizeof *s);

	(void)app;
	tui_list_init_search(&s->list, "the text", line_has, s);
	s->name = sm_xstrdup(name);
	s->title = sm_xstrdup(title);
	s->text = sm_xstrdup(text);
	s->uuid = sm_xstrdup(uuid);
	return s;
}

static void text_draw(tui_app *app, tui_view *v, tui_rect r)
{
	text_state *s = v->state;
	int y = r.y, w = r.w - 2;
	char status[320];

	(void)app;
	if (w != s->wrapped_w) {
		tui_wrap_free(s->lines, s->n_lines);
		s->lines = tui_wrap(s->text, w, &s->n_lines);
		s->wrapped_w = w;
		s->list.n = (int)s->n_lines;
		tui_list_search(&s->list, s->list.top);
	}
	tui_put(y, r.x + 1, w, ST_HEADER, s->title);
	tui_list_status(&s->list, status, sizeof status);
	tui_put_right(y + 1, r.x + 1, w, ST_WARN, status);
	if (s->n_lines > (size_t)(r.h - 3))
		tui_putf(y + 1, r.x + 1, w / 2, ST_DIM, "line %d of %zu", s->list.top + 1,
			 s->n_lines);
	y += 2;
	tui_list_area(&s->list, y, r.y + r.h - y);
	for (int i = s->list.top; i < s->list.n && i < s->list.top + s->list.page; i++) {
		const char *line = s->lines[i];
		const char *m = s->list.filter[0] ? strcasestr(line, s->list.filter) : NULL;

		y = tui_list_y(&s->list, i);
		tui_put(y, r.x + 1, w, ST_NORMAL, line);
		if (m) {
			/* The match stands out where it is on the line. */
			char *before = sm_xstrndup(line, (size_t)(m - line));
			char *hit = sm_xstrndup(m, strlen(s->list.filter));
			int x = tui_text_width(before);

			tui_put(y, r.x + 1 + x, w - x, i == s->list.match ? ST_CURSOR : ST_MARK, hit);
			free(before);
			free(hit);
		}
	}
}

static unsigned text_key(tui_app *app, tui_view *v, int cmd, int key)
{
	text_state *s = v->state;

	(void)key;
	switch (cmd) {
	case TUI_CMD_YANK:
		if (s->uuid)
			tui_yank(app, "the source_uuid", s->uuid);
		return TUI_REDRAW;
	case TUI_CMD_INSPECT:
		if (s->uuid)
			tui_push(app, &tui_view_snapshot, tui_snapshot_new(app, s->uuid));
		return TUI_REDRAW;
	default:
		return TUI_NONE;
	}
}

static bool text_can(tui_app *app, tui_view *v, int cmd)
{
	const text_state *s = v->state;

	(void)app;
	switch (cmd) {
	case TUI_CMD_YANK:
	case TUI_CMD_INSPECT:
		return s->uuid != NULL;
	default:
		return true;
	}
}

static const char *text_name(const tui_view *v)
{
	return ((const text_state *)v->state)->name;
}

static void text_leave(tui_app *app, tui_view *v)
{
	text_state *s = v->state;

	(void)app;
	tui_wrap_free(s->lines, s->n_lines);
	free(s->name);
	free(s->title);
	free(s->text);
	free(s->uuid);
}

const tui_view_ops tui_view_text = {
	.title = "Text", .name = text_name, .list = true, .cmds = text_cmds,
	.draw = text_draw, .key = text_key, .can = text_can,
	.leave = text_leave,
};
