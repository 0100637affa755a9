/* vns/common.h: what every vnetscope program may use, in both header
 * worlds (real kernel headers, or the tree generated from BTF, where
 * every kernel type is already declared and these includes are stubs). */
#ifndef VNS_COMMON_H
#define VNS_COMMON_H

#include <linux/skbuff.h>
#include <linux/netdevice.h>

/* bpf_probe_read works from 4.1 on; the _kernel variant needs 5.5. */
#ifndef vns_read
#define vns_read bpf_probe_read
#endif

/* A value given at launch (an address, a port, a pid...). It is loaded
 * by one ld_imm64 the compiler cannot see through, so the code is the
 * same for every value and a cached program takes a new one by patching
 * that instruction (stdlib/vns/cache.lua). v is an integer literal. */
#define VNS_VALUE(T, v) \
  ({ u64 __vns_v; asm volatile("%0 = " #v " ll" : "=r"(__vns_v)); (T)__vns_v; })

#endif
