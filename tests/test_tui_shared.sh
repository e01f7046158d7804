#!/bin/sh
# Screen test (issue 21): the UI shares a rebuild with other processes.
#  - A CLI rebuild plans and works; the UI joins it (B on the overview,
#    with the workers asked for): the rebuild screen shows one line per
#    process (host, pid, jobs, chunks, events/s) and the whole plan, and
#    the rows at the end are exactly those of a single process.
#  - The UI starts the rebuild and a CLI `rebuild --join` joins it: the UI
#    shows the second process's line; again the rows of one process.
#  - The UI joins and cancels: only its part stops, the chunk it held is
#    unclaimed again and the CLI rebuild does all of it.
# No timing window: a session holding a SHARE lock on the generated table
# keeps every process's first chunk from committing (each worker claims a
# chunk and waits to write it) until the test lets them go on.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_shared
write_config
# One instance a chunk: 9 chunks, so that every process gets some.
sed 's/^defaults = { jobs = 2; };/defaults = { jobs = 2; batch_size = 1; };/' "$T/snapmig.conf" >"$T/c" &&
	mv "$T/c" "$T/snapmig.conf"
grep -q 'batch_size = 1' "$T/snapmig.conf" || { echo "config not changed"; exit 99; }
cd "$T" || exit 99
HOST=$(hostname)

cli() {
	"$SNAPMIG_BIN" -c "$T/snapmig.conf" -e dev "$@" </dev/null
}
# cli_bg OUT ARGS...: in the background; $! is the snapmig process.
cli_bg() {
	_out=$1
	shift
	exec "$SNAPMIG_BIN" -c "$T/snapmig.conf" -e dev "$@" </dev/null >"$_out" 2>&1
}

# What a rebuild leaves (as tests/test_cli_shared.sh compares): the
# generated rows without created_at, what made each and the failures.
dump() {
	sql "SELECT source_uuid, source_version, source_type, encode(data, 'hex'), encode(metadata, 'hex')
	     FROM migration.snapshots ORDER BY source_uuid" >"$1"
	sql "SELECT source_uuid, source_type, kind, stream_version, event_type, message
	     FROM migration.snapmig_failures ORDER BY source_uuid" >>"$1"
	sql "SELECT r.source_uuid, f.source_type, f.fingerprint FROM migration.snapmig_rows r
	     JOIN migration.snapmig_fingerprints f ON f.fp_id = r.fp_id ORDER BY 1" >>"$1"
}

same_as_one() {
	dump "$T/got"
	if cmp -s "$T/ref" "$T/got"; then ok "$1: the rows of a single process"; else
		fail "$1: rows differ from a single process's"
		diff "$T/ref" "$T/got" | head -10
	fi
	v=$(sql "SELECT count(*) FILTER (WHERE state <> 'done') || ' ' || sum(instances_done)
	         FROM migration.snapmig_work")
	if [ "$v" = "0 9" ]; then ok; else fail "$1: work table (chunks not done, instances done): $v"; fi
}

# The tables a chunk writes (its rows, what made them, its failures).
HELD="'snapshots', 'snapmig_rows', 'snapmig_failures'"

# hold / release: a SHARE lock on the tables a chunk writes, so that no
# chunk commits meanwhile (reads go on).
hold() {
	psql -X -q -d "$DB" -c "BEGIN; LOCK TABLE migration.snapshots, migration.snapmig_rows,
	    migration.snapmig_failures IN SHARE MODE; SELECT pg_sleep(3600)" >/dev/null 2>&1 &
	HOLDER=$!
	until_sql 30 "no SHARE lock on the tables a chunk writes" \
		"SELECT count(*) = 3 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		 WHERE c.relname IN ($HELD) AND l.mode = 'ShareLock' AND l.granted"
}
release() {
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	     WHERE query LIKE '%pg_sleep(3600)%' AND pid <> pg_backend_pid()" >/dev/null
	wait "$HOLDER" 2>/dev/null
}

# writers_waiting N: until N sessions wait for the held tables (each
# worker has claimed a chunk and waits to write it).
writers_waiting() {
	until_sql 60 "$1 writers never waited for the held tables" \
		"SELECT count(DISTINCT l.pid) >= $1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		 WHERE c.relname IN ($HELD) AND NOT l.granted" && ok "$1 writers wait for the held tables"
}

# planned: until the newest rebuild has planned into the work table.
planned() {
	until_sql 60 "nothing planned" \
		"SELECT count(*) > 0 FROM migration.snapmig_work WHERE run_id =
		 (SELECT max(run_id) FROM migration.snapmig_runs WHERE kind = 'rebuild')"
}

# A fresh start for the next case: the generated rows and failures are
# discarded (the target schema and its tables stay, so they can be held).
discard() {
	cli -q discard --yes >"$T/discard.out" 2>&1 || fail "discard: $(cat "$T/discard.out")"
	v=$(sql "SELECT count(*) FROM migration.snapshots")
	[ "$v" = 0 ] || fail "discard left $v rows"
}

# both_done JOBS PID WHAT: once the held chunks may commit, the UI's
# process (with JOBS workers) and the CLI's (PID) end well, both did
# chunks, and the rows are a single process's.
both_done() {
	# This process ends when no chunk is left to claim: the other may
	# still be writing its last one, so the totals are those of the last
	# reading.
	wait_line "Done: [0-9]+ instances processed, [0-9]+ failed" 60
	wait_line "Shared, at this process's end: [0-9]+/9 chunks done by 2 processes"
	# It committed the chunk it held, at least, and says it is done.
	wait_line "$(proc_line '\*' '[0-9]+' "$1" '[1-9][0-9]*').* done"
	wait "$2"
	r=$?
	if [ "$r" = 1 ]; then ok; else fail "$3: the CLI process exited $r"; fi
	same_as_one "$3"
	v=$(sql "SELECT count(DISTINCT done_by) FROM migration.snapmig_work")
	if [ "$v" = 2 ]; then ok; else fail "$3: $v processes did chunks"; fi
}

# proc_line FLAG PID JOBS [CHUNKS]: a regex of a process's line on the
# rebuild screen (FLAG "\\*" for this process, " " for another).
proc_line() {
	printf '^ %s +%s +%s +%s +%s ' "$1" "$HOST" "$2" "$3" "${4:-[0-9,]+}"
}

# --------------------------------------------------------------- reference
cli -j 1 -q rebuild >"$T/ref.out" 2>&1
[ $? = 1 ] || { fail "reference rebuild: $(cat "$T/ref.out")"; }
dump "$T/ref"
v=$(wc -l <"$T/ref")
if [ "$v" = 16 ]; then ok; else fail "reference: $v lines, expected 7 rows, 2 failures, 7 fingerprints"; fi

# ------------------------------------------ a CLI rebuild; the UI joins it
discard
hold || exit 1
cli_bg "$T/p1.out" -j 1 -q rebuild &
p1=$!
planned || exit 1
ui_start 80 24 -e dev
# The overview says who holds the target.
wait_line "In use: rebuild started "
keys B
wait_for "Join the running rebuild"
wait_line "run #[0-9]+, rebuild,.* on $HOST \\(pid $p1\\)"
wait_for "Workers of this process (1-64):"
# The environment's jobs are offered; this process takes 1.
wait_line " 2_"
keys C-u
type_text 1
keys Enter
wait_for "Rebuild run #"
wait_line "Shared: [0-9]+/9 chunks done by 2 processes \\(plan of run #[0-9]+\\)"
wait_line "Host +Pid +Jobs +Chunks +Events/s"
wait_line "$(proc_line ' ' "$p1" 1)"
wait_line "$(proc_line '\*' '[0-9]+' 1)"
wait_for "x stops this process only (the others go on)"
# The lines of both processes at every size down to 80x24.
sizes "$(proc_line ' ' "$p1" 1)"
wait_line "$(proc_line '\*' '[0-9]+' 1)"
writers_waiting 2
release
both_done 1 "$p1" "CLI rebuild joined by the UI"
# The journal: the UI's run joined the CLI's, from this host.
v=$(sql "SELECT count(*) FROM migration.snapmig_runs WHERE details->>'join_of' IS NOT NULL
         AND details->>'host' = '$HOST' AND (details->>'jobs')::int = 1")
if [ "$v" = 1 ]; then ok; else fail "joined runs journaled: $v"; fi
# The failures screen shows those of both processes.
keys f
wait_line "Cart +unknown event +Elixir.Shop.Cart.Events.Abandoned +2 instances"
keys q q
wait_line "Cart +6 "

# -------------------------------------- the UI rebuilds; a CLI joins it
discard
keys r
wait_line "Counter .* not started"
hold || exit 1
keys a
wait_for "2 marked"
keys b
wait_for "Start the rebuild?"
keys y
wait_for "Rebuild run #"
planned || exit 1
cli_bg "$T/p2.out" -j 1 -q rebuild --join &
p2=$!
wait_line "Shared: [0-9]+/9 chunks done by 2 processes"
wait_line "$(proc_line ' ' "$p2" 1)"
wait_line "$(proc_line '\*' '[0-9]+' 2)"
writers_waiting 3
release
both_done 2 "$p2" "UI rebuild joined by the CLI"
keys q
wait_line "Cart +6 "

# ------------------------------- the UI joins, then stops its part only
discard
hold || exit 1
cli_bg "$T/p3.out" -j 1 -q rebuild &
p3=$!
planned || exit 1
keys B
wait_for "Workers of this process (1-64):"
keys C-u
type_text 1
keys Enter
wait_line "$(proc_line '\*' '[0-9]+' 1)"
# Both hold a chunk: the UI's is given back when it stops.
writers_waiting 2
# Quitting would stop this process's part only; "n" keeps it.
keys C-c
wait_for "Stop this process's part and quit?"
keys n
wait_gone "Stop this process's part and quit?"
keys x
wait_for "Stop this process's part of the shared rebuild?"
keys y
wait_for "Cancelled: this process stopped, its committed work is kept; the others go on."
release
wait "$p3"
r=$?
if [ "$r" = 1 ]; then ok; else fail "the CLI rebuild exited $r after the UI stopped: $(cat "$T/p3.out")"; fi
same_as_one "UI joined and stopped, CLI went on"
v=$(sql "SELECT outcome FROM migration.snapmig_runs WHERE details->>'join_of' IS NOT NULL
         ORDER BY run_id DESC LIMIT 1")
case $v in
cancel*) ok "the UI's part is journaled as $v" ;;
*) fail "the UI's joined run: $v" ;;
esac
v=$(sql "SELECT count(DISTINCT done_by) FROM migration.snapmig_work")
if [ "$v" = 1 ]; then ok; else fail "$v processes did chunks; only the CLI's should have"; fi
keys q q q
expect_exit 0

finish
