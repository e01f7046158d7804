#!/bin/sh
# Screen test: the copy screen in a protected environment: the engine's
# plan with the shape summary of the type under the cursor, the typed
# confirmation (a wrong name copies nothing), the verified
# result, the rollback (typed again), and a type whose guard trips (refused,
# then overridden), at 80x24 and wide.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_copy
write_config
live_version() {
	sql "SELECT source_version FROM public.snapshots WHERE source_uuid = 'counter-1'"
}

ui_start 80 24 -e prod
wait_line "Cart +6 +6 +0 +22"
# Rebuild Counter only (the row under the cursor).
keys Down b
wait_for "Plan: 3 instances, 6 events to fold, 1 worker."
keys y
wait_for "Done: 3 instances processed, 0 failed  (c: copy them live)" 60

keys c
wait_for "Copy migration.snapshots -> public.snapshots  (selected types)"
wait_line "Counter +3 +0 +0 +0 +0 +ok"
wait_for "No guard tripped."
# The plan's types sort too.
keys '>'
wait_for "sort: name"
keys '<'
wait_gone "sort:"
# The shape summary of the type under the cursor: {"n": ...} both sides.
wait_for "Shape of Counter: the same as the live snapshots (3 compared)"
resize 160 40
wait_line "Generated +Replace +Insert +Keep newer +Untouched +Stale +Guards"
wait_line "Counter +3 +3 +0 +0 +0 +0 +ok"
resize 80 24

# Protected: the name must be typed; a wrong one copies nothing.
keys c
wait_for "shape of the new snapshots: as the live snapshots"
wait_for "This environment is PROTECTED."
wait_for "Type its name to copy:"
type_text dev
keys Enter
wait_for "The name does not match: nothing copied"
[ "$(live_version)" = 3 ] && ok "nothing copied" || fail "live version $(live_version)"

keys c
wait_for "Type its name to copy:"
type_text prod
keys Enter
wait_line "Copy #[0-9]+ committed\.  Verified: yes" 30
wait_for "replaced 3  inserted 0  kept newer 0  removed 0  backed up 3"
[ "$(live_version)" = 5 ] && ok "copied: live counter-1 at version 5" ||
	fail "live version after copy: $(live_version)"

# Rollback, typed as well.
keys u
wait_for "Type its name to roll back:"
type_text prod
keys Enter
wait_line "Rolled back copy #[0-9]+ \(journal #[0-9]+\): restored 3, deleted 0" 30
[ "$(live_version)" = 3 ] && ok "rolled back: live counter-1 at version 3" ||
	fail "live version after rollback: $(live_version)"

# Cart was never rebuilt: its guard trips and the copy is refused.
keys q q
wait_line "Counter +3 +0 +3 +0 +generated"
keys Home c
wait_line "Cart +0 +0 +0 +0 +6 +empty"
wait_for "Shape of Cart: nothing replaced, nothing to compare"
wait_for "the copy is refused"
keys c
wait_for "Guards tripped: fix them, or override with o"
keys o
wait_for "OVERRIDDEN"
keys d
wait_for "Stale rows without replacement (d): REMOVED, Commanded will replay them"
keys q
wait_line "Cart +6 +6 +0 +22"
# Cart rebuilt: its new snapshots drop the live ones' "total" (not a
# field of the rules' initial state).
cli -e dev rebuild -a Cart
keys c
wait_for "Shape of Cart against the live snapshots (4 compared): 1 change"
wait_line "\.total removed \(number\) in 100% \(4\)"
keys q
keys q
wait_for "Pick an environment"
keys q
expect_exit 0

finish
