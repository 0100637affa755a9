/* vns/tun_layout.h: the parts of drivers/net/tun.c's private structs the
 * tun/vhost tools read. tun.c does not export them, so they are described
 * here per kernel version range, built from the kernel's own types (their
 * sizes follow its config), and checked against the tun module's BTF
 * where it exists: stdlib/vns/virtlayout.lua adds a _Static_assert per
 * member read, so a wrong description fails the compile, never reads
 * garbage. Checked: 6.1 (BTF). Described from the sources: 4.19-6.1
 * (struct socket_wq left tun_file in 5.3). */
#ifndef VNS_TUN_LAYOUT_H
#define VNS_TUN_LAYOUT_H

#include <vns/common.h>
/* With real headers these declare the types; the tree generated from BTF
 * has them all in vmlinux.h and lacks these paths. */
#if __has_include(<linux/ptr_ring.h>)
#include <linux/ptr_ring.h>
#include <net/sock.h>
#endif
#include <linux/version.h>
#include <vns/ring.h>

#ifndef ____cacheline_aligned_in_smp
#define ____cacheline_aligned_in_smp __attribute__((__aligned__(64)))
#endif

/* struct tun_file, up to tx_ring (the queue's ptr_ring of skbs toward
 * the reader: vhost-net or a process). */
struct vns_tun_struct;
struct vns_tun_file {
  struct sock sk;
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 3, 0)
  struct socket socket;
  struct socket_wq wq;
#else
  /* Its socket_wq is cacheline aligned since 5.3; said again here because
   * a header tree made from BTF (no headers) loses alignment attributes. */
  struct socket socket ____cacheline_aligned_in_smp;
#endif
  struct vns_tun_struct *tun;
  void *fasync;
  unsigned int flags;
  union {
    u16 queue_index;
    unsigned int ifindex;
  };
  struct napi_struct napi;
  bool napi_enabled;
  bool napi_frags_enabled;
  struct mutex napi_mutex;
  struct list_head next;
  void *detached;
  struct ptr_ring tx_ring ____cacheline_aligned_in_smp;
};

/* struct tun_struct (netdev_priv of a tun/tap device), up to txflt.count. */
#define VNS_MAX_TAP_QUEUES 256
struct vns_tun_struct {
  struct vns_tun_file *tfiles[VNS_MAX_TAP_QUEUES];
  unsigned int numqueues;
  unsigned int flags;
  kuid_t owner;
  kgid_t group;
  struct net_device *dev;
  netdev_features_t set_features;
  int align;
  int vnet_hdr_sz;
  int sndbuf;
  unsigned int txflt_count; /* struct tap_filter txflt: count first */
};

/* netdev_priv(): the private area follows struct net_device, aligned to
 * NETDEV_ALIGN (32) in every kernel. */
static __always_inline struct vns_tun_struct *vns_tun_of(struct net_device *dev)
{
  return (struct vns_tun_struct *)((char *)dev + ((sizeof(struct net_device) + 31) & ~31UL));
}

/* The tun_file of the device's queue q, or NULL. */
static __always_inline struct vns_tun_file *vns_tun_queue(struct net_device *dev, u32 q)
{
  struct vns_tun_file *tfile = NULL;
  if (q < VNS_MAX_TAP_QUEUES)
    vns_read(&tfile, sizeof(tfile), &vns_tun_of(dev)->tfiles[q]);
  return tfile;
}

/* What tun_net_xmit(skb, dev) finds as it starts: the device's name
 * (char[16]), the skb's queue, that queue's tun_file (returned; NULL when
 * the queue has none) and the state of its tx_ring (left as it was
 * without one). */
static __always_inline struct vns_tun_file *vns_tun_xmit_ring(struct sk_buff *skb, struct net_device *dev,
                                                              char *name, u32 *queue, struct vns_ring_state *ring)
{
  u16 q = 0;
  vns_read(name, 16, dev->name);
  vns_read(&q, sizeof(q), &skb->queue_mapping);
  *queue = q;
  struct vns_tun_file *tfile = vns_tun_queue(dev, q);
  if (tfile)
    vns_ring_state(&tfile->tx_ring, ring);
  return tfile;
}

/* A tun_net_xmit between its entry and its return on this CPU (tun sends
 * with bottom halves off: one at a time per CPU), kept in a per-CPU slot
 * so its return can tell what became of the packet. */
struct vns_tun_xmit {
  u64 skb;        /* 0: none pending */
  u32 tap_filter; /* a tap MAC filter was set: a drop may be its */
  u32 pad;
};

/* At the entry, once the packet is one to follow. */
static __always_inline void vns_tun_xmit_begin(struct vns_tun_xmit *x, struct sk_buff *skb, struct net_device *dev)
{
  vns_read(&x->tap_filter, sizeof(x->tap_filter), &vns_tun_of(dev)->txflt_count);
  x->skb = (u64)skb;
}

/* At the return: -1 when no entry is pending, 1 when tun dropped the
 * packet for a full ring, else 0. Full is the outcome, not the fill at
 * entry: tun sends without a queue lock (LLTX), so vhost's consume or
 * another sender can change the slot before the produce. tun returns
 * NET_XMIT_DROP exactly where it adds to the device's TX dropped; with no
 * tap MAC filter set, the failed produce into the ring is what dropped it
 * (socket and eBPF filters aside: vnet-txdrop tells them apart). */
static __always_inline int vns_tun_xmit_end(struct vns_tun_xmit *x, struct pt_regs *ctx)
{
  if (!x->skb)
    return -1;
  x->skb = 0;
  return PT_REGS_RC(ctx) == 1 /* NET_XMIT_DROP */ && !x->tap_filter;
}

/* The tun_file whose socket SOCK is (a struct socket *: tun_get_socket()
 * gives &tfile->socket to vhost-net), with its queue index and device
 * name; NULL when SOCK is not a tun/tap queue's (the device's queue of
 * that index must be this very tun_file). */
static __always_inline struct vns_tun_file *vns_sock_tun_file(void *sock, u32 *queue, char *dev_name)
{
  struct vns_tun_file *tfile =
    (struct vns_tun_file *)((char *)sock - __builtin_offsetof(struct vns_tun_file, socket));
  struct vns_tun_struct *tun = NULL;
  struct net_device *dev = NULL;
  u16 q = 0;
  vns_read(&tun, sizeof(tun), &tfile->tun);
  if (!tun)
    return NULL;
  vns_read(&dev, sizeof(dev), &tun->dev);
  vns_read(&q, sizeof(q), &tfile->queue_index);
  if (!dev || vns_tun_queue(dev, q) != tfile)
    return NULL;
  *queue = q;
  vns_read(dev_name, 16, dev->name);
  return tfile;
}

#endif
