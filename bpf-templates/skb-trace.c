/* skb-trace: one event per hit of a packet that matches, at every probe
 * point of the set (tracepoints and kprobes), with the skb's facts and
 * its flow (and the inner flow of VXLAN and Geneve packets).
 *
 * A packet's path: the first hit that passes every filter gives its skb
 * a path id in vns_paths (an LRU hash keyed by the skb's address); every
 * later hit of that skb carries the id and the next sequence number, and
 * kfree_skb/consume_skb end it (the address may then be reused by
 * another packet). With --track a known skb is reported without
 * filtering again: after encapsulation or NAT the filter may no longer
 * see the headers that matched. kfree_skb/consume_skb report only the
 * skbs of a path. Filters run first, the budget last. */
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>
{{ TRACEPOINTS }}
{{ BUDGET }}
/* --track: a known skb is reported whatever its headers say now. */
#define TRACK {{ TRACK }}
/* --gso-anomaly: only skbs whose GSO type does not fit them. */
#define GSO_ANOMALY {{ GSO_ANOMALY }}
{{ FILTER_MAPS }}
{{ INNER_FILTER_MAPS }}

/* skb_shinfo(skb)->gso_type bits (include/linux/skbuff.h; the same
 * values from 4.19 to 6.x). */
#define GSO_TCP (1u << 0 | 1u << 4)                 /* TCPV4, TCPV6 */
#define GSO_UDP (1u << 16 | 1u << 17)               /* UDP (UFO), UDP_L4 */
#define GSO_TUNNEL (0x3fu << 6)                     /* GRE ... UDP_TUNNEL_CSUM */
/* Not a kind of segmentation: DODGY, TCP_ECN, TCP_FIXEDID, PARTIAL, TUNNEL_REMCSUM. */
#define GSO_MODIFIERS (1u << 1 | 1u << 2 | 1u << 3 | 1u << 12 | 1u << 13)

/* UDP ports of VXLAN (IANA, and Linux's default 8472) and Geneve. */
#define VXLAN_PORT vns_htons(4789)
#define VXLAN_LINUX_PORT vns_htons(8472)
#define GENEVE_PORT vns_htons(6081)

struct skbtrace_path {
  u64 id;
  u32 seq;
  u32 pad;
};

struct event {
  u64 ts_ns;
  u64 skb;
  u64 path;
  u64 ip;              /* kprobes: the probed address (+1 on x86); 0 for tracepoints */
  u32 probe;           /* tracepoints: their id in the set; 0 for kprobes */
  u32 seq;             /* hit number within the path */
  u32 cpu;
  u32 len;
  u32 gso_type;
  u32 mark;
  u16 gso_size;
  u16 gso_segs;
  u16 queue_mapping;
  u8 ip_summed;        /* CHECKSUM_NONE, _UNNECESSARY, _COMPLETE, _PARTIAL */
  u8 tracked;          /* reported because --track knew the skb */
  u8 tunnel;           /* 1 VXLAN, 2 Geneve: inner flow follows */
  u8 anomaly;
  u8 pad[2];
  /* the flow, and the inner flow (i_*) of a tunnelled packet; scalars
   * only: the event decoder takes no nested structs */
  u32 saddr[4];
  u32 daddr[4];
  u32 i_saddr[4];
  u32 i_daddr[4];
  u16 sport;
  u16 dport;
  u16 i_sport;
  u16 i_dport;
  u16 ethertype;
  u16 i_ethertype;
  u16 arp_op;
  u8 family;
  u8 proto;
  u8 has_ports;
  u8 i_family;
  u8 i_proto;
  u8 i_has_ports;
  char dev[16];
};

#define COPY_FLOW(ev, p, f)                                         \
  do {                                                              \
    __builtin_memcpy((ev).p##saddr, (f).saddr, sizeof((f).saddr)); \
    __builtin_memcpy((ev).p##daddr, (f).daddr, sizeof((f).daddr)); \
    (ev).p##sport = (f).sport;                                      \
    (ev).p##dport = (f).dport;                                      \
    (ev).p##ethertype = (f).ethertype;                              \
    (ev).p##family = (f).family;                                    \
    (ev).p##proto = (f).proto;                                      \
    (ev).p##has_ports = (f).has_ports;                              \
  } while (0)

{{ EVENTS }}
BPF_TABLE("lru_hash", u64, struct skbtrace_path, vns_paths, 16384);
/* Path ids: the CPU in the top bits, a per-CPU count below: unique
 * without atomics that return a value (4.19 has none). */
BPF_PERCPU_ARRAY(vns_path_count, u64, 1);

/* ip_summed is a bitfield: which bits of the byte at __pkt_type_offset
 * it takes, folded at compile time from the headers this program is
 * compiled against (4.19 and 5.x+ differ). */
static const struct sk_buff vns_csum_probe = { .ip_summed = 3 };
#define CSUM_MASK (((const u8 *)&vns_csum_probe)[offsetof(struct sk_buff, __pkt_type_offset)])

/* The inner flow of a VXLAN or Geneve packet: the Ethernet frame after
 * the outer UDP header and the tunnel header. */
static __always_inline int inner_flow(struct vns_flow *f, struct vns_flow *fi, u8 *tunnel)
{
  if (f->proto != IPPROTO_UDP || !vns_flow_l4(f))
    return 0;
  unsigned char *eth = f->l4 + 8 + 8;
  if (f->dport == VXLAN_PORT || f->dport == VXLAN_LINUX_PORT) {
    *tunnel = 1;
  } else if (f->dport == GENEVE_PORT) {
    u8 gh[4];
    if (vns_read(gh, sizeof(gh), f->l4 + 8))
      return 0;
    if (gh[2] != 0x65 || gh[3] != 0x58)   /* protocol: Transparent Ethernet Bridging */
      return 0;
    eth += (gh[0] & 0x3f) * 4;            /* options, in 4-byte words */
    *tunnel = 2;
  } else {
    return 0;
  }
  u16 proto = 0;
  if (vns_read(&proto, sizeof(proto), eth + 12))
    return 0;
  fi->ethertype = proto;
  if (proto == vns_htons(ETH_P_IP))
    return vns_flow_ipv4(fi, eth + ETH_HLEN);
  if (proto == vns_htons(ETH_P_IPV6))
    return vns_flow_ipv6(fi, eth + ETH_HLEN);
  return 0;
}

static __always_inline int gso_anomalous(const struct event *ev, const struct vns_flow *f)
{
  u32 t = ev->gso_type;
  if (!ev->gso_size)
    return 0;
  if (!(t & ~GSO_MODIFIERS))
    return 1;
  if ((t & GSO_TUNNEL) || !f->family)
    return 0;
  return ((t & GSO_TCP) && f->proto != IPPROTO_TCP) || ((t & GSO_UDP) && f->proto != IPPROTO_UDP);
}

static __always_inline void skb_facts(struct sk_buff *skb, struct event *ev)
{
  unsigned char *head = 0;
  u32 end = 0;
  vns_read(&ev->len, sizeof(ev->len), &skb->len);
  vns_read(&ev->mark, sizeof(ev->mark), &skb->mark);
  vns_read(&ev->queue_mapping, sizeof(ev->queue_mapping), &skb->queue_mapping);
  u8 b = 0;
  vns_read(&b, 1, (u8 *)skb + offsetof(struct sk_buff, __pkt_type_offset));
  ev->ip_summed = (b & CSUM_MASK) >> __builtin_ctz(CSUM_MASK);
  vns_read(&head, sizeof(head), &skb->head);
  vns_read(&end, sizeof(end), &skb->end);
  if (head) {
    /* skb_shinfo(skb): head + end (an offset on 64-bit kernels) */
    struct skb_shared_info *sh = (struct skb_shared_info *)(head + end);
    vns_read(&ev->gso_size, 4, &sh->gso_size);   /* gso_size, gso_segs */
    vns_read(&ev->gso_type, sizeof(ev->gso_type), &sh->gso_type);
  }
}

static __always_inline struct skbtrace_path *new_path(u64 key)
{
  int zero = 0;
  u64 *n = vns_path_count.lookup(&zero);
  if (!n)
    return 0;
  struct skbtrace_path p = {};
  p.id = ((u64)bpf_get_smp_processor_id() << 48) | ++*n;
  vns_paths.update(&key, &p);
  return vns_paths.lookup(&key);
}

static __always_inline int hit(void *ctx, struct sk_buff *skb, u32 probe, u64 ip, int end)
{
  if (!skb)
    return 0;
  u64 key = (u64)skb;
  struct event ev = {};
  struct vns_flow f = {};
  struct vns_flow fi = {};
  struct skbtrace_path *p = vns_paths.lookup(&key);
  /* kfree_skb and consume_skb end the paths seen before; they start none. */
  if (end && !p)
    return 0;
#if TRACK
  if (p) {
    ev.tracked = 1;
    vns_flow_l3_of(skb, &f, VNS_FLOW_IP | VNS_FLOW_ARP);
    inner_flow(&f, &fi, &ev.tunnel);
    skb_facts(skb, &ev);
    vns_skb_devname(skb, ev.dev);
    goto report;
  }
#endif
  vns_flow_l3_of(skb, &f, VNS_FLOW_IP | VNS_FLOW_ARP);
  int inner = inner_flow(&f, &fi, &ev.tunnel);
  if (!({{ FILTER }}) && !(inner && ({{ INNER_FILTER }})))
    return 0;
  vns_skb_devname(skb, ev.dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  skb_facts(skb, &ev);
  ev.anomaly = gso_anomalous(&ev, &f);
#if GSO_ANOMALY
  if (!ev.anomaly)
    return 0;
#endif
report:
  if (!p && !end)
    p = new_path(key);
  if (p) {
    ev.path = p->id;
    ev.seq = ++p->seq;
  }
  if (end)
    vns_paths.delete(&key);
  if (!vns_budget_take())
    return 0;
  vns_flow_l4(&f);
  COPY_FLOW(ev, , f);
  ev.arp_op = f.arp_op;
  if (ev.tunnel) {
    vns_flow_l4(&fi);
    COPY_FLOW(ev, i_, fi);
  }
  ev.ts_ns = bpf_ktime_get_ns();
  ev.skb = key;
  ev.ip = ip;
  ev.probe = probe;
  ev.cpu = bpf_get_smp_processor_id();
  {{ SUBMIT }}
  return 0;
}

{{ ENTRIES }}
