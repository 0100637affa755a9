/* napi-poll: every NAPI poll (napi:napi_poll), counted per device, NAPI
 * instance, poll function and origin: in the NET_RX softirq, or outside
 * it (busy polling from a socket, threaded NAPI). Per key: polls,
 * packets (the work done), polls that used the whole budget (the
 * driver is polled again: "repoll"), polls that found nothing, and how
 * much of the budget each poll used, in eighths.
 * The origin comes from irq:softirq_entry/exit of NET_RX_SOFTIRQ: a
 * per-CPU flag, set while the softirq runs (costs one store per
 * softirq, nothing per packet). */
#include <vns/tp.h>
#include <vns/common.h>

{{ TRACEPOINTS }}

/* --group-by stack: the kernel stack is in the key. */
#define BY_STACK {{ BY_STACK }}
#define NET_RX_SOFTIRQ 3
#define EIGHTHS 10

enum origin { ORIGIN_SOFTIRQ = 0, ORIGIN_OTHER = 1 };

struct poll_key {
  u64 napi;
  u64 poll;
  char dev[16];
  u32 origin;
  s32 stack_id;
};

struct poll_counts {
  u64 polls;
  u64 packets;
  u64 full;
  u64 empty;
  /* [0]: nothing; [i], 1..8: up to i/8 of the budget; [9]: over it. */
  u64 used[16];
};

BPF_PERCPU_HASH(polls, struct poll_key, struct poll_counts, 4096);
BPF_PERCPU_ARRAY(in_net_rx, u32, 1);
#if BY_STACK
BPF_STACK_TRACE(stacks, 4096);
#endif

static __always_inline void softirq(u32 vec, u32 inside)
{
  u32 zero = 0;
  if (vec != NET_RX_SOFTIRQ)
    return;
  u32 *flag = in_net_rx.lookup(&zero);
  if (flag)
    *flag = inside;
}

static __always_inline u32 used_slot(int work, int budget)
{
  if (work <= 0)
    return 0;
  if (budget <= 0 || work > budget)
    return EIGHTHS - 1;
  return (u32)(((u64)work * 8 + budget - 1) / budget);
}

static __always_inline int on_napi_poll(void *ctx, struct napi_struct *napi, int work, int budget)
{
  struct poll_key key = {};
  struct net_device *dev = NULL;
  u32 zero = 0;
  key.napi = (u64)napi;
  vns_read(&key.poll, sizeof(key.poll), &napi->poll);
  vns_read(&dev, sizeof(dev), &napi->dev);
  if (dev)
    vns_read(key.dev, sizeof(key.dev), dev->name);
  if (!({{ DEV_FILTER }}))
    return 0;
  u32 *flag = in_net_rx.lookup(&zero);
  key.origin = flag && *flag ? ORIGIN_SOFTIRQ : ORIGIN_OTHER;
#if BY_STACK
  key.stack_id = stacks.get_stackid(ctx, 0);
#else
  key.stack_id = -1;
#endif
  struct poll_counts init = {}, *c = polls.lookup_or_try_init(&key, &init);
  if (!c)
    return 0;
  c->polls++;
  if (work > 0)
    c->packets += work;
  if (work >= budget)
    c->full++;
  if (work <= 0)
    c->empty++;
  /* The mask bounds the index for the verifier (slots 10-15 stay 0). */
  c->used[used_slot(work, budget) & 15]++;
  return 0;
}

VNS_TP(irq, softirq_entry)
{
  softirq(VNS_ARG(softirq_entry, vec), 1);
  return 0;
}

VNS_TP(irq, softirq_exit)
{
  softirq(VNS_ARG(softirq_exit, vec), 0);
  return 0;
}

VNS_TP(napi, napi_poll)
{
  return on_napi_poll(VNS_CTX(napi_poll), VNS_ARG(napi_poll, napi), VNS_ARG(napi_poll, work),
                   VNS_ARG(napi_poll, budget));
}
