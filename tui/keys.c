/* The command table (keys.h) as data: lookups by key and by command. */
#include "config.h"

#include "tui/keys.h"
#include "tui/wcurses.h"

static const tui_command_info commands[TUI_CMD__COUNT] = {
#define TUI_X_INFO(id, k1, k2, k3, name, label, help) \
	[TUI_CMD_##id] = { { k1, k2, k3 }, name, label, help },
	TUI_COMMANDS(TUI_X_INFO)
#undef TUI_X_INFO
};

int tui_key_command(int key)
{
	if (key == 0)
		return TUI_CMD_NONE;
	for (int c = 0; c < TUI_CMD__COUNT; c++)
		for (int k = 0; k < 3; k++)
			if (commands[c].keys[k] == key)
				return c;
	return TUI_CMD_NONE;
}

const tui_command_info *tui_command(int cmd)
{
	return cmd >= 0 && cmd < TUI_CMD__COUNT ? &commands[cmd] : NULL;
}
