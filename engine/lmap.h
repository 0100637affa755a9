/* lmap: internal interface shared by lmap.c and lmapiter.c. */
#ifndef VNS_LMAP_H
#define VNS_LMAP_H

#include <lua.h>
#include <stddef.h>

#include "typedesc.h"

struct vns_map {
  int fd;
  int type;
  int ncpus;               /* values per key: possible CPUs for per-CPU maps, else 1 */
  size_t key_size, leaf_size, value_stride, max_entries;
  struct td_type *key, *leaf;
  char name[64];
};

struct vns_map *lmap_check(lua_State *L, int idx);
int lmap_is_array(const struct vns_map *m);
size_t lmap_value_bytes(const struct vns_map *m);
void lmap_push_value(lua_State *L, const struct vns_map *m, const void *value);
int lmap_possible_cpus(void);

/* Whole-map reads (lmapiter.c), methods of the map class that lmap.c
 * lists: items(), entries(), drain(), clear(), count(). */
int lmapiter_items(lua_State *L);
int lmapiter_entries(lua_State *L);
int lmapiter_drain(lua_State *L);
int lmapiter_clear(lua_State *L);
int lmapiter_count(lua_State *L);

#endif
