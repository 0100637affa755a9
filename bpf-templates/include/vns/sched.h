/* vns/sched.h: what the CPU tools read of a task_struct the scheduler
 * tracepoints pass (raw tracepoints: sched_switch's prev and next,
 * sched_wakeup's p). Read with vns_read, so the same code compiles
 * against 4.19's kernel-devel headers and the tree generated from BTF.
 *
 * The task's state field was renamed from state (long) to __state
 * (unsigned int) in 5.14: vns.sched defines VNS_TASK_STATE_FIELD for the
 * kernel. Its value matters only as zero (TASK_RUNNING: the task was
 * preempted and stays runnable) or not (it blocked). */
#ifndef VNS_SCHED_H
#define VNS_SCHED_H

#include <vns/common.h>
#include <vns/tp.h>
#include <linux/sched.h>

/* include/linux/sched.h: "I am a kernel thread" (same value since 2.6). */
#define VNS_PF_KTHREAD 0x00200000

static __always_inline u32 vns_task_tid(struct task_struct *t)
{
  pid_t v = 0;
  vns_read(&v, sizeof(v), &t->pid);
  return v;
}

static __always_inline u32 vns_task_tgid(struct task_struct *t)
{
  pid_t v = 0;
  vns_read(&v, sizeof(v), &t->tgid);
  return v;
}

static __always_inline int vns_task_is_kthread(struct task_struct *t)
{
  unsigned int flags = 0;
  vns_read(&flags, sizeof(flags), &t->flags);
  return (flags & VNS_PF_KTHREAD) != 0;
}

/* Nonzero unless the task is TASK_RUNNING. */
static __always_inline u64 vns_task_state(struct task_struct *t)
{
  typeof(t->VNS_TASK_STATE_FIELD) v = 0;
  vns_read(&v, sizeof(v), &t->VNS_TASK_STATE_FIELD);
  return (u64)v;
}

/* prev's state at sched:sched_switch: an argument since 5.18, read from
 * the task before. */
#if VNS_HAS_ARG(sched_switch, prev_state)
#define VNS_SWITCH_PREV_STATE(prev) VNS_ARG(sched_switch, prev_state)
#else
#define VNS_SWITCH_PREV_STATE(prev) vns_task_state(prev)
#endif

/* The task's comm, 16 bytes (the buffer must be zeroed: it may be read
 * while the task renames itself). */
static __always_inline void vns_task_comm(struct task_struct *t, char *comm)
{
  vns_read(comm, 16, &t->comm);
}

#endif
