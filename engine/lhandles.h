/* lhandles: the userdata types shared between the engine's Lua files.
 * Each type's metatable is built and its methods listed by the one file
 * that owns it (module: lmodule.c, prog and link: lprog.c, map: lmap.c,
 * buffer: lbuffer.c); the metatable names stay private to that file.
 * Other files construct or take a handle only through the functions
 * below. */
#ifndef VNS_LHANDLES_H
#define VNS_LHANDLES_H

#include <lua.h>

#include "pack.h"

/* A compiled program (a pack) with its maps created: owns the map fds. */
struct vns_module {
  struct pack pack;
  int *map_fds;   /* one per pack map */
  int open;
};

/* A program loaded into the kernel. */
struct vns_prog {
  int fd;
  int prog_type;
  char name[128];
};

struct vns_module *lmodule_check(lua_State *L, int idx);

/* Push a module taking ownership of *p (zeroed), with its maps created;
 * returns 1, or lhelp_fail's 3 results when a map cannot be created. */
int lmodule_push(lua_State *L, struct pack *p);

/* Push the names of p's functions as a 1-based array. */
void lmodule_push_function_names(lua_State *L, const struct pack *p);

/* The index of the map named name in the module, or -1. */
int lmodule_map_index(const struct vns_module *m, const char *name);

/* Push a map handle for table `id` of the module at module_idx. */
void lmap_push(lua_State *L, int module_idx, size_t id);

/* Push a closed program handle (fd -1) for the loader to fill in; its
 * user value 1 is free for what must outlive it. */
struct vns_prog *lprog_new(lua_State *L);

/* mod:perf_buffer(map, fn [, opts]) and mod:ring_buffer(map, fn [, opts])
 * (lbuffer.c): methods of the module class, listed by lmodule.c. */
int lbuffer_perf_buffer(lua_State *L);
int lbuffer_ring_buffer(lua_State *L);

/* Wake core.poll when fd is readable too (lhttp.c's listening socket). */
void lbuffer_watch_fd(int fd);

#endif
