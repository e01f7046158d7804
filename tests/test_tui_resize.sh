#!/bin/sh
# Screen test (issue 19, "Done means"): every screen of issue 19 resized
# from wide down to 80x24, below it ("too small") and back to 80x24 shows
# its content again, with what was going on kept: the overview, the
# rebuild plan dialog, the runs screen and a run's details, the failures
# and a failure's details, the snapshot view with a search being typed,
# the copy plan, the instance list with its filter, and the help.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_resize
write_config
cd "$T" || exit 99
# A rebuild with 2 failures, then a copy of Counter: a journal with runs
# of both kinds.
cli -e dev rebuild
cli -e dev copy -a Counter --yes ||
	{ fail "CLI copy"; cat "$T/cli.out"; }

ui_start 80 24 -e dev
wait_line "Cart +6 "
sizes "Cart +6 "

# The rebuild plan dialog.
keys a b
wait_for "Start the rebuild?"
sizes "Plan: [0-9,]+ instances, [0-9,]+ events to fold"
wait_for "Start the rebuild?"
keys n
wait_gone "Start the rebuild?"

# The runs screen and a run's details.
keys J
wait_for "2 runs"
sizes "^ +#1 +rebuild +done with failures"
keys Down Enter
wait_for "rebuild Run #1: done with failures"
sizes '"unknown_event": 2'
keys q
wait_for "2 runs"
keys q

# The failures, a group expanded, a failure's details.
keys f
wait_line "^ \\+ +Cart +unknown event"
keys Enter
wait_line "^ +cart-5 +v3 "
sizes "^ +cart-5 +v3 "
keys Down Enter
wait_for "unknown event  cart-5"
sizes "Event type +Elixir.Shop.Cart.Events.Abandoned"
keys q q

# The snapshot view while a search is typed.
keys i
wait_for "source_uuid of the aggregate instance"
type_text cart-2
keys Enter
wait_for "Instance cart-2"
keys / i t e m
wait_for "search: item_"
sizes '"items": \['
wait_for "search: item_"
keys Escape
wait_gone "search:"
keys q

# The copy plan of Counter (a unmarks both types; Counter was copied).
wait_for "2 marked"
keys a
wait_gone "2 marked"
keys Home Down c
wait_for "No guard tripped."
sizes "^ Counter +(3 +)?0 +0 +3 +0 +0 "
wait_for "No guard tripped."
keys q

# The instance list of Cart, filtered.
wait_line "Cart +6 "
keys Home L
wait_for "Elixir.Shop.Cart: 6 instances"
keys /
type_text rt-3
keys Enter
wait_for "filter: rt-3"
sizes "^ +cart-3 "
wait_for "filter: rt-3"
not_on_screen "cart-1"
keys q q

# The help.
wait_line "Cart +6 "
keys '?'
wait_for "Show every key"
sizes "Show every key"
keys q
wait_line "Cart +6 "
keys q q
expect_exit 0

finish
