/* kheaders_tree: write the header tree BCC compiles against when the
 * kernel has BTF but no headers. Internal to kheaders. */
#ifndef VNS_KHEADERS_TREE_H
#define VNS_KHEADERS_TREE_H

#include <stddef.h>

#include "kheaders.h"

/* Bump when the generated tree changes shape: it is part of the cache
 * key, so trees made by an older vnetscope are not reused. */
#define KHEADERS_LAYOUT "vnetscope-kheaders-1"

/* A tree being written: its root and where to report a failure. */
struct khbuild {
  const struct kheaders_env *env;
  char root[4096];
  char *err;
  size_t errlen;
};

/* Write every file, .complete last. Returns 0 or a negative errno with
 * b->err filled. */
int kh_write_tree(struct khbuild *b);

/* Fill err (when given) and return rc. */
int kh_fail(char *err, size_t errlen, int rc, const char *fmt, ...);

#endif
