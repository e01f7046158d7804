#!/bin/sh
# Never publish a wrong snapshot (issue 16), through the real binary:
# schema names PostgreSQL would cut, passwords in libpq's messages about a
# malformed conninfo (text and --json), a target schema of another event
# store, rows of a changed reducer, discard, rollback's confirmation and
# its choice of copy, and one operation at a time per target schema.
. "${SNAPMIG_SRCDIR:?}/tests/cli_lib.sh"

new_db cli_safety
mkstore bytea basic

# ---------------------------------------------------------------- names
LONG=tenant_with_a_rather_long_name_for_its_event_store_schema_00001
CONNINFO="host=$PGHOST dbname=cli_safety user=postgres"
write_config "$(printf ',\n  { name = "tenant"; conninfo = "%s";\n    source_schema = "%s";\n    target_schema = "%s_migration"; }' "$CONNINFO" "$LONG" "$LONG")"
run -c "$CONF" -e local status
expect_rc 2
expect_err "$CONF:5: environments[1].target_schema: \"${LONG}_migration\" is 73 bytes long; PostgreSQL cuts names to 63 bytes"

# ------------------------------------------------------------ passwords
for uri in 'postgresql://app:S3cretPW@[::1]x/prod' \
	   'postgresql://app:S3cretPW@[::1/prod' \
	   'postgresql://app:S3cret%zzPW@localhost/prod' \
	   'postgresql://app@localhost/prod?password=S3cretPW&port=x'; do
	CONNINFO=$uri
	write_config
	for cmd in status "--json status" "-v rebuild" "--json rebuild" "copy --dry-run" \
		   "--json copy --dry-run" "runs" "failures --json" "rollback"; do
		# shellcheck disable=SC2086
		run -c "$CONF" $cmd
		expect_rc 3
		expect_err "cannot connect"
		refute_out "S3cret"
		refute_err "S3cret"
	done
done

# ------------------------------------------------------------ ownership
# A second event store in the same database (a schema per tenant): a copy
# of the first.  Both environments leave target_schema at its default.
CONNINFO="host=$PGHOST dbname=cli_safety user=postgres"
sql "CREATE SCHEMA tenant_b;
     CREATE TABLE tenant_b.streams AS TABLE public.streams;
     CREATE TABLE tenant_b.events AS TABLE public.events;
     CREATE TABLE tenant_b.stream_events AS TABLE public.stream_events;
     CREATE TABLE tenant_b.snapshots AS TABLE public.snapshots;" >/dev/null || exit 99
write_config "$(printf ',\n  { name = "tenant-b"; conninfo = "%s"; source_schema = "tenant_b"; },\n  { name = "tenant-b-own"; conninfo = "%s"; source_schema = "tenant_b"; target_schema = "tenant_b_migration"; },\n  { name = "prod"; conninfo = "%s"; protected = true; }' "$CONNINFO" "$CONNINFO" "$CONNINFO")"
run -c "$CONF" -e local rebuild
expect_rc 1
for cmd in status rebuild "copy --dry-run" preflight "rollback --yes" "rollback --list" "discard --yes"; do
	# shellcheck disable=SC2086
	run -c "$CONF" -e tenant-b $cmd
	expect_rc 2
	expect_err "target schema migration holds the snapshots generated from another event store (schema public of database cli_safety on server "
	expect_err "environment tenant-b reads schema tenant_b of database cli_safety"
	expect_err 'target_schema = "tenant_b_migration"'
done
run -c "$CONF" -e tenant-b-own rebuild
expect_rc 1
expect_sql "SELECT source_schema || ' ' || dbname FROM tenant_b_migration.snapmig_owner" \
	"tenant_b cli_safety" "the owner of tenant_b_migration"

# --------------------------------------------------------- fingerprints
# The Counter rule changes, snapshot_version does not: its 5 generated rows
# are stale, never copied, and the next rebuild makes them again.
sed 's/count += event.by/count += 1/' "$CONF" >"$T/changed.conf"
run -c "$T/changed.conf" -e local status
expect_rc 0
expect_line '^Counter +6 .* 5 generated stale$'
run -c "$T/changed.conf" -e local --json status
json_check "[(t['target_rows'], t['target_stale'], t['target_at_version']) for t in d['types'] if t['label'] == 'Counter'] == [(5, 5, 0)]"
json_check "[t['target_stale'] for t in d['types'] if t['label'] == 'Team'] == [0]"
run -c "$T/changed.conf" -e local --json copy --dry-run --force-failures
json_check "[(t['generated'], t['stale_generated'], t['replace']) for t in d['plan']['types'] if t['label'] == 'Counter'] == [(0, 5, 0)]"
run -c "$T/changed.conf" -e local rebuild
expect_rc 1
run -c "$T/changed.conf" -e local --json status
json_check "[(t['target_rows'], t['target_stale'], t['target_at_version']) for t in d['types'] if t['label'] == 'Counter'] == [(5, 0, 5)]"
expect_sql "SELECT convert_from(data, 'UTF8')::jsonb ->> 'count' FROM migration.snapshots WHERE source_uuid = 'counter-1'" 3 \
	"counter-1's count after the rebuild with the changed rule"

# -------------------------------------------------------------- discard
run -c "$CONF" -e local discard Counter
expect_rc 2
expect_err "refusing to discard without confirmation: stdin is not a terminal (use --yes)"
run -c "$CONF" -e prod discard --yes
expect_rc 2
expect_err "environment prod is protected: discarding needs --confirm-env prod"
run -c "$CONF" -e local discard --yes Nope
expect_rc 2
run -c "$CONF" -e local discard --yes Counter
expect_rc 0
expect_line '^discarded 5 generated snapshots and 1 recorded failures \(journal run [0-9]+\); a rebuild generates them again$'
expect_sql "SELECT string_agg(source_type, ',' ORDER BY source_type) FROM migration.snapshots" \
	Elixir.Demo.Team "the rows left after discarding Counter"
expect_sql "SELECT count(*) FROM migration.snapmig_rows r WHERE NOT EXISTS (SELECT 1 FROM migration.snapshots s WHERE s.source_uuid = r.source_uuid)" 0 \
	"no fingerprint of a discarded row is left"
run -c "$CONF" -e local runs --json
json_check "d['runs'][0]['kind'] == 'discard' and d['runs'][0]['outcome'] == 'done'"
run -c "$CONF" -e prod --json discard --yes --confirm-env prod
expect_rc 0
json_check "d['rows'] == 1 and d['failures'] == 0"

# ------------------------------------------------------------- rollback
run -c "$CONF" -e local rebuild
run -c "$CONF" -e local copy --yes --force-failures
expect_rc 0
first=$(sed -n 's/^copy \([0-9]*\):.*/\1/p' "$T/out")
# Everything is current now: this copy changes nothing.
run -c "$CONF" -e local copy --yes --force-failures
expect_rc 0
expect_line '^copy [0-9]+: 0 replaced, 0 inserted, 6 newer live kept, 0 removed'
second=$(sed -n 's/^copy \([0-9]*\):.*/\1/p' "$T/out")
run -c "$CONF" -e local rollback --list
expect_rc 0
expect_line "^ +$second +[0-9T:Z-]+ +Counter, Team +0 +0 +0 +changed nothing$"
expect_line "^ +$first +[0-9T:Z-]+ +Counter, Team +6 +0 +0 +can be rolled back \(the default\)$"
run -c "$CONF" -e local --json rollback --list
json_check "[(c['copy_id'], c['undoable'], c['default']) for c in d['copies']] == [($second, False, False), ($first, True, True)]"
run -c "$CONF" -e local rollback --yes "$second"
expect_rc 2
expect_err "copy $second changed nothing in the live table: there is nothing to roll back"
run -c "$CONF" -e prod rollback
expect_rc 2
expect_err "refusing to roll back without confirmation: stdin is not a terminal (use --yes --confirm-env NAME)"
run -c "$CONF" -e prod rollback --yes
expect_rc 2
expect_err "environment prod is protected: rolling back needs --confirm-env prod"
run -c "$CONF" -e prod rollback --yes --confirm-env prod
expect_rc 0
expect_line "^rolled back copy $first \(journal run [0-9]+\): 6 rows restored, 0 inserted rows deleted$"
run -c "$CONF" -e local rollback --yes
expect_rc 2
expect_err "no copy left to roll back in migration: the copies since the last rollback changed nothing"
# On a terminal the question names the copy.
if command -v script >/dev/null 2>&1; then
	run -c "$CONF" -e local copy --yes --force-failures
	third=$(sed -n 's/^copy \([0-9]*\):.*/\1/p' "$T/out")
	printf 'n\n' | script -qec "'$SNAPMIG_BIN' -c '$CONF' -e local rollback" /dev/null >"$T/out" 2>&1
	rc=$?
	LAST="(terminal) snapmig -e local rollback, answering n"
	expect_rc 2
	expect_out "Roll back copy $third of "
	expect_out "(Counter, Team: 6 replaced, 0 inserted, 0 removed) in the live table of local? [y/N]"
	expect_out "not confirmed: nothing rolled back"
fi

# ----------------------------------------------- one operation at a time
# Another process's rebuild, whose external reducer is slow to start the
# first time: it holds the target while it waits for the handshake.
slow_rebuild local Elixir.Demo.Team "sr.Aggregate(initial={'id': None, 'member_ids': []},
    handlers={'Elixir.Demo.Team.Events.MemberAdded': lambda s, d, e: s})"
host=$(hostname)
for cmd in rebuild "copy --yes --force-failures" "rollback --yes" "discard --yes"; do
	# shellcheck disable=SC2086
	run -c "$CONF" -e local $cmd
	expect_rc 4
	expect_err "target schema migration is in use: rebuild started "
	expect_err " on $host (pid $bg, environment local, run "
done
run -c "$CONF" -e local status
expect_rc 0
expect_line "^in progress  rebuild started [0-9T:Z-]+ (by .* )?on $host \(pid $bg, environment local, run [0-9]+; server session [0-9]+\)$"
run -c "$CONF" -e local --json status
json_check "d['in_progress']['operation'] == 'rebuild' and d['in_progress']['pid'] == $bg and d['in_progress']['host'] == '$host'"
run -c "$CONF" -e local copy --dry-run --force-failures
expect_rc 4
expect_line '^TYPE +GENERATED'
expect_err "target schema migration is in use: rebuild started "
expect_err "a copy would be refused until it ends"
kill -INT "$bg"
wait "$bg"
bgrc=$?
if [ "$bgrc" = 130 ]; then ok; else fail "the interrupted rebuild exited $bgrc"; sed 's/^/  bg: /' "$T/bg.err"; fi
run -c "$CONF" -e local --json status
json_check "d['in_progress'] is None"
run -c "$CONF" -e local rebuild
expect_rc 1

finish
