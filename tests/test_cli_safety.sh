#!/bin/sh
# Never publish a wrong snapshot (issue 16), through the real binary:
# schema names PostgreSQL would cut, and passwords in libpq's messages
# about a malformed conninfo, in text and --json output.
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

finish
