/* luatype: raw bytes laid out by a typedesc <-> Lua values.
 * Integers become Lua integers (u64 keeps its bits: values above 2^63 are
 * negative in Lua and print right with %x), char[N] a string, arrays and
 * structs tables (fields by name, arrays 1-based), unions and unknown
 * types raw byte strings, bitfields integers. */
#ifndef VNS_LUATYPE_H
#define VNS_LUATYPE_H

#include <lua.h>
#include "typedesc.h"

/* Push the value at data (td->size bytes) onto the Lua stack. */
void luatype_push(lua_State *L, const struct td_type *t, const void *data);

/* Encode the Lua value at idx into out (t->size bytes, zeroed first).
 * Missing struct fields stay zero. Raises a Lua error naming the field
 * path on a type mismatch or out-of-range value. */
void luatype_check(lua_State *L, int idx, const struct td_type *t, void *out);

/* The same, with errors naming the path from `root`, e.g. root "key"
 * gives "key.dev: string of 20 bytes does not fit char[16]".
 * luatype_check uses the root "value". */
void luatype_check_path(lua_State *L, int idx, const struct td_type *t, void *out,
                        const char *root);

#endif
