/* tun-ring: the fill level of each tun/tap queue's tx_ring (the ptr_ring
 * toward the reader: vhost-net or a process) each time tun_net_xmit puts
 * a packet in it. Per device and queue: a histogram of the fill level in
 * tenths of the ring; and per flow, the packets that found the ring full
 * (about to be dropped) or at/above the threshold. */
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

int kprobe__tun_net_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
{{ FLOW_FILTER }}
  struct fill_key key = {};
  struct vns_ring_state ring = {};
  if (!vns_tun_xmit_ring(skb, dev, key.dev, &key.queue, &ring) || !ring.size || !({{ CTX_FILTER }}))
    return 0;
  u32 pct = ring.fill * 100 / ring.size;
  key.slot = ring.fill >= ring.size ? 10 : pct / 10;
  u64 none = 0, *n = fill_hist.lookup_or_try_init(&key, &none);
  if (n)
    __sync_fetch_and_add(n, 1);  /* slots are shared by all CPUs */
  struct size_key sk = { .queue = key.queue };
  __builtin_memcpy(sk.dev, key.dev, sizeof(sk.dev));
  ring_size.update(&sk, &ring.size);
  if (pct < THRESHOLD_PCT)
    return 0;
  struct hot_key h = { .queue = key.queue, .full = ring.fill >= ring.size };
  __builtin_memcpy(h.dev, key.dev, sizeof(h.dev));
  struct vns_flow g = {};
  if (vns_flow_from_skb(skb, &g))
    vns_flow_key_of(&h.flow, &g);
  hot_count(&h);
  return 0;
}
