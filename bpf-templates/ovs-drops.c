/* ovs-drops: packets the OVS kernel datapath drops, counted per cause,
 * where and input device. Three ways a packet dies there:
 *   1 no actions  a flow (or an execute from vswitchd) whose action list
 *                 is empty: what an OpenFlow drop becomes before Linux
 *                 6.4's explicit drop action. ovs_execute_actions sees
 *                 the empty list; the packet is then consumed
 *                 (consume_skb), invisible to skb:kfree_skb.
 *   2 upcall failed  ovs_dp_upcall returned an error (no handler
 *                 listening: ENOTCONN; its socket full: EAGAIN...): the
 *                 datapath counts it as lost (`ovs-dpctl show`).
 *   3 freed       skb:kfree_skb called from the openvswitch module's code
 *                 (its text range is in ovs_text, filled at start):
 *                 output to a missing port, a failed action, deferred
 *                 action or recursion limits, MTU; with the drop reason
 *                 where the kernel passes one (OVS_DROP_*, 6.4+).
 * A packet counted under 1 or 2 is not counted again when the module
 * frees it right after (ovs_dp_process_packet frees a packet whose
 * upcall failed): the thread remembers it until then. */
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>
#include <vns/ovs_layout.h>
{{ LAYOUT_CHECKS }}
{{ TRACEPOINTS }}

#define OVS_DROP_NO_ACTIONS 1
#define OVS_DROP_UPCALL 2
#define OVS_DROP_FREED 3

struct ovs_drop_key {
  u64 location;      /* kfree_skb's caller (freed), else 0 */
  u32 kind;
  u32 code;          /* errno (upcall failed), drop reason (freed) */
  char dev[16];      /* the packet's device: the port it came in on */
};
{{ DROP_COUNTER }}

struct ovs_text_range { u64 lo; u64 hi; };
BPF_ARRAY(ovs_text, struct ovs_text_range, 1);
/* Per thread: the skb of an upcall in flight, and the skb counted under
 * 1 or 2 that the module may still free. */
BPF_HASH(ovs_upcall_skb, u64, u64, 10240);
BPF_HASH(ovs_counted_skb, u64, u64, 10240);

static __always_inline int ovs_drop_match(struct sk_buff *skb)
{
{{ FLOW_FILTER }}
  if (!({{ DEV_FILTER }}))
    return 0;
  return 1;
}

static __always_inline void ovs_drop_count(struct sk_buff *skb, u32 kind, u32 code, u64 location)
{
  struct ovs_drop_key k;
  __builtin_memset(&k, 0, sizeof(k));
  k.kind = kind;
  k.code = code;
  k.location = location;
  vns_skb_devname(skb, k.dev);
  drops_count(&k);
}

static __always_inline void ovs_remember(u64 skb)
{
  u64 id = bpf_get_current_pid_tgid();
  ovs_counted_skb.update(&id, &skb);
}

int kprobe__ovs_execute_actions(struct pt_regs *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);
  struct vns_sw_flow_actions *acts = (struct vns_sw_flow_actions *)PT_REGS_PARM3(ctx);
  u32 len = 1;
  if (vns_read(&len, sizeof(len), &acts->actions_len) || len != 0)
    return 0;
  if (!ovs_drop_match(skb))
    return 0;
  ovs_drop_count(skb, OVS_DROP_NO_ACTIONS, 0, 0);
  ovs_remember((u64)skb);
  return 0;
}

/* A packet counted for its empty action list and consumed, or a
 * userspace() action's failed upcall (the packet went on): nothing
 * frees it in this call any more. */
int kretprobe__ovs_execute_actions(struct pt_regs *ctx)
{
  u64 id = bpf_get_current_pid_tgid();
  ovs_counted_skb.delete(&id);
  return 0;
}

int kprobe__ovs_dp_upcall(struct pt_regs *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);
  if (!ovs_drop_match(skb))
    return 0;
  u64 id = bpf_get_current_pid_tgid(), p = (u64)skb;
  ovs_upcall_skb.update(&id, &p);
  return 0;
}

int kretprobe__ovs_dp_upcall(struct pt_regs *ctx)
{
  u64 id = bpf_get_current_pid_tgid();
  u64 *p = ovs_upcall_skb.lookup(&id);
  if (!p)
    return 0;
  u64 skb = *p;
  ovs_upcall_skb.delete(&id);
  int ret = (int)PT_REGS_RC(ctx);
  if (ret == 0)
    return 0;
  ovs_drop_count((struct sk_buff *)skb, OVS_DROP_UPCALL, ret < 0 ? -ret : ret, 0);
  ovs_remember(skb);
  return 0;
}

static __always_inline int ovs_freed(struct sk_buff *skb, u64 location, u32 reason)
{
  u32 zero = 0;
  struct ovs_text_range *r = ovs_text.lookup(&zero);
  if (!r || location < r->lo || location >= r->hi)
    return 0;
  /* The module also frees its netlink messages (replies to ovs-dpctl,
   * vswitchd): those have no device; a packet has its input port. */
  void *dev = 0;
  if (vns_read(&dev, sizeof(dev), &skb->dev) || !dev)
    return 0;
  u64 id = bpf_get_current_pid_tgid();
  u64 *counted = ovs_counted_skb.lookup(&id);
  if (counted && *counted == (u64)skb) {
    ovs_counted_skb.delete(&id);
    return 0;
  }
  if (!ovs_drop_match(skb))
    return 0;
  ovs_drop_count(skb, OVS_DROP_FREED, reason, location);
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  return ovs_freed(VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, location), VNS_ARG(kfree_skb, reason));
}
