/* vhost-signals: how often vhost-net signals the guest (the virtqueue's
 * call eventfd, an irqfd when a VM runs), per vhost worker thread and
 * eventfd, and how often it decides whether to.
 *
 * A decision is a call of vhost_add_used_and_signal{,_n} (vhost's used
 * entries added, then vhost_signal, inlined on 6.1). A signal is an
 * eventfd_signal made by a vhost worker thread (comm "vhost-<owner pid>"):
 * vhost_signal's only way to notify. Decisions without a signal are
 * suppressed (the guest asked for no interrupt: avail flags or event idx). */
#include <vns/common.h>

struct sig_key {
  u32 tid;
  u32 kind; /* 0 decision, 1 signal */
  u64 ctx;  /* the eventfd (signals only) */
  char comm[16];
};

{{ SIG_COUNTER }}

static __always_inline int is_vhost_thread(struct sig_key *k)
{
  bpf_get_current_comm(k->comm, sizeof(k->comm));
  return k->comm[0] == 'v' && k->comm[1] == 'h' && k->comm[2] == 'o' && k->comm[3] == 's' &&
         k->comm[4] == 't' && k->comm[5] == '-';
}

static __always_inline int count(u32 kind, u64 ctx)
{
  struct sig_key k = { .kind = kind, .ctx = ctx };
  if (!is_vhost_thread(&k))
    return 0;
  k.tid = (u32)bpf_get_current_pid_tgid();
  if (!({{ CTX_FILTER }}))
    return 0;
  sigs_count(&k);
  return 0;
}

int kprobe__vhost_add_used_and_signal_n(struct pt_regs *ctx) { return count(0, 0); }
int kprobe__vhost_add_used_and_signal(struct pt_regs *ctx) { return count(0, 0); }
int kprobe__eventfd_signal(struct pt_regs *ctx, void *efd) { return count(1, (u64)efd); }
