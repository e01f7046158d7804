/* Drawing helpers: sanitised, width-measured, clipped text; bars; tables. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui/draw.h"
#include "util/alloc.h"

static bool utf8;

void tui_draw_init(bool is_utf8)
{
	utf8 = is_utf8;
}

bool tui_draw_utf8(void)
{
	return utf8;
}

/* Longest line we ever draw; wider terminals are clipped to it. */
#define MAX_COLS 1024

/*
 * Reads the next display character of *s (advancing it), sanitised: invalid
 * or truncated UTF-8 and non-printable characters become a replacement,
 * tabs and line breaks a blank.  Returns false at the end of the string.
 */
static bool next_char(const char **s, mbstate_t *st, wchar_t *wc, int *width)
{
	size_t n;

	if (!**s)
		return false;
	n = mbrtowc(wc, *s, strnlen(*s, 8), st);
	if (n == (size_t)-1 || n == (size_t)-2) {
		memset(st, 0, sizeof *st);
		*wc = utf8 ? 0xFFFD : L'?';
		(*s)++;
	} else {
		*s += n ? n : 1;
	}
	if (*wc == L'\t' || *wc == L'\n' || *wc == L'\r')
		*wc = L' ';
	else if (*wc < 0x20 || (*wc >= 0x7f && *wc < 0xa0))
		*wc = utf8 ? 0xFFFD : L'?';
	*width = wcwidth(*wc);
	if (*width < 0) {
		*wc = utf8 ? 0xFFFD : L'?';
		*width = 1;
	}
	return true;
}

int tui_text_width(const char *s)
{
	mbstate_t st;
	wchar_t wc;
	int w, total = 0;

	if (!s)
		return 0;
	memset(&st, 0, sizeof st);
	while (next_char(&s, &st, &wc, &w))
		total += w;
	return total;
}

int tui_put(int y, int x, int maxw, enum tui_style style, const char *s)
{
	return tui_put_from(y, x, maxw, style, s, 0);
}

int tui_put_from(int y, int x, int maxw, enum tui_style style, const char *s, int skip)
{
	wchar_t buf[MAX_COLS + 2];
	int widths[MAX_COLS + 2];
	size_t n = 0;
	int used = 0;
	bool truncated = false;
	mbstate_t st;
	wchar_t wc;
	int w;

	if (!s || y < 0 || x < 0 || y >= LINES || x >= COLS)
		return 0;
	/* curses would wrap a longer text onto the next line. */
	if (maxw > COLS - x)
		maxw = COLS - x;
	if (maxw <= 0)
		return 0;
	if (maxw > MAX_COLS)
		maxw = MAX_COLS;
	if (skip > 0) {
		/* Scrolled only as far as the end shows. */
		int cut = tui_text_width(s) - maxw;

		skip = cut <= 0 ? 0 : skip > cut ? cut : skip;
	}
	memset(&st, 0, sizeof st);
	if (skip > 0) {
		/* Leave out skip columns; the ellipsis takes the first one. */
		int skipped = 0;

		while (skipped < skip + 1 && next_char(&s, &st, &wc, &w))
			skipped += w;
		if (skipped == 0)
			return 0;
		buf[n] = utf8 ? 0x2026 : L'~';
		widths[n++] = 1;
		used = 1;
		/* A wide character cut in half: blank its second column. */
		for (int pad = skipped - skip - 1; pad > 0 && used < maxw; pad--) {
			buf[n] = L' ';
			widths[n++] = 1;
			used++;
		}
	}
	while (next_char(&s, &st, &wc, &w)) {
		if (used + w > maxw || n >= MAX_COLS) {
			truncated = true;
			break;
		}
		buf[n] = wc;
		widths[n++] = w;
		used += w;
	}
	if (truncated) {
		/* Make room for the ellipsis (one column). */
		while (n > 0 && used + 1 > maxw)
			used -= widths[--n];
		buf[n++] = utf8 ? 0x2026 : L'~';
		used++;
	}
	buf[n] = 0;
	attrset(tui_style(style));
	mvaddnwstr(y, x, buf, (int)n);
	attrset(A_NORMAL);
	return used;
}

int tui_putf(int y, int x, int maxw, enum tui_style st, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return tui_put(y, x, maxw, st, buf);
}

void tui_put_right(int y, int x, int w, enum tui_style st, const char *s)
{
	int tw = tui_text_width(s);

	if (w <= 0)
		return;
	if (tw > w)
		tw = w;
	tui_put(y, x + w - tw, tw, st, s);
}

void tui_fill(int y, int x, int w, enum tui_style st)
{
	if (w <= 0 || y < 0 || x < 0)
		return;
	attrset(tui_style(st));
	mvhline(y, x, ' ', w);
	attrset(A_NORMAL);
}

void tui_bar(int y, int x, int w, double frac)
{
	int fill;

	if (w <= 0)
		return;
	if (!(frac >= 0))
		frac = 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * w + 0.5);
	if (fill == w && frac < 1)
		fill = w - 1;
	for (int i = 0; i < w; i++) {
		const char *c = i < fill ? (utf8 ? "\u2588" : "#") : (utf8 ? "\u2591" : ".");

		tui_put(y, x + i, 1, i < fill ? ST_BAR_FILL : ST_BAR_EMPTY, c);
	}
}

/* A line of n cells from (y, x), down or across, clipped to the screen. */
static void line(int y, int x, int n, bool down, enum tui_style st)
{
	if (n <= 0 || y < 0 || x < 0 || y >= LINES || x >= COLS)
		return;
	attrset(tui_style(st));
	if (down)
		mvvline(y, x, ACS_VLINE, n);
	else
		mvhline(y, x, ACS_HLINE, n);
	attrset(A_NORMAL);
}

void tui_vline(int y, int x, int h, enum tui_style st)
{
	line(y, x, h, true, st);
}

void tui_hline(int y, int x, int w, enum tui_style st)
{
	line(y, x, w, false, st);
}

void tui_box(int y, int x, int h, int w, enum tui_style st)
{
	if (h < 2 || w < 2)
		return;
	for (int i = 0; i < h; i++)
		tui_fill(y + i, x, w, st);
	attrset(tui_style(st));
	mvhline(y, x + 1, ACS_HLINE, w - 2);
	mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
	mvvline(y + 1, x, ACS_VLINE, h - 2);
	mvvline(y + 1, x + w - 1, ACS_VLINE, h - 2);
	mvaddch(y, x, ACS_ULCORNER);
	mvaddch(y, x + w - 1, ACS_URCORNER);
	mvaddch(y + h - 1, x, ACS_LLCORNER);
	mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
	attrset(A_NORMAL);
}

const char *tui_spinner(unsigned tick)
{
	static const char *const ascii[] = { "|", "/", "-", "\\" };
	static const char *const braille[] = {
		"\u280b", "\u2819", "\u2839", "\u2838", "\u283c", "\u2834",
		"\u2826", "\u2827", "\u2807", "\u280f",
	};

	return utf8 ? braille[tick % 10] : ascii[tick % 4];
}

static int col_need(const tui_col *c)
{
	return c->w > 0 ? c->w : c->minw;
}

void tui_cols_layout(tui_col *cols, size_t n, int x0, int total_w)
{
	bool visible[64];
	int need, flex, extra, x;

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		visible[i] = true;
	for (;;) {
		int worst = -1;

		need = 0;
		flex = 0;
		for (size_t i = 0; i < n; i++) {
			if (!visible[i])
				continue;
			need += col_need(&cols[i]) + (need ? 1 : 0);
			flex += cols[i].w == 0;
		}
		if (need <= total_w)
			break;
		for (size_t i = 0; i < n; i++)
			if (visible[i] && cols[i].prio > 0 &&
			    (worst < 0 || cols[i].prio >= cols[worst].prio))
				worst = (int)i;
		if (worst < 0)
			break;          /* nothing left to drop: clipped by tui_put */
		visible[worst] = false;
	}
	extra = total_w - need;
	if (extra < 0)
		extra = 0;
	x = x0;
	for (size_t i = 0; i < n; i++) {
		if (!visible[i]) {
			cols[i].x = -1;
			cols[i].width = 0;
			continue;
		}
		cols[i].width = col_need(&cols[i]);
		if (cols[i].w == 0 && flex > 0) {
			int share = extra / flex;

			cols[i].width += share;
			extra -= share;
			flex--;
		}
		if (x + cols[i].width > x0 + total_w)
			cols[i].width = x0 + total_w - x;
		cols[i].x = cols[i].width > 0 ? x : -1;
		x += cols[i].width + 1;
	}
}

void tui_cols_header(const tui_col *cols, size_t n, int y)
{
	for (size_t i = 0; i < n; i++) {
		const tui_col *c = &cols[i];

		if (c->x < 0 || c->width <= 0)
			continue;
		if (c->right)
			tui_put_right(y, c->x, c->width, ST_HEADER, c->title);
		else
			tui_put(y, c->x, c->width, ST_HEADER, c->title);
	}
}

void tui_cell(tui_col *col, int y, enum tui_style st, const char *s)
{
	int cut, skip;

	if (col->x < 0 || col->width <= 0 || !s)
		return;
	if (col->right) {
		tui_put_right(y, col->x, col->width, st, s);
		return;
	}
	/* A cut cell scrolls sideways only as far as its end shows. */
	cut = tui_text_width(s) - col->width;
	if (cut > col->over)
		col->over = cut;
	skip = col->w == 0 && cut > 0 ? col->hoff : 0;
	if (skip > cut)
		skip = cut;
	tui_put_from(y, col->x, col->width, st, s, skip);
}

char **tui_wrap(const char *s, int w, size_t *n)
{
	char **out = NULL;
	size_t cap = 0;

	*n = 0;
	if (w < 1)
		w = 1;
	while (s && *s) {
		const char *p = s, *brk = NULL, *end;
		mbstate_t st;
		wchar_t wc;
		int cw, used = 0;

		/* As many characters as fit; the break after the last blank
		 * that fits, when there is one. */
		memset(&st, 0, sizeof st);
		for (;;) {
			const char *q = p;

			if (!*p || *p == '\n' || !next_char(&q, &st, &wc, &cw))
				break;
			if (used + cw > w && used > 0)
				break;
			used += cw;
			p = q;
			if (wc == L' ')
				brk = p;
		}
		end = *p && *p != '\n' && brk ? brk : p;
		out = sm_xgrow(out, &cap, *n + 1, sizeof *out);
		out[(*n)++] = sm_xstrndup(s, (size_t)(end - s));
		s = end;
		if (*s == '\n')
			s++;
	}
	return out;
}

void tui_wrap_free(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

int tui_put_wrapped(int y, int x, int w, int max_lines, enum tui_style st, const char *s)
{
	size_t n;
	char **lines = tui_wrap(s, w, &n);
	int used = 0;

	for (size_t i = 0; i < n && used < max_lines; i++)
		tui_put(y + used++, x, w, st, lines[i]);
	tui_wrap_free(lines, n);
	return used;
}
