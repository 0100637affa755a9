/* lstack: addresses resolved to symbol+offset with BCC's symbol caches
 * (one for the kernel, one per traced process); map:stack (lmap.c)
 * pushes its frames through here.
 *   core.ksym(addr)       -> sym, offset, module | nil */
#include <bcc/bcc_syms.h>
#include <lauxlib.h>
#include <string.h>

#include "lstack.h"

#define USER_CACHES 32

static void *kernel_cache;
static struct {
  int pid;
  void *cache;
} user_caches[USER_CACHES];
static unsigned next_user_slot;

static void *symcache_for(int pid)
{
  if (pid < 0) {
    if (!kernel_cache)
      kernel_cache = bcc_symcache_new(-1, NULL);
    return kernel_cache;
  }
  for (unsigned i = 0; i < USER_CACHES; i++)
    if (user_caches[i].cache && user_caches[i].pid == pid)
      return user_caches[i].cache;
  unsigned slot = next_user_slot++ % USER_CACHES;
  if (user_caches[slot].cache)
    bcc_free_symcache(user_caches[slot].cache, user_caches[slot].pid);
  user_caches[slot].pid = pid;
  user_caches[slot].cache = bcc_symcache_new(pid, NULL);
  return user_caches[slot].cache;
}

/* Push {addr, sym, offset, module}; sym is "[unknown]" when unresolved. */
static void push_frame(lua_State *L, void *cache, int pid, uint64_t addr)
{
  struct bcc_symbol sym;
  memset(&sym, 0, sizeof sym);
  int ok = cache && (pid < 0 ? bcc_symcache_resolve_no_demangle(cache, addr, &sym)
                             : bcc_symcache_resolve(cache, addr, &sym)) == 0;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)addr);
  lua_setfield(L, -2, "addr");
  lua_pushstring(L, ok && sym.demangle_name ? sym.demangle_name : ok && sym.name ? sym.name : "[unknown]");
  lua_setfield(L, -2, "sym");
  lua_pushinteger(L, ok ? (lua_Integer)sym.offset : 0);
  lua_setfield(L, -2, "offset");
  if (ok && sym.module) {
    lua_pushstring(L, sym.module);
    lua_setfield(L, -2, "module");
  }
  if (ok && pid >= 0)
    bcc_symbol_free_demangle_name(&sym);
}

void lstack_push_frames(lua_State *L, const uint64_t *ips, size_t max, int pid)
{
  void *cache = symcache_for(pid);
  lua_createtable(L, 16, 0);
  for (size_t i = 0; i < max && ips[i]; i++) {
    push_frame(L, cache, pid, ips[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int core_ksym(lua_State *L)
{
  uint64_t addr = (uint64_t)luaL_checkinteger(L, 1);
  struct bcc_symbol sym;
  void *cache = symcache_for(-1);
  if (!cache || bcc_symcache_resolve_no_demangle(cache, addr, &sym)) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushstring(L, sym.name);
  lua_pushinteger(L, (lua_Integer)sym.offset);
  lua_pushstring(L, sym.module ? sym.module : "kernel");
  return 3;
}

void lstack_register(lua_State *L)
{
  lua_pushcfunction(L, core_ksym);
  lua_setfield(L, -2, "ksym");
}
