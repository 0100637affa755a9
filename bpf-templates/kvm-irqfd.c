/* kvm-irqfd: interrupts KVM injects into a VM through irqfds (an eventfd
 * a vhost worker or qemu signals), and which path each took.
 *
 * eventfd_signal wakes irqfd_wakeup (virt/kvm/eventfd.c) in the
 * signaller's context; it tries kvm_arch_set_irq_inatomic (the fast path:
 * an MSI delivered straight to the vCPU's APIC, or the vGIC on arm64).
 * -EWOULDBLOCK means the route cannot be injected in atomic context (an
 * IOAPIC/PIC pin, an MSI the fast path cannot resolve): irqfd_wakeup
 * queues irqfd_inject, which a kworker runs later (the slow path:
 * kvm_set_irq, and kvm_set_msi for an MSI route). Both end in the APIC
 * accepting the vector (kvm:kvm_apic_accept_irq on x86) and a kick of the
 * vCPU (kvm_vcpu_kick).
 *
 * A per-thread context ties it together: set at irqfd_wakeup (a signal:
 * EPOLLIN; a close is EPOLLHUP) and irqfd_inject, cleared at their
 * return; only what happens inside one is counted. --pid: the signaller
 * is qemu (tgid) or its vhost worker ("vhost-<pid>"); the VM (struct kvm)
 * seen there is remembered, so the kworker's slow path of that VM counts. */
#include <vns/common.h>
#include <vns/kvm_layout.h>
#include <vns/tp.h>

{{ LAYOUT_CHECKS }}

{{ TRACEPOINTS }}

#define VNS_KVM_FAST 1     /* injected in atomic context (return >= 0: vCPUs reached) */
#define VNS_KVM_SLOW 2     /* -EWOULDBLOCK: irqfd_inject queued */
#define VNS_KVM_FAILED 3   /* another error (an invalid MSI route) */
#define VNS_KVM_INJECT 4   /* irqfd_inject ran kvm_set_irq (level 1) */
#define VNS_KVM_INJECT_MSI 5 /* ... which went to kvm_set_msi */
#define VNS_KVM_KICK 6     /* kvm_vcpu_kick inside an injection */
#define VNS_KVM_ACCEPT 7   /* kvm:kvm_apic_accept_irq inside an injection */
#define VNS_KVM_MSI 8      /* kvm:kvm_msi_set_irq inside an injection */

#define VNS_EWOULDBLOCK 11
#define VNS_EPOLLIN 0x1

struct irq_key {
  u64 vm; /* struct kvm * */
  u32 kind;
  u32 gsi;
  u32 route;  /* routing entry type (fast-path rows) */
  u32 vector; /* MSI data's vector, or the APIC's */
  u32 dest;   /* MSI destination / APIC id */
  u32 tid;
  u32 cpu;
  u32 pad;
  char comm[16];
};

{{ IRQ_COUNTER }}

struct inj_ctx {
  u64 vm; /* 0 until the VM is known (and, with --pid, ours) */
  u32 gsi;
  u32 route;
  u32 vector;
  u32 dest;
};

BPF_HASH(inflight, u32, struct inj_ctx, 4096);
/* --pid: the VMs whose irqfds that VM's threads signalled. */
BPF_HASH(vms, u64, u8, 64);

/* Whether the current thread is the VM's qemu or one of its vhost
 * workers ("vhost-<qemu pid>"). */
static __always_inline int is_ours(void)
{
#if {{ BY_PID }}
  u32 pid = {{ PID }};
  if ((u32)(bpf_get_current_pid_tgid() >> 32) == pid)
    return 1;
  char comm[16] = {};
  bpf_get_current_comm(comm, sizeof(comm));
  if (!(comm[0] == 'v' && comm[1] == 'h' && comm[2] == 'o' && comm[3] == 's' && comm[4] == 't' &&
        comm[5] == '-'))
    return 0;
  u32 n = 0;
#pragma unroll
  for (int i = 6; i < 15; i++) {
    char c = comm[i];
    if (c < '0' || c > '9')
      return c == 0 && i > 6 && n == pid;
    n = n * 10 + (c - '0');
  }
  return 0;
#else
  return 1;
#endif
}

static __always_inline int vm_known(u64 vm)
{
#if {{ BY_PID }}
  return vms.lookup(&vm) != 0;
#else
  return 1;
#endif
}

static __always_inline void count(u32 kind, struct inj_ctx *c, u32 vector, u32 dest)
{
  struct irq_key k;
  __builtin_memset(&k, 0, sizeof(k));
  k.vm = c->vm;
  k.kind = kind;
  k.gsi = c->gsi;
  k.route = c->route;
  k.vector = vector;
  k.dest = dest;
  k.tid = (u32)bpf_get_current_pid_tgid();
  k.cpu = bpf_get_smp_processor_id();
  bpf_get_current_comm(k.comm, sizeof(k.comm));
  irqs_count(&k);
}

static __always_inline struct inj_ctx *current_ctx(void)
{
  u32 tid = (u32)bpf_get_current_pid_tgid();
  return inflight.lookup(&tid);
}

static __always_inline int enter(void)
{
  u32 tid = (u32)bpf_get_current_pid_tgid();
  struct inj_ctx c = {};
  inflight.update(&tid, &c);
  return 0;
}

static __always_inline int leave(void)
{
  u32 tid = (u32)bpf_get_current_pid_tgid();
  inflight.delete(&tid);
  return 0;
}

/* irqfd_wakeup(wait, mode, sync, key): key carries the poll flags. */
int kprobe__irqfd_wakeup(struct pt_regs *ctx)
{
  if (!((u64)PT_REGS_PARM4(ctx) & VNS_EPOLLIN) || !is_ours())
    return 0;
  return enter();
}

int kretprobe__irqfd_wakeup(struct pt_regs *ctx) { return leave(); }

/* kvm_arch_set_irq_inatomic(e, kvm, irq_source_id, level, line_status):
 * e is irqfd_wakeup's copy of the irqfd's route. */
int kprobe__kvm_arch_set_irq_inatomic(struct pt_regs *ctx)
{
  struct inj_ctx *c = current_ctx();
  if (!c)
    return 0;
  struct vns_kvm_route r = {};
  vns_read(&r, sizeof(r), (void *)PT_REGS_PARM1(ctx));
  u64 vm = (u64)PT_REGS_PARM2(ctx);
  c->vm = vm;
  c->gsi = r.gsi;
  c->route = r.type;
  if (r.type == 2) { /* MSI: x86's vector and destination APIC id */
    c->vector = r.msi.data & 0xff;
    c->dest = (r.msi.address_lo >> 12) & 0xff;
  } else {
    c->vector = r.irqchip.pin;
  }
#if {{ BY_PID }}
  u8 one = 1;
  vms.update(&vm, &one);
#endif
  return 0;
}

int kretprobe__kvm_arch_set_irq_inatomic(struct pt_regs *ctx)
{
  struct inj_ctx *c = current_ctx();
  if (!c || !c->vm)
    return 0;
  int ret = (int)PT_REGS_RC(ctx);
  u32 kind = ret >= 0 ? VNS_KVM_FAST : ret == -VNS_EWOULDBLOCK ? VNS_KVM_SLOW : VNS_KVM_FAILED;
  count(kind, c, c->vector, c->dest);
  return 0;
}

/* The slow path: the kworker running irqfd_inject(work). */
int kprobe__irqfd_inject(struct pt_regs *ctx) { return enter(); }
int kretprobe__irqfd_inject(struct pt_regs *ctx) { return leave(); }

/* kvm_set_irq(kvm, irq_source_id, gsi, level, line_status): irqfd_inject
 * raises the line (level 1) then lowers it; a raise is one injection. */
int kprobe__kvm_set_irq(struct pt_regs *ctx)
{
  struct inj_ctx *c = current_ctx();
  u64 vm = (u64)PT_REGS_PARM1(ctx);
  if (!c || !PT_REGS_PARM4(ctx) || !vm_known(vm))
    return 0;
  c->vm = vm;
  c->gsi = (u32)PT_REGS_PARM3(ctx);
  count(VNS_KVM_INJECT, c, 0, 0);
  return 0;
}

/* kvm_set_msi(e, kvm, irq_source_id, level, line_status): a slow-path
 * injection whose route is an MSI. */
int kprobe__kvm_set_msi(struct pt_regs *ctx)
{
  struct inj_ctx *c = current_ctx();
  if (!c || !c->vm || !PT_REGS_PARM4(ctx))
    return 0;
  struct vns_kvm_route r = {};
  vns_read(&r, sizeof(r), (void *)PT_REGS_PARM1(ctx));
  count(VNS_KVM_INJECT_MSI, c, r.msi.data & 0xff, (r.msi.address_lo >> 12) & 0xff);
  return 0;
}

/* kvm_vcpu_kick(vcpu) (__kvm_vcpu_kick(vcpu, wait) from 6.10). */
int kprobe__{{ KICK_FN }}(struct pt_regs *ctx)
{
  struct inj_ctx *c = current_ctx();
  if (c && c->vm)
    count(VNS_KVM_KICK, c, 0, 0);
  return 0;
}

#if {{ HAS_ACCEPT }}
VNS_TP(kvm, kvm_apic_accept_irq)
{
  struct inj_ctx *c = current_ctx();
  if (c && c->vm)
    count(VNS_KVM_ACCEPT, c, VNS_ARG(kvm_apic_accept_irq, vec), VNS_ARG(kvm_apic_accept_irq, apicid));
  return 0;
}
#endif

#if {{ HAS_MSI }}
VNS_TP(kvm, kvm_msi_set_irq)
{
  struct inj_ctx *c = current_ctx();
  if (c && c->vm)
    count(VNS_KVM_MSI, c, VNS_ARG(kvm_msi_set_irq, data) & 0xff, (VNS_ARG(kvm_msi_set_irq, address) >> 12) & 0xff);
  return 0;
}
#endif
