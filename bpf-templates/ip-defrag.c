/* ip-defrag: IPv4 and IPv6 fragments per datagram, and what became of
 * each datagram in the reassembler.
 *  - arrivals: net:netif_receive_skb, fragments only (IPv4 MF or an
 *    offset; IPv6 a fragment header right after the fixed header); the
 *    flow and device filters run here, and only here: every later event
 *    updates a datagram already in the table.
 *  - tracepoint variant: skb:kfree_skb of a tracked fragment, by reason
 *    (DUP_FRAG, FRAG_REASM_TIMEOUT, FRAG_TOO_FAR; another reason at the
 *    reassembler's entry is an overlap, elsewhere a drop).
 *  - kprobe variant (kernels without those reasons): the return of
 *    inet_frag_queue_insert (IPFRAG_DUP, IPFRAG_OVERLAP) and the queue
 *    timers ip_expire / ip6_frag_expire.
 * A datagram is complete when its last fragment came and the bytes of
 * the fragments the reassembler kept add up to its length. */
/* Kernel headers have struct inet_frag_queue in net/inet_frag.h, which
 * needs what net/ip.h and net/ipv6.h bring first; the tree made from
 * BTF declares it in vmlinux.h (those two are stubs there, and there is
 * no inet_frag.h). */
#include <net/ip.h>
#include <net/ipv6.h>
#if __has_include(<net/inet_frag.h>)
#include <net/inet_frag.h>
#endif
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>

{{ TRACEPOINTS }}

#define VARIANT_KPROBE {{ VARIANT_KPROBE }}
#define REASON_DUP {{ REASON_DUP }}
#define REASON_TIMEOUT {{ REASON_TIMEOUT }}
#define REASON_TOO_FAR {{ REASON_TOO_FAR }}
#define REASON_CONSUMED {{ REASON_CONSUMED }}

struct dgram_key {
  u32 saddr[4];
  u32 daddr[4];
  u32 id;       /* IPv4: 16 bits; IPv6: the fragment header's 32 */
  u32 family;   /* 4 or 6 */
};

struct dgram {
  u64 first_ns;
  u64 last_ns;
  u64 drop_location;  /* the last drop that was not a dup, overlap or timeout */
  u64 frags;          /* fragments that arrived */
  u64 bytes;          /* their payload, less what the reassembler refused as duplicate */
  u64 dups;
  u64 overlaps;
  u64 drops;
  u32 length;         /* the datagram's length: end of the last fragment */
  u8 last;            /* the last fragment came */
  u8 timeout;
  u8 too_far;
  u8 proto;
};

/* The fragment an skb carries. */
struct frag {
  struct dgram_key key;
  u32 offset;
  u32 len;
  u8 more;
  u8 proto;
};

BPF_TABLE("lru_hash", struct dgram_key, struct dgram, datagrams, 10240);
{{ FILTER_MAPS }}

static __always_inline int frag_of(struct sk_buff *skb, struct frag *fr)
{
  struct vns_skb s;
  unsigned char *l3 = 0;
  u16 proto = 0;
  if (!vns_skb_read(skb, &s) || !vns_skb_l3(&s, &l3, &proto))
    return 0;
  if (proto == vns_htons(ETH_P_IP)) {
    struct vns_ip4hdr ip;
    if (vns_read(&ip, sizeof(ip), l3) || (ip.ver_ihl >> 4) != 4)
      return 0;
    u16 off = vns_ntohs(ip.frag_off);
    if (!(off & 0x3fff))
      return 0;
    fr->key.family = 4;
    fr->key.id = vns_ntohs(ip.id);
    fr->key.saddr[0] = ip.saddr;
    fr->key.daddr[0] = ip.daddr;
    fr->offset = (off & 0x1fff) * 8;
    fr->more = (off & 0x2000) != 0;
    fr->len = vns_ntohs(ip.tot_len) - (ip.ver_ihl & 0x0f) * 4;
    fr->proto = ip.protocol;
    return 1;
  }
  if (proto == vns_htons(ETH_P_IPV6)) {
    struct {
      struct vns_ip6hdr ip;
      u8 nexthdr;
      u8 reserved;
      u16 off;
      u32 id;
    } h;
    if (vns_read(&h, sizeof(h), l3) || h.ip.nexthdr != IPPROTO_FRAGMENT)
      return 0;
    u16 off = vns_ntohs(h.off);
    fr->key.family = 6;
    fr->key.id = vns_ntohl(h.id);
    __builtin_memcpy(fr->key.saddr, h.ip.saddr, sizeof(fr->key.saddr));
    __builtin_memcpy(fr->key.daddr, h.ip.daddr, sizeof(fr->key.daddr));
    fr->offset = off & 0xfff8;
    fr->more = off & 1;
    fr->len = vns_ntohs(h.ip.payload_len) - 8;
    fr->proto = h.nexthdr;
    return 1;
  }
  return 0;
}

static __always_inline int arrival(struct sk_buff *skb)
{
{{ FLOW_FILTER }}
  struct frag fr = {};
  if (!frag_of(skb, &fr))
    return 0;
  char dev[16] = {};
  vns_skb_devname(skb, dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  u64 now = bpf_ktime_get_ns();
  struct dgram zero = { .first_ns = now };
  struct dgram *d = datagrams.lookup_or_try_init(&fr.key, &zero);
  if (!d)
    return 0;
  __sync_fetch_and_add(&d->frags, 1);
  __sync_fetch_and_add(&d->bytes, fr.len);
  d->last_ns = now;
  d->proto = fr.proto;
  if (!fr.more) {
    d->last = 1;
    d->length = fr.offset + fr.len;
  }
  return 0;
}

VNS_TP(net, netif_receive_skb)
{
  return arrival(VNS_ARG(netif_receive_skb, skb));
}

/* A tracked datagram's entry, or 0. */
static __always_inline struct dgram *tracked(struct sk_buff *skb, struct frag *fr)
{
  if (!frag_of(skb, fr))
    return 0;
  return datagrams.lookup(&fr->key);
}

#if !VARIANT_KPROBE
/* Where the reassemblers drop a fragment they refuse without a reason
 * (an overlap): [lo, hi) of ip_defrag, ip_frag_queue, ipv6_frag_rcv,
 * ip6_frag_queue and their parts (.cold, .isra), filled from kallsyms
 * before attaching. */
struct reasm_range {
  u64 lo;
  u64 hi;
};
BPF_ARRAY(reasm_funcs, struct reasm_range, 8);

static __always_inline int in_reassembler(u64 location)
{
#pragma unroll
  for (int i = 0; i < 8; i++) {
    int k = i;
    struct reasm_range *r = reasm_funcs.lookup(&k);
    if (r && location >= r->lo && location < r->hi)
      return 1;
  }
  return 0;
}

static __always_inline int freed(struct sk_buff *skb, u64 location, u32 reason)
{
  if (reason == REASON_CONSUMED)
    return 0;
  struct frag fr = {};
  struct dgram *d = tracked(skb, &fr);
  if (!d)
    return 0;
  d->last_ns = bpf_ktime_get_ns();
  if (reason == REASON_DUP) {
    __sync_fetch_and_add(&d->dups, 1);
    __sync_fetch_and_add(&d->bytes, -(u64)fr.len);
  } else if (reason == REASON_TIMEOUT) {
    d->timeout = 1;
  } else if (reason == REASON_TOO_FAR) {
    /* The queue is emptied and starts again: what it held is gone. */
    d->too_far = 1;
    __sync_fetch_and_add(&d->bytes, -(u64)fr.len);
  } else if (in_reassembler(location)) {
    __sync_fetch_and_add(&d->overlaps, 1);
  } else {
    __sync_fetch_and_add(&d->drops, 1);
    d->drop_location = location;
  }
  return 0;
}

VNS_TP(skb, kfree_skb)
{
  return freed(VNS_ARG(kfree_skb, skb), VNS_ARG(kfree_skb, location), VNS_ARG(kfree_skb, reason));
}
#else
/* inet_frag_queue_insert(q, skb, offset, end) (the host's and
 * conntrack's reassemblers, IPv4 and IPv6) returns IPFRAG_OK (0),
 * IPFRAG_DUP (1) or IPFRAG_OVERLAP (2); the fragment it was given is
 * kept per thread from entry to return. */
BPF_HASH(inserting, u64, struct frag, 10240);

int kprobe_by_script__insert(struct pt_regs *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);
  struct frag fr = {};
  if (!tracked(skb, &fr))
    return 0;
  u64 id = vns_call_key();
  inserting.update(&id, &fr);
  return 0;
}

int kprobe_by_script__insert_return(struct pt_regs *ctx)
{
  u64 id = vns_call_key();
  struct frag *fr = inserting.lookup(&id);
  if (!fr)
    return 0;
  int rc = PT_REGS_RC(ctx);
  struct dgram *d = datagrams.lookup(&fr->key);
  if (d && rc == 1) {
    __sync_fetch_and_add(&d->dups, 1);
    __sync_fetch_and_add(&d->bytes, -(u64)fr->len);
  } else if (d && rc == 2) {
    __sync_fetch_and_add(&d->overlaps, 1);
  }
  inserting.delete(&id);
  return 0;
}

/* The queue timers get the timer inside the queue: struct ipq and
 * struct frag_queue both begin with their struct inet_frag_queue. */
static __always_inline int expired(struct timer_list *t, int family)
{
  struct inet_frag_queue *q = (void *)t - offsetof(struct inet_frag_queue, timer);
  struct dgram_key key = { .family = family };
  if (family == 4) {
    struct frag_v4_compare_key k4 = {};
    vns_read(&k4, sizeof(k4), &q->key.v4);
    key.saddr[0] = k4.saddr;
    key.daddr[0] = k4.daddr;
    key.id = vns_ntohs(k4.id);
  } else {
    struct frag_v6_compare_key k6 = {};
    vns_read(&k6, sizeof(k6), &q->key.v6);
    __builtin_memcpy(key.saddr, &k6.saddr, sizeof(key.saddr));
    __builtin_memcpy(key.daddr, &k6.daddr, sizeof(key.daddr));
    key.id = vns_ntohl(k6.id);
  }
  struct dgram *d = datagrams.lookup(&key);
  if (d) {
    d->timeout = 1;
    d->last_ns = bpf_ktime_get_ns();
  }
  return 0;
}

/* ip_expire: IPv4, the host's and conntrack's queues; ip6_frag_expire:
 * the host's IPv6 queues; nf_ct_frag6_expire: conntrack's (nf_defrag_ipv6,
 * e.g. under OVS), when its module is loaded. Attached by the script. */
int kprobe_by_script__expire4(struct pt_regs *ctx)
{
  return expired((struct timer_list *)PT_REGS_PARM1(ctx), 4);
}

int kprobe_by_script__expire6(struct pt_regs *ctx)
{
  return expired((struct timer_list *)PT_REGS_PARM1(ctx), 6);
}
#endif
