/*
 * Decoding event columns (engine/event_data.h): util/json.c's guarantees
 * (exact decimals, 64-bit integers, last duplicate key wins, UTF-8 and
 * depth checked) plus what the rebuild requires of each column.
 */
#include "config.h"

#include "engine/event_data.h"
#include "util/json.h"

int sm_decode_event_data(sm_json_reader *r, const char *text, size_t len, json_object **out,
			 sm_error *err)
{
	if (r)
		return sm_json_reader_parse_object(r, text, len, out, err);
	return sm_json_parse_object(text, len, out, err);
}

int sm_decode_event_metadata(sm_json_reader *r, const char *text, size_t len,
			     json_object **out, sm_error *err)
{
	int rc = r ? sm_json_reader_parse(r, text, len, out, err)
		   : sm_json_parse(text, len, out, err);

	if (rc != SM_OK)
		return rc;
	/* Metadata is informational for a reducer: an odd value must not
	 * fail the instance, and a reducer only ever sees an object or null. */
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
	}
	return SM_OK;
}
