/* virtio-irq: per IRQ of a virtio-net device and per CPU: handler calls,
 * what the handler returned (IRQ_NONE: nobody claimed the interrupt),
 * the handler's duration and the time since the IRQ's previous
 * interrupt, as log2 histograms.
 * User space fills `irqs` (IRQ number -> slot) before attaching, with
 * the IRQs it found by name in /proc/interrupts; any other IRQ costs one
 * map lookup. Hard IRQ handlers do not nest on a CPU, so one per-CPU
 * entry time is enough. */
#include <vns/tp.h>
#include <vns/hist.h>

{{ TRACEPOINTS }}

#define MAX_IRQS {{ MAX_IRQS }}
#define SLOTS 64
/* Histogram unit: the divisor of nanoseconds (--unit). */
#define UNIT_NS {{ UNIT_NS }}

struct irq_counts {
  u64 calls;
  u64 handled;
  u64 none;
};

struct entry {
  u64 ts;
  u32 slot;
  u32 valid;
};

BPF_HASH(irqs, u32, u32, MAX_IRQS);
BPF_PERCPU_ARRAY(counts, struct irq_counts, MAX_IRQS);
BPF_PERCPU_ARRAY(duration, u64, MAX_IRQS * SLOTS);
BPF_PERCPU_ARRAY(gap, u64, MAX_IRQS * SLOTS);
BPF_PERCPU_ARRAY(entered, struct entry, 1);
/* The last interrupt of each IRQ, any CPU: a racy store is one sample. */
BPF_ARRAY(last_seen, u64, MAX_IRQS);

static __always_inline void hist_add(void *map_lookup_result)
{
  u64 *c = map_lookup_result;
  if (c)
    (*c)++;
}

static __always_inline int handler_entry(u32 irq)
{
  u32 *slot = irqs.lookup(&irq);
  if (!slot)
    return 0;
  u32 s = *slot, zero = 0;
  if (s >= MAX_IRQS)
    return 0;
  u64 now = bpf_ktime_get_ns();
  struct entry *e = entered.lookup(&zero);
  if (e) {
    e->ts = now;
    e->slot = s;
    e->valid = 1;
  }
  u64 *last = last_seen.lookup(&s);
  if (last) {
    if (*last) {
      u32 g = s * SLOTS + vns_log2_slot((now - *last) / UNIT_NS);
      if (g < MAX_IRQS * SLOTS)
        hist_add(gap.lookup(&g));
    }
    *last = now;
  }
  return 0;
}

static __always_inline int handler_exit(u32 irq, int ret)
{
  u32 zero = 0;
  struct entry *e = entered.lookup(&zero);
  if (!e || !e->valid)
    return 0;
  u32 *slot = irqs.lookup(&irq);
  if (!slot || *slot != e->slot)
    return 0;
  e->valid = 0;
  u32 s = e->slot;
  struct irq_counts *c = counts.lookup(&s);
  if (c) {
    c->calls++;
    if (ret == 0)
      c->none++;
    else
      c->handled++;
  }
  u32 d = s * SLOTS + vns_log2_slot((bpf_ktime_get_ns() - e->ts) / UNIT_NS);
  if (d < MAX_IRQS * SLOTS)
    hist_add(duration.lookup(&d));
  return 0;
}

VNS_TP(irq, irq_handler_entry)
{
  return handler_entry(VNS_ARG(irq_handler_entry, irq));
}

VNS_TP(irq, irq_handler_exit)
{
  return handler_exit(VNS_ARG(irq_handler_exit, irq), VNS_ARG(irq_handler_exit, ret));
}
