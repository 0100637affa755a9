/* fuzz_typedesc: BCC's map key/leaf descriptions (td_parse) and perf
 * event field lists (td_from_fields) from any bytes. The first byte
 * picks the parser; for td_parse the next two are the size BCC would
 * report. An accepted layout must hold together: every field inside
 * its struct, every array exactly count elements. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "typedesc.h"

static void check(const struct td_type *t, int depth)
{
  if (!t || depth > 64)
    abort();
  if (t->kind == TD_ARRAY && t->size != t->count * t->elem->size)
    abort();
  if (t->kind == TD_ARRAY)
    check(t->elem, depth + 1);
  for (size_t i = 0; i < t->nfields; i++) {
    const struct td_field *f = &t->fields[i];
    check(f->type, depth + 1);
    if (!f->bit_size && f->offset + f->type->size > t->size)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 3)
    return 0;
  char err[256];
  char *text = malloc(size - 2);
  memcpy(text, data + 3, size - 3);
  text[size - 3] = '\0';
  struct td_type *t;
  if (data[0] & 1) {
    t = td_parse(text, (size_t)data[1] | (size_t)data[2] << 8, err, sizeof err);
  } else {
    /* Fields separated by newlines, as BCC's list would hold them. */
    const char *fields[64];
    size_t n = 0;
    for (char *s = text; n < 64 && s; n++) {
      fields[n] = s;
      s = strchr(s, '\n');
      if (s)
        *s++ = '\0';
    }
    t = td_from_fields(fields, n, err, sizeof err);
  }
  if (t) {
    check(t, 0);
    td_free(t);
  } else if (!err[0]) {
    abort();
  }
  free(text);
  return 0;
}
