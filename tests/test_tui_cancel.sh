#!/bin/sh
# Screen test (issue 19.4): against a slow server (every byte held 200 ms
# each way by bench/snapmig-latency-proxy, so each round trip costs 0.4 s
# and connecting takes seconds), nothing the interface waits for keeps it
# from answering:
#  - leaving the overview while its pre-flight waits for a lock on the
#    events returns at once, and the query is cancelled on the server
#    (the lock is still held);
#  - quitting while it waits ends the process at once, its query
#    cancelled too;
#  - quitting while connecting ends the process at once;
#  - quitting while a copy waits for a lock asks first, then cancels it:
#    nothing of it is written, and the journal says so.
# "At once" is asserted with a generous bound (2 s; 3 s for the copy) for
# a loaded machine; the times are printed.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

PROXY="$SNAPMIG_BUILDDIR/bench/snapmig-latency-proxy"
[ -x "$PROXY" ] || { echo "SKIP: $PROXY is not built"; exit 77; }

new_store tui_cancel
# The environments reach the store through the proxy.
mkdir "$T/slow" || exit 99
"$PROXY" --listen "$T/slow" --target "$PGHOST" --delay-ms 200 >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
deadline=$(( $(date +%s) + 10 ))
until grep -q ready "$T/proxy.out" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
grep -q ready "$T/proxy.out" || { echo "the latency proxy did not start"; exit 99; }
LOCKER=
cleanup() {
	tm kill-server >/dev/null 2>&1
	[ -z "$LOCKER" ] || kill "$LOCKER" 2>/dev/null
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	rm_tmpdir
}
CONNINFO="host=$T/slow dbname=$DB user=postgres"
write_config
cd "$T" || exit 99

# new_tmux: the next ui_start in a tmux server of its own (starting one
# while the last one still exits fails: "server exited unexpectedly").
new_tmux() {
	tm kill-server >/dev/null 2>&1
	SOCK="$T/tmux.$(date +%s%N).sock"
}
ms_since() {
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}
# within MS WHAT STARTED: the time since STARTED is below MS.
within() {
	elapsed=$(ms_since "$3")
	if [ "$elapsed" -lt "$1" ]; then
		ok "$2 in $elapsed ms"
	else
		fail "$2 took $elapsed ms (more than $1)"
	fi
}
# waiting: how many of snapmig's queries wait for a lock on the server
# (lock, of tests/tui_lib.sh, takes it; not through the proxy).
waiting() {
	sql "SELECT count(*) FROM pg_stat_activity
	     WHERE application_name = 'snapmig' AND wait_event_type = 'Lock'"
}
# until_waiting N: until N of snapmig's queries wait for the lock.
until_waiting() {
	deadline=$(( $(date +%s) + 30 ))
	until [ "$(waiting)" -ge "$1" ]; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "not $1 queries of snapmig's wait for the lock: $(waiting)"
			return 1
		fi
		sleep 0.05
	done
	ok "$1 queries of snapmig's wait for the lock"
}
# none_waiting: until none of snapmig's queries waits any more (they were
# cancelled: the lock is still held).
none_waiting() {
	deadline=$(( $(date +%s) + 2 ))
	until [ "$(waiting)" -eq 0 ]; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "snapmig's queries still wait for the lock 2 s later: $(waiting)"
			return 1
		fi
		sleep 0.05
	done
	ok "snapmig's queries were cancelled on the server"
}
# snapmig_pid: the snapmig process of the session, if it still runs.
snapmig_pid() {
	shell_pid=$(tm display-message -p -t ui '#{pane_pid}')
	pgrep -P "$shell_pid" -x snapmig | head -n 1
}
wait_exit() {
	deadline=$(( $(date +%s) + 30 ))
	while [ -n "$(snapmig_pid)" ]; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "snapmig still runs"
			return 1
		fi
		sleep 0.02
	done
}

# Leaving the overview while its pre-flight waits for the events (the
# inventory has been read), then quitting while it waits.
lock public.events
ui_start 80 24 -e dev
wait_line "Cart +6" 30
until_waiting 1
started=$(date +%s%N)
keys q
wait_for "Pick an environment" 10
within 2000 "left the overview while its pre-flight waited" "$started"
none_waiting

keys Enter
wait_line "Cart +6" 30
until_waiting 1
started=$(date +%s%N)
keys q q
wait_exit
within 2000 "quit (through the environment list) while the pre-flight waited" "$started"
expect_exit 0
none_waiting
unlock
new_tmux

# Quitting while connecting.
ui_start 80 24 -e dev
wait_for "Connecting to dev" 10
started=$(date +%s%N)
keys q q
wait_exit
within 2000 "quit while connecting" "$started"
expect_exit 0
new_tmux

# Quitting while a copy waits for the live table.
live_version() {
	sql "SELECT source_version FROM public.snapshots WHERE source_uuid = 'counter-1'"
}
cli -e dev rebuild -a Counter ||
	fail "CLI rebuild: $(cat "$T/cli.out")"
ui_start 80 24 -e dev
wait_line "Counter +3 +0 +3 +0 +generated" 60
keys Down c
wait_for "No guard tripped." 30
lock public.snapshots
keys c
wait_for "Copy now?"
keys y
until_waiting 1
keys C-c
wait_for "A copy or a rollback is running."
wait_for "Cancel it and quit?"
started=$(date +%s%N)
keys y
wait_exit
# (Rolling the copy back and journaling it take a few round trips more.)
within 3000 "quit while a copy waited" "$started"
expect_exit 130
none_waiting
unlock
[ "$(live_version)" = 3 ] && ok "nothing copied" || fail "live version $(live_version)"
outcome=$(sql "SELECT outcome FROM migration.snapmig_runs ORDER BY run_id DESC LIMIT 1")
[ "$outcome" = cancelled ] && ok "the copy is journaled as cancelled" ||
	fail "the last run's outcome: $outcome"

finish
