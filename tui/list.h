/*
 * What every list screen shares: a cursor over n rows scrolled within the
 * visible page, and a filter.  A view embeds a tui_list, lets tui_list_key
 * try each command first, and calls tui_list_area when it draws; when the
 * filter changes, the list calls the view's on_change callback, which reads
 * or filters its rows again.
 */
#ifndef SM_TUI_LIST_H
#define SM_TUI_LIST_H

#include <stdbool.h>

typedef struct tui_app tui_app;

/* Called when the filter changed; ctx is the list's ctx (the view's state). */
typedef void (*tui_list_fn)(tui_app *app, void *ctx);

typedef struct tui_list {
	int cur, top, n;          /* cursor row, first visible row, rows */
	int page;                 /* rows visible at the last draw (0 before) */
	int y0;                   /* screen line of row top at the last draw */
	bool pager;               /* no cursor: moving scrolls the page */

	char filter[256];         /* "" = every row */
	const char *filter_what;  /* what the filter matches, for the prompt;
	                             NULL: the list has no filter */
	tui_list_fn on_change;    /* the filter changed */
	void *ctx;
} tui_list;

/* Sets up a list with a filter: what it matches (for the prompt), and the
 * view's callback for when it changes. */
void tui_list_init(tui_list *l, const char *filter_what, tui_list_fn on_change, void *ctx);

/* Handles the keys every list shares: moving and paging, "/" (asks for
 * the filter) and back while a filter is set (clears it).  Returns
 * TUI_REDRAW when it handled cmd, TUI_NONE when the view should. */
unsigned tui_list_key(tui_app *app, tui_list *l, int cmd);

/* Sets the filter (the on_change callback runs). */
void tui_list_set_filter(tui_app *app, tui_list *l, const char *text);

/* The list shows h rows from screen line y: sets page and y0 and keeps the
 * cursor within the rows and on the page. */
void tui_list_area(tui_list *l, int y, int h);
/* Keeps cur in [0, n) and on the page. */
void tui_list_fit(tui_list *l);

/* Starts drawing row i (on line y0 + i - top, columns x .. x + w - 1):
 * fills the cursor's line; returns whether row i is the cursor. */
bool tui_list_row(const tui_list *l, int i, int x, int w);
/* The screen line of row i. */
int tui_list_y(const tui_list *l, int i);

#endif
