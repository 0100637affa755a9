/* vns/dev.h: the network device of an skb. */
#ifndef VNS_DEV_H
#define VNS_DEV_H

#include <vns/common.h>

/* Copy the skb's device name into name[16]; left empty (zeroes) when the
 * skb has no device, as for many locally generated packets. */
static __always_inline void vns_skb_devname(struct sk_buff *skb, char *name)
{
  struct net_device *dev = NULL;
  vns_read(&dev, sizeof(dev), &skb->dev);
  if (dev)
    vns_read(name, 16, dev->name);
}

/* Is the skb's device named by the two 64-bit words of its zero-padded
 * char[16] (vns.ctxfilter writes them as constants)? */
static __always_inline int vns_skb_dev_is(struct sk_buff *skb, u64 lo, u64 hi)
{
  union { char c[16]; u64 w[2]; } name = {};
  vns_skb_devname(skb, name.c);
  return name.w[0] == lo && name.w[1] == hi;
}

#endif
