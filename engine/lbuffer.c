/* lbuffer: perf buffers and ring buffers delivering decoded events to
 * Lua callbacks, all waited on by one epoll together with the stop
 * signal.
 *   mod:perf_buffer(map, fn [, {pages = 64, wakeup = 1, type = desc, emit = spec}]) -> buffer
 *   mod:ring_buffer(map, fn [, {type = desc, emit = spec}]) -> buffer
 *   core.poll(timeout_ms) -> events delivered (raises the first callback error)
 *   buffer:lost(), buffer:received(), buffer:emitted(), buffer:flush(), buffer:close()
 * With emit (lemit.h: the fast path), events are written as text or JSON
 * by C, fn may be nil, and every poll flushes the output once. wakeup:
 * perf records per wakeup (the kernel wakes the reader only after that
 * many; poll timeouts read the rest). Ring buffers wake the reader only
 * when it has caught up, which batches by itself under load.
 * Callbacks run in protected mode; an error stops delivery on that buffer
 * and is raised by poll once libbcc's reader has returned. */
#include <bcc/libbpf.h>
#include <bcc/perf_reader.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lhandles.h"
#include "lhelp.h"
#include "lemit.h"
#include "luatype.h"
#include "signals.h"
#include "util.h"

#define BUFFER_MT "vns.buffer"
#define MAX_CPUS 1024
#define MAX_FIELDS 64

enum buffer_kind { BUFFER_PERF, BUFFER_RING };

struct vns_buffer {
  enum buffer_kind kind;
  lua_State *L;             /* the thread inside core.poll */
  int self_ref, cb_ref, err_ref;
  struct td_type *event;    /* NULL: events come as byte strings */
  struct lemit *emit;       /* the fast path, or NULL: events go to cb */
  int nreaders;
  struct perf_reader *readers[MAX_CPUS];
  struct ring_buffer *ring;
  long long lost, received, emitted, delivered_this_poll;
  char name[64];
  int open;
  int batched;              /* perf records per wakeup > 1: drained at poll timeouts too */
};

/* Open buffers that wake the reader per batch: their last records are read
 * when a poll times out, or with timeout 0 (the final drain). */
#define MAX_BATCHED 64
static struct vns_buffer *batched[MAX_BATCHED];

static int epoll_fd = -1;

static int poller(void)
{
  if (epoll_fd >= 0)
    return epoll_fd;
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, signals_wake_fd(), &ev);
  return epoll_fd;
}

/* Runs under lua_pcall: decode and call the user's function. */
static int deliver(lua_State *L)
{
  struct vns_buffer *b = lua_touserdata(L, 1);
  const void *data = lua_touserdata(L, 2);
  lua_Integer size = lua_tointeger(L, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->cb_ref);
  if (b->event && (size_t)size >= b->event->size)
    luatype_push(L, b->event, data);
  else
    lua_pushlstring(L, data, (size_t)size);
  lua_pushinteger(L, size);
  lua_call(L, 2, 0);
  return 0;
}

static void on_event(struct vns_buffer *b, void *data, int size)
{
  if (b->err_ref != LUA_NOREF || !b->L)
    return;
  lua_State *L = b->L;
  b->received++;
  b->delivered_this_poll++;
  if (b->emit) {
    int r = lemit_event(b->emit, L, data, (size_t)size);
    if (r < 0)
      b->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
      b->emitted += r;
    return;
  }
  lua_pushcfunction(L, deliver);
  lua_pushlightuserdata(L, b);
  lua_pushlightuserdata(L, data);
  lua_pushinteger(L, size);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK)
    b->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void on_perf_raw(void *cookie, void *raw, int size)
{
  on_event(cookie, raw, size);
}

static void on_perf_lost(void *cookie, uint64_t lost)
{
  ((struct vns_buffer *)cookie)->lost += (long long)lost;
}

static int on_ring_sample(void *ctx, void *data, size_t size)
{
  on_event(ctx, data, (int)size);
  return 0;
}

static void buffer_close(lua_State *L, struct vns_buffer *b)
{
  if (!b->open)
    return;
  b->open = 0;
  for (int i = 0; i < MAX_BATCHED; i++)
    if (batched[i] == b)
      batched[i] = NULL;
  for (int i = 0; i < b->nreaders; i++) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, perf_reader_fd(b->readers[i]), NULL);
    perf_reader_free(b->readers[i]);
  }
  b->nreaders = 0;
  if (b->ring) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, ring_buffer__epoll_fd(b->ring), NULL);
    bpf_free_ringbuf(b->ring);
    b->ring = NULL;
  }
  lemit_free(L, b->emit);
  b->emit = NULL;
  td_free(b->event);
  b->event = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, b->cb_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, b->err_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, b->self_ref);
  b->cb_ref = b->err_ref = b->self_ref = LUA_NOREF;
}

static int buffer_release(lua_State *L)
{
  buffer_close(L, luaL_checkudata(L, 1, BUFFER_MT));
  return 0;
}

/* The event layout: opts.type (a BCC description) or what BCC learned
 * from the program's perf_submit()/ringbuf_output() calls. */
static struct td_type *event_type(lua_State *L, struct vns_module *m, const char *map, int opts)
{
  char err[256];
  if (opts && lua_getfield(L, opts, "type") == LUA_TSTRING) {
    struct td_type *t = td_parse(lua_tostring(L, -1), 0, err, sizeof err);
    if (!t)
      luaL_error(L, "event type for %s: %s", map, err);
    lua_pop(L, 1);
    return t;
  }
  if (opts)
    lua_pop(L, 1);
  int id = lmodule_map_index(m, map);
  const struct pack_map *pm = id >= 0 ? &m->pack.maps[id] : NULL;
  if (!pm || pm->nfields == 0 || pm->nfields > MAX_FIELDS)
    return NULL;
  struct td_type *t = td_from_fields((const char *const *)pm->fields, pm->nfields, err, sizeof err);
  if (!t)
    luaL_error(L, "event type for %s: %s", map, err);
  return t;
}

/* The fast path, when opts.emit gives its spec. */
static void emit_setup(lua_State *L, struct vns_buffer *b, int opts)
{
  if (!opts || lua_getfield(L, opts, "emit") != LUA_TTABLE) {
    if (opts)
      lua_pop(L, 1);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    return;
  }
  b->emit = lemit_new(L, -1, b->event);
  lua_pop(L, 1);
}

static struct vns_buffer *buffer_new(lua_State *L, enum buffer_kind kind, const char *map)
{
  struct vns_buffer *b = lua_newuserdatauv(L, sizeof *b, 1);
  memset(b, 0, sizeof *b);
  b->kind = kind;
  b->cb_ref = b->err_ref = b->self_ref = LUA_NOREF;
  snprintf(b->name, sizeof b->name, "%s", map);
  luaL_setmetatable(L, BUFFER_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the module owns the map */
  return b;
}

static void buffer_activate(lua_State *L, struct vns_buffer *b)
{
  lua_pushvalue(L, 3);
  b->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  b->self_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* open buffers stay alive */
  b->open = 1;
}

static void watch(int fd, struct vns_buffer *b)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = b };
  epoll_ctl(poller(), EPOLL_CTL_ADD, fd, &ev);
}

/* Another fd for the same wait (lhttp's listening socket): a poll returns
 * when it is readable and delivers nothing for it. */
void lbuffer_watch_fd(int fd)
{
  watch(fd, NULL);
}

int lbuffer_perf_buffer(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *map = luaL_checkstring(L, 2);
  int opts = lua_istable(L, 4) ? 4 : 0;
  int pages = 64, wakeup = 1;
  if (opts) {
    lua_getfield(L, opts, "pages");
    pages = (int)luaL_optinteger(L, -1, 64);
    lua_getfield(L, opts, "wakeup");
    wakeup = (int)luaL_optinteger(L, -1, 1);
    lua_pop(L, 2);
  }
  int id = lmodule_map_index(m, map);
  int map_fd = id >= 0 ? m->map_fds[id] : -1;
  if (map_fd < 0)
    return luaL_error(L, "no map named '%s' in this program", map);
  struct td_type *type = event_type(L, m, map, opts);
  struct vns_buffer *b = buffer_new(L, BUFFER_PERF, map);
  b->event = type;
  emit_setup(L, b, opts);
  buffer_activate(L, b);
  int cpus[MAX_CPUS], ncpus = util_online_cpus(cpus, MAX_CPUS);
  for (int i = 0; i < ncpus; i++) {
    struct bcc_perf_buffer_opts po = { .pid = -1, .cpu = cpus[i], .wakeup_events = wakeup };
    struct perf_reader *r = bpf_open_perf_buffer_opts(on_perf_raw, on_perf_lost, b, pages, &po);
    int fd = r ? perf_reader_fd(r) : -1;
    if (!r || bpf_update_elem(map_fd, &cpus[i], &fd, 0)) {
      int err = errno;
      if (r)
        perf_reader_free(r);
      buffer_close(L, b);
      return lhelp_fail(L, err, "perf buffer %s on cpu %d: %s", map, cpus[i], strerror(err));
    }
    b->readers[b->nreaders++] = r;
    watch(fd, b);
  }
  for (int i = 0; wakeup > 1 && i < MAX_BATCHED; i++)
    if (!batched[i]) {
      batched[i] = b;
      b->batched = 1;
      break;
    }
  return 1;
}

int lbuffer_ring_buffer(lua_State *L)
{
  struct vns_module *m = lmodule_check(L, 1);
  const char *map = luaL_checkstring(L, 2);
  int id = lmodule_map_index(m, map);
  int map_fd = id >= 0 ? m->map_fds[id] : -1;
  if (map_fd < 0)
    return luaL_error(L, "no map named '%s' in this program", map);
  int opts = lua_istable(L, 4) ? 4 : 0;
  struct td_type *type = event_type(L, m, map, opts);
  struct vns_buffer *b = buffer_new(L, BUFFER_RING, map);
  b->event = type;
  emit_setup(L, b, opts);
  buffer_activate(L, b);
  b->ring = bpf_new_ringbuf(map_fd, on_ring_sample, b);
  if (!b->ring) {
    int err = errno;
    buffer_close(L, b);
    return lhelp_fail(L, err, "ring buffer %s: %s", map, strerror(err));
  }
  watch(ring_buffer__epoll_fd(b->ring), b);
  return 1;
}

/* Read everything a buffer holds: all of a perf buffer's CPUs at once,
 * so a buffer ready on several CPUs is drained once per poll. */
static void drain(struct vns_buffer *b)
{
  if (b->kind == BUFFER_RING)
    ring_buffer__consume(b->ring);
  for (int r = 0; r < b->nreaders; r++)
    perf_reader_event_read(b->readers[r]);
}

/* The wakeup policy's user-space half. A poll that found a batch of
 * events means a busy stream: the next one first lets events gather for
 * BATCH_WAIT_US, so a high rate costs one wakeup, one drain and one write
 * per few hundred events. A poll that found a few goes back to waiting
 * at once: at low rates each event is shown as it comes. */
#define BATCH_MIN 16
#define BATCH_WAIT_US 5000
static long long last_delivered;

/* Wait up to timeout_ms (0: just drain) for events; a stop signal ends
 * the wait early. Returns the number of events delivered. */
static int core_poll(lua_State *L)
{
  int timeout = (int)luaL_optinteger(L, 1, 0);
  struct epoll_event ready[64];
  if (timeout > 0 && last_delivered >= BATCH_MIN && !signals_pending())
    usleep(BATCH_WAIT_US);
  int n = epoll_wait(poller(), ready, 64, signals_pending() ? 0 : timeout);
  long long delivered = 0;
  if (n == 0) /* nothing woke us: read what batched buffers hold below their mark */
    for (int i = 0; i < MAX_BATCHED && n < 64; i++)
      if (batched[i])
        ready[n++].data.ptr = batched[i];
  for (int i = 0; i < n; i++) {
    struct vns_buffer *b = ready[i].data.ptr;
    if (!b || !b->open || b->L == L)
      continue;
    b->L = L;
    b->delivered_this_poll = 0;
    drain(b);
    delivered += b->delivered_this_poll;
  }
  for (int i = 0; i < n; i++) {
    struct vns_buffer *b = ready[i].data.ptr;
    if (b)
      b->L = NULL;
    if (b && b->emit) /* one write per batch: what this poll read appears now */
      lemit_flush(b->emit);
  }
  last_delivered = delivered;
  for (int i = 0; i < n; i++) {
    struct vns_buffer *b = ready[i].data.ptr;
    if (b && b->open && b->err_ref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, b->err_ref);
      return lua_error(L);
    }
  }
  lua_pushinteger(L, delivered);
  return 1;
}

static int buffer_lost(lua_State *L)
{
  lua_pushinteger(L, ((struct vns_buffer *)luaL_checkudata(L, 1, BUFFER_MT))->lost);
  return 1;
}

static int buffer_received(lua_State *L)
{
  lua_pushinteger(L, ((struct vns_buffer *)luaL_checkudata(L, 1, BUFFER_MT))->received);
  return 1;
}

static int buffer_emitted(lua_State *L)
{
  lua_pushinteger(L, ((struct vns_buffer *)luaL_checkudata(L, 1, BUFFER_MT))->emitted);
  return 1;
}

static int buffer_flush(lua_State *L)
{
  struct vns_buffer *b = luaL_checkudata(L, 1, BUFFER_MT);
  if (b->emit)
    lemit_flush(b->emit);
  return 0;
}

static const luaL_Reg buffer_methods[] = {
  { "lost", buffer_lost },
  { "emitted", buffer_emitted },
  { "flush", buffer_flush },
  { "received", buffer_received },
  { "close", buffer_release },
  { NULL, NULL },
};

void lbuffer_register(lua_State *L)
{
  lhelp_newclass(L, BUFFER_MT, buffer_methods, buffer_release);
  lua_pushcfunction(L, core_poll);
  lua_setfield(L, -2, "poll");
}
