/* lemit: the fast path of a details tool's events, from the raw bytes of
 * a perf/ring buffer record straight to text or JSON lines in an output
 * buffer, without a Lua table per event.
 *
 * The spec (built by stdlib/vns/events.lua from the tool's definition):
 *   { json = bool, fd = 1, wall_offset_ns = int,
 *     cols  = { {key=, field=, as="walltime"|nil, omit_empty=bool}, ... },
 *     hooks = { {fields = {names}, fn = function(ev) return t|false end, cache = bool}, ... },
 *     text  = { {key=, width=, right=bool, gap=1}, ... },  -- text line, in order
 *     lines = key }                                  -- a hook's array, one line each under the row
 * cols copy integer and char[N] fields of the event; hooks get a table
 * of their fields only and return derived values (or false: skip the
 * event); their results are encoded once and cached by the bytes of
 * those fields, so a hook runs once per distinct input, not per event.
 * Output is written once per batch: when the buffer fills, at every
 * lemit_flush (each core.poll return) and when the emitter is freed. */
#ifndef VNS_LEMIT_H
#define VNS_LEMIT_H

#include <lua.h>
#include "typedesc.h"

struct lemit;

/* Compile the spec at idx against the event layout; raises a Lua error
 * naming the field or key at fault. */
struct lemit *lemit_new(lua_State *L, int idx, const struct td_type *event);

/* One record. Returns 1 if a row was written, 0 if a hook skipped it;
 * a hook's error is left on the stack and -1 returned. */
int lemit_event(struct lemit *e, lua_State *L, const void *data, size_t size);

void lemit_flush(struct lemit *e);
void lemit_free(lua_State *L, struct lemit *e);

#endif
