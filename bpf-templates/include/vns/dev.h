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

#endif
