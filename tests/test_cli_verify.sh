#!/bin/sh
# `verify` on the demo store (examples/snapmig.conf, every snapshot at its
# type's configured module version): it passes for the reducers that made
# the snapshots, rules and external alike, and names the path of a rule
# made wrong; exit codes, --json, --sample, --uuid, usage errors.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_demo_db 5k none

run -c "$DEMO_CONF" -e demo verify
expect_rc 0
expect_line '^TYPE +VERSION +LIVE +AT VERSION +CHECKED +EQUAL +DIFFERENT +FAILED$'
live=$(sql "SELECT count(*) FROM snapshots")
expect_line "^all +$live +$live +$live +$live +0 +0$"
expect_line '^Account +2 +[0-9]+ '
expect_out "every live snapshot checked is reproduced"
expect_err "snapmig: verify done"
# Read-only: no target schema, no journal.
expect_sql "SELECT count(*) FROM pg_namespace WHERE nspname = 'migration'" 0 \
	"verify did not create the target schema"

run -c "$DEMO_CONF" -e demo --json verify
expect_rc 0
json_check "d['state'] == 'done' and d['total']['checked'] == $live and d['total']['equal'] == $live"
json_check "[t['label'] for t in d['types']] == ['StatusPage', 'Team', 'Monitor', 'Account']"
json_check "all(t['different'] == 0 and t['failed'] == 0 and t['paths'] == [] for t in d['types'])"

# A sample: at most 3 of each type; the same seed, the same instances.
run -c "$DEMO_CONF" -e demo --json verify --sample 3 --seed 5
expect_rc 0
json_check "d['sampled'] and d['seed'] == 5 and all(t['planned'] == 3 and t['checked'] == 3 for t in d['types'])"
run -c "$DEMO_CONF" -e demo -a Team --json verify --sample 50%
expect_rc 0
json_check "d['types'][0]['planned'] * 2 in (d['types'][0]['at_version'], d['types'][0]['at_version'] + 1)"

# One wrong rule among the right ones: exit 1, its path, both values.
sed -e 's/stats.failures += 1/stats.failures += 2/' \
    -e "s|python3 reducers/account.py|python3 '$SNAPMIG_SRCDIR/examples/reducers/account.py'|" \
    "$DEMO_CONF" >"$T/wrong.conf"
monitors_failed=$(sql "SELECT count(*) FROM snapshots WHERE source_type = 'Elixir.Domain.Monitor'
	AND (convert_from(data, 'UTF8')::jsonb #>> '{stats,failures}')::int > 0")
run -c "$T/wrong.conf" -e demo verify --examples 1
expect_rc 1
expect_line "^Monitor +3 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +$monitors_failed +0$"
expect_line '^StatusPage +4 +[0-9]+ +[0-9]+ +([0-9]+) +\1 +0 +0$'
expect_line "^  \.stats\.failures +differs in $monitors_failed instances?$"
expect_line '^      live +[0-9]+$'
expect_line '^      folded +[0-9]+$'
expect_out "does NOT reproduce"
run -c "$T/wrong.conf" -e demo -a Monitor --json verify
expect_rc 1
json_check "[p['path'] for p in d['types'][0]['paths']] == ['.stats.failures']"
json_check "all(x['diffs'][0]['folded'] == 2 * x['diffs'][0]['live'] for x in d['types'][0]['instances'])"

# One instance by name, whatever its module version.
uuid=$(sql "SELECT source_uuid FROM snapshots WHERE source_type = 'Elixir.Domain.Team' ORDER BY 1 LIMIT 1")
run -c "$DEMO_CONF" -e demo --json verify --uuid "$uuid"
expect_rc 0
json_check "sum(t['checked'] for t in d['types']) == 1"

# Usage errors.
run -c "$DEMO_CONF" -e demo verify --sample 0
expect_rc 2
expect_err "--sample: expected a count"
run -c "$DEMO_CONF" -e demo verify --sample 101%
expect_rc 2
run -c "$DEMO_CONF" -e demo verify --seed x
expect_rc 2
run -c "$DEMO_CONF" -e demo rebuild --sample 3
expect_rc 2

finish
