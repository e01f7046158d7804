#!/bin/sh
# Screen test (issue 19.5 and the failure list's keys): Enter on a failure
# opens it with its whole message, which wraps, scrolls and searches; Enter
# on a group still expands it; the list sorts, filters as you type and by
# kind, scrolls sideways where text is cut at 80x24; y copies a uuid through
# OSC 52 (tmux's buffer) and to a file, and only to the file where the
# terminal takes no OSC 52.  Resized down to 80x24 and below, with and
# without NO_COLOR.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_failures
write_config
cd "$T" || exit 99

# Failures for cart-5 and cart-6 (unknown event); cart-6's message made
# long, on several lines, with a word to search for near its end.
cli -e dev rebuild
expect_sql "SELECT count(*) FROM migration.snapmig_failures" 2 "2 failures recorded"
sql "UPDATE migration.snapmig_failures SET message = 'first line of a long message' || E'\\n' ||
     repeat('filler words to wrap and scroll, ', 60) || E'\\n' || 'the needle is here' || E'\\n' ||
     'last line' WHERE source_uuid = 'cart-6'"

ui_start_clipboard 80 24 -e dev
wait_line "Cart +6"
keys f
wait_line "^ \\+ +Cart +unknown event +Elixir.Shop.Cart.Events.Abandoned +2 instances"
# Enter on the group expands it; on a failure it opens the failure.
keys Enter
wait_line "^ +cart-5 +v3 "
keys Down Down
wait_line "cart-6 +v3 "
keys Enter
wait_for "unknown event  cart-6"
wait_for "Instance     cart-6"
wait_for "Kind         unknown event (unknown_event)"
wait_for "Event type   Elixir.Shop.Cart.Events.Abandoned"
wait_for "first line of a long message"
wait_line "^ line 1 of [0-9]+"
not_on_screen "the needle is here"
# It scrolls ...
keys End
wait_for "last line"
wait_for "the needle is here"
keys Home
wait_for "first line of a long message"
# ... and searches as you type; n goes on, wrapping around.
keys / n e e d l e
wait_for "search: needle_"
wait_for "the needle is here"
keys Enter
wait_for "search: needle"
keys Home
wait_gone "the needle is here"
keys n
wait_for "the needle is here"
keys / z z z
wait_for "search: zzz_ (no match)"
keys Escape
wait_gone "search:"
# y copies the uuid: tmux takes OSC 52 into its buffer, the file too.
keys y
wait_for "Copied the source_uuid to the clipboard (OSC 52) and to /"
[ "$(tm show-buffer 2>/dev/null)" = cart-6 ] && ok "tmux buffer holds cart-6" ||
	fail "tmux buffer: $(tm show-buffer 2>&1)"
expect_clipboard cart-6
# i opens the instance's snapshots.
keys i
wait_for "Instance cart-6"
keys q
wait_for "unknown event  cart-6"
# The failure view at 80x24 and below.
resize 70 20
wait_for "Window too small: 70x20"
resize 80 24
wait_for "unknown event  cart-6"
keys q
# (The message of the screen that closed is gone.)
wait_line "cart-6 +v3 "
not_on_screen "Copied the source_uuid"

# At 80x24 the message column is cut: l scrolls it sideways, h back.
not_on_screen "(no entry with this on)"
keys l l l l l l
wait_for "(no entry with this on)"
keys h h h h h h
wait_gone "(no entry with this on)"

# Sorting: by number of failures, age, event type, and back to type.
keys '>'
wait_for "sort: failures"
keys '>'
wait_for "sort: age"
keys I
wait_line "sort: age (desc|↓)"
keys '>' '>'
wait_gone "sort:"
# The state filter: one kind at a time.
keys F
wait_for "state: unknown event"
wait_for "2 failures in 1 groups"
keys F
wait_for "state: no match"
wait_for "0 failures in 0 groups"
wait_for "No failure matches the filter."
keys q
wait_gone "state:"
wait_for "2 failures in 1 groups"
# Filter as you type: the uuid.
keys / c a r t - 6
wait_for "filter: cart-6_"
wait_for "1 failures in 1 groups"
keys Enter
wait_for "filter: cart-6"
keys q
wait_for "2 failures in 1 groups"
keys q
wait_line "Cart +6"
keys q
wait_for "Pick an environment"
keys q
expect_exit 0

# Without OSC 52 (not in tmux, a terminal without Ms): the file only.
tm kill-session -t ui
UI_ENV="TMUX= NO_COLOR=1" ui_start 80 24 -e dev
wait_line "Cart +6"
has_colour && fail "colours despite NO_COLOR" || ok "no colours with NO_COLOR"
keys f
wait_line "Cart +unknown event"
keys Enter Down y
wait_for "Copied the source_uuid (the terminal takes no OSC 52) to /"
expect_clipboard cart-5
keys Enter
wait_for "Instance     cart-5"
ui_signal TERM
expect_exit 143

finish
