#include "probe.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bcc/libbpf.h>
#include <linux/bpf.h>

/* The registry: one line per probe type; X(t) names the ops table
 * probe_<t>, defined in the type's own probe_*.c. Order is the order of
 * messages. */
#define PROBE_REGISTRY(X) \
  X(tracepoint)           \
  X(raw_tracepoint)       \
  X(kprobe)               \
  X(uprobe)               \
  X(perf_event)

#define PROBE_DECLARE(t) extern const struct probe_ops probe_##t;
#define PROBE_ENTRY(t) &probe_##t,
PROBE_REGISTRY(PROBE_DECLARE)
static const struct probe_ops *const probe_registry[] = { PROBE_REGISTRY(PROBE_ENTRY) };
#define PROBE_COUNT (sizeof probe_registry / sizeof probe_registry[0])

/* Kinds mod:load accepts that have no attach here: the program fd is
 * handed to something else (a socket, tc). */
static const struct {
  const char *name;
  int prog_type;
} probe_load_only[] = {
  { "socket_filter", BPF_PROG_TYPE_SOCKET_FILTER },
  { "sched_cls", BPF_PROG_TYPE_SCHED_CLS },
};

static int live_links;

const struct probe_ops *probe_find(const char *name)
{
  for (size_t i = 0; i < PROBE_COUNT; i++)
    if (strcmp(probe_registry[i]->name, name) == 0)
      return probe_registry[i];
  return NULL;
}

int probe_prog_type(const char *kind)
{
  const struct probe_ops *ops = probe_find(kind);
  if (ops)
    return ops->prog_type;
  for (size_t i = 0; i < sizeof probe_load_only / sizeof probe_load_only[0]; i++)
    if (strcmp(probe_load_only[i].name, kind) == 0)
      return probe_load_only[i].prog_type;
  return -1;
}

const char *probe_kind_list(void)
{
  static char list[256];
  if (list[0])
    return list;
  for (size_t i = 0; i < PROBE_COUNT; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
             probe_registry[i]->name);
  return list;
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
