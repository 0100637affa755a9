/* drop-summary: count skb:kfree_skb per drop location, reason and device.
 * Counting happens here; user space reads and clears the map each
 * interval. No stack walk: it would cost ~15x per drop. The flow filter
 * (vns.filter) runs first: it rejects most drops of a busy host. */
#include <vns/dev.h>
#include <vns/flow.h>

struct drop_key {
  u64 location;
  u32 reason;
  u32 pad;
  char dev[16];
};

BPF_HASH(drops, struct drop_key, u64, {{ MAX_KEYS }});
{{ FILTER_MAPS }}

TRACEPOINT_PROBE(skb, kfree_skb)
{
  struct sk_buff *skb = (struct sk_buff *)args->skbaddr;
  struct drop_key key = {};
{{ FLOW_FILTER }}
  vns_skb_devname(skb, key.dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  key.location = (u64)args->location;
{{ READ_REASON }}
  drops.increment(key);
  return 0;
}
