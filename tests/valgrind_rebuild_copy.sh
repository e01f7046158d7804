#!/bin/sh
# A full rebuild and copy through the real snapmig binary under valgrind
# (`make check-valgrind`, not part of make check: a minute or more).  The
# sanitizer build (`make check-sanitizers`) covers the whole suite; this
# covers what ASan cannot see in an ordinary build: leaks and uninitialised
# reads in the program as shipped, including the rebuild's worker threads,
# the external reducer's child handling, the copy and the rollback.
#
# Run under tests/with-pg with SNAPMIG_BIN, SNAPMIG_BUILDDIR and
# SNAPMIG_SRCDIR set (the make target does it).  Exit 0 when every command
# gave its expected exit code and valgrind reported no error and no
# definitely or indirectly lost byte; the summary lists each command.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

VALGRIND=${VALGRIND:-valgrind}
if ! command -v "$VALGRIND" >/dev/null 2>&1; then
	echo "SKIP: valgrind is not installed"
	exit 77
fi
SUPP="$SNAPMIG_SRCDIR/tests/valgrind.supp"
VG_OPTS="--leak-check=full --errors-for-leak-kinds=definite,indirect
	--show-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40"
if [ -f "$SUPP" ]; then VG_OPTS="$VG_OPTS --suppressions=$SUPP"; fi

SUMMARY="$T/summary"
: >"$SUMMARY"
n=0

# vrun EXPECTED_RC ARGS...: snapmig ARGS under valgrind; counts a failure
# when valgrind reports an error (its exit 99) or the exit code differs.
# Output in $T/out and $T/err as with run; valgrind's report in $T/vg.N.
vrun() {
	_want=$1
	shift
	n=$((n + 1))
	# shellcheck disable=SC2086 # VG_OPTS is a list of options
	"$VALGRIND" $VG_OPTS --log-file="$T/vg.$n" "$SNAPMIG_BIN" "$@" \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	LAST="valgrind snapmig $*"
	_def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$T/vg.$n" | tr -d ,)
	_ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$T/vg.$n" | tr -d ,)
	_errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$T/vg.$n" | tr -d ,)
	printf '%-4s %-8s definitely lost %6s B, indirectly lost %6s B, errors %3s  snapmig %s\n' \
		"$n" "exit $rc" "${_def:-0}" "${_ind:-0}" "${_errs:-?}" "$*" >>"$SUMMARY"
	if [ "$rc" -eq 99 ] || [ "${_errs:-1}" != 0 ]; then
		fail "valgrind reported errors: $LAST"
		sed 's/^/  valgrind: /' "$T/vg.$n"
		show_last
	elif [ "$rc" -ne "$_want" ]; then
		fail "expected exit $_want"
		show_last
	else
		ok
	fi
}

# One store with everything the basic scenario has (a failing instance, a
# catch-up, an unconfigured type); Counter folds with the rules language,
# Team through an external reducer (a child process speaking JSON lines).
new_db vg_basic
mkstore bytea basic
write_config
cat >"$T/team.py" <<'EOF'
import snapmig_reducer as sr
sr.run({"Elixir.Demo.Team": sr.Aggregate(
    initial={"id": None, "member_ids": []},
    handlers={"Elixir.Demo.Team.Events.MemberAdded":
              lambda s, d, e: dict(s, member_ids=s["member_ids"] + [d["user_id"]])})})
EOF
python3 -c '
import sys
conf = sys.stdin.read()
team = conf.index("{ type = \"Elixir.Demo.Team\"")
end = conf.index("); }", team) + len("); }")
sys.stdout.write(conf[:team] + "{ type = \"Elixir.Demo.Team\"; snapshot_version = 1;\n"
    "    reducer = { exec = \"python3 " + sys.argv[1] + "/team.py\";"
    " env = { PYTHONPATH = \"" + sys.argv[2] + "/examples/reducers\"; }; }; }"
    + conf[end:])
' "$T" "$SNAPMIG_SRCDIR" <"$CONF" >"$T/c" && mv "$T/c" "$CONF" || exit 99
grep -q 'exec = "python3' "$CONF" || { echo "ERROR: config rewrite failed"; exit 99; }

vrun 0 -c "$CONF" status
vrun 0 -c "$CONF" --json status
# counter-6 fails (unknown event): exit 1.  Four workers for two types.
vrun 1 -c "$CONF" -j 4 rebuild
vrun 0 -c "$CONF" failures --json
v=$(sql "SELECT convert_from(data, 'UTF8')::jsonb #>> '{member_ids}' FROM migration.snapshots WHERE source_uuid = 'team-1'")
if [ "$v" = '["u1", "u2", "u3"]' ]; then ok; else fail "team-1 member_ids is '$v' (external reducer)"; fi
v=$(sql "SELECT count(*) FROM migration.snapshots")
if [ "$v" = 6 ]; then ok; else fail "the rebuild wrote $v snapshots, expected 6"; fi
vrun 1 -c "$CONF" --json rebuild --only-failed
vrun 1 -c "$CONF" copy --dry-run
vrun 0 -c "$CONF" copy --yes --force-failures --remove-stale
v=$(sql "SELECT count(*) FROM public.snapshots WHERE source_uuid LIKE 'counter-%' AND source_version = 4")
if [ "$v" = 5 ]; then ok; else fail "the copy left $v counters at version 4, expected 5"; fi
vrun 0 -c "$CONF" --json rollback --yes
v=$(sql "SELECT count(*) FROM public.snapshots WHERE source_uuid LIKE 'counter-%' AND source_version = 2")
if [ "$v" = 5 ]; then ok; else fail "the rollback left $v counters at version 2, expected 5"; fi
vrun 0 -c "$CONF" runs

# Many instances in small batches over several worker threads, so that
# chunks commit concurrently and every worker sees more than one batch.
new_db vg_big
mkstore jsonb big 40 50
write_config
{ echo 'defaults = { batch_size = 3; };'; cat "$CONF"; } >"$T/c" && mv "$T/c" "$CONF"
vrun 0 -c "$CONF" -j 4 --json rebuild
json_check "d['state'] == 'done' and d['total']['instances_done'] == 40 and d['total']['failed'] == 0"
vrun 0 -c "$CONF" copy --yes
v=$(sql "SELECT count(*) FROM public.snapshots WHERE (data ->> 'count')::int = 49")
if [ "$v" = 40 ]; then ok; else fail "$v of 40 big counters copied with count 49"; fi

echo "valgrind summary:"
cat "$SUMMARY"
finish
