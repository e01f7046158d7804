/*
 * Decoding event columns (engine/event_data.h): util/json.h's guarantees
 * (exact decimals, 64-bit integers, one value per key, UTF-8 and depth
 * checked) plus what the rebuild requires of each column.
 */
#include "config.h"

#include "engine/event_data.h"
#include "util/json.h"

int sm_decode_event_data(sm_json_reader *r, const char *text, size_t len,
			 const sm_json_fields *fields, json_object **out, sm_error *err)
{
	sm_json_reader *own = NULL;
	int rc;

	if (!r && !(r = own = sm_json_reader_new()))
		return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
	rc = sm_json_reader_parse_object_fields(r, text, len, fields, out, err);
	sm_json_reader_free(own);
	return rc;
}

int sm_decode_event_metadata(sm_json_reader *r, const char *text, size_t len, bool keep,
			     json_object **out, sm_error *err)
{
	sm_json_reader *own = NULL;
	int rc;

	*out = NULL;
	if (!r && !(r = own = sm_json_reader_new()))
		return sm_error_set(err, SM_ERR_NOMEM, "out of memory");
	rc = keep ? sm_json_reader_parse(r, text, len, out, err)
		  : sm_json_reader_check(r, text, len, err);
	sm_json_reader_free(own);
	if (rc != SM_OK)
		return rc;
	/* Metadata is informational for a reducer: an odd value must not
	 * fail the instance, and a reducer only ever sees an object or null. */
	if (*out && !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
	}
	return SM_OK;
}
