/* budget.c: the event budget of details tools (--max-events-per-sec),
 * pasted into the program by vns.budget: BCC rewrites map calls only in
 * the main file, so this cannot be a header.
 *
 *   if (!vns_budget_take())
 *     return 0;
 *   events.perf_submit(ctx, &ev, sizeof(ev));
 *
 * Take the budget last, after every filter: a packet that would not be
 * reported must not spend any of it.
 *
 * One budget for the whole machine, so that one busy CPU (one NIC
 * queue's softirq, the usual case) can use all of it. Time is cut into
 * windows of one second (bpf_ktime_get_ns() / 1e9); each window w has
 * one shared counter, the entry of key w in vns_budget_windows. An event
 * adds 1 to it (XADD: no fetch, so 4.19 has it) and reads it back; it
 * is sent if the value read is at most the window's cap, which is
 * RATE less the share of the previous window's events that the second
 * ending now still covers (a sliding second: a flood gets RATE per
 * second evenly, a burst after a quiet second gets RATE at once).
 * Otherwise it takes its 1 back and is counted as suppressed, in a
 * per-CPU counter: every call either sends or counts exactly once.
 *
 * Why at most RATE events are sent per window, with no lock:
 * - An entry is made only with BPF_NOEXIST, so one CPU makes it, with
 *   count 0, and every other CPU finds that entry. The entry of key w is
 *   deleted only once the clock is past window w + 1 (by the CPU that
 *   makes a later window's entry), and a sender checks the clock again
 *   after its read: if window w has ended it does not send. So every
 *   event sent in window w used the one entry made for w.
 * - A sender adds before it reads, and a CPU that does not send adds 1
 *   and later takes 1 away, never the other way round; so the k-th
 *   sender to add reads at least k. It reads at most the cap <= RATE,
 *   hence k <= RATE.
 * Any T whole seconds meet at most T + 1 windows: at most
 * RATE x (T + 1) events in T seconds, however many CPUs send.
 *
 * Cost per event past the filters: two clock reads, one hash lookup,
 * and (only while the window has room) an atomic add and a read on a
 * shared line. Once a second, the CPU that makes window w's entry
 * deletes entries at least two windows old: w - 2, the window whose
 * entry was made last before w (vns_budget_last) and the window just
 * before that one, so a quiet spell leaves nothing behind. Should the
 * map ever be full, events are suppressed, still counted. */
#define VNS_BUDGET_RATE {{ RATE }}
#define VNS_NSEC_PER_SEC 1000000000ULL

/* Per CPU: only that CPU writes it. */
struct vns_budget {
  u64 suppressed;
};

/* count: adds of this window's events (sent, or about to take theirs
 * back); prev: the previous window's count when this one began. */
struct vns_budget_window {
  u64 count;
  u64 prev;
};

BPF_PERCPU_ARRAY(vns_budget_state, struct vns_budget, 1);
/* Two entries live (this window and the last); room for strays. */
BPF_HASH(vns_budget_windows, u64, struct vns_budget_window, 64);
/* The window whose entry was made last. */
BPF_ARRAY(vns_budget_last, u64, 1);

static __always_inline int vns_budget_suppress(void)
{
  int zero = 0;
  struct vns_budget *b = vns_budget_state.lookup(&zero);
  if (b)
    b->suppressed++;
  return 0;
}

/* Delete window k's entry if it is at least two windows before w: no
 * sender of k is left (see above). */
static __always_inline void vns_budget_forget(u64 k, u64 w)
{
  if (k + 2 <= w)
    vns_budget_windows.delete(&k);
}

static __always_inline struct vns_budget_window *vns_budget_window(u64 w)
{
  struct vns_budget_window *win = vns_budget_windows.lookup(&w);
  if (win)
    return win;
  struct vns_budget_window fresh = {};
  u64 before = w - 1;
  struct vns_budget_window *p = vns_budget_windows.lookup(&before);
  if (p)
    fresh.prev = p->count;
  if (vns_budget_windows.insert(&w, &fresh) == 0) {
    /* Made it: this CPU alone tidies up for window w. */
    int zero = 0;
    u64 *last = vns_budget_last.lookup(&zero);
    if (last) {
      u64 old = *last;
      *last = w;
      vns_budget_forget(old, w);
      vns_budget_forget(old - 1, w);
    }
    vns_budget_forget(w - 2, w);
  }
  /* Made here or by another CPU just now; NULL only if the map is full. */
  return vns_budget_windows.lookup(&w);
}

static __always_inline int vns_budget_take(void)
{
  u64 now = bpf_ktime_get_ns();
  u64 w = now / VNS_NSEC_PER_SEC;
  struct vns_budget_window *win = vns_budget_window(w);
  if (!win)
    return vns_budget_suppress();
  /* The value once in the code: the cache patches one instruction. */
  u64 rate = VNS_BUDGET_RATE;
  u64 prev = win->prev < rate ? win->prev : rate;
  /* prev x (the part of window w - 1 in the last second); < 2^64 as
   * prev <= 10^7 and the part <= 10^9. */
  u64 held = prev * (VNS_NSEC_PER_SEC - (now - w * VNS_NSEC_PER_SEC)) / VNS_NSEC_PER_SEC;
  u64 cap = rate - held;
  /* Full: suppress without writing the shared line. */
  if (*(volatile u64 *)&win->count >= cap)
    return vns_budget_suppress();
  __sync_fetch_and_add(&win->count, 1);
  if (*(volatile u64 *)&win->count > cap || bpf_ktime_get_ns() / VNS_NSEC_PER_SEC != w) {
    __sync_fetch_and_add(&win->count, -1);
    return vns_budget_suppress();
  }
  return 1;
}
