/* kconfig: the kernel config text becomes autoconf.h macros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kconfig.h"

static const char fixture[] =
    "#\n"
    "# Automatically generated file; DO NOT EDIT.\n"
    "#\n"
    "CONFIG_CC_VERSION_TEXT=\"gcc (Debian 12.2.0-14) 12.2.0\"\n"
    "\n"
    "CONFIG_BPF_SYSCALL=y\n"
    "CONFIG_NET_SCH_FQ=m\n"
    "# CONFIG_DEBUG_KERNEL is not set\n"
    "CONFIG_NR_CPUS=64\n"
    "CONFIG_PHYSICAL_START=0x1000000\n"
    "CONFIG_CMDLINE=\"console=ttyS0 root=/dev/vda a=b\"\n"
    "CONFIG_EMPTY=\n"
    "NOT_A_CONFIG=y\n"
    "CONFIG_LAST_NO_NEWLINE=y";

/* Run the converter over text; returns the malloc'd output. */
static char *convert(const char *text, int *count)
{
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(in);
  assert_non_null(out);
  *count = kconfig_to_autoconf(in, out);
  fclose(in);
  fclose(out);
  return buf;
}

static void test_values(void **state)
{
  int n;
  char *out = convert(fixture, &n);
  assert_non_null(strstr(out, "#define CONFIG_BPF_SYSCALL 1\n"));
  assert_non_null(strstr(out, "#define CONFIG_NET_SCH_FQ_MODULE 1\n"));
  assert_null(strstr(out, "#define CONFIG_NET_SCH_FQ 1"));
  assert_non_null(strstr(out, "#define CONFIG_NR_CPUS 64\n"));
  assert_non_null(strstr(out, "#define CONFIG_PHYSICAL_START 0x1000000\n"));
  assert_non_null(strstr(out, "#define CONFIG_LAST_NO_NEWLINE 1\n"));
  free(out);
}

static void test_quoted_strings(void **state)
{
  int n;
  char *out = convert(fixture, &n);
  assert_non_null(strstr(out, "#define CONFIG_CC_VERSION_TEXT \"gcc (Debian 12.2.0-14) 12.2.0\"\n"));
  assert_non_null(strstr(out, "#define CONFIG_CMDLINE \"console=ttyS0 root=/dev/vda a=b\"\n"));
  free(out);
}

static void test_skipped_lines(void **state)
{
  int n;
  char *out = convert(fixture, &n);
  assert_int_equal(n, 7);
  assert_null(strstr(out, "DEBUG_KERNEL"));
  assert_null(strstr(out, "NOT_A_CONFIG"));
  assert_null(strstr(out, "CONFIG_EMPTY"));
  assert_null(strstr(out, "Automatically"));
  free(out);
}

static void test_empty_input(void **state)
{
  int n;
  char *out = convert("", &n);
  assert_int_equal(n, 0);
  assert_string_equal(out, "");
  free(out);
}

/* The running kernel's config, when it has one, reads as plain text. */
static void test_open_running(void **state)
{
  const char *source = NULL;
  FILE *f = kconfig_open(NULL, &source);
  if (!f)
    skip();
  assert_non_null(source);
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  int n = kconfig_to_autoconf(f, out);
  fclose(f);
  fclose(out);
  assert_true(n > 100);
  assert_non_null(strstr(buf, "#define CONFIG_"));
  free(buf);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_quoted_strings),
      cmocka_unit_test(test_skipped_lines),
      cmocka_unit_test(test_empty_input),
      cmocka_unit_test(test_open_running),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
