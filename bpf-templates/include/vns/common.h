/* vns/common.h: what every vnetscope program may use, in both header
 * worlds (real kernel headers, or the tree generated from BTF, where
 * every kernel type is already declared and these includes are stubs). */
#ifndef VNS_COMMON_H
#define VNS_COMMON_H

#include <linux/skbuff.h>
#include <linux/netdevice.h>

/* bpf_probe_read works from 4.1 on; the _kernel variant needs 5.5. */
#ifndef vns_read
#define vns_read bpf_probe_read
#endif

#endif
