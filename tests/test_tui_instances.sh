#!/bin/sh
# Screen test: the instance browser.  From the overview (L, or Enter) the
# instances of the type under the cursor with their live and generated
# versions and how they compare; paging through a type with more instances
# than a screen (the list holds only a window around the visible rows);
# filtering by source_uuid; Enter opens the inspect view, whose generated
# row (t) shows each side's metadata.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_instances
write_config
cd "$T" || exit 99

# Generated rows for the comparison: cart-1..4 and counter-1..3 are
# written, cart-5 and cart-6 fail.  counter-3's live snapshot is then made
# equal to its generated one (same data, older version).
cli -e dev rebuild
expect_sql "SELECT count(*) FROM migration.snapshots" 7 "7 rows generated"
sql "UPDATE public.snapshots SET data = convert_to('{\"n\": 5}', 'UTF8') WHERE source_uuid = 'counter-3'"
# 150 more Legacy instances: more than fits on a screen.
sql "INSERT INTO public.snapshots (source_uuid, source_version, source_type, data, metadata)
     SELECT 'legacy-x' || lpad(g::text, 3, '0'), g, 'Elixir.Shop.Legacy',
            convert_to('{}', 'UTF8'), convert_to('{\"snapshot_module_version\": 1}', 'UTF8')
     FROM generate_series(1, 150) g"

ui_start 80 24 -e dev
wait_line "Cart +6 +"
# The help of the overview lists the key.
keys ?
wait_line "^ +L +List the instances of the type under the cursor"
keys q
# l on the first row (Cart): its 6 instances.
keys L
wait_for "Cart  Elixir.Shop.Cart: 6 instances"
wait_line "source_uuid +Live +Live mv +Generated +Gen mv +Compared"
wait_line "cart-1 +2 +v1 +4 +v2 +differs"
wait_line "cart-4 +2 +v1 +4 +v2 +differs"
wait_line "cart-5 +1 +v1 +- +- +not generated"
wait_line "cart-6 +1 +v1 +- +- +not generated"
# The state filter (the engine's: the comparison, staleness, failures).
keys F
wait_for "Cart  Elixir.Shop.Cart: 4 instances  state: differs"
not_on_screen "cart-5"
keys F
wait_for "0 instances  state: same"
wait_for "No instance matches the filter."
keys F
wait_for "2 instances  state: not generated"
wait_line "^ cart-5 "
not_on_screen "cart-1"
keys F F
wait_for "6 instances  state: stale"
keys F
wait_for "0 instances  state: current"
keys F
wait_for "2 instances  state: failed"
wait_line "^ cart-6 "
keys F
wait_gone "state:"
# Sorting by the live version (highest first), inverted.
expect_first() {
	deadline=$(( $(date +%s) + 20 ))
	until screen | sed -n 5p | grep -qE -- "$1"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			fail "first row: $(screen | sed -n 5p), expected $1"
			return 1
		fi
		sleep 0.1
	done
	ok "first row: $1"
}
expect_first "^ cart-1 "
keys '>'
wait_for "sort: version"
expect_first "^ cart-1 +2 "
keys I
expect_first "^ cart-5 +1 "
keys '<'
wait_gone "sort:"
expect_first "^ cart-1 "
keys q
wait_line "Counter +3 "
# Enter opens it too: on Counter, one instance compares equal.
keys Down Enter
wait_for "Counter  Elixir.Shop.Counter: 3 instances"
wait_line "counter-1 +3 +v1 +5 +v1 +differs"
wait_line "counter-3 +3 +v1 +5 +v1 +same"
keys q

# Paging through Legacy: 152 instances, ordered by source_uuid.
keys /
wait_for "filter: _  (in the type or its label)"
type_text Legacy
keys Enter
wait_for "filter: Legacy"
keys Enter
wait_for "Legacy  Elixir.Shop.Legacy: 152 instances"
wait_line "legacy-1 +1 +v1 +- +- +not generated"
wait_line "legacy-x001 +1 +v1 "
not_on_screen "legacy-x100"
keys End
wait_line "legacy-x150 +150 +v1 "
not_on_screen "legacy-x001 "
keys Home
wait_line "legacy-x001 +1 +v1 "
keys NPage NPage NPage NPage
wait_line "legacy-x0[6-9][0-9] "
not_on_screen "legacy-x001 "
keys PPage PPage PPage PPage
wait_line "legacy-x001 +1 +v1 "
# j/k move the cursor.
keys j j k
# Filter by a source_uuid substring (case does not matter).
keys /
wait_for "filter: _  (in the source_uuid)"
type_text X14
keys Enter
wait_for "Elixir.Shop.Legacy: 10 instances  filter: X14"
wait_line "legacy-x140 +140 "
wait_line "legacy-x149 +149 "
not_on_screen "legacy-x150"
not_on_screen "legacy-1 "
# q clears the filter first, then leaves.
keys q
wait_for "Elixir.Shop.Legacy: 152 instances"
keys q
wait_for "filter: Legacy"
keys q
wait_line "Cart +6 +"

# Filter the Cart instances, open one: both sides with their metadata.
resize 120 30
keys Home L
wait_for "Cart  Elixir.Shop.Cart: 6 instances"
keys /
type_text rt-3
keys Enter
wait_for "Elixir.Shop.Cart: 1 instance  filter: rt-3"
not_on_screen "cart-1"
keys Enter
wait_for "Instance cart-3"
# At first the fold up to the live version (test_tui_inspect.sh); t: the
# generated row.
wait_for "the live snapshot is at module version 1, the reducer makes 2"
keys t
wait_for "live public  source_version 2"
wait_for "generated migration  source_version 4"
wait_line 'metadata \{"snapshot_module_version":1\} .*metadata \{"snapshot_module_version":2'
wait_line '"items": \[ *$|"items": \['
# An instance without a generated row: its metadata only on the live side.
keys q q
wait_for "Elixir.Shop.Cart: 6 instances"
keys End Enter
wait_for "Instance cart-6"
keys t
wait_for "generated migration: no snapshot"
wait_line 'metadata \{"snapshot_module_version":1\} *[^m]*$'
keys q q q
wait_for "Environments"
keys q
expect_exit 0

finish
