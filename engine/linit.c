/* linit: the list of engine files that make up `vns.core`, and nothing
 * else (as Lua's linit.c lists its libraries). Each part adds its
 * functions to the table on top of the stack and builds the metatables
 * of the types it owns; no part touches another's metatable, so the
 * order below does not matter. */
#include "linit.h"

/* Defined in the file of the same name and declared only here, so that
 * no part includes the list of all parts. */
void lsys_register(lua_State *L);
void lmodule_register(lua_State *L);
void lpack_register(lua_State *L);
void lprog_register(lua_State *L);
void lmap_register(lua_State *L);
void lstack_register(lua_State *L);
void lbuffer_register(lua_State *L);
void lfeatures_register(lua_State *L);
void lqdisc_register(lua_State *L);
void lbtf_register(lua_State *L);
void lhttp_register(lua_State *L);

static void (*const linit_parts[])(lua_State *L) = {
  lsys_register,    lmodule_register, lpack_register,     lprog_register, lmap_register,
  lstack_register,  lbuffer_register, lfeatures_register, lqdisc_register,
  lbtf_register,    lhttp_register,
};

int luaopen_vns_core(lua_State *L)
{
  lua_newtable(L);
  for (size_t i = 0; i < sizeof linit_parts / sizeof linit_parts[0]; i++)
    linit_parts[i](L);
  return 1;
}
