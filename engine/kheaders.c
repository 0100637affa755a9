/* kheaders: choose the header source; for BTF, find the cached tree or
 * build one privately and publish it with an atomic rename. */
#include "kheaders.h"
#include "kheaders_tree.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

const char *kheaders_kind_name(enum kheaders_kind kind)
{
  switch (kind) {
  case KHEADERS_ENV: return "env";
  case KHEADERS_MODULES: return "modules";
  case KHEADERS_BTF: return "btf";
  default: return "none";
  }
}

void kheaders_default_env(struct kheaders_env *env)
{
  static struct utsname uts;
  const char *cache = getenv("VNETSCOPE_CACHE_DIR");
  if (uname(&uts) != 0)
    strcpy(uts.release, "unknown");
  env->release = uts.release;
  env->modules_dir = "/lib/modules";
  env->btf_path = "/sys/kernel/btf/vmlinux";
  env->cache_dir = cache && *cache ? cache : "/var/cache/vnetscope";
  env->env_source = getenv("BCC_KERNEL_SOURCE");
}

/* The hash of the layout tag and then the file: any change to the
 * kernel's types, or to what we generate, gives a new cache entry.
 * fread fills whole chunks until the end, so the cuts never move. */
static int kh_hash_file(const char *path, uint64_t *out)
{
  uint64_t h = util_hash(UTIL_HASH_SEED, KHEADERS_LAYOUT, strlen(KHEADERS_LAYOUT));
  FILE *f = fopen(path, "rb");
  if (!f)
    return -errno;
  unsigned char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    h = util_hash(h, buf, n);
  int rc = ferror(f) ? -EIO : 0;
  fclose(f);
  *out = h;
  return rc;
}

/* A kernel build or source tree is usable when it has include/. */
static int kh_modules_tree(const struct kheaders_env *env, char *dir, size_t dirlen)
{
  static const char *const subs[] = {"build", "source"};
  char inc[4200];
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    snprintf(inc, sizeof inc, "%s/%s/%s/include", env->modules_dir, env->release, subs[i]);
    if (util_is_dir(inc)) {
      snprintf(dir, dirlen, "%s/%s/%s", env->modules_dir, env->release, subs[i]);
      return 1;
    }
  }
  return 0;
}

enum kheaders_kind kheaders_choose(const struct kheaders_env *env, char *dir, size_t dirlen)
{
  uint64_t h;
  dir[0] = '\0';
  if (env->env_source && *env->env_source && util_is_dir(env->env_source)) {
    snprintf(dir, dirlen, "%s", env->env_source);
    return KHEADERS_ENV;
  }
  if (kh_modules_tree(env, dir, dirlen))
    return KHEADERS_MODULES;
  if (access(env->btf_path, R_OK) == 0 && kh_hash_file(env->btf_path, &h) == 0) {
    snprintf(dir, dirlen, "%s/kheaders/%s-%016llx", env->cache_dir, env->release,
             (unsigned long long)h);
    return KHEADERS_BTF;
  }
  return KHEADERS_NONE;
}

static int kh_complete(const char *dir)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/.complete", dir);
  return util_exists(path);
}

/* Make a private temporary tree next to the final one (same filesystem,
 * so rename() can publish it atomically). */
static int kh_mktemp(const struct kheaders_env *env, struct khbuild *b)
{
  int n = snprintf(b->root, sizeof b->root, "%s/kheaders", env->cache_dir);
  if (n < 0 || (size_t)n + 40 >= sizeof b->root)
    return kh_fail(b->err, b->errlen, -ENAMETOOLONG, "%s: path too long", env->cache_dir);
  int rc = util_mkdirs(b->root);
  if (rc)
    return kh_fail(b->err, b->errlen, rc,
                   "%s: %s (set VNETSCOPE_CACHE_DIR to a writable directory)", b->root,
                   strerror(-rc));
  snprintf(b->root + n, sizeof b->root - n, "/.tmp-%ld-XXXXXX", (long)getpid());
  if (!mkdtemp(b->root) || chmod(b->root, 0755))
    return kh_fail(b->err, b->errlen, -errno, "%s: %s", b->root, strerror(errno));
  return 0;
}

/* rename() is atomic, so readers see no tree or a whole one. When
 * another run published first, its tree is as good as ours. */
static int kh_publish(struct khbuild *b, const char *dir)
{
  if (rename(b->root, dir) == 0)
    return 0;
  int rc = -errno;
  if ((rc == -EEXIST || rc == -ENOTEMPTY) && kh_complete(dir))
    rc = 0;
  else if (rc == -EEXIST || rc == -ENOTEMPTY)
    kh_fail(b->err, b->errlen, rc, "%s: exists without .complete; remove it", dir);
  else
    kh_fail(b->err, b->errlen, rc, "%s: renaming %s: %s", dir, b->root, strerror(-rc));
  util_rmtree(b->root);
  return rc;
}

static int kh_generate(const struct kheaders_env *env, const char *dir, char *err, size_t errlen)
{
  struct khbuild b = {.env = env, .err = err, .errlen = errlen};
  int rc = kh_mktemp(env, &b);
  if (rc)
    return rc;
  rc = kh_write_tree(&b);
  if (rc) {
    util_rmtree(b.root);
    return rc;
  }
  return kh_publish(&b, dir);
}

int kheaders_prepare(const struct kheaders_env *env, struct kheaders *out, char *err,
                     size_t errlen)
{
  /* A source the user named but that is not there is a mistake to report,
   * not a reason to quietly compile against something else. */
  if (env->env_source && *env->env_source && !util_is_dir(env->env_source))
    return kh_fail(err, errlen, -1, "BCC_KERNEL_SOURCE=%s is not a directory: point it at a "
                   "kernel build tree or unset it", env->env_source);
  out->kind = kheaders_choose(env, out->dir, sizeof out->dir);
  if (out->kind == KHEADERS_NONE)
    return kh_fail(err, errlen, -1,
                   "no kernel headers for %s: install linux-headers-%s (Debian/Ubuntu) or "
                   "kernel-devel-%s (RHEL/openEuler), or set BCC_KERNEL_SOURCE=DIR",
                   env->release, env->release, env->release);
  if (out->kind != KHEADERS_BTF)
    return 0;
  if (!kh_complete(out->dir) && kh_generate(env, out->dir, err, errlen))
    return -1;
  if (setenv("BCC_KERNEL_SOURCE", out->dir, 1) != 0)
    return kh_fail(err, errlen, -1, "BCC_KERNEL_SOURCE: %s", strerror(errno));
  return 0;
}
