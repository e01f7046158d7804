/*
 * The rules language: compiled reducers for aggregates whose state
 * transitions are plain data moves (grammar: man/snapmig.conf.5).
 *
 * Rules are compiled once at load time; applying an event never parses text.
 * A compiled sm_rules is immutable and may be used by several threads at once.
 */
#ifndef SM_CONFIG_RULES_H
#define SM_CONFIG_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "util/error.h"
#include "util/json.h"

typedef struct sm_rules sm_rules;

/* Where the bytes of a rule string are in the configuration file, when
 * known (a rule split over several lines): byte i is on line[i], at
 * column col[i] counted in characters from the piece's opening quote
 * (1 = the first character inside it); index len is just past the end. */
typedef struct sm_text_origin {
	const int *line;
	const int *col;
	size_t len;
} sm_text_origin;

/* One handler entry of the config: `on`, optional `when`, optional `do`. */
typedef struct sm_rule_source {
	const char *on;          /* an event type, or "*" for a catch-all entry */
	const char *when;        /* NULL when absent */
	const char *do_stmts;    /* NULL when absent */
	int line;                /* config line of the entry, for errors */
	const char *where;       /* e.g. "aggregates[0].events[3]" for errors */
	int when_line;           /* config line of `when`; 0: use line */
	int do_line;             /* config line of `do`; 0: use line */
	const sm_text_origin *when_origin;  /* NULL: unknown */
	const sm_text_origin *do_origin;    /* NULL: unknown */
} sm_rule_source;

/* What a rules reducer is compiled from. */
typedef struct sm_rules_input {
	const char *initial;     /* NULL: "{}" */
	int initial_line;
	const char *initial_where;  /* e.g. "aggregates[0].initial"; NULL: "initial" */
	const sm_text_origin *initial_origin;  /* NULL: unknown */
	const sm_rule_source *entries;
	size_t n_entries;
	const char *file;        /* for messages */
} sm_rules_input;

/*
 * Compiles `initial` and the handler entries.  On a syntax error returns
 * SM_ERR_CONFIG with err->file/line set and a message like
 * "aggregates[0].events[3].do, col 17: expected '=' after path": the line
 * and column of the error itself when the string's origin is known, else
 * the setting's line and the column in the string.
 * The caller owns *out (sm_rules_free).
 */
int sm_rules_compile_input(const sm_rules_input *in, sm_rules **out, sm_error *err);

/* The same without origins for initial: a shorthand for tests and tools. */
int sm_rules_compile(const char *initial, int initial_line,
		     const char *initial_where,
		     const sm_rule_source *entries, size_t n_entries,
		     const char *file, sm_rules **out, sm_error *err);
void sm_rules_free(sm_rules *rules);

/*
 * The canonical text of the rules: `initial` and the entries written from
 * their compiled form, so that it stays the same under changes of
 * whitespace, comments, quoting, string splitting and the order of entries
 * of different event types, and differs whenever the rules could produce
 * another state (also when a new snapmig gives the same rules another
 * meaning: its first line names the version of the language's meaning).
 * Meant to be hashed into a fingerprint of the reducer; settings outside
 * the rules that change output (duplicate_keys) are not part of it.
 * The text is rules source, one part per line ("initial ...", "on ...",
 * "when ...", "do ...").  Borrowed; valid while rules lives.
 */
const char *sm_rules_canonical(const sm_rules *rules);

/* A mistake that loads but is probably wrong (what `snapmig check` shows):
 * an entry that can never apply, a read of state.x when x is not a field
 * of initial, `x ?= v` on a field (always present), a statement that meets
 * a field's initial value of the wrong kind, statements after `fail`, an
 * event type without the Elixir. prefix ... */
typedef struct sm_rules_warning {
	int line;                /* config line */
	char *text;              /* "aggregates[0].events[2].do, col 5: ..." */
} sm_rules_warning;

/* The warnings found when the rules were compiled, in the order of the
 * file; all in the file sm_rules_file names.  Borrowed. */
size_t sm_rules_warnings(const sm_rules *rules, const sm_rules_warning **out);
const char *sm_rules_file(const sm_rules *rules);

/* The number of entries (on = "*" ones too). */
size_t sm_rules_entries(const sm_rules *rules);

/* A new copy of the initial state (caller owns). */
json_object *sm_rules_initial(const sm_rules *rules);

/* Does an entry apply to event_type: one with `on` == event_type, or a
 * catch-all (on = "*")? */
bool sm_rules_handles(const sm_rules *rules, const char *event_type);

/* Do the rules have a catch-all entry (on = "*"), so that every event
 * type is handled? */
bool sm_rules_handles_any(const sm_rules *rules);

/* Distinct handled event types, in config order, without "*"; borrowed
 * strings. */
size_t sm_rules_event_types(const sm_rules *rules, const char *const **types);

/* What the entries of one event type read of an event, so that a rebuild
 * builds only that of each event's data (util/json.h's field selection
 * still checks all of it).  Found by walking the compiled entries:
 * `event.x` and `event["x"]` name member x; `event` on its own or with a
 * computed key needs the whole object. */
typedef struct sm_event_reads {
	bool all_data;           /* the whole data object */
	sm_json_fields data;     /* otherwise these members (maybe none) */
	bool metadata;           /* meta is read at all */
} sm_event_reads;

/* NULL when no entry handles event_type (the catch-all's reads for a type
 * without entries of its own).  Borrowed from rules. */
const sm_event_reads *sm_rules_reads(const sm_rules *rules, const char *event_type);

/* What an event looks like to a reducer.  All borrowed. */
typedef struct sm_event_view {
	const char *type;        /* event_type */
	long long version;       /* stream_version */
	const char *stream_uuid;
	json_object *data;       /* a JSON object */
	json_object *metadata;   /* a JSON object or NULL */
	const char *created_at;  /* ISO 8601 UTC, e.g. "2026-01-31T12:00:00.123456Z"; may be NULL */
} sm_event_view;

enum sm_apply_result {
	SM_APPLY_OK = 0,
	SM_APPLY_UNKNOWN_EVENT = 1, /* no entry for this event type */
	SM_APPLY_NO_MATCH = 2,      /* entries exist, no `when` held */
	SM_APPLY_ERROR = 3,         /* a statement met the wrong kind of value etc. */
};

/*
 * Applies one event to *state (a JSON object owned by the caller; it may be
 * replaced, e.g. by `reset`).  Returns an sm_apply_result; for anything but
 * SM_APPLY_OK err->message says why, naming the statement, the event type
 * and the stream version ("append member_ids: not a list (number) at
 * Elixir.X.Events.Y v17").  *state is unspecified after a failure; the
 * caller discards the instance.
 */
int sm_rules_apply(const sm_rules *rules, json_object **state,
		   const sm_event_view *event, sm_error *err);

#endif
