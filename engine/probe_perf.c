/* Perf events, e.g. CPU sampling, on every CPU (or one):
 * prog:attach("perf_event", {type = 1, config = 0, freq = 99, cpu = nil, pid = -1})
 * type/config are PERF_TYPE_* / PERF_COUNT_*; give period or freq. */
#include <errno.h>
#include <lauxlib.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bcc/libbpf.h>

#include "probe.h"
#include "util.h"

static int perf_attach(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t len)
{
  luaL_checktype(L, 3, LUA_TTABLE);
  uint32_t type = (uint32_t)probe_opt(L, 3, "type", 1), config = (uint32_t)probe_opt(L, 3, "config", 0);
  uint64_t period = (uint64_t)probe_opt(L, 3, "period", 0), freq = (uint64_t)probe_opt(L, 3, "freq", 0);
  int pid = (int)probe_opt(L, 3, "pid", -1), cpu = (int)probe_opt(L, 3, "cpu", -1);
  if (!period && !freq)
    return luaL_argerror(L, 3, "give period or freq");
  snprintf(link->desc, sizeof link->desc, "perf_event type %u config %u", type, config);
  int cpus[LINK_MAX_FDS], n = 1;
  if (cpu >= 0)
    cpus[0] = cpu;
  else
    n = util_online_cpus(cpus, LINK_MAX_FDS);
  for (int i = 0; i < n; i++) {
    errno = 0;
    int fd = bpf_attach_perf_event(prog_fd, type, config, period, freq, pid, cpus[i], -1);
    int err = probe_keep_fd(link, fd, NULL, msg, len);
    if (err) {
      probe_close_fds(link);
      return err;
    }
  }
  return 0;
}

const struct probe_ops probe_perf_event = {
  .name = "perf_event",
  .prog_type = BPF_PROG_TYPE_PERF_EVENT,
  .attach = perf_attach,
  .detach = probe_close_fds,
};
