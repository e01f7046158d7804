/*
 * Drawing helpers on stdscr: every string that may come from the database
 * or the config is sanitised (invalid UTF-8 and control characters become
 * visible replacements) and measured by display width, never by bytes;
 * everything is clipped to the width it is given, so no helper can write
 * outside its box whatever the terminal size.
 */
#ifndef SM_TUI_DRAW_H
#define SM_TUI_DRAW_H

#include <stdbool.h>
#include <stddef.h>

#include "tui/theme.h"
#include "util/format.h"

/* Set once at start: whether the locale is UTF-8 (then "…", "█" etc. are
 * used, ASCII otherwise). */
void tui_draw_init(bool utf8);
bool tui_draw_utf8(void);

/* Display width of s after sanitising. */
int tui_text_width(const char *s);

/* Draws s at (y, x) in at most maxw columns with the style; a longer text
 * ends in an ellipsis.  Returns the columns used. */
int tui_put(int y, int x, int maxw, enum tui_style st, const char *s);
int tui_putf(int y, int x, int maxw, enum tui_style st, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Like tui_put, with the first skip display columns of s left out (a
 * leading ellipsis says so): text scrolled sideways. */
int tui_put_from(int y, int x, int maxw, enum tui_style st, const char *s, int skip);
/* Word-wrapped into at most max_lines lines of w columns ('\n' breaks a
 * line); returns the lines used. */
int tui_put_wrapped(int y, int x, int w, int max_lines, enum tui_style st, const char *s);
/* s cut into lines of at most w display columns, at a blank when a line
 * has one ('\n' breaks a line); *n lines, free with tui_wrap_free. */
char **tui_wrap(const char *s, int w, size_t *n);
void tui_wrap_free(char **lines, size_t n);
/* Right-aligned in a field of w columns ending at x + w. */
void tui_put_right(int y, int x, int w, enum tui_style st, const char *s);
/* Fills w columns with blanks in the style. */
void tui_fill(int y, int x, int w, enum tui_style st);
/* A progress bar of w columns, frac in [0, 1]. */
void tui_bar(int y, int x, int w, double frac);
/* A vertical line of h rows. */
void tui_vline(int y, int x, int h, enum tui_style st);
/* A horizontal line of w columns. */
void tui_hline(int y, int x, int w, enum tui_style st);
/* A box border (h, w >= 2) filled with the dialog style. */
void tui_box(int y, int x, int h, int w, enum tui_style st);

/* The spinner frame for tick. */
const char *tui_spinner(unsigned tick);

/* Table columns: a fixed width (w > 0) or flexible (w == 0, min width
 * minw, shares the rest).  Columns with a higher prio number are dropped
 * first when the width does not suffice; tui_cols_layout sets x (-1 when
 * hidden) and the final width.  A flexible column's cells that are cut
 * scroll sideways by hoff columns; over is the most a cell was cut. */
typedef struct tui_col {
	const char *title;
	int w, minw;
	bool right;
	int prio;
	int x;          /* out */
	int width;      /* out */
	int hoff;       /* in: columns scrolled (tui_list_cols_begin) */
	int over;       /* out: the widest cell minus width, at least 0 */
} tui_col;

void tui_cols_layout(tui_col *cols, size_t n, int x0, int total_w);
void tui_cols_header(const tui_col *cols, size_t n, int y);
/* Draws one cell (nothing when the column is hidden). */
void tui_cell(tui_col *col, int y, enum tui_style st, const char *s);

#endif
