/* virtio-queues: a snapshot of every virtqueue of a virtio device, taken
 * only when the tool asks: nothing runs per packet.
 *
 * The tool holds the device's sysfs directory open
 * (/sys/bus/virtio/devices/virtioN) and calls lseek on it with a magic
 * offset. This program, on syscalls:sys_enter_lseek, takes only that
 * call of that process, and walks from the fd to the device:
 *   task->files->fdt->fd[fd]->f_inode->i_private (the kernfs node of the
 *   directory) ->priv (the device's kobject) -> struct device ->
 *   struct virtio_device -> its list of virtqueues (vdev->vqs).
 * Each virtqueue is the first member of the driver's private struct
 * vring_virtqueue (drivers/virtio/virtio_ring.c), whose split ring gives
 * the three indices: avail->idx (offered by the driver), used->idx
 * (completed by the device), last_used_idx (consumed by the driver).
 * Offsets into the private structs come from user space (`layout`):
 * from BTF (module BTF included) or a table per kernel version. */
#include <vns/tp.h>
#include <vns/common.h>
#include <vns/virtio.h>
#include <linux/sched.h>
#include <linux/fs.h>
#if __has_include(<linux/fdtable.h>)
#include <linux/fdtable.h>
#endif
#if __has_include(<linux/kernfs.h>)
#include <linux/kernfs.h>
#endif

{{ TRACEPOINTS }}

/* The lseek offsets the tool asks with: MAGIC in the high 32 bits, its
 * request number in the low ones. */
#define MAGIC 0x7669727aULL
/* Virtqueues read per device: 8 queue pairs and the control queue
 * (loops are unrolled: 4.19 has no bounded loops). */
#define MAX_VQS 17


struct snap_key {
  u32 vdev;
  u32 vq;
};

struct snap {
  u64 request;
  char name[16];
  u32 num;
  u32 num_free;
  u16 avail_idx;
  u16 used_idx;
  u16 last_used_idx;
  u16 avail_flags;
  u16 used_flags;
  u8 packed;
  u8 broken;
};

BPF_ARRAY(layouts, struct vns_virtio_layout, 1);
BPF_HASH(snaps, struct snap_key, struct snap, 256);


static __always_inline void *vdev_of(u32 fd)
{
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct files_struct *files = NULL;
  struct fdtable *fdt = NULL;
  struct file **fds = NULL, *file = NULL;
  struct inode *inode = NULL;
  struct kernfs_node *kn = NULL;
  void *kobj = NULL;
  vns_read(&files, sizeof(files), &task->files);
  if (!files)
    return NULL;
  vns_read(&fdt, sizeof(fdt), &files->fdt);
  if (!fdt)
    return NULL;
  vns_read(&fds, sizeof(fds), &fdt->fd);
  if (!fds)
    return NULL;
  vns_read(&file, sizeof(file), &fds[fd]);
  if (!file)
    return NULL;
  vns_read(&inode, sizeof(inode), &file->f_inode);
  if (!inode)
    return NULL;
  vns_read(&kn, sizeof(kn), &inode->i_private);
  if (!kn)
    return NULL;
  vns_read(&kobj, sizeof(kobj), &kn->priv);
  if (!kobj)
    return NULL;
  return kobj;
}

static __always_inline void snapshot(struct vns_virtio_layout *l, u64 request, u32 vdev_index, void *vq)
{
  struct snap s = {};
  struct snap_key k = { .vdev = vdev_index };
  void *name = NULL, *avail = NULL, *used = NULL;
  s.request = request;
  vns_read(&k.vq, sizeof(k.vq), vns_at(vq, VNS_VIRTIO_OFF(l, vq_index)));
  vns_read(&s.num_free, sizeof(s.num_free), vns_at(vq, VNS_VIRTIO_OFF(l, vq_num_free)));
  vns_read(&name, sizeof(name), vns_at(vq, VNS_VIRTIO_OFF(l, vq_name)));
  if (name)
    bpf_probe_read_str(s.name, sizeof(s.name), name);
  if (l->packed >= 0)
    vns_read(&s.packed, 1, vns_at(vq, l->packed));
  vns_read(&s.broken, 1, vns_at(vq, l->broken));
  vns_read(&s.num, sizeof(s.num), vns_at(vq, l->num));
  vns_read(&s.last_used_idx, sizeof(s.last_used_idx), vns_at(vq, l->last_used));
  if (!s.packed) {
    vns_read(&avail, sizeof(avail), vns_at(vq, l->avail));
    vns_read(&used, sizeof(used), vns_at(vq, l->used));
    /* struct vring_avail / vring_used: u16 flags, u16 idx (uapi). */
    if (avail) {
      vns_read(&s.avail_flags, 2, avail);
      vns_read(&s.avail_idx, 2, vns_at(avail, 2));
    }
    if (used) {
      vns_read(&s.used_flags, 2, used);
      vns_read(&s.used_idx, 2, vns_at(used, 2));
    }
  }
  snaps.update(&k, &s);
}

static __always_inline int requested(u32 fd, u64 offset)
{
  u32 zero = 0;
  struct vns_virtio_layout *l = layouts.lookup(&zero);
  if (!l || !l->pid || (bpf_get_current_pid_tgid() >> 32) != l->pid || (offset >> 32) != MAGIC)
    return 0;
  void *kobj = vdev_of(fd);
  if (!kobj)
    return 0;
  void *vdev = (char *)kobj - offsetof(struct device, kobj) - VNS_VIRTIO_OFF(l, vdev_dev);
  u32 vdev_index = 0;
  vns_read(&vdev_index, sizeof(vdev_index), vns_at(vdev, VNS_VIRTIO_OFF(l, vdev_index)));
  void *head = vns_at(vdev, VNS_VIRTIO_OFF(l, vdev_vqs)), *pos = NULL;
  /* virtqueue.list is its first member: a list node is its virtqueue. */
  vns_read(&pos, sizeof(pos), head);
#pragma unroll
  for (int i = 0; i < MAX_VQS; i++) {
    if (!pos || pos == head)
      break;
    snapshot(l, offset, vdev_index, pos);
    vns_read(&pos, sizeof(pos), pos);
  }
  return 0;
}

VNS_TP(syscalls, sys_enter_lseek)
{
  return requested(VNS_ARG(sys_enter_lseek, fd), VNS_ARG(sys_enter_lseek, offset));
}
