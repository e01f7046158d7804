/*
 * Where the bytes of a rule string are in the configuration file
 * (config/config_origin.c), for messages that name the real line and
 * column inside a rule split over several lines.
 */
#ifndef SM_CONFIG_CONFIG_ORIGIN_H
#define SM_CONFIG_CONFIG_ORIGIN_H

#include <stddef.h>

#include "config/rules.h"

/*
 * Finds the setting `name` whose name is on `line` of file_text[0..len) and
 * whose string value (adjacent pieces joined) is `value`, and returns where
 * each byte of the value is; NULL when it cannot be found exactly.  The
 * caller frees with sm_text_origin_free.
 */
sm_text_origin *sm_text_origin_find(const char *file_text, size_t len, int line,
				    const char *name, const char *value);
void sm_text_origin_free(sm_text_origin *o);

/* The texts of the files a load reads, each read once when first asked. */
typedef struct sm_source_files sm_source_files;

sm_source_files *sm_source_files_new(void);
void sm_source_files_free(sm_source_files *files);

/* sm_text_origin_find on the file at path (NULL when it cannot be read). */
sm_text_origin *sm_text_origin_in(sm_source_files *files, const char *path, int line,
				  const char *name, const char *value);

#endif
