/* lhttp: the smallest HTTP/1.x server a metrics scrape needs. One
 * listening socket, non-blocking, woken through core.poll's epoll; one
 * request at a time, its head read with a deadline and a size bound, one
 * reply, then the connection is closed. C gives the socket; Lua decides
 * what to answer (vns.listen).
 *   core.http_listen(ip, port) -> server | nil, "why", errno
 *   server:accept() -> nil (none waiting) | conn, method, target
 *                   | conn, nil, why (a bad or slow request: reply 400)
 *   server:address() -> ip, port (the port the kernel gave for 0)
 *   conn:reply(status, content_type, body)  (then closed)
 *   server:close(), conn:close() */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lhandles.h"
#include "lhelp.h"

#define SERVER_MT "vns.http_server"
#define CONN_MT "vns.http_conn"
#define HEAD_MAX 8192       /* a scrape's request head is a few hundred bytes */
#define DEADLINE_MS 2000    /* for reading a request and writing a reply */

struct http_fd {
  int fd;
};

static int fd_release(lua_State *L, const char *mt)
{
  struct http_fd *h = luaL_checkudata(L, 1, mt);
  if (h->fd >= 0)
    close(h->fd);
  h->fd = -1;
  return 0;
}

static int server_release(lua_State *L) { return fd_release(L, SERVER_MT); }
static int conn_release(lua_State *L) { return fd_release(L, CONN_MT); }

static struct http_fd *push_fd(lua_State *L, int fd, const char *mt)
{
  struct http_fd *h = lua_newuserdatauv(L, sizeof *h, 0);
  h->fd = fd;
  luaL_setmetatable(L, mt);
  return h;
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline passes: 1 ready, 0 not. */
static int wait_fd(int fd, short events, long long deadline)
{
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0)
      return 0;
    struct pollfd p = { .fd = fd, .events = events };
    int n = poll(&p, 1, (int)left);
    if (n > 0)
      return 1;
    if (n < 0 && errno != EINTR)
      return 0;
  }
}

static int http_listen(lua_State *L)
{
  const char *ip = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  luaL_argcheck(L, port >= 0 && port <= 65535, 2, "a port 0-65535");
  struct sockaddr_storage ss = { 0 };
  socklen_t len;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    len = sizeof *v6;
  } else {
    return luaL_argerror(L, 1, "an IPv4 or IPv6 address");
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return lhelp_fail(L, errno, "socket: %s", strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) /* [::] means IPv6 only: say 0.0.0.0 for IPv4 */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
    int err = errno;
    close(fd);
    return lhelp_fail(L, err, "%s", strerror(err));
  }
  push_fd(L, fd, SERVER_MT);
  lbuffer_watch_fd(fd);
  return 1;
}

static int server_address(lua_State *L)
{
  struct http_fd *s = luaL_checkudata(L, 1, SERVER_MT);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char text[INET6_ADDRSTRLEN] = "";
  if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0)
    return lhelp_fail(L, errno, "getsockname: %s", strerror(errno));
  int port;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
  } else {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
  }
  lua_pushstring(L, text);
  lua_pushinteger(L, port);
  return 2;
}

/* Read until the blank line that ends the head; 0, or why not. */
static const char *read_head(int fd, char *buf, size_t *len)
{
  long long deadline = now_ms() + DEADLINE_MS;
  *len = 0;
  while (*len < HEAD_MAX - 1) {
    ssize_t n = read(fd, buf + *len, HEAD_MAX - 1 - *len);
    if (n > 0) {
      *len += (size_t)n;
      buf[*len] = '\0';
      if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
        return NULL;
    } else if (n == 0) {
      return "the client closed the connection";
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_fd(fd, POLLIN, deadline))
        return "request head not complete in time";
    } else {
      return strerror(errno);
    }
  }
  return "request head too large";
}

static int server_accept(lua_State *L)
{
  struct http_fd *s = luaL_checkudata(L, 1, SERVER_MT);
  int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    lua_pushnil(L);
    return 1;
  }
  push_fd(L, fd, CONN_MT);
  char buf[HEAD_MAX];
  size_t len;
  const char *why = read_head(fd, buf, &len);
  char method[16], target[1024];
  if (!why && sscanf(buf, "%15[A-Z] %1023[^ \r\n] HTTP/1.%*1[01]", method, target) != 2)
    why = "not an HTTP/1.x request line";
  if (why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 3;
  }
  lua_pushstring(L, method);
  lua_pushstring(L, target);
  return 3;
}

static int write_all(int fd, const char *p, size_t n, long long deadline)
{
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);  /* a gone client is no SIGPIPE */
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline))
        return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

static const char *reason_of(int status)
{
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  default: return "Error";
  }
}

/* Write the reply and close; a client that stops reading is dropped at the
 * deadline. Returns true when all was written. */
static int conn_reply(lua_State *L)
{
  struct http_fd *c = luaL_checkudata(L, 1, CONN_MT);
  int status = (int)luaL_checkinteger(L, 2);
  const char *type = luaL_checkstring(L, 3);
  size_t body_len;
  const char *body = luaL_checklstring(L, 4, &body_len);
  luaL_argcheck(L, c->fd >= 0, 1, "connection closed");
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, reason_of(status), type, body_len);
  luaL_argcheck(L, n > 0 && (size_t)n < sizeof head, 3, "content type too long");
  long long deadline = now_ms() + DEADLINE_MS;
  int ok = write_all(c->fd, head, (size_t)n, deadline) == 0 && write_all(c->fd, body, body_len, deadline) == 0;
  close(c->fd);
  c->fd = -1;
  lua_pushboolean(L, ok);
  return 1;
}

static const luaL_Reg server_methods[] = {
  { "accept", server_accept },
  { "address", server_address },
  { "close", server_release },
  { NULL, NULL },
};

static const luaL_Reg conn_methods[] = {
  { "reply", conn_reply },
  { "close", conn_release },
  { NULL, NULL },
};

void lhttp_register(lua_State *L)
{
  lhelp_newclass(L, SERVER_MT, server_methods, server_release);
  lhelp_newclass(L, CONN_MT, conn_methods, conn_release);
  lua_pushcfunction(L, http_listen);
  lua_setfield(L, -2, "http_listen");
}
