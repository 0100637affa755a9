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
 *   4 meter       ovs_meter_execute returned true: the packet is over its
 *                 meter band's rate (consume_skb before 6.4, then
 *                 OVS_DROP_METER).
 * A packet counted under 1, 2 or 4 is not counted again when the module
 * frees it right after (ovs_dp_process_packet frees a packet whose
 * upcall failed): the thread remembers it until then.
 * Each count carries the flow key's recirc_id and ct_state (the key the
 * function was given; for frees, the key of the ovs_execute_actions call
 * running on that skb), and with --stacks the kernel stack. */
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>
#include <vns/ovs_layout.h>
{{ LAYOUT_CHECKS }}
{{ TRACEPOINTS }}

#define OVS_DROP_NO_ACTIONS 1
#define OVS_DROP_UPCALL 2
#define OVS_DROP_FREED 3
#define OVS_DROP_METER_BAND 4
#define STACKS {{ STACKS }}

struct ovs_drop_key {
  u64 location;      /* kfree_skb's caller (freed), else 0 */
  u32 kind;
  u32 code;          /* errno (upcall failed), drop reason (freed) */
  char dev[16];      /* the packet's device: the port it came in on */
  u32 recirc_id;
  s32 stack_id;      /* --stacks, else -1 */
  u8 ct_state;
  u8 has_key;        /* recirc_id and ct_state known */
  u8 pad[6];
};
{{ DROP_COUNTER }}

struct ovs_text_range { u64 lo; u64 hi; };
BPF_ARRAY(ovs_text, struct ovs_text_range, 1);
#if STACKS
BPF_STACK_TRACE(stacks, 4096);
#endif

/* A packet and the flow key the datapath handles it with; for a call
 * followed to its return, the stack at its entry (a kretprobe's stack
 * ends at the trampoline before 5.15). */
struct ovs_skb_key {
  u64 skb;
  u64 key;
  s64 stack_id;
};
/* Per thread: the skb of an upcall or meter in flight, the skb whose
 * actions run, and the skb counted under 1, 2 or 4 that the module may
 * still free. */
BPF_HASH(ovs_call_skb, u64, struct ovs_skb_key, 10240);
BPF_HASH(ovs_exec_skb, u64, struct ovs_skb_key, 10240);
BPF_HASH(ovs_counted_skb, u64, u64, 10240);

static __always_inline int ovs_drop_match(struct sk_buff *skb)
{
{{ FLOW_FILTER }}
  if (!({{ DEV_FILTER }}))
    return 0;
  return 1;
}

/* --stacks: the kernel stack here, else -1. */
static __always_inline s32 ovs_stack(void *ctx)
{
#if STACKS
  return stacks.get_stackid(ctx, 0);
#else
  return -1;
#endif
}

/* key: the struct sw_flow_key of the packet, 0 when not known. */
static __always_inline void ovs_drop_count(struct sk_buff *skb, u32 kind, u32 code, u64 location, u64 key,
                                           s32 stack_id)
{
  struct ovs_drop_key k;
  __builtin_memset(&k, 0, sizeof(k));
  k.kind = kind;
  k.code = code;
  k.location = location;
  vns_skb_devname(skb, k.dev);
  struct vns_sw_flow_key *fk = (struct vns_sw_flow_key *)key;
  if (fk && !vns_read(&k.recirc_id, sizeof(k.recirc_id), &fk->recirc_id) &&
      !vns_read(&k.ct_state, sizeof(k.ct_state), &fk->ct_state))
    k.has_key = 1;
  k.stack_id = stack_id;
  drops_count(&k);
}

static __always_inline void ovs_remember(u64 skb)
{
  u64 id = vns_call_key();
  ovs_counted_skb.update(&id, &skb);
}

/* ovs_execute_actions(dp, skb, acts, key) */
int kprobe__ovs_execute_actions(struct pt_regs *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);
  struct vns_sw_flow_actions *acts = (struct vns_sw_flow_actions *)PT_REGS_PARM3(ctx);
  if (!ovs_drop_match(skb))
    return 0;
  u64 id = vns_call_key();
  struct ovs_skb_key sk = { .skb = (u64)skb, .key = PT_REGS_PARM4(ctx) };
  ovs_exec_skb.update(&id, &sk);
  u32 len = 1;
  if (vns_read(&len, sizeof(len), &acts->actions_len) || len != 0)
    return 0;
  ovs_drop_count(skb, OVS_DROP_NO_ACTIONS, 0, 0, sk.key, ovs_stack(ctx));
  ovs_remember((u64)skb);
  return 0;
}

/* A packet counted for its empty action list and consumed, or a
 * userspace() action's failed upcall (the packet went on): nothing
 * frees it in this call any more. */
int kretprobe__ovs_execute_actions(struct pt_regs *ctx)
{
  u64 id = vns_call_key();
  ovs_counted_skb.delete(&id);
  ovs_exec_skb.delete(&id);
  return 0;
}

/* ovs_dp_upcall(dp, skb, key, upcall_info, cutlen) and
 * ovs_meter_execute(dp, skb, key, meter_id): the skb and key of the call,
 * per thread from entry to return (neither runs inside the other). */
static __always_inline int ovs_call_entry(struct pt_regs *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);
  if (!ovs_drop_match(skb))
    return 0;
  u64 id = vns_call_key();
  struct ovs_skb_key sk = { .skb = (u64)skb, .key = PT_REGS_PARM3(ctx), .stack_id = ovs_stack(ctx) };
  ovs_call_skb.update(&id, &sk);
  return 0;
}

/* At the return: a drop of kind with code when failed, counted once. */
static __always_inline int ovs_call_return(struct pt_regs *ctx, int failed, u32 kind, u32 code)
{
  u64 id = vns_call_key();
  struct ovs_skb_key *p = ovs_call_skb.lookup(&id);
  if (!p)
    return 0;
  struct ovs_skb_key sk = *p;
  ovs_call_skb.delete(&id);
  if (!failed)
    return 0;
  ovs_drop_count((struct sk_buff *)sk.skb, kind, code, 0, sk.key, sk.stack_id);
  ovs_remember(sk.skb);
  return 0;
}

int kprobe__ovs_dp_upcall(struct pt_regs *ctx)
{
  return ovs_call_entry(ctx);
}

/* 0 or -errno */
int kretprobe__ovs_dp_upcall(struct pt_regs *ctx)
{
  int ret = (int)PT_REGS_RC(ctx);
  return ovs_call_return(ctx, ret != 0, OVS_DROP_UPCALL, ret < 0 ? -ret : ret);
}

int kprobe__ovs_meter_execute(struct pt_regs *ctx)
{
  return ovs_call_entry(ctx);
}

/* bool: true drops the packet */
int kretprobe__ovs_meter_execute(struct pt_regs *ctx)
{
  return ovs_call_return(ctx, (PT_REGS_RC(ctx) & 0xff) != 0, OVS_DROP_METER_BAND, 0);
}

static __always_inline int ovs_freed(void *ctx, struct sk_buff *skb, u64 location, u32 reason)
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
  u64 id = vns_call_key();
  u64 *counted = ovs_counted_skb.lookup(&id);
  if (counted && *counted == (u64)skb) {
    ovs_counted_skb.delete(&id);
    return 0;
  }
  if (!ovs_drop_match(skb))
    return 0;
  struct ovs_skb_key *exec = ovs_exec_skb.lookup(&id);
  u64 key = exec && exec->skb == (u64)skb ? exec->key : 0;
  ovs_drop_count(skb, OVS_DROP_FREED, reason, location, key, ovs_stack(ctx));
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  return ovs_freed(VNS_CTX(kfree_skb), VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, location), VNS_ARG(kfree_skb, reason));
}
