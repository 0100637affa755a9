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

/* The key of a call from a kprobe to its kretprobe: the thread's
 * pid_tgid, or, for the idle tasks (pid 0 on every CPU, which run the
 * softirqs of idle CPUs), the CPU, so two CPUs' calls never share it. */
static __always_inline u64 vns_call_key(void)
{
  u64 id = bpf_get_current_pid_tgid();
  return id ? id : ~0ULL - bpf_get_smp_processor_id();
}

#endif
