/* kprobes and kretprobes on kernel functions:
 * prog:attach("kprobe", "tcp_v4_rcv", {ret = false, offset = 0, maxactive = 0}) */
#include <errno.h>
#include <lauxlib.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>

#include <bcc/libbpf.h>

#include "probe.h"
#include "probe_events.h"

static void kprobe_detach(struct probe_link *link)
{
  probe_event_detach(link, "kprobe_events", bpf_detach_kprobe);
}

static int kprobe_attach(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t len)
{
  const char *fn = luaL_checkstring(L, 3);
  int ret = (int)probe_opt(L, 4, "ret", 0);
  snprintf(link->desc, sizeof link->desc, "%s %s", ret ? "kretprobe" : "kprobe", fn);
  if (!probe_kind_supported("kprobe")) {
    snprintf(msg, len, "%s: kprobes are not supported by this kernel (CONFIG_KPROBES is off); "
             "use a tracepoint variant of this tool, or run it on a kernel with kprobes", link->desc);
    return -EOPNOTSUPP;
  }
  probe_event_name(link->event, sizeof link->event, ret ? 'r' : 'p', fn);
  int fd = bpf_attach_kprobe(prog_fd, ret ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, link->event, fn,
                             (uint64_t)probe_opt(L, 4, "offset", 0), (int)probe_opt(L, 4, "maxactive", 0));
  int err = probe_keep_fd(link, fd, "no such kernel function (inlined, renamed or not built in this kernel)",
                          msg, len);
  if (err)
    kprobe_detach(link);
  return err;
}

const struct probe_ops probe_kprobe = {
  .name = "kprobe",
  .prog_type = BPF_PROG_TYPE_KPROBE,
  .attach = kprobe_attach,
  .detach = kprobe_detach,
};
