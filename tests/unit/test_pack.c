/* pack: byte form round trip, rejection of damaged packs, and the
 * relocation / constant-slot passes over instructions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pack.h"

#define INSN(c, d, s, i) {.code = (c), .dst_reg = (d), .src_reg = (s), .imm = (i)}
#define LD64(d, s, v) INSN(BPF_LD | BPF_DW | BPF_IMM, d, s, (int32_t)(uint32_t)(v)), \
                      INSN(0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define MOV(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, i)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0)

static const uint64_t S1 = 0x1122334455667788ull, S2 = 0x99aabbccddeeff01ull;

static void set_func(struct pack_func *f, const char *name, const struct bpf_insn *insns, uint32_t n)
{
  f->name = name ? strdup(name) : NULL;
  f->ninsns = n;
  f->insns = malloc(n * sizeof *insns);
  memcpy(f->insns, insns, n * sizeof *insns);
}

static void set_relocs(struct pack_func *f, uint32_t n, const struct pack_reloc *r)
{
  free(f->relocs);
  f->nrelocs = n;
  f->relocs = malloc(n * sizeof *r);
  memcpy(f->relocs, r, n * sizeof *r);
}

/* Two functions, each with a map load (relocated: imm 0) and a sentinel. */
static void make_pack(struct pack *p)
{
  const struct bpf_insn f0[] = {LD64(1, BPF_PSEUDO_MAP_FD, 0), LD64(2, 0, S1), MOV(0, 0), EXIT};
  const struct bpf_insn f1[] = {MOV(6, 1), LD64(1, BPF_PSEUDO_MAP_FD, 0), LD64(3, 0, S2), MOV(0, 0), EXIT};
  memset(p, 0, sizeof *p);
  p->key = strdup("prog=x kernel=6.1 opts=a,b");
  p->about = strdup("tcpretrans on eth0");
  p->license = strdup("GPL");
  p->kern_version = 0x060100;
  p->nmaps = 2;
  p->maps = calloc(2, sizeof *p->maps);
  p->maps[0] = (struct pack_map){strdup("counts"), BPF_MAP_TYPE_HASH, 8, 16, 10240, 1,
                                 strdup("\"unsigned long long\""), strdup("[\"v\", [[\"a\",\"int\"]], \"struct\"]"), 0, NULL};
  p->maps[1] = (struct pack_map){strdup("events"), BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 64, 0,
                                 strdup(""), NULL, 3, calloc(3, sizeof(char *))};
  p->maps[1].fields[0] = strdup("u64 ts;");
  p->maps[1].fields[1] = strdup("char comm[16];");
  p->maps[1].fields[2] = strdup("");
  p->nfuncs = 2;
  p->funcs = calloc(2, sizeof *p->funcs);
  set_func(&p->funcs[0], "trace_a", f0, 6);
  set_func(&p->funcs[1], "trace_b", f1, 7);
  set_relocs(&p->funcs[0], 1, &(struct pack_reloc){0, 0});
  set_relocs(&p->funcs[1], 1, &(struct pack_reloc){1, 1});
  p->nvalues = 2;
  p->nslots = 2;
  p->slots = calloc(2, sizeof *p->slots);
  p->slots[0] = (struct pack_slot){0, 0, 2};
  p->slots[1] = (struct pack_slot){1, 1, 3};
}

static int is_zero(const struct pack *p)
{
  static const struct pack zero;
  return memcmp(p, &zero, sizeof zero) == 0;
}

static const char *str_or_empty(const char *s)
{
  return s ? s : "";
}

static void assert_pack_equal(const struct pack *a, const struct pack *b)
{
  assert_string_equal(str_or_empty(a->key), b->key);
  assert_string_equal(str_or_empty(a->about), b->about);
  assert_string_equal(str_or_empty(a->license), b->license);
  assert_int_equal(a->kern_version, b->kern_version);
  assert_int_equal(a->nmaps, b->nmaps);
  for (uint32_t i = 0; i < a->nmaps; i++) {
    const struct pack_map *x = &a->maps[i], *y = &b->maps[i];
    assert_string_equal(str_or_empty(x->name), y->name);
    assert_int_equal(x->type, y->type);
    assert_int_equal(x->key_size, y->key_size);
    assert_int_equal(x->value_size, y->value_size);
    assert_int_equal(x->max_entries, y->max_entries);
    assert_int_equal(x->flags, y->flags);
    assert_string_equal(str_or_empty(x->key_desc), y->key_desc);
    assert_string_equal(str_or_empty(x->leaf_desc), y->leaf_desc);
    assert_int_equal(x->nfields, y->nfields);
    for (uint32_t j = 0; j < x->nfields; j++)
      assert_string_equal(str_or_empty(x->fields[j]), y->fields[j]);
  }
  assert_int_equal(a->nfuncs, b->nfuncs);
  for (uint32_t i = 0; i < a->nfuncs; i++) {
    const struct pack_func *x = &a->funcs[i], *y = &b->funcs[i];
    assert_string_equal(str_or_empty(x->name), y->name);
    assert_int_equal(x->ninsns, y->ninsns);
    assert_memory_equal(x->insns, y->insns, x->ninsns * sizeof *x->insns);
    assert_int_equal(x->nrelocs, y->nrelocs);
    assert_memory_equal(x->relocs, y->relocs, x->nrelocs * sizeof *x->relocs);
  }
  assert_int_equal(a->nvalues, b->nvalues);
  assert_int_equal(a->nslots, b->nslots);
  assert_memory_equal(a->slots, b->slots, a->nslots * sizeof *a->slots);
}

/* Decode must fail with a reason containing want, and leave the pack empty. */
static void assert_rejected(const char *buf, size_t len, const char *want)
{
  struct pack q;
  char err[256] = "";
  memset(&q, 0xa5, sizeof q);
  assert_int_equal(pack_decode(buf, len, &q, err, sizeof err), -1);
  assert_true(is_zero(&q));
  if (!strstr(err, want))
    fail_msg("reason '%s' does not mention '%s'", err, want);
}

static void encode(const struct pack *p, char **buf, size_t *len)
{
  assert_int_equal(pack_encode(p, buf, len), 0);
  assert_true(*len > 20);
}

/* Re-seal a hand-edited payload so only the edit is under test. */
static void reseal(char *buf, size_t len)
{
  uint32_t crc = (uint32_t)crc32(0, (const Bytef *)buf + 20, (uInt)(len - 20));
  memcpy(buf + 16, &crc, 4);
}

static void test_round_trip(void **state)
{
  struct pack p, q;
  char *buf, err[256] = "";
  size_t len;
  make_pack(&p);
  encode(&p, &buf, &len);
  assert_memory_equal(buf, "VNSPACK\0", 8);
  assert_int_equal(pack_decode(buf, len, &q, err, sizeof err), 0);
  assert_pack_equal(&p, &q);
  assert_non_null(q.maps[1].leaf_desc);  /* NULL went in, "" came out */
  pack_free(&q);
  assert_true(is_zero(&q));
  pack_free(&p);
  free(buf);
}

static void test_empty_pack(void **state)
{
  struct pack p = {0}, q;
  char *buf, err[256] = "";
  size_t len;
  encode(&p, &buf, &len);
  assert_int_equal(pack_decode(buf, len, &q, err, sizeof err), 0);
  assert_string_equal(q.key, "");
  assert_int_equal(q.nmaps + q.nfuncs + q.nslots, 0);
  pack_free(&q);
  pack_free(&q);   /* safe twice: the first call zeroed it */
  free(buf);
}

static void test_checksum(void **state)
{
  struct pack p;
  char *buf;
  size_t len;
  make_pack(&p);
  encode(&p, &buf, &len);
  for (size_t i = 20; i < len; i++) {
    buf[i] ^= 0x10;
    assert_rejected(buf, len, "checksum mismatch");
    buf[i] ^= 0x10;
  }
  pack_free(&p);
  free(buf);
}

static void test_truncated(void **state)
{
  struct pack p;
  char *buf;
  size_t len;
  make_pack(&p);
  encode(&p, &buf, &len);
  for (size_t n = 0; n < len; n++) {
    char *copy = malloc(n ? n : 1);  /* exact size, so ASan sees overreads */
    memcpy(copy, buf, n);
    assert_rejected(copy, n, "truncated");
    free(copy);
  }
  pack_free(&p);
  free(buf);
}

static void test_header(void **state)
{
  struct pack p;
  char *buf;
  size_t len;
  uint32_t v;
  make_pack(&p);
  encode(&p, &buf, &len);

  buf[0] = 'X';
  assert_rejected(buf, len, "not a vnetscope pack");
  assert_rejected("#!/bin/sh\necho hello world\n", 27, "not a vnetscope pack");
  buf[0] = 'V';

  v = PACK_FORMAT + 1;
  memcpy(buf + 8, &v, 4);
  char want[64];
  snprintf(want, sizeof want, "pack format %u, this vnetscope reads %u", PACK_FORMAT + 1, PACK_FORMAT);
  assert_rejected(buf, len, want);
  v = PACK_FORMAT;
  memcpy(buf + 8, &v, 4);

  char *longer = malloc(len + 1);
  memcpy(longer, buf, len);
  longer[len] = 0;
  assert_rejected(longer, len + 1, "trailing bytes");
  free(longer);

  pack_free(&p);
  free(buf);
}

/* Payload of an empty pack: key, about, license lengths, kern_version,
 * then nmaps at 16, nfuncs at 20, nvalues at 24, nslots at 28. */
static void test_bad_counts(void **state)
{
  struct pack p = {0};
  char *buf;
  size_t len;
  uint32_t v;
  encode(&p, &buf, &len);
  assert_int_equal(len, 20 + 32);

  v = 5000;
  memcpy(buf + 20 + 16, &v, 4);
  reseal(buf, len);
  assert_rejected(buf, len, "too many maps");
  v = 3;
  memcpy(buf + 20 + 16, &v, 4);
  reseal(buf, len);
  assert_rejected(buf, len, "truncated payload");
  v = 0;
  memcpy(buf + 20 + 16, &v, 4);

  v = 100000;
  memcpy(buf + 20 + 24, &v, 4);
  reseal(buf, len);
  assert_rejected(buf, len, "too many values");
  v = 0;
  memcpy(buf + 20 + 24, &v, 4);
  v = 100000;
  memcpy(buf + 20 + 28, &v, 4);
  reseal(buf, len);
  assert_rejected(buf, len, "too many slots");

  v = 0xffffffff;
  memcpy(buf + 20, &v, 4);
  reseal(buf, len);
  assert_rejected(buf, len, "string too long");
  free(buf);

  /* The header's length covers an extra byte the payload does not use. */
  encode(&p, &buf, &len);
  buf = realloc(buf, len + 1);
  buf[len] = 0;
  v = 33;
  memcpy(buf + 12, &v, 4);
  reseal(buf, len + 1);
  assert_rejected(buf, len + 1, "trailing bytes in payload");
  free(buf);
}

/* Strings are length-counted on disk and C strings in memory: one with a
 * NUL inside would come back shorter (found by fuzz_pack). */
static void test_nul_in_string(void **state)
{
  struct pack p = {0};
  char *buf, key[] = "abc";
  size_t len;
  p.key = key;
  encode(&p, &buf, &len);
  assert_memory_equal(buf + 24, "abc", 3);
  buf[25] = '\0';
  reseal(buf, len);
  assert_rejected(buf, len, "NUL byte");
  free(buf);
}

/* Encode p (which pack_encode takes as is), expect decode to refuse it. */
static void assert_encoded_rejected(struct pack *p, const char *want)
{
  char *buf;
  size_t len;
  encode(p, &buf, &len);
  assert_rejected(buf, len, want);
  free(buf);
}

static void test_bad_indices(void **state)
{
  struct pack p;
  make_pack(&p);
  struct pack_reloc *r = &p.funcs[1].relocs[0];
  r->insn = 6;   /* the last insn: no room for a second half */
  assert_encoded_rejected(&p, "func 1 reloc 0: insn 6 out of range");
  r->insn = 1000;
  assert_encoded_rejected(&p, "insn 1000 out of range");
  r->insn = 0;   /* a mov */
  assert_encoded_rejected(&p, "func 1 reloc 0: insn 0 is not a map load");
  r->insn = 3;   /* the sentinel's ld_imm64: src_reg 0 */
  assert_encoded_rejected(&p, "insn 3 is not a map load");
  r->insn = 2;   /* second half of the map load */
  assert_encoded_rejected(&p, "insn 2 is not a map load");
  r->insn = 1;
  r->map = 2;
  assert_encoded_rejected(&p, "func 1 reloc 0: map 2 out of range");
  r->map = 1;

  struct pack_slot *s = &p.slots[1];
  s->value = 2;
  assert_encoded_rejected(&p, "slot 1: value 2 out of range");
  s->value = 1;
  s->func = 2;
  assert_encoded_rejected(&p, "slot 1: func 2 out of range");
  s->func = 1;
  s->insn = 6;
  assert_encoded_rejected(&p, "slot 1: insn 6 out of range");
  s->insn = 1;   /* the map load */
  assert_encoded_rejected(&p, "slot 1: insn 1 is not a constant load");
  s->insn = 5;   /* a mov */
  assert_encoded_rejected(&p, "slot 1: insn 5 is not a constant load");
  s->insn = 3;

  char *buf, err[256] = "";
  size_t len;
  struct pack q;
  encode(&p, &buf, &len);
  assert_int_equal(pack_decode(buf, len, &q, err, sizeof err), 0);
  pack_free(&q);
  free(buf);
  pack_free(&p);
}

/* Any byte of the payload set to odd values, resealed: decode may accept
 * or refuse, but never reads out of bounds and refuses cleanly. */
/* A map load the loader would not relocate (it would load fd 0). */
static void test_unrelocated_map_load(void **state)
{
  struct pack p;
  make_pack(&p);
  p.funcs[0].nrelocs = 0;
  assert_encoded_rejected(&p, "func 0: a map load has no relocation");
  p.funcs[0].nrelocs = 1;
  pack_free(&p);
}

static void test_mutations(void **state)
{
  struct pack p, q;
  char *buf, err[256];
  size_t len;
  static const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  make_pack(&p);
  encode(&p, &buf, &len);
  for (size_t i = 20; i < len; i++) {
    char orig = buf[i];
    for (size_t k = 0; k < sizeof vals; k++) {
      buf[i] = (char)vals[k];
      reseal(buf, len);
      if (pack_decode(buf, len, &q, err, sizeof err) == 0)
        pack_free(&q);
      else
        assert_true(is_zero(&q) && err[0]);
    }
    buf[i] = orig;
  }
  pack_free(&p);
  free(buf);
}

static void test_relocate(void **state)
{
  static const struct bpf_insn insns[] = {
      LD64(1, BPF_PSEUDO_MAP_FD, 7), MOV(2, 9), LD64(2, BPF_PSEUDO_MAP_FD, 9),
      LD64(3, 0, 7), LD64(4, BPF_PSEUDO_MAP_FD, 7), EXIT};
  static const int fds[] = {9, 7};
  struct pack_func f = {0};
  char err[256] = "";
  set_func(&f, "f", insns, 10);
  set_relocs(&f, 2, (struct pack_reloc[]){{5, 5}, {6, 6}});  /* replaced */
  assert_int_equal(pack_relocate(&f, fds, 2, err, sizeof err), 0);
  assert_int_equal(f.nrelocs, 3);
  assert_int_equal(f.relocs[0].insn, 0);
  assert_int_equal(f.relocs[0].map, 1);
  assert_int_equal(f.relocs[1].insn, 3);
  assert_int_equal(f.relocs[1].map, 0);
  assert_int_equal(f.relocs[2].insn, 7);
  assert_int_equal(f.relocs[2].map, 1);
  assert_int_equal(f.insns[0].imm, 0);
  assert_int_equal(f.insns[3].imm, 0);
  assert_int_equal(f.insns[7].imm, 0);
  assert_int_equal(f.insns[2].imm, 9);   /* a mov, not a map */
  assert_int_equal(f.insns[5].imm, 7);   /* a constant, not a map */
  assert_int_equal(f.insns[5].src_reg, 0);

  /* Run again on the result: imm 0 is no map fd of these. */
  assert_int_equal(pack_relocate(&f, fds, 2, err, sizeof err), -1);
  assert_string_equal(err, "insn 0 refers to fd 0, not a map of this program");
  assert_int_equal(f.nrelocs, 3);   /* untouched on failure */
  free(f.insns);
  free(f.relocs);
  free(f.name);
}

static void test_relocate_errors(void **state)
{
  struct bpf_insn unknown[] = {LD64(1, BPF_PSEUDO_MAP_FD, 9), LD64(1, BPF_PSEUDO_MAP_FD, 42), EXIT};
  struct bpf_insn value[] = {MOV(0, 0), LD64(1, BPF_PSEUDO_MAP_VALUE, 9), EXIT};
  struct bpf_insn cut[] = {MOV(0, 0), INSN(BPF_LD | BPF_DW | BPF_IMM, 1, 0, 3)};
  struct pack_func f = {.ninsns = 5, .insns = unknown};
  int fd = 9;
  char err[256] = "";
  assert_int_equal(pack_relocate(&f, &fd, 1, err, sizeof err), -1);
  assert_string_equal(err, "insn 2 refers to fd 42, not a map of this program");
  assert_int_equal(unknown[0].imm, 9);   /* nothing rewritten */
  assert_int_equal(f.nrelocs, 0);

  f = (struct pack_func){.ninsns = 4, .insns = value};
  assert_int_equal(pack_relocate(&f, &fd, 1, err, sizeof err), -1);
  assert_string_equal(err, "map reference kind 2 at insn 1 is not supported");

  f = (struct pack_func){.ninsns = 2, .insns = cut};
  assert_int_equal(pack_relocate(&f, &fd, 1, err, sizeof err), -1);
  assert_non_null(strstr(err, "insn 1"));

  f = (struct pack_func){.ninsns = 0, .insns = NULL};
  assert_int_equal(pack_relocate(&f, NULL, 0, err, sizeof err), 0);
  assert_int_equal(f.nrelocs, 0);
}

static void test_bind(void **state)
{
  struct pack p;
  uint32_t bad = 99;
  make_pack(&p);
  free(p.slots);
  p.slots = NULL;
  p.nslots = 0;
  assert_int_equal(pack_bind(&p, (uint64_t[]){S2, S1}, 2, &bad), 0);
  assert_int_equal(p.nvalues, 2);
  assert_int_equal(p.nslots, 2);
  assert_int_equal(p.slots[0].value, 0);
  assert_int_equal(p.slots[0].func, 1);
  assert_int_equal(p.slots[0].insn, 3);
  assert_int_equal(p.slots[1].value, 1);
  assert_int_equal(p.slots[1].func, 0);
  assert_int_equal(p.slots[1].insn, 2);

  assert_int_equal(pack_bind(&p, NULL, 0, &bad), 0);
  assert_int_equal(p.nvalues + p.nslots, 0);
  assert_null(p.slots);
  pack_free(&p);
}

/* A value loaded twice (a helper inlined into two probes) has two slots,
 * one never loaded (unused) none; patching writes every copy. */
static void test_bind_copies_and_unused(void **state)
{
  struct pack p;
  uint32_t bad = 99;
  const uint64_t S3 = 0x564e00037c0d0003ull;
  make_pack(&p);
  free(p.funcs[1].insns);
  free(p.funcs[1].name);
  const struct bpf_insn twice[] = {LD64(3, 0, S2), LD64(4, 0, S2), EXIT};
  set_func(&p.funcs[1], "g", twice, 5);
  assert_int_equal(pack_bind(&p, (uint64_t[]){S1, S2, S3}, 3, &bad), 0);
  assert_int_equal(p.nvalues, 3);
  assert_int_equal(p.nslots, 3);
  assert_int_equal(p.slots[1].value, 1);
  assert_int_equal(p.slots[2].value, 1);
  assert_int_equal(p.slots[2].insn, 2);
  assert_int_equal(pack_patch(&p, (uint64_t[]){7, 0x1122334455667788ull, 9}, 3), 0);
  assert_int_equal((uint32_t)p.funcs[1].insns[0].imm, 0x55667788u);
  assert_int_equal((uint32_t)p.funcs[1].insns[1].imm, 0x11223344u);
  assert_int_equal((uint32_t)p.funcs[1].insns[2].imm, 0x55667788u);
  assert_int_equal((uint32_t)p.funcs[1].insns[3].imm, 0x11223344u);
  assert_int_equal(p.funcs[0].insns[2].imm, 7);
  pack_free(&p);
}

/* Bind {S1, S2} after replacing func 1's insns; expect failure at index want. */
static void assert_bind_fails(const struct bpf_insn *insns, uint32_t n, const uint64_t *sentinels,
                              uint32_t count, uint32_t want)
{
  struct pack p;
  uint32_t bad = 99;
  make_pack(&p);
  free(p.funcs[1].insns);
  free(p.funcs[1].name);
  set_func(&p.funcs[1], "g", insns, n);
  assert_int_equal(pack_bind(&p, sentinels, count, &bad), -1);
  assert_int_equal(bad, want);
  assert_int_equal(p.nslots, 2);   /* left as it was */
  assert_int_equal(p.slots[1].insn, 3);
  pack_free(&p);
}

static void test_bind_rejects(void **state)
{
  const uint64_t s12[] = {S1, S2};
  /* S2 present, but its low half is also a compare's imm */
  const struct bpf_insn jmp[] = {LD64(3, 0, S2), INSN(BPF_JMP | BPF_JEQ | BPF_K, 3, 0, (int32_t)(uint32_t)S2), EXIT};
  assert_bind_fails(jmp, 4, s12, 2, 1);
  /* ... or its high half a mov's */
  const struct bpf_insn mov[] = {LD64(3, 0, S2), MOV(1, (int32_t)(uint32_t)(S2 >> 32)), EXIT};
  assert_bind_fails(mov, 4, s12, 2, 1);
  /* ... or half of another 64-bit constant */
  const struct bpf_insn other[] = {LD64(3, 0, S2), LD64(4, 0, (S2 & 0xffffffffull) | (5ull << 32)), EXIT};
  assert_bind_fails(other, 5, s12, 2, 1);
  /* the same sentinel twice in the list */
  const struct bpf_insn ok[] = {LD64(3, 0, S2), EXIT};
  assert_bind_fails(ok, 3, (const uint64_t[]){S1, S2, S2}, 3, 2);
}

static void test_patch(void **state)
{
  struct pack p, q;
  char *buf, err[256] = "";
  size_t len;
  const uint64_t vals[] = {0xdeadbeefcafef00dull, 5};
  make_pack(&p);
  assert_int_equal(pack_patch(&p, vals, 1), -1);
  assert_int_equal(p.funcs[0].insns[2].imm, (int32_t)(uint32_t)S1);   /* nothing written */
  assert_int_equal(pack_patch(&p, vals, 2), 0);
  assert_int_equal((uint32_t)p.funcs[0].insns[2].imm, 0xcafef00du);
  assert_int_equal((uint32_t)p.funcs[0].insns[3].imm, 0xdeadbeefu);
  assert_int_equal(p.funcs[1].insns[3].imm, 5);
  assert_int_equal(p.funcs[1].insns[4].imm, 0);
  assert_int_equal(p.funcs[0].insns[0].imm, 0);   /* map load untouched */

  /* Still a valid pack afterwards. */
  encode(&p, &buf, &len);
  assert_int_equal(pack_decode(buf, len, &q, err, sizeof err), 0);
  assert_pack_equal(&p, &q);
  pack_free(&q);
  free(buf);
  pack_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_empty_pack),
      cmocka_unit_test(test_checksum),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_nul_in_string),
      cmocka_unit_test(test_header),
      cmocka_unit_test(test_bad_counts),
      cmocka_unit_test(test_bad_indices),
      cmocka_unit_test(test_unrelocated_map_load),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_relocate),
      cmocka_unit_test(test_relocate_errors),
      cmocka_unit_test(test_bind),
      cmocka_unit_test(test_bind_copies_and_unused),
      cmocka_unit_test(test_bind_rejects),
      cmocka_unit_test(test_patch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
