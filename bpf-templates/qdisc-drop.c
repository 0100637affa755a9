/* qdisc-drop: packets the traffic-control layer dropped, per device, root
 * qdisc and reason, with the flows they belonged to. Two ways to see them:
 *  - tracepoint: skb:kfree_skb with a qdisc drop reason (6.x kernels),
 *    a raw tracepoint where the kernel has them (vns/tp.h);
 *  - kprobe: __dev_queue_xmit returning NET_XMIT_DROP (older kernels).
 * Counts are per CPU; user space sums them. */
#include <net/sch_generic.h>
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>

{{ TRACEPOINTS }}

/* 1: the kprobe variant; 0: the tracepoint variant. */
#define VARIANT_KPROBE {{ VARIANT_KPROBE }}
/* Tracepoint variant: the qdisc drop reasons of this kernel, as a bit
 * set over codes 0-255 (bit c of word c / 64). */
#define REASONS_0 {{ REASONS_0 }}
#define REASONS_1 {{ REASONS_1 }}
#define REASONS_2 {{ REASONS_2 }}
#define REASONS_3 {{ REASONS_3 }}

struct drop_key {
  char dev[16];
  char kind[16];
  u32 handle;
  u32 reason;
};

struct flow_key {
  char dev[16];
  struct vns_flow_key flow;
};

{{ DROP_COUNTER }}
{{ FLOW_COUNTER }}
{{ FILTER_MAPS }}

/* The root qdisc of the skb's device: kind and handle. */
static __always_inline void root_qdisc(struct sk_buff *skb, struct drop_key *key)
{
  struct net_device *dev = NULL;
  struct Qdisc *q = NULL;
  const struct Qdisc_ops *ops = NULL;
  vns_read(&dev, sizeof(dev), &skb->dev);
  if (!dev)
    return;
  vns_read(&q, sizeof(q), &dev->qdisc);
  if (!q)
    return;
  vns_read(&key->handle, sizeof(key->handle), &q->handle);
  vns_read(&ops, sizeof(ops), &q->ops);
  if (ops)
    vns_read(key->kind, sizeof(key->kind), ops->id);
}

struct pending {
  struct drop_key key;
  struct flow_key flow;
  u32 has_flow;
};

/* What a drop of this skb counts under, if it passes the filters. */
static __always_inline int drop_of(struct sk_buff *skb, struct pending *p)
{
{{ FLOW_FILTER }}
  vns_skb_devname(skb, p->key.dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  root_qdisc(skb, &p->key);
  struct vns_flow g = {};
  if (vns_flow_from_skb(skb, &g)) {
    __builtin_memcpy(p->flow.dev, p->key.dev, sizeof(p->flow.dev));
    vns_flow_key_of(&p->flow.flow, &g);
    p->has_flow = 1;
  }
  return 1;
}

static __always_inline void count(struct pending *p)
{
  drops_count(&p->key);
  if (p->has_flow)
    flows_count(&p->flow);
}

#if !VARIANT_KPROBE
static __always_inline int is_qdisc_reason(u32 r)
{
  u64 word = r < 64 ? REASONS_0 : r < 128 ? REASONS_1 : r < 192 ? REASONS_2 : r < 256 ? REASONS_3 : 0;
  return (word >> (r & 63)) & 1;
}

static __always_inline int tracepoint_drop(struct sk_buff *skb, u32 reason)
{
  if (!is_qdisc_reason(reason))
    return 0;
  struct pending p = { .key = { .reason = reason } };
  if (drop_of(skb, &p))
    count(&p);
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  return tracepoint_drop(VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, reason));
}
#else
/* The skb is freed before __dev_queue_xmit returns: what a drop would
 * count under is taken on entry, per thread, and counted on NET_XMIT_DROP. */
BPF_HASH(xmit_pending, u64, struct pending, 10240);

int kprobe____dev_queue_xmit(struct pt_regs *ctx, struct sk_buff *skb)
{
  struct pending p = {};
  if (!drop_of(skb, &p))
    return 0;
  u64 id = vns_call_key();
  xmit_pending.update(&id, &p);
  return 0;
}

int kretprobe____dev_queue_xmit(struct pt_regs *ctx)
{
  u64 id = vns_call_key();
  struct pending *p = xmit_pending.lookup(&id);
  if (!p)
    return 0;
  if (PT_REGS_RC(ctx) == 1 /* NET_XMIT_DROP */)
    count(p);
  xmit_pending.delete(&id);
  return 0;
}
#endif
