/* Unit tests for luatype: bytes -> Lua values -> the same bytes, and the
 * errors raised for values that do not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luatype.h"

#define KEY_T "[\"key_t\", [[\"loc\",\"unsigned long long\"], [\"reason\",\"unsigned int\"], " \
  "[\"dev\",\"char\", [16]], [\"__pad_end\",\"char\",[4]] ], \"struct_packed\"]"
#define EV_T "[\"ev_t\", [[\"ts\",\"unsigned long long\"], [\"pid\",\"unsigned int\"], " \
  "[\"comm\",\"char\", [16]], [\"arr\",\"unsigned char\", [3]], [\"__pad_4\",\"char\",[1]], " \
  "[\"u\",[\"\", [[\"a\",\"unsigned int\"], [\"b\",\"unsigned short\"] ], \"union\"]], " \
  "[\"in\",[\"\", [[\"x\",\"unsigned short\"], [\"y\",\"unsigned short\", 4], " \
  "[\"z\",\"unsigned short\", 12] ], \"struct\"]] ], \"struct_packed\"]"
#define BITS_T "[\"b\", [[\"a\",\"unsigned int\",3], [\"s\",\"int\",5], [\"f\",\"_Bool\",1]," \
  " [\"d\",\"unsigned long long\",40], [\"n\",\"short\"], [\"\", [[\"p\",\"int\"]], \"struct\"]," \
  " [\"r\",\"double\"]], \"struct\"]"

struct fixture {
  lua_State *L;
  struct td_type *key, *ev, *bits;
};

static struct td_type *parse(const char *desc, size_t size)
{
  char err[256];
  struct td_type *t = td_parse(desc, size, err, sizeof(err));

  if (!t)
    fail_msg("td_parse: %s", err);
  return t;
}

static int setup(void **state)
{
  static struct fixture fx;

  fx.L = luaL_newstate();
  luaL_openlibs(fx.L);
  fx.key = parse(KEY_T, 32);
  fx.ev = parse(EV_T, 40);
  fx.bits = parse(BITS_T, 24);
  *state = &fx;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *fx = *state;

  lua_close(fx->L);
  td_free(fx->key);
  td_free(fx->ev);
  td_free(fx->bits);
  return 0;
}

/* Run a Lua chunk that returns one value and leave it on the stack. */
static void eval(lua_State *L, const char *chunk)
{
  if (luaL_dostring(L, chunk) != LUA_OK)
    fail_msg("%s: %s", chunk, lua_tostring(L, -1));
}

/* Assert `expr` holds, with the pushed value bound to v. */
static void expect_lua(lua_State *L, const char *expr)
{
  char chunk[512];

  lua_setglobal(L, "v");
  snprintf(chunk, sizeof(chunk), "return %s", expr);
  eval(L, chunk);
  if (!lua_toboolean(L, -1))
    fail_msg("Lua assertion failed: %s", expr);
  lua_pop(L, 1);
}

/* luatype_check from Lua: upvalue 1 is the type, argument 1 the value. */
static int do_check(lua_State *L)
{
  unsigned char buf[256];
  const struct td_type *t = lua_touserdata(L, lua_upvalueindex(1));

  luatype_check_path(L, 1, t, buf, "key");
  lua_pushlstring(L, (const char *)buf, t->size);
  return 1;
}

/* Encode the value of `chunk`; returns the error text or NULL. */
static const char *encode(lua_State *L, const struct td_type *t, const char *chunk,
                          unsigned char *out)
{
  lua_settop(L, 0);
  lua_pushlightuserdata(L, (void *)t);
  lua_pushcclosure(L, do_check, 1);
  eval(L, chunk);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    return lua_tostring(L, -1);
  memcpy(out, lua_tostring(L, -1), t->size);
  return NULL;
}

static void encode_fails(lua_State *L, const struct td_type *t, const char *chunk,
                         const char *want)
{
  unsigned char out[256];
  const char *msg = encode(L, t, chunk, out);

  if (!msg)
    fail_msg("%s should not encode", chunk);
  if (!strstr(msg, want))
    fail_msg("error '%s' lacks '%s'", msg, want);
}

/* Push the bytes as Lua, encode that Lua value again, expect equal bytes. */
static void round_trip(lua_State *L, const struct td_type *t, const void *bytes)
{
  unsigned char out[256];

  lua_settop(L, 0);
  lua_pushlightuserdata(L, (void *)t);
  lua_pushcclosure(L, do_check, 1);
  luatype_push(L, t, bytes);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    fail_msg("round trip: %s", lua_tostring(L, -1));
  memcpy(out, lua_tostring(L, -1), t->size);
  assert_memory_equal(out, bytes, t->size);
}

static void test_key_push(void **state)
{
  struct fixture *fx = *state;
  unsigned char b[32] = { 0 };
  uint64_t loc = UINT64_MAX - 1;
  uint32_t reason = 3000000000u;

  memcpy(b, &loc, 8);
  memcpy(b + 8, &reason, 4);
  memcpy(b + 12, "eth0", 4);
  luatype_push(fx->L, fx->key, b);
  expect_lua(fx->L, "v.loc == -2 and v.reason == 3000000000 and v.dev == 'eth0'"
             " and v.__pad_end == nil");
  round_trip(fx->L, fx->key, b);
  memcpy(b + 12, "0123456789abcdef", 16);   /* full char[16], no NUL */
  luatype_push(fx->L, fx->key, b);
  expect_lua(fx->L, "v.dev == '0123456789abcdef'");
  round_trip(fx->L, fx->key, b);
}

static void test_ev_round_trip(void **state)
{
  struct fixture *fx = *state;
  unsigned char b[40] = { 0 };
  uint64_t ts = 123456789;
  uint32_t pid = 42, a = 0xdeadbeef;
  uint16_t x = 7, yz = 0x5 | (0xabc << 4);

  memcpy(b, &ts, 8);
  memcpy(b + 8, &pid, 4);
  memcpy(b + 12, "bash", 4);
  b[28] = 1, b[29] = 2, b[30] = 255;
  memcpy(b + 32, &a, 4);
  memcpy(b + 36, &x, 2);
  memcpy(b + 38, &yz, 2);
  luatype_push(fx->L, fx->ev, b);
  expect_lua(fx->L, "v.ts == 123456789 and v.pid == 42 and v.comm == 'bash'"
             " and #v.arr == 3 and v.arr[1] == 1 and v.arr[3] == 255"
             " and v.u == '\\xef\\xbe\\xad\\xde' and v.__pad_4 == nil"
             " and v['in'].x == 7 and v['in'].y == 5 and v['in'].z == 0xabc");
  round_trip(fx->L, fx->ev, b);
}

static void test_bitfields(void **state)
{
  struct fixture *fx = *state;
  unsigned char out[40], again[40];

  assert_null(encode(fx->L, fx->bits, "return {a = 5, s = -16, f = true, d = 0xffffffffff,"
                     " n = -2, p = 9, r = 2.5}", out));
  luatype_push(fx->L, fx->bits, out);
  expect_lua(fx->L, "v.a == 5 and v.s == -16 and v.f == true and v.d == 0xffffffffff"
             " and v.n == -2 and v.p == 9 and v.r == 2.5");
  round_trip(fx->L, fx->bits, out);
  assert_null(encode(fx->L, fx->bits, "return {s = 15, a = 0}", again));
  luatype_push(fx->L, fx->bits, again);
  expect_lua(fx->L, "v.s == 15 and v.a == 0 and v.f == false and v.d == 0");
  encode_fails(fx->L, fx->bits, "return {a = 8}", "key.a: 8 does not fit a 3-bit bitfield");
  encode_fails(fx->L, fx->bits, "return {s = -17}", "key.s: -17 does not fit a 5-bit");
  encode_fails(fx->L, fx->bits, "return {s = 16}", "does not fit");
  encode_fails(fx->L, fx->bits, "return {f = 'yes'}", "key.f: expected boolean, got string");
}

static void test_ranges(void **state)
{
  struct fixture *fx = *state;
  unsigned char out[40];

  encode_fails(fx->L, fx->key, "return {reason = 4294967296}",
               "key.reason: 4294967296 does not fit unsigned int");
  encode_fails(fx->L, fx->key, "return {reason = -1}", "key.reason: -1 does not fit");
  encode_fails(fx->L, fx->key, "return {reason = 1.5}", "no integer representation");
  encode_fails(fx->L, fx->key, "return {reason = '1'}", "expected integer, got string");
  encode_fails(fx->L, fx->ev, "return {arr = {1, 256}}", "key.arr[2]: 256 does not fit");
  encode_fails(fx->L, fx->bits, "return {n = 32768}", "key.n: 32768 does not fit short");
  assert_null(encode(fx->L, fx->bits, "return {n = -32768}", out));
  assert_null(encode(fx->L, fx->key, "return {loc = -1, reason = 7.0}", out));
  luatype_push(fx->L, fx->key, out);
  expect_lua(fx->L, "v.loc == -1 and string.format('%x', v.loc) == 'ffffffffffffffff'"
             " and math.type(v.reason) == 'integer' and v.reason == 7");
}

static void test_shape_errors(void **state)
{
  struct fixture *fx = *state;

  encode_fails(fx->L, fx->key, "return {dev = string.rep('x', 20)}",
               "key.dev: string of 20 bytes does not fit char[16]");
  encode_fails(fx->L, fx->key, "return {dve = 'eth0'}", "key: no field 'dve' in struct key_t");
  encode_fails(fx->L, fx->key, "return {__pad_end = 'x'}", "no field '__pad_end'");
  encode_fails(fx->L, fx->key, "return {1, 2}", "unexpected number key");
  encode_fails(fx->L, fx->key, "return 5", "key: expected table, got number");
  encode_fails(fx->L, fx->ev, "return {arr = {1, 2, 3, 4}}",
               "key.arr: table of 4 elements does not fit unsigned char[3]");
  encode_fails(fx->L, fx->ev, "return {u = 'abc'}", "key.u: string of 3 bytes");
  encode_fails(fx->L, fx->ev, "return {['in'] = {x = {}}}", "key.in.x: expected integer, got table");
}

static void test_scalars_and_arrays(void **state)
{
  struct fixture *fx = *state;
  struct td_type *u32 = parse("\"unsigned int\"", 4), *raw = parse("\"void\"", 4);
  struct td_type *st = parse("[\"bpf_stacktrace\", [[\"ip\",\"unsigned long long\", [127]] ],"
                             " \"struct_packed\"]", 1016);
  uint64_t ips[127] = { 0xffffffff81000000ull, 0xffffffff81000010ull };
  unsigned char out[8];
  uint32_t v = 0x80000000u;

  luatype_push(fx->L, u32, &v);
  expect_lua(fx->L, "v == 2147483648");
  round_trip(fx->L, u32, &v);
  round_trip(fx->L, raw, "\1\2\3\4");
  encode_fails(fx->L, u32, "return {}", "key: expected integer, got table");
  assert_null(encode(fx->L, raw, "return 'abcd'", out));
  assert_memory_equal(out, "abcd", 4);
  raw->name[0] = '\0';
  encode_fails(fx->L, raw, "return 'abc'", "key: string of 3 bytes given for a raw value");
  luatype_push(fx->L, st, ips);
  expect_lua(fx->L, "#v.ip == 127 and v.ip[1] == -0x7f000000 and v.ip[127] == 0");
  lua_pop(fx->L, 1);
  td_free(u32);
  td_free(raw);
  td_free(st);
}

/* Without a root the message starts at the first field. */
static int check_no_root(lua_State *L)
{
  unsigned char buf[32];

  luatype_check_path(L, 1, lua_touserdata(L, lua_upvalueindex(1)), buf, NULL);
  return 0;
}

static void test_default_root(void **state)
{
  struct fixture *fx = *state;

  lua_settop(fx->L, 0);
  lua_pushlightuserdata(fx->L, fx->key);
  lua_pushcclosure(fx->L, check_no_root, 1);
  eval(fx->L, "return {dev = string.rep('x', 17)}");
  assert_int_not_equal(lua_pcall(fx->L, 1, 0, 0), LUA_OK);
  assert_string_equal(lua_tostring(fx->L, -1), "dev: string of 17 bytes does not fit char[16]");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_key_push),
    cmocka_unit_test(test_ev_round_trip),
    cmocka_unit_test(test_bitfields),
    cmocka_unit_test(test_ranges),
    cmocka_unit_test(test_shape_errors),
    cmocka_unit_test(test_scalars_and_arrays),
    cmocka_unit_test(test_default_root),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
