#!/bin/sh
# `status` and `preflight` against the store of `mkstore ... basic` (see
# tests/mkstore.c for its contents and the numbers expected here), in the
# three column variants.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

ESC=$(printf '\033')
TYPE_FIELDS="['type', 'label', 'configured', 'target_version', 'snapshots', 'versions', 'stale', 'behind', 'events_to_fold', 'missing_streams', 'target_rows', 'target_stale', 'target_at_version', 'target_current', 'failures', 'fingerprint_error']"

for mode in bytea jsonb jsonb-text; do
	db=cli_status_$(echo "$mode" | tr - _)
	new_db "$db"
	mkstore "$mode" basic
	write_config

	run -c "$CONF" status
	expect_rc 0
	expect_out "environment  local ("
	expect_out "source       public.snapshots: data ${mode%-text}, metadata ${mode%-text}"
	expect_out "target       migration.snapshots: not created yet"
	expect_line '^TYPE +SNAPSHOTS +VERSIONS +TARGET +REBUILD +CATCH UP +EVENTS +GENERATED +CURRENT +FAILED +NOTE$'
	expect_line '^Counter +6 +v1 6 +v2 +6 +0 +23 +0 +0 +0$'
	expect_line '^Team +1 +v1 1 +v1 +0 +1 +1 +0 +0 +0$'
	expect_out "not configured"
	expect_out "1 type found in the store but not in the configuration"
	# The type name with an escape sequence is printed harmless.
	if grep -q "$ESC" "$T/out"; then fail "status printed an escape character"; else ok; fi

	run -c "$CONF" status --json
	expect_rc 0
	json_check "d['environment'] == 'local' and d['protected'] is False"
	json_check "d['source'] == {'schema': 'public', 'exists': True, 'data_type': '${mode%-text}', 'metadata_type': '${mode%-text}', 'double_encoded': $([ "$mode" = jsonb-text ] && echo True || echo False)}"
	json_check "d['target']['schema'] == 'migration' and d['target']['exists'] is False and d['target']['data_type'] == 'missing'"
	json_check "d['last_run_id'] is None"
	json_check "[t['label'] for t in d['types']][:2] == ['Counter', 'Team'] and len(d['types']) == 3"
	json_check "all(sorted(t.keys()) == sorted($TYPE_FIELDS) for t in d['types'])"
	json_check "d['types'][0]['type'] == 'Elixir.Demo.Counter' and d['types'][0]['configured'] is True"
	json_check "d['types'][0]['versions'] == [{'version': 1, 'count': 6}]"
	json_check "[d['types'][0][k] for k in ('target_version', 'snapshots', 'stale', 'behind', 'events_to_fold', 'target_rows', 'failures')] == [2, 6, 6, 0, 23, 0, 0]"
	json_check "[d['types'][1][k] for k in ('target_version', 'snapshots', 'stale', 'behind', 'events_to_fold')] == [1, 1, 0, 1, 1]"
	json_check "d['types'][2]['configured'] is False and d['types'][2]['type'] == 'Elixir.Demo.Orphan\x1b[2J'"
done

# -a selects types, by label or full type; an unknown one is an error.
run -c "$CONF" -a Team status --json
expect_rc 0
json_check "[t['label'] for t in d['types']] == ['Team']"
run -c "$CONF" status -a Elixir.Demo.Counter
expect_rc 0
expect_line '^Counter '
refute_out "Team"
run -c "$CONF" -a Nope status
expect_rc 2
expect_err "-a Nope"

# Pre-flight: the unknown event type of counter-6; exit 1.
run -c "$CONF" preflight
expect_rc 1
expect_line '^TYPE +EVENT TYPE +EVENTS +STREAMS +EXAMPLES$'
expect_line '^Counter +Elixir\.Demo\.Counter\.Events\.Exploded +1 +1 +counter-6$'
expect_out "1 unknown event type"

run -c "$CONF" preflight --json
expect_rc 1
json_check "d['ok'] is False and d['environment'] == 'local'"
json_check "d['unknown_events'] == [{'source_type': 'Elixir.Demo.Counter', 'label': 'Counter', 'event_type': 'Elixir.Demo.Counter.Events.Exploded', 'events': 1, 'streams': 1, 'examples': ['counter-6']}]"
json_check "d['skipped_types'] == []"

run -c "$CONF" -a Team preflight
expect_rc 0
expect_out "no unknown event types"

finish
