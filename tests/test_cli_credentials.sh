#!/bin/sh
# Credentials with real password authentication (the harness's server
# trusts every local connection; this test makes one role need its
# password): a password from ~/.pgpass (PGPASSFILE), from password_env and
# from the conninfo works, and none of them appears in output, --json,
# errors, the reducer log or the journal, also when it is wrong.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

: "${SNAPMIG_TEST_PGCTL:?run under tests/with-pg}"
: "${SNAPMIG_TEST_PGDIR:?run under tests/with-pg}"
PW=pgp4ss-Secr3t
WRONG=wr0ng-Secr3t
HBA="$SNAPMIG_TEST_PGDIR/data/pg_hba.conf"
export XDG_STATE_HOME="$T/state"

new_db cli_credentials
mkstore bytea basic
sql "CREATE ROLE snapmig_app LOGIN PASSWORD '$PW';
     GRANT ALL ON SCHEMA public TO snapmig_app;
     GRANT ALL ON ALL TABLES IN SCHEMA public TO snapmig_app;
     GRANT CREATE ON DATABASE cli_credentials TO snapmig_app;" >/dev/null || exit 99
# Password authentication for that role only, before the trust lines.
cp "$HBA" "$T/hba.orig"
{ echo "local all snapmig_app scram-sha-256"; cat "$T/hba.orig"; } >"$HBA"
"$SNAPMIG_TEST_PGCTL" reload >/dev/null 2>&1 || { echo "pg_ctl reload failed"; exit 99; }
restore_hba() {
	cp "$T/hba.orig" "$HBA" && "$SNAPMIG_TEST_PGCTL" reload >/dev/null 2>&1
}
APP="host=$PGHOST dbname=cli_credentials user=snapmig_app"

# Without any password: refused, so the checks below are meaningful.
CONNINFO="$APP"
write_config
run -c "$CONF" status
expect_rc 3
expect_err "password"

no_secret() {
	refute_out "$1"
	refute_err "$1"
}

# 1. .pgpass, through PGPASSFILE.
printf '*:*:cli_credentials:snapmig_app:%s\n' "$PW" >"$T/pgpass"
chmod 600 "$T/pgpass"
export PGPASSFILE="$T/pgpass"
run -c "$CONF" status
expect_rc 0
no_secret "$PW"
run -c "$CONF" --json rebuild
expect_rc 1
no_secret "$PW"
run -c "$CONF" -v --json status
expect_rc 0
no_secret "$PW"
printf '*:*:cli_credentials:snapmig_app:%s\n' "$WRONG" >"$T/pgpass"
run -c "$CONF" status
expect_rc 3
expect_err "snapmig: "
no_secret "$WRONG"
unset PGPASSFILE

# 2. password_env.
cat >"$T/env.conf" <<EOC
environments = ( { name = "app"; conninfo = "$APP"; password_env = "APP_PW"; } );
aggregates = ( { type = "Elixir.Demo.Team"; snapshot_version = 1;
  initial = "{id: null, member_ids: []}";
  events = ( { on = "Elixir.Demo.Team.Events.MemberAdded"; do = "append member_ids event.user_id"; } ); } );
EOC
run_with APP_PW="$PW" -c "$T/env.conf" --json rebuild
expect_rc 0
no_secret "$PW"
run_with APP_PW="$WRONG" -c "$T/env.conf" status
expect_rc 3
no_secret "$WRONG"
run_with APP_PW="$WRONG" -c "$T/env.conf" --json status
expect_rc 3
no_secret "$WRONG"

# 3. In the conninfo (a warning for protected environments only).
CONNINFO="$APP password=$PW"
write_config
run -c "$CONF" -v runs
expect_rc 0
no_secret "$PW"
run -c "$CONF" --json failures
no_secret "$PW"
CONNINFO="$APP password=$WRONG"
write_config
run -c "$CONF" -v status
expect_rc 3
no_secret "$WRONG"

# Nothing stored holds a password: the journal, the failures, the
# generated rows, and the reducer logs snapmig keeps.
expect_sql "SELECT count(*) FROM migration.snapmig_runs r WHERE row_to_json(r)::text LIKE '%Secr3t%'" 0 \
	"no password in the journal"
expect_sql "SELECT count(*) FROM migration.snapmig_failures f WHERE row_to_json(f)::text LIKE '%Secr3t%'" 0 \
	"no password in the failure table"
if grep -rq "Secr3t" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME" 2>/dev/null; then
	fail "a file snapmig wrote holds a password"
else
	ok
fi

restore_hba || fail "pg_hba.conf not restored"
finish
