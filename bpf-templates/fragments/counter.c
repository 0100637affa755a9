/* counter.c: count hits per key, exactly, at the cost of a per-CPU array
 * access in the usual case. Pasted by vns.report (report.counter) after
 * the key's struct, once per counting map: BCC rewrites map calls only
 * in the main file, so this cannot be a header.
 *
 *   {{ NAME }}_count(&key);   1 when the key is new to this CPU's counter
 *
 * A hash lookup costs more than everything else a drop-summary hit does
 * (measured in bench/drops: ~130 ns of a ~180 ns hit, against ~40 ns
 * for a per-CPU array element), and a drop storm is mostly a few keys
 * hit over and over. So each CPU has {{ SLOTS }} slots, a direct-mapped
 * cache indexed by a hash of the key computed here: a slot is claimed by
 * the first key that maps to it and is never given to another key, so
 * its count only grows and user space turns it into per-interval counts
 * by difference, with no read-and-clear race. A key whose slot belongs
 * to another key is counted in the per-CPU hash {{ NAME }}, drained each
 * interval. Only the CPU that owns a slot writes it; the key is written
 * before the count leaves 0 (x86 keeps stores in order; the barrier
 * keeps the compiler from reordering them), and user space ignores
 * slots whose count is 0. The key struct's size must be a multiple of 8
 * and its padding zeroed (memset), as for any map key. */
struct {{ NAME }}_slot {
  struct {{ KEY }} key;
  u64 count;
};

BPF_PERCPU_ARRAY({{ NAME }}_slots, struct {{ NAME }}_slot, {{ SLOTS }});
BPF_PERCPU_HASH({{ NAME }}, struct {{ KEY }}, u64, {{ MAX_KEYS }});

static __always_inline int {{ NAME }}_count(struct {{ KEY }} *key)
{
  _Static_assert(sizeof(*key) % 8 == 0, "a counter key is a whole number of u64 words");
  u64 *w = (u64 *)key, h = 0;
#pragma unroll
  for (int i = 0; i < sizeof(*key) / 8; i++)
    h = (h ^ w[i]) * 0x9e3779b97f4a7c15ULL;
  u32 idx = h >> (64 - {{ SLOT_BITS }});
  struct {{ NAME }}_slot *s = {{ NAME }}_slots.lookup(&idx);
  if (s) {
    if (s->count == 0) {
      __builtin_memcpy(&s->key, key, sizeof(*key));
      asm volatile("" ::: "memory");
      s->count = 1;
      return 1;
    }
    u64 *sw = (u64 *)&s->key, differ = 0;
#pragma unroll
    for (int i = 0; i < sizeof(*key) / 8; i++)
      differ |= sw[i] ^ w[i];
    if (!differ) {
      s->count++;
      return 0;
    }
  }
  /* Per-CPU: no atomic add. A key another CPU inserted first is there
   * on the second lookup. */
  u64 *n = {{ NAME }}.lookup(key);
  if (n) {
    (*n)++;
    return 0;
  }
  u64 one = 1;
  if ({{ NAME }}.insert(key, &one) == 0)
    return 1;
  n = {{ NAME }}.lookup(key);
  if (n)
    (*n)++;
  return 0;
}
