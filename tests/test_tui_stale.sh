#!/bin/sh
# Screen test (issue 19.6 and 19.4): no stale text, no freeze.
#  - the help says what q does;
#  - a status message belongs to the screen it was said on;
#  - the key bar offers "x cancel run" while a rebuild runs, not after;
#  - the quit dialog follows the run, also across a resize to "too small";
#  - the rebuild plan's counts add up;
#  - leaving the overview while the pre-flight waits for a lock is
#    immediate, and quitting does not wait for the pre-flight either.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_stale
write_config
cd "$T" || exit 99

# The target schema exists (a rebuild of Counter), so that it can be locked.
cli -e dev rebuild -a Counter ||
	{ fail "CLI rebuild: $(cat "$T/cli.out")"; }

# waiting_on_lock: a query of snapmig's waits for a lock.
waiting_on_lock() {
	deadline=$(( $(date +%s) + 20 ))
	until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	              AND query NOT LIKE '%pg_sleep%'")" -ge 1 ]; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "no query waits for the lock"
			return 1
		fi
		sleep 0.1
	done
	ok "a query waits for the lock"
}
ms_since() {
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

ui_start 80 24 -e dev
wait_line "Cart +6"

# Help for q: what it does, wide enough to read the whole line.
resize 200 40
keys '?'
wait_for "Go back (first: clear the filter); on the first screen: quit. Leaving an environment is refused while its rebuild runs"
not_on_screen "asks if a rebuild runs"
keys q
resize 80 24
wait_line "Cart +6"

# A message belongs to its screen.
keys c
wait_for "the copy is refused"
keys u
wait_for "Nothing to roll back on this screen yet"
keys q
wait_line "Cart +6"
not_on_screen "Nothing to roll back"
keys L
wait_for "Cart  Elixir.Shop.Cart: 6 instances"
not_on_screen "Nothing to roll back"
keys q

# A rebuild held by a lock on the generated table (taken once its plan
# has been read): x is offered while it runs; the quit dialog says it
# runs; the run ends while the terminal is too small; back, the dialog
# says it has ended.
keys Home b
wait_for "Start the rebuild?"
lock migration.snapshots
keys y
wait_for "Rebuild run #"
wait_for "x cancel run"
keys C-c
wait_line "A rebuild is running( \\([0-9]+%\\))?\\."
resize 70 20
wait_for "Window too small: 70x20"
unlock
deadline=$(( $(date +%s) + 60 ))
until [ "$(sql "SELECT outcome FROM migration.snapmig_runs ORDER BY run_id DESC LIMIT 1")" != running ] ||
      [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
resize 80 24
wait_for "The rebuild has ended (done)."
not_on_screen "A rebuild is running"
keys n
wait_for "Done: 6 instances processed, 2 failed"
not_on_screen "x cancel run"
not_on_screen "Cancel the rebuild and quit?"
keys q
wait_line "Cart +6"

# The plan's counts add up: its instances are the sum of its types'
# (sm_rebuild_plan_read plans as the run does).
keys a b
wait_line "Plan: [0-9,]+ instances, [0-9,]+ events to fold, [0-9]+ workers?\\."
total=$(screen | grep -oE "Plan: [0-9,]+ instances" | tr -d ',' | grep -oE "[0-9]+")
sum=$(screen | grep -oE "(Cart|Counter) +[0-9,]+ instances," | tr -d ',' |
	awk '{ n += $2 } END { print n + 0 }')
if [ -n "$total" ] && [ "$total" = "$sum" ]; then
	ok "plan adds up: $total = $sum"
else
	fail "plan does not add up: $total vs $sum"
	screen
fi
keys n

# Leaving the overview while the pre-flight waits for a lock on the events.
lock public.events
keys r
waiting_on_lock
started=$(date +%s%N)
keys q
wait_for "Pick an environment" 10
elapsed=$(ms_since "$started")
if [ "$elapsed" -lt 2000 ]; then
	ok "left the overview in $elapsed ms"
else
	fail "leaving the overview took $elapsed ms"
fi
# Quitting does not wait for the pre-flight (still waiting) for long.
started=$(date +%s%N)
keys q
expect_exit 0
elapsed=$(ms_since "$started")
if [ "$elapsed" -lt 2000 ]; then
	ok "quit in $elapsed ms"
else
	fail "quitting took $elapsed ms"
fi
unlock

finish
