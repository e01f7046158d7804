#!/bin/sh
# `check` and `fold` need no database: the server is stopped before they
# run.  fold gives byte for byte the snapshot a rebuild wrote for the same
# events (rules and external reducer alike); failures name the event's
# position and line; check reports the analysis' warnings and exits 0, or 2
# for a configuration that does not load.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

# --- while the server runs: a rebuild's snapshots and their events.
new_demo_db 3k all
run -c "$DEMO_CONF" -e demo rebuild
[ "$rc" -le 1 ] || { show_last; exit 99; }

# events_of UUID FILE: the stream's events as fold's JSON lines, data and
# metadata as stored (json keeps the text).
events_of() {
	sql "SELECT json_build_object('type', e.event_type,
		'data', convert_from(e.data, 'UTF8')::json,
		'metadata', convert_from(e.metadata, 'UTF8')::json,
		'created_at', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))
		FROM streams st JOIN stream_events se ON se.stream_id = st.stream_id
		JOIN events e ON e.event_id = se.event_id
		WHERE st.stream_uuid = '$1' ORDER BY se.stream_version" >"$2"
}
generated_of() {
	sql "SELECT convert_from(data, 'UTF8') FROM migration.snapshots WHERE source_uuid = '$1'"
}
pick() {
	sql "SELECT s.source_uuid FROM migration.snapshots s JOIN streams st ON st.stream_uuid = s.source_uuid
		WHERE s.source_type = '$1' ORDER BY st.stream_version DESC, 1 LIMIT 1"
}
monitor=$(pick Elixir.Domain.Monitor)
account=$(pick Elixir.Domain.Account)
events_of "$monitor" "$T/monitor.jsonl"
events_of "$account" "$T/account.jsonl"
generated_of "$monitor" >"$T/monitor.expected"
generated_of "$account" >"$T/account.expected"
# The first 3 events and the rebuild's fold of them, for a start state.
head -n 3 "$T/monitor.jsonl" >"$T/monitor-head.jsonl"
tail -n +4 "$T/monitor.jsonl" >"$T/monitor-tail.jsonl"

# --- no server from here on.
"$SNAPMIG_TEST_PGCTL" stop >/dev/null 2>&1 || exit 99
run -c "$DEMO_CONF" -e demo status
if [ "$rc" = 3 ]; then ok; else fail "status worked without a server?"; show_last; fi

run -c "$DEMO_CONF" fold Monitor "$T/monitor.jsonl"
expect_rc 0
if cmp -s "$T/out" "$T/monitor.expected"; then ok; else
	fail "fold Monitor differs from the rebuild's snapshot"
	diff "$T/out" "$T/monitor.expected" | head -5
fi
# From standard input, and with the external reducer.
"$SNAPMIG_BIN" -c "$DEMO_CONF" fold Elixir.Domain.Monitor <"$T/monitor.jsonl" >"$T/out2" 2>"$T/err"
if cmp -s "$T/out2" "$T/monitor.expected"; then ok; else fail "fold from stdin differs"; fi
run -c "$DEMO_CONF" fold Account "$T/account.jsonl"
expect_rc 0
if cmp -s "$T/out" "$T/account.expected"; then ok; else
	fail "fold Account (external reducer) differs from the rebuild's snapshot"
	diff "$T/out" "$T/account.expected" | head -5
fi

# A start state: the fold of the first three events, then the rest.
run -c "$DEMO_CONF" fold Monitor "$T/monitor-head.jsonl"
expect_rc 0
cp "$T/out" "$T/state3.json"
run -c "$DEMO_CONF" fold Monitor "$T/monitor-tail.jsonl" --state "$T/state3.json" --state-version 3
expect_rc 0
if cmp -s "$T/out" "$T/monitor.expected"; then ok; else fail "fold from a start state differs"; fi

# --json: the state as JSON, the count and the last version.
n=$(wc -l <"$T/monitor.jsonl")
run -c "$DEMO_CONF" --json fold Monitor "$T/monitor.jsonl"
expect_rc 0
json_check "d['type'] == 'Monitor' and d['events'] == $n and d['version'] == $n"
json_check "json.dumps(d['state'], separators=(',', ':'), ensure_ascii=False) == open('$T/monitor.expected').read().strip() or d['state'] == json.loads(open('$T/monitor.expected').read())"

# A failure names the event's position and its line (blank lines count).
cat >"$T/bad.jsonl" <<'EOF'
{"type": "Elixir.Domain.Team.Events.MemberAdded", "data": {"team_id": "t", "user_id": 1}}

{"type": "Elixir.Domain.Team.Events.MemberAdded", "data": {"team_id": "t", "user_id": 2}}
{"type": "Elixir.Domain.Team.Events.Exploded", "data": {}}
{"type": "Elixir.Domain.Team.Events.MemberAdded", "data": {"team_id": "t", "user_id": 3}}
EOF
run -c "$DEMO_CONF" fold Team "$T/bad.jsonl"
expect_rc 1
expect_err "failed at event 3 (line 4) Elixir.Domain.Team.Events.Exploded: unknown_event"
run -c "$DEMO_CONF" --json fold Team "$T/bad.jsonl"
expect_rc 1
json_check "d['failure']['kind'] == 'unknown_event' and d['failure']['stream_version'] == 3 and d['failure']['line'] == 4"
head -n 3 "$T/bad.jsonl" | "$SNAPMIG_BIN" -c "$DEMO_CONF" fold Team >"$T/out" 2>"$T/err"
if [ "$(cat "$T/out")" = '{"id":null,"member_ids":[1,2]}' ]; then ok; else fail "fold Team gave $(cat "$T/out")"; fi

# Event data that a rebuild would refuse fails the same way; input that is
# not an event line is a usage error naming the line.
printf '%s\n' '{"type": "Elixir.Domain.Team.Events.MemberAdded", "data": [1]}' >"$T/notobj.jsonl"
run -c "$DEMO_CONF" fold Team "$T/notobj.jsonl"
expect_rc 1
expect_err "bad_event: event data: expected a JSON object"
printf '%s\n%s\n' '{"type": "Elixir.Domain.Team.Events.MemberAdded", "data": {}}' '{"data": {}}' >"$T/notype.jsonl"
run -c "$DEMO_CONF" fold Team "$T/notype.jsonl"
expect_rc 2
expect_err 'line 2: no "type"'
run -c "$DEMO_CONF" fold Nope "$T/bad.jsonl"
expect_rc 2
run -c "$DEMO_CONF" fold
expect_rc 2
run -c "$DEMO_CONF" fold Team "$T/missing.jsonl"
expect_rc 2

# check: the example is clean; a read of a field initial lacks is a warning.
run -c "$DEMO_CONF" check
expect_rc 0
expect_line '^.*snapmig\.conf: valid: 4 environments, 4 aggregate types \(3 with rules, 1 external\)$'
refute_err "warning"
cat >"$T/warn.conf" <<'EOF'
environments = ( { name = "x"; conninfo = "dbname=nowhere"; } );
aggregates = (
  { type = "Elixir.A"; snapshot_version = 1; initial = "{n: 0}";
    events = ( { on = "Elixir.A.Events.Inc"; do = "n = state.count"; } ); }
);
EOF
run -c "$T/warn.conf" check
expect_rc 0
expect_err "warn.conf:4:"
expect_out ", 1 warning"
run -c "$T/warn.conf" --json check
expect_rc 0
json_check "d['valid'] and len(d['warnings']) == 1 and d['aggregates'][0]['reducer'] == 'rules'"
printf 'aggregates = ( { type = "Elixir.A"; snapshot_version = 1; initial = "{n: 0"; } );\n' >"$T/broken.conf"
run -c "$T/broken.conf" check
expect_rc 2
expect_err "broken.conf:1:"

finish
