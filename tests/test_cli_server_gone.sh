#!/bin/sh
# The server goes away in the middle of `snapmig rebuild`: a database error
# on stderr, exit 3, no password anywhere; once the server is back, the
# same rebuild resumes and its rows equal those of an uninterrupted run.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

: "${SNAPMIG_TEST_PGCTL:?run under tests/with-pg}"
# Big enough that the run takes seconds, so the stop lands in its middle.
STREAMS=200
EVENTS=2000
SECRET=s3cr3t-gone-pw

# The reference: the same store, rebuilt without interruption.
new_db cli_gone_ref
mkstore bytea big "$STREAMS" "$EVENTS"
write_config
run -c "$CONF" -q rebuild
expect_rc 0
REF_DB=$DB

new_db cli_gone
mkstore bytea big "$STREAMS" "$EVENTS"
# trust authentication ignores the password; it must not show anyway.
CONNINFO="$CONNINFO password=$SECRET"
write_config
{ echo 'defaults = { batch_size = 2; };'; cat "$CONF"; } >"$T/c" && mv "$T/c" "$CONF"

generated() {
	sql "SELECT count(*) FROM migration.snapshots" 2>/dev/null || echo 0
}

# With core files allowed by the shell, snapmig still writes none: a core
# would hold the password.
(ulimit -S -c unlimited 2>/dev/null || ulimit -S -c 100000 2>/dev/null
 ulimit -S -c >"$T/core.limit"
 exec "$SNAPMIG_BIN" -c "$CONF" -j 1 rebuild </dev/null >"$T/out" 2>"$T/err") &
pid=$!
core_checked=
deadline=$(( $(date +%s) + 60 ))
while :; do
	n=$(generated)
	if [ "${n:-0}" -gt 0 ]; then
		# It has written snapshots, so its start-up is long done.
		core_checked=1
		if [ "$(cat "$T/core.limit")" = 0 ]; then
			echo "note: core files cannot be enabled here; their limit is not checked"
		elif grep -Eq '^Max core file size +0 ' "/proc/$pid/limits"; then
			ok
		else
			fail "snapmig runs with core files allowed: $(grep 'Max core' "/proc/$pid/limits" 2>&1)"
		fi
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -ge "$deadline" ]; then
		break
	fi
	sleep 0.1
done
[ -n "$core_checked" ] || fail "the core file limit of snapmig was not seen"
"$SNAPMIG_TEST_PGCTL" stop -m fast >/dev/null 2>&1 || fail "pg_ctl stop"
wait "$pid"
rc=$?
LAST="snapmig -j 1 rebuild, server stopped after $n snapshots"
expect_rc 3
expect_err "snapmig: "
refute_err "$SECRET"
refute_out "$SECRET"

# While it is down: every command that needs it is a database error.
run -c "$CONF" status
expect_rc 3
expect_err "snapmig: "
refute_err "$SECRET"
run -c "$CONF" --json status
expect_rc 3
refute_out "$SECRET"
refute_err "$SECRET"

"$SNAPMIG_TEST_PGCTL" start >/dev/null 2>&1 || { fail "pg_ctl start"; finish; }

kept=$(generated)
echo "server stopped after $kept of $STREAMS instances"
run -c "$CONF" --json rebuild
expect_rc 0
json_check "d['state'] == 'done' and d['total']['failed'] == 0"
json_check "d['total']['events_done'] <= ($STREAMS - $kept) * $EVENTS"
refute_out "$SECRET"
refute_err "$SECRET"

rows() {
	psql_db "$1" "SELECT md5(string_agg(source_uuid || ':' || source_version || ':' || source_type
	               || ':' || encode(data, 'hex') || ':' || encode(metadata, 'hex'), ',' ORDER BY source_uuid))
	              FROM migration.snapshots"
}
a=$(rows "$REF_DB")
b=$(rows "$DB")
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok; else fail "resumed rows differ from an uninterrupted run ($a / $b)"; fi

# The journal and the failure table never hold the password.
expect_sql "SELECT count(*) FROM migration.snapmig_runs WHERE row_to_json(snapmig_runs)::text LIKE '%$SECRET%'" 0 \
	"no password in the journal"
run -c "$CONF" --json runs
expect_rc 0
refute_out "$SECRET"

finish
