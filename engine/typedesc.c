/* typedesc: BCC type descriptions parsed into memory layouts.
 * The description is parsed into a small value tree (strings, integers,
 * lists), then the tree is turned into td_type nodes and laid out. */
#include "typedesc.h"
#include "typedesc_json.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TD_MAX_SIZE (1u << 30)     /* no map value comes near this */
#define TD_MAX_DIMS 8

/* Name the innermost failing field once; outer levels keep that text. */
static int cx_field_fail(struct td_cx *cx, const char *name)
{
  size_t n;
  if (cx->noted || !cx->err || !cx->errlen)
    return -1;
  n = strlen(cx->err);
  snprintf(cx->err + n, cx->errlen - n, " (field '%s')", name);
  cx->noted = 1;
  return -1;
}

/* ---- types ---- */

struct td_scalar {
  const char *name;
  enum td_kind kind;
  size_t size;
};

/* x86_64/arm64 LP64 sizes; plain char is treated as signed. */
static const struct td_scalar td_scalars[] = {
  { "_Bool", TD_BOOL, 1 }, { "bool", TD_BOOL, 1 },
  { "char", TD_INT, 1 }, { "signed char", TD_INT, 1 }, { "unsigned char", TD_UINT, 1 },
  { "short", TD_INT, 2 }, { "short int", TD_INT, 2 },
  { "unsigned short", TD_UINT, 2 }, { "short unsigned int", TD_UINT, 2 },
  { "int", TD_INT, 4 }, { "signed", TD_INT, 4 }, { "signed int", TD_INT, 4 },
  { "unsigned int", TD_UINT, 4 }, { "unsigned", TD_UINT, 4 },
  { "long", TD_INT, 8 }, { "long int", TD_INT, 8 },
  { "unsigned long", TD_UINT, 8 }, { "long unsigned int", TD_UINT, 8 },
  { "long long", TD_INT, 8 }, { "long long int", TD_INT, 8 },
  { "unsigned long long", TD_UINT, 8 }, { "long long unsigned int", TD_UINT, 8 },
  { "__int128", TD_BYTES, 16 }, { "unsigned __int128", TD_BYTES, 16 },
  { "float", TD_FLOAT, 4 }, { "double", TD_FLOAT, 8 }, { "long double", TD_BYTES, 16 },
  { "u8", TD_UINT, 1 }, { "u16", TD_UINT, 2 }, { "u32", TD_UINT, 4 }, { "u64", TD_UINT, 8 },
  { "s8", TD_INT, 1 }, { "s16", TD_INT, 2 }, { "s32", TD_INT, 4 }, { "s64", TD_INT, 8 },
  { "__u8", TD_UINT, 1 }, { "__u16", TD_UINT, 2 }, { "__u32", TD_UINT, 4 }, { "__u64", TD_UINT, 8 },
  { "__s8", TD_INT, 1 }, { "__s16", TD_INT, 2 }, { "__s32", TD_INT, 4 }, { "__s64", TD_INT, 8 },
  { "uint8_t", TD_UINT, 1 }, { "uint16_t", TD_UINT, 2 },
  { "uint32_t", TD_UINT, 4 }, { "uint64_t", TD_UINT, 8 },
  { "int8_t", TD_INT, 1 }, { "int16_t", TD_INT, 2 }, { "int32_t", TD_INT, 4 }, { "int64_t", TD_INT, 8 },
  { "__be16", TD_UINT, 2 }, { "__be32", TD_UINT, 4 }, { "__be64", TD_UINT, 8 },
  { "size_t", TD_UINT, 8 }, { "ssize_t", TD_INT, 8 },
  { "pid_t", TD_INT, 4 }, { "uid_t", TD_UINT, 4 }, { "gid_t", TD_UINT, 4 },
};

/* Collapse blanks and drop qualifiers: "const  char *" -> "char *". */
static void scalar_norm(const char *in, char *out, size_t outlen)
{
  size_t n = 0, len;
  while (*in) {
    while (isspace((unsigned char)*in))
      in++;
    for (len = 0; in[len] && !isspace((unsigned char)in[len]); len++)
      ;
    if (len && !(len == 5 && !strncmp(in, "const", 5)) &&
        !(len == 8 && !strncmp(in, "volatile", 8)) && n + len + 2 < outlen) {
      if (n)
        out[n++] = ' ';
      memcpy(out + n, in, len);
      n += len;
    }
    in += len;
  }
  out[n] = '\0';
}

/* Looks up a spelling; pointers get the static entry below. */
static const struct td_scalar *scalar_find(const char *spelling, char *norm, size_t normlen)
{
  static const struct td_scalar ptr = { "pointer", TD_UINT, 8 };
  size_t n;
  scalar_norm(spelling, norm, normlen);
  n = strlen(norm);
  if (n && norm[n - 1] == '*')
    return &ptr;
  for (size_t i = 0; i < sizeof(td_scalars) / sizeof(td_scalars[0]); i++)
    if (!strcmp(norm, td_scalars[i].name))
      return &td_scalars[i];
  return NULL;
}

static struct td_type *type_new(struct td_cx *cx, enum td_kind kind, size_t size,
                                size_t align, const char *name)
{
  struct td_type *t = calloc(1, sizeof(*t));
  if (t && !(t->name = strdup(name ? name : ""))) {
    free(t);
    t = NULL;
  }
  if (!t) {
    cx_err(cx, "out of memory");
    return NULL;
  }
  t->kind = kind;
  t->size = size;
  t->align = align ? align : 1;
  return t;
}

void td_free(struct td_type *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < t->nfields; i++) {
    free(t->fields[i].name);
    td_free(t->fields[i].type);
  }
  free(t->fields);
  td_free(t->elem);
  free(t->name);
  free(t);
}

static struct td_type *scalar_new(struct td_cx *cx, const char *spelling)
{
  char norm[128];
  const struct td_scalar *s = scalar_find(spelling, norm, sizeof(norm));
  if (!s) {
    cx_err(cx, "unknown type '%s'", spelling);
    return NULL;
  }
  return type_new(cx, s->kind, s->size, s->size, norm);
}

/* elem[count]; plain char arrays become TD_CHARS (strings in Lua). */
static struct td_type *array_of(struct td_cx *cx, struct td_type *elem, long long count)
{
  int chars = elem->kind == TD_INT && !strcmp(elem->name, "char");
  struct td_type *t = NULL;
  if (count < 0 || (count && elem->size > TD_MAX_SIZE / (size_t)count))
    cx_err(cx, "bad array length %lld", count);
  else if (chars)
    t = type_new(cx, TD_CHARS, count, 1, "char");
  else if ((t = type_new(cx, TD_ARRAY, elem->size * count, elem->align, elem->name)))
    t->elem = elem;
  if (t)
    t->count = count;
  if (!t || chars)
    td_free(elem);
  return t;
}

/* Dimensions are outermost first, so wrap from the last one inwards. */
static struct td_type *apply_dims(struct td_cx *cx, struct td_type *t,
                                  const long long *dims, size_t n)
{
  while (t && n--)
    t = array_of(cx, t, dims[n]);
  return t;
}

/* Append a field; takes ownership of ft even on failure. */
static int rec_add(struct td_cx *cx, struct td_type *rec, const char *name,
                   struct td_type *ft, unsigned bits)
{
  struct td_field *f;
  if (!ft)
    return -1;
  f = realloc(rec->fields, (rec->nfields + 1) * sizeof(*f));
  if (!f) {
    td_free(ft);
    cx_err(cx, "out of memory");
    return -1;
  }
  rec->fields = f;
  f += rec->nfields++;
  memset(f, 0, sizeof(*f));
  f->type = ft;
  f->bit_size = bits;
  if (!(f->name = strdup(name))) {
    cx_err(cx, "out of memory");
    return -1;
  }
  return 0;
}

static size_t round_up(size_t v, size_t a)
{
  return (v + a - 1) / a * a;
}

/* A named field's alignment counts for the record; unnamed bitfields
 * (including ":0") do not (SysV psABI). */
static int field_aligns(const struct td_field *f)
{
  return f->name[0] || !(f->bit_size || f->type->size == 0);
}

/* Place one field at bit position `bit` and return the position after it.
 * A bitfield stays in the current storage unit of its declared type if it
 * fits and otherwise starts the next one, as GCC and clang do on x86_64. */
static size_t field_place(struct td_field *f, size_t bit, int packed)
{
  size_t unit = f->type->size * 8;
  if (f->bit_size) {
    if (bit / unit != (bit + f->bit_size - 1) / unit)
      bit = round_up(bit, unit);
    f->offset = bit / unit * f->type->size;
    f->bit_offset = bit % unit;
    return bit + f->bit_size;
  }
  bit = round_up(bit, packed ? 8 : f->type->align * 8);
  f->offset = bit / 8;
  return bit + f->type->size * 8;
}

/* BCC's "struct_packed" is an ordinary C struct with its padding spelled
 * out, so it keeps natural alignment; one that does not fit that alignment
 * was really __attribute__((packed)). */
static size_t packed_align(const struct td_type *rec, size_t align)
{
  for (size_t i = 0; i < rec->nfields; i++)
    if (rec->fields[i].offset % rec->fields[i].type->align)
      return 1;
  return rec->size % align ? 1 : align;
}

static void rec_layout(struct td_type *rec, int packed)
{
  size_t bit = 0, end = 0, align = 1;
  for (size_t i = 0; i < rec->nfields; i++) {
    struct td_field *f = &rec->fields[i];

    if (rec->kind == TD_UNION)
      bit = 0;
    bit = field_place(f, bit, packed);
    if (bit > end)
      end = bit;
    if (field_aligns(f) && f->type->align > align)
      align = f->type->align;
  }
  rec->size = (end + 7) / 8;
  if (packed)
    align = packed_align(rec, align);
  else
    rec->size = round_up(rec->size, align);
  rec->align = align;
}

static struct td_type *type_from_jv(struct td_cx *cx, const struct jv *v);

/* Third element of a field: [dims...] for arrays or a bit width. */
static struct td_type *field_extra(struct td_cx *cx, struct td_type *t,
                                   const struct jv *x, unsigned *bits)
{
  long long dims[TD_MAX_DIMS];
  if (x->kind == JV_LIST && x->n <= TD_MAX_DIMS) {
    for (size_t i = 0; i < x->n; i++)
      dims[i] = x->items[i].kind == JV_INT ? x->items[i].num : -1;
    return apply_dims(cx, t, dims, x->n);
  }
  if (x->kind != JV_INT || x->num < 0 || (size_t)x->num > t->size * 8 ||
      (t->kind != TD_INT && t->kind != TD_UINT && t->kind != TD_BOOL)) {
    cx_err(cx, "bad array dimensions or bit width for type '%s'", t->name);
    td_free(t);
    return NULL;
  }
  if (x->num == 0) {   /* ":0" only aligns the next field to a new unit */
    struct td_type *z = type_new(cx, TD_BYTES, 0, t->size, t->name);
    td_free(t);
    return z;
  }
  *bits = x->num;
  return t;
}

/* A field is [name, type], [name, type, [dims]] or [name, type, bits]; an
 * anonymous struct/union member is the bare record [tag, fields, kind]. */
static int field_from_jv(struct td_cx *cx, struct td_type *rec, const struct jv *f)
{
  struct td_type *t;
  unsigned bits = 0;
  if (f->kind != JV_LIST || f->n < 2 || f->n > 3 || f->items[0].kind != JV_STR) {
    cx_err(cx, "malformed field %zu of '%s'", rec->nfields + 1, rec->name);
    return -1;
  }
  if (f->n == 3 && f->items[2].kind == JV_STR)
    return rec_add(cx, rec, "", type_from_jv(cx, f), 0);
  t = type_from_jv(cx, &f->items[1]);
  if (t && f->n == 3)
    t = field_extra(cx, t, &f->items[2], &bits);
  if (!t)
    return cx_field_fail(cx, f->items[0].str);
  return rec_add(cx, rec, f->items[0].str, t, bits);
}

static struct td_type *rec_from_jv(struct td_cx *cx, const struct jv *v)
{
  const char *tag = v->items[0].str, *kind = v->items[2].str;
  int uni = !strcmp(kind, "union"), packed = !strcmp(kind, "struct_packed");
  struct td_type *rec;
  if (!strcmp(kind, "enum"))
    return type_new(cx, TD_UINT, 4, 4, tag);
  if (!uni && !packed && strcmp(kind, "struct")) {
    cx_err(cx, "unknown record kind '%s' for '%s'", kind, tag);
    return NULL;
  }
  if (v->items[1].kind != JV_LIST) {
    cx_err(cx, "malformed field list of '%s'", tag);
    return NULL;
  }
  rec = type_new(cx, uni ? TD_UNION : TD_STRUCT, 0, 1, tag);
  for (size_t i = 0; rec && i < v->items[1].n; i++)
    if (field_from_jv(cx, rec, &v->items[1].items[i]) < 0) {
      td_free(rec);
      return NULL;
    }
  if (rec)
    rec_layout(rec, packed);
  return rec;
}

static struct td_type *type_from_jv(struct td_cx *cx, const struct jv *v)
{
  if (v->kind == JV_STR)
    return scalar_new(cx, v->str);
  if (v->kind == JV_LIST && v->n == 3 && v->items[0].kind == JV_STR &&
      v->items[2].kind == JV_STR)
    return rec_from_jv(cx, v);
  cx_err(cx, "malformed type description: expected a type name or [tag, fields, kind]");
  return NULL;
}

/* A top-level type BCC spells but we cannot decode ("void", odd builtins)
 * is still usable as raw bytes when BCC tells us its size. */
static struct td_type *top_type(struct td_cx *cx, const struct jv *v, size_t size)
{
  char norm[128];
  struct td_type *t;
  if (v->kind == JV_STR && size && size <= TD_MAX_SIZE &&
      !scalar_find(v->str, norm, sizeof(norm)))
    return type_new(cx, TD_BYTES, size, 1, v->str);
  t = type_from_jv(cx, v);
  if (t && size && t->size != size) {
    cx_err(cx, "layout of '%s' is %zu bytes but BCC reports %zu bytes",
           t->name[0] ? t->name : "(anonymous)", t->size, size);
    td_free(t);
    return NULL;
  }
  return t;
}

struct td_type *td_parse(const char *desc, size_t size, char *err, size_t errlen)
{
  struct td_cx cx = { .src = desc, .p = desc, .err = err, .errlen = errlen };
  struct jv v = { 0 };
  struct td_type *t = NULL;
  if (!desc) {
    cx_err(&cx, "no type description");
    return NULL;
  }
  if (jv_parse(&cx, &v) == 0)
    t = top_type(&cx, &v, size);
  jv_free(&v);
  return t;
}

/* ---- perf event field lists: "name#ctype[dims]" ---- */

/* Split "char[16][2]" into "char" and {16, 2}; -1 if the brackets are bad. */
static int ev_dims(char *type, long long *dims, size_t *n)
{
  char *s = strchr(type, '['), *end;
  *n = 0;
  if (!s)
    return 0;
  *s = '\0';
  do {
    if (*n == TD_MAX_DIMS || !isdigit((unsigned char)s[1]))
      return -1;
    dims[(*n)++] = strtoll(s + 1, &end, 10);
    if (*end != ']')
      return -1;
    s = end + 1;
  } while (*s == '[');
  return *s ? -1 : 0;
}

static int ev_field(struct td_cx *cx, struct td_type *rec, const char *spec)
{
  const char *hash = strchr(spec, '#');
  char name[128], type[256], norm[128];
  long long dims[TD_MAX_DIMS];
  size_t ndims;
  if (!hash || hash == spec || (size_t)(hash - spec) >= sizeof(name)) {
    cx_err(cx, "malformed event field '%s' (expected name#type)", spec);
    return -1;
  }
  snprintf(name, sizeof(name), "%.*s", (int)(hash - spec), spec);
  snprintf(type, sizeof(type), "%s", hash + 1);
  if (ev_dims(type, dims, &ndims) < 0 || !scalar_find(type, norm, sizeof(norm))) {
    cx_err(cx, "event field '%s' has type '%s', which is not a scalar or an array of "
           "scalars; declare the event struct with scalar/array fields only, or use "
           "a map-declared type", name, hash + 1);
    return -1;
  }
  return rec_add(cx, rec, name, apply_dims(cx, scalar_new(cx, type), dims, ndims), 0);
}

struct td_type *td_from_fields(const char *const *fields, size_t n, char *err, size_t errlen)
{
  struct td_cx cx = { .err = err, .errlen = errlen };
  struct td_type *rec = type_new(&cx, TD_STRUCT, 0, 1, "");
  for (size_t i = 0; rec && i < n; i++)
    if (ev_field(&cx, rec, fields[i] ? fields[i] : "") < 0) {
      td_free(rec);
      return NULL;
    }
  if (rec)
    rec_layout(rec, 0);
  return rec;
}
