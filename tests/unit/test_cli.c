/* CLI: the command word picks the mode; the rest goes to Lua untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli.h"

#define ARGV(...) ((char *[]){ "vnetscope", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vnetscope", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(out, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), out, err, sizeof err)

static void no_arguments_is_help(void **state)
{
  struct cli c;
  char err[128];
  char *argv[] = { "vnetscope", NULL };
  assert_int_equal(cli_parse(1, argv, &c, err, sizeof err), 0);
  assert_int_equal(c.mode, CLI_HELP);
}

static void tool_name_keeps_its_arguments(void **state)
{
  struct cli c;
  char err[128];
  assert_int_equal(PARSE(&c, err, "drop-summary", "-i", "5", "--dev", "eth0"), 0);
  assert_int_equal(c.mode, CLI_TOOL);
  assert_string_equal(c.target, "drop-summary");
  assert_int_equal(c.argc, 4);
  assert_string_equal(c.argv[0], "-i");
  assert_string_equal(c.argv[3], "eth0");
}

static void command_words(void **state)
{
  struct cli c;
  char err[128];
  assert_int_equal(PARSE(&c, err, "list"), 0);
  assert_int_equal(c.mode, CLI_LIST);
  assert_int_equal(PARSE(&c, err, "doctor"), 0);
  assert_int_equal(c.mode, CLI_DOCTOR);
  assert_int_equal(PARSE(&c, err, "--version"), 0);
  assert_int_equal(c.mode, CLI_VERSION);
  assert_int_equal(PARSE(&c, err, "--help"), 0);
  assert_int_equal(c.mode, CLI_HELP);
  assert_int_equal(PARSE(&c, err, "check", "drop-summary", "other"), 0);
  assert_int_equal(c.mode, CLI_CHECK);
  assert_null(c.target);
  assert_int_equal(c.argc, 2);
  assert_string_equal(c.argv[1], "other");
  assert_int_equal(PARSE(&c, err, "compile", "drop-summary", "-o", "x.pack"), 0);
  assert_int_equal(c.mode, CLI_COMPILE);
  assert_null(c.target);
  assert_int_equal(c.argc, 3);
  assert_string_equal(c.argv[0], "drop-summary");
  assert_int_equal(PARSE(&c, err, "cache", "list"), 0);
  assert_int_equal(c.mode, CLI_CACHE);
  assert_int_equal(c.argc, 1);
  assert_string_equal(cli_mode_name(CLI_COMPILE), "compile");
  assert_string_equal(cli_mode_name(CLI_CACHE), "cache");
  assert_int_equal(PARSE(&c, err, "serve", "exporter.conf"), 0);
  assert_int_equal(c.mode, CLI_SERVE);
  assert_string_equal(cli_mode_name(CLI_SERVE), "serve");
}

static void run_and_eval_take_a_target(void **state)
{
  struct cli c;
  char err[128];
  assert_int_equal(PARSE(&c, err, "run", "./my.lua", "--port", "80"), 0);
  assert_int_equal(c.mode, CLI_RUN);
  assert_string_equal(c.target, "./my.lua");
  assert_int_equal(c.argc, 2);
  assert_int_equal(PARSE(&c, err, "-e", "print(1)"), 0);
  assert_int_equal(c.mode, CLI_EVAL);
  assert_string_equal(c.target, "print(1)");
  assert_int_equal(c.argc, 0);
}

static void missing_target_is_an_error(void **state)
{
  struct cli c;
  char err[128];
  assert_int_equal(PARSE(&c, err, "run"), -1);
  assert_non_null(strstr(err, "script path"));
  assert_int_equal(PARSE(&c, err, "-e"), -1);
  assert_non_null(strstr(err, "Lua text"));
}

static void unknown_leading_option_is_an_error(void **state)
{
  struct cli c;
  char err[128];
  assert_int_equal(PARSE(&c, err, "--frobnicate"), -1);
  assert_non_null(strstr(err, "--frobnicate"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(no_arguments_is_help),
    cmocka_unit_test(tool_name_keeps_its_arguments),
    cmocka_unit_test(command_words),
    cmocka_unit_test(run_and_eval_take_a_target),
    cmocka_unit_test(missing_target_is_an_error),
    cmocka_unit_test(unknown_leading_option_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
