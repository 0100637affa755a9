#include "util.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *util_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1)
      break;
    cap *= 2;
    char *grown = realloc(buf, cap);
    if (!grown)
      free(buf);
    buf = grown;
  }
  if (buf && ferror(f)) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (!buf)
    return NULL;
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

int util_mkdirs(const char *path)
{
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0755) && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0755) && errno != EEXIST)
    return -errno;
  return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  return remove(path) ? -errno : 0;
}

int util_rmtree(const char *path)
{
  return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int util_exists(const char *path)
{
  return access(path, F_OK) == 0;
}

int util_is_dir(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int util_online_cpus(int *cpus, int max)
{
  char *text = util_read_file("/sys/devices/system/cpu/online", NULL);
  int n = 0;
  for (char *p = text; p && *p && n < max;) {
    char *end;
    long first = strtol(p, &end, 10), last = first;
    if (end == p)
      break;
    if (*end == '-')
      last = strtol(end + 1, &end, 10);
    for (long c = first; c <= last && n < max; c++)
      cpus[n++] = (int)c;
    p = *end == ',' ? end + 1 : end;
    if (*p == '\n')
      break;
  }
  free(text);
  if (n == 0)
    cpus[n++] = 0;
  return n;
}

uint64_t util_hash(uint64_t h, const void *data, size_t len)
{
  const unsigned char *p = data;
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
  }
  for (; len; p++, len--)
    h = (h ^ *p) * 0x100000001b3ULL;
  return h;
}
