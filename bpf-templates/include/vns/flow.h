/* vns/flow.h: the flow of an skb, parsed in stages so that a program
 * reads only what its filter and output need:
 *
 *   struct vns_flow f = {};
 *   vns_flow_l3(skb, &f);        Ethernet, VLAN/QinQ, IPv4 or IPv6 header
 *   vns_flow_l4(&f);             ports or ICMP type/code: only when needed
 *
 * ARP over Ethernet/IPv4 is parsed when asked (VNS_FLOW_ARP): arp_op,
 * sender address in saddr[0], target in daddr[0], family 0 (not IP).
 *
 * (vns_flow_l3_of(skb, &f, VNS_FLOW_IPV4) skips IPv6 headers when the
 * filter holds only for IPv4, and the other way round.)
 *
 * A generated filter (vns.filter) is an expression over `f`; it calls
 * vns_flow_l4 itself, after every cheaper test, when it tests ports.
 * Addresses and ports are kept in network byte order, as the packet has
 * them: filters compare them with constants made in that order.
 *
 * Probe reads cost far more than the bytes they copy, so the L3 header
 * is read together with the 4 bytes after it (ports, or ICMP type and
 * code, when no IPv4 options or IPv6 extension headers come between):
 * a packet's flow then costs two reads, the skb (vns_skb_read) and its
 * headers, whatever the filter and the key need of it.
 *
 * Packet headers are read through layouts defined here, not the kernel's
 * struct iphdr (whose bitfield order depends on headers BTF lacks), so
 * the same code compiles against real headers and the BTF tree. */
#ifndef VNS_FLOW_H
#define VNS_FLOW_H

#include <vns/skb.h>
#include <linux/in.h>
#include <linux/in6.h>

/* Protocol numbers. Real headers define them as macros (uapi in.h and
 * in6.h); BTF carries some as enum constants and others not at all. */
#ifndef IPPROTO_HOPOPTS
#define IPPROTO_HOPOPTS 0
#endif
#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP 1
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif
#ifndef IPPROTO_DCCP
#define IPPROTO_DCCP 33
#endif
#ifndef IPPROTO_ROUTING
#define IPPROTO_ROUTING 43
#endif
#ifndef IPPROTO_FRAGMENT
#define IPPROTO_FRAGMENT 44
#endif
#ifndef IPPROTO_AH
#define IPPROTO_AH 51
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif
#ifndef IPPROTO_NONE
#define IPPROTO_NONE 59
#endif
#ifndef IPPROTO_DSTOPTS
#define IPPROTO_DSTOPTS 60
#endif
#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

/* Tags walked (2: QinQ) and IPv6 extension headers skipped. Loops are
 * unrolled: 4.19's verifier has no bounded loops. */
#ifndef VNS_VLAN_MAX
#define VNS_VLAN_MAX 2
#endif
#ifndef VNS_IPV6_EXT_MAX
#define VNS_IPV6_EXT_MAX 6
#endif

struct vns_flow {
  u32 saddr[4];       /* network byte order; IPv4 in [0], the rest 0 */
  u32 daddr[4];
  unsigned char *l4;  /* kernel address of the L4 header, 0 if unknown */
  u16 ethertype;      /* after VLAN tags, network byte order */
  u16 sport;          /* TCP, UDP, UDP-Lite, SCTP, DCCP: network order */
  u16 dport;
  u16 vlan;           /* outer VLAN id (host order) when nvlan > 0 */
  u16 vlan_inner;     /* inner VLAN id when nvlan > 1 */
  u16 arp_op;         /* ARP (VNS_FLOW_ARP): opcode, host order; 0 if not */
  u8 family;          /* 4, 6, or 0: not IP (or unreadable) */
  u8 proto;           /* IPv4 protocol; IPv6: after extension headers */
  u8 icmp_type;       /* ICMP and ICMPv6 */
  u8 icmp_code;
  u8 nvlan;           /* VLAN tags in the packet data */
  u8 frag;            /* 1: a fragment other than the first: no L4 header */
  u8 has_ports;       /* sport/dport were read */
  u8 l4_state;        /* 0: not parsed; 1: no L4 header; 2: parsed */
  u8 l4_read;         /* l4_head holds the first bytes at l4 */
  u8 l4_head[4];      /* read with the L3 header when L4 follows it */
};

/* vns_flow_l4 reads both ports, and ICMP type and code, in one go. */
_Static_assert(offsetof(struct vns_flow, dport) == offsetof(struct vns_flow, sport) + 2, "sport, dport");
_Static_assert(offsetof(struct vns_flow, icmp_code) == offsetof(struct vns_flow, icmp_type) + 1, "icmp");

/* Wire layouts (all fields network byte order). */
struct vns_ip4hdr {
  u8 ver_ihl;
  u8 tos;
  u16 tot_len;
  u16 id;
  u16 frag_off;
  u8 ttl;
  u8 protocol;
  u16 check;
  u32 saddr;
  u32 daddr;
};

struct vns_ip6hdr {
  u32 ver_tc_flow;
  u16 payload_len;
  u8 nexthdr;
  u8 hop_limit;
  u32 saddr[4];
  u32 daddr[4];
};

/* Keys of the maps a filter uses for large sets (vns.filter). */
struct vns_in6 {
  u32 w[4];
};
struct vns_lpm4 {
  u32 prefixlen;
  u32 addr;
};
struct vns_lpm6 {
  u32 prefixlen;
  u32 addr[4];
};

/* Walk 802.1Q / 802.1ad tags: *l3 points after the Ethernet header (at
 * the first tag's TCI) while *proto is a VLAN type. */
static __always_inline int vns_flow_vlan(struct vns_flow *f, unsigned char **l3, u16 *proto)
{
#pragma unroll
  for (int i = 0; i < VNS_VLAN_MAX; i++) {
    u16 tag[2];
    if (*proto != vns_htons(ETH_P_8021Q) && *proto != vns_htons(ETH_P_8021AD))
      break;
    if (vns_read(tag, sizeof(tag), *l3))
      return 0;
    if (i == 0)
      f->vlan = vns_ntohs(tag[0]) & 0x0fff;
    else
      f->vlan_inner = vns_ntohs(tag[0]) & 0x0fff;
    f->nvlan++;
    *proto = tag[1];
    *l3 += 4;
  }
  return 1;
}

/* IPv4, options included: the L4 header is IHL words after l3. */
/* The L3 header and the 4 bytes after it, in one read; the header alone
 * when that fails (a header at the very end of readable memory). */
#define VNS_READ_L3(h, l3)                                             \
  ({                                                                   \
    int __ok = !vns_read(&(h), sizeof(h), (l3));                       \
    if (__ok)                                                          \
      f->l4_read = 1;                                                  \
    else                                                               \
      __ok = !vns_read(&(h).ip, sizeof((h).ip), (l3));                 \
    __ok;                                                              \
  })

static __always_inline int vns_flow_ipv4(struct vns_flow *f, unsigned char *l3)
{
  struct {
    struct vns_ip4hdr ip;
    u8 l4[4];
  } h;
  if (!VNS_READ_L3(h, l3))
    return 0;
  struct vns_ip4hdr ip = h.ip;
  if ((ip.ver_ihl >> 4) != 4 || (ip.ver_ihl & 0x0f) < 5)
    return 0;
  f->family = 4;
  f->proto = ip.protocol;
  f->saddr[0] = ip.saddr;
  f->daddr[0] = ip.daddr;
  if (ip.frag_off & vns_htons(0x1fff))
    f->frag = 1;
  f->l4 = l3 + (ip.ver_ihl & 0x0f) * 4;
  if ((ip.ver_ihl & 0x0f) == 5 && f->l4_read)
    __builtin_memcpy(f->l4_head, h.l4, 4);
  else
    f->l4_read = 0;
  return 1;
}

/* IPv6 and the extension headers that may precede the L4 header:
 * hop-by-hop, routing, destination options (8 * (len + 1) bytes),
 * fragment (8 bytes) and AH (4 * (len + 2) bytes). */
static __always_inline int vns_flow_ipv6(struct vns_flow *f, unsigned char *l3)
{
  struct {
    struct vns_ip6hdr ip;
    u8 l4[4];
  } h;
  if (!VNS_READ_L3(h, l3))
    return 0;
  struct vns_ip6hdr ip = h.ip;
  if ((ip.ver_tc_flow & vns_htonl(0xf0000000)) != vns_htonl(0x60000000))
    return 0;
  f->family = 6;
  __builtin_memcpy(f->saddr, ip.saddr, sizeof(f->saddr));
  __builtin_memcpy(f->daddr, ip.daddr, sizeof(f->daddr));
  u8 nh = ip.nexthdr;
  unsigned char *p = l3 + sizeof(ip);
#pragma unroll
  for (int i = 0; i < VNS_IPV6_EXT_MAX; i++) {
    u8 ext[4];
    if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
        nh != IPPROTO_FRAGMENT && nh != IPPROTO_AH)
      break;
    if (vns_read(ext, sizeof(ext), p))
      return 0;
    if (nh == IPPROTO_FRAGMENT) {
      /* Fragment offset: the top 13 bits of bytes 2-3. */
      if ((ext[2] << 8 | ext[3]) & 0xfff8)
        f->frag = 1;
      p += 8;
    } else if (nh == IPPROTO_AH) {
      p += (ext[1] + 2) * 4;
    } else {
      p += (ext[1] + 1) * 8;
    }
    nh = ext[0];
    f->l4_read = 0;  /* what followed the header was this extension */
  }
  f->proto = nh;
  f->l4 = p;
  if (f->l4_read)
    __builtin_memcpy(f->l4_head, h.l4, 4);
  return 1;
}

/* ARP for IPv4 over Ethernet: the fixed header, then the sender's and
 * target's hardware and protocol addresses. */
struct vns_arphdr {
  u16 htype;
  u16 ptype;
  u8 hlen;
  u8 plen;
  u16 op;
};

static __always_inline void vns_flow_arp(struct vns_flow *f, unsigned char *l3)
{
  struct vns_arphdr arp;
  if (vns_read(&arp, sizeof(arp), l3))
    return;
  if (arp.htype != vns_htons(1) || arp.ptype != vns_htons(ETH_P_IP) || arp.hlen != 6 || arp.plen != 4)
    return;
  /* sender: l3 + 8 (MAC) + 14 (IP); target: l3 + 18 (MAC) + 24 (IP) */
  if (vns_read(&f->saddr[0], 4, l3 + 14) || vns_read(&f->daddr[0], 4, l3 + 24))
    return;
  f->arp_op = vns_ntohs(arp.op);
}

/* Which L3 headers vns_flow_l3_of parses. A filter that holds only for
 * IPv4 (vns.filter says so) need not read IPv6 headers at all. */
#define VNS_FLOW_IPV4 1
#define VNS_FLOW_IPV6 2
#define VNS_FLOW_IP (VNS_FLOW_IPV4 | VNS_FLOW_IPV6)
#define VNS_FLOW_ARP 4

/* Stage 1: the L2/L3 part of the flow. Returns 1 for an IPv4 or IPv6
 * packet (of the kinds asked for); otherwise f keeps what was found
 * (ethertype, VLAN ids) and family 0, so "not ip"-style filters still
 * see the packet. */
static __always_inline int vns_flow_l3_of(struct sk_buff *skb, struct vns_flow *f, int which)
{
  struct vns_skb s;
  unsigned char *l3 = 0;
  u16 proto = 0;
  if (!vns_skb_read(skb, &s) || !vns_skb_l3(&s, &l3, &proto))
    return 0;
  if (!vns_flow_vlan(f, &l3, &proto))
    return 0;
  f->ethertype = proto;
  if ((which & VNS_FLOW_IPV4) && proto == vns_htons(ETH_P_IP))
    return vns_flow_ipv4(f, l3);
  if ((which & VNS_FLOW_IPV6) && proto == vns_htons(ETH_P_IPV6))
    return vns_flow_ipv6(f, l3);
  if ((which & VNS_FLOW_ARP) && proto == vns_htons(ETH_P_ARP))
    vns_flow_arp(f, l3);
  return 0;
}

static __always_inline int vns_flow_l3(struct sk_buff *skb, struct vns_flow *f)
{
  return vns_flow_l3_of(skb, f, VNS_FLOW_IP);
}

/* Stage 2: ports, or ICMP type and code. Idempotent, so a filter and
 * the program's own output may both call it. Returns 1 when an L4
 * header was read. Non-first fragments have none. */
static __always_inline int vns_flow_l4(struct vns_flow *f)
{
  if (f->l4_state)
    return f->l4_state == 2;
  f->l4_state = 1;
  if (!f->l4 || f->frag)
    return 0;
  switch (f->proto) {
  case IPPROTO_TCP:
  case IPPROTO_UDP:
  case IPPROTO_UDPLITE:
  case IPPROTO_SCTP:
  case IPPROTO_DCCP:
    if (f->l4_read)
      __builtin_memcpy(&f->sport, f->l4_head, 4);
    else if (vns_read(&f->sport, 4, f->l4))
      return 0;
    f->has_ports = 1;
    break;
  case IPPROTO_ICMP:
  case IPPROTO_ICMPV6:
    if (f->l4_read)
      __builtin_memcpy(&f->icmp_type, f->l4_head, 2);
    else if (vns_read(&f->icmp_type, 2, f->l4))
      return 0;
    break;
  default:
    return 0;
  }
  f->l4_state = 2;
  return 1;
}

/* A flow's 5-tuple as map keys and events keep it (vns.net.flow_fields
 * reads it back): the wire byte order of the packet, ports 0 and
 * has_ports 0 when the packet has none. */
struct vns_flow_key {
  u32 saddr[4];
  u32 daddr[4];
  u16 sport;
  u16 dport;
  u8 family;
  u8 proto;
  u8 has_ports;
  u8 pad;
};

static __always_inline void vns_flow_key_of(struct vns_flow_key *k, const struct vns_flow *f)
{
  __builtin_memcpy(k->saddr, f->saddr, sizeof(k->saddr));
  __builtin_memcpy(k->daddr, f->daddr, sizeof(k->daddr));
  k->sport = f->sport;
  k->dport = f->dport;
  k->family = f->family;
  k->proto = f->proto;
  k->has_ports = f->has_ports;
}

/* Both stages at once, for programs that always show ports. */
static __always_inline int vns_flow_from_skb(struct sk_buff *skb, struct vns_flow *f)
{
  if (!vns_flow_l3(skb, f))
    return 0;
  vns_flow_l4(f);
  return 1;
}

#endif
