/* lqdisc: the kernel's own qdisc counters (what `tc -s qdisc` shows), read
 * with one rtnetlink dump in the caller's network namespace. Tools put
 * them beside what their probes saw: overlimits have no tracepoint, and a
 * classful qdisc's counters say which child dropped. */
#include <errno.h>
#include <linux/gen_stats.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lhelp.h"

struct qdisc_row {
  char kind[IFNAMSIZ];
  struct gnet_stats_basic basic;
  struct gnet_stats_queue queue;
  int has_stats;
};

static void parse_stats2(const struct rtattr *nest, struct qdisc_row *row)
{
  int len = RTA_PAYLOAD(nest);
  for (const struct rtattr *a = RTA_DATA(nest); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    size_t n = RTA_PAYLOAD(a);
    if (a->rta_type == TCA_STATS_BASIC)
      memcpy(&row->basic, RTA_DATA(a), n < sizeof(row->basic) ? n : sizeof(row->basic));
    else if (a->rta_type == TCA_STATS_QUEUE) {
      memcpy(&row->queue, RTA_DATA(a), n < sizeof(row->queue) ? n : sizeof(row->queue));
      row->has_stats = 1;
    }
  }
}

static void set_int(lua_State *L, const char *name, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, name);
}

/* One RTM_NEWQDISC message as a Lua table, appended to the array at -1. */
static void push_qdisc(lua_State *L, const struct nlmsghdr *h)
{
  const struct tcmsg *tc = NLMSG_DATA(h);
  struct qdisc_row row = { 0 };
  int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*tc));
  for (const struct rtattr *a = (const struct rtattr *)((const char *)tc + NLMSG_ALIGN(sizeof(*tc)));
       RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == TCA_KIND)
      snprintf(row.kind, sizeof(row.kind), "%.*s", (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
    else if (a->rta_type == TCA_STATS2)
      parse_stats2(a, &row);
  }
  if (!row.has_stats)
    return;
  char dev[IF_NAMESIZE] = "";
  if (!if_indextoname((unsigned)tc->tcm_ifindex, dev))
    snprintf(dev, sizeof(dev), "if%d", tc->tcm_ifindex);
  lua_createtable(L, 0, 12);
  set_int(L, "ifindex", tc->tcm_ifindex);
  lua_pushstring(L, dev);
  lua_setfield(L, -2, "dev");
  lua_pushstring(L, row.kind);
  lua_setfield(L, -2, "kind");
  set_int(L, "handle", tc->tcm_handle);
  set_int(L, "parent", tc->tcm_parent);
  set_int(L, "bytes", (lua_Integer)row.basic.bytes);
  set_int(L, "packets", row.basic.packets);
  set_int(L, "drops", row.queue.drops);
  set_int(L, "overlimits", row.queue.overlimits);
  set_int(L, "requeues", row.queue.requeues);
  set_int(L, "qlen", row.queue.qlen);
  set_int(L, "backlog", row.queue.backlog);
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
}

/* Read the dump's replies into the array at -1. Returns 0 or an errno. */
static int read_dump(lua_State *L, int fd, unsigned seq)
{
  static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq)
        continue;
      if (h->nlmsg_type == NLMSG_DONE)
        return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        return e->error ? -e->error : EPROTO;
      }
      if (h->nlmsg_type == RTM_NEWQDISC)
        push_qdisc(L, h);
    }
  }
}

/* qdisc_stats() -> array of {ifindex, dev, kind, handle, parent, bytes,
 * packets, drops, overlimits, requeues, qlen, backlog}, or nil, message,
 * errno. Counters are the kernel's (u32 except bytes): callers diff them. */
static int qdisc_stats(lua_State *L)
{
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return lhelp_fail(L, errno, "qdisc statistics: netlink socket: %s", strerror(errno));
  struct {
    struct nlmsghdr h;
    struct tcmsg tc;
  } req = {
    .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETQDISC,
           .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
    .tc = { .tcm_family = AF_UNSPEC },
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
    int err = errno;
    close(fd);
    return lhelp_fail(L, err, "qdisc statistics: netlink request: %s", strerror(err));
  }
  lua_newtable(L);
  int err = read_dump(L, fd, req.h.nlmsg_seq);
  close(fd);
  if (err) {
    lua_pop(L, 1);
    return lhelp_fail(L, err, "qdisc statistics: netlink dump: %s", strerror(err));
  }
  return 1;
}

void lqdisc_register(lua_State *L)
{
  lua_pushcfunction(L, qdisc_stats);
  lua_setfield(L, -2, "qdisc_stats");
}
