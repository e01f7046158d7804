/*
 * What every list screen shares: a cursor over n rows scrolled within the
 * visible page (or a pager without a cursor), paging, horizontal scrolling
 * of the text that is cut, mouse clicks and the wheel, a filter typed as
 * you go ("/"), a state filter ("F") and a sort order ("<", ">", "I").
 *
 * A view embeds a tui_list as the first member of its state and sets
 * tui_view_ops.list: the app then gives the list the keys the view leaves,
 * the typed characters while the filter is being typed, and the mouse.
 * When the filter, the state or the order changes, the list calls the
 * view's on_change callback, which filters, sorts or reads its rows again
 * and sets n.  In a pager (a text) the filter is a search.
 */
#ifndef SM_TUI_LIST_H
#define SM_TUI_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "tui/draw.h"

typedef struct tui_app tui_app;

/* Called when the filter, state or order changed; ctx is the list's ctx
 * (the view's state). */
typedef void (*tui_list_fn)(tui_app *app, void *ctx);

typedef struct tui_list {
	int cur, top, n;          /* cursor row, first visible row, rows */
	int page;                 /* rows visible at the last draw (0 before) */
	int y0;                   /* screen line of row top at the last draw */
	bool pager;               /* no cursor: moving scrolls the page */
	int hoff;                 /* columns the cut text is scrolled left */
	int hmax;                 /* the most it can scroll (the last draw) */

	char filter[256];         /* "" = every row */
	bool typing;              /* "/" pressed: keys edit the filter */
	const char *filter_what;  /* what the filter matches (shown while typing);
	                             NULL: the list has no filter */
	/* A text (pager) searches instead of filtering: has tells whether row
	 * holds the text (ctx is the list's ctx); match is the row of the
	 * current match, -1 when the search finds nothing. */
	bool (*has)(const void *ctx, int row, const char *text);
	int match;
	const char *const *states;/* state filter names, NULL-terminated; NULL: none */
	int state;                /* 0: every state, k: states[k - 1] */
	const char *const *sorts; /* sort orders, NULL-terminated; NULL: fixed */
	int sort;                 /* index in sorts */
	bool desc;                /* sorts[sort] reversed */
	tui_list_fn on_change;
	void *ctx;

	int click_row;            /* the last row clicked, for a double click */
	double click_time;
} tui_list;

/* Sets up a list with a filter: what it matches (shown while typing), its
 * states and orders (NULL: none), and the view's callback for when the
 * filter, the state or the order changes. */
void tui_list_init(tui_list *l, const char *filter_what, const char *const *states,
		   const char *const *sorts, tui_list_fn on_change, void *ctx);

/* A text that searches: has tells whether a row holds the search text. */
void tui_list_init_search(tui_list *l, const char *what,
			  bool (*has)(const void *ctx, int row, const char *text), void *ctx);
/* The search again, from row from (the rows changed); scrolls to it. */
void tui_list_search(tui_list *l, int from);

/* Handles the commands every list shares: moving and paging, scrolling
 * sideways, "/" (starts typing the filter or the search), n and N in a
 * search, the state filter, the sort order, and back while a filter or
 * state is set (clears them).  Returns TUI_REDRAW when it handled cmd,
 * TUI_NONE when the view should. */
unsigned tui_list_key(tui_app *app, tui_list *l, int cmd);
/* Whether tui_list_key handles cmd in this list (for the help). */
bool tui_list_handles(const tui_list *l, int cmd);

/* While typing: a key edits the filter (Enter keeps it, Esc clears it,
 * the arrows and page keys still move).  Returns TUI_REDRAW. */
unsigned tui_list_type(tui_app *app, tui_list *l, int key, int cmd);

/* A mouse event at screen line y: the wheel scrolls (wheel < 0: up),
 * a click moves the cursor to the row.  Returns TUI_CMD_OPEN for a second
 * click on the same row within half a second, TUI_CMD_NONE otherwise;
 * *flags receives TUI_REDRAW when something moved. */
int tui_list_mouse(tui_list *l, int y, bool click, int wheel, double now, unsigned *flags);

/* Sets the filter (on_change runs). */
void tui_list_set_filter(tui_app *app, tui_list *l, const char *text);

/* "filter: abc  state: failed  sort: events" for the view's header (the
 * sort when it is not the first, natural one); "" when nothing is set.
 * Returns buf. */
const char *tui_list_status(const tui_list *l, char *buf, size_t size);

/* A list's first line, in w columns from (y, x): title (style st), then
 * the filter, state and order (tui_list_status), and "reading" with a
 * spinner at the right while busy. */
void tui_list_title(const tui_list *l, int y, int x, int w, enum tui_style st,
		    const char *title, bool busy, unsigned tick);

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

/* Sorts idx[0 .. n) (stable) by cmp(ctx, a, b) < 0 meaning a first;
 * desc reverses it.  For views that sort rows by an index array. */
typedef int (*tui_cmp_fn)(const void *ctx, int a, int b);
void tui_sort_index(int *idx, int n, tui_cmp_fn cmp, const void *ctx, bool desc);
/* For a tui_cmp_fn: the larger value first (what one looks for), then
 * rows a and b in their order. */
int tui_cmp_larger(long long x, long long y, int a, int b);

/* A table list: its columns laid out in w columns from x, their header on
 * line y, the rows from line y + 1 up to line bottom (not included);
 * starts the sideways scrolling (tui_list_cols_begin). */
void tui_list_table(tui_list *l, tui_col *cols, size_t n, int x, int w, int y, int bottom);

/* Horizontal scrolling of table columns: before the rows are drawn, the
 * flexible (text) columns scroll by hoff (and hmax starts again from 0);
 * after them, hmax is the most any of their cells was cut (several tables
 * may be drawn between the two). */
void tui_list_cols_begin(tui_list *l, tui_col *cols, size_t n);
void tui_list_cols_end(tui_list *l, const tui_col *cols, size_t n);
/* For a pager: a line of display width text_w drawn in w columns (hmax
 * starts from 0 when the view sets it so before drawing). */
void tui_list_hmeasure(tui_list *l, int text_w, int w);

#endif
