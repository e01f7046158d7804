/*
 * Test and demo fixtures: create an EventStore schema with exactly the layout
 * of shared/reference/eventstore.md and write to it the way EventStore does
 * (each event linked into its stream and into $all, stream_version kept).
 * For tests and the demo generator only; the engine never creates a source
 * store.
 */
#ifndef SM_TESTS_FIXTURE_H
#define SM_TESTS_FIXTURE_H

#include <stdbool.h>

#include <libpq-fe.h>

enum sm_fixture_mode {
	SM_FIXTURE_BYTEA = 0,   /* data/metadata bytea (EventStore's default) */
	SM_FIXTURE_JSONB,       /* jsonb holding the JSON object */
	SM_FIXTURE_JSONB_TEXT,  /* jsonb holding a string with the JSON text (double encoding) */
};

/* The printf format of the SQL expression that writes JSON text (its %s:
 * an expression giving the text, e.g. a parameter) into a data or metadata
 * column of this mode. */
const char *sm_fixture_write_fmt(enum sm_fixture_mode mode);

/* Creates schema (if needed) and the tables, indexes, $all stream and the
 * triggers refusing UPDATE/DELETE on events and stream_events.  Returns 0 or
 * -1 with a message in errbuf. */
int sm_fixture_create_store(PGconn *conn, const char *schema,
			    enum sm_fixture_mode mode, char *errbuf, size_t errlen);

/* Appends events to a stream (created if needed).  types/datas/metas have n
 * entries; metas entries may be NULL.  data texts are written byte for byte
 * (bytea) or converted by PostgreSQL (jsonb).  */
int sm_fixture_append(PGconn *conn, const char *schema, enum sm_fixture_mode mode,
		      const char *stream_uuid, int n, const char *const *types,
		      const char *const *datas, const char *const *metas,
		      char *errbuf, size_t errlen);

/* Appends count generated events in one statement: type_expr and data_expr
 * are trusted SQL expressions over `i` (1..count) giving text. */
int sm_fixture_append_generated(PGconn *conn, const char *schema,
				enum sm_fixture_mode mode, const char *stream_uuid,
				long long count, const char *type_expr,
				const char *data_expr, char *errbuf, size_t errlen);

/* Writes a snapshot with EventStore's upsert on source_uuid.  metadata may be
 * NULL. */
int sm_fixture_snapshot(PGconn *conn, const char *schema, enum sm_fixture_mode mode,
			const char *source_uuid, long long source_version,
			const char *source_type, const char *data,
			const char *metadata, char *errbuf, size_t errlen);

#endif
