/* probe: one ops table per probe type (probe_<type>.c), registered by
 * one line in probe.c; see docs/adding-a-probe-type.md.
 * A link is what an attach leaves behind; detaching it must undo every
 * piece of kernel state, and must be safe to call twice. */
#ifndef VNS_PROBE_H
#define VNS_PROBE_H

#include <lua.h>

#define LINK_MAX_FDS 1024

struct probe_link {
  const struct probe_ops *ops;
  int nfds;
  int fds[LINK_MAX_FDS];    /* perf event fds, one per CPU for perf_event */
  char event[160];          /* kprobe/uprobe event name to remove */
  char desc[256];           /* "tracepoint skb:kfree_skb", for messages */
};

struct probe_ops {
  const char *name;
  int prog_type;            /* BPF_PROG_TYPE_*: mod:load(fn, name) loads as it, attach checks it */
  /* Arguments are on the Lua stack from index 3 (after prog, kind).
   * Return 0, or -errno with msg filled; a failed attach leaves nothing. */
  int (*attach)(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t msglen);
  void (*detach)(struct probe_link *link);
};

/* The probe type named name ("kprobe", ...), or NULL. */
const struct probe_ops *probe_find(const char *name);

/* The BPF_PROG_TYPE_* a function loaded as kind must have: the probe
 * type's, or a load-only kind's (a program vnetscope loads but another
 * tool attaches); -1 for an unknown kind. */
int probe_prog_type(const char *kind);

/* "tracepoint, raw_tracepoint, ...": the probe types, for messages. */
const char *probe_kind_list(void);

/* Keep a successful attach's fd in the link; for a failed one (fd < 0)
 * write "<desc>: <why>" to msg, with enoent_why for ENOENT, and return
 * -errno. */
int probe_keep_fd(struct probe_link *link, int fd, const char *enoent_why, char *msg, size_t len);

/* Integer field `key` of the options table at idx: dflt when there is
 * no table or no field, 0/1 for booleans. */
lua_Integer probe_opt(lua_State *L, int idx, const char *key, lua_Integer dflt);

/* Close every fd of a link (the common detach). */
void probe_close_fds(struct probe_link *link);

/* Probe points still attached in this process. */
int probe_live_count(void);
void probe_count_attach(int delta);

#endif
