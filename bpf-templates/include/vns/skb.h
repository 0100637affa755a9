/* vns/skb.h: portable access to an skb's buffer and header offsets.
 *
 * Since 3.14 mac_header, network_header and transport_header are __u16
 * offsets from skb->head, and (u16)~0U means "not set" (the kernel's
 * skb_mac_header_was_set()). Everything here is read with bpf_probe_read
 * (vns_read): 4.19 has neither bpf_probe_read_kernel nor BTF-typed skb
 * pointers, and the same code must compile against real kernel headers
 * and against the BTF-generated tree. */
#ifndef VNS_SKB_H
#define VNS_SKB_H

#include <vns/common.h>
#include <linux/if_ether.h>

#ifndef ETH_HLEN
#define ETH_HLEN 14
#endif

#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6 0x86DD
#endif
#ifndef ETH_P_ARP
#define ETH_P_ARP 0x0806
#endif
#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

/* Byte order of constants, folded at compile time; the kernel's htons
 * is a macro real headers have and BTF does not. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define vns_htons(x) ((u16)__builtin_bswap16((u16)(x)))
#define vns_htonl(x) ((u32)__builtin_bswap32((u32)(x)))
#else
#define vns_htons(x) ((u16)(x))
#define vns_htonl(x) ((u32)(x))
#endif
#define vns_ntohs vns_htons
#define vns_ntohl vns_htonl

#define VNS_HDR_UNSET 0xffff

/* What the flow parser needs of an skb: the buffer and the offsets. */
struct vns_skb {
  unsigned char *head;
  __be16 protocol;   /* skb->protocol: the ethertype, network byte order */
  u16 transport;     /* offsets from head, or VNS_HDR_UNSET */
  u16 network;
  u16 mac;
};

/* The span of struct sk_buff from protocol to head, as every kernel from
 * 3.14 to 6.x lays it out on 64-bit (NET_SKBUFF_DATA_USES_OFFSET): the
 * four header fields, tail and end (offsets), then the head pointer. */
struct vns_skb_span {
  __be16 protocol;
  u16 transport;
  u16 network;
  u16 mac;
  u32 tail;
  u32 end;
  unsigned char *head;
};

/* Read head and the header offsets. Where the kernel's layout is the
 * span above, one read of 24 bytes replaces five (the test is on
 * constants and folds away); otherwise one read per field. Returns 0
 * when the skb cannot be read. */
static __always_inline int vns_skb_read(struct sk_buff *skb, struct vns_skb *s)
{
  if (offsetof(struct sk_buff, transport_header) == offsetof(struct sk_buff, protocol) + 2 &&
      offsetof(struct sk_buff, network_header) == offsetof(struct sk_buff, protocol) + 4 &&
      offsetof(struct sk_buff, mac_header) == offsetof(struct sk_buff, protocol) + 6 &&
      offsetof(struct sk_buff, head) == offsetof(struct sk_buff, protocol) + 16 &&
      sizeof(skb->mac_header) == 2 && sizeof(skb->head) == 8) {
    struct vns_skb_span span;
    if (vns_read(&span, sizeof(span), &skb->protocol) || !span.head)
      return 0;
    s->head = span.head;
    s->protocol = span.protocol;
    s->transport = span.transport;
    s->network = span.network;
    s->mac = span.mac;
    return 1;
  }
  if (vns_read(&s->head, sizeof(s->head), &skb->head) || !s->head)
    return 0;
  if (offsetof(struct sk_buff, transport_header) == offsetof(struct sk_buff, protocol) + 2 &&
      offsetof(struct sk_buff, network_header) == offsetof(struct sk_buff, protocol) + 4 &&
      offsetof(struct sk_buff, mac_header) == offsetof(struct sk_buff, protocol) + 6 &&
      sizeof(skb->mac_header) == 2) {
    if (vns_read(&s->protocol, 8, &skb->protocol))
      return 0;
  } else {
    u16 t = VNS_HDR_UNSET, n = VNS_HDR_UNSET, m = VNS_HDR_UNSET;
    __be16 p = 0;
    vns_read(&p, sizeof(p), &skb->protocol);
    vns_read(&t, sizeof(t), &skb->transport_header);
    vns_read(&n, sizeof(n), &skb->network_header);
    vns_read(&m, sizeof(m), &skb->mac_header);
    s->protocol = p;
    s->transport = t;
    s->network = n;
    s->mac = m;
  }
  return 1;
}

/* A freshly allocated skb has network_header 0 (memset) and the others
 * ~0; neither is a real L3 header. */
static __always_inline int vns_skb_network_set(const struct vns_skb *s)
{
  return s->network != VNS_HDR_UNSET && s->network != 0 &&
         (s->mac == VNS_HDR_UNSET || s->network >= s->mac);
}

static __always_inline int vns_skb_mac_set(const struct vns_skb *s)
{
  return s->mac != VNS_HDR_UNSET;
}

static __always_inline int vns_skb_transport_set(const struct vns_skb *s)
{
  return s->transport != VNS_HDR_UNSET && s->transport != 0;
}

/* Where the L3 header starts and its ethertype (network byte order).
 *  - skb->protocol is a VLAN type: the tag is still in the data (the
 *    stack has not untagged it yet, e.g. at net:netif_receive_skb), so
 *    start right after the Ethernet header and let the caller walk tags.
 *  - network_header set: there, with skb->protocol.
 *  - otherwise (freed before the stack set it) the Ethernet header at
 *    mac_header, with the ethertype read from it.
 * Returns 0 when neither header is known. */
static __always_inline int vns_skb_l3(const struct vns_skb *s, unsigned char **l3, __be16 *proto)
{
  __be16 p = s->protocol;
  if ((p == vns_htons(ETH_P_8021Q) || p == vns_htons(ETH_P_8021AD)) && vns_skb_mac_set(s)) {
    unsigned char *eth = s->head + s->mac;
    if (vns_read(proto, sizeof(*proto), eth + 12))
      return 0;
    *l3 = eth + ETH_HLEN;
    return 1;
  }
  if (vns_skb_network_set(s)) {
    *l3 = s->head + s->network;
    *proto = p;
    return 1;
  }
  if (vns_skb_mac_set(s)) {
    unsigned char *eth = s->head + s->mac;
    if (vns_read(proto, sizeof(*proto), eth + 12))
      return 0;
    *l3 = eth + ETH_HLEN;
    return 1;
  }
  return 0;
}

/* A VLAN tag the stack (or the NIC) already took out of the data into
 * skb->vlan_tci: 1 and the id when there is one. vlan_proto is set only
 * while a tag is held there (4.19 and later alike). */
static __always_inline int vns_skb_vlan_offloaded(struct sk_buff *skb, u16 *id)
{
  __be16 proto = 0;
  u16 tci = 0;
  if (vns_read(&proto, sizeof(proto), &skb->vlan_proto) || !proto)
    return 0;
  if (vns_read(&tci, sizeof(tci), &skb->vlan_tci))
    return 0;
  *id = tci & 0x0fff;
  return 1;
}

/* skb->len: the packet's bytes, linear and paged (0 if unreadable). */
static __always_inline u32 vns_skb_len(struct sk_buff *skb)
{
  u32 len = 0;
  vns_read(&len, sizeof(len), &skb->len);
  return len;
}

#endif
