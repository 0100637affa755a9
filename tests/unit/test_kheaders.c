/* kheaders: choosing a header source and generating the BTF tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <bpf/btf.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kheaders.h"
#include "util.h"

#define RELEASE "6.18.300-test"

struct fixture {
  char root[64];
  char path[8][512];
  struct kheaders_env env;
};

static const char *fx_path(struct fixture *fx, int slot, const char *rel)
{
  snprintf(fx->path[slot], sizeof fx->path[slot], "%s/%s", fx->root, rel);
  return fx->path[slot];
}

/* A tiny BTF blob with one struct named after tag, so content varies. */
static void write_btf(const char *path, const char *tag)
{
  struct btf *btf = btf__new_empty();
  assert_non_null(btf);
  int u32 = btf__add_int(btf, "unsigned int", 4, 0);
  assert_true(btf__add_struct(btf, tag, 8) > 0);
  assert_int_equal(btf__add_field(btf, "a", u32, 0, 0), 0);
  assert_int_equal(btf__add_field(btf, "b", u32, 32, 0), 0);
  __u32 size;
  const void *data = btf__raw_data(btf, &size);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, size, f), size);
  fclose(f);
  btf__free(btf);
}

static int setup(void **state)
{
  struct fixture *fx = calloc(1, sizeof *fx);
  strcpy(fx->root, "/tmp/vns-kheaders-XXXXXX");
  if (!fx || !mkdtemp(fx->root))
    return -1;
  fx->env.release = RELEASE;
  fx->env.modules_dir = fx_path(fx, 0, "modules");
  fx->env.btf_path = fx_path(fx, 1, "vmlinux.btf");
  fx->env.cache_dir = fx_path(fx, 2, "cache");
  fx->env.env_source = NULL;
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *fx = *state;
  util_rmtree(fx->root);
  free(fx);
  return 0;
}

static void mkdirs(struct fixture *fx, const char *rel)
{
  assert_int_equal(util_mkdirs(fx_path(fx, 7, rel)), 0);
}

static void test_env_beats_modules(void **state)
{
  struct fixture *fx = *state;
  char dir[4096];
  mkdirs(fx, "src/include");
  mkdirs(fx, "modules/" RELEASE "/build/include");
  write_btf(fx->env.btf_path, "fx");
  fx->env.env_source = fx_path(fx, 3, "src");
  assert_int_equal(kheaders_choose(&fx->env, dir, sizeof dir), KHEADERS_ENV);
  assert_string_equal(dir, fx->env.env_source);
  /* Choosing passes over a BCC_KERNEL_SOURCE that is not a directory;
   * preparing refuses it, naming the variable. */
  fx->env.env_source = fx_path(fx, 3, "missing");
  assert_int_equal(kheaders_choose(&fx->env, dir, sizeof dir), KHEADERS_MODULES);
  struct kheaders kh;
  char err[512];
  assert_int_equal(kheaders_prepare(&fx->env, &kh, err, sizeof err), -1);
  assert_non_null(strstr(err, "BCC_KERNEL_SOURCE="));
  assert_non_null(strstr(err, "not a directory"));
}

static void test_modules_build_beats_btf(void **state)
{
  struct fixture *fx = *state;
  char dir[4096];
  mkdirs(fx, "modules/" RELEASE "/build/include");
  write_btf(fx->env.btf_path, "fx");
  assert_int_equal(kheaders_choose(&fx->env, dir, sizeof dir), KHEADERS_MODULES);
  assert_string_equal(dir, fx_path(fx, 3, "modules/" RELEASE "/build"));
}

static void test_modules_source(void **state)
{
  struct fixture *fx = *state;
  char dir[4096];
  mkdirs(fx, "modules/" RELEASE "/build");  /* no include/: not usable */
  mkdirs(fx, "modules/" RELEASE "/source/include");
  assert_int_equal(kheaders_choose(&fx->env, dir, sizeof dir), KHEADERS_MODULES);
  assert_string_equal(dir, fx_path(fx, 3, "modules/" RELEASE "/source"));
}

static void test_btf_when_no_headers(void **state)
{
  struct fixture *fx = *state;
  char dir[4096], prefix[600];
  mkdirs(fx, "modules/other-release/build/include");
  write_btf(fx->env.btf_path, "fx");
  assert_int_equal(kheaders_choose(&fx->env, dir, sizeof dir), KHEADERS_BTF);
  snprintf(prefix, sizeof prefix, "%s/kheaders/" RELEASE "-", fx->env.cache_dir);
  assert_int_equal(strncmp(dir, prefix, strlen(prefix)), 0);
  const char *hash = dir + strlen(prefix);
  assert_int_equal(strlen(hash), 16);
  assert_int_equal(strspn(hash, "0123456789abcdef"), 16);
}

static void test_btf_dir_follows_content(void **state)
{
  struct fixture *fx = *state;
  char a[4096], b[4096], c[4096];
  write_btf(fx->env.btf_path, "one");
  kheaders_choose(&fx->env, a, sizeof a);
  kheaders_choose(&fx->env, b, sizeof b);
  write_btf(fx->env.btf_path, "two");
  kheaders_choose(&fx->env, c, sizeof c);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
}

static void test_none(void **state)
{
  struct fixture *fx = *state;
  char dir[4096], err[512];
  struct kheaders kh;
  assert_int_equal(kheaders_choose(&fx->env, dir, sizeof dir), KHEADERS_NONE);
  assert_int_equal(kheaders_prepare(&fx->env, &kh, err, sizeof err), -1);
  assert_int_equal(kh.kind, KHEADERS_NONE);
  assert_string_equal(err, "no kernel headers for " RELEASE ": install linux-headers-" RELEASE
                           " (Debian/Ubuntu) or kernel-devel-" RELEASE
                           " (RHEL/openEuler), or set BCC_KERNEL_SOURCE=DIR");
}

static int file_has(const char *dir, const char *rel, const char *text)
{
  char path[4300];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  char *buf = util_read_file(path, NULL);
  int found = buf && strstr(buf, text);
  free(buf);
  return found;
}

static int tree_has(const char *dir, const char *rel)
{
  char path[4300];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return util_exists(path);
}

static void test_prepare_generates(void **state)
{
  struct fixture *fx = *state;
  struct kheaders kh;
  char err[512] = "";
  write_btf(fx->env.btf_path, "vns_fixture");
  assert_int_equal(kheaders_prepare(&fx->env, &kh, err, sizeof err), 0);
  assert_int_equal(kh.kind, KHEADERS_BTF);
  assert_string_equal(getenv("BCC_KERNEL_SOURCE"), kh.dir);
  assert_true(tree_has(kh.dir, ".complete"));
  /* 6.18.300: the sublevel saturates at 255. */
  assert_true(file_has(kh.dir, "include/generated/uapi/linux/version.h",
                       "#define LINUX_VERSION_CODE 398079\n"));
  assert_true(file_has(kh.dir, "include/vmlinux.h", "struct vns_fixture {"));
  assert_true(file_has(kh.dir, "include/vmlinux.h", "#ifndef __VMLINUX_H__"));
  assert_true(file_has(kh.dir, "include/linux/kconfig.h", "#include <vmlinux.h>"));
  assert_true(file_has(kh.dir, "include/linux/kconfig.h", "#define _UAPI__LINUX_BPF_H__"));
  assert_true(file_has(kh.dir, "include/asm/page.h", "#define PAGE_SIZE"));
  assert_true(file_has(kh.dir, "include/linux/log2.h", "roundup_pow_of_two"));
  assert_true(tree_has(kh.dir, "include/generated/autoconf.h"));
  if (util_exists("/proc/config.gz"))
    assert_true(file_has(kh.dir, "include/generated/autoconf.h", "#define CONFIG_"));
  const char *stubs[] = {"uapi/linux/bpf.h", "linux/types.h", "linux/skbuff.h",
                         "net/sock.h", "linux/netfilter/x_tables.h"};
  for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "include/%s", stubs[i]);
    assert_true(tree_has(kh.dir, rel));
  }
}

/* Warm: an existing complete tree is used as is. */
static void test_prepare_reuses(void **state)
{
  struct fixture *fx = *state;
  struct kheaders a, b;
  char err[512] = "", mark[4300];
  write_btf(fx->env.btf_path, "vns_fixture");
  assert_int_equal(kheaders_prepare(&fx->env, &a, err, sizeof err), 0);
  snprintf(mark, sizeof mark, "%s/mark", a.dir);
  FILE *f = fopen(mark, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(kheaders_prepare(&fx->env, &b, err, sizeof err), 0);
  assert_string_equal(a.dir, b.dir);
  assert_true(util_exists(mark));
}

static void test_prepare_unwritable_cache(void **state)
{
  struct fixture *fx = *state;
  struct kheaders kh;
  char err[512] = "";
  write_btf(fx->env.btf_path, "vns_fixture");
  FILE *f = fopen(fx->env.cache_dir, "w"); /* a file where the dir should be */
  assert_non_null(f);
  fclose(f);
  assert_int_equal(kheaders_prepare(&fx->env, &kh, err, sizeof err), -1);
  assert_non_null(strstr(err, fx->env.cache_dir));
}

static int count_entries(const char *dir, int *tmp)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  *tmp = 0;
  assert_non_null(d);
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    n++;
    *tmp += strncmp(e->d_name, ".tmp-", 5) == 0;
  }
  closedir(d);
  return n;
}

static pid_t spawn_prepare(struct fixture *fx)
{
  pid_t pid = fork();
  if (pid == 0) {
    struct kheaders kh;
    char err[512];
    _exit(kheaders_prepare(&fx->env, &kh, err, sizeof err) == 0 ? 0 : 1);
  }
  return pid;
}

static void test_prepare_concurrent(void **state)
{
  struct fixture *fx = *state;
  char dir[600];
  int status, tmp;
  if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
    fx->env.btf_path = "/sys/kernel/btf/vmlinux";  /* slow enough to overlap */
  else
    write_btf(fx->env.btf_path, "vns_fixture");
  pid_t a = spawn_prepare(fx), b = spawn_prepare(fx);
  assert_true(a > 0 && b > 0);
  assert_int_equal(waitpid(a, &status, 0), a);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(waitpid(b, &status, 0), b);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  snprintf(dir, sizeof dir, "%s/kheaders", fx->env.cache_dir);
  assert_int_equal(count_entries(dir, &tmp), 1);
  assert_int_equal(tmp, 0);
}

/* The real kernel's BTF gives a vmlinux.h with the networking types. */
static void test_prepare_real_btf(void **state)
{
  struct fixture *fx = *state;
  struct kheaders kh;
  char err[512] = "";
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    print_message("/sys/kernel/btf/vmlinux not readable\n");
    skip();
  }
  fx->env.btf_path = "/sys/kernel/btf/vmlinux";
  assert_int_equal(kheaders_prepare(&fx->env, &kh, err, sizeof err), 0);
  assert_true(file_has(kh.dir, "include/vmlinux.h", "struct sk_buff {"));
}

static void test_default_env(void **state)
{
  struct kheaders_env env;
  setenv("VNETSCOPE_CACHE_DIR", "/tmp/vns-cache", 1);
  setenv("BCC_KERNEL_SOURCE", "/usr/src/linux", 1);
  kheaders_default_env(&env);
  assert_string_equal(env.cache_dir, "/tmp/vns-cache");
  assert_string_equal(env.env_source, "/usr/src/linux");
  assert_string_equal(env.modules_dir, "/lib/modules");
  assert_string_equal(env.btf_path, "/sys/kernel/btf/vmlinux");
  assert_true(env.release[0] != '\0');
  unsetenv("VNETSCOPE_CACHE_DIR");
  kheaders_default_env(&env);
  assert_string_equal(env.cache_dir, "/var/cache/vnetscope");
  assert_string_equal(kheaders_kind_name(KHEADERS_BTF), "btf");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
  const struct CMUnitTest tests[] = {
      T(test_env_beats_modules),   T(test_modules_build_beats_btf),
      T(test_modules_source),      T(test_btf_when_no_headers),
      T(test_btf_dir_follows_content), T(test_none),
      T(test_prepare_generates),   T(test_prepare_reuses),
      T(test_prepare_unwritable_cache), T(test_prepare_concurrent),
      T(test_prepare_real_btf),
      cmocka_unit_test(test_default_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
