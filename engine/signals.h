/* signals: SIGINT/SIGTERM as data. The handler only counts the signal and
 * wakes the poll loop through a self-pipe; Lua never runs in a handler.
 * A second signal while the first is still pending restores the default
 * action, so an operator can always kill a stuck run. */
#ifndef VNS_SIGNALS_H
#define VNS_SIGNALS_H

int signals_install(void);
int signals_pending(void);        /* a stop was requested */
int signals_wake_fd(void);        /* readable once a stop is requested */
int signals_last(void);           /* last signal number, 0 if none */

#endif
