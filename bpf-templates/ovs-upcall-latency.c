/* ovs-upcall-latency: the keys of the stage kit's sessions (the kit's
 * program follows this text; stdlib/vns/stages.lua).
 *
 * A packet's identity: the OVS kernel datapath copies the packet into
 * the upcall's netlink message (ovs_dp_upcall), and ovs-vswitchd sends
 * the same bytes back in OVS_PACKET_CMD_EXECUTE, which
 * ovs_packet_cmd_execute copies into a new skb. No pointer or id travels
 * with it, so the two ends are matched by a hash of the packet's own
 * header fields, the same at both ends:
 *   IPv4  addresses, protocol, total length, identification, fragment
 *         offset and flags
 *   IPv6  addresses, version/class/flow label, payload length, next header
 *   L4    (unless a non-first fragment) TCP: the first 16 bytes (ports,
 *         sequence, acknowledgment, offset and flags, window); UDP,
 *         ICMP, ICMPv6 and others: the first 8 bytes; ICMP errors
 *         also up to 48 bytes of the packet they quote; only bytes
 *         within the L3 payload.
 * Checksums are left out: a locally sent packet may carry only a partial
 * checksum (CHECKSUM_PARTIAL) when ovs_dp_upcall runs, and
 * queue_userspace_packet completes it before copying. */
#include <vns/flow.h>
#include <vns/ovs_layout.h>
{{ LAYOUT_CHECKS }}

/* The identity of each miss upcall in flight, per thread, for its
 * return (kretprobe); failed upcalls by errno. */
BPF_HASH(ovs_upcall_inflight, u64, u64, 10240);
BPF_HASH(ovs_upcall_errors, u32, u64, 64);

static __always_inline u64 ovs_mix(u64 h, u64 w)
{
  h ^= w;
  h *= 0x100000001b3ULL;
  return h ^ (h >> 29);
}

/* ICMP errors of one kind to one host are alike in their first 8
 * bytes (several port unreachables for datagrams from different ports):
 * the packet they quote, after those 8 bytes, tells them apart. */
static __always_inline int ovs_icmp_error(u8 proto, u8 type)
{
  if (proto == IPPROTO_ICMP)
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
  return proto == IPPROTO_ICMPV6 && type < 128;
}

#define OVS_QUOTED_WORDS 6   /* an IPv6 header and 8 bytes of its L4 */

static __always_inline u64 ovs_quoted(u64 h, unsigned char *l4, int avail)
{
#pragma unroll
  for (int i = 0; i < OVS_QUOTED_WORDS; i++) {
    u64 w;
    if (8 + (i + 1) * 8 > avail || vns_read(&w, sizeof(w), l4 + 8 + i * 8))
      break;
    h = ovs_mix(h, w);
  }
  return h;
}

/* The identity hash of the IP packet at l3 (f: its parsed flow); 0 for
 * no IP packet. */
static __always_inline u64 ovs_packet_id(struct vns_flow *f, unsigned char *l3)
{
  u64 h = 0xcbf29ce484222325ULL;
  int avail = 0;
  if (f->family == 4) {
    struct vns_ip4hdr ip;
    if (vns_read(&ip, sizeof(ip), l3))
      return 0;
    h = ovs_mix(h, ip.saddr);
    h = ovs_mix(h, ip.daddr);
    h = ovs_mix(h, (u64)ip.id << 16 | ip.frag_off);
    h = ovs_mix(h, (u64)ip.tot_len << 8 | ip.protocol);
    avail = (int)vns_ntohs(ip.tot_len) - (ip.ver_ihl & 0x0f) * 4;
  } else if (f->family == 6) {
    struct vns_ip6hdr ip;
    if (vns_read(&ip, sizeof(ip), l3))
      return 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      h = ovs_mix(h, ip.saddr[i]);
      h = ovs_mix(h, ip.daddr[i]);
    }
    h = ovs_mix(h, ip.ver_tc_flow);
    h = ovs_mix(h, (u64)ip.payload_len << 8 | ip.nexthdr);
    avail = (int)vns_ntohs(ip.payload_len) - (int)(f->l4 - l3 - sizeof(ip));
  } else {
    return 0;
  }
  int n = f->proto == IPPROTO_TCP ? 16 : 8;
  if (!f->frag && f->l4 && avail >= n) {
    /* Little-endian words: byte i of the header is bits 8i..8i+7. */
    u64 w[2] = {};
    if (vns_read(w, n == 16 ? 16 : 8, f->l4))
      return 0;
    if (f->proto == IPPROTO_UDP || f->proto == IPPROTO_UDPLITE)
      w[0] &= ~(0xffffULL << 48);   /* bytes 6-7: the checksum */
    else if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6)
      w[0] &= ~(0xffffULL << 16);   /* bytes 2-3: the checksum */
    h = ovs_mix(h, w[0]);
    h = ovs_mix(h, w[1]);
    if (ovs_icmp_error(f->proto, w[0] & 0xff))
      h = ovs_quoted(h, f->l4, avail);
  }
  h = ovs_mix(h, f->proto);
  return h ? h : 1;
}

/* The upcall's packet: headers set by the datapath's key extraction.
 * Remembered for the upcall's return. */
static __always_inline u64 ovs_upcall_key(struct sk_buff *skb)
{
  struct vns_skb s;
  unsigned char *l3 = 0;
  u16 proto = 0;
  struct vns_flow f = {};
  if (!vns_skb_read(skb, &s) || !vns_skb_l3(&s, &l3, &proto) || !vns_flow_vlan(&f, &l3, &proto))
    return 0;
  int ok = proto == vns_htons(ETH_P_IP) ? vns_flow_ipv4(&f, l3)
           : proto == vns_htons(ETH_P_IPV6) ? vns_flow_ipv6(&f, l3) : 0;
  u64 key = ok ? ovs_packet_id(&f, l3) : 0;
  u64 id = vns_call_key();
  ovs_upcall_inflight.update(&id, &key);
  return key;
}

/* Only misses (no flow matched) come back as an execute; a userspace()
 * action's upcall (sFlow, controller) does not. */
static __always_inline int ovs_upcall_is_miss(struct pt_regs *ctx)
{
  struct vns_dp_upcall_info *info = (struct vns_dp_upcall_info *)PT_REGS_PARM4(ctx);
  u8 cmd = 0;
  vns_read(&cmd, sizeof(cmd), &info->cmd);
  return cmd == VNS_OVS_PACKET_CMD_MISS;
}

/* The upcall returned: its identity when it failed (the datapath counts
 * it as lost and frees the packet), else 0. */
static __always_inline u64 ovs_upcall_failed_key(struct pt_regs *ctx)
{
  u64 id = vns_call_key();
  u64 *key = ovs_upcall_inflight.lookup(&id);
  if (!key)
    return 0;
  u64 k = *key;
  ovs_upcall_inflight.delete(&id);
  int ret = (int)PT_REGS_RC(ctx);
  if (ret == 0)
    return 0;
  u32 err = ret < 0 ? -ret : ret;
  u64 zero = 0, *n = ovs_upcall_errors.lookup_or_try_init(&err, &zero);
  if (n)
    __sync_fetch_and_add(n, 1);
  return k;
}

/* The packet vswitchd sent back: a new skb whose data is the Ethernet
 * frame as it was upcalled (headers not set yet). */
static __always_inline u64 ovs_upcall_exec_key(struct sk_buff *skb)
{
  unsigned char *eth = 0;
  u16 proto = 0;
  struct vns_flow f = {};
  if (vns_read(&eth, sizeof(eth), &skb->data) || !eth || vns_read(&proto, sizeof(proto), eth + 12))
    return 0;
  unsigned char *l3 = eth + ETH_HLEN;
  if (!vns_flow_vlan(&f, &l3, &proto))
    return 0;
  int ok = proto == vns_htons(ETH_P_IP) ? vns_flow_ipv4(&f, l3)
           : proto == vns_htons(ETH_P_IPV6) ? vns_flow_ipv6(&f, l3) : 0;
  return ok ? ovs_packet_id(&f, l3) : 0;
}
