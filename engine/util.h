/* util: small file and string helpers shared by the engine. */
#ifndef VNS_UTIL_H
#define VNS_UTIL_H

#include <stddef.h>

/* Read a whole file into a NUL-terminated malloc'd buffer; NULL on error. */
char *util_read_file(const char *path, size_t *len);

/* mkdir -p with mode 0755. Returns 0 or -errno. */
int util_mkdirs(const char *path);

/* Remove a directory tree. Returns 0 or -errno. */
int util_rmtree(const char *path);

int util_exists(const char *path);
int util_is_dir(const char *path);

/* Online CPU numbers from /sys/devices/system/cpu/online into cpus[];
 * returns how many (at least CPU 0 if the file cannot be read). */
int util_online_cpus(int *cpus, int max);

#endif
