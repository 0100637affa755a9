/* lhelp: what every engine Lua file shares (as lauxlib.c is for Lua's
 * libraries): handle classes, the failure convention, stderr capture.
 * It knows no engine file; the list of files is linit.c's job. */
#ifndef VNS_LHELP_H
#define VNS_LHELP_H

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

/* Create a metatable named tname whose __index is itself, with methods
 * and the shared __gc/__close release function. Call it once, from the
 * file that owns the type. */
void lhelp_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction release);

/* Return nil, message, code: the environment-failure convention. */
int lhelp_fail(lua_State *L, int code, const char *fmt, ...);

/* clang and BCC write messages to fd 2: capture them between start and
 * end, which pushes what was written as a string. */
struct stderr_capture {
  int saved;
  FILE *tmp;
};
void lhelp_capture_start(struct stderr_capture *c);
void lhelp_capture_end(lua_State *L, struct stderr_capture *c);

#endif
