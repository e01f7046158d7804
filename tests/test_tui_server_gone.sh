#!/bin/sh
# Screen test: the server goes away while the UI is open, also in the middle
# of a rebuild.  The UI shows the database error and stays usable; once the
# server is back, a refresh shows the data and a rebuild completes.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

: "${SNAPMIG_TEST_PGCTL:?run under tests/with-pg}"
new_store tui_gone
write_config

pgctl() {
	"$SNAPMIG_TEST_PGCTL" "$1" -m fast >/dev/null 2>&1 || fail "pg_ctl $1"
}

ui_start 80 24 -e dev
wait_line "Cart +6 +6 +0 +22"

# Refresh with the server down: the error, and the screen still works.
pgctl stop
keys r
wait_for "Inventory failed"
keys '?'
wait_for "Read the configuration file and the data again"
keys q
pgctl start
keys r
# The old numbers stay on screen while the refresh runs: wait for its end
# (the spinner takes the place of the error as soon as it starts).
wait_gone "Inventory failed"
wait_gone "reading the inventory"
wait_line "Cart +6 +6 +0 +22"
not_on_screen "Inventory failed"

# A rebuild held up by a lock on the live snapshots table (planning reads
# it; taken once the dialog has read the plan), then the server stops
# under it: the run stops with the error; after the restart a new rebuild
# completes.
keys a
wait_for "2 marked"
keys b
wait_for "Start the rebuild?"
lock public.snapshots
keys y
wait_line "Planning|Rebuild run #"
pgctl stop
wait "$LOCKER" 2>/dev/null
wait_for "Stopped by an error" 30
pgctl start
keys q
wait_line "Cart +6"
keys r
wait_line "Cart +6 +6 +0 +22"
keys b
wait_for "Start the rebuild?"
keys y
wait_for "Done: 9 instances processed, 2 failed" 60

ui_signal TERM
expect_exit 143
finish
