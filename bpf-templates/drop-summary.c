/* drop-summary: count skb:kfree_skb per drop location, reason and device,
 * and (--group-by) per flow and kernel stack. Counting happens here
 * (fragments/counter.c: per-CPU slots, then a per-CPU hash); user space
 * reads the counts each interval.
 * Filters run first: they reject most drops of a busy host before
 * anything else is read. A stack walk costs ~15x a count, so stacks are
 * taken only on request, or once per new location and reason
 * (--stack-sample). The probe is a raw tracepoint where the kernel has
 * them (vns/tp.h), forwarding to drop(). */
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>

{{ TRACEPOINTS }}

/* --group-by flow|all: the flow is in the key. */
#define BY_FLOW {{ BY_FLOW }}
/* --group-by stack|all: the stack is in the key. */
#define BY_STACK {{ BY_STACK }}
/* --stack-sample: one stack per new location and reason. */
#define STACK_SAMPLE {{ STACK_SAMPLE }}
/* --exclude-unspecified: leave out this kernel's NOT_SPECIFIED reason. */
#define EXCLUDE_REASON {{ EXCLUDE_REASON }}
#define UNSPECIFIED {{ UNSPECIFIED }}
/* A flow filter is given (otherwise the flow is parsed only for the key). */
#define FLOW_FILTER {{ HAS_FLOW_FILTER }}

struct drop_key {
  u64 location;
  u32 reason;
  s32 stack_id;
  char dev[16];
#if BY_FLOW
  struct vns_flow_key flow;
#endif
};

{{ COUNTER }}
#if BY_STACK || STACK_SAMPLE
BPF_STACK_TRACE(stacks, 4096);
#endif
#if STACK_SAMPLE && !BY_STACK
struct sample_key {
  u64 location;
  u32 reason;
  u32 pad;
};
BPF_HASH(samples, struct sample_key, s32, 4096);
#endif
{{ FILTER_MAPS }}

static __always_inline int drop(void *ctx, struct sk_buff *skb, u64 location, u32 reason)
{
  struct drop_key key = {};
  key.reason = reason;
#if EXCLUDE_REASON
  if (key.reason == UNSPECIFIED)
    return 0;
#endif
#if FLOW_FILTER || BY_FLOW
  struct vns_flow f = {};
  vns_flow_l3_of(skb, &f, {{ L3_FLAGS }});
  if (!({{ FLOW_FILTER_EXPR }}))
    return 0;
#endif
  vns_skb_devname(skb, key.dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  key.location = location;
#if BY_FLOW
  vns_flow_l4(&f);
  vns_flow_key_of(&key.flow, &f);
#endif
#if BY_STACK
  key.stack_id = stacks.get_stackid(ctx, 0);
#else
  key.stack_id = -1;
#endif
#if STACK_SAMPLE && !BY_STACK
  /* Only a key new to this CPU's counter can lack its sample. */
  if (drops_count(&key)) {
    struct sample_key sk = { .location = key.location, .reason = key.reason };
    if (!samples.lookup(&sk)) {
      s32 id = stacks.get_stackid(ctx, 0);
      samples.update(&sk, &id);
    }
  }
#else
  drops_count(&key);
#endif
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  /* reason is 0 on kernels without drop reasons (before 5.17) */
  return drop(VNS_CTX(kfree_skb), VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, location),
              VNS_ARG(kfree_skb, reason));
}
