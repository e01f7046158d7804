/* Small filesystem helpers. */
#ifndef SM_UTIL_FS_H
#define SM_UTIL_FS_H

#include <sys/types.h>

/* mkdir -p; 0 on success (also when it exists), -1 with errno set. */
int sm_mkdir_p(const char *path, mode_t mode);

#endif
