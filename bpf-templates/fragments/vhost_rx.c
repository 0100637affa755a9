/* fragments/vhost_rx.c (vns.vhostq.rx_code()): one run of vhost-net's handle_rx (host -> guest: the
 * tap queue's ring into the guest's RX virtqueue), followed on its worker
 * thread from the entry of handle_rx to its return. Inside a run:
 *   vhost_disable_notify(dev, vq)  the run's virtqueue (handle_rx calls it
 *                                  first, once it has a backend)
 *   tun_recvmsg(sock, ...)         a packet taken from the tap's ring
 *   vhost_enable_notify(dev, vq)   no guest buffer left: vhost re-arms the
 *                                  guest's kick and stops
 *   vhost_add_used_and_signal_n(dev, vq, heads, count)
 *                                  count used entries given to the guest,
 *                                  then the signal decision (vhost_signal,
 *                                  inlined): an eventfd_signal inside it is
 *                                  the signal, none is a suppressed one.
 * All are exported functions of vhost.ko / tun.ko called across modules
 * (never inlined), with the same arguments in 4.19-6.1. A fragment, not
 * a header: BCC rewrites map calls only in the program's own text. Goes
 * after #include <vns/vhost_layout.h>. It probes handle_rx's entry and
 * the signal decisions (vhost_add_used_and_signal_n, eventfd_signal); the
 * tool defines vns_rx_decided(), called as each decision of a wanted run
 * ends, and the other probes of the run. */

struct vns_rx_run {
  u64 vq;         /* the RX virtqueue, 0 until vhost_disable_notify */
  u64 start_ns;
  u32 taken;      /* packets (tun_recvmsg) */
  u32 used;       /* used entries added */
  u32 decisions;  /* signal decisions (vhost_add_used_and_signal_n) */
  u32 signals;    /* of which signalled the guest */
  u32 no_buffers; /* vhost_enable_notify: the guest had no buffer left */
  u32 in_signal;  /* inside a decision: 1, 2 once it signalled */
  u32 last_used;  /* used entries the decision in progress gives */
  u32 queue;      /* the tap queue behind vq */
  u32 wanted;     /* 1: a tun/tap queue the tool's filter takes */
  char dev[16] __attribute__((aligned(8)));
};

/* Runs in progress, by worker thread id. */
BPF_HASH(vns_rx_runs, u32, struct vns_rx_run, 1024);

static __always_inline u32 vns_tid(void)
{
  return (u32)bpf_get_current_pid_tgid();
}

static __always_inline void vns_rx_begin(void)
{
  struct vns_rx_run run = { .start_ns = bpf_ktime_get_ns() };
  u32 tid = vns_tid();
  vns_rx_runs.update(&tid, &run);
}

/* This thread's run, or NULL (not inside handle_rx). */
static __always_inline struct vns_rx_run *vns_rx_current(void)
{
  u32 tid = vns_tid();
  return vns_rx_runs.lookup(&tid);
}

/* The run's virtqueue is vq when it has none yet: its tap queue is read
 * once. Returns the run when vq is its virtqueue, else NULL (the TX
 * queue, or a vq of a run that is not ours). */
static __always_inline struct vns_rx_run *vns_rx_vq(void *vq)
{
  struct vns_rx_run *run = vns_rx_current();
  if (!run)
    return NULL;
  if (!run->vq) {
    run->vq = (u64)vq;
    run->wanted = vns_vq_tun_file((struct vns_vhost_virtqueue *)vq, &run->queue, run->dev) != NULL;
  }
  return run->vq == (u64)vq ? run : NULL;
}

static __always_inline void vns_rx_end(void)
{
  u32 tid = vns_tid();
  vns_rx_runs.delete(&tid);
}

int kprobe__handle_rx(struct pt_regs *ctx)
{
  vns_rx_begin();
  return 0;
}

/* A signal decision of the run is over: USED entries given, SIGNALLED 1
 * when the guest was signalled. Defined by the tool. */
static __always_inline void vns_rx_decided(struct pt_regs *ctx, struct vns_rx_run *run, u32 used, u32 signalled);

int kprobe__vhost_add_used_and_signal_n(struct pt_regs *ctx, void *vdev, void *vq, void *heads, unsigned int count)
{
  struct vns_rx_run *run = vns_rx_vq(vq);
  if (!run || !run->wanted)
    return 0;
  run->used += count;
  run->last_used = count;
  run->decisions++;
  run->in_signal = 1;
  return 0;
}

int kprobe__eventfd_signal(struct pt_regs *ctx)
{
  struct vns_rx_run *run = vns_rx_current();
  if (run && run->in_signal) {
    run->signals++;
    run->in_signal = 2;
  }
  return 0;
}

/* After the decision: the used entries are in the guest's ring, and the
 * guest flags that decided it are still there to read. */
int kretprobe__vhost_add_used_and_signal_n(struct pt_regs *ctx)
{
  struct vns_rx_run *run = vns_rx_current();
  if (!run || !run->in_signal)
    return 0;
  u32 signalled = run->in_signal == 2;
  run->in_signal = 0;
  vns_rx_decided(ctx, run, run->last_used, signalled);
  return 0;
}
