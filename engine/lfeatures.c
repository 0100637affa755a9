/* lfeatures: what this kernel can do, by trying it (load a two-instruction
 * program, attach it, close it) rather than guessing from the version.
 *   core.features() -> { kprobe = {ok=, why=}, tracepoint = ..., ... } */
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

void lfeatures_register(lua_State *L)
{
  lua_pushcfunction(L, core_features);
  lua_setfield(L, -2, "features");
}
