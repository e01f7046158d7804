#!/bin/sh
# Screen test of issue 16 in the UI: rows made by another reducer shown as
# stale; D discards generated rows after the usual confirmation (the name
# typed in a protected environment); an operation of another process on
# the target schema is shown, and the UI's own rebuild is refused naming
# it.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_safety
write_config
cli -e dev rebuild
expect_sql "SELECT count(*) FROM migration.snapshots WHERE source_type = 'Elixir.Shop.Counter'" 3 \
	"3 Counter rows generated"
# Counter's rule changes; its snapshot_version does not.
sed 's/n += event.by/n += 1/' "$T/snapmig.conf" >"$T/changed.conf" && mv "$T/changed.conf" "$T/snapmig.conf"

ui_start 80 24 -e prod
wait_line "Cart +6"
keys Down
wait_for "Target schema: 3 rows (3 stale), 0 at v1, 0 current"
wait_line "Counter .* 3 stale"

# D: the plan, then the name of the protected environment.
keys D
wait_for "Discard the generated snapshots in schema migration:"
wait_line "Counter +3 rows"
wait_for "The live table is not touched; a rebuild generates them again."
wait_for "Type its name to discard:"
type_text prod
keys Enter
wait_line "Discarded 3 generated snapshots and 0 failures \(journal #[0-9]+\)" 30
wait_for "Target schema: 0 rows, 0 at v1, 0 current"
[ "$(sql "SELECT count(*) FROM migration.snapshots WHERE source_type = 'Elixir.Shop.Counter'")" = 0 ] &&
	ok "Counter rows discarded" || fail "Counter rows left after discard"
[ "$(sql "SELECT count(*) FROM migration.snapshots WHERE source_type = 'Elixir.Shop.Cart'")" -gt 0 ] &&
	ok "Cart rows kept" || fail "Cart rows discarded too"

# Another process's rebuild holds the target: an external reducer that is
# slow to start the first time.
slow_rebuild other Elixir.Shop.Counter "sr.Aggregate(initial={'n': 0}, apply=lambda s, e: s)"
sed 's/^/  bg: /' "$T/bg.out" "$T/bg.err"
resize 160 30
keys r
wait_for "In use: rebuild started " 20
wait_line "In use: rebuild started .* on $(hostname) \(pid $bg, environment other, run [0-9]+; server session [0-9]+\)"
keys b
wait_for "Start the rebuild?"
keys y
wait_for "target schema migration is in use: rebuild started" 20
kill -INT "$bg"
wait "$bg"
keys q
wait_line "Cart +6"
keys r
wait_gone "In use:" 20

keys q
wait_for "Pick an environment"
keys q
expect_exit 0
finish
