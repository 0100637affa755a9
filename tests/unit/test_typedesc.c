/* Unit tests for typedesc: BCC descriptions -> layouts. The expected
 * offsets were checked against gcc on x86_64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "typedesc.h"

#define KEY_T "[\"key_t\", [[\"loc\",\"unsigned long long\"], [\"reason\",\"unsigned int\"], " \
  "[\"dev\",\"char\", [16]], [\"__pad_end\",\"char\",[4]] ], \"struct_packed\"]"
#define EV_T "[\"ev_t\", [[\"ts\",\"unsigned long long\"], [\"pid\",\"unsigned int\"], " \
  "[\"comm\",\"char\", [16]], [\"arr\",\"unsigned char\", [3]], [\"__pad_4\",\"char\",[1]], " \
  "[\"u\",[\"\", [[\"a\",\"unsigned int\"], [\"b\",\"unsigned short\"] ], \"union\"]], " \
  "[\"in\",[\"\", [[\"x\",\"unsigned short\"], [\"y\",\"unsigned short\", 4], " \
  "[\"z\",\"unsigned short\", 12] ], \"struct\"]] ], \"struct_packed\"]"
#define STACK_T "[\"bpf_stacktrace\", [[\"ip\",\"unsigned long long\", [127]] ], \"struct_packed\"]"

static char err[256];

static struct td_type *parse_ok(const char *desc, size_t size)
{
  struct td_type *t = td_parse(desc, size, err, sizeof(err));

  if (!t)
    fail_msg("td_parse(%s): %s", desc, err);
  return t;
}

static void parse_fails(const char *desc, size_t size, const char *want)
{
  struct td_type *t;

  err[0] = '\0';
  t = td_parse(desc, size, err, sizeof(err));
  if (t)
    fail_msg("td_parse(%s) should fail", desc ? desc : "NULL");
  if (want && !strstr(err, want))
    fail_msg("error '%s' lacks '%s'", err, want);
}

/* Check one field: name, offset, size, kind (and bits when a bitfield). */
static const struct td_field *field(const struct td_type *t, size_t i, const char *name,
                                    size_t off, size_t size, enum td_kind kind)
{
  const struct td_field *f;

  assert_true(i < t->nfields);
  f = &t->fields[i];
  assert_string_equal(f->name, name);
  assert_int_equal(f->offset, off);
  assert_int_equal(f->type->size, size);
  assert_int_equal(f->type->kind, kind);
  return f;
}

static void bits(const struct td_field *f, unsigned bit_offset, unsigned bit_size)
{
  assert_int_equal(f->bit_offset, bit_offset);
  assert_int_equal(f->bit_size, bit_size);
}

static void test_scalars(void **state)
{
  static const struct { const char *d; enum td_kind k; size_t s; } c[] = {
    { "\"int\"", TD_INT, 4 }, { "\"unsigned long long\"", TD_UINT, 8 },
    { "\"unsigned int\"", TD_UINT, 4 }, { "\"_Bool\"", TD_BOOL, 1 },
    { "\"double\"", TD_FLOAT, 8 }, { "\"float\"", TD_FLOAT, 4 },
    { "\"unsigned __int128\"", TD_BYTES, 16 }, { "\"const char *\"", TD_UINT, 8 },
    { "  \"signed char\" ", TD_INT, 1 }, { "\"short\"", TD_INT, 2 },
  };

  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    struct td_type *t = parse_ok(c[i].d, 0);
    assert_int_equal(t->kind, c[i].k);
    assert_int_equal(t->size, c[i].s);
    td_free(t);
  }
  td_free(parse_ok("\"int\"", 4));
}

static void test_key_t(void **state)
{
  struct td_type *t = parse_ok(KEY_T, 32);

  assert_int_equal(t->kind, TD_STRUCT);
  assert_string_equal(t->name, "key_t");
  assert_int_equal(t->nfields, 4);
  assert_int_equal(t->align, 8);
  field(t, 0, "loc", 0, 8, TD_UINT);
  field(t, 1, "reason", 8, 4, TD_UINT);
  assert_int_equal(field(t, 2, "dev", 12, 16, TD_CHARS)->type->count, 16);
  field(t, 3, "__pad_end", 28, 4, TD_CHARS);
  td_free(t);
}

static void test_ev_t(void **state)
{
  struct td_type *t = parse_ok(EV_T, 40), *u, *in;

  assert_int_equal(t->size, 40);
  assert_int_equal(t->nfields, 7);
  field(t, 0, "ts", 0, 8, TD_UINT);
  field(t, 1, "pid", 8, 4, TD_UINT);
  field(t, 2, "comm", 12, 16, TD_CHARS);
  assert_int_equal(field(t, 3, "arr", 28, 3, TD_ARRAY)->type->count, 3);
  assert_int_equal(t->fields[3].type->elem->kind, TD_UINT);
  field(t, 4, "__pad_4", 31, 1, TD_CHARS);
  u = field(t, 5, "u", 32, 4, TD_UNION)->type;
  assert_int_equal(u->align, 4);
  field(u, 0, "a", 0, 4, TD_UINT);
  field(u, 1, "b", 0, 2, TD_UINT);
  in = field(t, 6, "in", 36, 4, TD_STRUCT)->type;
  assert_int_equal(in->align, 2);
  bits(field(in, 0, "x", 0, 2, TD_UINT), 0, 0);
  bits(field(in, 1, "y", 2, 2, TD_UINT), 0, 4);
  bits(field(in, 2, "z", 2, 2, TD_UINT), 4, 12);
  td_free(t);
}

static void test_stacktrace(void **state)
{
  struct td_type *t = parse_ok(STACK_T, 1016);
  const struct td_field *ip = field(t, 0, "ip", 0, 1016, TD_ARRAY);

  assert_int_equal(ip->type->count, 127);
  assert_int_equal(ip->type->elem->size, 8);
  td_free(t);
}

static void test_natural_alignment(void **state)
{
  struct td_type *t = parse_ok("[\"s\", [[\"a\",\"char\"], [\"b\",\"int\"], [\"c\",\"short\"],"
                               " [\"d\",\"long long\"], [\"e\",\"char\"]], \"struct\"]", 32);

  field(t, 0, "a", 0, 1, TD_INT);
  field(t, 1, "b", 4, 4, TD_INT);
  field(t, 2, "c", 8, 2, TD_INT);
  field(t, 3, "d", 16, 8, TD_INT);
  field(t, 4, "e", 24, 1, TD_INT);
  assert_int_equal(t->align, 8);
  td_free(t);
  /* a struct inside a struct aligns as its widest member */
  t = parse_ok("[\"o\", [[\"c\",\"char\"], [\"i\", [\"\", [[\"s\",\"short\"], [\"__pad_1\","
               " \"char\", [6]], [\"l\",\"long\"]], \"struct_packed\"]], [\"t\",\"char\"]],"
               " \"struct\"]", 32);
  field(t, 1, "i", 8, 16, TD_STRUCT);
  field(t, 2, "t", 24, 1, TD_INT);
  td_free(t);
  /* __attribute__((packed)): BCC says struct_packed with no padding */
  t = parse_ok("[\"p\", [[\"a\",\"char\"], [\"b\",\"int\"]], \"struct_packed\"]", 5);
  field(t, 1, "b", 1, 4, TD_INT);
  assert_int_equal(t->align, 1);
  td_free(t);
}

/* struct b { unsigned a:3; unsigned b:30; unsigned char c:4;
 *            unsigned long long d:40; int :0; char e:2; } -- 24 bytes */
static void test_bitfields(void **state)
{
  struct td_type *t = parse_ok("[\"b\", [[\"a\",\"unsigned int\",3], [\"b\",\"unsigned int\",30],"
                               " [\"c\",\"unsigned char\",4], [\"d\",\"unsigned long long\",40],"
                               " [\"\",\"int\",0], [\"e\",\"char\",2]], \"struct\"]", 24);

  bits(field(t, 0, "a", 0, 4, TD_UINT), 0, 3);
  bits(field(t, 1, "b", 4, 4, TD_UINT), 0, 30);
  bits(field(t, 2, "c", 8, 1, TD_UINT), 0, 4);
  bits(field(t, 3, "d", 8, 8, TD_UINT), 4, 40);
  field(t, 4, "", 16, 0, TD_BYTES);
  bits(field(t, 5, "e", 16, 1, TD_INT), 0, 2);
  assert_int_equal(t->align, 8);
  td_free(t);
  parse_fails("[\"b\", [[\"a\",\"int\",33]], \"struct\"]", 0, "bit width");
  parse_fails("[\"b\", [[\"a\",\"double\",3]], \"struct\"]", 0, "bit width");
}

static void test_nested_arrays(void **state)
{
  struct td_type *t = parse_ok("[\"m\", [[\"grid\",\"unsigned short\",[2,3]],"
                               " [\"names\",\"char\",[2,8]]], \"struct\"]", 28);
  const struct td_field *g = field(t, 0, "grid", 0, 12, TD_ARRAY);
  const struct td_field *n = field(t, 1, "names", 12, 16, TD_ARRAY);

  assert_int_equal(g->type->count, 2);
  assert_int_equal(g->type->elem->kind, TD_ARRAY);
  assert_int_equal(g->type->elem->count, 3);
  assert_int_equal(g->type->elem->elem->size, 2);
  assert_int_equal(n->type->elem->kind, TD_CHARS);
  assert_int_equal(n->type->elem->count, 8);
  td_free(t);
}

static void test_enum_anon_pointer(void **state)
{
  struct td_type *t = parse_ok("[\"k\", [[\"st\", [\"state\", [\"A\",\"B\"], \"enum\"]],"
                               " [\"x\",\"unsigned char\"], [\"\", [[\"p\",\"int\"],"
                               " [\"q\",\"unsigned short\"]], \"union\"], [\"ptr\",\"void *\"]],"
                               " \"struct\"]", 24);

  field(t, 0, "st", 0, 4, TD_UINT);
  field(t, 1, "x", 4, 1, TD_UINT);
  field(t, 2, "", 8, 4, TD_UNION);
  field(t, 3, "ptr", 16, 8, TD_UINT);
  td_free(t);
}

static void test_unknown_types(void **state)
{
  struct td_type *t = parse_ok("\"void\"", 16);

  assert_int_equal(t->kind, TD_BYTES);
  assert_int_equal(t->size, 16);
  td_free(t);
  parse_fails("\"void\"", 0, "unknown type 'void'");
  parse_fails("[\"s\", [[\"v\",\"void\"]], \"struct\"]", 8, "field 'v'");
  parse_fails("[\"s\", [[\"v\",\"int\"]], \"bogus\"]", 4, "record kind");
}

static void test_size_mismatch(void **state)
{
  parse_fails(KEY_T, 24, "32 bytes but BCC reports 24");
  parse_fails("\"int\"", 8, "4 bytes but BCC reports 8");
  parse_fails(STACK_T, 1024, "1016");
}

static void test_malformed(void **state)
{
  static const char *bad[] = {
    "", "   ", "[", "\"int", "int", "[\"a\"", "[\"a\", [[\"x\",\"int\"]], \"struct\"",
    "[\"a\" [[\"x\",\"int\"]], \"struct\"]", "[1,2,3]", "[\"a\", [[\"x\"]], \"struct\"]",
    "[\"a\", [[\"x\",\"int\"]], \"struct\"] x", "[\"a\", 5, \"struct\"]",
    "[\"a\", [[\"x\",\"int\",[\"2\"]]], \"struct\"]", "[\"a\", [[\"x\",\"int\",[-1]]], \"struct\"]",
    "[\"a\", [[\"x\",\"int\",[99999999999]]], \"struct\"]", "[\"a\", [[5,\"int\"]], \"struct\"]",
    "[\"a\", [[\"x\",\"int\"],], \"struct\"]", "[\"a\", [[\"x\",\"int\"]], \"struct\"]]",
    "99999999999999999999999",
  };
  char deep[512];

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    parse_fails(bad[i], 0, NULL);
  parse_fails(NULL, 0, "no type description");
  parse_fails("\"in", 0, "unterminated string");
  memset(deep, '[', sizeof(deep) - 1);
  deep[sizeof(deep) - 1] = '\0';
  parse_fails(deep, 0, "too deep");
}

static struct td_type *fields_ok(const char *const *f, size_t n)
{
  struct td_type *t = td_from_fields(f, n, err, sizeof(err));

  if (!t)
    fail_msg("td_from_fields: %s", err);
  return t;
}

static void test_perf_fields(void **state)
{
  static const char *const f[] = {
    "ts#u64", "pid#u32", "comm#char[16]", "arr#u8[3]", "s#s16", "m#__u16[2][3]",
    "p#char *", "b#_Bool", "w#unsigned int",
  };
  struct td_type *t = fields_ok(f, sizeof(f) / sizeof(f[0]));

  field(t, 0, "ts", 0, 8, TD_UINT);
  field(t, 1, "pid", 8, 4, TD_UINT);
  field(t, 2, "comm", 12, 16, TD_CHARS);
  field(t, 3, "arr", 28, 3, TD_ARRAY);
  field(t, 4, "s", 32, 2, TD_INT);
  assert_int_equal(field(t, 5, "m", 34, 12, TD_ARRAY)->type->elem->count, 3);
  field(t, 6, "p", 48, 8, TD_UINT);
  field(t, 7, "b", 56, 1, TD_BOOL);
  field(t, 8, "w", 60, 4, TD_UINT);
  assert_int_equal(t->size, 64);
  td_free(t);
}

static void test_perf_fields_errors(void **state)
{
  static const char *const u[] = { "ts#u64", "u#union (unnamed union at /virtual/main.c:1:58)" };
  static const char *const s[] = { "in#struct (unnamed struct at /virtual/main.c:1:9)" };
  static const char *const bad[] = { "nohash" }, *const dims[] = { "a#u8[3" };

  assert_null(td_from_fields(u, 2, err, sizeof(err)));
  assert_non_null(strstr(err, "'u'"));
  assert_non_null(strstr(err, "scalar/array fields only"));
  assert_non_null(strstr(err, "map-declared type"));
  assert_null(td_from_fields(s, 1, err, sizeof(err)));
  assert_non_null(strstr(err, "'in'"));
  assert_null(td_from_fields(bad, 1, err, sizeof(err)));
  assert_non_null(strstr(err, "name#type"));
  assert_null(td_from_fields(dims, 1, err, sizeof(err)));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_scalars),
    cmocka_unit_test(test_key_t),
    cmocka_unit_test(test_ev_t),
    cmocka_unit_test(test_stacktrace),
    cmocka_unit_test(test_natural_alignment),
    cmocka_unit_test(test_bitfields),
    cmocka_unit_test(test_nested_arrays),
    cmocka_unit_test(test_enum_anon_pointer),
    cmocka_unit_test(test_unknown_types),
    cmocka_unit_test(test_size_mismatch),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_perf_fields),
    cmocka_unit_test(test_perf_fields_errors),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
