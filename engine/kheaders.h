/* kheaders: choose where BCC finds kernel headers, and make a header tree
 * from BTF when the kernel has no headers installed.
 *
 * Order: $BCC_KERNEL_SOURCE; /lib/modules/R/{build,source}; a tree
 * generated from /sys/kernel/btf/vmlinux and the kernel config, cached
 * per kernel under the cache directory; otherwise an error telling the
 * user to install the headers for this exact kernel. */
#ifndef VNS_KHEADERS_H
#define VNS_KHEADERS_H

#include <stddef.h>

enum kheaders_kind {
  KHEADERS_ENV,      /* BCC_KERNEL_SOURCE */
  KHEADERS_MODULES,  /* /lib/modules/R/build or source */
  KHEADERS_BTF,      /* generated from BTF */
  KHEADERS_NONE,
};

struct kheaders {
  enum kheaders_kind kind;
  char dir[4096];    /* the tree BCC compiles against */
};

/* Paths the provider looks at; tests point them at fixtures. */
struct kheaders_env {
  const char *release;      /* uname -r */
  const char *modules_dir;  /* "/lib/modules" */
  const char *btf_path;     /* "/sys/kernel/btf/vmlinux" */
  const char *cache_dir;    /* "/var/cache/vnetscope" or $VNETSCOPE_CACHE_DIR */
  const char *env_source;   /* getenv("BCC_KERNEL_SOURCE") */
};

/* Fill env with this machine's values. */
void kheaders_default_env(struct kheaders_env *env);

/* Decide which source to use, without generating anything. */
enum kheaders_kind kheaders_choose(const struct kheaders_env *env, char *dir, size_t dirlen);

/* Choose, generating the BTF tree if needed (safe against concurrent
 * runs: build in a private temporary directory, then rename). On success
 * sets BCC_KERNEL_SOURCE for libbcc when kind is KHEADERS_BTF and returns 0;
 * on failure returns -1 with a message telling the user what to do. */
int kheaders_prepare(const struct kheaders_env *env, struct kheaders *out, char *err, size_t errlen);

const char *kheaders_kind_name(enum kheaders_kind kind);

#endif
