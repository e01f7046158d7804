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
for cmd in status preflight rebuild failures copy rollback discard runs; do
	expect_line "^  $cmd( |\$)"
done

run --version
expect_rc 0
expect_line '^snapmig [0-9]+\.[0-9]+'

# Every command's --help and -h (issue 19: copy and rebuild crashed), with
# and without -c/-e, before and after the command's options, and `help
# COMMAND`: the command's usage on stdout, exit 0, nothing run.
run help
expect_rc 0
expect_out "Usage: snapmig [OPTION]... [COMMAND [ARG]...]"
commands=$(sed -n 's/^  \([a-z][a-z]*\)\( .*\)\{0,1\}$/\1/p' "$T/out")
[ "$(echo $commands)" = "status preflight verify rebuild failures copy rollback discard runs check fold help" ] && ok ||
	fail "commands in the usage: $(echo $commands)"
for cmd in $commands; do
	for args in "$cmd --help" "$cmd -h" "-c $CONF -e local $cmd --help" \
		"-q $cmd -a Counter -h" "help $cmd"; do
		# shellcheck disable=SC2086
		run $args
		expect_rc 0
		expect_line "^Usage: snapmig \\[OPTION\\]\\.\\.\\. $cmd( |\$)"
		expect_out "Global options (before or after the command):"
		refute_err "snapmig:"
	done
done
run copy --help
expect_out "  -y, --yes "
expect_out "      --force-lag "
expect_out "Copy generated snapshots into the live table."
run failures --help
# The kinds come from the engine's names.
expect_out "only this kind of failure (unknown_event, no_match,"
run -h
expect_rc 0
expect_out "Usage: snapmig [OPTION]... [COMMAND [ARG]...]"
expect_out "'snapmig help COMMAND' shows a command's options."
run help nosuch
expect_rc 2
expect_err 'snapmig: help: no command "nosuch"'
# The hidden command is not listed.
run --help
refute_out "completion"

# "did you mean": commands, options, options of another command, and an
# abbreviation that fits several options.
run -c "$CONF" stauts
expect_rc 2
expect_err 'snapmig: unknown command "stauts"; did you mean status?'
run -c "$CONF" rebuld --json
expect_rc 2
expect_err "did you mean rebuild?"
run -c "$CONF" copy --dry-rn
expect_rc 2
expect_err "snapmig: copy: invalid option --dry-rn; did you mean --dry-run?"
expect_err "Try 'snapmig copy --help'"
run -c "$CONF" --jsn status
expect_rc 2
expect_err "snapmig: invalid option --jsn; did you mean --json?"
run -c "$CONF" status --dry-run
expect_rc 2
expect_err "snapmig: status: invalid option --dry-run (an option of copy)"
run -c "$CONF" status -y
expect_rc 2
expect_err "invalid option -y (an option of copy, rollback and discard)"
run -c "$CONF" copy --force
expect_rc 2
expect_err "option --force is ambiguous: --force-version, --force-failures, --force-lag, --force-empty"
run -c "$CONF" help stats
expect_rc 2
expect_err 'help: no command "stats"; did you mean status?'
# An unambiguous abbreviation still works, as in every GNU program.
# (Nothing is generated yet: the empty guard would refuse, exit 1.)
run -c "$CONF" copy --dry --remove
expect_rc 1
expect_line '^TYPE +GENERATED +REPLACE'
expect_out "without a replacement will be removed"

# Every --force-GUARD of the table names a guard of the engine (the empty
# store trips the empty guard; forcing it clears it).
run copy --help
for opt in $(grep -o -- '--force-[a-z]*' "$T/out"); do
	run -c "$CONF" copy --dry-run --json "$opt"
	if [ "$rc" -le 1 ]; then ok; else fail "copy $opt: exit $rc"; show_last; fi
	refute_err "internal error"
	json_check "'${opt#--force-}' not in d['plan']['guards']"
done
run -c "$CONF" copy --dry-run --json
json_check "d['plan']['guards'] == ['empty']"

# The man page describes every command and option of the tables, and its
# KEYS section lists the interface's keys (generated from tui/keys.h).
MAN="$SNAPMIG_BUILDDIR/man/snapmig.1"
[ -f "$MAN" ] || MAN="$SNAPMIG_SRCDIR/man/snapmig.1"
for cmd in $commands completion; do
	if grep -q "^\.SS $cmd\b" "$MAN"; then ok; else fail "snapmig.1 has no section for $cmd"; fi
done
for cmd in $commands; do
	run "$cmd" --help
	for opt in $(grep -o -- '--[a-z][a-z-]*' "$T/out" | sort -u); do
		manopt=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
		if grep -q -- "$manopt" "$MAN"; then ok; else fail "snapmig.1 does not name $opt"; fi
	done
done
if grep -q '^\.SH KEYS' "$MAN" && grep -q 'Show every key' "$MAN"; then ok; else
	fail "snapmig.1 has no generated KEYS section"; fi
if grep -q '@KEYS@\|@PACKAGE_VERSION@' "$MAN"; then fail "snapmig.1 has a placeholder left"; else ok; fi

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
