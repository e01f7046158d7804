/*
 * Internal: the layout of an environment's event store
 * (shared/reference/eventstore.md) as the catalog describes it, and the
 * SQL that reads and writes its JSON columns in each encoding.
 *
 * Every engine module that touches a data or metadata column takes the
 * column types from one sm_store_layout, read once per operation by
 * sm_store_layout_read, and its expressions from the builders below, so
 * that inventory, rebuild, copy and inspection cannot disagree on what a
 * column holds:
 *  - bytea: the UTF-8 bytes of a JSON text;
 *  - jsonb: the JSON value itself;
 *  - double-encoded jsonb: a jsonb string whose content is the JSON text
 *    (a JSON-text serializer on jsonb columns).  Double encoding is a
 *    property of the application's serializer, so of the whole store: it
 *    is sampled from the data column (never NULL, unlike metadata) of the
 *    live snapshots, else of the events, and it decides how a jsonb
 *    column of the store or of its target schema is written.  Reading
 *    accepts all three forms value by value, whatever the sample said.
 *
 * The functions work on a connection the caller owns.
 */
#ifndef SM_ENGINE_STORE_H
#define SM_ENGINE_STORE_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "engine/snapmig.h"

typedef struct sm_store_layout {
	/* <source>.snapshots, <source>.events and <target>.snapshots:
	 * SM_COL_MISSING when the table or the column is not there. */
	enum sm_column_type snap_data, snap_meta;
	enum sm_column_type ev_data, ev_meta;
	enum sm_column_type tgt_data, tgt_meta;
	/* jsonb values are JSON text in a string; false for a bytea store. */
	bool double_encoded;
} sm_store_layout;

/* Reads the column types of the three tables and samples double encoding
 * when the live snapshots' data is jsonb. */
int sm_store_layout_read(PGconn *conn, const sm_settings *set, sm_store_layout *out,
			 sm_error *err);

/* Creates what is missing of the target schema: the schema, its snapshots
 * table with data and metadata columns of the given types, and snapmig's
 * tables snapmig_runs and snapmig_failures. */
int sm_store_create_target(PGconn *conn, const char *target_schema,
			   enum sm_column_type data, enum sm_column_type metadata,
			   sm_error *err);
/* sm_store_create_target in the live snapshots' column types, then the
 * target's column types into layout (an existing table keeps its own). */
int sm_store_ensure_target(PGconn *conn, const sm_settings *set, sm_store_layout *layout,
			   sm_error *err);

/* Column types of <schema>.<table>.data and .metadata (MISSING when absent). */
int sm_store_table_columns(PGconn *conn, const char *schema, const char *table,
			   enum sm_column_type *data, enum sm_column_type *metadata,
			   sm_error *err);

/* The SQL type name of a present column type ("bytea" or "jsonb"). */
const char *sm_store_column_sql(enum sm_column_type type);

/*
 * Expressions over a JSON column col of the given type, any encoding
 * (malloc'ed, caller frees).  A MISSING column reads as SQL NULL.
 */
/* The UTF-8 bytes of its JSON text, as bytea: what a client reads in
 * binary format, with no decoding step in the server that could fail the
 * whole query on one odd value. */
char *sm_store_json_bytes(enum sm_column_type type, const char *col);
/* The column exactly as stored, as bytea: a bytea column's bytes, a jsonb
 * column's text (what `col::text` gives, which is what a client receives
 * for jsonb, double encoding included).  For raw-mode reducers. */
char *sm_store_raw_bytes(enum sm_column_type type, const char *col);
/* Its JSON text, as text. */
char *sm_store_json_text(enum sm_column_type type, const char *col);
/* JSON text (a text expression) in the form of a column of type type:
 * bytea, jsonb or, double_encoded, a jsonb string. */
char *sm_store_json_write(enum sm_column_type type, bool double_encoded, const char *text);
/* A column of type from turned into the form of a column of type to;
 * between jsonb columns each value keeps or takes to's encoding. */
char *sm_store_json_convert(enum sm_column_type from, enum sm_column_type to,
			    bool double_encoded, const char *col);

/*
 * The snapshot module version in metadata, read as Commanded compares it:
 * missing key (or no metadata column) = 1, a number by value (4.0 == 4),
 * anything else 0, metadata that is not JSON at all -1 (the instance
 * fails).  sm_store_prepare_session creates the session's temporary
 * functions (pg_temp, nothing in the database changes) that
 * sm_store_module_version's expression calls; key is the SQL text of the
 * metadata key (a parameter such as "$1").
 */
int sm_store_prepare_session(PGconn *conn, sm_error *err);
char *sm_store_module_version(enum sm_column_type meta_type, const char *col, const char *key);

#endif
