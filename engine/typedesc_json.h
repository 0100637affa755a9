/* typedesc_json: the JSON subset BCC writes its type descriptions in
 * (strings without escapes, integers, lists), parsed into a value tree
 * that typedesc.c lays out. Internal to typedesc. */
#ifndef VNS_TYPEDESC_JSON_H
#define VNS_TYPEDESC_JSON_H

#include <stddef.h>

#define TD_MAX_DEPTH 32            /* list nesting; bounds the recursion */

enum jv_kind { JV_STR, JV_INT, JV_LIST };

struct jv {
  enum jv_kind kind;
  char *str;
  long long num;
  struct jv *items;
  size_t n;
};

struct td_cx {
  const char *src, *p;
  char *err;
  size_t errlen;
  int depth;
  int noted;                       /* err already names the failing field */
};

/* Write a message to cx->err (if any). */
void cx_err(struct td_cx *cx, const char *fmt, ...);

/* Parse the whole of cx->p into v; -1 with cx->err filled on failure. */
int jv_parse(struct td_cx *cx, struct jv *v);
void jv_free(struct jv *v);

#endif
