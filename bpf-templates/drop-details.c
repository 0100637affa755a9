/* drop-details: one event per matching skb:kfree_skb, under the event
 * budget. Filters run first (flow, then device), the budget last, so
 * only a drop that is reported spends a token or a stack walk. */
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>
#include <vns/task.h>
{{ TRACEPOINTS }}
{{ BUDGET }}
/* --stack: each event's kernel stack. */
#define WITH_STACK {{ WITH_STACK }}
{{ FILTER_MAPS }}

struct event {
  u64 ts_ns;
  u64 location;
  u32 saddr[4];
  u32 daddr[4];
  u32 reason;
  u32 cpu;
  u32 pid;
  u32 len;
  s32 stack_id;
  u16 sport;
  u16 dport;
  u16 vlan;
  u16 ethertype;
  u8 family;
  u8 proto;
  u8 icmp_type;
  u8 icmp_code;
  u8 nvlan;
  u8 has_ports;
  u16 arp_op;
  char comm[16];
  char dev[16];
};

{{ EVENTS }}
#if WITH_STACK
BPF_STACK_TRACE(stacks, 4096);
#endif

static __always_inline int drop(void *ctx, struct sk_buff *skb, u64 location, u32 reason)
{
  struct vns_flow f = {};
  vns_flow_l3_of(skb, &f, {{ L3 }});
  if (!({{ FILTER }}))
    return 0;
  struct event ev = {};
  vns_skb_devname(skb, ev.dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  if (!vns_budget_take())
    return 0;
  vns_flow_l4(&f);
  ev.ts_ns = bpf_ktime_get_ns();
  ev.location = location;
  ev.reason = reason;
  ev.cpu = bpf_get_smp_processor_id();
  ev.pid = vns_current_pid();
  bpf_get_current_comm(ev.comm, sizeof(ev.comm));
  vns_read(&ev.len, sizeof(ev.len), &skb->len);
  __builtin_memcpy(ev.saddr, f.saddr, sizeof(ev.saddr));
  __builtin_memcpy(ev.daddr, f.daddr, sizeof(ev.daddr));
  ev.sport = f.sport;
  ev.dport = f.dport;
  ev.vlan = f.vlan;
  ev.ethertype = f.ethertype;
  ev.family = f.family;
  ev.proto = f.proto;
  ev.icmp_type = f.icmp_type;
  ev.icmp_code = f.icmp_code;
  ev.nvlan = f.nvlan;
  if (!f.nvlan && vns_skb_vlan_offloaded(skb, &ev.vlan))
    ev.nvlan = 1;
  ev.has_ports = f.has_ports;
  ev.arp_op = f.arp_op;
#if WITH_STACK
  ev.stack_id = stacks.get_stackid(ctx, 0);
#else
  ev.stack_id = -1;
#endif
  {{ SUBMIT }}
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  /* reason is 0 on kernels without drop reasons (before 5.17) */
  return drop(VNS_CTX(kfree_skb), VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, location),
              VNS_ARG(kfree_skb, reason));
}
