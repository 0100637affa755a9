#include "lhelp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void lhelp_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, lua_CFunction release)
{
  luaL_newmetatable(L, tname);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  if (methods)
    luaL_setfuncs(L, methods, 0);
  if (release) {
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, release);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
}

int lhelp_fail(lua_State *L, int code, const char *fmt, ...)
{
  va_list ap;
  lua_pushnil(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushinteger(L, code);
  return 3;
}

/* The capture under way, if any. LLVM ends the process with exit(1) on
 * some errors (a BPF stack over 512 bytes) while fd 2 is captured: give
 * the user its message instead of a silent exit. */
static struct stderr_capture *active;

static void capture_at_exit(void)
{
  struct stderr_capture *c = active;
  if (!c || c->saved < 0)
    return;
  active = NULL;
  fflush(stderr);
  dup2(c->saved, 2);
  rewind(c->tmp);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, c->tmp)) > 0)
    fwrite(chunk, 1, n, stderr);
  fprintf(stderr, "vnetscope: the BPF compiler (LLVM) ended the program with the message above\n");
}

void lhelp_capture_start(struct stderr_capture *c)
{
  static int registered;
  if (!registered)
    registered = atexit(capture_at_exit) == 0;
  fflush(stderr);
  c->tmp = tmpfile();
  c->saved = c->tmp ? dup(2) : -1;
  if (c->saved >= 0)
    dup2(fileno(c->tmp), 2);
  active = c;
}

void lhelp_capture_end(lua_State *L, struct stderr_capture *c)
{
  luaL_Buffer b;
  active = NULL;
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
