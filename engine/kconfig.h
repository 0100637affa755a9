/* kconfig: the kernel's build configuration as C macros.
 * Reads /proc/config.gz or /boot/config-RELEASE and writes the
 * autoconf.h the BTF header tree needs (CONFIG_X=y -> #define CONFIG_X 1,
 * =m -> CONFIG_X_MODULE 1, strings and numbers kept as they are). */
#ifndef VNS_KCONFIG_H
#define VNS_KCONFIG_H

#include <stdio.h>

/* Convert one config text (possibly from a gzip stream) to autoconf
 * lines written to out. Returns the number of options, or -1. */
int kconfig_to_autoconf(FILE *in, FILE *out);

/* Open the running kernel's config: /proc/config.gz, then
 * /boot/config-<release>. Returns a readable stream of plain text
 * (decompressed) or NULL; *source names the file used. */
FILE *kconfig_open(const char *release, const char **source);

#endif
