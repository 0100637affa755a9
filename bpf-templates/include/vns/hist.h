/* vns/hist.h: histogram slots and running stats, read back by vns.hist.
 *
 *   struct hist_key { u32 label; u32 slot; };
 *   BPF_HASH(hist, struct hist_key, u64, 4096);
 *   BPF_PERCPU_HASH(stats, u32, struct vns_stats, 256);
 *   ...
 *   struct hist_key k = { .label = 1, .slot = vns_log2_slot(delta / 1000) };
 *   u64 none = 0, *n = hist.lookup_or_try_init(&k, &none);
 *   if (n)
 *     __sync_fetch_and_add(n, 1);
 *   struct vns_stats zero = {}, *s = stats.lookup_or_try_init(&k.label, &zero);
 *   if (s)
 *     vns_stats_add(s, delta);
 *
 * Not hist.increment(k): on a shared hash BCC makes that a plain += (two
 * CPUs lose a count) and a first insert that can fail under a race.
 * (BCC rewrites map calls only outside macros, so that part is spelled
 * out in each program.)
 */
#ifndef VNS_HIST_H
#define VNS_HIST_H

#include <vns/common.h>

/* The log2 slot of v, numbered as BCC's bpf_log2l does so the output
 * reads the same: 0 and 1 in slot 1, then [2^(s-1), 2^s - 1] in slot s.
 * Branch-free of loops: six halvings. */
static __always_inline u32 vns_log2_slot(u64 v)
{
  u32 s = 0;
  if (v >> 32) { s += 32; v >>= 32; }
  if (v >> 16) { s += 16; v >>= 16; }
  if (v >> 8) { s += 8; v >>= 8; }
  if (v >> 4) { s += 4; v >>= 4; }
  if (v >> 2) { s += 2; v >>= 2; }
  if (v >> 1) { s += 1; }
  return s + 1;
}

/* The linear slot of v: v / step, the last of nslots also taking every
 * larger value. */
static __always_inline u32 vns_linear_slot(u64 v, u64 step, u32 nslots)
{
  u64 s = v / step;
  return s < nslots ? s : nslots - 1;
}

/* count, sum, min and max of what was recorded, for the mean and exact
 * extremes the buckets can only estimate. Kept per CPU: plain stores. */
struct vns_stats {
  u64 count;
  u64 sum;
  u64 min;
  u64 max;
};

static __always_inline void vns_stats_add(struct vns_stats *s, u64 v)
{
  if (s->count == 0 || v < s->min)
    s->min = v;
  if (v > s->max)
    s->max = v;
  s->count++;
  s->sum += v;
}

#endif
