/* lmodule: compile BPF C with BCC and load its functions.
 * core.compile(text, {cflags = {...}}) -> module | nil, message, code */
#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kheaders.h"
#include "lcore.h"
#include "lhandles.h"
#include "tracefs.h"

#define MAX_CFLAGS 64
#define VERIFIER_LOG_SIZE (4u << 20)

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
    return lcore_fail(L, ENOENT, "%s", headers_err);
  lua_pushstring(L, kheaders_kind_name(headers.kind));
  lua_pushstring(L, headers.dir);
  return 2;
}

/* clang writes diagnostics to fd 2; capture them to hand back to Lua. */
struct stderr_capture {
  int saved;
  FILE *tmp;
};

static void capture_start(struct stderr_capture *c)
{
  fflush(stderr);
  c->tmp = tmpfile();
  c->saved = c->tmp ? dup(2) : -1;
  if (c->saved >= 0)
    dup2(fileno(c->tmp), 2);
}

static void capture_end(lua_State *L, struct stderr_capture *c)
{
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (c->saved >= 0) {
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    rewind(c->tmp);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, c->tmp)) > 0)
      luaL_addlstring(&b, chunk, n);
  }
  if (c->tmp)
    fclose(c->tmp);
  luaL_pushresult(&b);
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

static int core_compile(lua_State *L)
{
  const char *text = luaL_checkstring(L, 1);
  int opts = lua_gettop(L) >= 2 ? 2 : 0;
  const char *cflags[MAX_CFLAGS];
  int ncflags = 0;
  unsigned flags = 0;
  if (opts) {
    luaL_checktype(L, 2, LUA_TTABLE);
    ncflags = collect_cflags(L, opts, cflags);
    lua_getfield(L, opts, "debug");
    flags = (unsigned)luaL_optinteger(L, -1, 0);
    lua_pop(L, 1);
  }
  char msg[256];
  if (tracefs_ensure(msg, sizeof msg))
    return lcore_fail(L, EPERM, "%s", msg);
  if (ensure_headers())
    return lcore_fail(L, ENOENT, "%s", headers_err);

  struct vns_module *m = lua_newuserdatauv(L, sizeof *m, 0);
  m->bpf = NULL;
  luaL_setmetatable(L, MODULE_MT);
  struct stderr_capture cap;
  capture_start(&cap);
  m->bpf = bpf_module_create_c_from_string(text, flags, cflags, ncflags, true, NULL);
  capture_end(L, &cap);
  if (!m->bpf)
    return lcore_fail(L, EINVAL, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 1;
}

struct vns_module *lmodule_check(lua_State *L, int idx)
{
  struct vns_module *m = luaL_checkudata(L, idx, MODULE_MT);
  luaL_argcheck(L, m->bpf != NULL, idx, "module is closed");
  return m;
}

static int module_release(lua_State *L)
{
  struct vns_module *m = luaL_checkudata(L, 1, MODULE_MT);
  if (m->bpf)
    bpf_module_destroy(m->bpf);
  m->bpf = NULL;
  return 0;
}

static int push_names(lua_State *L, size_t n, const char *(*name_at)(void *, size_t), void *bpf)
{
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, name_at(bpf, i));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int module_functions(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  return push_names(L, bpf_num_functions(m->bpf), bpf_function_name, m->bpf);
}

static int module_tables(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  return push_names(L, bpf_num_tables(m->bpf), bpf_table_name, m->bpf);
}

static int module_table(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *name = luaL_checkstring(L, 2);
  size_t id = bpf_table_id(m->bpf, name);
  if (id >= bpf_num_tables(m->bpf))
    return luaL_error(L, "no map named '%s' in this program", name);
  lmap_push(L, 1, id);
  return 1;
}

/* The instructions BCC produced, before the kernel sees them. */
static int module_insn_count(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *fn = luaL_checkstring(L, 2);
  if (!bpf_function_start(m->bpf, fn))
    return luaL_error(L, "no function named '%s' in this program", fn);
  lua_pushinteger(L, (lua_Integer)(bpf_function_size(m->bpf, fn) / 8));
  return 1;
}

static void push_verifier_failure(lua_State *L, const char *fn, int err, const char *log)
{
  /* The useful part of a verifier log is its tail. */
  size_t len = strlen(log);
  const char *tail = len > 3000 ? log + len - 3000 : log;
  lua_pushnil(L);
  const char *what = err == EACCES || err == EINVAL ? "rejected by the verifier" : "cannot load";
  lua_pushfstring(L, "load %s: %s (%s)%s%s", fn, what, strerror(err), *tail ? "\n" : "", tail);
  lua_pushinteger(L, err);
}

static int module_load(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *fn = luaL_checkstring(L, 2);
  const char *type_name = luaL_checkstring(L, 3);
  int type = lprog_type_by_name(type_name);
  luaL_argcheck(L, type >= 0, 3, "unknown program type");
  void *insns = bpf_function_start(m->bpf, fn);
  if (!insns)
    return luaL_error(L, "no function named '%s' in this program", fn);
  int size = (int)bpf_function_size(m->bpf, fn);
  char *log = calloc(1, VERIFIER_LOG_SIZE);
  if (!log)
    return luaL_error(L, "out of memory");
  struct vns_prog *p = lua_newuserdatauv(L, sizeof *p, 1);
  p->fd = -1;
  luaL_setmetatable(L, PROG_MT);
  /* On failure BCC loads again with a log and prints it; capture that
   * so the verifier's words come back once, inside the error. */
  struct stderr_capture cap;
  capture_start(&cap);
  errno = 0;
  int fd = bcc_func_load(m->bpf, type, fn, insns, size, bpf_module_license(m->bpf),
                         bpf_module_kern_version(m->bpf), 0, log, VERIFIER_LOG_SIZE, NULL, -1);
  int err = errno ? errno : EINVAL;
  capture_end(L, &cap);
  if (fd < 0) {
    push_verifier_failure(L, fn, err, *log ? log : lua_tostring(L, -1));
    free(log);
    return 3;
  }
  lua_pop(L, 1);
  free(log);
  p->fd = fd;
  p->prog_type = type;
  snprintf(p->name, sizeof p->name, "%s", fn);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static const luaL_Reg module_methods[] = {
  { "functions", module_functions },
  { "tables", module_tables },
  { "table", module_table },
  { "insn_count", module_insn_count },
  { "load", module_load },
  { "close", module_release },
  { NULL, NULL },
};

static const luaL_Reg module_funcs[] = {
  { "compile", core_compile },
  { "kheaders", core_kheaders },
  { NULL, NULL },
};

void lmodule_register(lua_State *L)
{
  lcore_newclass(L, MODULE_MT, module_methods, module_release);
  luaL_setfuncs(L, module_funcs, 0);
}
