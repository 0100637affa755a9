/* sched-latency: run-queue latency, the time from a thread becoming
 * runnable (sched:sched_wakeup, sched_wakeup_new, or being switched out
 * while still runnable: preempted) to running (sched:sched_switch that
 * switches it in). Per thread (or process): a log2 histogram, exact
 * count/sum/min/max, the task switched out when the longest wait ended,
 * and per task switched out at the end of each wait ("ran instead"): on
 * a busy CPU, what ran while the thread waited. Only threads that pass
 * the filters are timed. */
{{ SCHED }}
#include <vns/tp.h>
#include <vns/sched.h>
#include <vns/hist.h>

/* --by process: one row per process (tid 0). */
#define BY_PROCESS {{ BY_PROCESS }}

struct wkey {
  u32 tgid;
  u32 tid;
  char comm[16];
};

struct hkey {
  struct wkey w;
  u32 slot;
  u32 pad;
};

struct wstat {
  u64 count;
  u64 sum;
  u64 min;
  u64 max;
  u32 max_prev_tid;
  u32 pad;
  char max_prev_comm[16];
};

struct rkey {
  struct wkey w;
  u32 prev_tid;
  u32 prev_tgid;
  char prev_comm[16];
};

struct rval {
  u64 count;
  u64 sum;
};

/* Runnable threads waiting for a CPU: since when. */
BPF_HASH(queued, u32, u64, {{ MAX_THREADS }});
BPF_HASH(hist, struct hkey, u64, {{ MAX_KEYS }});
BPF_HASH(stats, struct wkey, struct wstat, {{ MAX_KEYS }});
BPF_HASH(ran, struct rkey, struct rval, {{ MAX_KEYS }});
/* 0: waits not timed (queued full), 1: waits not counted (maps full) */
BPF_PERCPU_ARRAY(lost, u64, 2);

static __always_inline void count_lost(u32 what)
{
  u64 *n = lost.lookup(&what);
  if (n)
    (*n)++;
}

/* The comm of t or of its process (a qemu vCPU thread is "CPU 0/KVM"
 * in "qemu-system-x86") matches a --comm pattern: words w0, w1 of the
 * zero-padded name under masks. */
static __always_inline int comm_words_match(u64 w0, u64 w1)
{
  return {{ COMM_TEST }};
}

static __always_inline int comm_match(struct task_struct *t)
{
  union { char c[16]; u64 w[2]; } comm = {};
  vns_task_comm(t, comm.c);
  if (comm_words_match(comm.w[0], comm.w[1]))
    return 1;
  struct task_struct *leader = 0;
  vns_read(&leader, sizeof(leader), &t->group_leader);
  union { char c[16]; u64 w[2]; } lcomm = {};
  vns_task_comm(leader, lcomm.c);
  return comm_words_match(lcomm.w[0], lcomm.w[1]);
}

/* t becomes runnable now (tid, tgid: its ids). A wakeup of a thread
 * already waiting (preempted, then woken) keeps the earlier start. */
static __always_inline void enqueue(struct task_struct *t, u32 tid, u32 tgid, u64 now, int woken)
{
  if (tid == 0 || !({{ FILTER }}))
    return;
  if (woken) {
    if (!queued.lookup(&tid) && queued.insert(&tid, &now))
      count_lost(0);
  } else if (queued.update(&tid, &now)) {
    count_lost(0);
  }
}

static __always_inline void record(struct task_struct *prev, struct task_struct *next, u64 now)
{
  u32 tid = vns_task_tid(next);
  u64 *tsp = queued.lookup(&tid);
  if (!tsp)
    return;
  u64 delta = now - *tsp;
  queued.delete(&tid);

  struct wkey w = {};
  w.tgid = vns_task_tgid(next);
#if !BY_PROCESS
  w.tid = tid;
  vns_task_comm(next, w.comm);
#else
  struct task_struct *leader = 0;
  vns_read(&leader, sizeof(leader), &next->group_leader);
  vns_task_comm(leader, w.comm);
#endif
  struct hkey h = {};
  h.w = w;
  h.slot = vns_log2_slot(delta / {{ UNIT_NS }});
  u64 none = 0, *n = hist.lookup_or_try_init(&h, &none);
  if (n)
    __sync_fetch_and_add(n, 1);
  else
    count_lost(1);

  u64 id = bpf_get_current_pid_tgid();  /* prev: what ran before */
  struct wstat zero = {};
  struct wstat *s = stats.lookup_or_try_init(&w, &zero);
  if (s) {
    __sync_fetch_and_add(&s->count, 1);
    __sync_fetch_and_add(&s->sum, delta);
    if (s->min == 0 || delta < s->min)
      s->min = delta;
    if (delta > s->max) {
      s->max = delta;
      s->max_prev_tid = (u32)id;
      bpf_get_current_comm(s->max_prev_comm, sizeof(s->max_prev_comm));
    }
  }

  struct rkey r = {};
  r.w = w;
  r.prev_tid = (u32)id;
  r.prev_tgid = id >> 32;
  bpf_get_current_comm(r.prev_comm, sizeof(r.prev_comm));
  struct rval rzero = {};
  struct rval *v = ran.lookup_or_try_init(&r, &rzero);
  if (v) {
    __sync_fetch_and_add(&v->count, 1);
    __sync_fetch_and_add(&v->sum, delta);
  }
}

VNS_TP(sched, sched_switch)
{
  struct task_struct *prev = VNS_ARG(sched_switch, prev);
  struct task_struct *next = VNS_ARG(sched_switch, next);
  u64 now = bpf_ktime_get_ns();
  /* Preempted (or yielding) prev waits on the run queue from now. */
  u64 id = bpf_get_current_pid_tgid();
  if (VNS_ARG(sched_switch, preempt) || VNS_SWITCH_PREV_STATE(prev) == 0) {
    enqueue(prev, (u32)id, id >> 32, now, 0);
  } else {
    /* It blocks: a wakeup seen before it got here is not a wait. */
    u32 tid = (u32)id;
    queued.delete(&tid);
  }
  record(prev, next, now);
  return 0;
}

VNS_TP(sched, sched_wakeup)
{
  struct task_struct *t = VNS_ARG(sched_wakeup, p);
  enqueue(t, vns_task_tid(t), vns_task_tgid(t), bpf_ktime_get_ns(), 1);
  return 0;
}

VNS_TP(sched, sched_wakeup_new)
{
  struct task_struct *t = VNS_ARG(sched_wakeup_new, p);
  enqueue(t, vns_task_tid(t), vns_task_tgid(t), bpf_ktime_get_ns(), 1);
  return 0;
}
