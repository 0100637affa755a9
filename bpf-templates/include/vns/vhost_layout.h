/* vns/vhost_layout.h: the parts of drivers/vhost/vhost.h's struct
 * vhost_virtqueue the vhost tools read, and the guest-visible state of
 * its split ring. vhost.h is private to drivers/vhost (no header package
 * has it), so the struct is described here per kernel version range,
 * built from the kernel's own types (their sizes follow its config), and
 * checked against the vhost module's BTF where it exists
 * (stdlib/vns/virtlayout.lua: a _Static_assert per member read).
 * Checked: 6.1 (BTF). Described from the sources: 4.19-6.1 (call_ctx
 * became struct vhost_vring_call in 5.8); proven on 5.10 by the lab
 * reading the fixture's rings through it. 6.5+ (a worker per virtqueue)
 * is described but proven nowhere yet: where the vhost module has BTF a
 * wrong description fails the compile, naming the member. */
#ifndef VNS_VHOST_LAYOUT_H
#define VNS_VHOST_LAYOUT_H

#include <vns/tun_layout.h>
#if __has_include(<linux/irqbypass.h>)
#include <linux/irqbypass.h>
#include <linux/poll.h>
#include <linux/uio.h>
#endif
#include <linux/version.h>

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024 /* the same in every kernel; the BTF-made tree has no macros */
#endif

struct vns_vhost_work {
  struct llist_node node;
  void *fn;
  unsigned long flags;
};

struct vns_vhost_poll {
  poll_table table;
  wait_queue_head_t *wqh;
  wait_queue_entry_t wait;
  struct vns_vhost_work work;
  __poll_t mask;
  void *dev;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
  void *vq;
#endif
};

/* struct vhost_virtqueue, up to acked_features. */
struct vns_vhost_virtqueue {
  void *dev;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
  void *worker; /* per-virtqueue workers */
#endif
  struct mutex mutex;
  unsigned int num;
  void *desc;  /* the ring's three parts: user (guest memory) addresses */
  void *avail;
  void *used;
  const void *meta_iotlb[3];
  void *kick;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 8, 0)
  struct {
    void *ctx;
    struct irq_bypass_producer producer;
  } call_ctx;
#else
  void *call_ctx;
#endif
  void *error_ctx;
  void *log_ctx;
  struct vns_vhost_poll poll;
  void *handle_kick;
  u16 last_avail_idx; /* the next avail entry vhost takes */
  u16 avail_idx;      /* avail->idx as vhost last read it */
  u16 last_used_idx;  /* the next used entry vhost fills */
  u16 used_flags;
  u16 signalled_used;
  bool signalled_used_valid;
  bool log_used;
  u64 log_addr;
  struct iovec iov[UIO_MAXIOV];
  struct iovec iotlb_iov[64];
  void *indirect;
  void *heads;
  void *umem;
  void *iotlb;
  void *private_data; /* the backend: a struct socket (tun: &tun_file.socket) */
  u64 acked_features;
};

/* virtio_ring.h's bits (uapi; spelled out for the BTF-made tree). */
#define VNS_VIRTIO_RING_F_EVENT_IDX 29
#define VNS_VRING_AVAIL_F_NO_INTERRUPT 1

/* What vhost and the guest see of a virtqueue: vhost's private indices
 * and, read from guest memory (the vhost worker runs in its owner's mm;
 * on x86 bpf_probe_read reads user addresses too), the split ring's
 * avail flags and idx, used_event (the guest's "signal me after this
 * used index", when EVENT_IDX is negotiated) and used idx. */
struct vns_vq_state {
  u16 num;
  u16 last_avail;  /* vhost: next avail entry to take */
  u16 last_used;   /* vhost: next used entry to fill */
  u16 avail_idx;   /* guest: avail->idx (buffers offered) */
  u16 avail_flags; /* guest: avail->flags (1: no interrupt) */
  u16 used_event;  /* guest: avail->ring[num] (EVENT_IDX only, else 0) */
  u16 used_idx;    /* used->idx (entries completed) */
  u16 event_idx;   /* 1: EVENT_IDX negotiated */
};

static __always_inline void vns_vq_state(struct vns_vhost_virtqueue *vq, struct vns_vq_state *st)
{
  unsigned int num = 0;
  u64 features = 0;
  u16 *avail = NULL, *used = NULL;
  vns_read(&num, sizeof(num), &vq->num);
  vns_read(&st->last_avail, sizeof(st->last_avail), &vq->last_avail_idx);
  vns_read(&st->last_used, sizeof(st->last_used), &vq->last_used_idx);
  vns_read(&features, sizeof(features), &vq->acked_features);
  vns_read(&avail, sizeof(avail), &vq->avail);
  vns_read(&used, sizeof(used), &vq->used);
  st->num = num;
  st->event_idx = (features >> VNS_VIRTIO_RING_F_EVENT_IDX) & 1;
  if (avail) {
    vns_read(&st->avail_flags, sizeof(u16), &avail[0]);
    vns_read(&st->avail_idx, sizeof(u16), &avail[1]);
    if (st->event_idx && num <= 32768)
      vns_read(&st->used_event, sizeof(u16), &avail[2 + num]);
  }
  if (used)
    vns_read(&st->used_idx, sizeof(u16), &used[1]);
}

/* The tun/tap queue behind a vhost-net virtqueue: its tun_file (the
 * backend socket is tun_file.socket), or NULL when the backend is not a
 * tun/tap queue (macvtap's tap_queue, none). Checked both ways: the
 * device's queue of that index must be this very tun_file. */
static __always_inline struct vns_tun_file *vns_vq_tun_file(struct vns_vhost_virtqueue *vq, u32 *queue,
                                                           char *dev_name)
{
  char *sock = NULL;
  vns_read(&sock, sizeof(sock), &vq->private_data);
  if (!sock)
    return NULL;
  return vns_sock_tun_file(sock, queue, dev_name);
}

#endif
