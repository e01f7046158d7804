#!/bin/sh
# The shape summary of `copy --dry-run` (and its --json): per type, the keys
# the generated snapshots add, remove or retype against the live rows they
# replace, with the share of instances; nothing is copied.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_shape
mkstore bytea basic
write_config
# Two of the five counters' live rows have an old field, and one a count
# that was text.
sql "UPDATE snapshots SET data = convert_to('{\"id\": \"old\", \"count\": 1, \"legacy\": true}', 'UTF8')
	WHERE source_uuid IN ('counter-1', 'counter-2')" >/dev/null
sql "UPDATE snapshots SET data = convert_to('{\"id\": \"old\", \"count\": \"1\"}', 'UTF8')
	WHERE source_uuid = 'counter-3'" >/dev/null
run -c "$CONF" rebuild
[ "$rc" -le 1 ] || { show_last; exit 99; }
before=$(sql "SELECT md5(string_agg(source_uuid || convert_from(data, 'UTF8'), ',' ORDER BY source_uuid)) FROM snapshots")

run -c "$CONF" copy --dry-run --force-failures
expect_rc 0
expect_out "Shape of the new snapshots against the live ones they replace:"
expect_line '^  Counter \(5 compared\):$'
expect_line '^    \.tags +added \(array\) in 100% \(5\)$'
expect_line '^    \.legacy +removed \(boolean\) in 40% \(2\)$'
expect_line '^    \.count +string -> number in 20% \(1\)$'
expect_line '^  Team: the same shape \(1 compared\)$'

run -c "$CONF" --json copy --dry-run --force-failures
expect_rc 0
json_check "[(t['label'], t['compared']) for t in d['shape']] == [('Counter', 5), ('Team', 1)]"
json_check "d['shape'][0]['changes'][0] == {'path': '.tags', 'change': 'added', 'live_types': None, 'new_types': 'array', 'instances': 5}"
json_check "[c['path'] for c in d['shape'][0]['changes']] == ['.tags', '.legacy', '.count'] and d['shape'][1]['changes'] == []"

after=$(sql "SELECT md5(string_agg(source_uuid || convert_from(data, 'UTF8'), ',' ORDER BY source_uuid)) FROM snapshots")
if [ "$before" = "$after" ]; then ok; else fail "a dry run changed the live table"; fi

finish
