#!/bin/sh
# `copy` (plan, guards, confirmation rules, protected environments) and
# `rollback`, after a rebuild of the store of `mkstore ... basic`: the five
# good counters and the team are generated, counter-6 failed.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_copy
mkstore bytea basic
write_config ',
  { name = "prod"; conninfo = "'"$CONNINFO"'"; protected = true; }'

# The live row of an instance: "source_version module_version count".
live() {
	sql "SELECT source_version || ' ' || (convert_from(metadata, 'UTF8')::jsonb ->> 'snapshot_module_version') || ' ' || coalesce(convert_from(data, 'UTF8')::jsonb ->> 'count', '-') FROM public.snapshots WHERE source_uuid = '$1'"
}

# expect_live UUID ROW WHY: the live row of UUID is ROW ("" for none).
expect_live() {
	_row=$(live "$1")
	if [ "$_row" = "$2" ]; then ok; else fail "$3: $1 is '$_row', expected '$2'"; fi
}

run -c "$CONF" -e local rebuild
expect_rc 1

# The plan; the failures guard trips because of counter-6.
run -c "$CONF" -e local copy --dry-run
expect_rc 1
expect_line '^TYPE +GENERATED +REPLACE +INSERT +KEEP NEWER +UNTOUCHED +STALE W/O NEW +LAG +GUARDS$'
expect_line '^Counter +5 +5 +0 +0 +[0-9]+ +1 +0 +failures$'
expect_line '^Team +1 +1 +0 +0 +0 +0 +0 +-$'
expect_out "1 stale live snapshot without a replacement will be kept"
expect_err "would be refused by guard: failures (override: --force-failures)"

run -c "$CONF" -e local copy --dry-run --force-failures --remove-stale --json
expect_rc 0
json_check "d['dry_run'] is True and d['remove_stale'] is True and d['result'] is None"
json_check "d['plan']['guards'] == []"
json_check "[t['label'] for t in d['plan']['types']] == ['Counter', 'Team']"
json_check "d['plan']['types'][0]['guards'] == ['failures'] and d['plan']['types'][0]['stale_without_replacement'] == 1"
json_check "sorted(d['plan']['types'][0].keys()) == sorted(['type', 'label', 'generated', 'off_version', 'failures', 'replace', 'insert', 'keep_newer', 'untouched', 'stale_without_replacement', 'lag_events', 'stale_generated', 'fingerprint_error', 'guards', 'guard_message'])"
expect_live counter-1 "2 1 1" "dry run changed counter-1"

# Without a terminal and without --yes: refused, nothing written.
run -c "$CONF" -e local copy --force-failures
expect_rc 2
expect_err "refusing to copy without confirmation"
# A guard refuses even with --yes.
run -c "$CONF" -e local copy --yes
expect_rc 1
expect_err "copy refused by guard: failures"
expect_live counter-1 "2 1 1" "a refused copy changed counter-1"

# A protected environment needs its name.
run -c "$CONF" -e prod copy --yes --force-failures
expect_rc 2
expect_err "environment prod is protected: copying needs --confirm-env prod"
run -c "$CONF" -e prod copy --yes --force-failures --confirm-env local
expect_rc 2
expect_err "--confirm-env local does not match the environment prod"
expect_live counter-1 "2 1 1" "a refused copy changed counter-1"

run -c "$CONF" -e prod copy --yes --force-failures --confirm-env prod --remove-stale
expect_rc 0
expect_line '^copy [0-9]+: 6 replaced, 0 inserted, 0 newer live kept, 1 removed; 7 live rows backed up$'
expect_out "verified: counts and checksum read back match"
# The undo hint reaches the same environment: it keeps the -c given.
expect_line "^undo with: snapmig -c $CONF -e prod rollback [0-9]+\$"
copy_id=$(sed -n 's/^copy \([0-9]*\):.*/\1/p' "$T/out")
expect_live counter-1 "4 2 6" "counter-1 after copy"
expect_live counter-6 "" "--remove-stale kept it"

run -c "$CONF" -e prod runs --json
expect_rc 0
json_check "d['runs'][0]['kind'] == 'copy' and d['runs'][0]['run_id'] == $copy_id"

# Rollback restores exactly the previous rows, the removed one too.  It
# asks as copy does: prod is protected.
run -c "$CONF" -e prod rollback --json --yes --confirm-env prod
expect_rc 0
json_check "d['copy_id'] == $copy_id and d['restored'] == 7 and d['drifted'] == 0"
expect_live counter-1 "2 1 1" "counter-1 after rollback"
expect_live counter-6 "1 1 0" "counter-6 after rollback"

# typed ANSWER ARGS...: snapmig on a terminal (script(1)) with ANSWER
# typed at its prompt; output in $T/out.
typed() {
	_answer=$1
	shift
	_cmd="'$SNAPMIG_BIN'"
	for _a in "$@"; do _cmd="$_cmd '$_a'"; done
	printf '%s\n' "$_answer" | script -qec "$_cmd" /dev/null >"$T/out" 2>&1
	rc=$?
	LAST="(terminal, typing $_answer) snapmig $*"
}

# On a terminal, the protected environment's name is typed at the prompt.
if command -v script >/dev/null 2>&1; then
	typed prod -c "$CONF" -e prod copy --force-failures
	expect_rc 0
	expect_out "Type its name"
	expect_line '^copy [0-9]+: 6 replaced'
	expect_live counter-1 "4 2 6" "typed confirmation did not copy"
	run -c "$CONF" -e local rollback --yes
	expect_rc 0
	expect_line '^rolled back copy [0-9]+ \(journal run [0-9]+\): 6 rows restored, 0 inserted rows deleted$'

	typed prd -c "$CONF" -e prod copy --force-failures
	expect_rc 2
	expect_out "the name does not match: nothing copied"

	typed n -c "$CONF" -e local copy --force-failures
	expect_rc 2
	expect_out "[y/N]"
	expect_live counter-1 "2 1 1" "an unconfirmed copy changed counter-1"
fi

# The undo hint is a command line that works as printed, from anywhere,
# also with a configuration path that needs quoting.
mkdir "$T/it's here" && cp "$CONF" "$T/it's here/snap mig.conf"
run -c "$T/it's here/snap mig.conf" -e local copy --yes --force-failures
expect_rc 0
hint=$(sed -n 's/^undo with: //p' "$T/out")
case $hint in
"snapmig -c '$T/it'\\''s here/snap mig.conf' -e local rollback "[0-9]*) ok ;;
*) fail "undo hint: $hint" ;;
esac
# Without a terminal, rollback needs --yes, as copy does (issue 16.6).
(cd / && snapmig() { "$SNAPMIG_BIN" "$@" --yes; } && eval "$hint") </dev/null >"$T/out" 2>"$T/err"
rc=$?
LAST="(from /) $hint --yes"
expect_rc 0
expect_line '^rolled back copy [0-9]+ '
expect_live counter-1 "2 1 1" "the hint did not roll back counter-1"

# Counts in the confirmation prompts have thousands separators.
if command -v script >/dev/null 2>&1; then
	new_db cli_copy_big
	mkstore bytea big 1234 2
	write_config ',
  { name = "prod"; conninfo = "'"$CONNINFO"'"; protected = true; }'
	run -c "$CONF" -e local -a Counter rebuild
	expect_rc 0
	typed n -c "$CONF" -e local -a Counter copy
	expect_rc 2
	expect_out "Copy 1,234 snapshots into the live table of local? [y/N]"
	typed no -c "$CONF" -e prod -a Counter copy
	expect_rc 2
	expect_out "Type its name to copy 1,234 snapshots into the live table:"
fi

finish
