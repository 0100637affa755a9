/* lemit: events as text or JSON lines, in C (see lemit.h). */
#include "lemit.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "luatype.h"
#include "util.h"

#define OUT_SIZE (256 * 1024)
#define OUT_HIGH (OUT_SIZE - 16 * 1024) /* flush above this: a row fits in the rest */
#define MAX_COLS 64
#define MAX_HOOKS 8
#define MAX_KEY 128
#define CACHE_SLOTS 1024

enum col_as { AS_VALUE, AS_WALLTIME, AS_HEX };

struct col {
  char *key;
  const struct td_field *f;
  enum col_as as;
  int omit_empty;
};

/* One cached hook result: its JSON members, its text cells, its lines. */
struct entry {
  int used, skip;
  size_t klen;
  unsigned char key[MAX_KEY];
  char *json;          /* `"k":v,"k2":v2` or "" */
  char **cells;        /* per text column: the value, or NULL if not ours */
  char **lines;
  int nlines;
};

struct hook {
  int fn_ref, cache;
  int nfields;
  const struct td_field *fields[MAX_COLS];
  struct entry *slots; /* CACHE_SLOTS of them, or one without cache */
};

struct tcol {
  char *key;
  int width, right, gap; /* gap: spaces after the cell */
  int col;            /* index in cols, or -1: from a hook */
};

struct lemit {
  int json, fd;
  long long wall_offset_ns;
  int ncols, nhooks, ntext;
  struct col cols[MAX_COLS];
  struct hook hooks[MAX_HOOKS];
  struct tcol text[MAX_COLS];
  char *lines_key;
  struct entry *current[MAX_HOOKS];
  time_t clock_sec;   /* the second clock_text shows */
  char clock_text[16];
  size_t len;
  char out[OUT_SIZE];
};

/* ---- output buffer ---- */

void lemit_flush(struct lemit *e)
{
  size_t done = 0;
  while (done < e->len) {
    ssize_t n = write(e->fd, e->out + done, e->len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* a closed pipe: drop the rest rather than spin */
    done += (size_t)n;
  }
  e->len = 0;
}

static void put(struct lemit *e, const char *s, size_t n)
{
  if (e->len + n > OUT_SIZE)
    lemit_flush(e);
  if (n > OUT_SIZE) { /* a huge hook value: straight out */
    e->len = 0;
    if (write(e->fd, s, n) < 0) { /* nothing more to do */ }
    return;
  }
  memcpy(e->out + e->len, s, n);
  e->len += n;
}

static void puts_(struct lemit *e, const char *s) { put(e, s, strlen(s)); }
static void putc_(struct lemit *e, char c) { put(e, &c, 1); }

static void put_u64(struct lemit *e, uint64_t v)
{
  char b[24];
  int i = sizeof b;
  do {
    b[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put(e, b + i, sizeof b - i);
}

static void put_i64(struct lemit *e, int64_t v)
{
  if (v < 0) {
    putc_(e, '-');
    put_u64(e, (uint64_t)0 - (uint64_t)v);
  } else {
    put_u64(e, (uint64_t)v);
  }
}

static void pad(struct lemit *e, int n)
{
  static const char spaces[] = "                                ";
  while (n > 0) {
    int k = n > 32 ? 32 : n;
    put(e, spaces, (size_t)k);
    n -= k;
  }
}

/* ---- JSON text of Lua values (hook results, encoded once per cache miss) ---- */

static void json_string(luaL_Buffer *b, const char *s, size_t n)
{
  luaL_addchar(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      luaL_addchar(b, '\\');
      luaL_addchar(b, (char)c);
    } else if (c < 0x20) {
      char u[8];
      snprintf(u, sizeof u, "\\u%04x", c);
      luaL_addstring(b, u);
    } else {
      luaL_addchar(b, (char)c);
    }
  }
  luaL_addchar(b, '"');
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void json_value(lua_State *L, luaL_Buffer *b, int idx, int depth);

/* Object members, keys sorted (output stable line to line); no braces.
 * A hook's own keys starting with "_" are for text only (depth 0). */
static void json_members(lua_State *L, luaL_Buffer *b, int idx, int depth)
{
  const char *keys[64];
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING && n < 64 && (depth > 0 || lua_tostring(L, -1)[0] != '_'))
      keys[n++] = lua_tostring(L, -1); /* the table keeps the string */
  }
  qsort(keys, (size_t)n, sizeof keys[0], cmp_str);
  for (int i = 0; i < n; i++) {
    if (i)
      luaL_addchar(b, ',');
    json_string(b, keys[i], strlen(keys[i]));
    luaL_addchar(b, ':');
    lua_getfield(L, idx, keys[i]);
    json_value(L, b, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
}

static void json_value(lua_State *L, luaL_Buffer *b, int idx, int depth)
{
  char num[40];
  luaL_checkstack(L, 8, "JSON nested too deeply");
  if (depth > 16)
    luaL_error(L, "JSON nested too deeply");
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN: luaL_addstring(b, lua_toboolean(L, idx) ? "true" : "false"); break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
    } else {
      double d = lua_tonumber(L, idx);
      if (d != d || d - d != 0) {
        snprintf(num, sizeof num, "null");
      } else {
        for (int digits = 15; digits <= 17; digits++) {
          snprintf(num, sizeof num, "%.*g", digits, d);
          if (strtod(num, NULL) == d)
            break;
        }
      }
    }
    luaL_addstring(b, num);
    break;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    json_string(b, s, n);
    break;
  }
  case LUA_TTABLE: {
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    lua_pushnil(L);
    int empty = !lua_next(L, idx);
    if (!empty)
      lua_pop(L, 2);
    if (n > 0 || (empty && lua_getmetatable(L, idx) && (lua_pop(L, 1), 1))) {
      luaL_addchar(b, '[');
      for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1)
          luaL_addchar(b, ',');
        lua_rawgeti(L, idx, i);
        json_value(L, b, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
      }
      luaL_addchar(b, ']');
    } else {
      luaL_addchar(b, '{');
      json_members(L, b, idx, depth);
      luaL_addchar(b, '}');
    }
    break;
  }
  default: luaL_addstring(b, "null"); break;
  }
}

/* ---- compile ---- */

static const struct td_field *field_of(lua_State *L, const struct td_type *t, const char *name)
{
  for (size_t i = 0; i < t->nfields; i++)
    if (t->fields[i].name && strcmp(t->fields[i].name, name) == 0)
      return &t->fields[i];
  luaL_error(L, "events: the event has no field '%s'", name);
  return NULL;
}

static char *dup_field(lua_State *L, int t, const char *k)
{
  lua_getfield(L, t, k);
  const char *s = lua_tostring(L, -1);
  char *d = s ? strdup(s) : NULL;
  lua_pop(L, 1);
  return d;
}

static int bool_field(lua_State *L, int t, const char *k)
{
  lua_getfield(L, t, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static int list_len(lua_State *L, int t, const char *k, int max)
{
  lua_getfield(L, t, k);
  int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
  if (n > max)
    luaL_error(L, "events: more than %d %s", max, k);
  return n; /* the list stays on the stack */
}

static void compile_cols(lua_State *L, struct lemit *e, int spec, const struct td_type *ev)
{
  e->ncols = list_len(L, spec, "cols", MAX_COLS);
  int list = lua_gettop(L);
  for (int i = 0; i < e->ncols; i++) {
    lua_rawgeti(L, list, i + 1);
    int c = lua_gettop(L);
    struct col *col = &e->cols[i];
    col->key = dup_field(L, c, "key");
    char *field = dup_field(L, c, "field");
    char *as = dup_field(L, c, "as");
    col->omit_empty = bool_field(L, c, "omit_empty");
    col->as = !as ? AS_VALUE : strcmp(as, "walltime") == 0 ? AS_WALLTIME : strcmp(as, "hex") == 0 ? AS_HEX : AS_VALUE;
    free(as);
    if (!col->key || !field) {
      free(field);
      luaL_error(L, "events: column %d needs key and field", i + 1);
    }
    col->f = field_of(L, ev, field);
    free(field);
    enum td_kind k = col->f->type->kind;
    if (col->f->bit_size || (k != TD_INT && k != TD_UINT && k != TD_CHARS && k != TD_BOOL))
      luaL_error(L, "events: field '%s' is not an integer or char[N]: give it to a hook", col->key);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void compile_hooks(lua_State *L, struct lemit *e, int spec, const struct td_type *ev)
{
  e->nhooks = list_len(L, spec, "hooks", MAX_HOOKS);
  int list = lua_gettop(L);
  for (int i = 0; i < e->nhooks; i++) {
    lua_rawgeti(L, list, i + 1);
    int hk = lua_gettop(L);
    struct hook *h = &e->hooks[i];
    h->cache = bool_field(L, hk, "cache");
    h->nfields = list_len(L, hk, "fields", MAX_COLS);
    size_t klen = 0;
    for (int j = 0; j < h->nfields; j++) {
      lua_rawgeti(L, -1, j + 1);
      h->fields[j] = field_of(L, ev, luaL_checkstring(L, -1));
      klen += h->fields[j]->type->size;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (h->cache && klen > MAX_KEY)
      luaL_error(L, "events: hook %d reads %zu bytes, more than the %d a cache key holds", i + 1, klen, MAX_KEY);
    h->slots = calloc(h->cache ? CACHE_SLOTS : 1, sizeof *h->slots);
    lua_getfield(L, hk, "fn");
    luaL_checktype(L, -1, LUA_TFUNCTION);
    h->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void compile_text(lua_State *L, struct lemit *e, int spec)
{
  e->ntext = list_len(L, spec, "text", MAX_COLS);
  int list = lua_gettop(L);
  for (int i = 0; i < e->ntext; i++) {
    lua_rawgeti(L, list, i + 1);
    struct tcol *t = &e->text[i];
    t->key = dup_field(L, -1, "key");
    lua_getfield(L, -1, "width");
    t->width = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    t->right = bool_field(L, -1, "right");
    lua_getfield(L, -1, "gap");
    t->gap = (int)luaL_optinteger(L, -1, 1);
    lua_pop(L, 1);
    t->col = -1;
    for (int c = 0; t->key && c < e->ncols; c++)
      if (strcmp(e->cols[c].key, t->key) == 0)
        t->col = c;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

struct lemit *lemit_new(lua_State *L, int idx, const struct td_type *event)
{
  idx = lua_absindex(L, idx);
  if (!event || event->kind != TD_STRUCT)
    luaL_error(L, "events: the fast path needs the event's struct layout");
  struct lemit *e = calloc(1, sizeof *e);
  if (!e)
    luaL_error(L, "events: out of memory");
  e->json = bool_field(L, idx, "json");
  lua_getfield(L, idx, "fd");
  e->fd = (int)luaL_optinteger(L, -1, 1);
  lua_getfield(L, idx, "wall_offset_ns");
  e->wall_offset_ns = (long long)lua_tointeger(L, -1);
  lua_pop(L, 2);
  e->clock_sec = -1;
  /* A compile error leaks e: it ends the tool. */
  compile_cols(L, e, idx, event);
  compile_hooks(L, e, idx, event);
  compile_text(L, e, idx);
  e->lines_key = dup_field(L, idx, "lines");
  return e;
}

static void entry_clear(struct lemit *e, struct entry *en)
{
  free(en->json);
  if (en->cells)
    for (int i = 0; i < e->ntext; i++)
      free(en->cells[i]);
  free(en->cells);
  for (int i = 0; i < en->nlines; i++)
    free(en->lines[i]);
  free(en->lines);
  memset(en, 0, sizeof *en);
}

void lemit_free(lua_State *L, struct lemit *e)
{
  if (!e)
    return;
  lemit_flush(e);
  for (int i = 0; i < e->nhooks; i++) {
    struct hook *h = &e->hooks[i];
    for (int s = 0; h->slots && s < (h->cache ? CACHE_SLOTS : 1); s++)
      entry_clear(e, &h->slots[s]);
    free(h->slots);
    luaL_unref(L, LUA_REGISTRYINDEX, h->fn_ref);
  }
  for (int i = 0; i < e->ncols; i++)
    free(e->cols[i].key);
  for (int i = 0; i < e->ntext; i++)
    free(e->text[i].key);
  free(e->lines_key);
  free(e);
}

/* ---- per event ---- */

static char *text_of(lua_State *L, int idx)
{
  if (lua_isnil(L, idx))
    return NULL;
  if (lua_type(L, idx) == LUA_TBOOLEAN)
    return strdup(lua_toboolean(L, idx) ? "true" : "false");
  size_t n;
  const char *s = luaL_tolstring(L, idx, &n);
  char *d = strndup(s, n);
  lua_pop(L, 1);
  return d;
}

/* Runs under lua_pcall: call the hook with its fields, fill the entry. */
static int run_hook(lua_State *L)
{
  struct lemit *e = lua_touserdata(L, 1);
  struct hook *h = lua_touserdata(L, 2);
  const unsigned char *data = lua_touserdata(L, 3);
  struct entry *en = lua_touserdata(L, 4);
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->fn_ref);
  lua_createtable(L, 0, h->nfields);
  for (int j = 0; j < h->nfields; j++) {
    luatype_push(L, h->fields[j]->type, data + h->fields[j]->offset);
    lua_setfield(L, -2, h->fields[j]->name);
  }
  lua_call(L, 1, 1);
  int r = lua_gettop(L);
  if (!lua_toboolean(L, r)) {
    en->skip = 1;
    return 0;
  }
  luaL_checktype(L, r, LUA_TTABLE);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  json_members(L, &b, r, 0);
  luaL_pushresult(&b);
  en->json = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  en->cells = calloc((size_t)e->ntext + 1, sizeof *en->cells);
  for (int i = 0; i < e->ntext; i++) {
    if (e->text[i].col >= 0 || !e->text[i].key)
      continue;
    lua_getfield(L, r, e->text[i].key);
    en->cells[i] = text_of(L, lua_gettop(L));
    lua_pop(L, 1);
  }
  if (e->lines_key && lua_getfield(L, r, e->lines_key) == LUA_TTABLE) {
    int n = (int)lua_rawlen(L, -1);
    en->lines = calloc((size_t)n + 1, sizeof *en->lines);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, -1, i + 1);
      en->lines[en->nlines++] = text_of(L, lua_gettop(L));
      lua_pop(L, 1);
    }
  }
  return 0;
}

/* The hook's result for this event: from the cache, or computed now. */
static struct entry *hook_result(struct lemit *e, lua_State *L, struct hook *h, const unsigned char *data, int *err)
{
  unsigned char key[MAX_KEY];
  size_t klen = 0;
  struct entry *en = &h->slots[0];
  if (h->cache) {
    for (int j = 0; j < h->nfields; j++) {
      memcpy(key + klen, data + h->fields[j]->offset, h->fields[j]->type->size);
      klen += h->fields[j]->type->size;
    }
    en = &h->slots[util_hash(UTIL_HASH_SEED, key, klen) % CACHE_SLOTS];
    if (en->used && en->klen == klen && memcmp(en->key, key, klen) == 0)
      return en;
  }
  entry_clear(e, en);
  lua_pushcfunction(L, run_hook);
  lua_pushlightuserdata(L, e);
  lua_pushlightuserdata(L, h);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushlightuserdata(L, en);
  if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
    entry_clear(e, en);
    *err = 1;
    return NULL;
  }
  en->used = 1;
  en->klen = klen;
  memcpy(en->key, key, klen);
  return en;
}

static void json_chars(struct lemit *e, const char *s, size_t n)
{
  putc_(e, '"');
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    put(e, s + start, i - start);
    char u[8];
    if (c == '"' || c == '\\')
      snprintf(u, sizeof u, "\\%c", c);
    else
      snprintf(u, sizeof u, "\\u%04x", c);
    puts_(e, u);
    start = i + 1;
  }
  put(e, s + start, n - start);
  putc_(e, '"');
}

/* Is a column empty (omitted in JSON, "-" in text)? */
static int col_empty(const struct col *c, const unsigned char *data)
{
  return c->omit_empty && c->f->type->kind == TD_CHARS && data[c->f->offset] == 0;
}

static void json_col(struct lemit *e, const struct col *c, const unsigned char *data)
{
  const struct td_type *t = c->f->type;
  const unsigned char *p = data + c->f->offset;
  if (c->as == AS_HEX && t->kind != TD_CHARS) {
    char hex[24];
    putc_(e, '"');
    put(e, hex, (size_t)snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)luatype_load(p, t->size)));
    putc_(e, '"');
    return;
  }
  if (c->as == AS_WALLTIME) {
    long long ns = (long long)luatype_load(p, 8) + e->wall_offset_ns;
    put_i64(e, ns / 1000000000);
    char frac[16];
    snprintf(frac, sizeof frac, ".%06lld", (ns % 1000000000) / 1000);
    puts_(e, frac);
    return;
  }
  switch (t->kind) {
  case TD_CHARS: json_chars(e, (const char *)p, strnlen((const char *)p, t->count)); break;
  case TD_BOOL: puts_(e, luatype_load(p, t->size) ? "true" : "false"); break;
  case TD_INT: put_i64(e, luatype_sext(luatype_load(p, t->size), t->size * 8)); break;
  default: put_u64(e, luatype_load(p, t->size)); break;
  }
}

static void text_clock(struct lemit *e, const unsigned char *p)
{
  long long ns = (long long)luatype_load(p, 8) + e->wall_offset_ns;
  time_t sec = (time_t)(ns / 1000000000);
  if (sec != e->clock_sec) { /* localtime once a second, not per event */
    struct tm tm;
    localtime_r(&sec, &tm);
    strftime(e->clock_text, sizeof e->clock_text, "%H:%M:%S", &tm);
    e->clock_sec = sec;
  }
  char frac[16];
  snprintf(frac, sizeof frac, ".%06lld", (ns % 1000000000) / 1000);
  puts_(e, e->clock_text);
  puts_(e, frac);
}

/* One text cell, padded to its width (the last column is not padded). */
static void text_cell(struct lemit *e, int i, const unsigned char *data)
{
  const struct tcol *t = &e->text[i];
  int last = i == e->ntext - 1;
  size_t before = e->len;
  char num[24];
  const char *s = "-";
  size_t n = 1;
  if (t->col >= 0 && !col_empty(&e->cols[t->col], data)) {
    const struct col *c = &e->cols[t->col];
    const unsigned char *p = data + c->f->offset;
    if (c->as == AS_WALLTIME) {
      s = NULL;
    } else if (c->as == AS_HEX && c->f->type->kind != TD_CHARS) {
      n = (size_t)snprintf(num, sizeof num, "0x%llx", (unsigned long long)luatype_load(p, c->f->type->size));
      s = num;
    } else if (c->f->type->kind == TD_CHARS) {
      s = (const char *)p;
      n = strnlen(s, c->f->type->count);
    } else if (c->f->type->kind == TD_INT) {
      n = (size_t)snprintf(num, sizeof num, "%lld", (long long)luatype_sext(luatype_load(p, c->f->type->size), c->f->type->size * 8));
      s = num;
    } else {
      n = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)luatype_load(p, c->f->type->size));
      s = num;
    }
  } else if (t->col < 0) {
    for (int h = 0; h < e->nhooks; h++) {
      struct entry *en = e->current[h];
      if (en && en->cells && en->cells[i]) {
        s = en->cells[i];
        n = strlen(s);
        break;
      }
    }
  }
  int w = t->width;
  if (s == NULL) { /* the clock */
    text_clock(e, data + e->cols[t->col].f->offset);
    if (!last)
      pad(e, w - (int)(e->len - before));
  } else {
    if (t->right)
      pad(e, w - (int)n);
    put(e, s, n);
    if (!t->right && !last)
      pad(e, w - (int)n);
  }
  if (last)
    putc_(e, '\n');
  else
    pad(e, t->gap);
}

int lemit_event(struct lemit *e, lua_State *L, const void *raw, size_t size)
{
  (void)size;
  const unsigned char *data = raw;
  int err = 0;
  for (int h = 0; h < e->nhooks; h++) {
    e->current[h] = hook_result(e, L, &e->hooks[h], data, &err);
    if (err)
      return -1;
    if (e->current[h]->skip)
      return 0;
  }
  if (e->json) {
    puts_(e, "{\"type\":\"event\"");
    for (int i = 0; i < e->ncols; i++) {
      const struct col *c = &e->cols[i];
      if (col_empty(c, data))
        continue;
      putc_(e, ',');
      putc_(e, '"');
      puts_(e, c->key);
      puts_(e, "\":");
      json_col(e, c, data);
    }
    for (int h = 0; h < e->nhooks; h++) {
      const char *j = e->current[h]->json;
      if (j && *j) {
        putc_(e, ',');
        puts_(e, j);
      }
    }
    puts_(e, "}\n");
  } else {
    for (int i = 0; i < e->ntext; i++)
      text_cell(e, i, data);
    for (int h = 0; h < e->nhooks; h++) {
      struct entry *en = e->current[h];
      for (int l = 0; l < en->nlines; l++) {
        puts_(e, "    ");
        puts_(e, en->lines[l]);
        putc_(e, '\n');
      }
    }
  }
  if (e->len > OUT_HIGH)
    lemit_flush(e);
  return 1;
}
