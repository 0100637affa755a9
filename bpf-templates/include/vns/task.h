/* vns/task.h: the task running when a probe fires, for --pid and --comm.
 * In softirq context (most packet receive) that is whatever task the CPU
 * interrupted, so tools offer these only where the task is meaningful. */
#ifndef VNS_TASK_H
#define VNS_TASK_H

#include <vns/common.h>

/* The process id (the kernel's tgid) of the current task. */
static __always_inline u32 vns_current_pid(void)
{
  return bpf_get_current_pid_tgid() >> 32;
}

/* Is the current task's comm the zero-padded name given as the two
 * 64-bit words a little-endian load of its char[16] yields? */
static __always_inline int vns_current_comm_is(u64 lo, u64 hi)
{
  union { char c[16]; u64 w[2]; } comm = {};
  bpf_get_current_comm(comm.c, sizeof(comm.c));
  return comm.w[0] == lo && comm.w[1] == hi;
}

#endif
