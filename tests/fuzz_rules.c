/*
 * Fuzz target: the rules lexer, parser and evaluator, and JSON decoding of
 * event data.  Whatever the input, compiling and applying must end in a
 * result code, never a crash, leak or sanitizer report.
 */
#include "config.h"

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

int sm_fuzz_rules(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	char *initial = next_line(data, size, &pos);
	char *when = next_line(data, size, &pos);
	char *dos = next_line(data, size, &pos);
	const char *types[] = { "Elixir.F.Events.A", "Elixir.F.Events.B" };
	sm_rule_source src[] = {
		{ types[0], when[0] ? when : NULL, dos, 1, "events[0]", 2, 3 },
		{ types[0], NULL, "n += 1", 4, "events[1]", 0, 0 },
		{ types[1], NULL, dos, 5, "events[2]", 0, 0 },
	};
	sm_rules *rules = NULL;
	sm_error err;
	json_object *event = NULL;

	sm_error_clear(&err);
	/* The rest is event data; also a test of the JSON decoder. */
	if (sm_json_parse((const char *)data + pos, size - pos, &event, &err) == 0) {
		size_t len;

		sm_json_print(event, &len);
		(void)sm_json_has_nul(event);
	}
	if (sm_rules_compile(initial[0] ? initial : NULL, 1, "initial", src, 3, "fuzz.conf", &rules, &err) == 0) {
		json_object *state = sm_rules_initial(rules);

		for (long long v = 1; v <= 4 && state; v++) {
			sm_event_view ev = { types[v % 2], v, "fuzz-stream", event, event };

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

#ifndef SM_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return sm_fuzz_rules(data, size);
}
#endif
