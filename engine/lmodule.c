/* lmodule: compiled programs (packs) and their maps; load functions.
 *   core.compile(text, {cflags, debug}) -> module       compile and create the maps
 *   core.compile_pack(text, {cflags, debug, key, about, sentinels}) -> bytes
 *   core.load_pack(bytes, {key, values}) -> module      no compiler involved
 *   core.pack_info(bytes) -> {key, about, slots, functions, maps}
 * Compiling goes through vnetscope-bcc.so (engine/compiler.h). */
#include <bcc/libbpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
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
    return lcore_fail(L, errno, "BCC_KERNEL_SOURCE: %s", strerror(errno));
  headers_ready = 0;
  lua_pushboolean(L, 1);
  return 1;
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

/* Compile text with the plugin; on success the pack is filled. Pushes
 * nothing on success; on failure returns lcore_fail's 3 results. */
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
    return lcore_fail(L, EPERM, "%s", msg);
  if (ensure_headers())
    return lcore_fail(L, ENOENT, "%s", headers_err);
  compiler_fn compile = compiler_get(msg, sizeof msg);
  if (!compile)
    return lcore_fail(L, ENOENT, "%s", msg);
  struct stderr_capture cap;
  capture_start(&cap);
  int rc = compile(text, cflags, ncflags, flags, out, msg, sizeof msg);
  capture_end(L, &cap);
  if (rc)
    return lcore_fail(L, EINVAL, "%s", msg[0] ? msg : lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

static void module_close_maps(struct vns_module *m)
{
  for (uint32_t i = 0; m->map_fds && i < m->pack.nmaps; i++)
    if (m->map_fds[i] >= 0)
      close(m->map_fds[i]);
  free(m->map_fds);
  m->map_fds = NULL;
}

/* Perf event arrays have a slot per possible CPU of this machine, which
 * may not be the machine the program was compiled on. */
static uint32_t map_size(const struct pack_map *pm)
{
  int ncpus = libbpf_num_possible_cpus();
  if (pm->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && ncpus > 0 && pm->max_entries < (uint32_t)ncpus)
    return (uint32_t)ncpus;
  return pm->max_entries;
}

/* A module userdata taking ownership of *p; its maps are created. */
static int push_module(lua_State *L, struct pack *p)
{
  struct vns_module *m = lua_newuserdatauv(L, sizeof *m, 0);
  memset(m, 0, sizeof *m);
  m->pack = *p;
  memset(p, 0, sizeof *p);
  luaL_setmetatable(L, MODULE_MT);
  m->map_fds = malloc((m->pack.nmaps + 1) * sizeof *m->map_fds);
  if (!m->map_fds)
    return luaL_error(L, "out of memory");
  for (uint32_t i = 0; i < m->pack.nmaps; i++)
    m->map_fds[i] = -1;
  m->open = 1;
  for (uint32_t i = 0; i < m->pack.nmaps; i++) {
    struct pack_map *pm = &m->pack.maps[i];
    pm->max_entries = map_size(pm);
    m->map_fds[i] = bcc_create_map(pm->type, pm->name, (int)pm->key_size, (int)pm->value_size,
                                   (int)pm->max_entries, (int)pm->flags);
    if (m->map_fds[i] < 0) {
      int err = errno;
      module_close_maps(m);
      m->open = 0;
      return lcore_fail(L, err, "create map %s: %s", pm->name, strerror(err));
    }
  }
  return 1;
}

static int core_compile(lua_State *L)
{
  const char *text = luaL_checkstring(L, 1);
  int opts = lua_istable(L, 2) ? 2 : 0;
  struct pack p = {0};
  int n = compile_to_pack(L, text, opts, &p);
  return n ? n : push_module(L, &p);
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
    lua_pushfstring(L, "has %d run-time constants, %d given", (int)p.nslots, (int)nvalues);
    lua_pushstring(L, "key");
    pack_free(&p);
    return 3;
  }
  return push_module(L, &p);
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
  lua_pushinteger(L, p.nslots);
  lua_setfield(L, -2, "slots");
  lua_pushinteger(L, p.nmaps);
  lua_setfield(L, -2, "maps");
  lua_createtable(L, (int)p.nfuncs, 0);
  for (uint32_t i = 0; i < p.nfuncs; i++) {
    lua_pushstring(L, p.funcs[i].name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "functions");
  pack_free(&p);
  return 1;
}

static int core_compiler_identity(lua_State *L)
{
  lua_pushstring(L, compiler_identity());
  return 1;
}

struct vns_module *lmodule_check(lua_State *L, int idx)
{
  struct vns_module *m = luaL_checkudata(L, idx, MODULE_MT);
  luaL_argcheck(L, m->open, idx, "module is closed");
  return m;
}

int lmodule_map_index(const struct vns_module *m, const char *name)
{
  for (uint32_t i = 0; i < m->pack.nmaps; i++)
    if (strcmp(m->pack.maps[i].name, name) == 0)
      return (int)i;
  return -1;
}

static const struct pack_func *find_func(lua_State *L, struct vns_module *m, const char *fn)
{
  for (uint32_t i = 0; i < m->pack.nfuncs; i++)
    if (strcmp(m->pack.funcs[i].name, fn) == 0)
      return &m->pack.funcs[i];
  luaL_error(L, "no function named '%s' in this program", fn);
  return NULL;
}

static int module_release(lua_State *L)
{
  struct vns_module *m = luaL_checkudata(L, 1, MODULE_MT);
  module_close_maps(m);
  pack_free(&m->pack);
  m->open = 0;
  return 0;
}

static int module_functions(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  lua_createtable(L, (int)m->pack.nfuncs, 0);
  for (uint32_t i = 0; i < m->pack.nfuncs; i++) {
    lua_pushstring(L, m->pack.funcs[i].name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int module_tables(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  lua_createtable(L, (int)m->pack.nmaps, 0);
  for (uint32_t i = 0; i < m->pack.nmaps; i++) {
    lua_pushstring(L, m->pack.maps[i].name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int module_table(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *name = luaL_checkstring(L, 2);
  int id = lmodule_map_index(m, name);
  if (id < 0)
    return luaL_error(L, "no map named '%s' in this program", name);
  lmap_push(L, 1, (size_t)id);
  return 1;
}

/* The instructions as compiled (run-time constants patched, map
 * references not yet: their imm is 0 until load). */
static int module_insn_count(lua_State *L)
{
  const struct pack_func *f = find_func(L, lmodule_check(L, 1), luaL_checkstring(L, 2));
  lua_pushinteger(L, f->ninsns);
  return 1;
}

static int module_insns(lua_State *L)
{
  const struct pack_func *f = find_func(L, lmodule_check(L, 1), luaL_checkstring(L, 2));
  lua_pushlstring(L, (const char *)f->insns, f->ninsns * sizeof *f->insns);
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

/* BCC picks bpf_probe_read_{kernel,user}[_str] when the compiling host
 * has them (5.5+); a kernel without them gets the older helpers, which
 * read both kinds of memory there. */
static void downgrade_probe_read(struct bpf_insn *insns, uint32_t n, int prog_type)
{
  static int has_new = -1;
  for (uint32_t i = 0; i < n; i++) {
    int imm = insns[i].imm;
    if (insns[i].code != (BPF_JMP | BPF_CALL) || insns[i].src_reg != 0 ||
        imm < BPF_FUNC_probe_read_user || imm > BPF_FUNC_probe_read_kernel_str)
      continue;
    if (has_new < 0)
      has_new = libbpf_probe_bpf_helper(prog_type, BPF_FUNC_probe_read_kernel, NULL) > 0;
    if (has_new)
      return;
    int is_str = imm == BPF_FUNC_probe_read_user_str || imm == BPF_FUNC_probe_read_kernel_str;
    insns[i].imm = is_str ? BPF_FUNC_probe_read_str : BPF_FUNC_probe_read;
  }
}

static int module_load(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *fn = luaL_checkstring(L, 2);
  const char *type_name = luaL_checkstring(L, 3);
  int type = lprog_type_by_name(type_name);
  luaL_argcheck(L, type >= 0, 3, "unknown program type");
  const struct pack_func *f = find_func(L, m, fn);
  size_t size = f->ninsns * sizeof *f->insns;
  struct bpf_insn *insns = lua_newuserdatauv(L, size ? size : 1, 0);
  memcpy(insns, f->insns, size);
  for (uint32_t i = 0; i < f->nrelocs; i++)
    insns[f->relocs[i].insn].imm = m->map_fds[f->relocs[i].map];
  downgrade_probe_read(insns, f->ninsns, type);
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
  int fd = bcc_prog_load(type, fn, insns, (int)size, m->pack.license, m->pack.kern_version, 0, log,
                         VERIFIER_LOG_SIZE);
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
  { "insns", module_insns },
  { "load", module_load },
  { "close", module_release },
  { NULL, NULL },
};

static const luaL_Reg module_funcs[] = {
  { "compile", core_compile },
  { "compile_pack", core_compile_pack },
  { "load_pack", core_load_pack },
  { "pack_info", core_pack_info },
  { "compiler_identity", core_compiler_identity },
  { "kheaders", core_kheaders },
  { "kheaders_identity", core_kheaders_identity },
  { "use_kernel_headers", core_use_kernel_headers },
  { NULL, NULL },
};

void lmodule_register(lua_State *L)
{
  lcore_newclass(L, MODULE_MT, module_methods, module_release);
  luaL_setfuncs(L, module_funcs, 0);
}
