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

static lua_Integer field(lua_State *L, const char *key, lua_Integer dflt)
{
  lua_getfield(L, 3, key);
  lua_Integer v = luaL_optinteger(L, -1, dflt);
  lua_pop(L, 1);
  return v;
}

static int perf_attach(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t len)
{
  luaL_checktype(L, 3, LUA_TTABLE);
  uint32_t type = (uint32_t)field(L, "type", 1), config = (uint32_t)field(L, "config", 0);
  uint64_t period = (uint64_t)field(L, "period", 0), freq = (uint64_t)field(L, "freq", 0);
  int pid = (int)field(L, "pid", -1), cpu = (int)field(L, "cpu", -1);
  if (!period && !freq)
    return luaL_argerror(L, 3, "give period or freq");
  snprintf(link->desc, sizeof link->desc, "perf_event type %u config %u", type, config);
  int first = cpu >= 0 ? cpu : 0;
  int last = cpu >= 0 ? cpu : (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
  if (last - first + 1 > LINK_MAX_FDS)
    last = first + LINK_MAX_FDS - 1;
  for (int c = first; c <= last; c++) {
    int fd = bpf_attach_perf_event(prog_fd, type, config, period, freq, pid, c, -1);
    if (fd < 0) {
      int err = errno ? errno : EINVAL;
      snprintf(msg, len, "%s on cpu %d: %s", link->desc, c, strerror(err));
      probe_close_fds(link);
      return -err;
    }
    link->fds[link->nfds++] = fd;
  }
  return 0;
}

const struct probe_ops probe_perf_event = {
  .name = "perf_event",
  .prog_type = BPF_PROG_TYPE_PERF_EVENT,
  .attach = perf_attach,
  .detach = probe_close_fds,
};
