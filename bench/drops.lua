-- bench/drops.lua: the floor for bench/drops. Attaches an empty program
-- (returns 0, reads nothing) to skb:kfree_skb and keeps it attached until
-- SIGINT, so bench/drops can measure it as it measures drop-summary:
--   vnetscope run bench/drops.lua
local core = require "vns.core"
local program = require "vns.program"

program.require_privilege()
-- Named by the convention, as drop-summary's program is: same name
-- (tracepoint__skb) in bpftool, same kind, same attach path.
local prog <close> = program.compile([[
TRACEPOINT_PROBE(skb, kfree_skb)
{
  return 0;
}
]])
prog:attach_all()
print("Empty program on skb:kfree_skb... Hit Ctrl-C to end.")
io.stdout:flush()
while not core.interrupted() do core.poll(1000) end
prog:close()
