#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
  const char *word;
  enum cli_mode mode;
} commands[] = {
  { "--help", CLI_HELP },   { "-h", CLI_HELP },     { "help", CLI_HELP },
  { "--version", CLI_VERSION }, { "-V", CLI_VERSION },
  { "-e", CLI_EVAL },       { "run", CLI_RUN },     { "list", CLI_LIST },
  { "check", CLI_CHECK },   { "doctor", CLI_DOCTOR },
  { "compile", CLI_COMPILE }, { "cache", CLI_CACHE },
  { "serve", CLI_SERVE },
};

static const char *mode_names[] = {
  [CLI_HELP] = "help",   [CLI_VERSION] = "version", [CLI_EVAL] = "eval",
  [CLI_RUN] = "run",     [CLI_LIST] = "list",       [CLI_CHECK] = "check",
  [CLI_DOCTOR] = "doctor", [CLI_TOOL] = "tool",
  [CLI_COMPILE] = "compile", [CLI_CACHE] = "cache", [CLI_SERVE] = "serve",
};

const char *cli_mode_name(enum cli_mode mode)
{
  return mode_names[mode];
}

static enum cli_mode mode_of(const char *word)
{
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(word, commands[i].word) == 0)
      return commands[i].mode;
  return CLI_TOOL;
}

static int needs_target(enum cli_mode mode)
{
  return mode == CLI_EVAL || mode == CLI_RUN;
}

int cli_parse(int argc, char **argv, struct cli *out, char *err, unsigned errlen)
{
  memset(out, 0, sizeof *out);
  if (argc < 2) {
    out->mode = CLI_HELP;
    return 0;
  }
  const char *word = argv[1];
  out->mode = mode_of(word);
  int rest = 2;
  if (out->mode == CLI_TOOL) {
    if (word[0] == '-') {
      snprintf(err, errlen, "unknown option '%s' before the tool name (try 'vnetscope --help')", word);
      return -1;
    }
    out->target = word;
  } else if (needs_target(out->mode)) {
    if (argc < 3) {
      snprintf(err, errlen, "'%s' needs %s", word,
               out->mode == CLI_EVAL ? "Lua text, e.g. -e 'print(1)'" : "a script path, e.g. run ./my.lua");
      return -1;
    }
    out->target = argv[2];
    rest = 3;
  }
  out->argc = argc - rest;
  out->argv = argv + rest;
  return 0;
}
