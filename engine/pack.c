/* pack: the byte form of a compiled program, and the passes that make
 * its instructions position-free (map fds become relocations, run-time
 * constants become slots). Decoding trusts nothing: a pack comes from a
 * file and every length, count and index is checked before use. */
#include "pack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PACK_MAGIC "VNSPACK"        /* 8 bytes with its NUL */
#define PACK_HDR 20                 /* magic, format, payload length, crc32 */
#define PACK_MAX_STR (64u << 20)
#define PACK_MAX_INSNS 1000000u
#define PACK_MAX_ITEMS 4096u        /* maps, funcs, fields per map */
#define PACK_MAX_SLOTS 65536u
#define LD_IMM64 (BPF_LD | BPF_DW | BPF_IMM)

static int pack_fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  if (err && errlen) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* ---- encoding ---- */

struct wr {
  char *p;
  size_t len, cap;
  int bad;
};

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
  if (w->bad || !n)
    return;
  if (w->cap - w->len < n) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < n)
      cap *= 2;
    char *p = realloc(w->p, cap);
    if (!p) {
      w->bad = 1;
      return;
    }
    w->p = p;
    w->cap = cap;
  }
  memcpy(w->p + w->len, src, n);
  w->len += n;
}

static void wr_u32(struct wr *w, uint32_t v)
{
  wr_bytes(w, &v, 4);
}

/* NULL is stored as ""; a string the decoder would refuse is not stored. */
static void wr_str(struct wr *w, const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if (n > PACK_MAX_STR)
    w->bad = 1;
  wr_u32(w, (uint32_t)n);
  wr_bytes(w, s, n);
}

int pack_encode(const struct pack *p, char **buf, size_t *len)
{
  struct wr w = {0};
  char hdr[PACK_HDR] = PACK_MAGIC;
  *buf = NULL;
  *len = 0;
  wr_bytes(&w, hdr, sizeof hdr);   /* filled in below */
  wr_str(&w, p->key);
  wr_str(&w, p->about);
  wr_str(&w, p->license);
  wr_u32(&w, p->kern_version);
  wr_u32(&w, p->nmaps);
  for (uint32_t i = 0; i < p->nmaps; i++) {
    const struct pack_map *m = &p->maps[i];
    wr_str(&w, m->name);
    wr_u32(&w, m->type);
    wr_u32(&w, m->key_size);
    wr_u32(&w, m->value_size);
    wr_u32(&w, m->max_entries);
    wr_u32(&w, m->flags);
    wr_str(&w, m->key_desc);
    wr_str(&w, m->leaf_desc);
    wr_u32(&w, m->nfields);
    for (uint32_t j = 0; j < m->nfields; j++)
      wr_str(&w, m->fields[j]);
  }
  wr_u32(&w, p->nfuncs);
  for (uint32_t i = 0; i < p->nfuncs; i++) {
    const struct pack_func *f = &p->funcs[i];
    wr_str(&w, f->name);
    wr_u32(&w, f->ninsns);
    wr_bytes(&w, f->insns, (size_t)f->ninsns * sizeof *f->insns);
    wr_u32(&w, f->nrelocs);
    for (uint32_t j = 0; j < f->nrelocs; j++) {
      wr_u32(&w, f->relocs[j].insn);
      wr_u32(&w, f->relocs[j].map);
    }
  }
  wr_u32(&w, p->nvalues);
  wr_u32(&w, p->nslots);
  for (uint32_t i = 0; i < p->nslots; i++) {
    wr_u32(&w, p->slots[i].value);
    wr_u32(&w, p->slots[i].func);
    wr_u32(&w, p->slots[i].insn);
  }
  if (w.bad || w.len - PACK_HDR > UINT32_MAX) {
    free(w.p);
    return -1;
  }
  uint32_t format = PACK_FORMAT, plen = (uint32_t)(w.len - PACK_HDR);
  uint32_t crc = (uint32_t)crc32(0, (const Bytef *)w.p + PACK_HDR, plen);
  memcpy(w.p + 8, &format, 4);
  memcpy(w.p + 12, &plen, 4);
  memcpy(w.p + 16, &crc, 4);
  *buf = w.p;
  *len = w.len;
  return 0;
}

/* ---- decoding ---- */

/* The first failure sticks: later reads return zeros/NULL, so the parse
 * can run on and be checked once per item instead of after every read. */
struct rd {
  const unsigned char *p, *end;
  char *err;
  size_t errlen;
  int bad;
};

static void rd_fail(struct rd *r, const char *fmt, ...)
{
  va_list ap;
  if (r->bad)
    return;
  r->bad = 1;
  if (r->err && r->errlen) {
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
  }
}

static int rd_have(struct rd *r, size_t n)
{
  if (!r->bad && (size_t)(r->end - r->p) < n)
    rd_fail(r, "truncated payload");
  return !r->bad;
}

static uint32_t rd_u32(struct rd *r)
{
  uint32_t v = 0;
  if (rd_have(r, 4)) {
    memcpy(&v, r->p, 4);
    r->p += 4;
  }
  return v;
}

static char *rd_str(struct rd *r)
{
  uint32_t n = rd_u32(r);
  if (n > PACK_MAX_STR)
    rd_fail(r, "string too long (%u bytes)", n);
  if (!rd_have(r, n))
    return NULL;
  /* Strings live on as C strings: a NUL inside would cut one short. */
  if (memchr(r->p, '\0', n)) {
    rd_fail(r, "a string holds a NUL byte");
    return NULL;
  }
  char *s = malloc((size_t)n + 1);
  if (!s) {
    rd_fail(r, "out of memory");
    return NULL;
  }
  memcpy(s, r->p, n);
  s[n] = '\0';
  r->p += n;
  return s;
}

/* A count, then a zeroed array for it. Checking the count against the
 * bytes left (each item takes at least min) keeps a crafted count from
 * asking for a huge allocation. */
static void *rd_array(struct rd *r, uint32_t *count, uint32_t max, size_t min, size_t size, const char *what)
{
  uint32_t n = rd_u32(r);
  void *a = NULL;
  if (n > max)
    rd_fail(r, "too many %s (%u)", what, n);
  if (!rd_have(r, (size_t)n * min) || !n)
    return NULL;
  if (!(a = calloc(n, size)))
    rd_fail(r, "out of memory");
  else
    *count = n;
  return a;
}

static void rd_map(struct rd *r, struct pack_map *m)
{
  m->name = rd_str(r);
  m->type = rd_u32(r);
  m->key_size = rd_u32(r);
  m->value_size = rd_u32(r);
  m->max_entries = rd_u32(r);
  m->flags = rd_u32(r);
  m->key_desc = rd_str(r);
  m->leaf_desc = rd_str(r);
  m->fields = rd_array(r, &m->nfields, PACK_MAX_ITEMS, 4, sizeof *m->fields, "fields");
  for (uint32_t j = 0; j < m->nfields && !r->bad; j++)
    m->fields[j] = rd_str(r);
}

static void rd_func(struct rd *r, struct pack_func *f)
{
  f->name = rd_str(r);
  f->insns = rd_array(r, &f->ninsns, PACK_MAX_INSNS, sizeof *f->insns, sizeof *f->insns, "instructions");
  if (f->insns) {
    memcpy(f->insns, r->p, (size_t)f->ninsns * sizeof *f->insns);
    r->p += (size_t)f->ninsns * sizeof *f->insns;
  }
  f->relocs = rd_array(r, &f->nrelocs, PACK_MAX_INSNS, 8, sizeof *f->relocs, "relocations");
  for (uint32_t j = 0; j < f->nrelocs && !r->bad; j++) {
    f->relocs[j].insn = rd_u32(r);
    f->relocs[j].map = rd_u32(r);
  }
}

/* Map loads without a relocation would load whatever fd 0 is. Relocations
 * are checked to be map loads, so equal counts with no two relocations
 * on one load mean every load has one. */
static int map_loads_covered(const struct pack_func *f)
{
  uint32_t loads = 0;
  for (uint32_t i = 0; i + 1 < f->ninsns; i++)
    if (f->insns[i].code == LD_IMM64 && f->insns[i].src_reg == BPF_PSEUDO_MAP_FD)
      loads++, i++;
  if (loads != f->nrelocs)
    return 0;
  for (uint32_t j = 0; j < f->nrelocs; j++)
    for (uint32_t k = 0; k < j; k++)
      if (f->relocs[j].insn == f->relocs[k].insn)
        return 0;
  return 1;
}

/* Every index must name an instruction the loader may rewrite. */
static int pack_check(const struct pack *p, char *err, size_t errlen)
{
  for (uint32_t i = 0; i < p->nfuncs; i++) {
    const struct pack_func *f = &p->funcs[i];
    for (uint32_t j = 0; j < f->nrelocs; j++) {
      const struct pack_reloc *rl = &f->relocs[j];
      if (rl->insn + 1ull >= f->ninsns)
        return pack_fail(err, errlen, "func %u reloc %u: insn %u out of range", i, j, rl->insn);
      const struct bpf_insn *in = &f->insns[rl->insn];
      if (in->code != LD_IMM64 || in->src_reg != BPF_PSEUDO_MAP_FD)
        return pack_fail(err, errlen, "func %u reloc %u: insn %u is not a map load", i, j, rl->insn);
      if (rl->map >= p->nmaps)
        return pack_fail(err, errlen, "func %u reloc %u: map %u out of range", i, j, rl->map);
    }
    if (!map_loads_covered(f))
      return pack_fail(err, errlen, "func %u: a map load has no relocation", i);
  }
  for (uint32_t i = 0; i < p->nslots; i++) {
    const struct pack_slot *s = &p->slots[i];
    if (s->value >= p->nvalues)
      return pack_fail(err, errlen, "slot %u: value %u out of range", i, s->value);
    if (s->func >= p->nfuncs)
      return pack_fail(err, errlen, "slot %u: func %u out of range", i, s->func);
    const struct pack_func *f = &p->funcs[s->func];
    if (s->insn + 1ull >= f->ninsns)
      return pack_fail(err, errlen, "slot %u: insn %u out of range", i, s->insn);
    const struct bpf_insn *in = &f->insns[s->insn];
    if (in->code != LD_IMM64 || in->src_reg != 0)
      return pack_fail(err, errlen, "slot %u: insn %u is not a constant load", i, s->insn);
  }
  return 0;
}

int pack_decode(const char *buf, size_t len, struct pack *p, char *err, size_t errlen)
{
  struct pack q = {0};
  uint32_t format, plen, crc;
  memset(p, 0, sizeof *p);
  if (len && memcmp(buf, PACK_MAGIC, len < 8 ? len : 8) != 0)
    return pack_fail(err, errlen, "not a vnetscope pack");
  if (len < PACK_HDR)
    return pack_fail(err, errlen, "truncated");
  memcpy(&format, buf + 8, 4);
  memcpy(&plen, buf + 12, 4);
  memcpy(&crc, buf + 16, 4);
  if (format != PACK_FORMAT)
    return pack_fail(err, errlen, "pack format %u, this vnetscope reads %u", format, PACK_FORMAT);
  if (len - PACK_HDR < plen)
    return pack_fail(err, errlen, "truncated");
  if (len - PACK_HDR > plen)
    return pack_fail(err, errlen, "trailing bytes");
  if ((uint32_t)crc32(0, (const Bytef *)buf + PACK_HDR, plen) != crc)
    return pack_fail(err, errlen, "checksum mismatch");

  struct rd r = {(const unsigned char *)buf + PACK_HDR, (const unsigned char *)buf + len, err, errlen, 0};
  q.key = rd_str(&r);
  q.about = rd_str(&r);
  q.license = rd_str(&r);
  q.kern_version = rd_u32(&r);
  q.maps = rd_array(&r, &q.nmaps, PACK_MAX_ITEMS, 4 * 9, sizeof *q.maps, "maps");
  for (uint32_t i = 0; i < q.nmaps && !r.bad; i++)
    rd_map(&r, &q.maps[i]);
  q.funcs = rd_array(&r, &q.nfuncs, PACK_MAX_ITEMS, 4 * 3, sizeof *q.funcs, "funcs");
  for (uint32_t i = 0; i < q.nfuncs && !r.bad; i++)
    rd_func(&r, &q.funcs[i]);
  q.nvalues = rd_u32(&r);
  if (!r.bad && q.nvalues > PACK_MAX_SLOTS)
    rd_fail(&r, "too many values");
  q.slots = rd_array(&r, &q.nslots, PACK_MAX_SLOTS, 12, sizeof *q.slots, "slots");
  for (uint32_t i = 0; i < q.nslots && !r.bad; i++) {
    q.slots[i].value = rd_u32(&r);
    q.slots[i].func = rd_u32(&r);
    q.slots[i].insn = rd_u32(&r);
  }
  if (!r.bad && r.p != r.end)
    rd_fail(&r, "trailing bytes in payload");
  if (r.bad || pack_check(&q, err, errlen) < 0) {
    pack_free(&q);
    return -1;
  }
  *p = q;
  return 0;
}

void pack_free(struct pack *p)
{
  free(p->key);
  free(p->about);
  free(p->license);
  for (uint32_t i = 0; i < p->nmaps; i++) {
    struct pack_map *m = &p->maps[i];
    free(m->name);
    free(m->key_desc);
    free(m->leaf_desc);
    for (uint32_t j = 0; j < m->nfields; j++)
      free(m->fields[j]);
    free(m->fields);
  }
  free(p->maps);
  for (uint32_t i = 0; i < p->nfuncs; i++) {
    free(p->funcs[i].name);
    free(p->funcs[i].insns);
    free(p->funcs[i].relocs);
  }
  free(p->funcs);
  free(p->slots);
  memset(p, 0, sizeof *p);
}

/* ---- relocation, constants ---- */

/* Two passes: check and count first, so a failure leaves f untouched. */
int pack_relocate(struct pack_func *f, const int *map_fds, uint32_t nmaps, char *err, size_t errlen)
{
  struct pack_reloc *relocs = NULL;
  uint32_t n = 0;
  for (int fill = 0; fill < 2; fill++) {
    for (uint32_t i = 0; i < f->ninsns; i++) {
      struct bpf_insn *in = &f->insns[i];
      if (in->code != LD_IMM64)
        continue;
      if (i + 1 >= f->ninsns)
        return pack_fail(err, errlen, "ld_imm64 at insn %u has no second half", i);
      uint32_t i0 = i++;
      if (in->src_reg == 0)
        continue;
      if (in->src_reg != BPF_PSEUDO_MAP_FD)
        return pack_fail(err, errlen, "map reference kind %u at insn %u is not supported", in->src_reg, i0);
      uint32_t m = 0;
      while (m < nmaps && map_fds[m] != in->imm)
        m++;
      if (m == nmaps)
        return pack_fail(err, errlen, "insn %u refers to fd %d, not a map of this program", i0, in->imm);
      if (fill) {
        relocs[n++] = (struct pack_reloc){i0, m};
        in->imm = 0;
      } else {
        n++;
      }
    }
    if (!fill) {
      if (n && !(relocs = calloc(n, sizeof *relocs)))
        return pack_fail(err, errlen, "out of memory");
      n = 0;
    }
  }
  free(f->relocs);
  f->relocs = relocs;
  f->nrelocs = n;
  return 0;
}

static uint64_t ld_imm64_value(const struct bpf_insn *in)
{
  return (uint32_t)in[0].imm | ((uint64_t)(uint32_t)in[1].imm << 32);
}

/* Every ld_imm64 carrying sentinel v (number k) becomes a slot of k;
 * a half of v anywhere else means the compiler split or folded it, and
 * patching the loads we found would miss a use. Appends to *slots. */
static int pack_find(const struct pack *p, uint64_t v, uint32_t k, struct pack_slot **slots,
                     uint32_t *n, uint32_t *cap)
{
  uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
  for (uint32_t fi = 0; fi < p->nfuncs; fi++) {
    const struct pack_func *f = &p->funcs[fi];
    for (uint32_t i = 0; i < f->ninsns; i++) {
      const struct bpf_insn *in = &f->insns[i];
      if (in->code == LD_IMM64 && i + 1 < f->ninsns && in->src_reg == 0 && ld_imm64_value(in) == v) {
        if (*n == *cap) {
          uint32_t grown = *cap ? 2 * *cap : 16;
          struct pack_slot *more = grown <= PACK_MAX_SLOTS ? realloc(*slots, grown * sizeof **slots) : NULL;
          if (!more)
            return -1;
          *slots = more;
          *cap = grown;
        }
        (*slots)[(*n)++] = (struct pack_slot){k, fi, i++};
      } else if ((uint32_t)in->imm == lo || (uint32_t)in->imm == hi) {
        return -1;
      }
    }
  }
  return 0;
}

int pack_bind(struct pack *p, const uint64_t *sentinels, uint32_t nsentinels, uint32_t *bad)
{
  struct pack_slot *slots = NULL;
  uint32_t n = 0, cap = 0;
  for (uint32_t k = 0; k < nsentinels; k++) {
    int dup = 0;
    for (uint32_t j = 0; j < k; j++)
      dup |= sentinels[j] == sentinels[k];
    if (dup || pack_find(p, sentinels[k], k, &slots, &n, &cap) < 0) {
      if (bad)
        *bad = k;
      free(slots);
      return -1;
    }
  }
  free(p->slots);
  p->slots = slots;
  p->nslots = n;
  p->nvalues = nsentinels;
  return 0;
}

int pack_patch(struct pack *p, const uint64_t *values, uint32_t n)
{
  if (n != p->nvalues)
    return -1;
  for (uint32_t i = 0; i < p->nslots; i++) {
    const struct pack_slot *s = &p->slots[i];
    if (s->value >= n || s->func >= p->nfuncs || s->insn + 1ull >= p->funcs[s->func].ninsns)
      return -1;
  }
  for (uint32_t i = 0; i < p->nslots; i++) {
    const struct pack_slot *s = &p->slots[i];
    struct bpf_insn *in = &p->funcs[s->func].insns[s->insn];
    in[0].imm = (int32_t)(uint32_t)values[s->value];
    in[1].imm = (int32_t)(uint32_t)(values[s->value] >> 32);
  }
  return 0;
}
