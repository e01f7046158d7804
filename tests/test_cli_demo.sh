#!/bin/sh
# scripts/demo-run end to end in tmux: its own throwaway cluster with a small
# demo store, the UI on it, a rebuild during which Ctrl-C is answered "n",
# then a normal quit: the script exits 0 (issue 19.7: the script's own
# Ctrl-C trap turned this into 130) and stops its server.
. "$SNAPMIG_SRCDIR/tests/tui_lib.sh"

# The cluster's directory must be reachable by the server's user (nobody
# when the test runs as root), so that demo-run keeps it below $T.
chmod 755 "$T"
DEMO=$T/demo
demo_env() {
	env SNAPMIG_DEMO_DIR="$DEMO" SNAPMIG_DEMO_SCALE=3000 SNAPMIG_BUILDDIR="$SNAPMIG_BUILDDIR" "$@"
}
cleanup() {
	tm kill-server >/dev/null 2>&1
	demo_env "$SNAPMIG_SRCDIR/scripts/demo-run" --stop >/dev/null 2>&1
	rm_tmpdir
}

cat >"$T/run.sh" <<EOS
# Ctrl-C reaches this shell too: it stays to report.
trap ':' INT
env SNAPMIG_DEMO_DIR="$DEMO" SNAPMIG_DEMO_SCALE=3000 SNAPMIG_BUILDDIR="$SNAPMIG_BUILDDIR" \
	"$SNAPMIG_SRCDIR/scripts/demo-run"
echo "[exit \$?]"
sleep 600
EOS
tm new-session -d -s ui -x 100 -y 30 \
	"env TERM=screen-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 sh $T/run.sh" || exit 99

# The cluster is made and loaded first; then the UI opens on the demo.
wait_for "StatusPage" 120
sock=$(cd "$DEMO/pg" && pwd -P)
demo_sql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$sock" -U postgres -d snapmig_demo -c "$1"
}
# (Once the pre-flight column is filled in, the screen takes keys.)
wait_line "Account .* ok +not started" 60
keys a
wait_line "[0-9]+ marked"

# A transaction holding the live snapshots (taken once the dialog has read
# the plan) keeps the run in its planning.
keys b
wait_for "Start the rebuild?"
demo_sql "BEGIN; LOCK TABLE public.snapshots IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
locker=$!
deadline=$(( $(date +%s) + 20 ))
until [ "$(demo_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'snapshots' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] ||
      [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
keys y
wait_line "rebuild (planning|running)"
# Ctrl-C while it runs: asked, answered "n"; the run goes on.
keys C-c
wait_for "Cancel the rebuild and quit?"
keys n
wait_gone "Cancel the rebuild and quit?"
wait_line "rebuild (planning|running)"
demo_sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker"
wait_for "Done:" 120

# A normal quit: back through the screens, then out.
keys q
wait_for "snapmig | Aggregates"
keys q
wait_for "snapmig | Environments"
keys q
wait_for "[exit " 30
if screen | grep -qF "[exit 0]"; then ok "demo-run exited 0"; else
	fail "demo-run exit status: $(screen | grep -o '\[exit [0-9]*\]')"
fi
# Its server was stopped on the way out.
if demo_sql "SELECT 1" >/dev/null 2>&1; then fail "the demo server still runs"; else ok "server stopped"; fi
finish
