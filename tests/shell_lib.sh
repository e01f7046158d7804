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
