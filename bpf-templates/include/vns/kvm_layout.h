/* vns/kvm_layout.h: the part of KVM's struct kvm_kernel_irq_routing_entry
 * (include/linux/kvm_host.h) kvm-irqfd reads: the GSI, the route type and
 * the MSI message or irqchip pin. The struct is in the kernel's headers,
 * but the header tree made from BTF has it only when KVM is built in (a
 * module's BTF is not in vmlinux.h), so it is described here once; the
 * same on 4.19-6.18 and on every architecture (gsi and type, the set
 * callback, then the union). stdlib/vns/virtlayout.lua checks each member
 * read against the kvm module's BTF where it exists. */
#ifndef VNS_KVM_LAYOUT_H
#define VNS_KVM_LAYOUT_H

#include <vns/common.h>

struct vns_kvm_route {
  u32 gsi;
  u32 type; /* KVM_IRQ_ROUTING_IRQCHIP 1, _MSI 2, _S390_ADAPTER 3, _HV_SINT 4, _XEN_EVTCHN 5 */
  void *set;
  union {
    struct {
      u32 irqchip;
      u32 pin;
    } irqchip;
    struct {
      u32 address_lo;
      u32 address_hi;
      u32 data;
    } msi;
  };
};

#endif
