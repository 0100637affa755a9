/* vns/ring.h: the fill level of a ptr_ring (linux/ptr_ring.h, public):
 * tun's tx_ring and tap's queue ring. */
#ifndef VNS_RING_H
#define VNS_RING_H

#include <vns/common.h>
#if __has_include(<linux/ptr_ring.h>)
#include <linux/ptr_ring.h>
#endif

/* A ptr_ring's fill level: entries the producer wrote that the consumer
 * has not taken. A slot is non-NULL from produce until the consumer
 * clears it (in batches, behind consumer_head): when the producer's next
 * slot is still set, the ring is full. */
struct vns_ring_state {
  u32 fill, size;
};

static __always_inline void vns_ring_state(struct ptr_ring *r, struct vns_ring_state *st)
{
  int producer = 0, head = 0, size = 0;
  void **queue = NULL, *slot = NULL;
  vns_read(&producer, sizeof(producer), &r->producer);
  vns_read(&head, sizeof(head), &r->consumer_head);
  vns_read(&size, sizeof(size), &r->size);
  vns_read(&queue, sizeof(queue), &r->queue);
  st->size = size > 0 ? size : 0;
  if (!queue || size <= 0)
    return;
  vns_read(&slot, sizeof(slot), &queue[producer & 0xffff]);
  if (slot)
    st->fill = size;
  else
    st->fill = producer >= head ? producer - head : producer + size - head;
}

#endif
