/* vhost-buf-peek: what vhost-net's RX handler finds each time it peeks at
 * the next packet of its backend's ring (vhost_net_buf_peek, in
 * handle_rx): the packet's length, or 0 when there is nothing to deliver.
 * Per virtqueue (the struct vhost_net_virtqueue's address). */
#include <vns/common.h>
#include <vns/hist.h>

struct peek_key {
  u64 nvq;
  u32 slot; /* 0: nothing (length 0); else log2 slot of the length */
  u32 pad;
};

BPF_HASH(peeks, struct peek_key, u64, 4096);
BPF_HASH(peek_nvq, u32, u64, 4096);

int kprobe__vhost_net_buf_peek(struct pt_regs *ctx, void *nvq)
{
  u32 tid = (u32)bpf_get_current_pid_tgid();
  u64 q = (u64)nvq;
  peek_nvq.update(&tid, &q);
  return 0;
}

int kretprobe__vhost_net_buf_peek(struct pt_regs *ctx)
{
  u32 tid = (u32)bpf_get_current_pid_tgid();
  u64 *q = peek_nvq.lookup(&tid);
  if (!q)
    return 0;
  int len = PT_REGS_RC(ctx);
  struct peek_key k = { .nvq = *q, .slot = len > 0 ? vns_log2_slot(len) : 0 };
  peek_nvq.delete(&tid);
  u64 none = 0, *n = peeks.lookup_or_try_init(&k, &none);
  if (n)
    __sync_fetch_and_add(n, 1);  /* slots are shared by all CPUs */
  return 0;
}
