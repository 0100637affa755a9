/* Tracepoints: "category:name", attached through a perf event. */
#include <errno.h>
#include <lauxlib.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>

#include <bcc/libbpf.h>

#include "probe.h"

static int tracepoint_attach(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t len)
{
  const char *spec = luaL_checkstring(L, 3);
  char category[128];
  const char *colon = strchr(spec, ':');
  if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof category || !colon[1])
    return luaL_argerror(L, 3, "expected 'category:name'");
  memcpy(category, spec, (size_t)(colon - spec));
  category[colon - spec] = '\0';
  snprintf(link->desc, sizeof link->desc, "tracepoint %s", spec);
  return probe_keep_fd(link, bpf_attach_tracepoint(prog_fd, category, colon + 1),
                       "no such tracepoint on this kernel", msg, len);
}

const struct probe_ops probe_tracepoint = {
  .name = "tracepoint",
  .prog_type = BPF_PROG_TYPE_TRACEPOINT,
  .attach = tracepoint_attach,
  .detach = probe_close_fds,
};
