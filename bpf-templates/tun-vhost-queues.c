/* tun-vhost-queues: per tun/tap queue, the producer (tun_net_xmit putting
 * packets in the queue's ring) against its consumer (vhost-net's
 * handle_rx runs taking them into the guest's RX virtqueue, and the
 * signals to the guest), summed in the kernel per queue. See
 * fragments/vhost_rx.c for what a run is. */
#include <vns/vhost_layout.h>

{{ VHOST_RX }}

{{ LAYOUT_CHECKS }}

struct q_key {
  char dev[16] __attribute__((aligned(8)));
  u32 queue;
  u32 pad;
};

/* Sums since the map was last drained (added atomically: several CPUs
 * write one queue's entry), and the last values seen. */
struct q_stats {
  u64 xmit;        /* packets tun_net_xmit put toward the ring */
  u64 full;        /* of which tun dropped for a full ring (at its return) */
  u64 fill_sum;    /* ring fill at each xmit, summed (average) */
  u64 runs;        /* handle_rx runs */
  u64 idle_runs;   /* runs that took no packet */
  u64 starved;     /* runs that stopped for want of guest buffers */
  u64 taken;       /* packets the runs took */
  u64 used;        /* used entries they gave the guest */
  u64 decisions;   /* signal decisions */
  u64 signals;     /* signals to the guest */
  u64 run_ns;      /* time inside the runs */
  u32 fill_max;    /* fullest ring seen at an xmit */
  u32 size;        /* ring size */
  u32 taken_max;   /* most packets one run took */
  u32 fill_last;   /* ring fill at the last xmit */
  u16 avail_idx;   /* at the end of the last run: guest avail->idx */
  u16 last_avail;  /*   vhost's next avail entry */
  u16 used_idx;    /*   used->idx */
  u16 avail_flags; /*   guest avail->flags */
  u16 used_event;  /*   guest used_event (EVENT_IDX) */
  u16 event_idx;
  u32 pad;
};

BPF_HASH(queues, struct q_key, struct q_stats, 4096);

/* The packet tun_net_xmit is sending on this CPU, for its return. */
struct xmit_pending {
  struct vns_tun_xmit x;
  struct q_key k;
};
BPF_PERCPU_ARRAY(xmit_pending, struct xmit_pending, 1);

static __always_inline struct q_stats *stats_of(struct q_key *k)
{
  struct q_stats zero = {};
  return queues.lookup_or_try_init(k, &zero);
}

int kprobe__tun_net_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
  u32 zero = 0;
  struct xmit_pending *p = xmit_pending.lookup(&zero);
  if (!p)
    return 0;
  p->x.skb = 0;
  struct q_key k = {};
  struct vns_ring_state ring = {};
  if (!vns_tun_xmit_ring(skb, dev, k.dev, &k.queue, &ring) || !ring.size || !({{ CTX_FILTER }}))
    return 0;
  struct q_stats *s = stats_of(&k);
  if (!s)
    return 0;
  __sync_fetch_and_add(&s->xmit, 1);
  __sync_fetch_and_add(&s->fill_sum, ring.fill);
  if (ring.fill > s->fill_max)
    s->fill_max = ring.fill; /* a racing larger value may be lost: a peak, not a count */
  s->size = ring.size;
  s->fill_last = ring.fill;
  p->k = k;
  vns_tun_xmit_begin(&p->x, skb, dev);
  return 0;
}

/* The ring full is counted from the outcome (vns_tun_xmit_end). */
int kretprobe__tun_net_xmit(struct pt_regs *ctx)
{
  u32 zero = 0;
  struct xmit_pending *p = xmit_pending.lookup(&zero);
  if (!p || vns_tun_xmit_end(&p->x, ctx) != 1)
    return 0;
  struct q_stats *s = stats_of(&p->k);
  if (s)
    __sync_fetch_and_add(&s->full, 1);
  return 0;
}

int kprobe__vhost_disable_notify(struct pt_regs *ctx, void *vdev, void *vq)
{
  vns_rx_vq(vq);
  return 0;
}

int kprobe__tun_recvmsg(struct pt_regs *ctx)
{
  struct vns_rx_run *run = vns_rx_current();
  if (run)
    run->taken++;
  return 0;
}

int kprobe__vhost_enable_notify(struct pt_regs *ctx, void *vdev, void *vq)
{
  struct vns_rx_run *run = vns_rx_vq(vq);
  if (run)
    run->no_buffers++;
  return 0;
}

/* The run's counts already hold the decision's (vns_rx_run). */
static __always_inline void vns_rx_decided(struct pt_regs *ctx, struct vns_rx_run *run, u32 used, u32 signalled) {}

int kretprobe__handle_rx(struct pt_regs *ctx)
{
  struct vns_rx_run *run = vns_rx_current();
  if (!run)
    return 0;
  struct q_key k = { .queue = run->queue };
  __builtin_memcpy(k.dev, run->dev, sizeof(k.dev));
  u64 vq = run->vq, ns = bpf_ktime_get_ns() - run->start_ns;
  u32 taken = run->taken, used = run->used, decisions = run->decisions, signals = run->signals;
  u32 starved = run->no_buffers > 0, wanted = run->wanted;
  vns_rx_end();
  if (!vq || !wanted || !({{ CTX_FILTER }}))
    return 0;
  struct vns_vq_state st = {};
  vns_vq_state((struct vns_vhost_virtqueue *)vq, &st);
  struct q_stats *s = stats_of(&k);
  if (!s)
    return 0;
  __sync_fetch_and_add(&s->runs, 1);
  if (!taken)
    __sync_fetch_and_add(&s->idle_runs, 1);
  __sync_fetch_and_add(&s->starved, starved);
  __sync_fetch_and_add(&s->taken, taken);
  __sync_fetch_and_add(&s->used, used);
  __sync_fetch_and_add(&s->decisions, decisions);
  __sync_fetch_and_add(&s->signals, signals);
  __sync_fetch_and_add(&s->run_ns, ns);
  if (taken > s->taken_max)
    s->taken_max = taken;
  s->avail_idx = st.avail_idx;
  s->last_avail = st.last_avail;
  s->used_idx = st.used_idx;
  s->avail_flags = st.avail_flags;
  s->used_event = st.used_event;
  s->event_idx = st.event_idx;
  return 0;
}
