/* lprog: loaded programs and the links their attachments leave.
 *   prog:attach(kind, ...) -> link | nil, message, code
 *   prog:info() -> {insns, verified_insns, jited_bytes, run_time_ns, run_cnt,
 *                   recursion_misses}
 *   link:detach()  (also on __gc and __close) */
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <unistd.h>

#include <bcc/libbpf.h>

#include "lhandles.h"
#include "lhelp.h"
#include "probe.h"

#define PROG_MT "vns.prog"
#define LINK_MT "vns.link"

struct vns_prog *lprog_new(lua_State *L)
{
  struct vns_prog *p = lua_newuserdatauv(L, sizeof *p, 1);
  memset(p, 0, sizeof *p);
  p->fd = -1;
  luaL_setmetatable(L, PROG_MT);
  return p;
}

static struct vns_prog *prog_check(lua_State *L, int idx)
{
  struct vns_prog *p = luaL_checkudata(L, idx, PROG_MT);
  luaL_argcheck(L, p->fd >= 0, idx, "program is closed");
  return p;
}

static int prog_release(lua_State *L)
{
  struct vns_prog *p = luaL_checkudata(L, 1, PROG_MT);
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  return 0;
}

static int prog_attach(lua_State *L)
{
  struct vns_prog *p = prog_check(L, 1);
  const char *kind = luaL_checkstring(L, 2);
  const struct probe_ops *ops = probe_find(kind);
  if (!ops)
    return luaL_argerror(L, 2, lua_pushfstring(L, "unknown probe kind (%s)", probe_kind_list()));
  if (ops->prog_type != p->prog_type)
    return luaL_error(L, "program %s was not loaded as a %s program", p->name, kind);
  struct probe_link *link = lua_newuserdatauv(L, sizeof *link, 1);
  memset(link, 0, sizeof *link);
  luaL_setmetatable(L, LINK_MT);
  char msg[512] = "";
  errno = 0;
  int err = ops->attach(L, p->fd, link, msg, sizeof msg);
  if (err)
    return lhelp_fail(L, -err, "%s", msg);
  link->ops = ops;
  probe_count_attach(1);
  lua_pushvalue(L, 1); /* keep the program alive while attached */
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static int prog_info(lua_State *L)
{
  struct vns_prog *p = prog_check(L, 1);
  struct bpf_prog_info info;
  uint32_t len = sizeof info;
  memset(&info, 0, sizeof info);
  if (bpf_obj_get_info_by_fd(p->fd, &info, &len))
    return lhelp_fail(L, errno, "prog %s info: %s", p->name, strerror(errno));
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, info.xlated_prog_len / 8);
  lua_setfield(L, -2, "insns");
  lua_pushinteger(L, info.verified_insns);
  lua_setfield(L, -2, "verified_insns");
  lua_pushinteger(L, info.jited_prog_len);
  lua_setfield(L, -2, "jited_bytes");
  lua_pushinteger(L, (lua_Integer)info.run_time_ns);
  lua_setfield(L, -2, "run_time_ns");
  lua_pushinteger(L, (lua_Integer)info.run_cnt);
  lua_setfield(L, -2, "run_cnt");
  /* Runs the kernel skipped: the program was already running on that
   * CPU (5.12+; 0 before). */
  lua_pushinteger(L, (lua_Integer)info.recursion_misses);
  lua_setfield(L, -2, "recursion_misses");
  lua_pushinteger(L, info.id);
  lua_setfield(L, -2, "id");
  return 1;
}

static int prog_name(lua_State *L)
{
  lua_pushstring(L, prog_check(L, 1)->name);
  return 1;
}

static int link_release(lua_State *L)
{
  struct probe_link *link = luaL_checkudata(L, 1, LINK_MT);
  if (link->ops) {
    link->ops->detach(link);
    link->ops = NULL;
    probe_count_attach(-1);
  }
  return 0;
}

static int link_describe(lua_State *L)
{
  struct probe_link *link = luaL_checkudata(L, 1, LINK_MT);
  lua_pushstring(L, link->desc);
  lua_pushboolean(L, link->ops != NULL);
  return 2;
}

static int core_live_links(lua_State *L)
{
  lua_pushinteger(L, probe_live_count());
  return 1;
}

static const luaL_Reg prog_methods[] = {
  { "attach", prog_attach },
  { "info", prog_info },
  { "name", prog_name },
  { "close", prog_release },
  { NULL, NULL },
};

static const luaL_Reg link_methods[] = {
  { "detach", link_release },
  { "describe", link_describe },
  { NULL, NULL },
};

void lprog_register(lua_State *L)
{
  lhelp_newclass(L, PROG_MT, prog_methods, prog_release);
  lhelp_newclass(L, LINK_MT, link_methods, link_release);
  lua_pushcfunction(L, core_live_links);
  lua_setfield(L, -2, "live_links");
}
