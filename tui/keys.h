/*
 * The command table of the interface, as data.  One X-macro line per
 * command gives its keys, the key name shown to the user, the short label of
 * the bottom bar and the help text; the enum, the key lookup, the bottom bar
 * and the help screen are all generated from it, so the help cannot lie.
 *
 * Keys are tui key codes: a character is its code point, a curses function
 * key is TK_FN(KEY_...), 0 means "no key".
 */
#ifndef SM_TUI_KEYS_H
#define SM_TUI_KEYS_H

#define TK_FN(k) (-(k))

/* X(id, key1, key2, key3, key name, bottom-bar label, help text) */
#define TUI_COMMANDS(X) \
	X(UP,         TK_FN(KEY_UP),    'k', 0, "Up/k",   "up",       "Move the cursor up / scroll up") \
	X(DOWN,       TK_FN(KEY_DOWN),  'j', 0, "Down/j", "down",     "Move the cursor down / scroll down") \
	X(PGUP,       TK_FN(KEY_PPAGE), 0,   0, "PgUp",   "page up",  "One page up") \
	X(PGDN,       TK_FN(KEY_NPAGE), 0,   0, "PgDn",   "page down","One page down") \
	X(HOME,       TK_FN(KEY_HOME),  'g', 0, "Home/g", "top",      "First line") \
	X(END,        TK_FN(KEY_END),   'G', 0, "End/G",  "bottom",   "Last line") \
	X(OPEN,       '\n', '\r', TK_FN(KEY_ENTER), "Enter", "open", "Open the selected item / expand or collapse a group") \
	X(SELECT,     ' ',  0,   0, "Space",  "select",   "Select or unselect the aggregate type under the cursor") \
	X(SELECT_ALL, 'a',  0,   0, "a",      "all",      "Select all configured types (again: none)") \
	X(FILTER,     '/',  0,   0, "/",      "filter",   "Filter the list by a text (empty: show all)") \
	X(REFRESH,    'r',  0,   0, "r",      "refresh",  "Read the data again from the database") \
	X(REBUILD,    'b',  0,   0, "b",      "rebuild",  "Rebuild the selected types (asks first, showing the plan)") \
	X(PROGRESS,   'p',  0,   0, "p",      "progress", "Show the rebuild in progress (or the last one)") \
	X(CANCEL,     'x',  0,   0, "x",      "cancel run","Cancel the running rebuild (committed work is kept)") \
	X(FAILURES,   'f',  0,   0, "f",      "failures", "Show the failures recorded by the rebuilds") \
	X(RERUN,      'R',  0,   0, "R",      "re-run",   "Re-run only the failed instances of the group under the cursor") \
	X(SAVE,       's',  0,   0, "s",      "save",     "Save the failure list to a file") \
	X(INSPECT,    'i',  0,   0, "i",      "inspect",  "Inspect one instance: live and generated snapshot side by side") \
	X(INSTANCES,  'l',  0,   0, "l",      "instances","List the instances of the type under the cursor (Enter does too)") \
	X(COPY,       'c',  0,   0, "c",      "copy",     "Copy generated snapshots into the live table (shows the plan first)") \
	X(OVERRIDE,   'o',  0,   0, "o",      "override", "Override the copy guards that tripped") \
	X(REMOVE_STALE,'d', 0,   0, "d",      "stale rows","Toggle removing stale live rows that have no replacement") \
	X(ROLLBACK,   'u',  0,   0, "u",      "rollback", "Roll back the copy just made") \
	X(HELP,       '?',  TK_FN(KEY_F(1)), 0, "?/F1", "help", "Show every key") \
	X(BACK,       'q',  27,  0, "q/Esc",  "back",     "Go back; on the first screen: quit (asks if a rebuild runs)")

enum tui_cmd {
	TUI_CMD_NONE = -1,
#define TUI_X_ENUM(id, k1, k2, k3, name, label, help) TUI_CMD_##id,
	TUI_COMMANDS(TUI_X_ENUM)
#undef TUI_X_ENUM
	TUI_CMD__COUNT
};

typedef struct tui_command_info {
	int keys[3];
	const char *key_name;
	const char *label;
	const char *help;
} tui_command_info;

/* The command bound to key, TUI_CMD_NONE when none. */
int tui_key_command(int key);
const tui_command_info *tui_command(int cmd);

#endif
