/* vnetscope: parse the command word, then hand everything to the Lua
 * stdlib in protected mode. lua_close() runs every handle's finalizer, so
 * probes are detached on every way out, errors included. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "linit.h"
#include "signals.h"
#include "util.h"

static char share_dir[4096 + 64];

/* Installed layout first (bin/../share/vnetscope), then the source tree
 * the binary was built from, so the build tree runs uninstalled. */
static void find_share_dir(void)
{
  const char *env = getenv("VNETSCOPE_HOME");
  if (env && *env) {
    snprintf(share_dir, sizeof share_dir, "%s", env);
    return;
  }
  char exe[4000];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
      *slash = '\0';
    char probe[4096 + 64];
    snprintf(probe, sizeof probe, "%s/../" VNS_SHARE_REL "/stdlib", exe);
    if (util_is_dir(probe)) {
      snprintf(share_dir, sizeof share_dir, "%s/../" VNS_SHARE_REL, exe);
      return;
    }
  }
  snprintf(share_dir, sizeof share_dir, "%s", VNS_SOURCE_DIR);
}

/* User-facing errors are tables {msg=..., code=...} raised by the stdlib:
 * they print as one line. Anything else is a bug and gets a traceback. */
static int msghandler(lua_State *L)
{
  if (lua_type(L, 1) == LUA_TTABLE)
    return 1;
  const char *msg = lua_tostring(L, 1);
  if (!msg)
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static void set_package_path(lua_State *L)
{
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/stdlib/?.lua;%s/stdlib/?/init.lua", share_dir, share_dir);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

static int pmain(lua_State *L)
{
  struct cli *cli = lua_touserdata(L, 1);
  luaL_openlibs(L);
  luaL_requiref(L, "vns.core", luaopen_vns_core, 0);
  lua_pushstring(L, share_dir);
  lua_setfield(L, -2, "share_dir");
  lua_pushstring(L, VNS_VERSION);
  lua_setfield(L, -2, "version");
  lua_pop(L, 1);
  set_package_path(L);

  lua_getglobal(L, "require");
  lua_pushstring(L, "vns.main");
  lua_call(L, 1, 1);
  lua_pushstring(L, cli_mode_name(cli->mode));
  if (cli->target)
    lua_pushstring(L, cli->target);
  else
    lua_pushnil(L);
  lua_createtable(L, cli->argc, 0);
  for (int i = 0; i < cli->argc; i++) {
    lua_pushstring(L, cli->argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_call(L, 3, 1);
  return 1;
}

static int report_error(lua_State *L)
{
  if (lua_type(L, -1) != LUA_TTABLE) {
    fprintf(stderr, "vnetscope: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_getfield(L, -1, "msg");
  fprintf(stderr, "vnetscope: %s\n", lua_tostring(L, -1));
  lua_getfield(L, -2, "code");
  int code = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 1;
  lua_pop(L, 2);
  return code;
}

int main(int argc, char **argv)
{
  struct cli cli;
  char err[512];
  if (cli_parse(argc, argv, &cli, err, sizeof err)) {
    fprintf(stderr, "vnetscope: %s\n", err);
    return 2;
  }
  if (cli.mode == CLI_VERSION) {
    printf("vnetscope %s\n", VNS_VERSION);
    return 0;
  }
  find_share_dir();
  signals_install();
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "vnetscope: out of memory\n");
    return 1;
  }
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &cli);
  int status = lua_pcall(L, 1, 1, 1);
  int code = status == LUA_OK ? (int)luaL_optinteger(L, -1, 0) : report_error(L);
  lua_close(L);
  fflush(stdout);
  return code;
}
