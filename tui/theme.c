/* Colour theme with a monochrome fallback; NO_COLOR disables colours. */
#include "config.h"

#include <stdlib.h>

#include "tui/theme.h"

/* The theme's grey: colour 244 of 256, bright black of 16; with fewer
 * colours the default colour, dimmed (never bold black, which is invisible
 * on a dark background). */
#define GREY (-2)

typedef struct theme_entry {
	short fg, bg;      /* -1 = terminal default, GREY */
	attr_t colour_attr;/* extra attributes with colours */
	attr_t mono_attr;  /* attributes without colours */
} theme_entry;

static const theme_entry theme[ST__COUNT] = {
	[ST_NORMAL]    = { -1, -1, A_NORMAL, A_NORMAL },
	[ST_TITLE]     = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE | A_BOLD },
	[ST_KEYBAR]    = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[ST_KEY]       = { COLOR_WHITE, COLOR_CYAN, A_BOLD, A_REVERSE | A_BOLD },
	[ST_HEADER]    = { COLOR_CYAN, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[ST_CURSOR]    = { COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE },
	[ST_DIM]       = { GREY, -1, A_NORMAL, A_DIM },
	[ST_GOOD]      = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[ST_WARN]      = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	[ST_BAD]       = { COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[ST_BAR_FILL]  = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[ST_BAR_EMPTY] = { GREY, -1, A_NORMAL, A_DIM },
	[ST_DIFF]      = { COLOR_YELLOW, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[ST_DIALOG]    = { COLOR_WHITE, COLOR_BLACK, A_NORMAL, A_NORMAL },
	[ST_MARK]      = { COLOR_MAGENTA, -1, A_BOLD, A_BOLD },
};

static attr_t attrs[ST__COUNT];
static bool colour;

void tui_theme_init(void)
{
	const char *nc = getenv("NO_COLOR");

	colour = has_colors() && !(nc && *nc);
	if (colour && start_color() == ERR)
		colour = false;
	if (colour)
		use_default_colors();
	for (int i = 0; i < ST__COUNT; i++) {
		short fg = theme[i].fg;
		attr_t extra = 0;

		if (fg == GREY) {
			fg = COLORS >= 256 ? 244 : COLORS >= 16 ? 8 : -1;
			if (fg == -1)
				extra = A_DIM;
		}
		if (colour && (fg != -1 || theme[i].bg != -1) &&
		    init_pair((short)(i + 1), fg, theme[i].bg) != ERR)
			attrs[i] = COLOR_PAIR(i + 1) | theme[i].colour_attr | extra;
		else if (colour)
			attrs[i] = theme[i].colour_attr | extra;
		else
			attrs[i] = theme[i].mono_attr;
	}
}

attr_t tui_style(enum tui_style s)
{
	return (unsigned)s < ST__COUNT ? attrs[s] : A_NORMAL;
}

bool tui_theme_has_colour(void)
{
	return colour;
}
