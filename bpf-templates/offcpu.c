/* offcpu: time threads spend off CPU, by thread, kernel and user stack
 * and the task that woke them. At sched:sched_switch the task leaving
 * (prev, the current task) is recorded with its stacks, if it passes the
 * filters; when it is switched in again (next), the time since is added
 * to its key. With --waker, sched:sched_waking names the waker of a
 * recorded task (the wakeup that ended its block; none for a preempted
 * task, which stayed runnable). Stacks are taken when the task leaves: a tracepoint runs in
 * the leaving task only, so there is nothing to walk at switch-in. */
{{ SCHED }}
#include <vns/tp.h>
#include <vns/sched.h>
#include <vns/task.h>

/* Stacks kept: kernel, user. */
#define KSTACKS {{ KSTACKS }}
#define USTACKS {{ USTACKS }}
/* --state: 0 any, 1 blocked only (not TASK_RUNNING), 2 preempted only. */
#define STATE {{ STATE }}
/* --waker: the waker is part of the key. */
#define WAKER {{ WAKER }}

struct block {
  u64 ts;
  u32 tgid;
  s32 kstack;
  s32 ustack;
  u32 waker_tid;
  u32 waker_tgid;
  u32 pad;
  char comm[16];
  char waker_comm[16];
};

struct off_key {
  u32 tid;
  u32 tgid;
  s32 kstack;
  s32 ustack;
  u32 waker_tid;
  u32 waker_tgid;
  char comm[16];
  char waker_comm[16];
};

struct off_val {
  u64 total_ns;
  u64 count;
  u64 max_ns;
};

/* Threads off CPU now, by thread id. */
BPF_HASH(blocked, u32, struct block, {{ MAX_THREADS }});
BPF_HASH(offcpu, struct off_key, struct off_val, {{ MAX_KEYS }});
#if KSTACKS || USTACKS
BPF_STACK_TRACE(stacks, {{ STACK_STORAGE }});
#endif
/* 0: threads not recorded (blocked full), 1: blocks not counted (offcpu
 * full), 2: blocks left open (no switch-in reported before the next). */
BPF_PERCPU_ARRAY(lost, u64, 3);

static __always_inline void count_lost(u32 what)
{
  u64 *n = lost.lookup(&what);
  if (n)
    (*n)++;
}

/* prev is leaving the CPU; it is the current task. */
static __always_inline void leaving(void *ctx, struct task_struct *prev, int runnable, u64 now)
{
  u64 id = bpf_get_current_pid_tgid();
  u32 tid = (u32)id, tgid = id >> 32;
  if (tid == 0)
    return; /* the idle task */
  if (!({{ FILTER }}))
    return;
#if STATE == 1
  if (runnable)
    return;
#elif STATE == 2
  if (!runnable)
    return;
#endif
  struct block b = {};
  b.ts = now;
  b.tgid = tgid;
#if KSTACKS
  b.kstack = stacks.get_stackid(ctx, 0);
#else
  b.kstack = -1;
#endif
#if USTACKS
  b.ustack = stacks.get_stackid(ctx, BPF_F_USER_STACK);
#else
  b.ustack = -1;
#endif
  bpf_get_current_comm(b.comm, sizeof(b.comm));
  /* A record still here: the kernel reported no sched_switch bringing the
   * thread back since its last block (seen under load, on the classic
   * tracepoint too). That block's end is unknown: it is counted as left
   * open, not timed. */
  int err = blocked.insert(&tid, &b);
  if (err == -17 /* EEXIST */) {
    count_lost(2);
    err = blocked.update(&tid, &b);
  }
  if (err)
    count_lost(0);
}

/* next comes back: its time off CPU ends now. */
static __always_inline void arriving(struct task_struct *next, u64 now)
{
  u32 tid = vns_task_tid(next);
  struct block *b = blocked.lookup(&tid);
  if (!b)
    return;
  u64 delta = now - b->ts;
  struct off_key k = {};
  k.tid = tid;
  k.tgid = b->tgid;
  k.kstack = b->kstack;
  k.ustack = b->ustack;
  __builtin_memcpy(k.comm, b->comm, sizeof(k.comm));
#if WAKER
  k.waker_tid = b->waker_tid;
  k.waker_tgid = b->waker_tgid;
  __builtin_memcpy(k.waker_comm, b->waker_comm, sizeof(k.waker_comm));
#endif
  blocked.delete(&tid);
  if (!({{ BLOCK_FILTER }}))
    return;
  struct off_val zero = {};
  struct off_val *v = offcpu.lookup_or_try_init(&k, &zero);
  if (!v) {
    count_lost(1);
    return;
  }
  __sync_fetch_and_add(&v->total_ns, delta);
  __sync_fetch_and_add(&v->count, 1);
  if (delta > v->max_ns)
    v->max_ns = delta;
}

VNS_TP(sched, sched_switch)
{
  struct task_struct *prev = VNS_ARG(sched_switch, prev);
  u64 now = bpf_ktime_get_ns();
  u64 state = VNS_SWITCH_PREV_STATE(prev);
  /* Preempted (even while going to sleep) or yielding: still runnable. */
  int runnable = VNS_ARG(sched_switch, preempt) || state == 0;
  /* An exiting thread's last switch (TASK_DEAD, 0x80 since 4.14) is no
   * block: it never comes back, and its record would stay until the tid
   * is reused, then count as unended. */
  if (!(state & 0x80))
    leaving(VNS_CTX(sched_switch), prev, runnable, now);
  arriving(VNS_ARG(sched_switch, next), now);
  return 0;
}

/* The waker is the current task (in an interrupt, e.g. a timer's: the
 * task interrupted). sched_waking, not sched_wakeup: a wakeup of a task
 * on another CPU may be queued to that CPU, where sched_wakeup then runs
 * in its interrupt, under whatever task it found there. */
#if WAKER
VNS_TP(sched, sched_waking)
{
  u32 tid = vns_task_tid(VNS_ARG(sched_waking, p));
  struct block *b = blocked.lookup(&tid);
  if (!b)
    return 0;
  u64 id = bpf_get_current_pid_tgid();
  b->waker_tid = (u32)id;
  b->waker_tgid = id >> 32;
  bpf_get_current_comm(b->waker_comm, sizeof(b->waker_comm));
  return 0;
}
#endif
