/*
 * Fuzz target: the rules lexer, parser and evaluator, and JSON decoding of
 * event data.  Whatever the input, compiling and applying must end in a
 * result code, never a crash, leak or sanitizer report.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/rules.h"
#include "tests/fuzz.h"
#include "util/json.h"

/* Next line of data[*pos..size) as a NUL-terminated copy (NUL bytes cut it
 * short, as a C string from libconfig would be). */
static char *next_line(const uint8_t *data, size_t size, size_t *pos)
{
	size_t start = *pos, end = start;
	char *s;

	while (end < size && data[end] != '\n')
		end++;
	*pos = end < size ? end + 1 : end;
	s = malloc(end - start + 1);
	if (!s)
		abort();
	memcpy(s, data + start, end - start);
	s[end - start] = '\0';
	return s;
}

/* Splits canonical text into its parts, compiles them again and compares
 * the new canonical text with the old. */
int sm_fuzz_rules_roundtrip(const sm_rules *rules)
{
	const char *text = sm_rules_canonical(rules);
	char *copy = strdup(text), *line, *save = NULL;
	const char *initial = NULL;
	sm_rule_source *src = calloc(strlen(text) + 1, sizeof *src);
	json_object **ons = calloc(strlen(text) + 1, sizeof *ons);
	size_t n = 0;
	sm_rules *again = NULL;
	sm_error err;
	int rc = -1;

	if (!copy || !src || !ons)
		abort();
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "initial ", 8) == 0) {
			initial = line + 8;
		} else if (strncmp(line, "on ", 3) == 0) {
			if (sm_json_parse(line + 3, strlen(line + 3), &ons[n], &err) != 0 ||
			    !json_object_is_type(ons[n], json_type_string))
				goto out;
			src[n].on = json_object_get_string(ons[n]);
			src[n].where = "roundtrip";
			src[n].line = (int)n + 1;
			n++;
		} else if (strncmp(line, "when ", 5) == 0 && n) {
			src[n - 1].when = line + 5;
		} else if (strncmp(line, "do ", 3) == 0 && n) {
			src[n - 1].do_stmts = line + 3;
		} else if (strncmp(line, "snapmig-rules ", 14) != 0) {
			goto out;
		}
	}
	sm_error_clear(&err);
	if (sm_rules_compile(initial, 1, "initial", src, n, "roundtrip", &again, &err) == 0 &&
	    strcmp(sm_rules_canonical(again), text) == 0)
		rc = 0;
	else if (getenv("SM_FUZZ_VERBOSE"))
		fprintf(stderr, "canonical text does not compile back:\n%s\n%s\n%s\n", text,
			again ? sm_rules_canonical(again) : "", err.message);
out:
	sm_rules_free(again);
	for (size_t i = 0; i < n; i++)
		json_object_put(ons[i]);
	free(ons);
	free(src);
	free(copy);
	return rc;
}

int sm_fuzz_rules(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	char *initial = next_line(data, size, &pos);
	char *when = next_line(data, size, &pos);
	char *dos = next_line(data, size, &pos);
	/* C has no entry of its own: the catch-all takes it. */
	const char *types[] = { "Elixir.F.Events.A", "Elixir.F.Events.B", "Elixir.F.Events.C" };
	sm_rule_source src[4];
	size_t n = 0;
	sm_rules *rules = NULL;
	sm_error err;
	json_object *event = NULL;

	/* A: the input's when and do, then (when there is a when) an entry
	 * that resets; B: the input's do; any other type: a catch-all that
	 * runs the input's do when the input's when holds. */
	memset(src, 0, sizeof src);
	src[n++] = (sm_rule_source){ types[0], when[0] ? when : NULL, dos, 1, "events[0]", 2, 3 };
	if (when[0])
		src[n++] = (sm_rule_source){ types[0], NULL, "reset", 4, "events[1]", 0, 0 };
	src[n++] = (sm_rule_source){ types[1], NULL, dos, 5, "events[2]", 0, 0 };
	src[n++] = (sm_rule_source){ "*", when[0] ? when : NULL, dos, 6, "events[3]", 0, 0 };
	sm_error_clear(&err);
	/* The rest is event data; also a test of the JSON decoder. */
	if (sm_json_parse((const char *)data + pos, size - pos, &event, &err) == 0) {
		size_t len;

		sm_json_print(event, &len);
		(void)sm_json_has_nul(event);
	}
	if (sm_rules_compile(initial[0] ? initial : NULL, 1, "initial", src, n, "fuzz.conf", &rules, &err) == 0) {
		json_object *state = sm_rules_initial(rules);

		/* The canonical text is faithful: it compiles to rules with
		 * the same canonical text. */
		if (sm_fuzz_rules_roundtrip(rules) != 0)
			abort();

		for (long long v = 1; v <= 6 && state; v++) {
			sm_event_view ev = { types[v % 3], v, "fuzz-stream", event, event };

			if (sm_rules_apply(rules, &state, &ev, &err) != SM_APPLY_OK)
				break;
			sm_json_print(state, NULL);
		}
		json_object_put(state);
		/* The event itself as the state: any shape of object. */
		if (json_object_is_type(event, json_type_object)) {
			json_object *st = sm_json_copy(event);
			sm_event_view ev = { types[0], 9, "s", event, NULL };

			sm_rules_apply(rules, &st, &ev, &err);
			json_object_put(st);
		}
		sm_rules_free(rules);
	}
	json_object_put(event);
	free(initial);
	free(when);
	free(dos);
	return 0;
}

SM_FUZZ_TARGET(sm_fuzz_rules)
