/* lsys: clocks, interruptible sleep, interfaces, kernel facts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "lhelp.h"
#include "signals.h"
#include "tracefs.h"
#include "util.h"

static int sys_monotime(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
  return 1;
}

static int sys_walltime(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* Sleep up to `seconds`; wakes early on SIGINT/SIGTERM. Returns true when
 * the full time passed, false when a stop was requested. */
static int sys_sleep(lua_State *L)
{
  double seconds = luaL_checknumber(L, 1);
  struct timespec now, end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  long long end_ns = end.tv_sec * 1000000000LL + end.tv_nsec + (long long)(seconds * 1e9);
  struct pollfd pfd = { .fd = signals_wake_fd(), .events = POLLIN };
  while (!signals_pending()) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = end_ns - (now.tv_sec * 1000000000LL + now.tv_nsec);
    if (left <= 0)
      break;
    poll(&pfd, 1, (int)((left + 999999) / 1000000));
  }
  lua_pushboolean(L, !signals_pending());
  return 1;
}

static int sys_interrupted(lua_State *L)
{
  lua_pushboolean(L, signals_pending());
  lua_pushinteger(L, signals_last());
  return 2;
}

static int sys_ifindex(lua_State *L)
{
  unsigned idx = if_nametoindex(luaL_checkstring(L, 1));
  if (!idx)
    return lhelp_fail(L, errno, "interface %s: %s", lua_tostring(L, 1), strerror(errno));
  lua_pushinteger(L, idx);
  return 1;
}

static int sys_ifname(lua_State *L)
{
  char name[IF_NAMESIZE];
  lua_Integer idx = luaL_checkinteger(L, 1);
  if (!if_indextoname((unsigned)idx, name))
    return lhelp_fail(L, errno, "interface index %d: %s", (int)idx, strerror(errno));
  lua_pushstring(L, name);
  return 1;
}

static int sys_kernel_release(lua_State *L)
{
  struct utsname u;
  uname(&u);
  lua_pushstring(L, u.release);
  return 1;
}

/* Possible CPUs, as per-CPU maps and perf buffers size themselves. */
static int sys_ncpus(lua_State *L)
{
  char *text = util_read_file("/sys/devices/system/cpu/possible", NULL);
  int last = 0, first = 0;
  if (!text || sscanf(text, "%d-%d", &first, &last) < 1)
    last = (int)sysconf(_SC_NPROCESSORS_CONF) - 1;
  else if (last < first)
    last = first;
  free(text);
  lua_pushinteger(L, last + 1);
  return 1;
}

static int sys_tracefs(lua_State *L)
{
  char msg[256];
  if (tracefs_ensure(msg, sizeof msg))
    return lhelp_fail(L, EPERM, "%s", msg);
  lua_pushstring(L, tracefs_root());
  return 1;
}

/* The format file of a tracepoint, e.g. ("skb", "kfree_skb"). */
static int sys_tracepoint_format(lua_State *L)
{
  const char *category = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2);
  char msg[256], path[512];
  if (tracefs_ensure(msg, sizeof msg))
    return lhelp_fail(L, EPERM, "%s", msg);
  snprintf(path, sizeof path, "%s/events/%s/%s/format", tracefs_root(), category, name);
  char *text = util_read_file(path, NULL);
  if (!text)
    return lhelp_fail(L, errno, "tracepoint %s:%s: %s", category, name, strerror(errno));
  lua_pushstring(L, text);
  free(text);
  return 1;
}

/* core.use_tracefs_events(dir) -> true | nil, message, errno */
static int sys_use_tracefs_events(lua_State *L)
{
  const char *dir = luaL_checkstring(L, 1);
  char msg[512];
  int err = tracefs_use_events(dir, msg, sizeof msg);
  if (err)
    return lhelp_fail(L, -err, "%s", msg);
  lua_pushboolean(L, 1);
  return 1;
}

static int sys_getpid(lua_State *L)
{
  lua_pushinteger(L, getpid());
  return 1;
}

/* Entries of a directory, sorted by the caller: {{name=, dir=}, ...} */
static int sys_listdir(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  if (!d)
    return lhelp_fail(L, errno, "%s: %s", path, strerror(errno));
  lua_newtable(L);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", path, e->d_name);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, e->d_name);
    lua_setfield(L, -2, "name");
    lua_pushboolean(L, util_is_dir(full));
    lua_setfield(L, -2, "dir");
    lua_rawseti(L, -2, ++n);
  }
  closedir(d);
  return 1;
}

/* core.stat(path) -> {size, mtime, dir, uid, mode} | nil, message, errno */
static int sys_stat(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st))
    return lhelp_fail(L, errno, "%s: %s", path, strerror(errno));
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)st.st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushboolean(L, S_ISDIR(st.st_mode));
  lua_setfield(L, -2, "dir");
  return 1;
}

/* A util_* call on a path that returns 0 or -errno, as true | nil,
 * message, errno: core.mkdirs(path), core.rmtree(path). */
static int path_call(lua_State *L, int (*op)(const char *))
{
  const char *path = luaL_checkstring(L, 1);
  int rc = op(path);
  if (rc)
    return lhelp_fail(L, -rc, "%s: %s", path, strerror(-rc));
  lua_pushboolean(L, 1);
  return 1;
}

static int sys_mkdirs(lua_State *L) { return path_call(L, util_mkdirs); }
static int sys_rmtree(lua_State *L) { return path_call(L, util_rmtree); }

/* core.write_file(path, bytes) -> true | nil, message, errno: whole or
 * not at all (a private temporary file renamed over path), mode 0644,
 * never through a symlink planted at the temporary name. */
static int sys_write_file(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *bytes = luaL_checklstring(L, 2, &len);
  static unsigned seq;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld-%u", path, (long)getpid(), seq++);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return lhelp_fail(L, errno, "%s: %s", path, strerror(errno));
  int err = fchmod(fd, 0644) ? errno : 0;
  for (size_t off = 0; !err && off < len;) {
    ssize_t n = write(fd, bytes + off, len - off);
    if (n < 0 && errno != EINTR)
      err = errno;
    off += n > 0 ? (size_t)n : 0;
  }
  if (close(fd) && !err)
    err = errno;
  if (!err && rename(tmp, path))
    err = errno;
  if (err) {
    unlink(tmp);
    return lhelp_fail(L, err, "%s: %s", path, strerror(err));
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int sys_geteuid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)geteuid());
  return 1;
}

/* core.symlink(target, path) -> true | nil, message, errno */
static int sys_symlink(lua_State *L)
{
  const char *target = luaL_checkstring(L, 1);
  const char *path = luaL_checkstring(L, 2);
  if (symlink(target, path))
    return lhelp_fail(L, errno, "%s: %s", path, strerror(errno));
  lua_pushboolean(L, 1);
  return 1;
}

/* core.hash(s) -> 16 hex digits of util_hash: names cache files (the
 * file itself holds the whole key, so a collision is only a miss). */
static int sys_hash(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)util_hash(UTIL_HASH_SEED, s, len));
  lua_pushstring(L, hex);
  return 1;
}

static const luaL_Reg sys_funcs[] = {
  { "stat", sys_stat },
  { "mkdirs", sys_mkdirs },
  { "hash", sys_hash },
  { "symlink", sys_symlink },
  { "write_file", sys_write_file },
  { "rmtree", sys_rmtree },
  { "geteuid", sys_geteuid },
  { "listdir", sys_listdir },
  { "monotime", sys_monotime },
  { "walltime", sys_walltime },
  { "sleep", sys_sleep },
  { "interrupted", sys_interrupted },
  { "ifindex", sys_ifindex },
  { "ifname", sys_ifname },
  { "kernel_release", sys_kernel_release },
  { "ncpus", sys_ncpus },
  { "tracefs", sys_tracefs },
  { "tracepoint_format", sys_tracepoint_format },
  { "getpid", sys_getpid },
  { "use_tracefs_events", sys_use_tracefs_events },
  { NULL, NULL },
};

void lsys_register(lua_State *L)
{
  luaL_setfuncs(L, sys_funcs, 0);
}
