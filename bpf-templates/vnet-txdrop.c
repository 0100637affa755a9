/* vnet-txdrop: every packet a tun/tap device drops in tun_net_xmit (its
 * TX: toward the VM or the reader), with its cause, the queue's ring fill
 * level and how long ago the queue's reader last took a packet.
 *
 * tun_net_xmit's entry notes, per CPU, the skb, device, queue and ring
 * state; its return counts a drop when it returns NET_XMIT_DROP, which it
 * does exactly where it adds to the device's tx_dropped. The cause:
 *  - reasons variant (5.17+): the reason of the skb:kfree_skb of that skb
 *    inside tun_net_xmit (FULL_RING, TAP_FILTER, SOCKET_FILTER, ...);
 *  - kprobe variant (older): from the state at entry (no queue, ring full,
 *    a tap MAC filter set; otherwise a socket/eBPF filter or zero-copy). */
#include <vns/tp.h>
#include <vns/tun_layout.h>

{{ TRACEPOINTS }}
{{ LAYOUT_CHECKS }}

#define VARIANT_REASONS {{ VARIANT_REASONS }}

/* Causes told from the entry state (reason codes are below 1000). */
#define CAUSE_NOT_READY 1001
#define CAUSE_RING_FULL 1002
#define CAUSE_TAP_FILTER 1003
#define CAUSE_OTHER_FILTER 1004

struct drop_key {
  char dev[16] __attribute__((aligned(8)));
  u32 queue;
  u32 cause;
};

/* Beside each count: the ring when it happened and the reader's lag. */
struct drop_ctx {
  u32 fill_max;
  u32 size;
  u64 lag_max_ns;
  u64 never_read; /* drops while the queue's reader had taken nothing since start */
};

struct pending {
  struct sk_buff *skb;
  void *tfile;
  struct drop_key key;
  struct vns_ring_state ring;
  u32 txflt_count;
  u32 reason;
};

{{ DROP_COUNTER }}
BPF_PERCPU_ARRAY(pending_xmit, struct pending, 1);
BPF_HASH(drop_ctx, struct drop_key, struct drop_ctx, 1024);
/* tun_file -> when its reader (vhost-net, a process) last took a packet. */
BPF_HASH(last_read, u64, u64, 4096);

int kprobe__tun_do_read(struct pt_regs *ctx, void *tun, void *tfile)
{
  u64 key = (u64)tfile, now = bpf_ktime_get_ns();
  last_read.update(&key, &now);
  return 0;
}

int kprobe__tun_net_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
  u32 zero = 0;
  struct pending *p = pending_xmit.lookup(&zero);
  if (!p)
    return 0;
  p->skb = NULL;
  struct drop_key key = {};
  struct vns_ring_state ring = {};
  struct vns_tun_file *tfile = vns_tun_xmit_ring(skb, dev, key.dev, &key.queue, &ring);
  if (!({{ CTX_FILTER }}))
    return 0;
  u32 txflt = 0;
  vns_read(&txflt, sizeof(txflt), &vns_tun_of(dev)->txflt_count);
  p->key = key;
  p->tfile = tfile;
  p->ring = ring;
  p->txflt_count = txflt;
  p->reason = 0;
  p->skb = skb;
  return 0;
}

#if VARIANT_REASONS
static __always_inline int note_reason(struct sk_buff *skb, u32 reason)
{
  u32 zero = 0;
  struct pending *p = pending_xmit.lookup(&zero);
  if (p && p->skb && p->skb == skb)
    p->reason = reason;
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  return note_reason(VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, reason));
}
#endif

static __always_inline u32 cause_at_entry(struct pending *p)
{
  if (!p->tfile)
    return CAUSE_NOT_READY;
  if (p->ring.size && p->ring.fill >= p->ring.size)
    return CAUSE_RING_FULL;
  if (p->txflt_count)
    return CAUSE_TAP_FILTER;
  return CAUSE_OTHER_FILTER;
}

static __always_inline void note_context(struct pending *p)
{
  struct drop_ctx zero = {}, *c;
  drop_ctx.insert(&p->key, &zero);
  c = drop_ctx.lookup(&p->key);
  if (!c)
    return;
  if (p->ring.fill > c->fill_max)
    c->fill_max = p->ring.fill;
  c->size = p->ring.size;
  u64 key = (u64)p->tfile;
  u64 *seen = last_read.lookup(&key);
  if (!seen) {
    __sync_fetch_and_add(&c->never_read, 1);
    return;
  }
  u64 lag = bpf_ktime_get_ns() - *seen;
  if (lag > c->lag_max_ns)
    c->lag_max_ns = lag;
}

int kretprobe__tun_net_xmit(struct pt_regs *ctx)
{
  u32 zero = 0;
  struct pending *p = pending_xmit.lookup(&zero);
  if (!p || !p->skb)
    return 0;
  p->skb = NULL;
  if (PT_REGS_RC(ctx) != 1 /* NET_XMIT_DROP */)
    return 0;
  p->key.cause = p->reason ? p->reason : cause_at_entry(p);
  drops_count(&p->key);
  note_context(p);
  return 0;
}
