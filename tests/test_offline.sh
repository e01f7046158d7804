#!/bin/sh
# `check` and `fold` with no PostgreSQL server at all (issue 18.4).  This
# test runs without tests/with-pg (Makefile.am: PURE_SH_TESTS), with no
# PG* variables, and the configured environment points at a socket
# directory that does not exist, so that any connection attempt fails:
# check validates the configuration and warns; fold folds with the rules
# (from a file, from standard input, from a start state) and with an
# external reducer, and reports a failing event with its position.
set -u
: "${SNAPMIG_BIN:?run through make check}" "${SNAPMIG_SRCDIR:?run through make check}"
if [ -n "${SNAPMIG_TEST_PGDIR:-}" ]; then
	echo "FAIL: tests/with-pg started a server for this test (PURE_SH_TESTS, tests/run-test)"
	exit 1
fi
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE SNAPMIG_TEST_CONNINFO
T=$(mktemp -d "${TMPDIR:-/tmp}/snapmig-nodb.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
export XDG_CONFIG_HOME="$T/xdg" XDG_STATE_HOME="$T/state"
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# run ARGS...: snapmig with the test's configuration; rc, $T/out, $T/err.
run() {
	"$SNAPMIG_BIN" -c "$T/snapmig.conf" "$@" >"$T/out" 2>"$T/err" <"${STDIN:-/dev/null}"
	rc=$?
}
# expect RC TEXT: the exit status, and standard output equal to TEXT.
expect() {
	if [ "$rc" = "$1" ] && [ "$(cat "$T/out")" = "$2" ]; then ok "rc $1: $2"; else
		fail "expected rc $1 and '$2', got rc $rc: $(cat "$T/out") / $(cat "$T/err")"
	fi
}
expect_err() {
	if grep -qF -- "$1" "$T/err"; then ok "stderr: $1"; else fail "stderr lacks '$1': $(cat "$T/err")"; fi
}

cat >"$T/snapmig.conf" <<EOF
environments = ( { name = "prod"; conninfo = "host=$T/no-server dbname=app user=app"; } );
aggregates = (
  { type = "Elixir.Shop.Counter"; label = "Counter"; snapshot_version = 2;
    initial = "{id: null, count: 0, tags: []}";
    events = (
      { on = "Elixir.Shop.Counter.Events.Created"; do = "id = event.id"; },
      { on = "Elixir.Shop.Counter.Events.Added"; do = "count += event.by"; },
      { on = "Elixir.Shop.Counter.Events.Tagged"; when = "not (event.tag in state.tags)";
        do = "append tags event.tag"; },
      { on = "Elixir.Shop.Counter.Events.Tagged"; }
    ); },
  { type = "Elixir.Domain.Account"; label = "Account"; snapshot_version = 2;
    reducer = { exec = "python3 '$SNAPMIG_SRCDIR/examples/reducers/account.py'"; }; }
);
EOF

# No server: what needs one says so.
run -e prod status
[ "$rc" = 3 ] && ok "status cannot connect (exit 3)" || fail "status: rc $rc: $(cat "$T/out" "$T/err")"

# check: valid, no warnings; a mistake is a warning with file:line:col; a
# configuration that does not load is exit 2 naming its line.
run check
[ "$rc" = 0 ] && grep -q "valid: 1 environment.*2 aggregate types (1 with rules, 1 external)" "$T/out" &&
	ok "check: valid" || fail "check: rc $rc: $(cat "$T/out" "$T/err")"
grep -q warning "$T/err" && fail "check warned: $(cat "$T/err")" || ok "check: no warning"
cp "$T/snapmig.conf" "$T/good.conf"
sed 's/do = "count += event.by"/do = "count = state.total"/' "$T/good.conf" >"$T/snapmig.conf"
run check
[ "$rc" = 0 ] && ok "check with a warning: exit 0" || fail "check with a warning: rc $rc"
expect_err "snapmig.conf:7:"
expect_err "total"
sed 's/do = "id = event.id"/do = "id = event.id +"/' "$T/good.conf" >"$T/snapmig.conf"
run check
[ "$rc" = 2 ] && ok "check of a broken rule: exit 2" || fail "check of a broken rule: rc $rc"
expect_err "snapmig.conf:6:"
cp "$T/good.conf" "$T/snapmig.conf"

# fold with the rules: from a file and from standard input.
cat >"$T/counter.jsonl" <<'EOF'
{"type": "Elixir.Shop.Counter.Events.Created", "data": {"id": "c-1"}}
{"type": "Elixir.Shop.Counter.Events.Added", "data": {"by": 2}, "metadata": {"user": "u"}}
{"type": "Elixir.Shop.Counter.Events.Tagged", "data": {"tag": "a"}}

{"type": "Elixir.Shop.Counter.Events.Tagged", "data": {"tag": "a"}}
{"type": "Elixir.Shop.Counter.Events.Added", "data": {"by": 3}}
EOF
run fold Counter "$T/counter.jsonl"
expect 0 '{"id":"c-1","count":5,"tags":["a"]}'
STDIN="$T/counter.jsonl" run fold Elixir.Shop.Counter
expect 0 '{"id":"c-1","count":5,"tags":["a"]}'
# From a start state at version 7: the next event is version 8.
printf '%s\n' '{"id": "c-9", "count": 10, "tags": ["z"]}' >"$T/state.json"
printf '%s\n' '{"type": "Elixir.Shop.Counter.Events.Added", "data": {"by": 1}}' >"$T/one.jsonl"
run fold Counter "$T/one.jsonl" --state "$T/state.json" --state-version 7
expect 0 '{"id":"c-9","count":11,"tags":["z"]}'
run --json fold Counter "$T/one.jsonl" --state "$T/state.json" --state-version 7
if [ "$rc" = 0 ] && python3 -c "import json,sys; d = json.load(open(sys.argv[1]));
assert d['version'] == 8 and d['events'] == 1 and d['state']['count'] == 11, d" "$T/out"; then
	ok "--json: version 8"; else fail "--json: rc $rc: $(cat "$T/out")"; fi
# A failing event: its stream version and line.
printf '%s\n%s\n' '{"type": "Elixir.Shop.Counter.Events.Added", "data": {"by": 1}}' \
	'{"type": "Elixir.Shop.Counter.Events.Exploded", "data": {}}' >"$T/bad.jsonl"
run fold Counter "$T/bad.jsonl" --state "$T/state.json" --state-version 7
[ "$rc" = 1 ] && ok "a failing event: exit 1" || fail "a failing event: rc $rc"
expect_err "failed at event 9 (line 2) Elixir.Shop.Counter.Events.Exploded: unknown_event"

# fold with an external reducer (Python, snapmig-reducer(7)).
cat >"$T/account.jsonl" <<'EOF'
{"type": "Elixir.Domain.Account.Events.Created", "data": {"id": "a-1", "name": "A", "email": "a@x", "plan": "free", "created_at": "2026-01-01T00:00:00Z", "address": {"city": "B", "country": "C"}}}
{"type": "Elixir.Domain.Account.Events.UsageRecorded", "data": {"id": "a-1", "metric": "sms", "amount": 3, "recorded_at": "t1"}}
{"type": "Elixir.Domain.Account.Events.UsageRecorded", "data": {"id": "a-1", "metric": "sms", "amount": 4, "recorded_at": "t2"}}
{"type": "Elixir.Domain.Account.Events.PlanChanged", "data": {"id": "a-1", "plan": "pro", "changed_at": "t3"}}
EOF
run fold Account "$T/account.jsonl"
if [ "$rc" = 0 ] && python3 -c "import json,sys; d = json.load(open(sys.argv[1]));
assert d['id'] == 'a-1' and d['plan'] == 'pro' and d['plan_changes'] == 1, d
assert d['usage'] == {'sms': 7} and d['last_usage_at'] == 't2', d" "$T/out"; then
	ok "fold Account with the external reducer"; else fail "fold Account: rc $rc: $(cat "$T/out" "$T/err")"; fi

echo "$passed checks passed, $failed failed"
[ "$failed" = 0 ]
