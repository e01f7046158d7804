/*
 * snapmig's terminal user interface (ncursesw).
 *
 * The only entry point used by the front end: it takes over the terminal,
 * runs until the user quits and always restores the terminal before it
 * returns (also on errors and on SIGINT/SIGTERM/SIGHUP).  All database work
 * happens on background threads; the UI only polls and redraws.
 */
#ifndef SM_TUI_TUI_H
#define SM_TUI_TUI_H

#include "engine/snapmig.h"

/*
 * Runs the interface on the controlling terminal (stdin/stdout must be a
 * terminal).  env_name selects the environment and skips the picker; NULL
 * shows the environment picker.  cfg must stay valid until it returns.
 * Returns a process exit code: 0 after a normal quit, 130/143/129 when
 * ended by SIGINT/SIGTERM/SIGHUP, 2 when the terminal cannot be used (err
 * says why; the terminal is already restored, the caller prints it).
 */
int sm_tui_run(const sm_config *cfg, const char *env_name, sm_error *err);

#endif
