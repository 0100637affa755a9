-- vns.prometheus (the store and the exposition) and vns.listen's
-- ADDR:PORT parser; the server itself is tested live (t_prometheus.sh).
local prometheus = require "vns.prometheus"
local options = require "vns.options"
require "vns.listen"
local h = require "helpers"
local eq, has, checkerr = h.eq, h.has, h.checkerr

local T = {}

local function lines_of(text)
  local out = {}
  for l in text:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

function T.rows_add_up_per_label_set()
  local s = prometheus.store("drop-summary")
  s:add({ type = "interval", total = 3, drops = { { reason = "NO_SOCKET", dev = "eth0", count = 2, stack_id = 4 },
                                                    { reason = 'a"b\\c\nd', count = 1, reason_code = 9 } } })
  s:add({ type = "interval", total = 2, drops = { { reason = "NO_SOCKET", dev = "eth0", count = 2 } } })
  local text = s:text()
  has(text, "# TYPE vnetscope_drop_summary_drops_total counter\n")
  has(text, 'vnetscope_drop_summary_drops_total{dev="eth0",reason="NO_SOCKET"} 4\n')
  has(text, 'vnetscope_drop_summary_drops_total{reason="a\\"b\\\\c\\nd"} 1\n')
  has(text, "vnetscope_drop_summary_total 5\n")
  eq(text:find("stack_id", 1, true), nil)
  s:add({ drops = { { reason = "bad\xff\xfe", count = 1 } } })
  has(s:text(), 'reason="bad??"} 1\n')
  eq(text:find("reason_code", 1, true), nil)
end

function T.series_beyond_the_bound_go_to_other()
  local s = prometheus.store("t", { max_series = 2 })
  for i = 1, 5 do s:add({ rows = { { name = "n" .. i, count = i } } }) end
  local text = s:text()
  has(text, 't_rows_total{name="n1"} 1\n')
  has(text, 'vnetscope_t_rows_total{name="other"} 12\n')
  eq(text:find('name="n3"', 1, true), nil)
end

function T.histograms_in_seconds_cumulative_with_inf()
  local s = prometheus.store("lat")
  local hist = { kind = "log2", unit = "us", count = 3, sum = 13, dev = "eth0",
                 buckets = { { low = 2, high = 3, count = 1 }, { low = 4, high = 7, count = 2 } } }
  s:add({ histograms = { hist } })
  s:add({ histograms = { hist } })
  local l = lines_of(s:text())
  eq(l[2], "# TYPE vnetscope_lat_seconds histogram")
  -- Every log2 bound from 2 us to 2^26 us, empty ones too, then +Inf.
  eq(l[3], 'vnetscope_lat_seconds_bucket{dev="eth0",le="2e-06"} 0')
  eq(l[4], 'vnetscope_lat_seconds_bucket{dev="eth0",le="4e-06"} 2')
  eq(l[5], 'vnetscope_lat_seconds_bucket{dev="eth0",le="8e-06"} 6')
  eq(l[6], 'vnetscope_lat_seconds_bucket{dev="eth0",le="1.6e-05"} 6')
  eq(l[28], 'vnetscope_lat_seconds_bucket{dev="eth0",le="67.108864"} 6')
  eq(l[29], 'vnetscope_lat_seconds_bucket{dev="eth0",le="+Inf"} 6')
  eq(l[30], 'vnetscope_lat_seconds_sum{dev="eth0"} 2.6e-05')
  eq(l[31], 'vnetscope_lat_seconds_count{dev="eth0"} 6')
end

function T.histogram_bounds_are_the_same_with_or_without_samples()
  local s = prometheus.store("t")
  s:add({ histograms = { { kind = "log2", count = 0, dev = "a", buckets = {} },
                         { kind = "log2", count = 1, dev = "b", buckets = { { low = 0, high = 1, count = 1 } } },
                         { kind = "log2", count = 1, dev = "c", buckets = { { low = 1 << 20, high = (1 << 21) - 1, count = 1 } } } } })
  local text = s:text()
  local function bounds(dev)
    local out = {}
    for le in text:gmatch('_bucket{dev="' .. dev .. '",le="([^"]+)"}') do out[#out + 1] = le end
    return table.concat(out, " ")
  end
  -- Plain values: a bucket [2^(k-1), 2^k - 1] ends at le 2^k - 1.
  eq(bounds("a"), "1 3 7 15 31 63 127 255 511 1023 2047 4095 8191 16383 32767 65535 +Inf")
  eq(bounds("b"), bounds("a"))
  eq(bounds("c"), bounds("a"):gsub(" %+Inf", " 131071 262143 524287 1048575 2097151 +Inf"))
  has(text, 'vnetscope_t_bucket{dev="b",le="1"} 1\n')
  has(text, 'vnetscope_t_bucket{dev="c",le="65535"} 0\n')
end

function T.linear_buckets_keep_their_own_bounds()
  local s = prometheus.store("t")
  s:add({ histograms = { { kind = "linear", count = 2, buckets = { { low = 10, high = 19, count = 2 } } } } })
  local text = s:text()
  has(text, 'vnetscope_t_bucket{le="19"} 2\n')
  eq(text:find('le="15"', 1, true), nil)
end

function T.running_totals_are_taken_not_added()
  local s = prometheus.store("t")
  s:add({ sessions = { started = 5, open = 2 }, lost = 1, max_ns = 9, threshold = 80, util = 0.5 })
  s:add({ sessions = { started = 7, open = 1 }, lost = 1 })
  local text = s:text()
  has(text, "vnetscope_t_sessions_started_total 7\n")
  has(text, "vnetscope_t_lost_total 1\n")
  for _, gone in ipairs({ "open", "max", "threshold", "util" }) do eq(text:find(gone, 1, true), nil) end
end

function T.listen_accepts_ipv4_and_bracketed_ipv6()
  local spec = { { name = "listen", type = "listen" } }
  eq(options.parse(spec, { "--listen", "127.0.0.1:9435" }).listen.port, 9435)
  local v6 = options.parse(spec, { "--listen", "[::1]:0" }).listen
  eq({ v6.ip, v6.port }, { "::1", 0 })
  for _, bad in ipairs({ "localhost:9435", "::1:9435", "127.0.0.1", "1.2.3.4:65536", "1.2.3.4:09",
                         "[127.0.0.1]:80", "10.0.0.0/8:80", "1.2.3.4:80 " }) do
    local err = checkerr("option --listen: '", options.parse, spec, { "--listen", bad })
    eq(err.code, 2)
    has(err.msg, "expected ADDR:PORT")
  end
end

return T
