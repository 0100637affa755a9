/* vhost-queue-trace: for one tun/tap queue, one event per step of the
 * host -> guest path, in time order: tun_net_xmit (the packet into the
 * queue's ring, with its fill level), the vhost-net handle_rx run
 * beginning and ending, each packet it takes (tun_recvmsg), the notify
 * decision when the guest has no buffer left (vhost_enable_notify), and
 * each signal decision (vhost_add_used_and_signal_n: used entries given,
 * signalled or suppressed), with the virtqueue's state as vhost and the
 * guest see it (avail flags and idx, used_event, used idx) read from the
 * guest's memory. Under the event budget. See fragments/vhost_rx.c. */
#include <vns/vhost_layout.h>
{{ BUDGET }}
{{ VHOST_RX }}
{{ LAYOUT_CHECKS }}

enum { EV_XMIT = 1, EV_RUN = 2, EV_RECV = 3, EV_NOTIFY = 4, EV_SIGNAL = 5, EV_RUN_END = 6 };

struct event {
  u64 ts_ns;
  u32 kind;
  u32 tid;
  u32 queue;
  u32 count;       /* xmit: packet length; recv: bytes asked; signal: used entries; run end: packets */
  u32 fill;        /* xmit: ring fill before this packet */
  u32 size;        /* xmit: ring size */
  u32 signalled;   /* signal: 1 signalled the guest, 0 suppressed */
  u32 num;         /* virtqueue size */
  u32 last_avail;  /* vhost's next avail entry */
  u32 last_used;   /* vhost's next used entry */
  u32 avail_idx;   /* guest avail->idx */
  u32 avail_flags; /* guest avail->flags */
  u32 used_event;  /* guest used_event (EVENT_IDX) */
  u32 used_idx;    /* used->idx */
  u32 event_idx;
  u32 cpu;
  char comm[16];
  char dev[16] __attribute__((aligned(8)));
};

{{ EVENTS }}

/* One event of the run's queue, with the virtqueue's state when vq is
 * given (NULL for a tun_recvmsg: nothing of the ring moved yet). */
static __always_inline int emit(void *ctx, u32 kind, struct vns_rx_run *run, void *vq, u32 count, u32 signalled)
{
  struct event ev = { .kind = kind, .queue = run->queue, .count = count, .signalled = signalled };
  __builtin_memcpy(ev.dev, run->dev, sizeof(ev.dev));
  if (!({{ CTX_FILTER }}))
    return 0;
  if (!vns_budget_take())
    return 0;
  if (vq) {
    struct vns_vq_state st = {};
    vns_vq_state((struct vns_vhost_virtqueue *)vq, &st);
    ev.num = st.num;
    ev.last_avail = st.last_avail;
    ev.last_used = st.last_used;
    ev.avail_idx = st.avail_idx;
    ev.avail_flags = st.avail_flags;
    ev.used_event = st.used_event;
    ev.used_idx = st.used_idx;
    ev.event_idx = st.event_idx;
  }
  ev.ts_ns = bpf_ktime_get_ns();
  ev.tid = vns_tid();
  ev.cpu = bpf_get_smp_processor_id();
  bpf_get_current_comm(ev.comm, sizeof(ev.comm));
  {{ SUBMIT }}
  return 0;
}

int kprobe__tun_net_xmit(struct pt_regs *ctx, struct sk_buff *skb, struct net_device *dev)
{
  struct event ev = {};
  struct vns_ring_state ring = {};
  if (!vns_tun_xmit_ring(skb, dev, ev.dev, &ev.queue, &ring) || !({{ CTX_FILTER }}))
    return 0;
  if (!vns_budget_take())
    return 0;
  ev.kind = EV_XMIT;
  ev.fill = ring.fill;
  ev.size = ring.size;
  vns_read(&ev.count, sizeof(ev.count), &skb->len);
  ev.ts_ns = bpf_ktime_get_ns();
  ev.tid = vns_tid();
  ev.cpu = bpf_get_smp_processor_id();
  bpf_get_current_comm(ev.comm, sizeof(ev.comm));
  {{ SUBMIT }}
  return 0;
}

/* The run's first look at its virtqueue: the run begins (for this queue). */
int kprobe__vhost_disable_notify(struct pt_regs *ctx, void *vdev, void *vq)
{
  struct vns_rx_run *run = vns_rx_current();
  if (!run || run->vq)
    return 0;
  run = vns_rx_vq(vq);
  if (run && run->wanted)
    emit(ctx, EV_RUN, run, vq, 0, 0);
  return 0;
}

int kprobe__tun_recvmsg(struct pt_regs *ctx, void *sock, void *msg, size_t len)
{
  struct vns_rx_run *run = vns_rx_current();
  if (!run || !run->wanted)
    return 0;
  run->taken++;
  emit(ctx, EV_RECV, run, NULL, (u32)len, 0);
  return 0;
}

int kprobe__vhost_enable_notify(struct pt_regs *ctx, void *vdev, void *vq)
{
  struct vns_rx_run *run = vns_rx_vq(vq);
  if (run && run->wanted)
    emit(ctx, EV_NOTIFY, run, vq, 0, 0);
  return 0;
}

/* A signal decision: the used entries given, signalled or suppressed,
 * with the guest's ring as it decided. */
static __always_inline void vns_rx_decided(struct pt_regs *ctx, struct vns_rx_run *run, u32 used, u32 signalled)
{
  emit(ctx, EV_SIGNAL, run, (void *)run->vq, used, signalled);
}

int kretprobe__handle_rx(struct pt_regs *ctx)
{
  struct vns_rx_run *run = vns_rx_current();
  if (!run)
    return 0;
  if (run->vq && run->wanted)
    emit(ctx, EV_RUN_END, run, (void *)run->vq, run->taken, 0);
  vns_rx_end();
  return 0;
}
