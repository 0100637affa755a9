/* Raw tracepoints: the tracepoint's name without category; the program
 * sees the tracepoint's raw arguments (no format translation). */
#include <errno.h>
#include <lauxlib.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bcc/libbpf.h>

#include "probe.h"

static int rawtp_attach(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t len)
{
  const char *name = luaL_checkstring(L, 3);
  const char *colon = strchr(name, ':');
  if (colon)
    name = colon + 1;  /* accept "skb:kfree_skb" too */
  snprintf(link->desc, sizeof link->desc, "raw_tracepoint %s", name);
  return probe_keep_fd(link, bpf_attach_raw_tracepoint(prog_fd, name),
                       "no such tracepoint on this kernel", msg, len);
}

/* A raw tracepoint fd is a BPF link, not a perf event: just close it. */
static void rawtp_detach(struct probe_link *link)
{
  for (int i = 0; i < link->nfds; i++)
    close(link->fds[i]);
  link->nfds = 0;
}

const struct probe_ops probe_raw_tracepoint = {
  .name = "raw_tracepoint",
  .prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT,
  .attach = rawtp_attach,
  .detach = rawtp_detach,
};
