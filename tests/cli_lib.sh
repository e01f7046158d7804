# Shared by tests/test_cli_*.sh (sourced).  They run the real snapmig binary
# against the throwaway server of tests/with-pg and check its outputs, JSON
# shapes and exit codes.  The harness's helpers are tests/shell_lib.sh's.

. "${SNAPMIG_SRCDIR:?}/tests/shell_lib.sh"

need_tools psql python3
MKSTORE="$SNAPMIG_BUILDDIR/tests/mkstore"
make_tmpdir cli
export XDG_CONFIG_HOME="$T/xdg"
cd "$T" || exit 99

# new_db NAME: a fresh database; sets CONNINFO to it.
new_db() {
	psql_db postgres "DROP DATABASE IF EXISTS \"$1\"" >/dev/null 2>&1 &&
	psql_db postgres "CREATE DATABASE \"$1\"" >/dev/null || exit 99
	DB=$1
	CONNINFO="host=$PGHOST dbname=$1 user=postgres"
}

# The demo's configuration (examples/snapmig.conf; environment "demo").
DEMO_CONF="$SNAPMIG_SRCDIR/examples/snapmig.conf"

# new_demo_db SCALE BUMP: a fresh database snapmig_demo filled by the
# demo's data generator (examples/demo) with --scale SCALE --bump BUMP.
new_demo_db() {
	new_db snapmig_demo
	"$SNAPMIG_BUILDDIR/examples/demo/snapmig-demo-data" -d "$CONNINFO" -c "$DEMO_CONF" \
		--scale "$1" --bump "$2" -q || exit 99
}

# mkstore MODE SCENARIO [ARGS]: fills the current database (tests/mkstore.c).
mkstore() {
	PGOPTIONS='-c client_min_messages=warning' "$MKSTORE" "$CONNINFO" "$@" || exit 99
}

# write_config [EXTRA_ENVIRONMENTS]: $T/snapmig.conf with the environment
# "local" pointing at the current database and the aggregates of the stores
# that mkstore builds.
write_config() {
	cat >"$T/snapmig.conf" <<EOF
environments = (
  { name = "local"; conninfo = "$CONNINFO"; }${1:-}
);
aggregates = (
  { type = "Elixir.Demo.Counter"; label = "Counter"; snapshot_version = 2;
    initial = "{id: null, count: 0, tags: []}";
    events = (
      { on = "Elixir.Demo.Counter.Events.Created"; do = "id = event.id"; },
      { on = "Elixir.Demo.Counter.Events.Incremented"; do = "count += event.by"; },
      { on = "Elixir.Demo.Counter.Events.Tagged"; do = "append tags event.tag"; }
    ); },
  { type = "Elixir.Demo.Team"; snapshot_version = 1;
    initial = "{id: null, member_ids: []}";
    events = (
      { on = "Elixir.Demo.Team.Events.MemberAdded"; do = "append member_ids event.user_id"; }
    ); }
);
EOF
	CONF="$T/snapmig.conf"
}

# run ARGS...: runs snapmig with stdin from /dev/null; sets rc and leaves
# stdout in $T/out, stderr in $T/err.
run() {
	"$SNAPMIG_BIN" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	LAST="snapmig $*"
}

# run_with VAR=VALUE ARGS...: run with one more environment variable.
run_with() {
	_assign=$1
	shift
	env "$_assign" "$SNAPMIG_BIN" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	LAST="$_assign snapmig $*"
}

show_last() {
	echo "  command: $LAST (exit $rc)"
	sed 's/^/  out: /' "$T/out" | head -40
	sed 's/^/  err: /' "$T/err" | head -40
}

expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok; else fail "expected exit $1"; show_last; fi
}

# expect_out / expect_err TEXT: fixed text somewhere in stdout / stderr.
expect_out() {
	if grep -qF -- "$1" "$T/out"; then ok; else fail "stdout lacks: $1"; show_last; fi
}
expect_err() {
	if grep -qF -- "$1" "$T/err"; then ok; else fail "stderr lacks: $1"; show_last; fi
}
refute_out() {
	if grep -qF -- "$1" "$T/out"; then fail "stdout has: $1"; show_last; else ok; fi
}
refute_err() {
	if grep -qF -- "$1" "$T/err"; then fail "stderr has: $1"; show_last; else ok; fi
}
# expect_line REGEX: an extended regular expression matching a stdout line.
expect_line() {
	if grep -qE -- "$1" "$T/out"; then ok; else fail "no stdout line matches: $1"; show_last; fi
}

# json_check PYTHON_EXPR: evaluates the expression with d = the JSON document
# on stdout; it must be true.
json_check() {
	if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
' "$T/out" "$1" 2>"$T/pyerr"; then
		ok
	else
		fail "JSON check failed: $1"
		sed 's/^/  python: /' "$T/pyerr"
		show_last
	fi
}
