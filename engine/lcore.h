/* lcore: the `vns.core` Lua module, the engine's only face to Lua.
 * Each l*.c file contributes its functions and handle metatables. */
#ifndef VNS_LCORE_H
#define VNS_LCORE_H

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

int luaopen_vns_core(lua_State *L);

/* Per-file registration: add functions to the table on top of the stack
 * and create the file's metatables. */
void lsys_register(lua_State *L);
void lmodule_register(lua_State *L);
void lpack_register(lua_State *L);
void lprog_register(lua_State *L);
void lmap_register(lua_State *L);
void lstack_register(lua_State *L);
void lbuffer_register(lua_State *L);
void lfeatures_register(lua_State *L);
void lqdisc_register(lua_State *L);

/* Create a metatable named tname whose __index is itself, with methods
 * and the shared __gc/__close release function. */
void lcore_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction release);

/* Return nil, message, code: the environment-failure convention. */
int lcore_fail(lua_State *L, int code, const char *fmt, ...);

/* clang and BCC write messages to fd 2: capture them between start and
 * end, which pushes what was written as a string. */
struct stderr_capture {
  int saved;
  FILE *tmp;
};
void lcore_capture_start(struct stderr_capture *c);
void lcore_capture_end(lua_State *L, struct stderr_capture *c);

#endif
