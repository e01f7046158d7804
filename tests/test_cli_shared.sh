#!/bin/sh
# Several processes share one rebuild through the work table of the target
# schema (issue 21): `rebuild` plans and works, `rebuild --join` claims
# chunks of the same plan.  Two and three processes, and three of which
# one is SIGKILLed at a random moment (several times), must leave exactly
# the rows and failures of a single process, with every instance folded by
# exactly one committed chunk (work table and journal counts).
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_shared
mkstore bytea many 1200 30
write_config
# Small chunks: many of them, so that the processes interleave.
{ echo 'defaults = { batch_size = 4; };'; cat "$CONF"; } >"$T/c" && mv "$T/c" "$CONF"

# What a rebuild leaves: the generated rows (without created_at, the time
# they were written), what made each (fingerprint ids) and the failures.
dump() {
	sql "SELECT source_uuid, source_version, source_type, encode(data, 'hex'), encode(metadata, 'hex')
	     FROM migration.snapshots ORDER BY source_uuid" >"$1"
	sql "SELECT source_uuid, source_type, kind, stream_version, event_type, message
	     FROM migration.snapmig_failures ORDER BY source_uuid" >>"$1"
	if [ "$(sql "SELECT to_regclass('migration.snapmig_rows') IS NOT NULL")" = t ]; then
		sql "SELECT r.source_uuid, f.source_type, f.fingerprint FROM migration.snapmig_rows r
		     JOIN migration.snapmig_fingerprints f ON f.fp_id = r.fp_id ORDER BY 1" >>"$1"
	fi
}

reset_target() {
	sql "DROP SCHEMA IF EXISTS migration CASCADE" >/dev/null
}

# Waits until a plan is in the work table (the coordinator planned).
wait_planned() {
	deadline=$(( $(date +%s) + 60 ))
	until [ "$(sql "SELECT count(*) FROM migration.snapmig_work" 2>/dev/null)" -gt 0 ] 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "no plan in the work table after 60 s"
			return 1
		fi
		sleep 0.05
	done
}

# A fresh target and a rebuild -j 1 ($p1) that has planned; $1: its stderr.
start_planner() {
	reset_target
	"$SNAPMIG_BIN" -c "$CONF" -j 1 -q rebuild </dev/null >/dev/null 2>"$1" &
	p1=$!
	wait_planned
}

# Holds the target's writes (a SHARE lock on its snapshots table: planned
# rebuilds wait before they write) until release_target.
hold_target() {
	psql -X -q -d "$DB" -c "BEGIN; LOCK TABLE migration.snapshots IN SHARE MODE; SELECT pg_sleep(3600)" \
		>/dev/null 2>&1 &
	locker=$!
}

release_target() {
	kill "$locker" 2>/dev/null
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3600)%'
	     AND pid <> pg_backend_pid()" >/dev/null
}

# Waits for the rebuilds $pids: each must end well (1: done, with the
# failures of the store).  $1: what is tested, then their stderr files.
wait_done() {
	what=$1
	shift
	for p in $pids; do
		wait "$p"
		r=$?
		if [ "$r" = 1 ]; then ok; else fail "$what: a rebuild exited $r: $(cat "$@")"; fi
	done
}

# The rows are a single process's ($T/ref); $1: what is tested.
same_rows() {
	dump "$T/got"
	if cmp -s "$T/ref" "$T/got"; then ok "$1: the rows of one process"; else
		fail "$1: rows differ from a single process's"
		diff "$T/ref" "$T/got" | head -10
	fi
}

# The counts that show no instance folded twice: in the work table, every
# chunk done, and the instances and events done equal the plan's and the
# reference's.
check_counts() {
	what=$1
	expect_sql "SELECT count(*) FILTER (WHERE state <> 'done') FROM migration.snapmig_work" 0 \
		"$what: every chunk done"
	expect_sql "SELECT sum(instances_done) FROM migration.snapmig_work" "$ref_instances" \
		"$what: the work table counts the instances a single process did"
	expect_sql "SELECT sum(events_done) FROM migration.snapmig_work" "$ref_events" \
		"$what: the work table counts the events a single process folded"
}

# --------------------------------------------------------------- reference
run -c "$CONF" -j 1 rebuild --json
expect_rc 1   # failures recorded: exit 1
json_check "d['state'] == 'done' and d['chunks_done'] == d['chunks_total'] and d['chunks_total'] > 100"
json_check "len(d['processes']) == 1 and d['processes'][0]['self']"
json_check "d['total']['failures']['unknown_event'] == 24 and d['total']['failures']['missing_stream'] == 12"
dump "$T/ref"
ref_instances=$(sql "SELECT sum(instances_done) FROM migration.snapmig_work")
ref_events=$(sql "SELECT sum(events_done) FROM migration.snapmig_work")
if [ "$ref_instances" = 1200 ]; then ok; else fail "reference: $ref_instances instances, expected 1200"; fi
v=$(wc -l <"$T/ref")
if [ "$v" = 2364 ]; then ok; else
	fail "reference dump has $v lines, expected 1164 rows, 36 failures and 1164 fingerprints"; fi
# The journal records who did it.
expect_sql "SELECT details->>'host' = '$(hostname)' AND (details->>'pid')::bigint > 0 FROM migration.snapmig_runs ORDER BY run_id DESC LIMIT 1" t \
	"the journal has the host and pid"

# Nothing to join now: a clear error.
run -c "$CONF" rebuild --join
expect_rc 2
expect_err "no rebuild to join"
# A joining process takes the plan's types and filters.
run -c "$CONF" -a Counter rebuild --join
expect_rc 2
expect_err "takes its types and filters from the plan"

# ---------------------------------------------------- two and three processes
# shared N: a rebuild and N-1 processes joining it; all must end well.
shared() {
	n=$1
	reset_target
	"$SNAPMIG_BIN" -c "$CONF" -j 1 -q rebuild </dev/null >"$T/p1.out" 2>"$T/p1.err" &
	pids=$!
	wait_planned || return
	i=2
	while [ "$i" -le "$n" ]; do
		"$SNAPMIG_BIN" -c "$CONF" -j 1 -q rebuild --join </dev/null >"$T/p$i.out" 2>"$T/p$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=1
	for p in $pids; do
		wait "$p"
		r=$?
		# 1: done, with the failures of the store.
		if [ "$r" = 1 ]; then ok; else fail "$n processes: process $i exited $r: $(cat "$T/p$i.err")"; fi
		i=$((i + 1))
	done
}

for n in 2 3; do
	shared "$n"
	dump "$T/got"
	if cmp -s "$T/ref" "$T/got"; then ok "$n processes: the rows of one"; else
		fail "$n processes: rows differ from a single process's"
		diff "$T/ref" "$T/got" | head -10
	fi
	check_counts "$n processes"
	# The planning process's summary shows the whole run and every process.
	if grep -Eq "^plan of run [0-9]+: ([0-9]+) of \1 chunks done by $n processes$" "$T/p1.out"; then ok; else
		fail "$n processes: the summary does not show them: $(cat "$T/p1.out")"; fi
	v=$(grep -Ec "^ *[0-9]+\*? +$(hostname) +[0-9]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +[0-9,]+ +(running|done with failures)$" "$T/p1.out")
	if [ "$v" = "$n" ]; then ok; else fail "$n processes: $v process rows in the summary: $(cat "$T/p1.out")"; fi
	expect_sql "SELECT count(DISTINCT done_by) FROM migration.snapmig_work" "$n" \
		"$n processes: each did chunks"
	# The journal: each process's own counts add up to one rebuild.
	v=$(sql "SELECT sum((t.value->>'instances_done')::bigint) FROM migration.snapmig_runs r,
	         jsonb_each(r.details->'types') t WHERE r.kind = 'rebuild'")
	if [ "$v" = "$ref_instances" ]; then ok; else
		fail "$n processes: the journals count $v instances, one process $ref_instances"; fi
	expect_sql "SELECT count(*) FROM migration.snapmig_runs WHERE details->>'join_of' IS NOT NULL" $((n - 1)) \
		"$n processes: the joined runs journaled"
done
# Every process shows the whole plan: the summary's totals are all of it.
run -c "$CONF" failures --json
expect_rc 0
json_check "len(d['failures']) == 36"

# ------------------------------------- the target's lock, the plan's reducers
# A rebuild that has planned is held before it writes (a SHARE lock on the
# target table), so that it runs while the others try.
start_planner "$T/l1.err"
hold_target
# A second planning rebuild is refused (one plan at a time) and says how to help.
run -c "$CONF" rebuild
expect_rc 4
expect_err "snapmig rebuild --join"
# Copy takes the target exclusively: refused while any rebuild process works.
run -c "$CONF" copy --yes
expect_rc 4
expect_err "in use"
# A process whose reducer differs from the plan's may not join.
sed 's/{id: null, count: 0, tags: \[\]}/{id: null, count: 1, tags: []}/' "$CONF" >"$T/other.conf"
if cmp -s "$CONF" "$T/other.conf"; then fail "other.conf is the same configuration"; fi
run -c "$T/other.conf" rebuild --join
expect_rc 2
expect_err "not the one the run was planned with"
# The same configuration joins (rebuilds share the lock); it waits with the
# others until the writes go on.
"$SNAPMIG_BIN" -c "$CONF" -j 1 -q rebuild --join </dev/null >/dev/null 2>"$T/l2.err" &
p2=$!
deadline=$(( $(date +%s) + 30 ))
until [ "$(sql "SELECT count(*) FROM migration.snapmig_runs WHERE details->>'join_of' IS NOT NULL AND outcome = 'running'")" = 1 ] ||
      [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
v=$(sql "SELECT count(*) FROM migration.snapmig_runs WHERE details->>'join_of' IS NOT NULL AND outcome = 'running'")
if [ "$v" = 1 ]; then ok; else
	fail "the joining process did not start its run: $(cat "$T/l2.err")"
	sql "SELECT pid, wait_event_type, left(query, 120) FROM pg_stat_activity WHERE datname = '$DB'"
fi
release_target
pids="$p1 $p2"
wait_done "lock test" "$T/l1.err" "$T/l2.err"
same_rows "held and joined"
# Once the rebuild is over, copy may take the target.
run -c "$CONF" copy --dry-run
if [ "$rc" != 4 ]; then ok; else fail "copy still refused after the rebuild: $(cat "$T/err")"; fi

# --------------------------------------------------------------- SIGKILL
# Three processes; one of them, chosen at random, is killed at a random
# moment while they work.  The others take its chunk.
round=1
while [ "$round" -le 4 ]; do
	start_planner "$T/k1.err" || break
	"$SNAPMIG_BIN" -c "$CONF" -j 1 -q rebuild --join </dev/null >/dev/null 2>"$T/k2.err" &
	p2=$!
	"$SNAPMIG_BIN" -c "$CONF" -j 2 -q rebuild --join </dev/null >/dev/null 2>"$T/k3.err" &
	p3=$!
	victim=$(python3 -c "import random; print(random.choice(['$p1', '$p2', '$p3']))")
	sleep "$(python3 -c "import random; print(round(random.uniform(0.05, 1.5), 2))")"
	kill -9 "$victim" 2>/dev/null
	for p in $p1 $p2 $p3; do
		wait "$p"
		r=$?
		if [ "$p" = "$victim" ] || [ "$r" = 1 ]; then ok; else
			fail "round $round: a survivor exited $r: $(cat "$T/k1.err" "$T/k2.err" "$T/k3.err")"; fi
	done
	# Killed after all the work was done, or before the others started:
	# a joining process finishes what is left.
	if [ "$(sql "SELECT count(*) FROM migration.snapmig_work WHERE state <> 'done'")" != 0 ]; then
		run -c "$CONF" -q rebuild --join
	fi
	dump "$T/got"
	if cmp -s "$T/ref" "$T/got"; then ok "SIGKILL round $round: the rows of one process"; else
		fail "SIGKILL round $round: rows differ from a single process's"
		diff "$T/ref" "$T/got" | head -10
	fi
	check_counts "SIGKILL round $round"
	round=$((round + 1))
done

# -------------------------------------------------- the plan's own versions
# Each chunk holds its instances as planned, with their streams' end
# versions then (item_ends): whichever process claims it later folds
# exactly those.  Events appended to a stream after planning, and a
# snapshot made after planning, are left to the next run, also for a
# process that joins after they arrived.
start_planner "$T/v1.err"
hold_target
# The last chunk is claimed last: still unclaimed while the lock holds p1.
# One of its instances that folds (mkstore many: every 50th fails).
last=$(sql "SELECT chunk_no FROM migration.snapmig_work ORDER BY chunk_no DESC LIMIT 1")
u=$(sql "SELECT x.u FROM migration.snapmig_work w, unnest(w.item_uuids, w.item_missing) AS x(u, m)
         WHERE w.chunk_no = $last AND NOT x.m AND substr(x.u, 3)::int % 50 <> 0 ORDER BY x.u LIMIT 1")
planned_end=$(sql "SELECT x.e FROM migration.snapmig_work w, unnest(w.item_uuids, w.item_ends) AS x(u, e)
                   WHERE w.chunk_no = $last AND x.u = '$u'")
v=$(sql "SELECT stream_version FROM streams WHERE stream_uuid = '$u'")
if [ -n "$v" ] && [ "$planned_end" = "$v" ]; then ok; else
	fail "the work table's end version of $u ($planned_end) is not its stream's ($v)"; fi
sql "WITH ev AS (INSERT INTO events (event_id, event_type, data, metadata)
       SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
        'Elixir.Demo.Counter.Events.Incremented', convert_to('{\"by\": 7}', 'UTF8'), NULL
       FROM generate_series(1, 3) AS i RETURNING event_id),
     n AS (SELECT event_id, row_number() OVER (ORDER BY event_id) AS i FROM ev),
     st AS (SELECT stream_id, stream_version FROM streams WHERE stream_uuid = '$u'),
     al AS (SELECT stream_version FROM streams WHERE stream_id = 0),
     link AS (INSERT INTO stream_events (event_id, stream_id, stream_version, original_stream_id,
       original_stream_version)
       SELECT n.event_id, st.stream_id, st.stream_version + n.i, st.stream_id, st.stream_version + n.i
       FROM n, st UNION ALL
       SELECT n.event_id, 0, al.stream_version + n.i, st.stream_id, st.stream_version + n.i
       FROM n, st, al)
     UPDATE streams SET stream_version = stream_version + 3 WHERE stream_uuid = '$u' OR stream_id = 0" \
	>/dev/null
# A snapshot without a stream, in the last chunk's range: it would fail
# (missing_stream) if it were folded.
sql "INSERT INTO snapshots (source_uuid, source_version, source_type, data, metadata)
     VALUES ('${u}x', 1, 'Elixir.Demo.Counter', convert_to('{\"id\": null, \"count\": 0}', 'UTF8'),
             convert_to('{\"snapshot_module_version\": 1}', 'UTF8'))" >/dev/null
"$SNAPMIG_BIN" -c "$CONF" -j 1 -q rebuild --join </dev/null >/dev/null 2>"$T/v2.err" &
p2=$!
sleep 0.5
release_target
pids="$p1 $p2"
wait_done "planned versions" "$T/v1.err" "$T/v2.err"
same_rows "appended after planning"
check_counts "appended after planning"
# The next run folds just what came since.
run -c "$CONF" -q rebuild
expect_rc 1
v=$(sql "SELECT source_version FROM migration.snapshots WHERE source_uuid = '$u'")
if [ "$v" = $((planned_end + 3)) ]; then ok; else
	fail "the next run left $u at version $v, not $((planned_end + 3))"; fi
v=$(sql "SELECT kind FROM migration.snapmig_failures WHERE source_uuid = '${u}x'")
if [ "$v" = missing_stream ]; then ok; else fail "the next run did not plan ${u}x: $v"; fi

# --------------------------------------------------------------- SIGINT
# A cancelled process commits nothing of the chunk it was in: every row in
# the target is of a chunk marked done, and a process that joins later
# folds the rest whole, so that the work table's counts are exactly a
# single process's.  A store of bigger streams and chunks (about 30,000
# events each), so that the interrupt lands while one is being folded.
new_db cli_shared_int
mkstore bytea big 60 3000
write_config
{ echo 'defaults = { batch_size = 10; };'; cat "$CONF"; } >"$T/c" && mv "$T/c" "$CONF"
reset_target
run -c "$CONF" -j 1 -q rebuild
expect_rc 0
dump "$T/ref"
ref_instances=$(sql "SELECT sum(instances_done) FROM migration.snapmig_work")
ref_events=$(sql "SELECT sum(events_done) FROM migration.snapmig_work")
round=1
while [ "$round" -le 3 ]; do
	start_planner "$T/i1.err" || break
	sleep "$(python3 -c "import random; print(round(random.uniform(0.1, 1.0), 2))")"
	kill -INT "$p1" 2>/dev/null
	wait "$p1"
	r=$?
	if [ "$r" = 130 ] || [ "$r" = 0 ]; then ok; else fail "SIGINT round $round: exit $r: $(cat "$T/i1.err")"; fi
	v=$(sql "SELECT (SELECT count(*) FROM migration.snapshots)
	         - (SELECT count(*) FROM migration.snapmig_work w, unnest(w.item_uuids) AS u
	            WHERE w.state = 'done')")
	if [ "$v" = 0 ]; then ok; else fail "SIGINT round $round (exit $r): $v rows beyond the chunks done"; fi
	run -c "$CONF" -q rebuild --join
	same_rows "SIGINT round $round, then joined"
	check_counts "SIGINT round $round"
	round=$((round + 1))
done

finish
