-- virtlayout: checks of the driver-private struct layouts the
-- virtualization tools describe in bpf-templates/include/vns/*_layout.h
-- (tun_file, tun_struct, ...: private to drivers/net/tun.c and friends,
-- so no header has them). Where the module's BTF exists, each member a
-- tool reads becomes a _Static_assert of the described offset against
-- BTF's, and a wrong description fails the compile with the member's
-- name. BTF is /sys/kernel/btf/<module> over /sys/kernel/btf/vmlinux on
-- this kernel; when compiling for another kernel (vnetscope compile
-- --kernel-release), the directory VNETSCOPE_BTF_DIR holding that
-- kernel's vmlinux and module BTF files (tests/lab/save-tracefs.sh saves
-- the lab's).
--
--   local c, how = virtlayout.checks("tun", { { "vns_tun_file", "tx_ring", "tun_file", "tx_ring" } })
local core = require "vns.core"
local kernel = require "vns.kernel"
local template = require "vns.template"

local M = {}

local function btf_dir()
  if kernel.is_target() then return os.getenv("VNETSCOPE_BTF_DIR") end
  return "/sys/kernel/btf"
end

-- The C of the checks for MODULE's members (each { our struct, our
-- member, kernel struct, kernel member }), and a line saying how the
-- layout was checked. A member BTF lacks is an error: the description
-- names something this kernel does not have.
function M.checks(module, members)
  template.ident(module, "virtlayout: module")
  local dir = btf_dir()
  local lines = { "/* layout of " .. module .. ": checked against its BTF */" }
  for _, m in ipairs(members) do
    for i = 1, 4 do template.ident(m[i], "virtlayout: member") end
    local off, err = nil, "no BTF directory (VNETSCOPE_BTF_DIR) for the target kernel"
    if dir then off, err = core.btf_offset(m[3], m[4], dir, module) end
    if not off and (not dir or err:find("no kernel BTF") or err:find("is in no BTF")) then
      return template.code("/* layout of " .. module .. ": no BTF of the module to check it against */"),
             "not checked (no BTF for " .. module .. ")"
    end
    if not off then error("virtlayout: " .. err, 0) end
    lines[#lines + 1] = string.format(
      '_Static_assert(__builtin_offsetof(struct %s, %s) == %d, "struct %s.%s is at %d in the BTF of %s: '
      .. 'the layout vnetscope describes for this kernel is wrong");',
      m[1], m[2], off, m[3], m[4], off, module)
  end
  return template.code(table.concat(lines, "\n")), "checked against BTF"
end

return M
