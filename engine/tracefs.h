/* tracefs: make sure tracefs (and debugfs, where older BCC looks) are
 * mounted; boot may leave them unmounted. */
#ifndef VNS_TRACEFS_H
#define VNS_TRACEFS_H

/* Mount what is missing. Returns 0 or -errno with msg filled. */
int tracefs_ensure(char *msg, unsigned msglen);

/* The tracefs root in use ("/sys/kernel/tracing" or the debugfs one). */
const char *tracefs_root(void);

#endif
