/* futex-latency: how long threads wait in futex(2) waits, per process,
 * thread or lock address (the futex's user address), from the syscall
 * tracepoints. The entry keeps the start time and address per thread;
 * the exit records the wait (fragments/waits.c) and counts how it
 * ended. Only waiting operations are timed: FUTEX_WAIT, WAIT_BITSET,
 * WAIT_REQUEUE_PI, LOCK_PI and LOCK_PI2 (the PRIVATE and CLOCK_REALTIME
 * flags masked off), and where the kernel has them futex_waitv (5.16+)
 * and futex_wait (6.7+). --pid/--tid/--comm are tested at the entry,
 * after the operation (a compare on the record). */
#include <vns/task.h>
#include <vns/hist.h>

/* The kernel has futex_waitv (5.16+): its exit reads the waiter array. */
#define HAS_WAITV {{ HAS_WAITV }}

#define FUTEX_CMD_MASK 0x7f  /* ~(FUTEX_PRIVATE_FLAG 128 | FUTEX_CLOCK_REALTIME 256) */

/* What a wait was (wait_key.kind). */
#define KIND_WAIT 0
#define KIND_LOCK_PI 1
#define KIND_REQUEUE_PI 2
#define KIND_WAITV 3

struct wait_start {
  u64 ts;
  u64 uaddr;   /* futex_waitv: the address of the waiter array */
  u32 kind;
  u32 pad;
};

/* By thread id: a thread is in one syscall at a time. LRU: a thread
 * killed in a wait leaves its entry behind. */
BPF_TABLE("lru_hash", u32, struct wait_start, futex_start, 10240);
/* How waits ended: 0 woken (0, or the index futex_waitv returns),
 * 1 EAGAIN (the value had changed: no sleep), 2 ETIMEDOUT, 3 other
 * (EINTR, ...). */
BPF_PERCPU_ARRAY(futex_results, u64, 4);

{{ WAITS }}

static __always_inline int wait_begin(u64 uaddr, u32 kind)
{
  u64 id = bpf_get_current_pid_tgid();
  u32 tid = id;
  if (!({{ TASK_FILTER }}))
    return 0;
  struct wait_start s = { .ts = bpf_ktime_get_ns(), .uaddr = uaddr, .kind = kind };
  futex_start.update(&tid, &s);
  return 0;
}

/* struct futex_waitv's layout (uapi, 5.16+): val, uaddr, flags. */
struct vns_futex_waitv {
  u64 val;
  u64 uaddr;
  u32 flags;
  u32 reserved;
};

static __always_inline int wait_end(long ret)
{
  u32 tid = bpf_get_current_pid_tgid();
  struct wait_start *s = futex_start.lookup(&tid);
  if (!s)
    return 0;
  u64 delta = bpf_ktime_get_ns() - s->ts;
  u64 uaddr = s->uaddr;
  u32 kind = s->kind;
  futex_start.delete(&tid);
  if (!waits_over_threshold(delta))
    return 0;
#if HAS_WAITV
  if (kind == KIND_WAITV) {
    /* The futex that woke us (the index returned), else the first. */
    u32 i = ret > 0 && ret < 128 ? ret : 0;
    struct vns_futex_waitv w = {};
    bpf_probe_read_user(&w, sizeof(w), (void *)(uaddr + i * sizeof(w)));
    uaddr = w.uaddr;
  }
#endif
  u32 r = ret >= 0 ? 0 : ret == -11 ? 1 : ret == -110 ? 2 : 3;
  u64 *n = futex_results.lookup(&r);
  if (n)
    (*n)++;
  waits_end(uaddr, kind, -1, delta);
  return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_futex)
{
  int cmd = args->op & FUTEX_CMD_MASK;
  u32 kind;
  if (cmd == 0 || cmd == 9)            /* FUTEX_WAIT, FUTEX_WAIT_BITSET */
    kind = KIND_WAIT;
  else if (cmd == 6 || cmd == 13)      /* FUTEX_LOCK_PI, FUTEX_LOCK_PI2 */
    kind = KIND_LOCK_PI;
  else if (cmd == 11)                  /* FUTEX_WAIT_REQUEUE_PI */
    kind = KIND_REQUEUE_PI;
  else
    return 0;
  return wait_begin((u64)args->uaddr, kind);
}

TRACEPOINT_PROBE(syscalls, sys_exit_futex)
{
  return wait_end(args->ret);
}
{{ MORE_PROBES }}
