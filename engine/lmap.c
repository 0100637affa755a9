/* lmap: BPF maps with keys and values as Lua values, laid out from BCC's
 * type descriptions (kept in the program's pack). Per-CPU values come back as a 1-based array of
 * per-CPU values. Reads of whole maps use the batch syscalls where the
 * kernel has them (one syscall per chunk instead of two per entry). */
#include <bcc/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

#include "lhandles.h"
#include "lhelp.h"
#include "lmap.h"
#include "lstack.h"
#include "luatype.h"

#define MAP_MT "vns.map"

static struct td_type *parse_or_bytes(const char *desc, size_t size)
{
  char err[256];
  struct td_type *t = desc ? td_parse(desc, size, err, sizeof err) : NULL;
  if (!t) {
    t = calloc(1, sizeof *t);
    t->kind = TD_BYTES;
    t->size = size;
    t->align = 1;
  }
  return t;
}

static int is_percpu(int type)
{
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

int lmap_is_array(const struct vns_map *m)
{
  return m->type == BPF_MAP_TYPE_ARRAY || m->type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

void lmap_push(lua_State *L, int module_idx, size_t id)
{
  struct vns_module *mod = lmodule_check(L, module_idx);
  struct vns_map *m = lua_newuserdatauv(L, sizeof *m, 1);
  memset(m, 0, sizeof *m);
  const struct pack_map *pm = &mod->pack.maps[id];
  m->fd = mod->map_fds[id];
  m->type = (int)pm->type;
  m->max_entries = pm->max_entries;
  m->key_size = pm->key_size;
  m->leaf_size = pm->value_size;
  m->ncpus = is_percpu(m->type) ? lmap_possible_cpus() : 1;
  m->value_stride = is_percpu(m->type) ? (m->leaf_size + 7) & ~(size_t)7 : m->leaf_size;
  snprintf(m->name, sizeof m->name, "%s", pm->name);
  m->key = parse_or_bytes(pm->key_desc, m->key_size);
  m->leaf = parse_or_bytes(pm->leaf_desc, m->leaf_size);
  luaL_setmetatable(L, MAP_MT);
  lua_pushvalue(L, module_idx); /* the module owns the fd */
  lua_setiuservalue(L, -2, 1);
}

struct vns_map *lmap_check(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, MAP_MT);
}

static int map_release(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  td_free(m->key);
  td_free(m->leaf);
  m->key = m->leaf = NULL;
  return 0;
}

size_t lmap_value_bytes(const struct vns_map *m)
{
  return m->value_stride * (size_t)m->ncpus;
}

void lmap_push_value(lua_State *L, const struct vns_map *m, const void *value)
{
  if (m->ncpus == 1 && !is_percpu(m->type)) {
    luatype_push(L, m->leaf, value);
    return;
  }
  lua_createtable(L, m->ncpus, 0);
  for (int c = 0; c < m->ncpus; c++) {
    luatype_push(L, m->leaf, (const char *)value + (size_t)c * m->value_stride);
    lua_rawseti(L, -2, c + 1);
  }
}

/* Per-CPU maps take one value per possible CPU (a 1-based array of
 * ncpus values), or a single value that every CPU gets. */
static void check_value(lua_State *L, int idx, const struct vns_map *m, void *out)
{
  if (!is_percpu(m->type)) {
    luatype_check(L, idx, m->leaf, out);
    return;
  }
  int per_cpu = lua_istable(L, idx) && lua_rawlen(L, idx) == (lua_Unsigned)m->ncpus;
  for (int c = 0; c < m->ncpus; c++) {
    char *slot = (char *)out + (size_t)c * m->value_stride;
    if (!per_cpu) {
      luatype_check(L, idx, m->leaf, slot);
      continue;
    }
    lua_rawgeti(L, idx, c + 1);
    luatype_check(L, -1, m->leaf, slot);
    lua_pop(L, 1);
  }
}

static int map_lookup(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  void *key = lua_newuserdatauv(L, m->key_size, 0);
  void *value = lua_newuserdatauv(L, lmap_value_bytes(m), 0);
  luatype_check_path(L, 2, m->key, key, "key");
  if (bpf_lookup_elem(m->fd, key, value)) {
    lua_pushnil(L);
    return 1;
  }
  lmap_push_value(L, m, value);
  return 1;
}

static int map_update(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  void *key = lua_newuserdatauv(L, m->key_size, 0);
  void *value = lua_newuserdatauv(L, lmap_value_bytes(m), 0);
  luatype_check_path(L, 2, m->key, key, "key");
  check_value(L, 3, m, value);
  if (bpf_update_elem(m->fd, key, value, BPF_ANY))
    return lhelp_fail(L, errno, "map %s update: %s", m->name, strerror(errno));
  lua_pushboolean(L, 1);
  return 1;
}

static int map_delete(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  void *key = lua_newuserdatauv(L, m->key_size, 0);
  luatype_check_path(L, 2, m->key, key, "key");
  lua_pushboolean(L, bpf_delete_elem(m->fd, key) == 0);
  return 1;
}

static int map_info(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, m->name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, m->type);
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)m->key_size);
  lua_setfield(L, -2, "key_size");
  lua_pushinteger(L, (lua_Integer)m->leaf_size);
  lua_setfield(L, -2, "value_size");
  lua_pushinteger(L, (lua_Integer)m->max_entries);
  lua_setfield(L, -2, "max_entries");
  lua_pushinteger(L, m->fd);
  lua_setfield(L, -2, "fd");
  return 1;
}

/* map:stack(id [, pid]): one entry of a BPF_STACK_TRACE map, symbolized. */
static int map_stack(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  luaL_argcheck(L, m->type == BPF_MAP_TYPE_STACK_TRACE, 1, "not a stack-trace map");
  int id = (int)luaL_checkinteger(L, 2);
  int pid = (int)luaL_optinteger(L, 3, -1);
  if (id < 0) {
    lua_newtable(L); /* the program could not take a stack (e.g. -EFAULT) */
    return 1;
  }
  uint64_t *ips = calloc(1, m->leaf_size);
  if (!ips)
    return luaL_error(L, "out of memory");
  if (bpf_lookup_elem(m->fd, &id, ips)) {
    free(ips);
    return lhelp_fail(L, errno, "stack %d in map %s: %s", id, m->name, strerror(errno));
  }
  lstack_push_frames(L, ips, m->leaf_size / sizeof *ips, pid);
  free(ips);
  return 1;
}

static const luaL_Reg map_methods[] = {
  { "lookup", map_lookup },
  { "update", map_update },
  { "delete", map_delete },
  { "info", map_info },
  { "items", lmapiter_items },
  { "entries", lmapiter_entries },
  { "drain", lmapiter_drain },
  { "clear", lmapiter_clear },
  { "count", lmapiter_count },
  { "stack", map_stack },
  { NULL, NULL },
};

void lmap_register(lua_State *L)
{
  lhelp_newclass(L, MAP_MT, map_methods, map_release);
}
