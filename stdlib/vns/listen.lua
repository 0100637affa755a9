-- listen: --listen ADDR:PORT, and the HTTP server that answers scrapes
-- (the socket is the engine's, engine/lhttp.c; this says what to answer).
--
--   local server = listen.open(opts.listen)     -- bound before anything attaches
--   server:serve(function() return prometheus_text end)   -- after each core.poll
--
-- GET /metrics answers the text exposition (vns.prometheus); GET / a line
-- pointing there; anything else 404 or 405. One request at a time, each
-- read and written within the engine's deadline.
local core = require "vns.core"
local errors = require "vns.errors"
local net = require "vns.net"
local options = require "vns.options"
local prometheus = require "vns.prometheus"

local M = {}

local FORM = "ADDR:PORT, an IPv4 or IPv6 address ([::1] in brackets) and a port 0-65535"
  .. " (127.0.0.1:9435, [::]:9435; port 0 picks a free one)"

-- IPv4 a.b.c.d:PORT or [IPv6]:PORT -> {ip, port, text}.
local function parse(text)
  if #text > 64 then return nil end
  local ip, port = text:match("^%[([%x:%.]+)%]:(%d+)$")
  local family = 6
  if not ip then
    ip, port = text:match("^([%d%.]+):(%d+)$")
    family = 4
  end
  if not ip then return nil end
  local a = net.addr(ip)
  if not a or not a:is_host() or a.family ~= family then return nil end
  if #port > 5 or (#port > 1 and port:sub(1, 1) == "0") or tonumber(port) > 65535 then return nil end
  return { ip = tostring(a), port = tonumber(port), text = text }
end

options.types.listen = { parse = parse, form = function() return FORM end }

function M.option()
  return { name = "listen", type = "listen", metavar = "ADDR:PORT",
           help = "serve Prometheus metrics at http://ADDR:PORT/metrics instead of printing each interval" }
end

local Server = {}
Server.__index = Server

function M.open(addr)
  local srv, why = core.http_listen(addr.ip, addr.port)
  if not srv then errors.fail("option --listen %s: cannot listen there: %s", addr.text, why) end
  local ip, port = srv:address()
  local host = ip:find(":", 1, true) and "[" .. ip .. "]" or ip
  return setmetatable({ srv = srv, url = string.format("http://%s:%d/metrics", host, port) }, Server)
end

local function answer(conn, method, target, scrape)
  if not method then return conn:reply(400, "text/plain", "bad request: " .. target .. "\n") end
  local path = target:match("^[^?]*")
  if path ~= "/metrics" and path ~= "/" then return conn:reply(404, "text/plain", "not found; try /metrics\n") end
  if method ~= "GET" then return conn:reply(405, "text/plain", "only GET\n") end
  if path == "/" then return conn:reply(200, "text/plain", "vnetscope exporter: metrics at /metrics\n") end
  conn:reply(200, prometheus.CONTENT_TYPE, scrape())
end

-- Answer every request waiting; scrape() gives the metrics text.
function Server:serve(scrape)
  while true do
    local conn, method, target = self.srv:accept()
    if not conn then return end
    answer(conn, method, target, scrape)
    conn:close()
  end
end

function Server:close() self.srv:close() end
Server.__close = Server.close

return M
