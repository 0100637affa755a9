/* tracefs: make sure tracefs (and debugfs, where older BCC looks) are
 * mounted; boot may leave them unmounted. */
#ifndef VNS_TRACEFS_H
#define VNS_TRACEFS_H

/* Mount what is missing. Returns 0 or -errno with msg filled. */
int tracefs_ensure(char *msg, unsigned msglen);

/* The tracefs root in use ("/sys/kernel/tracing" or the debugfs one). */
const char *tracefs_root(void);

/* Read tracepoint formats from dir (a copy of another kernel's
 * tracefs events/) from now on, in this process only: vnetscope compile
 * for another kernel. Returns 0 or -errno with msg filled. */
int tracefs_use_events(const char *dir, char *msg, unsigned len);

#endif
