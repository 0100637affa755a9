/* compiler: find and load vnetscope-bcc.so on the first cache miss. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"

/* DEEPBIND keeps libbcc's own copy of libbpf's symbols from binding to
 * the binary's (libbcc_bpf). The sanitizer runtimes refuse it (they must
 * interpose malloc everywhere), so a sanitizer build (make test-asan)
 * binds the plain way. */
#if defined(__SANITIZE_ADDRESS__)
#define COMPILER_DEEPBIND 0
#else
#define COMPILER_DEEPBIND RTLD_DEEPBIND
#endif

/* Next to the binary (the build tree), then the installed library dir. */
static int plugin_path(char *out, size_t len)
{
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash)
    *slash = '\0';
  snprintf(out, len, "%s/" COMPILER_LIBRARY, exe);
  if (access(out, R_OK) == 0)
    return 0;
  snprintf(out, len, "%s/../" VNS_LIB_REL "/" COMPILER_LIBRARY, exe);
  return access(out, R_OK) == 0 ? 0 : -1;
}

compiler_fn compiler_get(char *err, size_t errlen)
{
  static compiler_fn fn;
  if (fn)
    return fn;
  char path[PATH_MAX + 64];
  if (plugin_path(path, sizeof path)) {
    snprintf(err, errlen,
             "this program is not compiled yet and the compiler part of vnetscope ("
             COMPILER_LIBRARY ", with libbcc and LLVM) is not installed here: install it, "
             "or bring a pack made with 'vnetscope compile' on a build host (--pack FILE)");
    return NULL;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | COMPILER_DEEPBIND);
  if (!h) {
    snprintf(err, errlen, "cannot load the compiler %s: %s", path, dlerror());
    return NULL;
  }
  fn = (compiler_fn)dlsym(h, COMPILER_SYMBOL);
  if (!fn)
    snprintf(err, errlen, "%s has no %s", path, COMPILER_SYMBOL);
  return fn;
}

static void append_stat(char *out, size_t len, const char *path)
{
  struct stat st;
  size_t used = strlen(out);
  if (stat(path, &st) == 0)
    snprintf(out + used, len - used, " %s:%lld:%lld", path, (long long)st.st_size,
             (long long)st.st_mtime);
  else
    snprintf(out + used, len - used, " %s:missing", path);
}

const char *compiler_identity(void)
{
  static char id[4096];
  if (id[0])
    return id;
  char path[PATH_MAX + 64];
  snprintf(id, sizeof id, "libbcc-" VNS_BCC_VERSION);
  if (plugin_path(path, sizeof path) == 0)
    append_stat(id, sizeof id, path);
  /* The libraries the plugin was linked with, as CMake found them: an
   * upgrade of libbcc or LLVM changes their size or time. */
  char libs[] = VNS_COMPILER_LIBS;
  for (char *save, *p = strtok_r(libs, ":", &save); p; p = strtok_r(NULL, ":", &save))
    append_stat(id, sizeof id, p);
  return id;
}
