#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t last_signal;
static int wake_pipe[2] = { -1, -1 };

static void on_stop_signal(int sig)
{
  if (stop_requested) {
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  int saved_errno = errno;
  stop_requested = 1;
  last_signal = sig;
  (void)!write(wake_pipe[1], "s", 1);
  errno = saved_errno;
}

int signals_install(void)
{
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK))
    return -errno;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  /* Restart interrupted syscalls (clang's reads, bpf()); poll and
   * epoll_wait still return early, and the self-pipe wakes them anyway. */
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
    return -errno;
  /* A closed pipe to `head` must end the run cleanly, not kill it. */
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

int signals_pending(void)
{
  return stop_requested;
}

int signals_wake_fd(void)
{
  return wake_pipe[0];
}

int signals_last(void)
{
  return last_signal;
}
