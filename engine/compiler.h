/* compiler: the one entry point of vnetscope-bcc.so, the part of the
 * engine that links libbcc and with it clang/LLVM. The engine loads it
 * with dlopen() only when a program is not in the cache, so a warm start
 * never maps LLVM, and hosts without LLVM run packs compiled elsewhere. */
#ifndef VNS_COMPILER_H
#define VNS_COMPILER_H

#include <stddef.h>

#include "pack.h"

#define COMPILER_LIBRARY "vnetscope-bcc.so"
#define COMPILER_SYMBOL "vns_bcc_compile"

/* Compile BPF C into *out (maps, functions with relocations, license,
 * kernel version; no key, about or slots). clang's diagnostics go to
 * fd 2. Returns 0, or -1 with err set (empty when clang said why). */
typedef int (*compiler_fn)(const char *text, const char **cflags, int ncflags, unsigned flags,
                           struct pack *out, char *err, size_t errlen);

/* The plugin's entry point, loaded on first use. NULL with err set when
 * vnetscope-bcc.so (or libbcc/LLVM under it) cannot be loaded. */
compiler_fn compiler_get(char *err, size_t errlen);

/* Identity of the compiler for cache keys, without loading it: the
 * plugin's and libbcc's versions, sizes and times of change. */
const char *compiler_identity(void);

#endif
