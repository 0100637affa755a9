/* lmapiter: whole-map reads.
 *   for key, value in map:items() do ... end   (a snapshot)
 *   map:drain()  -> {{key, value}, ...} read and removed (arrays: zeroed)
 *   map:clear(), map:count()
 * Batch syscalls first; the key walk serves kernels and map types
 * without them. */
#include <bcc/libbpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

#include "lhelp.h"
#include "lmap.h"
#include "luatype.h"

struct snapshot {
  char *keys, *values;
  size_t n, cap;
};

int lmap_possible_cpus(void)
{
  int n = libbpf_num_possible_cpus();
  return n > 0 ? n : 1;
}

static int snapshot_reserve(struct snapshot *s, const struct vns_map *m, size_t more)
{
  if (s->n + more <= s->cap)
    return 0;
  size_t cap = s->cap ? s->cap : 64;
  while (cap < s->n + more)
    cap *= 2;
  char *k = realloc(s->keys, cap * m->key_size);
  if (!k)
    return -ENOMEM;
  s->keys = k;
  char *v = realloc(s->values, cap * lmap_value_bytes(m));
  if (!v)
    return -ENOMEM;
  s->values = v;
  s->cap = cap;
  return 0;
}

/* Returns 0, -EOPNOTSUPP when batches are not available here, or -errno. */
static int read_batches(const struct vns_map *m, struct snapshot *s, int and_delete)
{
  __u32 in = 0, out = 0, chunk = 256;
  int first = 1;
  for (;;) {
    if (snapshot_reserve(s, m, chunk))
      return -ENOMEM;
    __u32 count = chunk;
    char *k = s->keys + s->n * m->key_size, *v = s->values + s->n * lmap_value_bytes(m);
    int ret = and_delete ? bpf_lookup_and_delete_batch(m->fd, first ? NULL : &in, &out, k, v, &count)
                         : bpf_lookup_batch(m->fd, first ? NULL : &in, &out, k, v, &count);
    int err = ret ? errno : 0;
    if (ret && err == ENOSPC && count == 0) {
      chunk *= 2; /* a hash bucket larger than the chunk */
      continue;
    }
    if (ret && err != ENOENT)
      return first && s->n == 0 ? -EOPNOTSUPP : -err;
    s->n += count;
    if (ret)
      return 0;
    in = out;
    first = 0;
  }
}

/* Keys removed while we walk make the kernel restart from the first key;
 * the bound keeps such a walk finite. */
static int read_walk(const struct vns_map *m, struct snapshot *s)
{
  char *prev = malloc(m->key_size);
  int have_prev = 0, err = prev ? 0 : -ENOMEM;
  for (size_t steps = 0; prev && steps <= 2 * m->max_entries + 1; steps++) {
    if ((err = snapshot_reserve(s, m, 1)))
      break;
    char *k = s->keys + s->n * m->key_size;
    if (bpf_get_next_key(m->fd, have_prev ? prev : NULL, k)) {
      err = errno == ENOENT ? 0 : -errno;
      break;
    }
    memcpy(prev, k, m->key_size);
    have_prev = 1;
    if (bpf_lookup_elem(m->fd, k, s->values + s->n * lmap_value_bytes(m)) == 0)
      s->n++;
  }
  free(prev);
  return err;
}

static void remove_entries(const struct vns_map *m, struct snapshot *s)
{
  char *zero = calloc(1, lmap_value_bytes(m));
  for (size_t i = 0; i < s->n; i++) {
    char *k = s->keys + i * m->key_size;
    if (lmap_is_array(m))
      bpf_update_elem(m->fd, k, zero, BPF_ANY);
    else
      bpf_delete_elem(m->fd, k);
  }
  free(zero);
}

static int snapshot_read(const struct vns_map *m, struct snapshot *s, int and_delete)
{
  int batch_delete = and_delete && !lmap_is_array(m);
  int err = m->type == BPF_MAP_TYPE_STACK_TRACE ? -EOPNOTSUPP : read_batches(m, s, batch_delete);
  if (err == -EOPNOTSUPP) {
    s->n = 0;
    err = read_walk(m, s);
    batch_delete = 0;
  }
  if (!err && and_delete && !batch_delete)
    remove_entries(m, s);
  return err;
}

static void push_snapshot(lua_State *L, const struct vns_map *m, const struct snapshot *s)
{
  lua_createtable(L, (int)s->n, 0);
  for (size_t i = 0; i < s->n; i++) {
    lua_createtable(L, 2, 0);
    luatype_push(L, m->key, s->keys + i * m->key_size);
    lua_rawseti(L, -2, 1);
    lmap_push_value(L, m, s->values + i * lmap_value_bytes(m));
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int snapshot_to_lua(lua_State *L, int and_delete)
{
  struct vns_map *m = lmap_check(L, 1);
  struct snapshot s = { 0 };
  int err = snapshot_read(m, &s, and_delete);
  if (!err)
    push_snapshot(L, m, &s);
  free(s.keys);
  free(s.values);
  if (err)
    return lhelp_fail(L, -err, "map %s read: %s", m->name, strerror(-err));
  return 1;
}

int lmapiter_entries(lua_State *L)
{
  return snapshot_to_lua(L, 0);
}

int lmapiter_drain(lua_State *L)
{
  return snapshot_to_lua(L, 1);
}

static int items_next(lua_State *L)
{
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2)) + 1;
  lua_pushinteger(L, i);
  lua_replace(L, lua_upvalueindex(2));
  if (lua_rawgeti(L, lua_upvalueindex(1), i) != LUA_TTABLE)
    return 0;
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  return 2;
}

int lmapiter_items(lua_State *L)
{
  if (snapshot_to_lua(L, 0) != 1)
    return luaL_error(L, "%s", lua_tostring(L, -2));
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, items_next, 2);
  return 1;
}

int lmapiter_clear(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  struct snapshot s = { 0 };
  int err = snapshot_read(m, &s, 1);
  free(s.keys);
  free(s.values);
  if (err)
    return lhelp_fail(L, -err, "map %s clear: %s", m->name, strerror(-err));
  lua_pushboolean(L, 1);
  return 1;
}

int lmapiter_count(lua_State *L)
{
  struct vns_map *m = lmap_check(L, 1);
  struct snapshot s = { 0 };
  int err = read_walk(m, &s);
  free(s.keys);
  free(s.values);
  if (err)
    return lhelp_fail(L, -err, "map %s count: %s", m->name, strerror(-err));
  lua_pushinteger(L, (lua_Integer)s.n);
  return 1;
}
