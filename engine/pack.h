/* pack: a compiled program as data, so it loads without clang/LLVM.
 *
 * A pack holds what loading needs: each function's instructions, the
 * maps they use (created at load time) and where the instructions point
 * at maps (relocations), and the slots where run-time constants
 * (VNS_VALUE) are patched in. Map references in the stored instructions
 * are normalized: the ld_imm64 keeps src_reg BPF_PSEUDO_MAP_FD and its
 * imm is 0 until the loader writes the new map's fd.
 *
 * The byte form is what the cache and `vnetscope compile` store: a
 * header with magic, format version, payload length and a CRC32 of the
 * payload, so a torn or corrupted file is detected and never loaded. */
#ifndef VNS_PACK_H
#define VNS_PACK_H

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

#define PACK_FORMAT 2

struct pack_map {
  char *name;
  uint32_t type, key_size, value_size, max_entries, flags;
  char *key_desc, *leaf_desc;   /* BCC type descriptions (JSON); may be "" */
  uint32_t nfields;             /* BPF_PERF_OUTPUT struct fields, as BCC gives them */
  char **fields;
};

struct pack_reloc {
  uint32_t insn;  /* index of the ld_imm64 in its function */
  uint32_t map;   /* index into pack.maps */
};

struct pack_func {
  char *name;
  uint32_t ninsns;
  struct bpf_insn *insns;
  uint32_t nrelocs;
  struct pack_reloc *relocs;
};

/* Run-time constant `value` is loaded by the ld_imm64 at insns[insn] of
 * funcs[func]. A value may have several slots (a helper inlined into two
 * probes) or none (a value the code never uses). */
struct pack_slot {
  uint32_t value, func, insn;
};

struct pack {
  char *key;      /* everything the entry was compiled for (vns.cache) */
  char *about;    /* one line for `vnetscope cache list` */
  char *license;
  uint32_t kern_version;
  uint32_t nmaps;
  struct pack_map *maps;
  uint32_t nfuncs;
  struct pack_func *funcs;
  uint32_t nvalues;   /* the run-time constants the program takes */
  uint32_t nslots;
  struct pack_slot *slots;
};

/* Serialize p into a malloc'd buffer. Returns 0, or -1 (out of memory). */
int pack_encode(const struct pack *p, char **buf, size_t *len);

/* Parse and check a serialized pack (magic, format, length, CRC32, every
 * count and index in range). On failure returns -1 with a short reason
 * in err and leaves *p empty. */
int pack_decode(const char *buf, size_t len, struct pack *p, char *err, size_t errlen);

/* Free what a pack owns (safe on a zeroed or partly filled pack). */
void pack_free(struct pack *p);

/* Turn the map fds in f's ld_imm64 instructions (src_reg
 * BPF_PSEUDO_MAP_FD) into relocations: the map index is the position of
 * the fd in map_fds; imm becomes 0. Returns 0, or -1 with err set when
 * an fd is not one of map_fds or a map reference is of another kind
 * (e.g. BPF_PSEUDO_MAP_VALUE). */
int pack_relocate(struct pack_func *f, const int *map_fds, uint32_t nmaps, char *err, size_t errlen);

/* Find the slots of each sentinel: every ld_imm64 with src_reg 0 in the
 * pack whose 64-bit value it is (copies of the one opaque load VNS_VALUE
 * makes), as long as no other instruction's imm equals either 32-bit
 * half of it (the compiler would have split or folded it). Sets
 * p->nvalues = nsentinels and p->slots. Returns 0, or -1 with *bad = the
 * index of the first sentinel that fails (its value cannot be patched). */
int pack_bind(struct pack *p, const uint64_t *sentinels, uint32_t nsentinels, uint32_t *bad);

/* Write values[s.value] into every slot s. Returns 0, or -1 if
 * n != p->nvalues. */
int pack_patch(struct pack *p, const uint64_t *values, uint32_t n);

#endif
