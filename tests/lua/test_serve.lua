-- vns.serve's config: lines of "TOOL --options", checked before
-- anything compiles (the live run: t_prometheus.sh).
local serve = require "vns.serve"
local h = require "helpers"
local eq, checkerr = h.eq, h.checkerr

local T = {}

local function config(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

function T.lines_comments_and_quotes()
  local path = config("# exporter\n\ndrop-summary --group-by location\n  qdisc-latency --filter 'udp and port 53' --dev \"eth0\"\n")
  local e = serve.read(path)
  os.remove(path)
  eq(#e, 2)
  eq({ e[1].tool.name, e[1].argv }, { "drop-summary", { "--group-by", "location" } })
  eq({ e[2].tool.name, e[2].argv }, { "qdisc-latency", { "--filter", "udp and port 53", "--dev", "eth0" } })
end

function T.bad_lines_name_file_and_line()
  local cases = {
    { "nosuch-tool\n", ":1: unknown tool 'nosuch-tool'" },
    { "# c\ndrop-details\n", ":2: drop-details is a details tool" },
    { "drop-summary\ndrop-summary -i 2\n", ":2: drop-summary appears twice" },
    { "drop-summary --listen=127.0.0.1:1\n", ":1: --listen is serve's option" },
    { "drop-summary --filter 'udp\n", ":1: a quote is not closed" },
    { "# nothing\n", "names no tool" },
  }
  for _, c in ipairs(cases) do
    local path = config(c[1])
    local err = checkerr(c[2], serve.read, path)
    os.remove(path)
    eq(err.code, 2)
  end
end

return T
