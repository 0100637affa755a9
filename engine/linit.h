/* linit: the `vns.core` Lua module, the engine's only face to Lua. */
#ifndef VNS_LINIT_H
#define VNS_LINIT_H

#include <lua.h>

int luaopen_vns_core(lua_State *L);

#endif
