/* budget.c: the event budget of details tools (--max-events-per-sec),
 * pasted into the program by vns.budget: BCC rewrites map calls only in
 * the main file, so this cannot be a header.
 *
 * A token bucket per CPU, so CPUs never contend: each refills at
 * VNS_BUDGET_RATE events per second up to VNS_BUDGET_BURST, and an event
 * without a token is counted as suppressed instead of sent.
 *
 *   if (!vns_budget_take())
 *     return 0;
 *   events.perf_submit(ctx, &ev, sizeof(ev));
 *
 * Take the token last, after every filter: a packet that would not be
 * reported must not spend one. */
#define VNS_BUDGET_RATE {{ RATE }}
#define VNS_BUDGET_BURST {{ BURST }}
#define VNS_NSEC_PER_SEC 1000000000ULL

/* credit counts events x 1e9, so refilling needs no division. */
struct vns_budget {
  u64 credit;
  u64 last_ns;
  u64 suppressed;
};

BPF_PERCPU_ARRAY(vns_budget_state, struct vns_budget, 1);

static __always_inline int vns_budget_take(void)
{
  int zero = 0;
  struct vns_budget *b = vns_budget_state.lookup(&zero);
  if (!b)
    return 0;
  u64 now = bpf_ktime_get_ns();
  u64 elapsed = now - b->last_ns;
  /* A second refills the bucket: cap there, which also keeps the
   * product below 2^64 and fills it on the first call (last_ns 0). */
  if (elapsed > VNS_NSEC_PER_SEC)
    elapsed = VNS_NSEC_PER_SEC;
  u64 credit = b->credit + elapsed * VNS_BUDGET_RATE;
  /* Each value once in the code: the cache patches one instruction. */
  u64 full = VNS_BUDGET_BURST * VNS_NSEC_PER_SEC;
  if (credit > full)
    credit = full;
  b->last_ns = now;
  if (credit < VNS_NSEC_PER_SEC) {
    b->credit = credit;
    b->suppressed++;
    return 0;
  }
  b->credit = credit - VNS_NSEC_PER_SEC;
  return 1;
}

