/* lfeatures: what this kernel can do, by trying it (load a two-instruction
 * program, attach it, close it) rather than guessing from the version.
 *   core.features() -> { kprobe = {ok=, why=}, tracepoint = ..., ... }
 *   core.have_ringbuf() -> bool
 *   core.btf_tracepoint_args(name) -> { "struct sk_buff *", "void *", ... }
 *     the arguments a raw tracepoint program gets (TP_PROTO), from the
 *     kernel BTF's typedef btf_trace_<name>; false when BTF lacks it, nil
 *     and a message without kernel BTF.
 *   core.btf_func_args(name) -> the parameter types of a kernel function
 *     (its BTF FUNC), the same way. */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bcc/libbpf.h>

#include "lhelp.h"
#include "probe_events.h"
#include "tracefs.h"
#include "util.h"

static const struct bpf_insn return_zero[] = {
  { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
  { .code = BPF_JMP | BPF_EXIT },
};

static void verdict(lua_State *L, const char *name, int ok, const char *why)
{
  lua_createtable(L, 0, 2);
  lua_pushboolean(L, ok);
  lua_setfield(L, -2, "ok");
  lua_pushstring(L, why);
  lua_setfield(L, -2, "why");
  lua_setfield(L, -2, name);
}

static int load_trivial(enum bpf_prog_type type, const struct bpf_prog_load_opts *opts)
{
  return bpf_prog_load(type, "vns_probe", "GPL", return_zero, 2, opts);
}

static void features_try_raw_tracepoint(lua_State *L)
{
  int fd = load_trivial(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL);
  int link = fd >= 0 ? bpf_raw_tracepoint_open("sys_enter", fd) : -1;
  int err = errno;
  verdict(L, "raw_tracepoint", link >= 0, link >= 0 ? "attached to sys_enter" : strerror(err));
  if (link >= 0)
    close(link);
  if (fd >= 0)
    close(fd);
}

static void features_try_fentry(lua_State *L)
{
  struct btf *btf = btf__load_vmlinux_btf();
  int id = btf ? btf__find_by_name_kind(btf, "tcp_v4_rcv", BTF_KIND_FUNC) : -1;
  btf__free(btf);
  if (id < 0) {
    verdict(L, "fentry", 0, "no kernel BTF for tcp_v4_rcv");
    return;
  }
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
              .attach_btf_id = (unsigned)id);
  int fd = load_trivial(BPF_PROG_TYPE_TRACING, &opts);
  int link = fd >= 0 ? bpf_raw_tracepoint_open(NULL, fd) : -1;
  int err = errno;
  verdict(L, "fentry", link >= 0, link >= 0 ? "attached to tcp_v4_rcv" : strerror(err));
  if (link >= 0)
    close(link);
  if (fd >= 0)
    close(fd);
}

static void features_try_ringbuf(lua_State *L)
{
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vns_probe", 0, 0, 4096, NULL);
  verdict(L, "ringbuf", fd >= 0, fd >= 0 ? "map created" : strerror(errno));
  if (fd >= 0)
    close(fd);
}

static void features_try_perf_event(lua_State *L)
{
  int fd = bpf_open_perf_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, -1, 0);
  verdict(L, "perf_event", fd >= 0, fd >= 0 ? "cpu-clock opened" : strerror(errno));
  if (fd >= 0)
    close(fd);
}

static void features_try_tracepoints(lua_State *L)
{
  char msg[256], path[256];
  if (tracefs_ensure(msg, sizeof msg)) {
    verdict(L, "tracepoint", 0, msg);
    return;
  }
  snprintf(path, sizeof path, "%s/events/skb/kfree_skb/id", tracefs_root());
  verdict(L, "tracepoint", util_exists(path), util_exists(path) ? tracefs_root() : "skb:kfree_skb missing");
}

static void features_try_stats(lua_State *L)
{
  char *text = util_read_file("/proc/sys/kernel/bpf_stats_enabled", NULL);
  verdict(L, "bpf_stats", text != NULL,
          !text ? "no kernel.bpf_stats_enabled" : text[0] == '1' ? "enabled" : "available (off)");
  free(text);
}

static int core_features(lua_State *L)
{
  lua_newtable(L);
  verdict(L, "btf", util_exists("/sys/kernel/btf/vmlinux"), "/sys/kernel/btf/vmlinux");
  verdict(L, "kprobe", probe_kind_supported("kprobe"),
          probe_kind_supported("kprobe") ? "kprobe PMU or kprobe_events" : "CONFIG_KPROBES off");
  verdict(L, "uprobe", probe_kind_supported("uprobe"),
          probe_kind_supported("uprobe") ? "uprobe PMU or uprobe_events" : "CONFIG_UPROBES off");
  features_try_tracepoints(L);
  features_try_raw_tracepoint(L);
  features_try_perf_event(L);
  features_try_fentry(L);
  features_try_ringbuf(L);
  features_try_stats(L);
  return 1;
}

/* The C type of a BTF type, as text: "struct sk_buff *", "enum
 * skb_drop_reason", "const void *". Enough to tell arguments apart. */
static void type_text(const struct btf *btf, __u32 id, luaL_Buffer *b, int depth)
{
  const struct btf_type *t = id ? btf__type_by_id(btf, id) : NULL;
  if (!t || depth > 8) {
    luaL_addstring(b, id ? "?" : "void");
    return;
  }
  const char *name = btf__name_by_offset(btf, t->name_off);
  switch (btf_kind(t)) {
  case BTF_KIND_PTR:
    type_text(btf, t->type, b, depth + 1);
    luaL_addstring(b, " *");
    return;
  case BTF_KIND_CONST:
    luaL_addstring(b, "const ");
    type_text(btf, t->type, b, depth + 1);
    return;
  case BTF_KIND_VOLATILE:
    luaL_addstring(b, "volatile ");
    type_text(btf, t->type, b, depth + 1);
    return;
  case BTF_KIND_STRUCT:
    luaL_addstring(b, "struct ");
    break;
  case BTF_KIND_UNION:
    luaL_addstring(b, "union ");
    break;
  case BTF_KIND_ENUM:
  case BTF_KIND_ENUM64:
    luaL_addstring(b, "enum ");
    break;
  case BTF_KIND_FUNC_PROTO:
    luaL_addstring(b, "fn");
    return;
  default:
    break;
  }
  luaL_addstring(b, name && *name ? name : "?");
}

static struct btf *vmlinux_btf;

static int core_btf_tracepoint_args(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  char typedef_name[256];
  if (!vmlinux_btf)
    vmlinux_btf = btf__load_vmlinux_btf();
  if (!vmlinux_btf) {
    lua_pushnil(L);
    lua_pushstring(L, "no kernel BTF");
    return 2;
  }
  snprintf(typedef_name, sizeof typedef_name, "btf_trace_%s", name);
  int id = btf__find_by_name_kind(vmlinux_btf, typedef_name, BTF_KIND_TYPEDEF);
  const struct btf_type *t = id > 0 ? btf__type_by_id(vmlinux_btf, id) : NULL;
  t = t ? btf__type_by_id(vmlinux_btf, t->type) : NULL;                     /* pointer */
  t = t && btf_is_ptr(t) ? btf__type_by_id(vmlinux_btf, t->type) : NULL;   /* proto */
  if (!t || !btf_is_func_proto(t)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  const struct btf_param *p = btf_params(t);
  int n = btf_vlen(t);
  lua_createtable(L, n > 0 ? n - 1 : 0, 0);
  /* The first parameter is the tracepoint's data pointer (void *__data),
   * not an argument the program sees. */
  for (int i = 1; i < n; i++) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    type_text(vmlinux_btf, p[i].type, &b, 0);
    luaL_pushresult(&b);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

/* core.have_ringbuf() -> bool: can this process make a BPF ring buffer
 * (Linux 5.8+)? The one check of core.features() that tools need at every
 * start, without the others' cost. */
static int core_have_ringbuf(lua_State *L)
{
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vns_probe", 0, 0, 4096, NULL);
  lua_pushboolean(L, fd >= 0);
  if (fd >= 0)
    close(fd);
  return 1;
}

/* core.btf_func_args(name) -> { "struct sk_buff *", ... }: the parameter
 * types of a kernel function as its BTF FUNC says (where a kprobe tool
 * finds its skb argument); false when BTF has no such function, nil and
 * why without BTF. */
static int core_btf_func_args(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  if (!vmlinux_btf)
    vmlinux_btf = btf__load_vmlinux_btf();
  if (!vmlinux_btf) {
    lua_pushnil(L);
    lua_pushstring(L, "no kernel BTF");
    return 2;
  }
  int id = btf__find_by_name_kind(vmlinux_btf, name, BTF_KIND_FUNC);
  const struct btf_type *t = id > 0 ? btf__type_by_id(vmlinux_btf, id) : NULL;
  t = t ? btf__type_by_id(vmlinux_btf, t->type) : NULL;
  if (!t || !btf_is_func_proto(t)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  const struct btf_param *p = btf_params(t);
  int n = btf_vlen(t);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    type_text(vmlinux_btf, p[i].type, &b, 0);
    luaL_pushresult(&b);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

void lfeatures_register(lua_State *L)
{
  lua_pushcfunction(L, core_have_ringbuf);
  lua_setfield(L, -2, "have_ringbuf");
  lua_pushcfunction(L, core_btf_func_args);
  lua_setfield(L, -2, "btf_func_args");
  lua_pushcfunction(L, core_btf_tracepoint_args);
  lua_setfield(L, -2, "btf_tracepoint_args");
  lua_pushcfunction(L, core_features);
  lua_setfield(L, -2, "features");
}
