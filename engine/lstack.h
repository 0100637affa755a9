/* lstack: kernel and user addresses to symbols. */
#ifndef VNS_LSTACK_H
#define VNS_LSTACK_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/* Push {{addr, sym, offset, module}, ...} for ips up to the first 0 or
 * max; pid < 0 for kernel addresses. */
void lstack_push_frames(lua_State *L, const uint64_t *ips, size_t max, int pid);

#endif
