/* fuzz_pack: pack_decode on any bytes. A pack it accepts must encode
 * back to the same bytes (the format has one spelling per pack) and
 * decode again; a refused one must leave the pack empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct pack p;
  char err[256];
  memset(&p, 0, sizeof p);
  if (pack_decode((const char *)data, size, &p, err, sizeof err) != 0) {
    if (p.nmaps || p.nfuncs || p.maps || p.funcs || !err[0])
      abort();
    return 0;
  }
  char *buf = NULL;
  size_t len = 0;
  if (pack_encode(&p, &buf, &len) != 0)
    abort();
  if (len != size || memcmp(buf, data, size) != 0)
    abort();
  struct pack again;
  memset(&again, 0, sizeof again);
  if (pack_decode(buf, len, &again, err, sizeof err) != 0)
    abort();
  pack_free(&again);
  free(buf);
  pack_free(&p);
  return 0;
}
