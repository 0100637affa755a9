/* luatype: raw bytes laid out by a typedesc <-> Lua values.
 * Anonymous struct/union members put their fields in the parent table,
 * as C lets you name them; fields called "" or "__pad*" stay hidden. */
#include "luatype.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LT_PATH_MAX 256

/* ---- byte access ---- */

/* Host-endian loads: BPF maps hold values in the kernel's byte order. */
uint64_t luatype_load(const unsigned char *p, size_t n)
{
  uint8_t a;
  uint16_t b;
  uint32_t c;
  uint64_t d = 0;
  switch (n) {
  case 1: memcpy(&a, p, 1); return a;
  case 2: memcpy(&b, p, 2); return b;
  case 4: memcpy(&c, p, 4); return c;
  case 8: memcpy(&d, p, 8); return d;
  }
  return 0;
}

static void lt_store(unsigned char *p, size_t n, uint64_t v)
{
  uint8_t a = v;
  uint16_t b = v;
  uint32_t c = v;
  switch (n) {
  case 1: memcpy(p, &a, 1); break;
  case 2: memcpy(p, &b, 2); break;
  case 4: memcpy(p, &c, 4); break;
  case 8: memcpy(p, &v, 8); break;
  }
}

static uint64_t lt_mask(unsigned bits)
{
  return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

int64_t luatype_sext(uint64_t v, unsigned bits)
{
  uint64_t sign = UINT64_C(1) << (bits - 1);
  v &= lt_mask(bits);
  return (int64_t)((v ^ sign) - sign);
}

/* Bitfields follow the x86_64 (little-endian) layout: bit 0 is the low bit
 * of the first byte. Touch only the bytes the field covers, at most 9. */
static unsigned bf_span(const struct td_field *f, size_t *start)
{
  *start = f->offset + f->bit_offset / 8;
  return (f->bit_offset % 8 + f->bit_size + 7) / 8;
}

static uint64_t bf_get(const unsigned char *base, const struct td_field *f)
{
  size_t start;
  unsigned n = bf_span(f, &start);
  unsigned __int128 acc = 0;
  for (unsigned i = 0; i < n; i++)
    acc |= (unsigned __int128)base[start + i] << (8 * i);
  return (uint64_t)(acc >> (f->bit_offset % 8)) & lt_mask(f->bit_size);
}

static void bf_set(unsigned char *base, const struct td_field *f, uint64_t v)
{
  size_t start;
  unsigned n = bf_span(f, &start), shift = f->bit_offset % 8;
  unsigned __int128 acc = 0, mask = (unsigned __int128)lt_mask(f->bit_size) << shift;
  for (unsigned i = 0; i < n; i++)
    acc |= (unsigned __int128)base[start + i] << (8 * i);
  acc = (acc & ~mask) | (((unsigned __int128)v << shift) & mask);
  for (unsigned i = 0; i < n; i++)
    base[start + i] = (unsigned char)(acc >> (8 * i));
}

/* Types built outside typedesc may leave the name NULL. */
static const char *lt_name(const struct td_type *t, const char *fallback)
{
  return t->name && t->name[0] ? t->name : fallback;
}

static int lt_hidden(const struct td_field *f)
{
  return !f->name[0] || !strncmp(f->name, "__pad", 5);
}

static int lt_anon_record(const struct td_field *f)
{
  return !f->name[0] && (f->type->kind == TD_STRUCT || f->type->kind == TD_UNION);
}

/* ---- bytes -> Lua ---- */

static void lt_push_bits(lua_State *L, const struct td_field *f, const unsigned char *base)
{
  uint64_t v = bf_get(base, f);
  if (f->type->kind == TD_BOOL)
    lua_pushboolean(L, v != 0);
  else if (f->type->kind == TD_INT)
    lua_pushinteger(L, (lua_Integer)luatype_sext(v, f->bit_size));
  else
    lua_pushinteger(L, (lua_Integer)v);
}

/* Set the visible fields of record t into the table on top of the stack. */
static void lt_push_fields(lua_State *L, const struct td_type *t, const unsigned char *p)
{
  for (size_t i = 0; i < t->nfields; i++) {
    const struct td_field *f = &t->fields[i];

    if (lt_anon_record(f))
      lt_push_fields(L, f->type, p + f->offset);
    if (lt_hidden(f))
      continue;
    if (f->bit_size)
      lt_push_bits(L, f, p);
    else
      luatype_push(L, f->type, p + f->offset);
    lua_setfield(L, -2, f->name);
  }
}

static void lt_push_array(lua_State *L, const struct td_type *t, const unsigned char *p)
{
  lua_createtable(L, (int)t->count, 0);
  for (size_t i = 0; i < t->count; i++) {
    luatype_push(L, t->elem, p + i * t->elem->size);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void lt_push_float(lua_State *L, const struct td_type *t, const unsigned char *p)
{
  float f;
  double d;
  if (t->size == sizeof(f)) {
    memcpy(&f, p, sizeof(f));
    lua_pushnumber(L, f);
  } else if (t->size == sizeof(d)) {
    memcpy(&d, p, sizeof(d));
    lua_pushnumber(L, d);
  } else {
    lua_pushlstring(L, (const char *)p, t->size);
  }
}

void luatype_push(lua_State *L, const struct td_type *t, const void *data)
{
  const unsigned char *p = data;
  luaL_checkstack(L, 4, "type nested too deeply");
  switch (t->kind) {
  case TD_INT: lua_pushinteger(L, (lua_Integer)luatype_sext(luatype_load(p, t->size), t->size * 8)); break;
  case TD_UINT: lua_pushinteger(L, (lua_Integer)luatype_load(p, t->size)); break;
  case TD_BOOL: lua_pushboolean(L, luatype_load(p, t->size) != 0); break;
  case TD_FLOAT: lt_push_float(L, t, p); break;
  case TD_CHARS: lua_pushlstring(L, (const char *)p, strnlen((const char *)p, t->count)); break;
  case TD_ARRAY: lt_push_array(L, t, p); break;
  case TD_STRUCT:
    lua_createtable(L, 0, (int)t->nfields);
    lt_push_fields(L, t, p);
    break;
  default: lua_pushlstring(L, (const char *)p, t->size); break;
  }
}

/* ---- Lua -> bytes ---- */

struct lt_enc {
  lua_State *L;
  char path[LT_PATH_MAX];
  size_t len;
};

/* Raise "path: message". Nothing is allocated while encoding, so the
 * longjmp out of here leaks nothing. */
static void lt_fail(struct lt_enc *e, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (e->len)
    luaL_error(e->L, "%s: %s", e->path, msg);
  luaL_error(e->L, "%s", msg);
}

/* Append ".name" or "[i]" to the path; returns the length to go back to. */
static size_t lt_enter(struct lt_enc *e, const char *name, lua_Integer idx)
{
  size_t old = e->len;
  int n;
  if (name)
    n = snprintf(e->path + old, sizeof(e->path) - old, "%s%s", old ? "." : "", name);
  else
    n = snprintf(e->path + old, sizeof(e->path) - old, "[%lld]", (long long)idx);
  if (n > 0)
    e->len += (size_t)n < sizeof(e->path) - old ? (size_t)n : sizeof(e->path) - old - 1;
  return old;
}

static void lt_leave(struct lt_enc *e, size_t old)
{
  e->len = old;
  e->path[old] = '\0';
}

static void lt_expect(struct lt_enc *e, int idx, int type, const char *what)
{
  if (lua_type(e->L, idx) != type)
    lt_fail(e, "expected %s, got %s", what, luaL_typename(e->L, idx));
}

/* Integers (or floats with an exact integer value) that fit `bits`;
 * unsigned 64-bit accepts negatives as the same bit pattern. */
static uint64_t lt_int(struct lt_enc *e, int idx, const struct td_type *t, unsigned bits)
{
  int ok;
  lua_Integer v;
  lt_expect(e, idx, LUA_TNUMBER, "integer");
  v = lua_tointegerx(e->L, idx, &ok);
  if (!ok)
    lt_fail(e, "number %g has no integer representation", lua_tonumber(e->L, idx));
  if (bits < 64 && t->kind == TD_INT) {
    lua_Integer lim = (lua_Integer)1 << (bits - 1);
    ok = v >= -lim && v < lim;
  } else if (bits < 64) {
    ok = v >= 0 && (uint64_t)v <= lt_mask(bits);
  }
  if (ok)
    return (uint64_t)v;
  if (bits == t->size * 8)
    lt_fail(e, "%lld does not fit %s", (long long)v, lt_name(t, "the field"));
  lt_fail(e, "%lld does not fit a %u-bit bitfield of %s", (long long)v, bits,
          lt_name(t, "integer"));
  return 0;
}

static uint64_t lt_bool(struct lt_enc *e, int idx)
{
  if (lua_type(e->L, idx) == LUA_TBOOLEAN)
    return lua_toboolean(e->L, idx);
  if (lua_isinteger(e->L, idx) && (lua_tointeger(e->L, idx) & ~1) == 0)
    return lua_tointeger(e->L, idx);
  lt_fail(e, "expected boolean, got %s", luaL_typename(e->L, idx));
  return 0;
}

static void lt_float(struct lt_enc *e, int idx, const struct td_type *t, unsigned char *p)
{
  float f;
  double d;
  lt_expect(e, idx, LUA_TNUMBER, "number");
  d = lua_tonumber(e->L, idx);
  f = (float)d;
  if (t->size == sizeof(f))
    memcpy(p, &f, sizeof(f));
  else if (t->size == sizeof(d))
    memcpy(p, &d, sizeof(d));
}

/* Strings: char[N] takes up to N bytes (exactly N leaves no NUL); raw
 * types must match their size exactly. */
static void lt_string(struct lt_enc *e, int idx, const struct td_type *t, unsigned char *p)
{
  size_t len;
  const char *s;
  lt_expect(e, idx, LUA_TSTRING, "string");
  s = lua_tolstring(e->L, idx, &len);
  if (t->kind == TD_CHARS && len > t->count)
    lt_fail(e, "string of %zu bytes does not fit char[%zu]", len, t->count);
  if (t->kind != TD_CHARS && len != t->size)
    lt_fail(e, "string of %zu bytes given for %s, which takes exactly %zu",
            len, lt_name(t, "a raw value"), t->size);
  memcpy(p, s, len);
}

static void lt_encode(struct lt_enc *e, int idx, const struct td_type *t, unsigned char *p);

static void lt_array(struct lt_enc *e, int idx, const struct td_type *t, unsigned char *p)
{
  size_t n;
  lt_expect(e, idx, LUA_TTABLE, "table");
  n = lua_rawlen(e->L, idx);
  if (n > t->count)
    lt_fail(e, "table of %zu elements does not fit %s[%zu]", n, lt_name(t, "an array"),
            t->count);
  for (size_t i = 0; i < t->count; i++) {
    if (lua_rawgeti(e->L, idx, (lua_Integer)i + 1) != LUA_TNIL) {
      size_t old = lt_enter(e, NULL, (lua_Integer)i + 1);
      lt_encode(e, -1, t->elem, p + i * t->elem->size);
      lt_leave(e, old);
    }
    lua_pop(e->L, 1);
  }
}

static int lt_has_field(const struct td_type *t, const char *name)
{
  for (size_t i = 0; i < t->nfields; i++) {
    const struct td_field *f = &t->fields[i];

    if (lt_anon_record(f) && lt_has_field(f->type, name))
      return 1;
    if (!lt_hidden(f) && !strcmp(f->name, name))
      return 1;
  }
  return 0;
}

/* Reject keys that name no field, so a typo does not silently write 0. */
static void lt_check_keys(struct lt_enc *e, int idx, const struct td_type *t)
{
  lua_pushnil(e->L);
  while (lua_next(e->L, idx)) {
    lua_pop(e->L, 1);
    if (lua_type(e->L, -1) != LUA_TSTRING)
      lt_fail(e, "unexpected %s key in a table for struct %s",
              luaL_typename(e->L, -1), lt_name(t, "(anonymous)"));
    if (!lt_has_field(t, lua_tostring(e->L, -1)))
      lt_fail(e, "no field '%s' in struct %s", lua_tostring(e->L, -1),
              lt_name(t, "(anonymous)"));
  }
}

static void lt_fields(struct lt_enc *e, int idx, const struct td_type *t, unsigned char *p)
{
  for (size_t i = 0; i < t->nfields; i++) {
    const struct td_field *f = &t->fields[i];
    size_t old;

    if (lt_anon_record(f))
      lt_fields(e, idx, f->type, p + f->offset);
    if (lt_hidden(f))
      continue;
    if (lua_getfield(e->L, idx, f->name) == LUA_TNIL) {
      lua_pop(e->L, 1);
      continue;
    }
    old = lt_enter(e, f->name, 0);
    if (f->type->kind == TD_BOOL && f->bit_size)
      bf_set(p, f, lt_bool(e, -1));
    else if (f->bit_size)
      bf_set(p, f, lt_int(e, -1, f->type, f->bit_size));
    else
      lt_encode(e, -1, f->type, p + f->offset);
    lt_leave(e, old);
    lua_pop(e->L, 1);
  }
}

static void lt_encode(struct lt_enc *e, int idx, const struct td_type *t, unsigned char *p)
{
  idx = lua_absindex(e->L, idx);
  luaL_checkstack(e->L, 4, "type nested too deeply");
  switch (t->kind) {
  case TD_INT:
  case TD_UINT: lt_store(p, t->size, lt_int(e, idx, t, t->size * 8)); break;
  case TD_BOOL: lt_store(p, t->size, lt_bool(e, idx)); break;
  case TD_FLOAT: lt_float(e, idx, t, p); break;
  case TD_ARRAY: lt_array(e, idx, t, p); break;
  case TD_STRUCT:
    lt_expect(e, idx, LUA_TTABLE, "table");
    lt_check_keys(e, idx, t);
    lt_fields(e, idx, t, p);
    break;
  default: lt_string(e, idx, t, p); break;
  }
}

void luatype_check_path(lua_State *L, int idx, const struct td_type *t, void *out,
                        const char *root)
{
  struct lt_enc e = { .L = L };
  memset(out, 0, t->size);
  lt_enter(&e, root ? root : "", 0);
  lt_encode(&e, idx, t, out);
}

void luatype_check(lua_State *L, int idx, const struct td_type *t, void *out)
{
  luatype_check_path(L, idx, t, out, "value");
}
