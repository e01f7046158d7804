/*
 * Colour theme: every drawing goes through a style, never a raw colour.
 * Without colours (terminal without them, or NO_COLOR set) each style falls
 * back to plain attributes (bold, reverse, dim, underline).
 */
#ifndef SM_TUI_THEME_H
#define SM_TUI_THEME_H

#include <stdbool.h>

#include "tui/wcurses.h"

enum tui_style {
	ST_NORMAL = 0,
	ST_TITLE,      /* top bar */
	ST_KEYBAR,     /* bottom bar */
	ST_KEY,        /* a key name in the bottom bar */
	ST_HEADER,     /* table headers */
	ST_CURSOR,     /* the selected row */
	ST_DIM,        /* greyed: not configured, unavailable */
	ST_GOOD,
	ST_WARN,
	ST_BAD,
	ST_BAR_FILL,
	ST_BAR_EMPTY,
	ST_DIFF,       /* differing snapshot keys */
	ST_DIALOG,
	ST_MARK,       /* selection marks, protected marker */
	ST__COUNT
};

/* Call after initscr.  Colours when the terminal has them and NO_COLOR is
 * unset or empty; the monochrome table otherwise. */
void tui_theme_init(void);
attr_t tui_style(enum tui_style s);
bool tui_theme_has_colour(void);

#endif
