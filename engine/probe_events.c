#include "probe_events.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "tracefs.h"
#include "util.h"

void probe_event_name(char *out, size_t len, char kind, const char *target)
{
  int n = snprintf(out, len, "vns_%d_%c_", (int)getpid(), kind);
  for (const char *s = target; *s && n + 1 < (int)len; s++)
    out[n++] = isalnum((unsigned char)*s) ? *s : '_';
  out[n < (int)len ? n : (int)len - 1] = '\0';
}

int probe_event_listed(const char *file, const char *event)
{
  char path[256];
  snprintf(path, sizeof path, "%s/%s", tracefs_root(), file);
  char *text = util_read_file(path, NULL);
  int found = text && strstr(text, event) != NULL;
  free(text);
  return found;
}

void probe_event_detach(struct probe_link *link, const char *file, int (*remove)(const char *))
{
  probe_close_fds(link);
  if (link->event[0] && probe_event_listed(file, link->event))
    remove(link->event);
  link->event[0] = '\0';
}

int probe_kind_supported(const char *kind)
{
  char path[256], msg[128];
  snprintf(path, sizeof path, "/sys/bus/event_source/devices/%s/type", kind);
  if (util_exists(path))
    return 1;
  tracefs_ensure(msg, sizeof msg);
  snprintf(path, sizeof path, "%s/%s_events", tracefs_root(), kind);
  return util_exists(path);
}
