/* tun-ring: the fill level of each tun/tap queue's tx_ring (the ptr_ring
 * toward the reader: vhost-net or a process) each time tun_net_xmit puts
 * a packet in it. Per device and queue: a histogram of the fill level in
 * tenths of the ring, the last slot being the packets tun dropped for a
 * full ring; and per flow, the packets dropped so or that found the ring
 * at/above the threshold. */
#include <vns/tun_layout.h>
#include <vns/flow.h>
#include <vns/hist.h>

{{ LAYOUT_CHECKS }}

/* Fill level percent at or above which a packet's flow is counted. */
#define THRESHOLD_PCT {{ THRESHOLD_PCT }}

struct fill_key {
  char dev[16] __attribute__((aligned(8)));
  u32 queue;
  u32 slot; /* fill / size in tenths, 10 = full */
};

struct hot_key {
  char dev[16];
  u32 queue;
  u32 full;
  struct vns_flow_key flow;
};

struct size_key {
  char dev[16];
  u32 queue;
};

BPF_HASH(fill_hist, struct fill_key, u64, 4096);
BPF_HASH(ring_size, struct size_key, u32, 1024);
{{ HOT_COUNTER }}
{{ FILTER_MAPS }}

/* A packet between tun_net_xmit's entry and its return (per CPU: tun
 * sends with BHs off, so it does not nest on a CPU). */
struct xmit_pending {
  struct vns_tun_xmit x;
  u32 pct;
  struct fill_key key;
  struct hot_key hot;
};
BPF_PERCPU_ARRAY(xmit_pending, struct xmit_pending, 1);

/* The flow is read at the entry (the skb may be freed by the return) when
 * the packet may count as hot: at or above the threshold, or in the last
 * tenth (a full ring's drop). */
#define FLOW_PCT (THRESHOLD_PCT < 90 ? THRESHOLD_PCT : 90)

int kprobe__tun_net_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
  u32 zero = 0;
  struct xmit_pending *p = xmit_pending.lookup(&zero);
  if (!p)
    return 0;
  p->x.skb = 0;
{{ FLOW_FILTER }}
  struct fill_key key = {};
  struct vns_ring_state ring = {};
  if (!vns_tun_xmit_ring(skb, dev, key.dev, &key.queue, &ring) || !ring.size || !({{ CTX_FILTER }}))
    return 0;
  u32 pct = ring.fill * 100 / ring.size;
  key.slot = pct >= 100 ? 9 : pct / 10; /* full (10) is the outcome's */
  struct size_key sk = { .queue = key.queue };
  __builtin_memcpy(sk.dev, key.dev, sizeof(sk.dev));
  ring_size.update(&sk, &ring.size);
  p->key = key;
  p->pct = pct;
  __builtin_memset(&p->hot, 0, sizeof(p->hot));
  p->hot.queue = key.queue;
  __builtin_memcpy(p->hot.dev, key.dev, sizeof(p->hot.dev));
  struct vns_flow g = {};
  if (pct >= FLOW_PCT && vns_flow_from_skb(skb, &g))
    vns_flow_key_of(&p->hot.flow, &g);
  vns_tun_xmit_begin(&p->x, skb, dev);
  return 0;
}

/* The slot and the flow's state from the outcome (vns_tun_xmit_end). */
int kretprobe__tun_net_xmit(struct pt_regs *ctx)
{
  u32 zero = 0;
  struct xmit_pending *p = xmit_pending.lookup(&zero);
  int full = p ? vns_tun_xmit_end(&p->x, ctx) : -1;
  if (full < 0)
    return 0;
  if (full)
    p->key.slot = 10;
  u64 none = 0, *n = fill_hist.lookup_or_try_init(&p->key, &none);
  if (n)
    __sync_fetch_and_add(n, 1);  /* slots are shared by all CPUs */
  if (!full && p->pct < THRESHOLD_PCT)
    return 0;
  p->hot.full = full;
  hot_count(&p->hot);
  return 0;
}
