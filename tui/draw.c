/* Drawing helpers: sanitised, width-measured, clipped text; bars; tables. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "tui/draw.h"

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
	memset(&st, 0, sizeof st);
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

const char *tui_num(long long v, char *buf)
{
	char digits[32];
	int n, o = 0;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	n = snprintf(digits, sizeof digits, "%llu", u);
	if (v < 0)
		buf[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = 0;
	return buf;
}

const char *tui_duration(double seconds, char *buf, size_t size)
{
	long long s;

	if (!(seconds >= 0) || seconds > 1e9) {
		snprintf(buf, size, "%s", "-");
		return buf;
	}
	s = (long long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, size, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, size, "%lld:%02lld", s / 60, s % 60);
	return buf;
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
	for (size_t i = 0; i < n; i++)
		tui_cell(&cols[i], y, ST_HEADER, cols[i].title);
}

void tui_cell(const tui_col *col, int y, enum tui_style st, const char *s)
{
	if (col->x < 0 || col->width <= 0 || !s)
		return;
	if (col->right)
		tui_put_right(y, col->x, col->width, st, s);
	else
		tui_put(y, col->x, col->width, st, s);
}

int tui_put_wrapped(int y, int x, int w, int max_lines, enum tui_style st, const char *s)
{
	char line[2048];
	int lines = 0;

	if (!s || w <= 0)
		return 0;
	while (*s && lines < max_lines) {
		size_t len = 0, last_break = 0;
		const char *p = s;

		/* Grow the line word by word while it fits. */
		while (*p && *p != '\n' && len < sizeof line - 1) {
			line[len] = *p;
			line[len + 1] = 0;
			if (tui_text_width(line) > w)
				break;
			if (*p == ' ')
				last_break = len;
			len++;
			p++;
		}
		if (*p && *p != '\n' && last_break > 0 && len < sizeof line - 1) {
			len = last_break;
			p = s + last_break + 1;
		}
		line[len] = 0;
		tui_put(y + lines, x, w, st, line);
		lines++;
		if (*p == '\n')
			p++;
		if (p == s)         /* a single character wider than w */
			p++;
		s = p;
	}
	return lines;
}
