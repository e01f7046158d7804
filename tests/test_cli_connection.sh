#!/bin/sh
# What the connection is (issue 19.3 and 19.7): the header of `status`, -v
# and `status --json`'s database name what libpq reached (socket directory
# from PGHOST, a service file), not what the conninfo spells;
# application_name is snapmig's only when neither PGAPPNAME nor the
# conninfo sets one; with --json a failure still prints one document.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_connection
mkstore bytea basic
port=$(psql_db postgres "SHOW port")
where="$PGHOST:$port/cli_connection"

# The conninfo names only the database: host and port come from libpq's
# defaults and PGHOST (the harness's socket directory).
write_config ',
  { name = "bare"; conninfo = "dbname=cli_connection user=postgres"; },
  { name = "svc"; conninfo = "service=es"; },
  { name = "named"; conninfo = "dbname=cli_connection user=postgres application_name=fromconf"; }'
run -c "$CONF" -e bare -v status
expect_rc 0
expect_out "environment  bare ($where)"
expect_err "snapmig: config $CONF, environment bare ($where)"
run -c "$CONF" -e bare status --json
json_check "d['database'] == '$where'"

# A service file: the conninfo says nothing but the service's name.
cat >"$T/pg_service.conf" <<EOF
[es]
host=$PGHOST
port=$port
dbname=cli_connection
user=postgres
EOF
run_with PGSERVICEFILE="$T/pg_service.conf" -c "$CONF" -e svc -v status --json
expect_rc 0
json_check "d['database'] == '$where'"
expect_err "environment svc ($where)"

# application_name, as the server saw it (log_connections).
psql_db postgres "ALTER SYSTEM SET log_connections = on" >/dev/null
psql_db postgres "SELECT pg_reload_conf()" >/dev/null
LOG="$SNAPMIG_TEST_PGDIR/server.log"
# app_names ARGS...: runs snapmig; prints the application_names of the
# connections it made, from the server log.
app_names() {
	before=$(wc -l <"$LOG")
	"$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	LAST="$*"
	# The log line comes from the backend; it is written before the
	# client sees its connection accepted.
	tail -n +"$((before + 1))" "$LOG" |
		sed -n 's/.*connection authorized: user=postgres database=cli_connection application_name=\([^ ]*\).*/\1/p' |
		sort -u | tr '\n' ' '
}
got=$(app_names "$SNAPMIG_BIN" -c "$CONF" -e bare status)
expect_rc 0
[ "$got" = "snapmig " ] && ok || fail "application_name by default: '$got'"
got=$(app_names env PGAPPNAME=myjob "$SNAPMIG_BIN" -c "$CONF" -e bare status)
expect_rc 0
[ "$got" = "myjob " ] && ok || fail "application_name with PGAPPNAME: '$got'"
got=$(app_names "$SNAPMIG_BIN" -c "$CONF" -e named status)
expect_rc 0
[ "$got" = "fromconf " ] && ok || fail "application_name from the conninfo: '$got'"

# --json and a connection that fails (exit 3): one document, the error in
# it, no password.
cat >"$T/gone.conf" <<EOF
environments = (
  { name = "gone"; conninfo = "host=$T/nowhere dbname=es user=app password=s3cr3t-pw"; }
);
aggregates = ();
EOF
for cmd in status preflight rebuild failures runs "copy --dry-run" rollback; do
	# shellcheck disable=SC2086
	run -q -c "$T/gone.conf" --json $cmd
	expect_rc 3
	json_check "d['environment'] == 'gone' and d['exit_status'] == 3 and d['sqlstate'] == '08001'"
	json_check "'cannot connect' in d['error'] and 's3cr3t' not in d['error']"
	refute_out "s3cr3t-pw"
done
# ... and a configuration error (exit 2), also before the environment is known.
run -c "$T/missing.conf" status --json
expect_rc 2
json_check "d['environment'] is None and d['exit_status'] == 2 and 'missing.conf' in d['error'] and d['sqlstate'] is None"
run -c "$CONF" -e nowhere --json runs
expect_rc 2
json_check "d['environment'] == 'nowhere' and d['error'] == 'no environment named \"nowhere\"'"
run -c "$CONF" --json status --bogus
expect_rc 2
json_check "d['error'].startswith('status: invalid option --bogus')"
# A command that printed its own document prints no second one.
run -c "$CONF" -e bare --json preflight
expect_rc 1
json_check "d['ok'] is False and 'error' not in d"
finish
