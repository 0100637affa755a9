/* luatype: raw bytes laid out by a typedesc <-> Lua values.
 * Integers become Lua integers (u64 keeps its bits: values above 2^63 are
 * negative in Lua and print right with %x), char[N] a string, arrays and
 * structs tables (fields by name, arrays 1-based), unions and unknown
 * types raw byte strings, bitfields integers. */
#ifndef VNS_LUATYPE_H
#define VNS_LUATYPE_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>
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

/* A host-endian unsigned load of n (1, 2, 4 or 8) bytes, and the low
 * bits of v sign-extended: how event and map bytes become integers. */
uint64_t luatype_load(const unsigned char *p, size_t n);
int64_t luatype_sext(uint64_t v, unsigned bits);

#endif
