/* What every list screen shares: see list.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/app.h"
#include "tui/list.h"
#include "util/alloc.h"

/* Columns a step of horizontal scrolling moves. */
#define HSTEP 8
/* Rows a step of the mouse wheel moves. */
#define WHEEL_ROWS 3
/* Seconds between the two clicks of a double click. */
#define DOUBLE_CLICK 0.5

void tui_list_fit(tui_list *l)
{
	int page = l->page < 1 ? 1 : l->page;

	if (l->top > l->n - page)
		l->top = l->n - page;
	if (l->top < 0)
		l->top = 0;
	if (l->pager) {
		/* The cursor is the first line shown. */
		l->cur = l->top;
		return;
	}
	if (l->cur >= l->n)
		l->cur = l->n - 1;
	if (l->cur < 0)
		l->cur = 0;
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

/* Moves the cursor (a pager: the page) by delta rows; a page move takes
 * the page along, so that the cursor keeps its place on the screen. */
static void move_by(tui_list *l, int delta, bool page_too)
{
	if (l->pager || page_too)
		l->top += delta;
	if (!l->pager)
		l->cur += delta;
	else
		l->cur = l->top;
	tui_list_fit(l);
}

static bool move_key(tui_list *l, int cmd)
{
	int page = l->page < 1 ? 1 : l->page;
	int half = page / 2 < 1 ? 1 : page / 2;

	switch (cmd) {
	case TUI_CMD_UP: move_by(l, -1, false); break;
	case TUI_CMD_DOWN: move_by(l, 1, false); break;
	case TUI_CMD_PGUP: move_by(l, -page, true); break;
	case TUI_CMD_PGDN: move_by(l, page, true); break;
	case TUI_CMD_HALF_UP: move_by(l, -half, true); break;
	case TUI_CMD_HALF_DOWN: move_by(l, half, true); break;
	case TUI_CMD_HOME: move_by(l, -l->n - page, true); break;
	case TUI_CMD_END: move_by(l, l->n + page, true); break;
	case TUI_CMD_LEFT:
		if (l->hoff > l->hmax)
			l->hoff = l->hmax;
		l->hoff = l->hoff > HSTEP ? l->hoff - HSTEP : 0;
		break;
	case TUI_CMD_RIGHT:
		l->hoff = l->hoff + HSTEP < l->hmax ? l->hoff + HSTEP : l->hmax;
		break;
	default:
		return false;
	}
	return true;
}

void tui_list_init(tui_list *l, const char *filter_what, const char *const *states,
		   const char *const *sorts, tui_list_fn on_change, void *ctx)
{
	l->filter_what = filter_what;
	l->states = states;
	l->sorts = sorts;
	l->on_change = on_change;
	l->ctx = ctx;
	l->match = -1;
}

void tui_list_init_search(tui_list *l, const char *what,
			  bool (*has)(const void *ctx, int row, const char *text), void *ctx)
{
	tui_list_init(l, what, NULL, NULL, NULL, ctx);
	l->pager = true;
	l->has = has;
}

/* The next row from `from` (stepping by dir, wrapping around) that holds
 * the search text; -1 when none does. */
static int find(const tui_list *l, int from, int dir)
{
	for (int k = 0; l->filter[0] && k < l->n; k++) {
		int i = ((from + dir * k) % l->n + l->n) % l->n;

		if (l->has(l->ctx, i, l->filter))
			return i;
	}
	return -1;
}

/* Goes to the match found from `from`: a few rows below the top when the
 * page has to move. */
static void go_to_match(tui_list *l, int from, int dir)
{
	int page = l->page < 1 ? 1 : l->page;

	l->match = find(l, from, dir);
	if (l->match >= 0 && (l->match < l->top || l->match >= l->top + page)) {
		l->top = l->match > 2 ? l->match - 2 : 0;
		tui_list_fit(l);
	}
}

void tui_list_search(tui_list *l, int from)
{
	go_to_match(l, from, 1);
}

static void changed(tui_app *app, tui_list *l)
{
	if (l->has)
		go_to_match(l, l->top, 1);
	if (l->on_change)
		l->on_change(app, l->ctx);
	tui_list_fit(l);
}

void tui_list_set_filter(tui_app *app, tui_list *l, const char *text)
{
	snprintf(l->filter, sizeof l->filter, "%s", text);
	changed(app, l);
}

static int count(const char *const *names)
{
	int n = 0;

	while (names && names[n])
		n++;
	return n;
}

bool tui_list_handles(const tui_list *l, int cmd)
{
	switch (cmd) {
	case TUI_CMD_UP: case TUI_CMD_DOWN: case TUI_CMD_PGUP: case TUI_CMD_PGDN:
	case TUI_CMD_HALF_UP: case TUI_CMD_HALF_DOWN: case TUI_CMD_HOME:
	case TUI_CMD_END: case TUI_CMD_LEFT: case TUI_CMD_RIGHT: case TUI_CMD_MOUSE:
		return true;
	case TUI_CMD_FILTER:
		return l->filter_what != NULL;
	case TUI_CMD_STATE:
		return l->states != NULL;
	case TUI_CMD_SORT_NEXT: case TUI_CMD_SORT_PREV: case TUI_CMD_SORT_INVERT:
		return l->sorts != NULL;
	case TUI_CMD_NEXT_MATCH: case TUI_CMD_PREV_MATCH:
		return l->has != NULL;
	default:
		return false;
	}
}

unsigned tui_list_key(tui_app *app, tui_list *l, int cmd)
{
	int n;

	if (move_key(l, cmd))
		return TUI_REDRAW;
	if (!tui_list_handles(l, cmd) && cmd != TUI_CMD_BACK)
		return TUI_NONE;
	switch (cmd) {
	case TUI_CMD_FILTER:
		/* A list's filter is edited further; a search starts afresh. */
		l->typing = true;
		if (l->pager && l->filter[0])
			tui_list_set_filter(app, l, "");
		return TUI_REDRAW;
	case TUI_CMD_STATE:
		l->state = (l->state + 1) % (count(l->states) + 1);
		break;
	case TUI_CMD_SORT_NEXT:
	case TUI_CMD_SORT_PREV:
		n = count(l->sorts);
		l->sort = (l->sort + (cmd == TUI_CMD_SORT_NEXT ? 1 : n - 1)) % (n ? n : 1);
		l->desc = false;
		break;
	case TUI_CMD_SORT_INVERT:
		l->desc = !l->desc;
		break;
	case TUI_CMD_NEXT_MATCH:
		go_to_match(l, l->match >= 0 ? l->match + 1 : l->top, 1);
		return TUI_REDRAW;
	case TUI_CMD_PREV_MATCH:
		go_to_match(l, (l->match >= 0 ? l->match : l->top) - 1, -1);
		return TUI_REDRAW;
	case TUI_CMD_BACK:
		if (!l->filter[0] && !l->state)
			return TUI_NONE;
		l->filter[0] = 0;
		l->state = 0;
		break;
	default:
		return TUI_NONE;
	}
	changed(app, l);
	return TUI_REDRAW;
}

unsigned tui_list_type(tui_app *app, tui_list *l, int key, int cmd)
{
	char before[sizeof l->filter];

	if (key == 27) {                          /* Esc: clear, stop */
		l->typing = false;
		if (l->filter[0])
			tui_list_set_filter(app, l, "");
		return TUI_REDRAW;
	}
	if (cmd == TUI_CMD_OPEN) {                /* Enter: keep it */
		l->typing = false;
		return TUI_REDRAW;
	}
	/* Only the function keys (arrows, page keys) move: letters, Space and
	 * the control keys are text or editing. */
	if (key < 0 && move_key(l, cmd))
		return TUI_REDRAW;
	snprintf(before, sizeof before, "%s", l->filter);
	if (tui_text_edit(l->filter, sizeof l->filter, key) && strcmp(before, l->filter) != 0)
		changed(app, l);
	return TUI_REDRAW;
}

int tui_list_mouse(tui_list *l, int y, bool click, int wheel, double now, unsigned *flags)
{
	int row;

	*flags = TUI_NONE;
	if (wheel) {
		int before = l->top;

		/* The wheel scrolls the page; the cursor stays on it. */
		l->top += wheel * WHEEL_ROWS;
		if (!l->pager) {
			int page = l->page < 1 ? 1 : l->page;

			if (l->top > l->n - page)
				l->top = l->n - page;
			if (l->top < 0)
				l->top = 0;
			if (l->cur < l->top)
				l->cur = l->top;
			if (l->cur >= l->top + page)
				l->cur = l->top + page - 1;
		}
		tui_list_fit(l);
		*flags = l->top != before ? TUI_REDRAW : TUI_NONE;
		return TUI_CMD_NONE;
	}
	if (!click || l->pager || l->page < 1 || y < l->y0 || y >= l->y0 + l->page)
		return TUI_CMD_NONE;
	row = l->top + (y - l->y0);
	if (row >= l->n)
		return TUI_CMD_NONE;
	*flags = TUI_REDRAW;
	if (row == l->click_row && row == l->cur && now - l->click_time < DOUBLE_CLICK) {
		l->click_time = 0;
		return TUI_CMD_OPEN;
	}
	l->cur = row;
	l->click_row = row;
	l->click_time = now;
	tui_list_fit(l);
	return TUI_CMD_NONE;
}

const char *tui_list_status(const tui_list *l, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = 0;
	if (l->filter[0] || l->typing)
		o += (size_t)snprintf(buf + o, size - o, "%s: %s%s%s%s%s%s",
				      l->pager ? "search" : "filter", l->filter,
				      l->typing ? "_" : "",
				      l->has && l->match < 0 && l->filter[0] ? " (no match)" : "",
				      l->typing ? "  (in " : "",
				      l->typing ? l->filter_what : "", l->typing ? ")" : "");
	if (l->state && o < size)
		o += (size_t)snprintf(buf + o, size - o, "%sstate: %s", o ? "  " : "",
				      l->states[l->state - 1]);
	/* The first order is the natural one: said only when changed. */
	if (l->sorts && (l->sort || l->desc) && o < size)
		snprintf(buf + o, size - o, "%ssort: %s%s", o ? "  " : "", l->sorts[l->sort],
			 l->desc ? (tui_draw_utf8() ? " \u2193" : " (desc)") :
				   (tui_draw_utf8() ? " \u2191" : ""));
	return buf;
}

void tui_list_title(const tui_list *l, int y, int x, int w, enum tui_style st,
		    const char *title, bool busy, unsigned tick)
{
	char status[320];
	int used = tui_put(y, x, w, st, title);

	tui_put(y, x + used + 2, w - used - 2 - (busy ? 16 : 0), ST_WARN,
		tui_list_status(l, status, sizeof status));
	if (busy)
		tui_putf(y, x + w - 15, 15, ST_WARN, "%s reading", tui_spinner(tick));
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

/* Merges the sorted runs idx[lo .. mid) and idx[mid .. hi) through tmp. */
static void merge(int *idx, int *tmp, int lo, int mid, int hi, tui_cmp_fn cmp,
		  const void *ctx, int sign)
{
	int i = lo, j = mid, k = lo;

	while (i < mid && j < hi)
		tmp[k++] = sign * cmp(ctx, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
	while (i < mid)
		tmp[k++] = idx[i++];
	while (j < hi)
		tmp[k++] = idx[j++];
	memcpy(idx + lo, tmp + lo, (size_t)(hi - lo) * sizeof *idx);
}

int tui_cmp_larger(long long x, long long y, int a, int b)
{
	return x > y ? -1 : x < y ? 1 : a - b;
}

void tui_sort_index(int *idx, int n, tui_cmp_fn cmp, const void *ctx, bool desc)
{
	int *tmp;

	if (n < 2)
		return;
	tmp = sm_xcalloc((size_t)n, sizeof *tmp);
	/* Bottom-up merge sort: stable, no recursion, no global state. */
	for (int width = 1; width < n; width *= 2)
		for (int lo = 0; lo < n - width; lo += 2 * width)
			merge(idx, tmp, lo, lo + width, lo + 2 * width < n ? lo + 2 * width : n,
			      cmp, ctx, desc ? -1 : 1);
	free(tmp);
}

void tui_list_table(tui_list *l, tui_col *cols, size_t n, int x, int w, int y, int bottom)
{
	tui_cols_layout(cols, n, x, w);
	tui_cols_header(cols, n, y);
	tui_list_cols_begin(l, cols, n);
	tui_list_area(l, y + 1, bottom - y - 1);
}

void tui_list_cols_begin(tui_list *l, tui_col *cols, size_t n)
{
	l->hmax = 0;
	for (size_t i = 0; i < n; i++) {
		cols[i].hoff = l->hoff;
		cols[i].over = 0;
	}
}

void tui_list_cols_end(tui_list *l, const tui_col *cols, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cols[i].x >= 0 && cols[i].w == 0 && !cols[i].right && cols[i].over > l->hmax)
			l->hmax = cols[i].over;
}

void tui_list_hmeasure(tui_list *l, int text_w, int w)
{
	if (text_w - w > l->hmax)
		l->hmax = text_w - w;
}
