-- ctxfilter: filters on what surrounds a packet rather than its headers:
-- the task running (--pid, --comm), the device (--dev) and a latency
-- threshold (--threshold). Like vns.filter's flow expression, each is a C
-- boolean expression with every value a run-time constant (template.value):
--
--   local c = ctxfilter.compile(opts, { dev_skb = "skb", delta = "delta_ns" })
--   template.render(text, { CTX_FILTER = c.expr })
--   ... if (!({{ CTX_FILTER }})) return 0;
--
-- cfg says where the program has what a test needs: `dev` a char[16]
-- device name already read (8-byte aligned), or `dev_skb` a struct
-- sk_buff * to read it from (vns/dev.h); `delta` a u64 nanosecond
-- expression. Tests run cheapest first: pid (one helper call), threshold
-- (a compare), comm (a helper and two compares), then the device (two
-- probe reads). The program includes vns/task.h for pid/comm and
-- vns/dev.h for dev_skb.
local template = require "vns.template"

local M = {}

-- cfg names are written by tool code, never by users; still, only plain
-- C member paths (x, x.y, x->y.z) are taken.
local function c_name(v, what)
  local ok = type(v) == "string" and #v <= 64 and v:match("^[%a_][%w_]*")
  if ok then
    local rest = v:sub(#ok + 1)
    while ok and rest ~= "" do
      local step = rest:match("^%.[%a_][%w_]*") or rest:match("^%->[%a_][%w_]*")
      if step then rest = rest:sub(#step + 1) else ok = nil end
    end
  end
  assert(ok, "ctxfilter: cfg." .. what .. " must be a C name (x, x.y or x->y)")
  return v
end

local function words(lo, hi) return lo.text, hi.text end

-- The tests of opts that cfg can place, as C texts, cheapest first.
local function tests_of(opts, cfg)
  local out = {}
  if opts.pid then
    assert(math.type(opts.pid) == "integer" and opts.pid > 0, "ctxfilter: opts.pid is not a pid")
    out[#out + 1] = "vns_current_pid() == " .. template.value(opts.pid, "u32").text
  end
  if opts.threshold then
    assert(math.type(opts.threshold) == "integer" and opts.threshold >= 0, "ctxfilter: opts.threshold is not in ns")
    assert(cfg.delta, "ctxfilter: --threshold needs cfg.delta")
    out[#out + 1] = c_name(cfg.delta, "delta") .. " >= " .. template.value(opts.threshold, "u64").text
  end
  if opts.comm then
    out[#out + 1] = string.format("vns_current_comm_is(%s, %s)", words(opts.comm:words()))
  end
  if opts.dev then
    local lo, hi = words(template.ifname_words(opts.dev))
    if cfg.dev then
      local name = c_name(cfg.dev, "dev")
      out[#out + 1] = string.format("*(u64 *)&%s[0] == %s && *(u64 *)&%s[8] == %s", name, lo, name, hi)
    else
      assert(cfg.dev_skb, "ctxfilter: --dev needs cfg.dev or cfg.dev_skb")
      out[#out + 1] = string.format("vns_skb_dev_is(%s, %s, %s)", c_name(cfg.dev_skb, "dev_skb"), lo, hi)
    end
  end
  return out
end

-- Compile the context options of opts. Returns {expr (a template value),
-- text, any (whether anything is tested)}.
function M.compile(opts, cfg)
  local tests = tests_of(opts or {}, cfg or {})
  local text = #tests == 0 and "1" or table.concat(tests, " && ")
  return { expr = template.code(text), text = text, any = #tests > 0 }
end

return M
