/* The one place that includes curses: the wide-character ncurses API. */
#ifndef SM_TUI_WCURSES_H
#define SM_TUI_WCURSES_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>

#endif
