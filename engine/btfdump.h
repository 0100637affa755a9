/* btfdump: write a vmlinux.h of every type in a BTF blob, as C. */
#ifndef VNS_BTFDUMP_H
#define VNS_BTFDUMP_H

#include <stdio.h>

/* Dump all types of the BTF at path (e.g. /sys/kernel/btf/vmlinux) to
 * out. Returns 0 or a negative errno. */
int btfdump_write(const char *btf_path, FILE *out);

#endif
