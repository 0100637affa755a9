/* cli: the first word of the command line decides what runs.
 *   vnetscope TOOL [options]        a shipped tool, by name or alias
 *   vnetscope run FILE.lua [options]
 *   vnetscope -e 'LUA' [options]
 *   vnetscope list | check [TOOL...] | doctor
 *   vnetscope compile TOOL [options] -o FILE | cache {list,clear}
 *   vnetscope --version | --help
 * Everything after the command word belongs to the Lua side. */
#ifndef VNS_CLI_H
#define VNS_CLI_H

enum cli_mode {
  CLI_HELP,
  CLI_VERSION,
  CLI_EVAL,
  CLI_RUN,
  CLI_LIST,
  CLI_CHECK,
  CLI_DOCTOR,
  CLI_TOOL,
  CLI_COMPILE,
  CLI_CACHE,
  CLI_SERVE,
};

struct cli {
  enum cli_mode mode;
  const char *target;   /* tool name, script path or Lua text; NULL if none */
  int argc;             /* arguments for the Lua side */
  char **argv;
};

/* Returns 0, or -1 with a one-line message in err (exit status 2). */
int cli_parse(int argc, char **argv, struct cli *out, char *err, unsigned errlen);

const char *cli_mode_name(enum cli_mode mode);

#endif
