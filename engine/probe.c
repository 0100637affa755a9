#include "probe.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bcc/libbpf.h>

static const struct probe_ops *const registry[] = {
  &probe_tracepoint,
  &probe_raw_tracepoint,
  &probe_kprobe,
  &probe_uprobe,
  &probe_perf_event,
};

static int live_links;

const struct probe_ops *probe_find(const char *name)
{
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (strcmp(registry[i]->name, name) == 0)
      return registry[i];
  return NULL;
}

int probe_keep_fd(struct probe_link *link, int fd, const char *enoent_why, char *msg, size_t len)
{
  if (fd >= 0) {
    link->fds[link->nfds++] = fd;
    return 0;
  }
  int err = errno ? errno : ENOENT;
  snprintf(msg, len, "%s: %s", link->desc, err == ENOENT && enoent_why ? enoent_why : strerror(err));
  return -err;
}

lua_Integer probe_opt(lua_State *L, int idx, const char *key, lua_Integer dflt)
{
  if (lua_type(L, idx) != LUA_TTABLE)
    return dflt;
  lua_getfield(L, idx, key);
  lua_Integer v = lua_isnil(L, -1)       ? dflt
                  : lua_isboolean(L, -1) ? lua_toboolean(L, -1)
                                         : luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  return v;
}

void probe_close_fds(struct probe_link *link)
{
  for (int i = 0; i < link->nfds; i++)
    if (link->fds[i] >= 0)
      bpf_close_perf_event_fd(link->fds[i]);
  link->nfds = 0;
}

int probe_live_count(void)
{
  return live_links;
}

void probe_count_attach(int delta)
{
  live_links += delta;
}
