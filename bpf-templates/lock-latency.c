/* lock-latency: how long threads wait to acquire pthread mutexes and
 * rwlocks: a uprobe at the entry of each lock function keeps the time and
 * the lock's address per thread, the uretprobe records the time to the
 * return (fragments/waits.c). Every call is timed, not only contended
 * ones: an uncontended call costs the two probes and shows in the lowest
 * slots. --pid/--tid/--comm are tested at the entry.
 *
 * With --stacks the user stack is taken at the return: there the
 * registers are the caller's again (the return address restored, the
 * frame pointer of the caller), so the first frame is the call site.
 * Taken at the entry, a library built without frame pointers (glibc)
 * would hide the caller itself. */
#include <vns/task.h>
#include <vns/hist.h>

/* --stacks: the user stack is part of each histogram's label. */
#define STACKS {{ STACKS }}

/* wait_key.kind */
#define KIND_MUTEX 0
#define KIND_RDLOCK 1
#define KIND_WRLOCK 2

struct lock_start {
  u64 ts;
  u64 lock;
  u32 kind;
  u32 pad;
};

/* By thread id. LRU: a thread that never returns (cancelled, longjmp)
 * leaves its entry behind. */
BPF_TABLE("lru_hash", u32, struct lock_start, lock_start, 10240);
/* How calls ended: 0 acquired (0), 1 ETIMEDOUT (timed and clock
 * variants), 2 another error (EDEADLK, EINVAL, ...). */
BPF_PERCPU_ARRAY(lock_results, u64, 3);
#if STACKS
BPF_STACK_TRACE(stacks, 4096);
#endif

{{ WAITS }}

static __always_inline int lock_enter(struct pt_regs *ctx, u32 kind)
{
  u64 id = bpf_get_current_pid_tgid();
  u32 tid = id;
  if (!({{ TASK_FILTER }}))
    return 0;
  struct lock_start s = { .ts = bpf_ktime_get_ns(), .lock = PT_REGS_PARM1(ctx), .kind = kind };
  lock_start.update(&tid, &s);
  return 0;
}

int uprobe__mutex(struct pt_regs *ctx) { return lock_enter(ctx, KIND_MUTEX); }
int uprobe__rdlock(struct pt_regs *ctx) { return lock_enter(ctx, KIND_RDLOCK); }
int uprobe__wrlock(struct pt_regs *ctx) { return lock_enter(ctx, KIND_WRLOCK); }

/* One return probe for every lock function. */
int uretprobe__lock(struct pt_regs *ctx)
{
  u32 tid = bpf_get_current_pid_tgid();
  struct lock_start *s = lock_start.lookup(&tid);
  if (!s)
    return 0;
  u64 delta = bpf_ktime_get_ns() - s->ts;
  u64 lock = s->lock;
  u32 kind = s->kind;
  lock_start.delete(&tid);
  if (!waits_over_threshold(delta))
    return 0;
  int ret = PT_REGS_RC(ctx);
  u32 r = ret == 0 ? 0 : ret == 110 ? 1 : 2;
  u64 *n = lock_results.lookup(&r);
  if (n)
    (*n)++;
#if STACKS
  waits_end(lock, kind, stacks.get_stackid(ctx, BPF_F_USER_STACK), delta);
#else
  waits_end(lock, kind, -1, delta);
#endif
  return 0;
}
