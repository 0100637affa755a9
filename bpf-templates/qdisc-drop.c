/* qdisc-drop: packets the traffic-control layer dropped, per device, root
 * qdisc and reason, with the flows they belonged to. Two ways to see them:
 *  - tracepoint: skb:kfree_skb with a qdisc drop reason (6.x kernels);
 *  - kprobe: __dev_queue_xmit returning NET_XMIT_DROP (older kernels). */
#include <net/sch_generic.h>
#include <vns/dev.h>
#include <vns/flow.h>

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

BPF_HASH(drops, struct drop_key, u64, 1024);
BPF_HASH(flows, struct flow_key, u64, {{ MAX_FLOWS }});
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
  drops.increment(p->key);
  if (p->has_flow)
    flows.increment(p->flow);
}

{{ DROP_PROBES }}
