# Shared by tests/cli_lib.sh and tests/tui_lib.sh (sourced first by each):
# the harness's environment, a private temporary directory $T removed on
# exit, the check counters and psql against the throwaway server of
# tests/with-pg.
#
# Environment (from the harness and Makefile.am): SNAPMIG_BIN,
# SNAPMIG_BUILDDIR, SNAPMIG_SRCDIR, SNAPMIG_TEST_CONNINFO, PGHOST.

set -u

: "${SNAPMIG_BIN:?run through make check}"
: "${SNAPMIG_TEST_CONNINFO:?run under tests/with-pg}"

# need_tools TOOL...: the test is skipped (exit 77) when one is missing.
need_tools() {
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "SKIP: $tool is not installed"
			exit 77
		fi
	done
}

# make_tmpdir NAME: a fresh directory in $T, removed on exit by cleanup
# (which a library may redefine, calling rm_tmpdir last).
make_tmpdir() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/snapmig-$1.XXXXXX") || exit 99
	trap cleanup EXIT
}
rm_tmpdir() {
	rm -rf "$T"
}
cleanup() {
	rm_tmpdir
}

failures=0
checks=0
# The config may not be found through a user's own settings (set
# XDG_CONFIG_HOME below $T once it exists).
unset SNAPMIG_CONFIG

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# ok [WHAT]: one more check passed (WHAT is printed when given).
ok() {
	checks=$((checks + 1))
	[ $# -eq 0 ] || echo "ok: $*"
}

# The result of a test script.
finish() {
	echo "$checks checks passed, $failures failed"
	[ "$failures" -eq 0 ] || exit 1
	exit 0
}

# psql against a database of the harness's server: psql_db DB SQL
psql_db() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# sql SQL: psql_db on the test's database $DB.
sql() {
	psql_db "$DB" "$1"
}

# expect_sql SQL VALUE WHAT: the query on $DB gives VALUE (ok WHAT); else
# a failure naming WHAT, what it gave and what was expected, then the
# command line's output so far when a test keeps it in $T/cli.out.
expect_sql() {
	_got=$(sql "$1")
	if [ "$_got" = "$2" ]; then
		ok "$3"
	else
		fail "$3: got '$_got', expected '$2'"
		[ ! -s "$T/cli.out" ] || cat "$T/cli.out"
	fi
}

# slow_rebuild ENV TYPE AGGREGATE: another process's rebuild of TYPE alone,
# in environment ENV on $CONNINFO (configuration $T/lock.conf), started in
# the background (pid in bg; stdout in $T/bg.out, stderr in $T/bg.err).
# Its external reducer (examples/reducers' snapmig_reducer, the Python
# expression AGGREGATE for TYPE) waits 20 s before its handshake the first
# time, so the rebuild holds the target schema meanwhile; returns once the
# lock row names the run (or after 20 s).
slow_rebuild() {
	cat >"$T/slow_reducer.py" <<EOP
import os, time
import snapmig_reducer as sr
if os.path.exists('slow'):
    os.remove('slow')
    time.sleep(20)
sr.run({'$2': $3})
EOP
	cat >"$T/lock.conf" <<EOC
environments = ( { name = "$1"; conninfo = "$CONNINFO"; } );
aggregates = ( { type = "$2"; snapshot_version = 1;
  reducer = { exec = "exec python3 slow_reducer.py";
    env = { PYTHONPATH = "$SNAPMIG_SRCDIR/examples/reducers"; PYTHONDONTWRITEBYTECODE = "1"; }; }; } );
EOC
	: >"$T/slow"
	"$SNAPMIG_BIN" -c "$T/lock.conf" rebuild </dev/null >"$T/bg.out" 2>"$T/bg.err" &
	bg=$!
	deadline=$(( $(date +%s) + 20 ))
	until [ "$(sql "SELECT count(*) FROM migration.snapmig_lock WHERE operation = 'rebuild' AND run_id IS NOT NULL" 2>/dev/null)" = 1 ] ||
	      [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
}

# until_sql SECONDS WHAT CONDITION: polls the SQL boolean CONDITION on $DB
# until it is true; after SECONDS a failure says WHAT did not happen
# (returns 1).
until_sql() {
	_deadline=$(( $(date +%s) + $1 ))
	until [ "$(sql "SELECT ($3)" 2>/dev/null)" = t ]; do
		if [ "$(date +%s)" -ge "$_deadline" ]; then
			fail "$2 (not within $1 s)"
			return 1
		fi
		sleep 0.1
	done
}
