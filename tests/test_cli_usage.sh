#!/bin/sh
# The command line's usage, configuration and connection errors: exit codes
# 0/2/3, messages on stderr as "snapmig: ...", config file:line, passwords
# never printed.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_usage
mkstore bytea basic
write_config

# No command and no terminal: usage on stderr, exit 2.
run
expect_rc 2
expect_err "Usage: snapmig"

run --help
expect_rc 0
expect_out "Usage: snapmig"
for cmd in status preflight rebuild failures copy rollback runs; do
	expect_line "^  $cmd( |\$)"
done

run --version
expect_rc 0
expect_line '^snapmig [0-9]+\.[0-9]+'

run -c "$CONF" frobnicate
expect_rc 2
expect_err 'snapmig: unknown command "frobnicate"'

run -c "$CONF" --no-such-option status
expect_rc 2
expect_err "snapmig: invalid option"

run -c "$CONF" status --no-such-option
expect_rc 2
expect_err "invalid option --no-such-option"

run -c "$CONF" -j 0 status
expect_rc 2
expect_err "-j: expected a number of workers"

run -c "$CONF" -e
expect_rc 2
expect_err "needs an argument"

run -c "$CONF" status extra
expect_rc 2
expect_err 'unexpected argument "extra"'

run -c "$CONF" failures --kind nonsense
expect_rc 2
expect_err "--kind nonsense: unknown kind"
expect_err "unknown_event"

run -c "$CONF" rollback abc
expect_rc 2
expect_err '"abc" is not a copy id'

# A configuration file that does not exist.
run -c "$T/missing.conf" status
expect_rc 2
expect_err "snapmig: "
expect_err "missing.conf"

# A configuration error names file:line.
cat >"$T/broken.conf" <<'EOF'
environments = (
  { name = "local"; conninfo = "dbname=x"; }
);
aggregates = (
  { type = "Elixir.Demo.Counter"; snapshot_version = 2;
    initial = "{count: 0}";
    colour = "blue";
    events = ( { on = "Elixir.Demo.Counter.Events.Created"; } ); }
);
EOF
run -c "$T/broken.conf" status
expect_rc 2
expect_err "snapmig: $T/broken.conf:7:"

# A syntax error, too.
printf 'environments = (\n  { name = "local"; conninfo = ; }\n);\n' >"$T/syntax.conf"
run -c "$T/syntax.conf" status
expect_rc 2
expect_err "snapmig: $T/syntax.conf:2:"

# The configuration is found through $SNAPMIG_CONFIG and ./snapmig.conf.
run_with SNAPMIG_CONFIG="$T/syntax.conf" status
expect_rc 2
expect_err "$T/syntax.conf:2:"
run status
expect_rc 0
expect_out "Counter"

# Unknown environment: exit 2, the environments listed.
run -c "$CONF" -e nowhere status
expect_rc 2
expect_err 'snapmig: no environment named "nowhere"'
expect_err "environments in $CONF: local"

# Several environments and no -e.
write_config ',
  { name = "staging"; conninfo = "'"$CONNINFO"'"; }'
run -c "$CONF" status
expect_rc 2
expect_err "choose an environment with -e NAME"
expect_err "local staging"
run -c "$CONF" -e staging status
expect_rc 0

# Config warnings go to stderr unless -q; -v says where the environment
# points; neither shows the password.
cat >"$T/warn.conf" <<EOF
environments = (
  { name = "prod"; conninfo = "$CONNINFO password=w4rn-secret"; protected = true; }
);
aggregates = ();
EOF
run -c "$T/warn.conf" -v status
expect_rc 0
expect_err "snapmig: warning: $T/warn.conf:2:"
expect_err "snapmig: config $T/warn.conf, environment prod ("
refute_err "w4rn-secret"
refute_out "w4rn-secret"
run -c "$T/warn.conf" -q status
expect_rc 0
refute_err "warning"

# A connection that fails: exit 3, the conninfo masked.
cat >"$T/noserver.conf" <<EOF
environments = (
  { name = "gone"; conninfo = "host=$T/nowhere dbname=es user=app password=s3cr3t-pw"; }
);
aggregates = ();
EOF
run -q -c "$T/noserver.conf" status
expect_rc 3
expect_err "snapmig: "
expect_err "********"
refute_err "s3cr3t-pw"
refute_out "s3cr3t-pw"

# ... also when the password comes from password_env.
cat >"$T/pwenv.conf" <<EOF
environments = (
  { name = "gone"; conninfo = "host=$T/nowhere dbname=es user=app";
    password_env = "CLI_TEST_PW"; }
);
aggregates = ();
EOF
run_with CLI_TEST_PW=an0ther-secret -c "$T/pwenv.conf" status
expect_rc 3
refute_err "an0ther-secret"
run -c "$T/pwenv.conf" status
expect_rc 2
expect_err "CLI_TEST_PW"

# Missing source tables are a database error (exit 3).
new_db cli_usage_empty
write_config
run -c "$CONF" status
expect_rc 3
expect_err "snapmig: public.snapshots"
run -c "$CONF" rebuild
expect_rc 3
expect_err "snapmig: public.snapshots"
finish
