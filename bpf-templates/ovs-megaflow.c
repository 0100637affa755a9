/* ovs-megaflow: the megaflows ovs-vswitchd installs in the OVS kernel
 * datapath, per UFID, with the upcalls that led to them.
 *
 * A flow message (OVS_FLOW_CMD_NEW / _SET / _DEL) reaches the datapath's
 * doit handlers with skb->data at its netlink header: nlmsghdr (16
 * bytes), genlmsghdr (4), ovs_header (4), then the attributes
 * (OVS_FLOW_ATTR_KEY, _MASK, _ACTIONS, _UFID... ; the key and the mask
 * are nested OVS_KEY_ATTR_* lists). The program walks the top level and
 * the key far enough to filter on the key's Ethernet, IPv4/IPv6 and L4
 * attributes, and copies only the matching messages' attributes into
 * the megaflow's map entry; user space formats them.
 *
 * Upcalls are attributed to the megaflow installed for them by the
 * packet's own fields: an upcalled packet (a miss) counts in
 * mf_pending under its tuple (Ethernet addresses, ethertype, IP
 * addresses, protocol, ports or ICMP type/code), and the next
 * OVS_FLOW_CMD_NEW whose key has the same tuple takes that count:
 * vswitchd puts the packet's own (unmasked) key in the message. */
#include <vns/flow.h>
#include <vns/ovs_layout.h>
{{ LAYOUT_CHECKS }}

#define MF_MSG_MAX 1024   /* attribute bytes kept per megaflow */
#define MF_TOP_MAX 10     /* top-level attributes walked */
#define MF_KEY_MAX 24     /* key attributes walked */
#define MF_HDR 24         /* nlmsghdr + genlmsghdr + ovs_header */

/* include/uapi/linux/openvswitch.h */
#define MF_FLOW_ATTR_KEY 1
#define MF_FLOW_ATTR_UFID 9
#define MF_KEY_ATTR_ETHERNET 4
#define MF_KEY_ATTR_ETHERTYPE 6
#define MF_KEY_ATTR_IPV4 7
#define MF_KEY_ATTR_IPV6 8
#define MF_KEY_ATTR_TCP 9
#define MF_KEY_ATTR_UDP 10
#define MF_KEY_ATTR_ICMP 11
#define MF_KEY_ATTR_ICMPV6 12
#define MF_KEY_ATTR_SCTP 17
#define MF_NLA_TYPE_MASK 0x3fff

enum { MF_NEW = 0, MF_SET = 1, MF_DEL = 2 };

/* What identifies an upcalled packet and its flow's key. */
struct mf_tuple {
  u8 eth_src[6];
  u8 eth_dst[6];
  u16 ethertype;     /* network order */
  u8 proto;
  u8 l4;             /* ports or ICMP type/code are set */
  u32 saddr[4];
  u32 daddr[4];
  u16 sport;         /* ports, or ICMP type and code */
  u16 dport;
};

struct mf_ufid {
  u32 w[4];
};

struct mf_flow {
  u64 upcalls;       /* upcalls whose packet this megaflow was installed for */
  u64 installs;      /* OVS_FLOW_CMD_NEW */
  u64 modifies;      /* OVS_FLOW_CMD_SET (revalidation) */
  u64 deletes;       /* OVS_FLOW_CMD_DEL */
  u64 last_ns;
  u32 len;           /* attribute bytes in msg */
  u32 full_len;      /* attribute bytes of the message (> len: truncated) */
  u32 no_ufid;       /* the message had no UFID: w[0] is a hash of the tuple */
  u32 last_cmd;
  union {          /* a union: user space reads it as a byte string */
    u8 b[MF_MSG_MAX];
  } msg;
};

/* --details: one event per flow message (built in a per-CPU slot: it is
 * larger than the BPF stack). */
#define DETAILS {{ DETAILS }}
struct mf_event {
  u64 ts_ns;
  u64 upcalls;       /* upcalls this install took */
  u32 pid;
  u32 cmd;
  u32 len;
  u32 full_len;
  char comm[16];
  u8 msg[MF_MSG_MAX];  /* an array: events carry scalars and arrays only */
};
BPF_PERCPU_ARRAY(mf_event_slot, struct mf_event, 1);
{{ BUDGET }}
{{ EVENTS }}

BPF_TABLE("lru_hash", struct mf_ufid, struct mf_flow, megaflows, 4096);
BPF_ARRAY(mf_zero, struct mf_flow, 1);   /* never written: the initial value */
BPF_HASH(mf_pending, struct mf_tuple, u64, 10240);
/* Since start: [0] upcalls (misses) of the filtered flows, [1] of them
 * taken by an install, [2] flushes (a delete without key or UFID). */
BPF_ARRAY(mf_totals, u64, 3);

static __always_inline void mf_count(u32 i, u64 n)
{
  u64 *v = mf_totals.lookup(&i);
  if (v)
    __sync_fetch_and_add(v, n);
}

/* The tuple of a parsed flow (ports and ICMP as vns_flow keeps them). */
static __always_inline void mf_tuple_of(struct mf_tuple *t, struct vns_flow *f)
{
  t->ethertype = f->ethertype;
  if (!f->family)
    return;
  t->proto = f->proto;
  __builtin_memcpy(t->saddr, f->saddr, sizeof(t->saddr));
  __builtin_memcpy(t->daddr, f->daddr, sizeof(t->daddr));
  if (vns_flow_l4(f)) {
    t->l4 = 1;
    if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
      t->sport = f->icmp_type;
      t->dport = f->icmp_code;
    } else {
      t->sport = f->sport;
      t->dport = f->dport;
    }
  }
}

/* kprobe:ovs_dp_upcall(dp, skb, key, upcall_info, cutlen): a miss of a
 * filtered flow waits in mf_pending for its install. */
int kprobe__ovs_dp_upcall(struct pt_regs *ctx)
{
  struct sk_buff *skb = (struct sk_buff *)PT_REGS_PARM2(ctx);
  struct vns_dp_upcall_info *info = (struct vns_dp_upcall_info *)PT_REGS_PARM4(ctx);
  u8 cmd = 0;
  vns_read(&cmd, sizeof(cmd), &info->cmd);
  if (cmd != VNS_OVS_PACKET_CMD_MISS)
    return 0;
  struct vns_flow f = {};
  vns_flow_l3_of(skb, &f, VNS_FLOW_IP);
  if (!({{ FILTER }}))
    return 0;
  struct vns_skb s;
  struct mf_tuple t = {};
  if (!vns_skb_read(skb, &s) || !vns_skb_mac_set(&s))
    return 0;
  u8 eth[12];
  if (vns_read(eth, sizeof(eth), s.head + s.mac))
    return 0;
  __builtin_memcpy(t.eth_dst, eth, 6);
  __builtin_memcpy(t.eth_src, eth + 6, 6);
  mf_tuple_of(&t, &f);
  u64 zero = 0, *n = mf_pending.lookup_or_try_init(&t, &zero);
  if (n)
    __sync_fetch_and_add(n, 1);
  mf_count(0, 1);
  return 0;
}

struct mf_nla {
  u16 len;
  u16 type;
};

/* Where the key and the UFID are among the message's attributes. */
struct mf_msg {
  unsigned char *attrs;
  u32 len;
  u32 key_off;       /* the key's payload, 0: none */
  u32 key_len;
  u32 has_ufid;
  struct mf_ufid ufid;
};

static __always_inline int mf_msg_read(struct sk_buff *skb, struct mf_msg *m)
{
  unsigned char *data = 0;
  u32 nlmsg_len = 0;
  if (vns_read(&data, sizeof(data), &skb->data) || !data || vns_read(&nlmsg_len, sizeof(nlmsg_len), data))
    return 0;
  if (nlmsg_len < MF_HDR)
    return 0;
  m->attrs = data + MF_HDR;
  m->len = nlmsg_len - MF_HDR;
  u32 off = 0;
#pragma unroll
  for (int i = 0; i < MF_TOP_MAX; i++) {
    struct mf_nla a;
    if (off + sizeof(a) > m->len || vns_read(&a, sizeof(a), m->attrs + off) || a.len < sizeof(a))
      break;
    u16 type = a.type & MF_NLA_TYPE_MASK;
    if (type == MF_FLOW_ATTR_KEY) {
      m->key_off = off + sizeof(a);
      m->key_len = a.len - sizeof(a);
    } else if (type == MF_FLOW_ATTR_UFID && a.len >= sizeof(a) + sizeof(m->ufid)) {
      m->has_ufid = !vns_read(&m->ufid, sizeof(m->ufid), m->attrs + off + sizeof(a));
    }
    off += (a.len + 3) & ~3;
  }
  return 1;
}

/* The key's flow (for the filter) and tuple; 0 when the message has no
 * key. Only the offsets are found in the loop (small unrolled code),
 * the attributes are read after it. */
static __always_inline int mf_key_flow(struct mf_msg *m, struct vns_flow *f, struct mf_tuple *t)
{
  if (!m->key_off)
    return 0;
  unsigned char *key = m->attrs + m->key_off;
  u32 off = 0, eth = 0, ethertype = 0, ip = 0, l4 = 0;
  u16 ip_type = 0, l4_type = 0;
#pragma unroll
  for (int i = 0; i < MF_KEY_MAX; i++) {
    struct mf_nla a;
    if (off + sizeof(a) > m->key_len || vns_read(&a, sizeof(a), key + off) || a.len < sizeof(a))
      break;
    u16 type = a.type & MF_NLA_TYPE_MASK;
    u32 at = off + sizeof(a);
    if (type == MF_KEY_ATTR_ETHERNET)
      eth = at;
    else if (type == MF_KEY_ATTR_ETHERTYPE)
      ethertype = at;
    else if (type == MF_KEY_ATTR_IPV4 || type == MF_KEY_ATTR_IPV6) {
      ip = at;
      ip_type = type;
    } else if (type == MF_KEY_ATTR_TCP || type == MF_KEY_ATTR_UDP || type == MF_KEY_ATTR_SCTP
               || type == MF_KEY_ATTR_ICMP || type == MF_KEY_ATTR_ICMPV6) {
      l4 = at;
      l4_type = type;
      break;
    }
    off += (a.len + 3) & ~3;
  }
  if (eth)   /* struct ovs_key_ethernet: source first */
    vns_read(t->eth_src, 12, key + eth);
  if (ethertype)
    vns_read(&f->ethertype, sizeof(f->ethertype), key + ethertype);
  f->l4_state = 1;   /* the key is the whole flow: nothing to read later */
  if (ip_type == MF_KEY_ATTR_IPV4) {
    u8 v[12];   /* struct ovs_key_ipv4: src, dst, proto, tos, ttl, frag */
    if (!vns_read(v, sizeof(v), key + ip)) {
      f->family = 4;
      __builtin_memcpy(&f->saddr[0], v, 4);
      __builtin_memcpy(&f->daddr[0], v + 4, 4);
      f->proto = v[8];
    }
  } else if (ip_type == MF_KEY_ATTR_IPV6) {
    u8 v[36];   /* struct ovs_key_ipv6: src[16], dst[16], label, proto... */
    if (!vns_read(v, sizeof(v), key + ip) && !vns_read(&f->proto, 1, key + ip + 36)) {
      f->family = 6;
      __builtin_memcpy(f->saddr, v, 16);
      __builtin_memcpy(f->daddr, v + 16, 16);
    }
  }
  if (f->family && l4) {
    u8 v[4] = {};
    if (!vns_read(v, (l4_type == MF_KEY_ATTR_ICMP || l4_type == MF_KEY_ATTR_ICMPV6) ? 2 : 4, key + l4)) {
      if (l4_type == MF_KEY_ATTR_ICMP || l4_type == MF_KEY_ATTR_ICMPV6) {
        f->icmp_type = v[0];
        f->icmp_code = v[1];
      } else {
        __builtin_memcpy(&f->sport, v, 4);
        f->has_ports = 1;
      }
      f->l4_state = 2;
    }
  }
  return 1;
}

/* The message's flow passes the filter (a message without a key only
 * when nothing is filtered). */
static __always_inline int mf_match(struct mf_msg *m, struct mf_tuple *t)
{
  struct vns_flow f = {};
  int has_key = mf_key_flow(m, &f, t);
  if (!has_key && {{ FILTERED }})
    return 0;
  if (!({{ FILTER }}))
    return 0;
  mf_tuple_of(t, &f);
  return 1;
}

static __always_inline u32 mf_tuple_hash(struct mf_tuple *t)
{
  u32 h = 2166136261u, *w = (u32 *)t;
#pragma unroll
  for (int i = 0; i < sizeof(*t) / 4; i++)
    h = (h ^ w[i]) * 16777619u;
  return h;
}

/* Without --details the send is dead code, but it stays in the source:
 * BCC learns the event's layout from it. */
static __always_inline void mf_emit(struct pt_regs *ctx, struct mf_msg *m, int cmd, u64 upcalls)
{
  u32 zero = 0;
  struct mf_event *ev_slot = mf_event_slot.lookup(&zero);
  if (!DETAILS || !ev_slot || !vns_budget_take())
    return;
  ev_slot->ts_ns = bpf_ktime_get_ns();
  ev_slot->upcalls = upcalls;
  ev_slot->pid = bpf_get_current_pid_tgid() >> 32;
  ev_slot->cmd = cmd;
  ev_slot->full_len = m->len;
  bpf_get_current_comm(ev_slot->comm, sizeof(ev_slot->comm));
  u32 len = m->len > MF_MSG_MAX ? MF_MSG_MAX : m->len;
  u32 n = (len - 1) & (MF_MSG_MAX - 1);
  ev_slot->len = len > 0 && !vns_read(ev_slot->msg, n + 1, m->attrs) ? n + 1 : 0;
/* events.submit takes an identifier: the slot's struct under one. */
#define mf_ev (*ev_slot)
  {{ SUBMIT }}
#undef mf_ev
}

static __always_inline int mf_flow_cmd(struct pt_regs *ctx, struct sk_buff *skb, int cmd)
{
  struct mf_msg m = {};
  struct mf_tuple t = {};
  if (!mf_msg_read(skb, &m))
    return 0;
  if (cmd == MF_DEL && !m.key_off && !m.has_ufid) {
    mf_count(2, 1);   /* every flow of the datapath */
    return 0;
  }
  /* A delete of a megaflow already known counts whatever its key. */
  struct mf_flow *fl = m.has_ufid ? megaflows.lookup(&m.ufid) : 0;
  if (!fl || cmd != MF_DEL) {
    if (!mf_match(&m, &t))
      return 0;
    if (!m.has_ufid) {
      m.ufid.w[0] = mf_tuple_hash(&t);
    }
    u32 i = 0;
    struct mf_flow *zero = mf_zero.lookup(&i);
    if (!zero)
      return 0;
    fl = megaflows.lookup_or_try_init(&m.ufid, zero);
    if (!fl)
      return 0;
  }
  u64 taken = 0;
  if (cmd == MF_NEW) {
    u64 *n = mf_pending.lookup(&t);
    if (n) {
      taken = *n;
      mf_pending.delete(&t);
      __sync_fetch_and_add(&fl->upcalls, taken);
      mf_count(1, taken);
    }
    __sync_fetch_and_add(&fl->installs, 1);
  } else if (cmd == MF_SET) {
    __sync_fetch_and_add(&fl->modifies, 1);
  } else {
    __sync_fetch_and_add(&fl->deletes, 1);
  }
  fl->last_ns = bpf_ktime_get_ns();
  fl->last_cmd = cmd;
  fl->no_ufid = !m.has_ufid;
  /* A delete may carry no key: keep the message of the install. */
  if (cmd != MF_DEL || !fl->len) {
    u32 len = m.len;
    fl->full_len = len;
    if (len > MF_MSG_MAX)
      len = MF_MSG_MAX;
    /* n + 1 in [1, MF_MSG_MAX] for the verifier */
    u32 n = (len - 1) & (MF_MSG_MAX - 1);
    if (len > 0 && !vns_read(fl->msg.b, n + 1, m.attrs))
      fl->len = n + 1;
  }
  mf_emit(ctx, &m, cmd, taken);
  return 0;
}

int kprobe__ovs_flow_cmd_new(struct pt_regs *ctx)
{
  return mf_flow_cmd(ctx, (struct sk_buff *)PT_REGS_PARM1(ctx), MF_NEW);
}

int kprobe__ovs_flow_cmd_set(struct pt_regs *ctx)
{
  return mf_flow_cmd(ctx, (struct sk_buff *)PT_REGS_PARM1(ctx), MF_SET);
}

int kprobe__ovs_flow_cmd_del(struct pt_regs *ctx)
{
  return mf_flow_cmd(ctx, (struct sk_buff *)PT_REGS_PARM1(ctx), MF_DEL);
}
