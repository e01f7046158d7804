#!/bin/sh
# Screen test: the overview shows each type's reducer kind and what an
# external reducer says of itself in its handshake; a snapshot_version the
# application disagrees with is flagged in the list and explained in the
# detail panel (the rebuild refuses the type).
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

need_tools python3
new_store tui_reducers
# Speaks just the handshake, in raw mode, for an application whose
# Counter is at snapshot_version 2 (snapmig.conf says 1).
cat >"$T/app.py" <<'EOP'
import json, sys
hello = json.loads(sys.stdin.readline())
print(json.dumps({"op": "hello", "protocol": 1, "raw": True, "reducer": "demo-bridge 1.0",
                  "aggregates": {hello["aggregate"]: {"events": "any", "snapshot_version": 2}}}),
      flush=True)
sys.stdin.read()
EOP
cat >"$T/snapmig.conf" <<EOC
environments = ( { name = "dev"; conninfo = "$CONNINFO"; } );
aggregates = (
$CART_RULES,
  { type = "Elixir.Shop.Counter"; label = "Counter"; snapshot_version = 1;
    reducer = { exec = "python3 app.py"; }; }
);
EOC

ui_start 100 30 -e dev
wait_for "Aggregates"
wait_line "Counter .* version! "
wait_for "Reducer: rules"
keys Down
wait_for "Reducer: external, demo-bridge 1.0 (raw); the application says v2, the config v1"
keys q
finish
