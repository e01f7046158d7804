#!/bin/sh
# `rebuild` (exit codes, summary, progress lines and JSON progress),
# `failures` and `runs`, against the store of `mkstore ... basic`.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_rebuild
mkstore bytea basic
write_config

# The value at a JSON path of a generated snapshot (bytea store).
gen() {
	sql "SELECT convert_from(data, 'UTF8')::jsonb #>> '{$2}' FROM migration.snapshots WHERE source_uuid = '$1'"
}

# A full rebuild: counter-6 fails (unknown event), everything else is written.
run -c "$CONF" rebuild
expect_rc 1
expect_line '^TYPE +INSTANCES +DONE +EVENTS +FAILED +FAILURES$'
expect_line '^Counter +6 +6 +[0-9]+ +1 +unknown_event 1$'
expect_line '^Team +1 +1 +1 +0 *$'
expect_line '^all +7 +7 +[0-9]+ +1 '
expect_line '^run [0-9]+ done in [0-9:]+: 7 instances, [0-9]+ events folded, 1 failed'
# Without a terminal, progress is plain lines on stderr.
expect_err "snapmig: rebuild done"

# What it wrote: full replays of the counters, a catch-up of the team.
v=$(gen counter-1 count)
if [ "$v" = 6 ]; then ok; else fail "counter-1 count is '$v', expected 6"; fi
expect_sql "SELECT source_version FROM migration.snapshots WHERE source_uuid = 'counter-3'" 4 \
	"counter-3's source_version"
v=$(gen team-1 member_ids)
if [ "$v" = '["u1", "u2", "u3"]' ]; then ok; else fail "team-1 member_ids is '$v'"; fi
expect_sql "SELECT count(*) FROM migration.snapshots WHERE source_uuid = 'counter-6'" 0 \
	"the failed counter-6 is not written"

run -c "$CONF" failures
expect_rc 0
expect_line '^SOURCE UUID +TYPE +KIND +VERSION +EVENT TYPE +MESSAGE$'
expect_line '^counter-6 +Counter +unknown_event +3 +Elixir\.Demo\.Counter\.Events\.Exploded +.'

run -c "$CONF" failures --json
expect_rc 0
json_check "len(d['failures']) == 1"
json_check "sorted(d['failures'][0].keys()) == sorted(['source_uuid', 'source_type', 'label', 'kind', 'stream_version', 'event_type', 'message', 'run_id', 'recorded_at'])"
json_check "[d['failures'][0][k] for k in ('source_uuid', 'source_type', 'kind', 'stream_version', 'event_type')] == ['counter-6', 'Elixir.Demo.Counter', 'unknown_event', 3, 'Elixir.Demo.Counter.Events.Exploded']"

run -c "$CONF" failures --kind reducer_error
expect_rc 0
expect_out "no failures recorded"
run -c "$CONF" failures --type Team --json
expect_rc 0
json_check "d['failures'] == []"
run -c "$CONF" -a Counter failures --kind unknown_event --json
expect_rc 0
json_check "[f['source_uuid'] for f in d['failures']] == ['counter-6']"

# Status now shows the target schema.
run -c "$CONF" status --json
expect_rc 0
json_check "d['target']['exists'] is True and d['target']['data_type'] == 'bytea'"
json_check "[d['types'][0][k] for k in ('target_rows', 'target_at_version', 'target_current', 'failures')] == [5, 5, 5, 1]"
json_check "isinstance(d['last_run_id'], int)"

# Selections, on a store of their own: exit 0 when no selected instance fails.
CONNINFO_MAIN=$CONNINFO
DB_MAIN=$DB
new_db cli_rebuild_select
mkstore bytea basic
write_config
run -c "$CONF" rebuild --uuid counter-1 --uuid counter-2
expect_rc 0
expect_line '^all +2 +2 +8 +0 *$'
run -c "$CONF" -a Team rebuild
expect_rc 0
expect_line '^Team +1 +1 +1 +0 *$'
refute_out "Counter"
expect_sql "SELECT string_agg(source_uuid, ',' ORDER BY source_uuid) FROM migration.snapshots" \
	"counter-1,counter-2,team-1" "what the selected rebuilds wrote"
CONNINFO=$CONNINFO_MAIN
DB=$DB_MAIN
write_config

# --only-failed re-runs counter-6 alone, which still fails.
run -c "$CONF" rebuild --only-failed --json
expect_rc 1
json_check "d['state'] == 'done' and d['total']['instances_planned'] == 1 and d['total']['failed'] == 1"
json_check "d['total']['failures']['unknown_event'] == 1 and isinstance(d['run_id'], int)"
json_check "sorted(d.keys()) == sorted(['environment', 'run_id', 'state', 'jobs', 'elapsed_seconds', 'total', 'types', 'plan_run_id', 'chunks_total', 'chunks_done', 'processes'])"
# Progress: one JSON object per line on stderr, the last one final.
if python3 - "$T/err" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines, "no progress lines"
assert all(l["event"] in ("progress", "note") for l in lines), lines
progress = [l for l in lines if l["event"] == "progress"]
last = progress[-1]
assert last["state"] == "done", last
assert last["total"]["instances_done"] == 1, last
assert set(last) == {"event", "state", "run_id", "jobs", "elapsed_seconds", "total", "types"}, last
assert set(last["total"]) == {"instances_planned", "instances_done", "events_planned",
    "events_done", "failed", "failures", "events_per_sec", "eta_seconds"}, last
assert last["types"][0]["label"] == "Counter", last
EOF
then ok; else fail "rebuild --json progress lines"; show_last; fi

# -q: no progress at all.
run -c "$CONF" -q rebuild --uuid counter-1
expect_rc 0
if [ -s "$T/err" ]; then fail "-q rebuild wrote to stderr"; show_last; else ok; fi

# On a terminal: a bar per type and an overall one, redrawn in place.
if command -v script >/dev/null 2>&1; then
	sql "DELETE FROM migration.snapshots WHERE source_uuid IN ('counter-2', 'team-1')"
	script -qec "'$SNAPMIG_BIN' -c '$CONF' rebuild --uuid counter-2 --uuid team-1" /dev/null </dev/null >"$T/out" 2>&1
	rc=$?
	LAST="(terminal) snapmig rebuild --uuid counter-2 --uuid team-1"
	expect_rc 0
	expect_line "$(printf '\033')\\[2KCounter +\\[#+\\] 100% "
	expect_line "$(printf '\033')\\[2Kall +\\[#+\\] 100% "
	expect_line '^all +2 +2 '
fi

# The journal, newest first.
run -c "$CONF" runs
expect_rc 0
expect_line '^RUN +KIND +OUTCOME +STARTED +FINISHED +BY +DETAILS$'
expect_line '^ *[0-9]+ +rebuild +'
# Piped, DETAILS is whole (a rebuild's details are longer than the 60
# columns a terminal gets): the JSON text up to its closing brace.
if grep -q '…' "$T/out"; then fail "runs cut DETAILS in a pipe"; show_last; else ok; fi
expect_line '^ *[0-9]+ +rebuild .*\{.{60,}\}$'
if command -v script >/dev/null 2>&1; then
	script -qec "'$SNAPMIG_BIN' -c '$CONF' runs" /dev/null </dev/null >"$T/out" 2>&1
	rc=$?
	LAST="(terminal) snapmig runs"
	expect_rc 0
	expect_out '…'
fi
run -c "$CONF" runs --json --limit 2
expect_rc 0
json_check "len(d['runs']) == 2 and all(r['kind'] == 'rebuild' for r in d['runs'])"
json_check "d['runs'][0]['run_id'] > d['runs'][1]['run_id']"
json_check "sorted(d['runs'][0].keys()) == sorted(['run_id', 'kind', 'environment', 'os_user', 'db_user', 'started_at', 'finished_at', 'outcome', 'details'])"

finish
