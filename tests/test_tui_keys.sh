#!/bin/sh
# Screen test: the keys every list shares (issue 19, "Missing"): sorting
# and the state filter of the overview, the paging keys (Ctrl-F/B/D/U,
# Space, g/G), the mouse (a click picks a row, a second one opens it; the
# wheel scrolls), sideways scrolling of uuids cut at 80x24; and dim text in
# the theme's grey, or dimmed without colours, never bold black (19.7).
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_keys
write_config
cd "$T" || exit 99

# 150 more Legacy instances with uuids of 36 characters: more than a page,
# and wider than the uuid column at 80x24.
sql "INSERT INTO public.snapshots (source_uuid, source_version, source_type, data, metadata)
     SELECT '00000000-0000-4000-8000-' || lpad(g::text, 12, '0'), g, 'Elixir.Shop.Legacy',
            convert_to('{}', 'UTF8'), convert_to('{\"snapshot_module_version\": 1}', 'UTF8')
     FROM generate_series(1, 150) g"

# row N: line N of the screen (1 = the title).
row() {
	screen | sed -n "${1}p"
}
# expect_row N REGEX: line N matches REGEX.
expect_row() {
	if row "$1" | grep -qE -- "$2"; then
		ok "line $1 matches: $2"
	else
		fail "line $1 is: $(row "$1")  (expected: $2)"
	fi
}
# click COLUMN LINE [BUTTON]: a mouse press and release at 1-based
# COLUMN, LINE (X10 encoding, as TERM=screen's kmous); BUTTON 64 and 65
# are the wheel up and down.
click() {
	b=${3:-0}
	tm send-keys -t ui -H 1b 5b 4d "$(printf '%02x' $((32 + b)))" \
		"$(printf '%02x' $((32 + $1)))" "$(printf '%02x' $((32 + $2)))"
	if [ "$b" -lt 64 ]; then
		tm send-keys -t ui -H 1b 5b 4d 23 \
			"$(printf '%02x' $((32 + $1)))" "$(printf '%02x' $((32 + $2)))"
	fi
}

# double_click COLUMN LINE: two clicks sent at once, so that a loaded
# machine cannot space them further apart than a double click.
double_click() {
	at="$(printf '%02x' $((32 + $1))) $(printf '%02x' $((32 + $2)))"
	tm send-keys -t ui -H 1b 5b 4d 20 $at 1b 5b 4d 23 $at 1b 5b 4d 20 $at 1b 5b 4d 23 $at
}

ui_start 80 24 -e dev
wait_line "Legacy +152 "
# Rows start on line 5: in config order first.
expect_row 5 "Cart +6 "
expect_row 7 "Legacy +152 "
# Sorting: by name, by snapshots (the most first), inverted, back.
keys '>'
wait_for "sort: name"
expect_row 5 "Cart +6 "
expect_row 8 "Odd"
keys '>'
wait_for "sort: snapshots"
expect_row 5 "Legacy +152 "
expect_row 6 "Cart +6 "
keys I
wait_line "sort: snapshots (\\(desc\\)|↓)"
expect_row 5 "Odd"
keys '<' '<'
wait_gone "sort:"
expect_row 5 "Cart +6 "
# The state filter: failed (none yet), stale (full replays), behind.
keys F
wait_for "state: failed"
wait_for "No aggregate type matches"
keys F
wait_for "state: stale"
expect_row 5 "Cart +6 "
not_on_screen "Counter"
keys F
wait_for "state: behind"
expect_row 5 "Counter +3 "
not_on_screen "Cart"
keys q
wait_gone "state:"
wait_line "Legacy +152 "

# The mouse: a click on Counter's row picks it (the detail panel follows);
# two clicks on Legacy's open its instances.
click 10 6
wait_for "Snapshots 3: v1 3; target v1"
double_click 10 7
wait_for "Legacy  Elixir.Shop.Legacy: 152 instances"

# The uuids are cut at 80x24; l (or Right) shows their ends, h goes back.
FIRST="^ 00000000-0000-4000-8000.* +1 +v1 "
wait_line "$FIRST"
not_on_screen "000000000001"
keys l l
wait_for "000000000001"
keys Left Left
wait_gone "000000000001"
keys Right Right
wait_for "000000000001"
keys h h
wait_gone "000000000001"

# Paging (18 rows on a page at 80x24): Space and Ctrl-F a page down, Ctrl-B
# up, Ctrl-D and Ctrl-U half a page, G and g the ends.  Line 5 is the first
# row shown.
expect_row 5 "$FIRST"
keys Space
wait_line "^ 00000000-0000-4000-8000.* +19 +v1 "
expect_row 5 " +19 +v1 "
keys C-b
wait_line "$FIRST"
keys C-f
wait_line "^ 00000000-0000-4000-8000.* +19 +v1 "
expect_row 5 " +19 +v1 "
keys C-b C-d
wait_line "^ 00000000-0000-4000-8000.* +10 +v1 "
expect_row 5 " +10 +v1 "
keys C-u
wait_line "$FIRST"
keys G
wait_line "^ legacy-2 "
not_on_screen "000000000001"
keys g
wait_line "$FIRST"
# The wheel scrolls by three rows.
click 10 10 65
wait_line "^ 00000000-0000-4000-8000.* +4 +v1 "
expect_row 5 " +4 +v1 "
click 10 10 64
wait_line "$FIRST"
keys q
wait_line "Legacy +152 "

# Dim text ("not in config") in the theme's grey (256 colours), never bold
# black; without colours, dimmed.  (The cursor, on Cart, is not dim.)
keys Home
wait_for "Snapshots 6: v1 6"
esc=$(printf '\033')
line=$(tm capture-pane -p -e -t ui | grep "Legacy")
if printf '%s' "$line" | grep -q "38;5;244m"; then
	ok "dim text in grey"
else
	fail "dim text: $line"
fi
if printf '%s' "$line" | grep -qE "$esc\\[(1;30|30;1)m|$esc\\[([0-9;]*;)?1;([0-9;]*;)?30m"; then
	fail "bold black: $line"
else
	ok "no bold black"
fi
keys q q
expect_exit 0

tm kill-session -t ui
UI_ENV=NO_COLOR=1 ui_start 80 24 -e dev
wait_line "Legacy +152 "
line=$(tm capture-pane -p -e -t ui | grep "Legacy")
if printf '%s' "$line" | grep -qE "$esc\\[([0-9;]*;)?2(;[0-9;]*)?m"; then
	ok "dim text dimmed without colours"
else
	fail "dim text without colours: $line"
fi
has_colour && fail "colours despite NO_COLOR" || ok "no colours with NO_COLOR"
keys q q
expect_exit 0

finish
