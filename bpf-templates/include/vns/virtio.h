/* vns/virtio.h: where the fields of virtio's structs are, as offsets user
 * space fills in (vns.virtio.layout: from BTF, module BTF included, or a
 * table per kernel version). vring_virtqueue (drivers/virtio/virtio_ring.c)
 * and receive_queue (drivers/net/virtio_net.c) are private: no header has
 * them, so a program cannot be compiled against their layout on a kernel
 * with headers but no BTF (4.19). */
#ifndef VNS_VIRTIO_H
#define VNS_VIRTIO_H

struct vns_virtio_layout {
  u32 pid;             /* virtio-queues: the tool's process */
  s32 vdev_dev;        /* virtio_device.dev */
  s32 vdev_vqs;        /* virtio_device.vqs */
  s32 vdev_index;      /* virtio_device.index */
  s32 vq_name;         /* virtqueue.name */
  s32 vq_index;        /* virtqueue.index */
  s32 vq_num_free;     /* virtqueue.num_free */
  s32 vq_vdev;         /* virtqueue.vdev */
  s32 rq_napi;         /* receive_queue.napi (virtio_net) */
  s32 num;             /* vring_virtqueue: (split.)vring.num */
  s32 avail;           /* (split.)vring.avail */
  s32 used;            /* (split.)vring.used */
  s32 last_used;       /* last_used_idx */
  s32 packed;          /* packed_ring, or -1 (no packed rings: before 5.0) */
  s32 broken;          /* broken */
};

/* The public structs (virtio_device, virtqueue): laid out by the
 * kernel's own header where the compile has it (kernel-devel, 4.19
 * included; Debian's split headers), else (the header tree made from
 * BTF) by the offsets of the layout, which then come from BTF. Decided by
 * the compiler, so a program's text is the same wherever it is made. */
#if __has_include(<linux/virtio.h>)
#include <linux/virtio.h>
#define VNS_VIRTIO_OFF(l, f) VNS_VIRTIO_HDR_##f
#define VNS_VIRTIO_HDR_vdev_dev offsetof(struct virtio_device, dev)
#define VNS_VIRTIO_HDR_vdev_vqs offsetof(struct virtio_device, vqs)
#define VNS_VIRTIO_HDR_vdev_index offsetof(struct virtio_device, index)
#define VNS_VIRTIO_HDR_vq_name offsetof(struct virtqueue, name)
#define VNS_VIRTIO_HDR_vq_index offsetof(struct virtqueue, index)
#define VNS_VIRTIO_HDR_vq_num_free offsetof(struct virtqueue, num_free)
#define VNS_VIRTIO_HDR_vq_vdev offsetof(struct virtqueue, vdev)
#else
#define VNS_VIRTIO_OFF(l, f) ((l)->f)
#endif

static __always_inline void *vns_at(void *base, s32 off)
{
  return (char *)base + off;
}

#endif
