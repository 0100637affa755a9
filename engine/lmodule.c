/* lmodule: a compiled program (a pack) with its maps created, and the
 * loading of its functions into the kernel. */
#include <bcc/libbpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lhandles.h"
#include "lhelp.h"
#include "probe.h"

#define MODULE_MT "vns.module"
#define VERIFIER_LOG_SIZE (4u << 20)

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

int lmodule_push(lua_State *L, struct pack *p)
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
      return lhelp_fail(L, err, "create map %s: %s", pm->name, strerror(err));
    }
  }
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

void lmodule_push_function_names(lua_State *L, const struct pack *p)
{
  lua_createtable(L, (int)p->nfuncs, 0);
  for (uint32_t i = 0; i < p->nfuncs; i++) {
    lua_pushstring(L, p->funcs[i].name);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int module_functions(lua_State *L)
{
  lmodule_push_function_names(L, &lmodule_check(L, 1)->pack);
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
  int type = probe_prog_type(type_name);
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
  struct vns_prog *p = lprog_new(L);
  /* On failure BCC loads again with a log and prints it; capture that
   * so the verifier's words come back once, inside the error. */
  struct stderr_capture cap;
  lhelp_capture_start(&cap);
  errno = 0;
  int fd = bcc_prog_load(type, fn, insns, (int)size, m->pack.license, m->pack.kern_version, 0, log,
                         VERIFIER_LOG_SIZE);
  int err = errno ? errno : EINVAL;
  lhelp_capture_end(L, &cap);
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
  { "perf_buffer", lbuffer_perf_buffer },
  { "ring_buffer", lbuffer_ring_buffer },
  { "close", module_release },
  { NULL, NULL },
};

void lmodule_register(lua_State *L)
{
  lhelp_newclass(L, MODULE_MT, module_methods, module_release);
}
