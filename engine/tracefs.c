#include "tracefs.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#define TRACEFS_MAGIC_NUM 0x74726163
#define DEBUGFS_MAGIC_NUM 0x64626720

static int is_fs(const char *path, long magic)
{
  struct statfs st;
  return statfs(path, &st) == 0 && st.f_type == magic;
}

static int mount_if_missing(const char *type, const char *path, long magic, char *msg, unsigned len)
{
  if (is_fs(path, magic))
    return 0;
  if (mount(type, path, type, 0, NULL) && errno != EBUSY) {
    int err = errno;
    snprintf(msg, len, "mount %s on %s: %s", type, path, strerror(err));
    return -err;
  }
  return 0;
}

int tracefs_ensure(char *msg, unsigned msglen)
{
  int err = mount_if_missing("tracefs", "/sys/kernel/tracing", TRACEFS_MAGIC_NUM, msg, msglen);
  if (err)
    return err;
  /* BCC reads tracepoint formats under /sys/kernel/debug/tracing on some
   * versions; debugfs exposes tracefs there. Not fatal when absent. */
  char ignored[128];
  mount_if_missing("debugfs", "/sys/kernel/debug", DEBUGFS_MAGIC_NUM, ignored, sizeof ignored);
  return 0;
}

const char *tracefs_root(void)
{
  if (is_fs("/sys/kernel/tracing", TRACEFS_MAGIC_NUM))
    return "/sys/kernel/tracing";
  return "/sys/kernel/debug/tracing";
}

/* A private mount namespace, so the overlay is this process's alone and
 * goes away with it; then the copy over each events directory in use. */
int tracefs_use_events(const char *dir, char *msg, unsigned len)
{
  static const char *const roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
  int err = tracefs_ensure(msg, len);
  if (err)
    return err;
  if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
    err = errno;
    snprintf(msg, len, "private mount namespace: %s", strerror(err));
    return -err;
  }
  for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
    char events[64];
    snprintf(events, sizeof events, "%s/events", roots[i]);
    if (!is_fs(roots[i], TRACEFS_MAGIC_NUM))
      continue;
    if (mount(dir, events, NULL, MS_BIND, NULL)) {
      err = errno;
      snprintf(msg, len, "bind %s on %s: %s", dir, events, strerror(err));
      return -err;
    }
  }
  return 0;
}
