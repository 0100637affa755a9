/* lpack: programs as packs, made from C text or read from bytes.
 *   core.compile(text, {cflags, debug}) -> module       compile now, no cache
 *   core.compile_pack(text, {cflags, debug, key, about, sentinels}) -> bytes
 *   core.load_pack(bytes, {key, values}) -> module      no compiler involved
 *   core.pack_info(bytes) -> {key, about, values, maps, functions}
 * plus where the kernel headers come from. Compiling goes through
 * vnetscope-bcc.so (engine/compiler.h); modules are lmodule.c's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler.h"
#include "kheaders.h"
#include "lhandles.h"
#include "lhelp.h"
#include "tracefs.h"

#define MAX_CFLAGS 64

static struct kheaders headers;
static int headers_ready;
static char headers_err[1024];

/* Decide the header source once per process; the BTF tree is generated
 * (or found in the cache) on the first compile only. */
static int ensure_headers(void)
{
  if (headers_ready)
    return headers_ready > 0 ? 0 : -1;
  struct kheaders_env env;
  kheaders_default_env(&env);
  headers_ready = kheaders_prepare(&env, &headers, headers_err, sizeof headers_err) ? -1 : 1;
  return headers_ready > 0 ? 0 : -1;
}

static int core_kheaders(lua_State *L)
{
  if (ensure_headers())
    return lhelp_fail(L, ENOENT, "%s", headers_err);
  lua_pushstring(L, kheaders_kind_name(headers.kind));
  lua_pushstring(L, headers.dir);
  return 2;
}

/* What decides the headers a compile here would use, without preparing
 * them: the BTF tree's name holds the BTF's hash; a headers directory is
 * known by its path and the time its kernel config was written. */
static int core_kheaders_identity(lua_State *L)
{
  struct kheaders_env env;
  kheaders_default_env(&env);
  char dir[4096], real[PATH_MAX], conf[4200];
  enum kheaders_kind kind = kheaders_choose(&env, dir, sizeof dir);
  if (kind == KHEADERS_BTF || kind == KHEADERS_NONE) {
    lua_pushfstring(L, "%s %s", kheaders_kind_name(kind), dir);
    return 1;
  }
  if (!realpath(dir, real))
    snprintf(real, sizeof real, "%s", dir);
  snprintf(conf, sizeof conf, "%s/include/generated/autoconf.h", real);
  struct stat st;
  if (stat(conf, &st) && stat(real, &st))
    st.st_mtime = 0;
  lua_pushfstring(L, "%s %s %I", kheaders_kind_name(kind), real, (lua_Integer)st.st_mtime);
  return 1;
}

/* core.use_kernel_headers(dir): compile against dir from now on
 * (vnetscope compile --kernel-headers). */
static int core_use_kernel_headers(lua_State *L)
{
  const char *dir = luaL_checkstring(L, 1);
  if (setenv("BCC_KERNEL_SOURCE", dir, 1))
    return lhelp_fail(L, errno, "BCC_KERNEL_SOURCE: %s", strerror(errno));
  headers_ready = 0;
  lua_pushboolean(L, 1);
  return 1;
}

/* core.use_target_arch(arch): compile for arch, "x86_64" or "arm64", from
 * now on (vnetscope compile --target-arch): BCC takes the architecture
 * (pt_regs members, the headers' arch/ directory, its target defines)
 * from ARCH. */
static int core_use_target_arch(lua_State *L)
{
  const char *arch = luaL_checkstring(L, 1);
  if (strcmp(arch, "x86_64") != 0 && strcmp(arch, "arm64") != 0)
    return luaL_error(L, "use_target_arch: '%s' is not x86_64 or arm64", arch);
  if (setenv("ARCH", arch, 1))
    return lhelp_fail(L, errno, "ARCH: %s", strerror(errno));
  headers_ready = 0;
  lua_pushboolean(L, 1);
  return 1;
}

static int collect_cflags(lua_State *L, int opts, const char **cflags)
{
  int n = 0;
  if (lua_getfield(L, opts, "cflags") == LUA_TTABLE) {
    int len = (int)luaL_len(L, -1);
    luaL_argcheck(L, len <= MAX_CFLAGS, opts, "too many cflags");
    for (int i = 1; i <= len; i++) {
      lua_rawgeti(L, -1, i);
      cflags[n++] = luaL_checkstring(L, -1);
      lua_pop(L, 1); /* the string stays alive in the table */
    }
  }
  lua_pop(L, 1);
  return n;
}

/* Compile text with the plugin; on success the pack is filled. Pushes
 * nothing on success; on failure returns lhelp_fail's 3 results. */
static int compile_to_pack(lua_State *L, const char *text, int opts, struct pack *out)
{
  const char *cflags[MAX_CFLAGS];
  int ncflags = 0;
  unsigned flags = 0;
  if (opts) {
    ncflags = collect_cflags(L, opts, cflags);
    lua_getfield(L, opts, "debug");
    flags = (unsigned)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
  }
  char msg[1024];
  if (tracefs_ensure(msg, sizeof msg))
    return lhelp_fail(L, EPERM, "%s", msg);
  if (ensure_headers())
    return lhelp_fail(L, ENOENT, "%s", headers_err);
  compiler_fn compile = compiler_get(msg, sizeof msg);
  if (!compile)
    return lhelp_fail(L, ENOENT, "%s", msg);
  struct stderr_capture cap;
  lhelp_capture_start(&cap);
  int rc = compile(text, cflags, ncflags, flags, out, msg, sizeof msg);
  lhelp_capture_end(L, &cap);
  if (rc)
    return lhelp_fail(L, EINVAL, "%s", msg[0] ? msg : lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

static int core_compile(lua_State *L)
{
  const char *text = luaL_checkstring(L, 1);
  if (!lua_isnoneornil(L, 2))
    luaL_checktype(L, 2, LUA_TTABLE);
  int opts = lua_istable(L, 2) ? 2 : 0;
  struct pack p = {0};
  int n = compile_to_pack(L, text, opts, &p);
  return n ? n : lmodule_push(L, &p);
}

static uint64_t *int_array(lua_State *L, int opts, const char *field, uint32_t *n)
{
  *n = 0;
  if (!opts || lua_getfield(L, opts, field) != LUA_TTABLE) {
    if (opts)
      lua_pop(L, 1);
    return NULL;
  }
  lua_Unsigned len = lua_rawlen(L, -1);
  luaL_argcheck(L, len <= 65536, opts, "too many values");
  uint64_t *v = lua_newuserdatauv(L, (len + 1) * sizeof *v, 0);
  for (lua_Unsigned i = 0; i < len; i++) {
    lua_rawgeti(L, -2, (lua_Integer)i + 1);
    v[i] = (uint64_t)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  lua_remove(L, -2); /* the table; the userdata stays until the call returns */
  *n = (uint32_t)len;
  return v;
}

static char *opt_strdup(lua_State *L, int opts, const char *field)
{
  lua_getfield(L, opts, field);
  char *s = strdup(luaL_optstring(L, -1, ""));
  lua_pop(L, 1);
  return s;
}

/* Compile with sentinels in place of the run-time constants and record
 * where each sits; the values are patched in at load (vns.cache). */
static int core_compile_pack(lua_State *L)
{
  const char *text = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  uint32_t nsent;
  uint64_t *sentinels = int_array(L, 2, "sentinels", &nsent);
  struct pack p = {0};
  int n = compile_to_pack(L, text, 2, &p);
  if (n)
    return n;
  uint32_t bad;
  if (pack_bind(&p, sentinels, nsent, &bad)) {
    pack_free(&p);
    lua_pushnil(L);
    lua_pushfstring(L, "run-time constant #%d is not a single immediate in the compiled code",
                    (int)bad + 1);
    lua_pushstring(L, "unpatchable");
    return 3;
  }
  p.key = opt_strdup(L, 2, "key");
  p.about = opt_strdup(L, 2, "about");
  char *buf;
  size_t len;
  int rc = p.key && p.about ? pack_encode(&p, &buf, &len) : -1;
  pack_free(&p);
  if (rc)
    return luaL_error(L, "out of memory");
  lua_pushlstring(L, buf, len);
  free(buf);
  return 1;
}

static int decode_arg(lua_State *L, int idx, struct pack *p)
{
  size_t len;
  const char *bytes = luaL_checklstring(L, idx, &len);
  char err[256];
  if (pack_decode(bytes, len, p, err, sizeof err) == 0)
    return 0;
  lua_pushnil(L);
  lua_pushstring(L, err);
  lua_pushstring(L, "corrupt");
  return 3;
}

static int core_load_pack(lua_State *L)
{
  int opts = lua_istable(L, 2) ? 2 : 0;
  struct pack p = {0};
  int n = decode_arg(L, 1, &p);
  if (n)
    return n;
  const char *key = NULL;
  if (opts && lua_getfield(L, opts, "key") == LUA_TSTRING)
    key = lua_tostring(L, -1);
  if (key && strcmp(key, p.key) != 0) {
    pack_free(&p);
    lua_pushnil(L);
    lua_pushstring(L, "made for another program or kernel (key differs)");
    lua_pushstring(L, "key");
    return 3;
  }
  uint32_t nvalues;
  uint64_t *values = int_array(L, opts, "values", &nvalues);
  if (pack_patch(&p, values, nvalues)) {
    lua_pushnil(L);
    lua_pushfstring(L, "has %d run-time constants, %d given", (int)p.nvalues, (int)nvalues);
    lua_pushstring(L, "key");
    pack_free(&p);
    return 3;
  }
  return lmodule_push(L, &p);
}

static int core_pack_info(lua_State *L)
{
  struct pack p = {0};
  int n = decode_arg(L, 1, &p);
  if (n)
    return n;
  lua_createtable(L, 0, 5);
  lua_pushstring(L, p.key);
  lua_setfield(L, -2, "key");
  lua_pushstring(L, p.about);
  lua_setfield(L, -2, "about");
  lua_pushinteger(L, p.nvalues);
  lua_setfield(L, -2, "values");
  lua_pushinteger(L, p.nmaps);
  lua_setfield(L, -2, "maps");
  lmodule_push_function_names(L, &p);
  lua_setfield(L, -2, "functions");
  pack_free(&p);
  return 1;
}

static int core_compiler_identity(lua_State *L)
{
  lua_pushstring(L, compiler_identity());
  return 1;
}

static const luaL_Reg pack_funcs[] = {
  { "compile", core_compile },
  { "compile_pack", core_compile_pack },
  { "load_pack", core_load_pack },
  { "pack_info", core_pack_info },
  { "compiler_identity", core_compiler_identity },
  { "kheaders", core_kheaders },
  { "kheaders_identity", core_kheaders_identity },
  { "use_kernel_headers", core_use_kernel_headers },
  { "use_target_arch", core_use_target_arch },
  { NULL, NULL },
};

void lpack_register(lua_State *L)
{
  luaL_setfuncs(L, pack_funcs, 0);
}
