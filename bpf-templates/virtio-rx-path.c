/* virtio-rx-path: how well a virtio-net receive queue is served, per
 * virtqueue: interrupts (vring_interrupt: every one, IRQ_NONE included),
 * callbacks (skb_recv_done, skb_xmit_done: interrupts that had work),
 * NAPI polls (virtnet_poll) and
 * the packets each returned, napi_complete_done's verdicts, callbacks
 * re-enabled (virtqueue_enable_cb_prepare) or delayed
 * (virtqueue_enable_cb_delayed) or disabled, re-armed queues that already
 * had work (virtqueue_poll true: polled again), GRO results
 * (napi_gro_receive), and kicks to the device (virtqueue_notify: TX
 * packets and RX refills).
 *
 * The virtqueue functions are virtio's, shared with virtio-blk and
 * others: only queues of the virtio-net devices user space lists
 * (NET_DEVICES, a bit per virtio index) count. A NAPI instance is known
 * as virtio-net's once virtnet_poll ran on it (its receive_queue gives
 * the virtqueue); GRO and napi_complete_done of other NAPIs are skipped.
 * --details adds an event per probe hit, under the event budget, and one
 * per received buffer (virtio_net's receive_buf, attached by the tool:
 * one per packet the driver counts in rx_packets). */
#include <vns/common.h>
#include <vns/virtio.h>

#define DETAILS {{ DETAILS }}
{{ BUDGET }}

enum vns_rx_event {
  EV_IRQ = 1, EV_POLL, EV_POLL_DONE, EV_GRO, EV_KICK, EV_CALLBACK, EV_COMPLETE, EV_RECEIVE_BUF,
};

struct vq_counts {
  u64 irqs;
  u64 callbacks;
  u64 polls;
  u64 packets;
  u64 full_polls;
  u64 complete_done;
  u64 complete_not;
  u64 cb_enabled;
  u64 cb_delayed;
  u64 cb_disabled;
  u64 rearm_raced;
  u64 gro_merged;
  u64 gro_held;
  u64 gro_normal;
  u64 gro_other;
  u64 kicks;
};

struct vq_info {
  char name[16];
  u32 vdev;
  u32 index;
};

/* A virtqueue (and an argument) an entry probe leaves its return probe. */
struct vq_entry {
  u64 vq;
  u64 arg;
};
enum { IN_POLL, IN_GRO, IN_COMPLETE, IN_VQPOLL, IN_KINDS };

struct event {
  u64 ts_ns;
  u64 vq;
  u32 cpu;
  u32 type;
  s64 value;
};

BPF_ARRAY(layouts, struct vns_virtio_layout, 1);
/* virtio index bit set of the virtio-net devices (user space fills it). */
BPF_ARRAY(net_devices, u64, 1);
BPF_PERCPU_HASH(counts, u64, struct vq_counts, 1024);
BPF_HASH(vqs, u64, struct vq_info, 1024);
BPF_HASH(napi_vq, u64, u64, 1024);
/* Entry arguments for the return probes; probes on one CPU nest only
 * as poll > GRO or poll > complete, so one slot per kind (IN_*). */
BPF_PERCPU_ARRAY(entries, struct vq_entry, IN_KINDS);
{{ EVENTS }}

static __always_inline struct vns_virtio_layout *layout(void)
{
  u32 zero = 0;
  return layouts.lookup(&zero);
}

/* The counters of a virtio-net virtqueue; NULL for other devices' queues. */
static __always_inline struct vq_counts *counts_of(void *vq)
{
  u64 key = (u64)vq;
  struct vq_counts *c = counts.lookup(&key);
  if (c)
    return c;
  struct vns_virtio_layout *l = layout();
  if (!l)
    return NULL;
  void *vdev = NULL, *name = NULL;
  struct vq_info info = {};
  vns_read(&vdev, sizeof(vdev), vns_at(vq, VNS_VIRTIO_OFF(l, vq_vdev)));
  if (!vdev)
    return NULL;
  vns_read(&info.vdev, sizeof(info.vdev), vns_at(vdev, VNS_VIRTIO_OFF(l, vdev_index)));
  u32 zero = 0;
  u64 *set = net_devices.lookup(&zero);
  if (!set || info.vdev >= 64 || !((*set >> info.vdev) & 1))
    return NULL;
  vns_read(&info.index, sizeof(info.index), vns_at(vq, VNS_VIRTIO_OFF(l, vq_index)));
  vns_read(&name, sizeof(name), vns_at(vq, VNS_VIRTIO_OFF(l, vq_name)));
  if (name)
    bpf_probe_read_str(info.name, sizeof(info.name), name);
  vqs.update(&key, &info);
  struct vq_counts init = {};
  return counts.lookup_or_try_init(&key, &init);
}

/* Without --details the send is dead code, but it stays in the source:
 * BCC learns the event's layout from it (the reader needs it). */
static __always_inline void emit(struct pt_regs *ctx, void *vq, u32 type, s64 value)
{
  if (!DETAILS || !vns_budget_take())
    return;
  struct event ev = { .ts_ns = bpf_ktime_get_ns(), .vq = (u64)vq, .cpu = bpf_get_smp_processor_id(),
                      .type = type, .value = value };
  {{ SUBMIT }}
}

static __always_inline void *vq_of_napi(void *napi)
{
  u64 key = (u64)napi;
  u64 *vq = napi_vq.lookup(&key);
  return vq ? (void *)*vq : NULL;
}

/* At a probed function's entry: its vq (and ARG) for its return. */
static __always_inline void vq_enter(u32 kind, void *vq, u64 arg)
{
  struct vq_entry *e = entries.lookup(&kind);
  if (e) {
    e->vq = (u64)vq;
    e->arg = arg;
  }
}

/* At its return: the vq its entry left (NULL: none), taken back; *arg
 * (when given) gets the argument. */
static __always_inline void *vq_leave(u32 kind, u64 *arg)
{
  struct vq_entry *e = entries.lookup(&kind);
  if (!e || !e->vq)
    return NULL;
  void *vq = (void *)e->vq;
  if (arg)
    *arg = e->arg;
  e->vq = 0;
  return vq;
}

/* Every interrupt of a virtqueue (one MSI-X vector per queue: what
 * /proc/interrupts counts for it); the callback runs only when the ring
 * has something new, else the interrupt is IRQ_NONE. */
int kprobe__vring_interrupt(struct pt_regs *ctx, int irq, void *vq)
{
  struct vq_counts *c = counts_of(vq);
  if (!c)
    return 0;
  c->irqs++;
  emit(ctx, vq, EV_IRQ, irq);
  return 0;
}

static __always_inline int callback(struct pt_regs *ctx, void *vq)
{
  struct vq_counts *c = counts_of(vq);
  if (!c)
    return 0;
  c->callbacks++;
  emit(ctx, vq, EV_CALLBACK, 0);
  return 0;
}

int kprobe__skb_recv_done(struct pt_regs *ctx, void *vq)
{
  return callback(ctx, vq);
}

int kprobe__skb_xmit_done(struct pt_regs *ctx, void *vq)
{
  return callback(ctx, vq);
}

int kprobe__virtnet_poll(struct pt_regs *ctx, void *napi, int budget)
{
  struct vns_virtio_layout *l = layout();
  if (!l)
    return 0;
  /* napi is &receive_queue.napi; the queue's first member is its vq. */
  void *vq = NULL;
  vns_read(&vq, sizeof(vq), (char *)napi - l->rq_napi);
  u64 key = (u64)napi, val = (u64)vq;
  napi_vq.update(&key, &val);
  if (!counts_of(vq))  /* another device's queue (--dev) */
    return 0;
  vq_enter(IN_POLL, vq, budget);
  emit(ctx, vq, EV_POLL, budget);
  return 0;
}

int kretprobe__virtnet_poll(struct pt_regs *ctx)
{
  u64 budget = 0;
  void *vq = vq_leave(IN_POLL, &budget);
  struct vq_counts *c = vq ? counts_of(vq) : NULL;
  if (!c)
    return 0;
  int received = PT_REGS_RC(ctx);
  c->polls++;
  if (received > 0)
    c->packets += received;
  if (received >= (int)budget)
    c->full_polls++;
  emit(ctx, vq, EV_POLL_DONE, received);
  return 0;
}

int kprobe__napi_gro_receive(struct pt_regs *ctx, void *napi)
{
  vq_enter(IN_GRO, vq_of_napi(napi), 0);
  return 0;
}

/* gro_result: GRO_MERGED 0, GRO_MERGED_FREE 1, GRO_HELD 2, GRO_NORMAL 3,
 * then GRO_DROP (before 5.12) / GRO_CONSUMED. */
int kretprobe__napi_gro_receive(struct pt_regs *ctx)
{
  void *vq = vq_leave(IN_GRO, NULL);
  struct vq_counts *c = vq ? counts_of(vq) : NULL;
  if (!c)
    return 0;
  int ret = PT_REGS_RC(ctx);
  if (ret == 0 || ret == 1)
    c->gro_merged++;
  else if (ret == 2)
    c->gro_held++;
  else if (ret == 3)
    c->gro_normal++;
  else
    c->gro_other++;
  emit(ctx, vq, EV_GRO, ret);
  return 0;
}

int kprobe__napi_complete_done(struct pt_regs *ctx, void *napi)
{
  vq_enter(IN_COMPLETE, vq_of_napi(napi), 0);
  return 0;
}

int kretprobe__napi_complete_done(struct pt_regs *ctx)
{
  void *vq = vq_leave(IN_COMPLETE, NULL);
  struct vq_counts *c = vq ? counts_of(vq) : NULL;
  if (!c)
    return 0;
  /* true: polling stopped, the interrupt may fire again; false: NAPI
   * stays scheduled (rescheduled meanwhile, or a busy poller owns it). */
  if (PT_REGS_RC(ctx) & 0xff)
    c->complete_done++;
  else
    c->complete_not++;
  emit(ctx, vq, EV_COMPLETE, PT_REGS_RC(ctx) & 0xff);
  return 0;
}

int kprobe__virtqueue_enable_cb_prepare(struct pt_regs *ctx, void *vq)
{
  struct vq_counts *c = counts_of(vq);
  if (c)
    c->cb_enabled++;
  return 0;
}

int kprobe__virtqueue_enable_cb_delayed(struct pt_regs *ctx, void *vq)
{
  struct vq_counts *c = counts_of(vq);
  if (c)
    c->cb_delayed++;
  return 0;
}

int kprobe__virtqueue_disable_cb(struct pt_regs *ctx, void *vq)
{
  struct vq_counts *c = counts_of(vq);
  if (c)
    c->cb_disabled++;
  return 0;
}

int kprobe__virtqueue_poll(struct pt_regs *ctx, void *vq)
{
  vq_enter(IN_VQPOLL, vq, 0);
  return 0;
}

/* true after re-enabling callbacks: buffers came in meanwhile, NAPI is
 * scheduled again at once. */
int kretprobe__virtqueue_poll(struct pt_regs *ctx)
{
  void *vq = vq_leave(IN_VQPOLL, NULL);
  if (!vq || !(PT_REGS_RC(ctx) & 0xff))
    return 0;
  struct vq_counts *c = counts_of(vq);
  if (c)
    c->rearm_raced++;
  return 0;
}

int kprobe__virtqueue_notify(struct pt_regs *ctx, void *vq)
{
  struct vq_counts *c = counts_of(vq);
  if (!c)
    return 0;
  c->kicks++;
  emit(ctx, vq, EV_KICK, 0);
  return 0;
}

#if DETAILS
/* receive_buf(vi, rq, buf, len, ...): one received packet (its first
 * buffer; len counts the virtio-net header). The receive_queue's first
 * member is its vq. Attached by the tool (virtio_net:receive_buf). */
int virtio_rx_receive_buf(struct pt_regs *ctx)
{
  void *vq = NULL;
  vns_read(&vq, sizeof(vq), (void *)PT_REGS_PARM2(ctx));
  if (!vq || !counts_of(vq))
    return 0;
  emit(ctx, vq, EV_RECEIVE_BUF, (u32)PT_REGS_PARM4(ctx));
  return 0;
}
#endif
