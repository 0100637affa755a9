/* ct-trace: how conntrack sees each packet of the flows that match: the
 * conntrack entry an skb carries (ctinfo, status, zone, mark, TCP state)
 * and why conntrack called a packet invalid, one event per probe hit.
 *  - kprobe variant: nf_conntrack_in and ovs_ct_execute, entry and
 *    return (the entry the lookup attached, the verdict); the
 *    conntrack's own "invalid" messages (nf_ct_l4proto_log_invalid,
 *    nf_l4proto_log_invalid: the reason text, called whether or not
 *    nf_conntrack_log_invalid is set) with the TCP window state.
 *  - tracepoint variant (no kprobes): what a packet carries when it
 *    leaves a device (net:net_dev_queue: forwarded and local output, past
 *    every conntrack hook) and when netfilter drops it (skb:kfree_skb). */
#if __has_include(<net/netfilter/nf_conntrack.h>)
#include <net/netfilter/nf_conntrack.h>
#endif
#include <vns/tp.h>
#include <vns/dev.h>
#include <vns/flow.h>
#include <vns/ovs_layout.h>
{{ LAYOUT_CHECKS }}

{{ TRACEPOINTS }}
{{ BUDGET }}
{{ FILTER_MAPS }}

#define VARIANT_KPROBE {{ VARIANT_KPROBE }}
#define INVALID_ONLY {{ INVALID_ONLY }}
#define REASON_NETFILTER_DROP {{ REASON_NETFILTER_DROP }}
/* Where the log functions' format is (1-based), and the skb of nf_conntrack_in. */
#define CT_LOG_FMT_ARG {{ CT_LOG_FMT_ARG }}
#define L4_LOG_FMT_ARG {{ L4_LOG_FMT_ARG }}
#define CONNTRACK_IN_SKB_ARG {{ CONNTRACK_IN_SKB_ARG }}

enum ct_probe { P_EGRESS = 1, P_DROP, P_CONNTRACK, P_INVALID, P_OVS_CT };

struct event {
  u64 ts_ns;
  u64 ct;            /* the nf_conn's address: one connection's events share it */
  u32 saddr[4];
  u32 daddr[4];
  u32 seq;
  u32 ack;
  u32 status;        /* ct->status (IPS_* bits) */
  u32 mark;
  u32 td_end[2];     /* the TCP window state per direction (invalid events) */
  u32 td_maxend[2];
  u32 td_maxwin[2];
  s32 verdict;       /* nf_conntrack_in / ovs_ct_execute return; 0 otherwise */
  u16 sport;
  u16 dport;
  u16 zone;
  u16 win;
  u8 family;
  u8 proto;
  u8 tcp_flags;
  u8 ctinfo;         /* skb->_nfct & 7 */
  u8 tcp_state;      /* ct->proto.tcp.state */
  u8 probe;
  u8 has_ct;
  u8 has_ports;
  u8 has_window;
  u8 ovs_commit;     /* ovs-ct: the action was ct(commit) */
  u8 pad[6];
  char dev[16];
  char reason[64];
};

{{ EVENTS }}

/* The TCP header fields past the ports: seq, ack, flags, window. */
static __always_inline void tcp_fields(struct vns_flow *f, struct event *ev)
{
  struct {
    u16 sport;
    u16 dport;
    u32 seq;
    u32 ack;
    u8 off;
    u8 flags;
    u16 win;
  } th;
  if (f->proto != IPPROTO_TCP || f->frag || !f->l4 || vns_read(&th, sizeof(th), f->l4))
    return;
  ev->seq = vns_ntohl(th.seq);
  ev->ack = vns_ntohl(th.ack);
  ev->tcp_flags = th.flags;
  ev->win = vns_ntohs(th.win);
}

/* The conntrack entry the skb carries. */
static __always_inline void ct_fields(struct sk_buff *skb, struct event *ev, int window)
{
  unsigned long nfct = 0;
  vns_read(&nfct, sizeof(nfct), &skb->_nfct);
  ev->ctinfo = nfct & 7;
  struct nf_conn *ct = (struct nf_conn *)(nfct & ~7UL);
  if (!ct)
    return;
  ev->has_ct = 1;
  ev->ct = (u64)ct;
  unsigned long status = 0;
  vns_read(&status, sizeof(status), &ct->status);
  ev->status = status;
#if defined(CONFIG_NF_CONNTRACK_MARK)
  vns_read(&ev->mark, sizeof(ev->mark), &ct->mark);
#endif
#if defined(CONFIG_NF_CONNTRACK_ZONES)
  vns_read(&ev->zone, sizeof(ev->zone), &ct->zone.id);
#endif
  if (ev->proto != IPPROTO_TCP)
    return;
  vns_read(&ev->tcp_state, sizeof(ev->tcp_state), &ct->proto.tcp.state);
  if (!window)
    return;
  struct ip_ct_tcp_state seen[2] = {};
  vns_read(&seen, sizeof(seen), &ct->proto.tcp.seen);
  ev->has_window = 1;
#pragma unroll
  for (int i = 0; i < 2; i++) {
    ev->td_end[i] = seen[i].td_end;
    ev->td_maxend[i] = seen[i].td_maxend;
    ev->td_maxwin[i] = seen[i].td_maxwin;
  }
}

/* The flow of skb into ev when it passes the filters; 0 when not. */
static __always_inline int packet(struct sk_buff *skb, struct event *ev)
{
  struct vns_flow f = {};
  vns_flow_l3_of(skb, &f, {{ L3 }});
  if (!({{ FILTER }}))
    return 0;
  if (!f.family)
    return 0;
  vns_skb_devname(skb, ev->dev);
  if (!({{ DEV_FILTER }}))
    return 0;
  vns_flow_l4(&f);
  __builtin_memcpy(ev->saddr, f.saddr, sizeof(ev->saddr));
  __builtin_memcpy(ev->daddr, f.daddr, sizeof(ev->daddr));
  ev->sport = f.sport;
  ev->dport = f.dport;
  ev->family = f.family;
  ev->proto = f.proto;
  ev->has_ports = f.has_ports;
  tcp_fields(&f, ev);
  return 1;
}

static __always_inline int send(void *ctx, struct event *ev)
{
  /* --invalid: conntrack's reasons, netfilter's drops, and lookups that
   * left no entry or did not accept (NF_ACCEPT 1; ovs_ct_execute 0). */
  if (INVALID_ONLY && ev->probe != P_INVALID && ev->probe != P_DROP &&
      !(ev->probe == P_CONNTRACK && (!ev->has_ct || ev->verdict != 1)) &&
      !(ev->probe == P_OVS_CT && (!ev->has_ct || ev->verdict != 0)))
    return 0;
  if (!vns_budget_take())
    return 0;
  ev->ts_ns = bpf_ktime_get_ns();
/* The event is the caller's: the submit takes its address and size. */
#define CT_EVENT (*ev)
  {{ SUBMIT }}
#undef CT_EVENT
  return 0;
}

#if !VARIANT_KPROBE
VNS_TP(net, net_dev_queue)
{
  struct sk_buff *skb = VNS_ARG(net_dev_queue, skb);
  struct event ev = { .probe = P_EGRESS };
  if (!packet(skb, &ev))
    return 0;
  ct_fields(skb, &ev, 0);
  return send(VNS_CTX(net_dev_queue), &ev);
}

VNS_TP(skb, kfree_skb)
{
  struct sk_buff *skb = VNS_ARG(kfree_skb, skb);
  u32 reason = VNS_ARG(kfree_skb, reason);
  /* Kernels with drop reasons: netfilter's drops only. */
  if (REASON_NETFILTER_DROP && reason != REASON_NETFILTER_DROP)
    return 0;
  struct event ev = { .probe = P_DROP };
  if (!packet(skb, &ev))
    return 0;
  ct_fields(skb, &ev, 0);
  ev.verdict = -1;
  return send(VNS_CTX(kfree_skb), &ev);
}
#else
/* The kprobes are attached by the script (kprobe_by_script__: some are
 * optional, e.g. ovs_ct_execute without the openvswitch module).
 * The skb a lookup was given, per thread, from entry to return: one map
 * per function, as ovs_ct_execute calls nf_conntrack_in. */
struct ct_call {
  struct sk_buff *skb;
  u32 commit;        /* ovs_ct_execute: ct(commit) */
};
BPF_HASH(in_conntrack, u64, struct ct_call, 10240);
BPF_HASH(in_ovs_ct, u64, struct ct_call, 10240);

/* ovs: 1 for ovs_ct_execute's map, 0 for nf_conntrack_in's (a BCC map
 * cannot be passed by pointer). */
static __always_inline int lookup_entry(struct sk_buff *skb, int ovs, u32 commit)
{
  struct event ev = {};
  if (!packet(skb, &ev))
    return 0;
  u64 id = vns_call_key();
  struct ct_call call = { .skb = skb, .commit = commit };
  if (ovs)
    in_ovs_ct.update(&id, &call);
  else
    in_conntrack.update(&id, &call);
  return 0;
}

static __always_inline int lookup_return(struct pt_regs *ctx, int ovs)
{
  u64 id = vns_call_key();
  struct ct_call *call = ovs ? in_ovs_ct.lookup(&id) : in_conntrack.lookup(&id);
  if (!call)
    return 0;
  struct sk_buff *skb = call->skb;
  u32 commit = call->commit;
  if (ovs)
    in_ovs_ct.delete(&id);
  else
    in_conntrack.delete(&id);
  struct event ev = { .probe = ovs ? P_OVS_CT : P_CONNTRACK, .ovs_commit = commit };
  if (!packet(skb, &ev))
    return 0;
  ct_fields(skb, &ev, 0);
  ev.verdict = PT_REGS_RC(ctx);
  return send(ctx, &ev);
}

int kprobe_by_script__conntrack_in_entry(struct pt_regs *ctx)
{
  return lookup_entry((struct sk_buff *)PT_REGS_PARM{{ CONNTRACK_IN_SKB_ARG }}(ctx), 0, 0);
}

int kprobe_by_script__conntrack_in_return(struct pt_regs *ctx)
{
  return lookup_return(ctx, 0);
}

int kprobe_by_script__ovs_ct_entry(struct pt_regs *ctx)
{
  /* ovs_ct_execute(net, skb, key, info): commit is info's first bit. */
  struct vns_ovs_conntrack_info *info = (struct vns_ovs_conntrack_info *)PT_REGS_PARM4(ctx);
  u8 flags = 0;
  vns_read(&flags, sizeof(flags), &info->flags);
  return lookup_entry((struct sk_buff *)PT_REGS_PARM2(ctx), 1, flags & VNS_OVS_CT_COMMIT);
}

int kprobe_by_script__ovs_ct_return(struct pt_regs *ctx)
{
  return lookup_return(ctx, 1);
}

/* The message: "%s" and the text as the next argument (4.19, 5.10);
 * "%pV" and a struct va_format whose first member is the text (5.16+);
 * else the format is the text. */
static __always_inline void reason_text(const char *fmt, void *next, char *out)
{
  char f[4] = {};
  vns_read(f, sizeof(f), fmt);
  const char *text = fmt;
  if (f[0] == '%' && f[1] == 's' && f[2] == 0)
    text = next;
  else if (f[0] == '%' && f[1] == 'p' && f[2] == 'V' && f[3] == 0)
    vns_read(&text, sizeof(text), next);
  bpf_probe_read_str(out, 64, text);
}

static __always_inline int invalid(struct pt_regs *ctx, struct sk_buff *skb, const char *fmt, void *next)
{
  struct event ev = { .probe = P_INVALID };
  if (!packet(skb, &ev))
    return 0;
  ct_fields(skb, &ev, 1);
  reason_text(fmt, next, ev.reason);
  return send(ctx, &ev);
}

#define VNS_PARM(n) VNS_PARM_(n)
#define VNS_PARM_(n) PT_REGS_PARM##n

int kprobe_by_script__ct_log_invalid(struct pt_regs *ctx)
{
  return invalid(ctx, (struct sk_buff *)PT_REGS_PARM1(ctx), (const char *)VNS_PARM(CT_LOG_FMT_ARG)(ctx),
                 (void *)VNS_PARM({{ CT_LOG_NEXT_ARG }})(ctx));
}

int kprobe_by_script__l4_log_invalid(struct pt_regs *ctx)
{
  return invalid(ctx, (struct sk_buff *)PT_REGS_PARM1(ctx), (const char *)VNS_PARM(L4_LOG_FMT_ARG)(ctx),
                 (void *)VNS_PARM({{ L4_LOG_NEXT_ARG }})(ctx));
}
#endif
