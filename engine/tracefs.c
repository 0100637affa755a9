#include "tracefs.h"

#include <errno.h>
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
