/* probe_events: names and clean-up of kprobe/uprobe events. BCC attaches
 * through the kprobe/uprobe PMU when the kernel has it (nothing to remove
 * later) and falls back to writing {k,u}probe_events (an entry that must
 * be removed, or it outlives us). */
#ifndef VNS_PROBE_EVENTS_H
#define VNS_PROBE_EVENTS_H

#include <stddef.h>

/* "vns_<pid>_<kind>_<sanitized target>" */
void probe_event_name(char *out, size_t len, char kind, const char *target);

/* Does <tracefs>/<file> list the event? ("kprobe_events", name) */
int probe_event_listed(const char *file, const char *event);

struct probe_link;

/* Close the link's fds, then remove its event from <tracefs>/<file> if
 * BCC had to create one there. */
void probe_event_detach(struct probe_link *link, const char *file, int (*remove)(const char *));

/* Does this kernel support the PMU or the tracefs interface for kind
 * ("kprobe" or "uprobe")? */
int probe_kind_supported(const char *kind);

#endif
