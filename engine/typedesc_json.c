#include "typedesc_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cx_err(struct td_cx *cx, const char *fmt, ...)
{
  va_list ap;
  if (!cx->err || !cx->errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(cx->err, cx->errlen, fmt, ap);
  va_end(ap);
}

void jv_free(struct jv *v)
{
  for (size_t i = 0; i < v->n; i++)
    jv_free(&v->items[i]);
  free(v->items);
  free(v->str);
}

static int jp_fail(struct td_cx *cx, const char *what)
{
  cx_err(cx, "malformed type description: %s at offset %zu", what,
         (size_t)(cx->p - cx->src));
  return -1;
}

static void jp_skip(struct td_cx *cx)
{
  while (isspace((unsigned char)*cx->p))
    cx->p++;
}

/* BCC's strings are C identifiers and type spellings: no escapes. */
static int jp_string(struct td_cx *cx, struct jv *v)
{
  const char *end = strchr(++cx->p, '"');
  if (!end)
    return jp_fail(cx, "unterminated string");
  v->kind = JV_STR;
  v->str = strndup(cx->p, end - cx->p);
  if (!v->str)
    return jp_fail(cx, "out of memory");
  cx->p = end + 1;
  return 0;
}

static int jp_number(struct td_cx *cx, struct jv *v)
{
  char *end;
  errno = 0;
  v->num = strtoll(cx->p, &end, 10);
  if (end == cx->p || errno)
    return jp_fail(cx, "bad number");
  v->kind = JV_INT;
  cx->p = end;
  return 0;
}

static int jp_value(struct td_cx *cx, struct jv *v);

static int jp_list(struct td_cx *cx, struct jv *v)
{
  struct jv *items;
  v->kind = JV_LIST;
  cx->p++;
  jp_skip(cx);
  if (*cx->p == ']')
    return cx->p++, 0;
  for (;;) {
    items = realloc(v->items, (v->n + 1) * sizeof(*items));
    if (!items)
      return jp_fail(cx, "out of memory");
    v->items = items;
    memset(&items[v->n], 0, sizeof(*items));
    if (jp_value(cx, &items[v->n++]) < 0)
      return -1;
    jp_skip(cx);
    if (*cx->p == ']')
      return cx->p++, 0;
    if (*cx->p != ',')
      return jp_fail(cx, "expected ',' or ']'");
    cx->p++;
  }
}

static int jp_value(struct td_cx *cx, struct jv *v)
{
  int rc;
  jp_skip(cx);
  if (*cx->p == '"')
    return jp_string(cx, v);
  if (*cx->p == '-' || isdigit((unsigned char)*cx->p))
    return jp_number(cx, v);
  if (*cx->p != '[')
    return jp_fail(cx, *cx->p ? "unexpected character" : "unexpected end");
  if (++cx->depth > TD_MAX_DEPTH)
    return jp_fail(cx, "nesting too deep");
  rc = jp_list(cx, v);
  cx->depth--;
  return rc;
}

int jv_parse(struct td_cx *cx, struct jv *v)
{
  if (jp_value(cx, v) < 0)
    return -1;
  jp_skip(cx);
  return *cx->p ? jp_fail(cx, "trailing characters") : 0;
}
