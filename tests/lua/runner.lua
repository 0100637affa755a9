-- runner: the stdlib tests. Loads every test_*.lua next to this file
-- (each returns {name = function}), runs each test in protected mode,
-- prints PASS/FAIL lines and "N passed, N failed"; exit status 1 when
-- any failed.
--   vnetscope run tests/lua/runner.lua [MODULE...]
local core = require "vns.core"

-- `arg` is not set by `vnetscope run`; the chunk's own source name is.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. package.path

local function test_files(only)
  local files = {}
  for _, e in ipairs(assert(core.listdir(here))) do
    local module = e.name:match("^test_(.+)%.lua$")
    if module and not e.dir and (not next(only) or only[module]) then
      files[#files + 1] = { module = module, path = here .. "/" .. e.name }
    end
  end
  table.sort(files, function(a, b) return a.module < b.module end)
  return files
end

local function message_of(err)
  if type(err) == "table" then
    return string.format("%s (code %s)", tostring(err.msg), tostring(err.code))
  end
  return tostring(err)
end

-- Every test of one file, in name order; returns passed, failed.
local function run_file(file)
  local chunk, err = loadfile(file.path)
  local ok, tests = false, err
  if chunk then ok, tests = pcall(chunk) end
  if not ok or type(tests) ~= "table" then
    print(string.format("FAIL %s.(load): %s", file.module, message_of(tests)))
    return 0, 1
  end
  local names = {}
  for name in pairs(tests) do names[#names + 1] = name end
  table.sort(names)
  local passed, failed = 0, 0
  for _, name in ipairs(names) do
    local ok, err = pcall(tests[name])
    if ok then
      passed = passed + 1
      print(string.format("PASS %s.%s", file.module, name))
    else
      failed = failed + 1
      print(string.format("FAIL %s.%s: %s", file.module, name, message_of(err)))
    end
  end
  return passed, failed
end

local only = {}
for _, m in ipairs({ ... }) do only[m] = true end
local passed, failed = 0, 0
for _, file in ipairs(test_files(only)) do
  local p, f = run_file(file)
  passed, failed = passed + p, failed + f
end
print(string.format("%d passed, %d failed", passed, failed))
return failed > 0 and 1 or 0
