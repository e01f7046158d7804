#!/bin/sh
# Screen test (issue 19.2): the UI reads the configuration file again on r
# and when an environment is entered, says when the file changed on disk,
# and refuses to start a rebuild (or a copy) with a configuration that is
# not the file as it is now; an error in the file names file:line.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

new_store tui_config
write_config
cd "$T" || exit 99
cp "$T/snapmig.conf" "$T/original.conf"
# The same file with a handler for the event type the fixture lacks one for.
with_handler() {
	sed 's|{ on = "Elixir.Shop.Cart.Events.ItemAdded"; do = "append items event.sku"; }|&,\
      { on = "Elixir.Shop.Cart.Events.Abandoned"; }|' "$T/original.conf" >"$T/snapmig.conf.new"
	mv "$T/snapmig.conf.new" "$T/snapmig.conf"
}

ui_start 160 40 -e dev
wait_line "Cart +6 .* 1 unknown "
not_on_screen "config changed"

# The file changes on disk: the title says so; a rebuild is refused.
with_handler
wait_for "config changed (r)"
keys b
wait_for "The configuration file changed since it was read: r reads it again"
not_on_screen "Start the rebuild?"
# r reads it again (and connects with it): the type has no unknown event
# any more, and a rebuild of it fails nothing.
keys r
wait_for "Configuration read again from $T/snapmig.conf"
wait_gone "config changed"
wait_line "Cart +6 .* ok "
keys b
wait_for "Start the rebuild?"
keys y
wait_for "Done: 6 instances processed, 0 failed" 60
keys q
wait_line "Cart +6 .* ok "

# An error in the file: r names file:line and a rebuild is refused.
printf 'aggregates = ( { type = ; } );\n' >>"$T/snapmig.conf"
wait_for "config changed (r)"
keys r
wait_line "Configuration not read again: $T/snapmig.conf:[0-9]+"
wait_for "config error (r)"
keys b
wait_for "The configuration file has an error (see the title): fix it, then r"
# Fixed: r reads it again.
with_handler
keys r
wait_for "Configuration read again"
wait_gone "config error"
wait_gone "config changed"

# Entering an environment reads the file again, without r: Counter's
# snapshots are at an old version once its target version is 2.
keys q
wait_for "Pick an environment"
sed 's|label = "Counter"; snapshot_version = 1;|label = "Counter"; snapshot_version = 2;|' \
	"$T/snapmig.conf" >"$T/snapmig.conf.new" && mv "$T/snapmig.conf.new" "$T/snapmig.conf"
wait_for "config changed (r)"
keys Home Enter
wait_line "Counter +3 +v1 3 +v2 +3 +0 +"
not_on_screen "config changed"
# The picker follows the file too: an environment added shows on r.
keys q
wait_for "Pick an environment"
sed 's|^environments = (|&\n  { name = "stage"; conninfo = "'"$CONNINFO"'"; },|' "$T/original.conf" \
	>"$T/snapmig.conf.new" && mv "$T/snapmig.conf.new" "$T/snapmig.conf"
wait_for "config changed (r)"
keys r
wait_line "^ +stage +"
wait_gone "config changed"
# The contents decide: a change undone is no change.
cp "$T/snapmig.conf" "$T/stage.conf"
printf '# a comment\n' >>"$T/snapmig.conf"
wait_for "config changed (r)"
cp "$T/stage.conf" "$T/snapmig.conf"
wait_gone "config changed"
keys q
expect_exit 0

finish
