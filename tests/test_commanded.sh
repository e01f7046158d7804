#!/bin/sh
# The Commanded bridge (elixir/snapmig_commanded) end to end, against the
# real Commanded application of elixir/snapmig_test_app (elixir/README.md).
#
# For each store flavour (bytea with Commanded's JsonSerializer, jsonb with
# EventStore.JsonbSerializer, jsonb holding JSON text), Commanded itself
# writes the events and snapshots (mix snapmig_test.seed); snapmig, with
# `mix snapmig.reducer` as the reducer of both aggregate types, runs the
# pre-flight and the rebuild; then mix snapmig_test.verify compares every
# generated row with the snapshot Commanded records of the state it loads
# itself (AggregateStateBuilder, Snapshotting), and snapmig's failures
# with the instances Commanded cannot load.  The bytea store is then
# rebuilt after a version bump (a full replay of the x_val Ledger) and
# refused when snapmig.conf and the application disagree on the version.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

case "$(cat "${SNAPMIG_ELIXIR_BUILD:?run through make check}/stamp" 2>/dev/null)" in
ok) ;;
*)
	echo "SKIP: the Elixir test application is not built:" \
	     "$(cat "$SNAPMIG_ELIXIR_BUILD/stamp" 2>/dev/null || echo "no $SNAPMIG_ELIXIR_BUILD/stamp")"
	exit 77 ;;
esac

# The UI check below runs a private tmux server: stopped on any exit.
cleanup() {
	tmux -S "$T/tmux.sock" kill-server >/dev/null 2>&1
	rm_tmpdir
}

APP="$SNAPMIG_SRCDIR/elixir/snapmig_test_app"
export XDG_STATE_HOME="$T/state"
# What every mix command here runs with: the build of `make`, MIX_ENV=prod.
MIXENV="SNAPMIG_ELIXIR_DEPS='$SNAPMIG_ELIXIR_DEPS' MIX_BUILD_ROOT='$SNAPMIG_ELIXIR_BUILD' MIX_ENV=prod"

# tmix ARGS...: a task of the test application; output in $T/mix.out.
tmix() {
	(cd "$APP" && eval "$MIXENV" '"$SNAPMIG_MIX"' '"$@"') >"$T/mix.out" 2>&1
}

# write_bridge_config FLAVOUR COUNTER_VERSION LEDGER_VERSION [APP_LEDGER_VERSION]:
# $T/snapmig.conf for database snapmig_cmd_FLAVOUR, both aggregate types
# folded by the bridge for TestApp.<Flavour>; the application's own Ledger
# version comes from its init/1 (SNAPMIG_TEST_LEDGER_VERSION).  The
# bridge's VM kills itself at counter-halted (SNAPMIG_TEST_KILL).
write_bridge_config() {
	app=TestApp.$(echo "$1" | sed 's/^./\U&/')
	exec="cd '$APP' \&\& $MIXENV exec '$SNAPMIG_MIX' snapmig.reducer --application $app"
	env="env = { SNAPMIG_TEST_KILL = \"1\"; SNAPMIG_TEST_LEDGER_VERSION = \"${4:-1}\"; };"
	DB=snapmig_cmd_$1
	CONNINFO="host=$PGHOST dbname=$DB user=postgres"
	sed "s|@EXEC@|$exec|" >"$T/snapmig.conf" <<EOF
environments = ( { name = "local"; conninfo = "$CONNINFO"; } );
aggregates = (
  { type = "Elixir.TestApp.Counter"; label = "Counter"; snapshot_version = $2;
    reducer = { exec = "@EXEC@"; timeout_ms = 120000; $env }; },
  { type = "Elixir.TestApp.Ledger"; label = "Ledger"; snapshot_version = $3;
    reducer = { exec = "@EXEC@"; timeout_ms = 120000; $env }; }
);
EOF
	CONF="$T/snapmig.conf"
}

# seed FLAVOUR: the store, written by Commanded.
seed() {
	if tmix snapmig_test.seed "$1" "$T/manifest-$1.json" &&
	   grep -q "application started" "$T/mix.out"; then
		ok "seeded the $1 store with Commanded (the application started)"
	else
		fail "mix snapmig_test.seed $1"
		tail -40 "$T/mix.out"
		finish
	fi
}

# verify FLAVOUR [ENV=VALUE]: snapmig's rows and failures against Commanded's.
verify() {
	run -c "$CONF" --json failures
	cp "$T/out" "$T/failures-$1.json"
	if (export ${2:-SNAPMIG_TEST_UNUSED=1}; tmix snapmig_test.verify "$1" "$T/manifest-$1.json" \
		"$T/failures-$1.json" --killed counter-halted); then
		ok "$(grep '^verify' "$T/mix.out")"
	else
		fail "verify $1: snapmig's snapshots are not Commanded's"
		grep -E '^(FAIL|verify|\*\*)' "$T/mix.out" | head -40
	fi
}

for flavour in bytea jsonb double; do
	seed $flavour
	write_bridge_config $flavour 1 1

	# Pre-flight: the event types the application has no struct for, or
	# that no apply/2 clause takes, before any replay.
	run -c "$CONF" --json preflight
	expect_rc 1
	json_check 'sorted((u["event_type"], u.get("kind")) for u in d["unknown_events"]) == [
	  ("Elixir.TestApp.Counter.Events.Archived", "unknown_event"),
	  ("Elixir.TestApp.Gone", "unknown_event"),
	  ("Elixir.TestApp.NotAStruct", "reducer_error")]'
	json_check 'any("Elixir.TestApp.Gone in the application" in u["message"] for u in d["unknown_events"])'

	# One worker, so that the instances after counter-halted (which kills
	# the bridge's VM) are folded by a restarted bridge.  Every snapshot is
	# at the application's version: a catch-up from each, so the Ledgers
	# (snapshots at 5 of 8 or 6 events) fold 3+3+3+1 events, not 30.
	run -c "$CONF" -j 1 --json rebuild
	expect_rc 1
	json_check '[t["failed"] > 0 for t in d["types"] if t["type"] == "Elixir.TestApp.Counter"] == [True]'
	if [ $flavour != jsonb ]; then
		json_check '[t["events_done"] for t in d["types"] if t["type"] == "Elixir.TestApp.Ledger"] == [10]'
	fi
	verify $flavour
done

# The application printed on stdout (runtime.exs, apply/2 of Tagged) and
# logged: all of it went to the reducer log, none into the protocol.
cat "$XDG_STATE_HOME"/snapmig/*.log >"$T/reducer.log" 2>/dev/null
log="$T/reducer.log"
if grep -q "runtime configuration loaded" "$log" &&
   grep -q "tagged z" "$log"; then
	ok "the application's output went to the reducer log"
else
	fail "the application's stdout is not in the reducer log ($log)"
fi
# Started without starting: the application's callback module
# (TestApp.Boot) never ran in a bridge, though the seed and verify tasks
# start it (its line is in their output).
if ! grep -q "application started" "$log" &&
   grep -q "reducer: snapmig_commanded" "$log"; then
	ok "the bridge did not start the application"
else
	fail "the bridge started the application (or no reducer log: $log)"
fi

# -------------------------------------------------- a version bump (bytea)
# The Ledger's state changed shape: its developers bumped snapshot_version
# to 2 in the application, snapmig.conf says 2.  Every Ledger snapshot
# (written at 1) is outdated: a full replay from the x_val-encoded events.
write_bridge_config bytea 1 2 2
sql "DROP SCHEMA migration CASCADE" >/dev/null
run -c "$CONF" -j 2 --json rebuild
expect_rc 1
json_check '[t["events_done"] for t in d["types"] if t["type"] == "Elixir.TestApp.Ledger"] == [30]'
verify bytea SNAPMIG_TEST_LEDGER_VERSION=2
# Every generated row carries the fingerprint the bridge reports for its
# type (issue 16.2: a hash of the modules that fold it), and status counts
# them current.
v=$(sql "SELECT count(*) FILTER (WHERE f.described ->> 'hello_fingerprint' LIKE 'snapmig_commanded % sha256:%'),
	 count(*) FROM migration.snapshots s JOIN migration.snapmig_rows r USING (source_uuid)
	 JOIN migration.snapmig_fingerprints f USING (fp_id)")
case "$v" in
"0|"* | *"|0") fail "rows with the bridge's fingerprint, rows: $v" ;;
*) [ "${v%%|*}" = "${v#*|}" ] && ok || fail "rows with the bridge's fingerprint, rows: $v" ;;
esac
run -c "$CONF" --json status
json_check '[(t["label"], t["target_stale"]) for t in d["types"] if t["target_rows"]] == [("Counter", 0), ("Ledger", 0)]'

# ------------------------------------------- versions that disagree (bytea)
# snapmig.conf says 3, the application still 2: shown, and refused.
write_bridge_config bytea 1 3 2
run -c "$CONF" status
expect_line '^Ledger: snapmig_commanded [0-9.]+ \(raw mode\); the application: 2, snapmig.conf: 3: VERSIONS DISAGREE'
expect_line '^Counter: snapmig_commanded [0-9.]+ \(raw mode\); the application: 1, as snapmig.conf'
run -c "$CONF" --json preflight
expect_rc 1
json_check '[(m["type"], m["configured"], m["application"]) for m in d["version_mismatches"]] == [("Elixir.TestApp.Ledger", 3, 2)]'
before=$(sql "SELECT count(*) FROM migration.snapshots")
run -c "$CONF" -a Ledger rebuild
expect_rc 2
expect_err 'Elixir.TestApp.Ledger'
expect_err 'snapshot_version 3'
after=$(sql "SELECT count(*) FROM migration.snapshots")
if [ "$before" = "$after" ]; then ok; else fail "a refused rebuild wrote rows ($before -> $after)"; fi

# ... and in the UI (tmux, as tests/tui_lib.sh drives it): the overview's
# pre-flight column flags the Ledger, and each type's detail names its
# reducer: the Commanded bridge, with the versions.
if command -v tmux >/dev/null 2>&1; then
	unset TMUX
	tm() { tmux -S "$T/tmux.sock" -f /dev/null "$@"; }
	# wait_screen REGEX WHAT: polls the screen for up to 120 s (the
	# pre-flight starts a VM per type).
	wait_screen() {
		deadline=$(( $(date +%s) + 120 ))
		until tm capture-pane -p -t ui | grep -qE -- "$1"; do
			if [ "$(date +%s)" -ge "$deadline" ]; then
				fail "the UI never showed $2"
				tm capture-pane -p -t ui
				return 1
			fi
			sleep 0.2
		done
		ok "the UI shows $2"
	}
	tm new-session -d -s ui -x 200 -y 40 "env TERM=screen-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 \
		XDG_STATE_HOME='$XDG_STATE_HOME' XDG_CONFIG_HOME='$T/xdg' '$SNAPMIG_BIN' -c '$CONF' -e local; sleep 600"
	wait_screen '\] Ledger .* version! ' "the Ledger's version mismatch"
	wait_screen 'Reducer: Commanded bridge, snapmig_commanded [0-9.]+ \(raw\); the application agrees on the version' \
		"the Counter's reducer"
	tm send-keys -t ui Down
	wait_screen 'Reducer: Commanded bridge, snapmig_commanded [0-9.]+ \(raw\); the application says v2, the config v3: rebuild refused' \
		"the Ledger's reducer and versions"
	tm send-keys -t ui q
else
	echo "SKIP (part): no tmux for the UI check"
fi

finish
