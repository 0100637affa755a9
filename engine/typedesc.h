/* typedesc: BCC type descriptions parsed into memory layouts.
 *
 * BCC describes each map key and value as a JSON-like string, e.g.
 *   ["key_t", [["loc","unsigned long long"], ["dev","char",[16]],
 *              ["__pad_end","char",[4]]], "struct_packed"]
 * and each perf/ring-buffer event as a list of "name#ctype" fields.
 * A layout knows every field's offset, size and kind so that luatype.c
 * can turn raw bytes into Lua values and back. Pure C: no Lua, no kernel. */
#ifndef VNS_TYPEDESC_H
#define VNS_TYPEDESC_H

#include <stddef.h>

enum td_kind {
  TD_INT,     /* signed integer of size 1, 2, 4, 8 */
  TD_UINT,    /* unsigned integer of size 1, 2, 4, 8 */
  TD_BOOL,
  TD_FLOAT,   /* float or double */
  TD_CHARS,   /* char[N]: a NUL-terminated string in Lua */
  TD_ARRAY,   /* elem[count] */
  TD_STRUCT,
  TD_UNION,   /* raw bytes in Lua */
  TD_BYTES,   /* anything else of known size: raw bytes */
};

struct td_field;

struct td_type {
  enum td_kind kind;
  size_t size;
  size_t align;
  char *name;                  /* struct tag or scalar spelling, may be "" */
  struct td_type *elem;        /* TD_ARRAY */
  size_t count;                /* TD_ARRAY, TD_CHARS */
  struct td_field *fields;     /* TD_STRUCT, TD_UNION */
  size_t nfields;
};

struct td_field {
  char *name;
  size_t offset;               /* bytes */
  unsigned bit_offset;         /* bitfields: bit offset within the storage unit at offset */
  unsigned bit_size;           /* 0 if not a bitfield */
  struct td_type *type;
};

/* Parse a BCC map key/leaf description. `size` is the size BCC reports for
 * it (0 if unknown); a layout whose computed size disagrees is an error.
 * Returns NULL and writes a message to err on failure. */
struct td_type *td_parse(const char *desc, size_t size, char *err, size_t errlen);

/* Build a struct layout from BCC's perf event field list ("ts#u64",
 * "comm#char[16]", ...) with natural C alignment. */
struct td_type *td_from_fields(const char *const *fields, size_t n, char *err, size_t errlen);

void td_free(struct td_type *t);

#endif
