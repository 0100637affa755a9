/* macvtap-drops: every RX drop of a macvtap (tap) device, by the path of
 * tap_handle_frame that dropped it, and the fill level of its queues.
 *
 * The device's RX dropped grows only in tap_handle_frame, through
 * tap->count_rx_dropped (macvtap_count_rx_dropped): that call is where a
 * drop is counted here, so the totals equal the counter's increase. The
 * path: on 5.17+ the reason of the skb:kfree_skb that follows it
 * (FULL_RING, SKB_GSO_SEG, SKB_CSUM); on older kernels what happened
 * inside this tap_handle_frame (__skb_gso_segment or skb_checksum_help
 * failed; no queue; otherwise the ring was full). struct tap_dev and
 * struct tap_queue are public (linux/if_tap.h); the tap is the device's
 * rx_handler_data. */
#include <vns/tp.h>
#include <vns/common.h>
#if __has_include(<linux/if_tap.h>)
#include <linux/if_tap.h>
#endif
#include <vns/ring.h>

{{ TRACEPOINTS }}

#define VARIANT_REASONS {{ VARIANT_REASONS }}
/* Queues whose fill level is sampled per frame. */
#define MAX_QUEUES 8
#define QUEUE_UNKNOWN 0xffff

#define CAUSE_NO_QUEUE 1001
#define CAUSE_RING_FULL 1002
#define CAUSE_GSO 1003
#define CAUSE_CSUM 1004

struct drop_key {
  char dev[16] __attribute__((aligned(8)));
  u32 queue;
  u32 cause;
};

struct fill_key {
  char dev[16];
  u32 queue;
};

struct fill_val {
  u32 max, last, size, frames;
};

struct pending {
  struct sk_buff *skb;
  struct drop_key key;
  u32 counted, reason, gso_failed, csum_failed, numvtaps, full_queue;
};

{{ DROP_COUNTER }}
BPF_PERCPU_ARRAY(pending_frame, struct pending, 1);
BPF_HASH(fill, struct fill_key, struct fill_val, 1024);

static __always_inline struct pending *pending_get(void)
{
  u32 zero = 0;
  return pending_frame.lookup(&zero);
}

/* Sample each queue's ring; note the first full one. */
static __always_inline void sample_queues(struct tap_dev *tap, struct pending *p)
{
  int n = 0;
  vns_read(&n, sizeof(n), &tap->numvtaps);
  p->numvtaps = n;
  p->full_queue = QUEUE_UNKNOWN;
#pragma unroll
  for (int i = 0; i < MAX_QUEUES; i++) {
    if (i >= n)
      break;
    struct tap_queue *q = NULL;
    vns_read(&q, sizeof(q), &tap->taps[i]);
    if (!q)
      continue;
    struct vns_ring_state st = {};
    vns_ring_state(&q->ring, &st);
    if (st.size && st.fill >= st.size && p->full_queue == QUEUE_UNKNOWN)
      p->full_queue = i;
    struct fill_key fk = { .queue = i };
    __builtin_memcpy(fk.dev, p->key.dev, sizeof(fk.dev));
    struct fill_val zero = {}, *v;
    fill.insert(&fk, &zero);
    v = fill.lookup(&fk);
    if (!v)
      continue;
    v->last = st.fill;
    v->size = st.size;
    if (st.fill > v->max)
      v->max = st.fill;
    __sync_fetch_and_add(&v->frames, 1);
  }
}

int kprobe__tap_handle_frame(struct pt_regs *ctx, struct sk_buff **pskb)
{
  struct pending *p = pending_get();
  if (!p)
    return 0;
  p->skb = NULL;
  struct sk_buff *skb = NULL;
  vns_read(&skb, sizeof(skb), pskb);
  struct net_device *dev = NULL;
  if (skb)
    vns_read(&dev, sizeof(dev), &skb->dev);
  if (!dev)
    return 0;
  struct drop_key key = {};
  vns_read(key.dev, sizeof(key.dev), dev->name);
  if (!({{ CTX_FILTER }}))
    return 0;
  struct tap_dev *tap = NULL;
  vns_read(&tap, sizeof(tap), &dev->rx_handler_data);
  if (!tap)
    return 0;
  p->key = key;
  p->counted = p->reason = p->gso_failed = p->csum_failed = 0;
  sample_queues(tap, p);
  p->skb = skb;
  return 0;
}

/* The one place the device's RX dropped grows. */
int kprobe__macvtap_count_rx_dropped(struct pt_regs *ctx)
{
  struct pending *p = pending_get();
  if (p && p->skb)
    p->counted = 1;
  return 0;
}

#if VARIANT_REASONS
static __always_inline int note_reason(u32 reason)
{
  struct pending *p = pending_get();
  if (p && p->skb && p->counted && !p->reason)
    p->reason = reason;
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  return note_reason(VNS_ARG(kfree_skb, reason));
}
#else
int kretprobe____skb_gso_segment(struct pt_regs *ctx)
{
  struct pending *p = pending_get();
  long rc = PT_REGS_RC(ctx);
  if (p && p->skb && rc < 0 && rc >= -4095)
    p->gso_failed = 1;
  return 0;
}

int kretprobe__skb_checksum_help(struct pt_regs *ctx)
{
  struct pending *p = pending_get();
  if (p && p->skb && PT_REGS_RC(ctx) != 0)
    p->csum_failed = 1;
  return 0;
}
#endif

static __always_inline u32 cause_of(struct pending *p)
{
  if (p->reason)
    return p->reason;
  if (p->gso_failed)
    return CAUSE_GSO;
  if (p->csum_failed)
    return CAUSE_CSUM;
  if (!p->numvtaps)
    return CAUSE_NO_QUEUE;
  return CAUSE_RING_FULL;
}

int kretprobe__tap_handle_frame(struct pt_regs *ctx)
{
  struct pending *p = pending_get();
  if (!p || !p->skb)
    return 0;
  p->skb = NULL;
  if (!p->counted)
    return 0;
  p->key.cause = cause_of(p);
  p->key.queue = p->full_queue;
  drops_count(&p->key);
  return 0;
}
