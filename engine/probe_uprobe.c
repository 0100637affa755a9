/* uprobes and uretprobes on user functions:
 * prog:attach("uprobe", "/usr/bin/bash", "readline", {ret = false, pid = -1})
 * The third argument is a symbol name or an address in the binary. */
#include <errno.h>
#include <lauxlib.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>

#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>
#include <bcc/libbpf.h>

#include "probe.h"
#include "probe_events.h"

static void uprobe_detach(struct probe_link *link)
{
  probe_event_detach(link, "uprobe_events", bpf_detach_uprobe);
}

static int uprobe_attach(lua_State *L, int prog_fd, struct probe_link *link, char *msg, size_t len)
{
  const char *binary = luaL_checkstring(L, 3);
  const char *sym = lua_type(L, 4) == LUA_TSTRING ? lua_tostring(L, 4) : NULL;
  uint64_t addr = sym ? 0 : (uint64_t)luaL_checkinteger(L, 4);
  int ret = (int)probe_opt(L, 5, "ret", 0), pid = (int)probe_opt(L, 5, "pid", -1);
  snprintf(link->desc, sizeof link->desc, "%s %s:%s", ret ? "uretprobe" : "uprobe", binary,
           sym ? sym : "addr");
  struct bcc_symbol resolved;
  if (bcc_resolve_symname(binary, sym, addr, pid, NULL, &resolved) < 0) {
    snprintf(msg, len, "%s: symbol not found in the binary (or the binary is missing)", link->desc);
    return -ENOENT;
  }
  probe_event_name(link->event, sizeof link->event, ret ? 'R' : 'P', resolved.module);
  snprintf(link->event + strlen(link->event), sizeof link->event - strlen(link->event), "_%llx",
           (unsigned long long)resolved.offset);
  int fd = bpf_attach_uprobe(prog_fd, ret ? BPF_PROBE_RETURN : BPF_PROBE_ENTRY, link->event,
                             resolved.module, resolved.offset, pid, 0);
  bcc_procutils_free(resolved.module);
  int err = probe_keep_fd(link, fd, NULL, msg, len);
  if (err)
    uprobe_detach(link);
  return err;
}

const struct probe_ops probe_uprobe = {
  .name = "uprobe",
  .prog_type = BPF_PROG_TYPE_KPROBE,
  .attach = uprobe_attach,
  .detach = uprobe_detach,
};
