#!/bin/sh
# Screen test: the environment picker (addresses, protected marker, last
# run, a failed connection with libpq's message), the overview's numbers
# for the fixture of tests/mkstore.c (shop) at 80x24 and wide, help, a resize
# below 80x24 and back, quitting and SIGTERM restoring the terminal; the
# title names the server libpq reached, not what the conninfo spells.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_envs
write_config

ui_start 80 24
wait_for "Pick an environment"
wait_line "dev +$PGHOST/"
wait_line "! prod .*protected"
wait_for "broken"
not_on_screen "password"
# The last-run lookups finish (no run has happened in this store).
wait_line "dev .*no runs yet"

has_colour && ok "colours by default" || fail "no colours without NO_COLOR"

# "/" filters the list as you type; Enter keeps the filter, q clears it.
keys /
wait_for "filter: _  (in the name or the address)"
type_text pro
wait_for "filter: pro_"
not_on_screen "broken"
keys Enter
wait_for "filter: pro"
not_on_screen "filter: pro_"
keys q
wait_for "broken"
# Esc while typing clears it too.
keys / b r o
wait_for "filter: bro_"
wait_gone "prod"
keys Escape
wait_gone "filter:"
wait_for "prod"

# A failed connection shows libpq's message and what to check; the picker
# stays usable.
keys End Enter
wait_for "Cannot connect to broken"
wait_for "no_such_db"
wait_for "Check: the host, port and dbname"

# Connect to dev: the overview of the fixture.
keys Home Enter
wait_for "Aggregates"
wait_line "Cart +6 +6 +0 +22 +not started"
wait_line "Counter +3 +0 +3 +6 +not started"
wait_line "Legacy +2 .*not in config"
# A type name with a terminal escape sequence and a wide character is shown
# sanitised (ESC replaced); the screen was not cleared by it.
wait_line "Odd.*\[2J表 +1 .*not in config"
wait_line "Type +Snapshots +Rebuild"
# The detail panel has every number for the row under the cursor, even when
# columns are dropped at 80 columns.
wait_for "Snapshots 6: v1 6; target v2"
wait_for "Full replays 6, catch-ups 0, events to fold 22"
wait_for "Target schema: 0 rows, 0 at v2, 0 current; failures 0"
wait_for "Pre-flight: 1 unknown event type, e.g. Elixir.Shop.Cart.Events.Abandoned"
wait_for "Reducer: rules"
keys Down
wait_for "Snapshots 3: v1 3; target v1"
wait_for "Full replays 0, catch-ups 3, events to fold 6"
wait_for "Pre-flight: every event type in its streams has a handler"
keys Down
wait_for "not in the configuration"

# Help is generated from the key table: the keys of this screen first,
# then the others'; "/" searches it.
keys '?'
wait_for "Keys of the Aggregates screen"
wait_line "^ +b +Rebuild the marked types"
not_on_screen "Keys of the other screens"
keys End
wait_for "Keys of the other screens"
wait_line "^ +u +Roll back a copy"
keys Home / v a l u e s Space d
wait_for "search: values d_"
wait_line "^ +\] +Next key whose values differ"
keys Enter
wait_for "search: values d"
# q clears the search first, then leaves.
keys q
wait_gone "search: values d"
keys q
wait_line "Cart +6"

# Too small, then back.
resize 70 20
wait_for "Window too small: 70x20"
wait_for "needs at least 80x24"
resize 80 24
wait_line "Cart +6 +6 +0 +22"

# Wide: the columns dropped at 80 come back (versions, target, pre-flight).
resize 160 40
wait_line "Cart +6 +v1 6 +v2 +6 +0 +22 +1 unknown +not started"
wait_line "Counter +3 +v1 3 +v1 +0 +3 +6 +ok +not started"
resize 80 24
wait_line "Cart +6 +6 +0 +22"

# q goes back to the picker, q there quits; the terminal is restored.
keys q
wait_for "Pick an environment"
resize 160 40
wait_line "dev +$PGHOST/tui_envs +no runs yet"
resize 80 24
keys q
expect_exit 0

# SIGTERM: the terminal is restored too, exit 143.  NO_COLOR: no colours.
tm kill-session -t ui
UI_ENV=NO_COLOR=1 ui_start 80 24 -e dev
wait_line "Cart +6 +6"
has_colour && fail "colours despite NO_COLOR" || ok "no colours with NO_COLOR"
ui_signal TERM
expect_exit 143

# The title names what libpq connected to (19.3): an environment whose
# conninfo names only the database reaches the server through PGHOST (the
# harness's socket directory) and libpq's default port.
tm kill-server >/dev/null 2>&1
SOCK="$T/tmux-bare.sock"   # (a new server: the last one may still be exiting)
port=$(psql_db postgres "SHOW port")
sed 's|^environments = ($|&\
  { name = "bare"; conninfo = "dbname=tui_envs user=postgres"; },|' "$T/snapmig.conf" >"$T/bare.conf" &&
	mv "$T/bare.conf" "$T/snapmig.conf"
ui_start 80 24 -e bare
wait_line "Cart +6 +6"
wait_for "| bare ($PGHOST:$port/tui_envs)"
keys q q
expect_exit 0

finish
