#!/bin/sh
# Screen test: the runs screen (J).  The journal of rebuilds, copies and
# rollbacks made by any process (here the CLI, before and while the UI
# runs), with outcome and details; Enter opens a run; u rolls back the copy
# under the cursor, typed in a protected environment, and only a copy that
# was not rolled back yet; filter as you type, by state, sorting, sideways
# scrolling of the details, 80x24 and below, NO_COLOR.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_runs
write_config
cd "$T" || exit 99
live_version() {
	sql "SELECT source_version FROM public.snapshots WHERE source_uuid = 'counter-1'"
}

# Run 1: a rebuild with 2 failures; run 2: a copy of Counter.
cli -e dev rebuild
cli -e dev copy -a Counter --yes
[ "$(live_version)" = 5 ] && ok "copied: counter-1 at version 5" ||
	{ fail "live version $(live_version)"; cat "$T/cli.out"; }

ui_start 80 24 -e prod
wait_line "Cart +6"
keys J
wait_for "2 runs"
wait_line "^ +#2 copy +done +.*replaced 3"
wait_line "^ +#1 rebuild +done with failures"
# The first row is the newest, and can be rolled back: the key bar says so.
wait_for "u rollback"
keys Down
wait_gone "u rollback"
# Enter opens a run with its details.
keys Enter
wait_for "rebuild Run #1: done with failures"
wait_for "Outcome      done with failures"
wait_line '"unknown_event": 2'
keys q
wait_for "2 runs"
# u on the rebuild: only a copy can be rolled back.
keys u
wait_for "Only a copy can be rolled back"
# u on the copy, protected: the name must be typed; a wrong one does nothing.
keys Up u
wait_for "Roll back copy #2"
wait_for "Type its name to roll back:"
type_text dev
keys Enter
wait_for "The name does not match: nothing rolled back"
[ "$(live_version)" = 5 ] && ok "nothing rolled back" || fail "live version $(live_version)"
keys u
wait_for "Type its name to roll back:"
type_text prod
keys Enter
wait_line "Copy #2 rolled back \(run #3\): restored 3, deleted 0"
[ "$(live_version)" = 3 ] && ok "rolled back: counter-1 at version 3" ||
	fail "live version after rollback: $(live_version)"
# The journal is read again: the rollback, and the copy says it was undone.
wait_for "3 runs"
wait_line "^ +#3 rollback +done +.*copy #2: restored 3"
wait_line "^ +#2 copy +done +.*rolled back by #3"
keys Down u
wait_for "This copy was rolled back already"

# A run by another process: r shows it.
cli -e dev rebuild -a Counter
keys r
wait_for "4 runs"
wait_line "^ +#4 rebuild +done +.*Counter: instances"

# Filter as you type, by state, and sorting.
keys / r e p l a c
wait_for "filter: replac_"
wait_for "1 run "
wait_line "^ +#2 copy"
not_on_screen "#4 rebuild"
keys Escape
wait_for "4 runs"
keys F
wait_for "state: failed"
wait_for "1 run "
wait_line "^ +#1 rebuild +done with failures"
keys F F F
wait_gone "state:"
keys '>'
wait_for "sort: kind"
wait_line "^ +#2 copy"
keys '>' '>' '>'
wait_gone "sort:"

# At 80x24 the details are cut; l scrolls them sideways.
keys End
wait_line "^ +#1 rebuild +done with failures"
not_on_screen "failed 2"
keys l l l l l l l l
wait_for "failed 2"
keys h h h h h h h h
wait_gone "failed 2"

# The runs screen resized below 80x24 and back; then wide.
resize 60 20
wait_for "Window too small: 60x20"
resize 80 24
wait_line "^ +#4 rebuild"
resize 160 40
wait_line "Run +Kind +Outcome +Started \(UTC\) +Took +By +Details"
wait_for "Cart,Counter: instances 9/9, failed 2"
resize 80 24
keys q
wait_line "Cart +6"
keys q q
expect_exit 0

# Without colours.
tm kill-session -t ui
UI_ENV=NO_COLOR=1 ui_start 80 24 -e dev
wait_line "Cart +6"
keys J
wait_for "4 runs"
has_colour && fail "colours despite NO_COLOR" || ok "no colours with NO_COLOR"
ui_signal TERM
expect_exit 143

finish
