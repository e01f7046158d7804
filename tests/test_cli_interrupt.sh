#!/bin/sh
# SIGINT during a long rebuild: a clean cancel, exit 130, the committed
# snapshots kept; running rebuild again resumes and completes.  SIGINT
# during a verify: exit 130, the instances checked so far reported.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

# Big enough that the run takes seconds, so the interrupt lands in its middle
# (verify folds about 400,000 events/s on a quiet 2-core machine and reports
# progress once a second: 1.2M events give it a few seconds).
STREAMS=200
EVENTS=6000

new_db cli_interrupt
mkstore bytea big "$STREAMS" "$EVENTS"
write_config
# Small batches, so that a cancel has committed work to keep.
{ echo 'defaults = { batch_size = 2; };'; cat "$CONF"; } >"$T/c" && mv "$T/c" "$CONF"

generated() {
	sql "SELECT count(*) FROM migration.snapshots" 2>/dev/null || echo 0
}

# interrupt_when CHECK...: waits (60 s at most, while snapmig $pid runs)
# until the command CHECK succeeds, then sends SIGINT and waits for the
# exit; sets rc.
interrupt_when() {
	deadline=$(( $(date +%s) + 60 ))
	until "$@"; do
		if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
			break
		fi
		sleep 0.1
	done
	kill -INT "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
}

# some_committed: some batches of the rebuild are committed.
some_committed() {
	n=$(generated)
	[ "${n:-0}" -gt 0 ]
}

# One worker, small batches: slow enough to be interrupted half way.
"$SNAPMIG_BIN" -c "$CONF" -j 1 --json rebuild </dev/null >"$T/out" 2>"$T/err" &
pid=$!
interrupt_when some_committed
LAST="snapmig -j 1 --json rebuild, interrupted"

expect_rc 130
json_check "d['state'] == 'cancelled'"
json_check "0 < d['total']['instances_done'] < $STREAMS"
expect_err '"event":"note"'
kept=$(generated)
echo "interrupted after $kept of $STREAMS instances"
if [ "$kept" -gt 0 ] && [ "$kept" -lt "$STREAMS" ]; then
	ok
else
	fail "after the interrupt $kept of $STREAMS snapshots are in the target (expected some, not all)"
fi
# Every kept row is complete: resumed work starts from it.
expect_sql "SELECT count(*) FROM migration.snapshots WHERE source_version <> $EVENTS" 0 \
	"every kept snapshot is at its stream's end"

# Resume: only the rest is folded.
run -c "$CONF" rebuild --json
expect_rc 0
json_check "d['state'] == 'done' and d['total']['failed'] == 0"
json_check "d['total']['events_done'] <= ($STREAMS - $kept) * $EVENTS"
v=$(generated)
if [ "$v" = "$STREAMS" ]; then ok; else fail "after resuming $v of $STREAMS snapshots"; fi
expect_sql "SELECT count(*) FROM migration.snapshots WHERE convert_from(data, 'UTF8')::jsonb ->> 'count' <> '$((EVENTS - 1))'" 0 \
	"no snapshot has a wrong count"

# verify is cancellable too, with progress: the rebuilt snapshots become
# the live ones (every one then equal), and verify -j 1 is interrupted once
# its progress shows instances done: exit 130, a cancelled report that
# checked some and found no difference.
sql "UPDATE public.snapshots s SET source_version = m.source_version, data = m.data,
     metadata = m.metadata FROM migration.snapshots m WHERE m.source_uuid = s.source_uuid"
# $T/err still holds the resumed rebuild's progress: emptied first, or the
# wait could read that before the background job's redirection empties it,
# and interrupt the job before snapmig has set its handler (a background
# shell ignores SIGINT: the verify would then run to its end).
: >"$T/err"
"$SNAPMIG_BIN" -c "$CONF" -j 1 --json verify </dev/null >"$T/out" 2>"$T/err" &
pid=$!
interrupt_when grep -q '"instances_done":[1-9]' "$T/err"
LAST="snapmig -j 1 --json verify, interrupted"
expect_rc 130
expect_err '"event":"progress"'
json_check "d['state'] == 'cancelled'"
json_check "0 < d['total']['checked'] < $STREAMS and d['total']['checked'] == d['total']['equal']"

finish
