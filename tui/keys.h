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

/* Control keys: TK_CTRL('f') is Ctrl-F. */
#define TK_CTRL(c) ((c) & 0x1f)

/*
 * X(id, key1, key2, key3, key name, bottom-bar label, help text)
 * An empty label keeps a command out of the bottom bar (moving around is in
 * the help).  A command without keys (mouse, Ctrl-C) is listed in the help
 * only; Ctrl-C arrives as a signal.
 */
#define TUI_COMMANDS(X) \
	X(UP,         TK_FN(KEY_UP),    'k', 0, "Up/k",   "", "Move the cursor up / scroll up") \
	X(DOWN,       TK_FN(KEY_DOWN),  'j', 0, "Down/j", "", "Move the cursor down / scroll down") \
	X(PGUP,       TK_FN(KEY_PPAGE), TK_CTRL('b'), 0, "PgUp/^B", "", "One page up") \
	X(PGDN,       TK_FN(KEY_NPAGE), TK_CTRL('f'), ' ', "PgDn/^F/Space", "", "One page down") \
	X(HALF_UP,    TK_CTRL('u'), 0,  0, "^U",     "", "Half a page up") \
	X(HALF_DOWN,  TK_CTRL('d'), 0,  0, "^D",     "", "Half a page down") \
	X(HOME,       TK_FN(KEY_HOME),  'g', 0, "Home/g", "", "First line") \
	X(END,        TK_FN(KEY_END),   'G', 0, "End/G",  "", "Last line") \
	X(LEFT,       TK_FN(KEY_LEFT),  'h', 0, "Left/h", "", "Scroll the text that is cut to the left") \
	X(RIGHT,      TK_FN(KEY_RIGHT), 'l', 0, "Right/l","", "Scroll the text that is cut to the right (uuids, messages, details)") \
	X(MOUSE,      0,    0,   0, "Mouse",  "", "Click: move the cursor to a row (twice: open it); wheel: scroll") \
	X(OPEN,       '\n', '\r', TK_FN(KEY_ENTER), "Enter", "open", "Open the item under the cursor (a failure group: expand or collapse it)") \
	X(FILTER,     '/',  0,   0, "/",      "filter",   "Filter the list as you type (Enter keeps it, Esc clears it); in a text: search") \
	X(STATE,      'F',  0,   0, "F",      "state",    "Show only the rows in a state; again: the next state, then all") \
	X(NEXT_MATCH, 'n',  0,   0, "n",      "",         "Next match of the search") \
	X(PREV_MATCH, 'N',  0,   0, "N",      "",         "Previous match of the search") \
	X(NEXT_DIFF,  ']',  0,   0, "]",      "next diff","Next key whose values differ") \
	X(PREV_DIFF,  '[',  0,   0, "[",      "",         "Previous key whose values differ") \
	X(SORT_NEXT,  '>',  0,   0, ">",      "sort",     "Sort by the next column (the header names it)") \
	X(SORT_PREV,  '<',  0,   0, "<",      "",         "Sort by the previous column") \
	X(SORT_INVERT,'I',  0,   0, "I",      "",         "Invert the sort order") \
	X(SELECT,     'm',  0,   0, "m",      "mark",     "Mark or unmark the aggregate type under the cursor") \
	X(SELECT_ALL, 'a',  0,   0, "a",      "all",      "Mark all configured types (again: none)") \
	X(REFRESH,    'r',  0,   0, "r",      "refresh",  "Read the configuration file and the data again") \
	X(REBUILD,    'b',  0,   0, "b",      "rebuild",  "Rebuild the marked types (asks first, showing the plan)") \
	X(JOIN,       'B',  0,   0, "B",      "join",     "Join the rebuild another process runs on this target (any host): this process works on its plan too, with the workers you choose; cancelling stops this process only") \
	X(PROGRESS,   'p',  0,   0, "p",      "progress", "Show the rebuild in progress (or the last one)") \
	X(CANCEL,     'x',  0,   0, "x",      "cancel run","Cancel the running rebuild (committed work is kept)") \
	X(FAILURES,   'f',  0,   0, "f",      "failures", "Show the failures recorded by the rebuilds") \
	X(RUNS,       'J',  0,   0, "J",      "runs",     "Show the journal of runs: rebuilds, copies and rollbacks of any process") \
	X(RERUN,      'R',  0,   0, "R",      "re-run",   "Re-run only the failed instances of the group under the cursor") \
	X(SAVE,       's',  0,   0, "s",      "save",     "Save the failure list to a file") \
	X(INSPECT,    'i',  0,   0, "i",      "inspect",  "Inspect one instance: the live snapshot beside the reducer's fold up to its version (verify), with the paths that differ") \
	X(TARGET,     't',  0,   0, "t",      "target row","Inspect: the generated target row instead of the fold at the live version (again: back)") \
	X(DISCARD,    'D',  0,   0, "D",      "discard",  "Drop the generated rows of the marked types (or the one under the cursor) from the target schema (asks first)") \
	X(INSTANCES,  'L',  0,   0, "L",      "instances","List the instances of the type under the cursor (Enter does too)") \
	X(COPY,       'c',  0,   0, "c",      "copy",     "Copy generated snapshots into the live table (shows the plan first)") \
	X(YANK,       'y',  0,   0, "y",      "yank",     "Copy the uuid under the cursor to the clipboard (a snapshot: its JSON; Y: the live one)") \
	X(YANK_LIVE,  'Y',  0,   0, "Y",      "",         "Copy the live snapshot to the clipboard") \
	X(OVERRIDE,   'o',  0,   0, "o",      "override", "Override the copy guards that tripped") \
	X(REMOVE_STALE,'d', 0,   0, "d",      "stale rows","Toggle removing stale live rows that have no replacement") \
	X(ROLLBACK,   'u',  0,   0, "u",      "rollback", "Roll back a copy: the one just made, or the one under the cursor on the runs screen") \
	X(HELP,       '?',  TK_FN(KEY_F(1)), 0, "?/F1", "help", "Show every key") \
	X(BACK,       'q',  27,  0, "q/Esc",  "back",     "Go back (first: clear the filter); on the first screen: quit. Leaving an environment is refused while its rebuild runs") \
	X(INTERRUPT,  0,    0,   0, "Ctrl-C", "",         "Quit; while a rebuild, a copy or a rollback runs, asks first and cancels it (a rebuild keeps its committed work, a copy or rollback is rolled back whole)")

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
