/* util: small file and string helpers shared by the engine. */
#ifndef VNS_UTIL_H
#define VNS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Read a whole file into a NUL-terminated malloc'd buffer; NULL on error. */
char *util_read_file(const char *path, size_t *len);

/* A 64-bit hash for names (cache entries, header trees), 8 bytes per
 * step: a kernel's BTF (~5 MB) is hashed on every start. Chain calls by
 * passing the last result as h; start with UTIL_HASH_SEED. The same
 * bytes cut at the same multiples of 8 give the same hash. */
#define UTIL_HASH_SEED 0xcbf29ce484222325ULL
uint64_t util_hash(uint64_t h, const void *data, size_t len);

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
