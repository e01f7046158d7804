#!/bin/sh
# Screen test: the side-by-side snapshot view (issue 19, "Missing"): ] and
# [ go to the keys whose values differ, "/" searches both sides as you
# type, n and N go from match to match, h/l scroll long lines sideways, y
# and Y copy the generated and the live snapshot (OSC 52 into tmux's
# buffer, and a file); 80x24 and below.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_snapshot
write_config
cd "$T" || exit 99
cli -e dev rebuild
# cart-2's live snapshot: a long items list (a screen and more), a long
# line, and a key the generated one lacks, below the fold.
items=$(seq 1 40 | sed 's/.*/"item-&"/' | tr '\n' ',' | sed 's/,$//')
long=$(printf 'x%.0s' $(seq 1 150))
sql "UPDATE public.snapshots SET data = convert_to('{\"id\": \"cart-2\", \"note\": \"${long}END\",
     \"items\": [$items], \"zeta\": 1}', 'UTF8') WHERE source_uuid = 'cart-2'"

ui_start_clipboard 80 24 -e dev
wait_line "Cart +6"
keys i
wait_for "source_uuid of the aggregate instance"
type_text cart-2
keys Enter
wait_for "Instance cart-2"
# The generated row (the fold at the live version is test_tui_inspect.sh's).
keys t
wait_for "generated row: 3 top-level keys differ (] [)"
wait_line '"id": "cart-2",'
not_on_screen '"zeta"'
# ] goes to the next key whose values differ, [ back.
keys ']'
wait_line '"note": "x+'
keys ']'
wait_line '"items": \['
keys ']'
wait_line '"zeta": 1'
keys ']'
wait_for "No more differences that way"
keys '['
wait_line '"items": \['
keys g
wait_line '"id": "cart-2",'

# Search as you type; n and N go from match to match.
keys / i t e m - 3
wait_for "search: item-3_"
wait_line '"item-3",'
keys Enter
keys n
wait_line '"item-30",'
keys N
wait_line '"item-3",'
keys / z e t a
wait_for "search: zeta_"
wait_line '"zeta": 1'
keys Enter / n o p e
wait_for "search: nope_ (no match)"
keys Escape
wait_gone "search:"

# The long line is cut; l scrolls it sideways until its end shows.
keys g
not_on_screen "xxxEND"
keys l l l l l l l l l l l l l l l l
wait_for "xxxEND"
keys g h h h h h h h h h h h h h h h h
wait_gone "xxxEND"

# y copies the generated snapshot, Y the live one.
keys y
wait_for "Copied the generated snapshot to the clipboard (OSC 52)"
buf=$(tm show-buffer 2>/dev/null)
case $buf in
*'"items"'*C3*) case $buf in *zeta*) fail "generated copy holds zeta: $buf" ;;
		*) ok "generated snapshot copied" ;; esac ;;
*) fail "buffer: $buf" ;;
esac
grep -q C3 "$T/run/snapmig/clipboard" && ok "generated snapshot in the file" ||
	fail "file: $(cat "$T/run/snapmig/clipboard")"
keys Y
wait_for "Copied the live snapshot to the clipboard (OSC 52)"
case $(tm show-buffer 2>/dev/null) in
*'"zeta"'*) ok "live snapshot copied" ;;
*) fail "buffer: $(tm show-buffer 2>&1)" ;;
esac

# Down to 80x24 and below, and wide.
resize 60 20
wait_for "Window too small: 60x20"
resize 160 40
wait_line "^ live public  source_version 2 {20,}generated migration  source_version 4"
resize 80 24
wait_for "Instance cart-2"
keys q q q
expect_exit 0

finish
