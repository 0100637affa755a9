/* fuzz_lua: libFuzzer harness for the stdlib's Lua parsers. It loads
 * the driver FUZZ_DRIVER (tests/fuzz/lua_<name>.lua, which returns a
 * function of the input) in an embedded Lua 5.4 and calls it on every
 * input; an error out of the driver is a bug and aborts. The Lua code is
 * not compiled with coverage, so a line hook feeds libFuzzer the
 * (function, previous line, line) edges it runs through its extra
 * counters: new Lua paths count as new coverage. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((used, section("__libfuzzer_extra_counters")))
static uint8_t lua_edges[1 << 12];

/* Lua itself is not instrumented: ASan's fill of each new block and its
 * quarantine of freed ones only cost time in its allocations. */
const char *__asan_default_options(void)
{
  return "max_malloc_fill_size=0:quarantine_size_mb=8";
}

static lua_State *L;
static int driver_ref;

static void line_hook(lua_State *l, lua_Debug *ar)
{
  static uintptr_t prev;
  lua_getinfo(l, "S", ar);
  uintptr_t here = (uintptr_t)ar->source * 31 + (uintptr_t)ar->currentline * 2654435761u;
  lua_edges[(here ^ (prev >> 1)) & (sizeof lua_edges - 1)]++;
  prev = here;
}

/* `require "vns.core"` gets what the parsers use of it: share_dir. */
static int core_stub(lua_State *l)
{
  lua_newtable(l);
  lua_pushstring(l, FUZZ_SOURCE_DIR);
  lua_setfield(l, -2, "share_dir");
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, core_stub);
  lua_setfield(L, -2, "vns.core");
  lua_pop(L, 1);
  if (luaL_dostring(L, "package.path = '" FUZZ_SOURCE_DIR "/stdlib/?.lua;"
                       FUZZ_SOURCE_DIR "/tests/fuzz/?.lua'") ||
      luaL_dofile(L, FUZZ_SOURCE_DIR "/tests/fuzz/" FUZZ_DRIVER)) {
    fprintf(stderr, "fuzz_lua: %s\n", lua_tostring(L, -1));
    abort();
  }
  driver_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  lua_rawgeti(L, LUA_REGISTRYINDEX, driver_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_lua: %s\n", lua_tostring(L, -1));
    abort();
  }
  return 0;
}
