/* drop-summary: count skb:kfree_skb per drop location, reason and device,
 * and (--group-by) per flow and kernel stack. Counting happens here;
 * user space reads and clears the map each interval. Filters run first:
 * they reject most drops of a busy host before anything else is read.
 * A stack walk costs ~15x a count, so stacks are taken only on request,
 * or once per new location and reason (--stack-sample). */
#include <vns/dev.h>
#include <vns/flow.h>

struct drop_key {
  u64 location;
  u32 reason;
  s32 stack_id;
  char dev[16];
{{ FLOW_FIELDS }}
};

BPF_HASH(drops, struct drop_key, u64, {{ MAX_KEYS }});
{{ STACK_MAPS }}
{{ FILTER_MAPS }}

TRACEPOINT_PROBE(skb, kfree_skb)
{
  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
  struct drop_key key = {};
{{ READ_REASON }}
{{ REASON_FILTER }}
{{ FLOW_FILTER }}
  vns_skb_devname(skb, key.dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  key.location = (u64)args->location;
{{ FLOW_KEY }}
{{ STACK }}
  drops.increment(key);
  return 0;
}
