#!/bin/sh
# Screen test (issue 18.2): inspecting an instance compares its live
# snapshot with the reducer's fold at the live snapshot's own version (the
# engine's verify for one instance).  A correctly rebuilt instance whose
# live snapshot is older than its stream's end is "equal" (its generated
# row, t, is at the end and differs from the live one); a reducer that
# differs there shows the path with both values; a fold that fails shows
# why, and so does the failure a rebuild recorded; the instance list's
# "current" filter lists what verify checks.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_inspect
write_config
cd "$T" || exit 99
cli -e dev rebuild
expect_sql "SELECT count(*) FROM migration.snapshots WHERE source_uuid LIKE 'counter-%'" 3 \
	"the counters are rebuilt"
# counter-2's live snapshot says n = 5 at version 3, where the events
# make 3: the reducer (or the snapshot) is wrong there.
sql "UPDATE public.snapshots SET data = convert_to('{\"n\": 5}', 'UTF8') WHERE source_uuid = 'counter-2'"
# cart-6's live snapshot: at version 3, past the event the rules have no
# entry for; then a current one (module version 2).
sql "UPDATE public.snapshots SET source_version = 3,
     metadata = convert_to('{\"snapshot_module_version\": 2}', 'UTF8') WHERE source_uuid = 'cart-6'"

ui_start 100 30 -e dev
wait_line "Cart +6 +"
keys Down L
wait_for "Counter  Elixir.Shop.Counter: 3 instances"
# The live snapshots at the configured module version: all three.
keys F F F F F F
wait_for "3 instances  state: current"
wait_line "counter-1 +3 +v1 +5 +v1 +differs"
keys Enter
wait_for "Instance counter-1  (Counter)"
wait_for "equal: the reducer's fold up to version 3 is the live snapshot"
wait_for "live public  source_version 3"
wait_for "fold of the reducer up to version 3"
wait_line '"n": 3 .*"n": 3'
not_on_screen "recorded failure"
# t: the generated row, at the stream's end (version 5): it differs.
keys t
wait_for "generated row: 1 top-level key differs"
wait_for "generated migration  source_version 5"
wait_line '"n": 3 .*"n": 5'
keys t
wait_for "equal: the reducer's fold up to version 3"
# The help of this screen names t.
keys ?
wait_line "^ +t +Inspect: the generated target row instead of the fold"
keys q
wait_for "Instance counter-1"
keys q
wait_for "3 instances  state: current"

# counter-2: the path that differs, with both values.
keys Down Enter
wait_for "Instance counter-2"
wait_for "differs at version 3: 1 path (] [)"
wait_line "^ \.n  live 5  fold 3"
wait_line '"n": 5 .*"n": 3'
keys ']'
wait_line "^ \.n  live 5  fold 3"
# q: back to the list, q: its state filter cleared, q: the overview.
keys q q q
wait_line "Counter +3 "

# cart-6: the fold fails at the event without an entry; the rebuild
# recorded that failure too.
keys Up L
wait_for "Cart  Elixir.Shop.Cart: 6 instances"
keys F F F F F F
wait_for "1 instance  state: current"
wait_line "^ cart-6 "
keys Enter
wait_for "Instance cart-6  (Cart)"
wait_for "failed: unknown event at v3 Elixir.Shop.Cart.Events.Abandoned"
wait_for "recorded failure: unknown event at v3 Elixir.Shop.Cart.Events.Abandoned"
wait_for "fold of the reducer: none"
keys q q q q
wait_for "Environments"
keys q
expect_exit 0

finish
