/* waits.c: wait times (futex waits, lock acquisitions) as log2
 * histograms with exact count/sum/min/max per label, and exact stats per
 * lock. Pasted by vns.waits (waits.code) after vns/hist.h; BCC rewrites
 * map calls only in the main file, so this cannot be a header.
 *
 *   if (!waits_over_threshold(delta)) return 0;   --threshold
 *   waits_end(lock, kind, stack_or_minus_1, delta);
 *
 * A label is what a histogram is drawn for (a process, a thread, a lock,
 * a user stack: the tool fills only the fields it groups by); the lock
 * table is always kept per (lock address, process, kind), so the most
 * contended locks show whatever the histograms are grouped by. Stats are
 * per-CPU (plain stores); histogram slots are shared (atomic adds). */
/* Histograms per: 0 process, 1 thread, 2 lock (--by). */
#define BY {{ BY }}

struct wait_key {
  u64 lock;
  u32 pid;
  u32 tid;
  s32 stack;
  u32 kind;
  char comm[16];
};

struct wait_hist_key {
  struct wait_key label;
  u32 slot;
  u32 pad;
};

struct wait_lock_key {
  u64 lock;
  u32 pid;
  u32 kind;
};

BPF_HASH(wait_hist, struct wait_hist_key, u64, {{ MAX_LABELS }} * 8);
BPF_PERCPU_HASH(wait_stats, struct wait_key, struct vns_stats, {{ MAX_LABELS }});
BPF_PERCPU_HASH(wait_locks, struct wait_lock_key, struct vns_stats, {{ MAX_LOCKS }});

static __always_inline void waits_record(struct wait_key *label, u64 lock, u32 pid, u32 kind, u64 delta_ns)
{
  struct wait_hist_key hk = {};
  __builtin_memcpy(&hk.label, label, sizeof(hk.label));
  hk.slot = vns_log2_slot(delta_ns / {{ UNIT_NS }});
  u64 none = 0, *n = wait_hist.lookup_or_try_init(&hk, &none);
  if (n)
    __sync_fetch_and_add(n, 1);  /* slots are shared by all CPUs */
  struct vns_stats zero = {};
  struct vns_stats *s = wait_stats.lookup_or_try_init(label, &zero);
  if (s)
    vns_stats_add(s, delta_ns);
  struct wait_lock_key lk = { .lock = lock, .pid = pid, .kind = kind };
  s = wait_locks.lookup_or_try_init(&lk, &zero);
  if (s)
    vns_stats_add(s, delta_ns);
}

/* --threshold: a shorter wait is neither recorded nor counted. */
static __always_inline int waits_over_threshold(u64 delta)
{
  return {{ THRESHOLD }};
}

/* The current thread's wait on lock ended after delta_ns: recorded under
 * the label --by asks for. */
static __always_inline void waits_end(u64 lock, u32 kind, s32 stack, u64 delta_ns)
{
  u64 id = bpf_get_current_pid_tgid();
  struct wait_key label = {};
  label.pid = id >> 32;
  label.kind = kind;
  label.stack = stack;
#if BY == 1
  label.tid = id;
  bpf_get_current_comm(label.comm, sizeof(label.comm));
#elif BY == 2
  label.lock = lock;
#endif
  waits_record(&label, lock, label.pid, kind, delta_ns);
}
