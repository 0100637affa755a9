#include "kconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

/* Option names are C identifiers; anything else would break autoconf.h. */
static int kconfig_valid_name(const char *name)
{
  if (strncmp(name, "CONFIG_", 7) != 0 || !name[7])
    return 0;
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_')
      return 0;
  return 1;
}

static void kconfig_chomp(char *line)
{
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
}

/* One "CONFIG_X=value" line; the value is everything after the first '='
 * (strings may hold '=' and spaces). Returns 1 if a macro was written. */
static int kconfig_line(char *line, FILE *out)
{
  char *eq = strchr(line, '=');
  if (!eq || !eq[1])
    return 0;
  *eq = '\0';
  const char *name = line, *value = eq + 1;
  if (!kconfig_valid_name(name))
    return 0;
  if (strcmp(value, "y") == 0)
    fprintf(out, "#define %s 1\n", name);
  else if (strcmp(value, "m") == 0)
    fprintf(out, "#define %s_MODULE 1\n", name);
  else
    fprintf(out, "#define %s %s\n", name, value);
  return 1;
}

int kconfig_to_autoconf(FILE *in, FILE *out)
{
  char *line = NULL;
  size_t cap = 0;
  int count = 0;
  while (getline(&line, &cap, in) >= 0) {
    kconfig_chomp(line);
    count += kconfig_line(line, out);
  }
  int bad = ferror(in) || ferror(out);
  free(line);
  return bad ? -1 : count;
}

/* Decompress a gzip file into an anonymous stream the caller reads as
 * plain text; tmpfile() keeps no name on disk. */
static FILE *kconfig_gunzip(const char *path)
{
  gzFile gz = gzopen(path, "rb");
  if (!gz)
    return NULL;
  FILE *f = tmpfile();
  char buf[16384];
  int n = 0;
  while (f && (n = gzread(gz, buf, sizeof buf)) > 0)
    if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
      n = -1;
  gzclose(gz);
  if (f && n < 0) {
    fclose(f);
    errno = EIO;
    return NULL;
  }
  if (f)
    rewind(f);
  return f;
}

FILE *kconfig_open(const char *release, const char **source)
{
  static const char proc_path[] = "/proc/config.gz";
  static char boot_path[512];
  struct utsname uts;
  FILE *f = kconfig_gunzip(proc_path);
  if (f) {
    if (source)
      *source = proc_path;
    return f;
  }
  if (!release && uname(&uts) == 0)
    release = uts.release;
  snprintf(boot_path, sizeof boot_path, "/boot/config-%s", release ? release : "");
  f = fopen(boot_path, "r");
  if (f && source)
    *source = boot_path;
  return f;
}
