#!/bin/sh
# Screen test: a rebuild from the overview (plan in the confirmation, bars
# while it runs, failures shown at the end), the failure drill-down (group,
# expand, inspect, save, re-run only the failed), the overview afterwards,
# the side-by-side snapshot inspection, and quitting while a rebuild runs
# (asked, not assumed).
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_rebuild
write_config
cd "$T" || exit 99

ui_start 80 24 -e dev
wait_line "Cart +6 +6 +0 +22"
keys a
wait_for "2 marked"
keys b
wait_for "Rebuild into schema migration:"
wait_line "Cart +6 instances, 22 events"
wait_line "Counter +3 instances, 6 events"
wait_line "Plan: 9 instances, 28 events to fold, [12] workers?\\."
wait_for "Pre-flight: 1 unknown event type"
keys y
wait_for "Rebuild run #"
wait_for "Done: 9 instances processed, 2 failed" 60
wait_line "All types .*100%"
wait_line "Counter .*100%"
wait_for "instances 3/3  failed 0"
wait_for "instances 6/6  failed 2"
# The first rebuild of this store wrote its rows.
expect_sql "SELECT count(*) FROM migration.snapshots" 7 "7 rows generated"

# Failures: grouped by type, kind and event type; expand; inspect; save.
keys f
wait_line "Cart +unknown event +Elixir.Shop.Cart.Events.Abandoned +2 instances"
keys Enter
wait_line "cart-5 +v3 "
wait_line "cart-6 +v3 "
keys Down i
wait_for "Instance cart-5"
wait_for "recorded failure: unknown event at v3 Elixir.Shop.Cart.Events.Abandoned"
keys t
wait_for "live public  source_version 1"
wait_for "generated migration: no snapshot"
keys q
wait_line "cart-5 +v3 "
keys s
wait_for "Write the listed failures (tab-separated) to:"
keys Enter
wait_for "Saved 2 failures to snapmig-failures-dev.tsv"
if [ "$(wc -l <"$T/snapmig-failures-dev.tsv")" -eq 3 ] &&
   grep -q "^Elixir.Shop.Cart	unknown_event	Elixir.Shop.Cart.Events.Abandoned	3	cart-5	" "$T/snapmig-failures-dev.tsv"; then
	ok "failure list saved"
else
	fail "failure list: $(cat "$T/snapmig-failures-dev.tsv")"
fi

# Re-run only the failed instances of the group: 2 instances planned.
keys Home R
wait_for "Re-run only the 2 failed instances of"
keys y
wait_for "Rebuild run #"
wait_for "Done: 2 instances processed, 2 failed" 60
wait_for "instances 2/2  failed 2"

# Back on the overview (through the re-run's progress, the failures and the
# first run's progress) the target schema's state shows.
keys q q q
# Events to fold now count the resume: only the failed instances' events.
wait_line "Cart +6 +6 +0 +6 +2 failed"
wait_line "Counter +3 +0 +3 +0 +generated"

# Inspect a caught-up instance: live v3 {"n": 3}, what the reducer makes
# at v3 is equal; t: the generated row, v5 {"n": 5}.
keys i
wait_for "source_uuid of the aggregate instance"
type_text counter-1
keys Enter
wait_for "equal: the reducer's fold up to version 3 is the live snapshot"
keys t
wait_for "generated row: 1 top-level key differs"
wait_for "live public  source_version 3"
wait_for "generated migration  source_version 5"
wait_line '"n": 3 .*"n": 5'
keys q

# Quitting during a rebuild asks; "no" keeps it running, "yes" cancels it.
# A transaction holding the generated table (taken once the plan has been
# read) keeps the run from finishing.
wait_for "2 marked"
keys b
wait_for "Start the rebuild?"
lock migration.snapshots
keys y
wait_for "Rebuild run #"
wait_line "rebuild (planning|running)"
# The run goes on while other screens are shown; leaving the environment
# is refused while it runs.
keys q
wait_line "Cart +6"
keys q
wait_for "A rebuild is running in this environment"
# Cancel from the progress screen asks first; "n" keeps it running.
keys p x
wait_for "Every committed batch is kept"
keys n
wait_line "x cancels \(committed work is kept\)|Planning: reading"
# Ctrl-C asks; "n" keeps the run going.
keys C-c
wait_for "Cancel the rebuild and quit?"
keys n
wait_line "rebuild (planning|running)"
# "y" cancels it (committed work is kept) and quits once it has stopped.
keys C-c
wait_for "Cancel the rebuild and quit?"
started=$(date +%s%N)
keys y
expect_exit 0
# The run was waiting for the lock (held for another minute): the cancel
# interrupted that wait instead of waiting it out, and the overview's calls
# blocked on the same lock did not keep the user waiting either (quitting
# gives them 3 s).
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
if [ "$elapsed_ms" -lt 6000 ]; then
	ok "cancelled and quit in $elapsed_ms ms"
else
	fail "cancel and quit took $elapsed_ms ms"
fi
unlock
outcome=$(sql "SELECT outcome FROM migration.snapmig_runs ORDER BY run_id DESC LIMIT 1")
case $outcome in
cancel*) ok "the journal says the last run was cancelled ($outcome)" ;;
*) fail "last run outcome: $outcome" ;;
esac

finish
