/* icmp-rtt: the session key of an ICMP echo request or reply, so that a
 * request and its reply (different skbs, often on different CPUs) are
 * one session of the stage kit (fragments/stages.c follows).
 *
 * key = 1 << 63 | (both addresses folded, symmetric) << 32 | id, sequence
 * The fold is the same for the request (A -> B) and the reply (B -> A),
 * so pings to two peers with the same id and sequence stay apart. 0: not
 * an echo of the kind asked for (the stage ignores the hit). */
#include <vns/flow.h>

#define ICMP_RTT_REQUEST 0
#define ICMP_RTT_REPLY 1

static __always_inline u32 icmp_rtt_fold(const u32 *a)
{
  return a[0] ^ a[1] ^ a[2] ^ a[3];
}

static __always_inline u64 icmp_rtt_key(struct sk_buff *skb, int reply)
{
  struct vns_flow f = {};
  if (!skb || !vns_flow_l3(skb, &f))
    return 0;
  if (f.proto != IPPROTO_ICMP && f.proto != IPPROTO_ICMPV6)
    return 0;
  if (!vns_flow_l4(&f))
    return 0;
  /* echo request / reply: ICMP 8 / 0, ICMPv6 128 / 129 */
  u8 want = f.proto == IPPROTO_ICMP ? (reply ? 0 : 8) : (reply ? 129 : 128);
  if (f.icmp_type != want || f.icmp_code != 0)
    return 0;
  u32 id_seq = 0;   /* id and sequence as on the wire */
  if (vns_read(&id_seq, sizeof(id_seq), f.l4 + 4))
    return 0;
  u64 peers = (icmp_rtt_fold(f.saddr) ^ icmp_rtt_fold(f.daddr)) & 0x7fffffff;
  return (1ULL << 63) | (peers << 32) | id_seq;
}

