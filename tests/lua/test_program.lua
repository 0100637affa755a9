-- vns.program: BCC naming conventions, compile errors, loading.
-- The compile tests use the real clang/BCC and kernel headers (BTF).
local program = require "vns.program"
local h = require "helpers"
local eq, checkerr, has, hasnt = h.eq, h.checkerr, h.has, h.hasnt

local function convention(fn) return table.pack(program.convention(fn)) end

local T = {}

function T.convention_tracepoint()
  eq(convention("tracepoint__skb__kfree_skb"), { n = 2, "tracepoint", "skb:kfree_skb" })
  eq(convention("tracepoint__sched__sched_process_exit"),
     { n = 2, "tracepoint", "sched:sched_process_exit" })
  eq(convention("tracepoint__net__net_dev_xmit"), { n = 2, "tracepoint", "net:net_dev_xmit" })
end

function T.convention_raw_tracepoint()
  eq(convention("raw_tracepoint__kfree_skb"), { n = 2, "raw_tracepoint", "kfree_skb" })
  eq(convention("raw_tracepoint__sys_enter"), { n = 2, "raw_tracepoint", "sys_enter" })
end

function T.convention_kprobe()
  eq(convention("kprobe__tcp_v4_rcv"), { n = 2, "kprobe", "tcp_v4_rcv" })
  eq(convention("kprobe____dev_queue_xmit"), { n = 2, "kprobe", "__dev_queue_xmit" })
end

function T.convention_kretprobe()
  eq(convention("kretprobe__tcp_v4_rcv"), { n = 3, "kprobe", "tcp_v4_rcv", { ret = true } })
end

-- Loaded as uprobes (check verifier-loads them); no target: the tool
-- attaches them to its binary and symbols.
function T.convention_uprobe()
  eq(convention("uprobe__mutex"), { n = 2, "uprobe" })
  eq(convention("uretprobe__lock"), { n = 2, "uprobe" })
end

function T.convention_other_names()
  for _, fn in ipairs({ "helper", "count_drop", "tracepoint__skb", "tracepoint__skb__",
                        "kprobe__", "kretprobe__", "raw_tracepoint__", "my_kprobe__tcp_v4_rcv",
                        "Kprobe__x", "tracepoint_skb_kfree_skb", "" }) do
    eq(convention(fn), { n = 0 }, fn)
  end
end

function T.cflags_name_the_template_headers()
  local flags = program.cflags()
  eq(#flags, 1)
  has(flags[1], "-I")
  has(flags[1], "/bpf-templates/include")
end

local BROKEN = table.concat({
  "#include <vns/common.h>",
  "static int ok_line(void) { return 0; }",
  "int broken(void *ctx)",
  "{",
  "  return undeclared_thing + 1;",
  "}",
}, "\n")

function T.compile_error_shows_numbered_line()
  local err = checkerr("compile failed", program.compile, BROKEN)
  eq(err.code, 1)
  has(err.msg, "undeclared_thing")
  has(err.msg, "/virtual/main.c:5:")
  has(err.msg, "generated lines (as --emit-c numbers them):\n    5 |   return undeclared_thing + 1;")
  hasnt(err.msg, "    2 | static int ok_line")
end

function T.compile_error_without_line_number()
  -- an error not placed in main.c shows clang's text alone
  local err = checkerr("compile failed", program.compile, "#error stop here\n")
  eq(err.code, 1)
  has(err.msg, "stop here")
end

-- Compile, verifier-load by convention, close; nothing is attached.
function T.compile_and_load_by_convention()
  local prog = program.compile(table.concat({
    "#include <vns/common.h>",
    "BPF_HASH(seen, u32, u64, 16);",
    "static __always_inline int worker(void) { return 0; }",
    "TRACEPOINT_PROBE(skb, kfree_skb) { return worker(); }",
  }, "\n"))
  local loaded = prog:load_all()
  eq(#loaded, 1)
  eq({ loaded[1].fn, loaded[1].kind, loaded[1].target }, { "tracepoint__skb__kfree_skb", "tracepoint", "skb:kfree_skb" })
  eq(prog:load("tracepoint__skb__kfree_skb", "tracepoint"), loaded[1].prog)
  eq(#prog.links, 0)
  assert(prog:table("seen"), "map seen")
  prog:close()
  prog:close()   -- twice is fine
  prog.mod:close()
end

-- Naming a function the program lacks is misuse: a plain error.
function T.load_unknown_function_raises()
  local prog = program.compile("#include <vns/common.h>\nTRACEPOINT_PROBE(skb, kfree_skb) { return 0; }\n")
  checkerr("no function named 'no_such_function'", prog.load, prog, "no_such_function", "tracepoint")
  prog.mod:close()
end

-- A tracepoint this kernel lacks is named before clang runs.
function T.missing_tracepoint_is_one_clear_error()
  local ok, e = pcall(program.compile, "TRACEPOINT_PROBE(net, no_such_tp) { return 0; }\n")
  eq(ok, false)
  has(h.message_of(e), "tracepoint net:no_such_tp does not exist on this kernel")
end

-- CapEff: bit 21 CAP_SYS_ADMIN or bit 39 CAP_BPF.
function T.privilege_from_capabilities()
  eq(program.can_load_bpf("CapEff:\t000001ffffffffff\n"), true)
  eq(program.can_load_bpf("CapEff:\t0000000000200000\n"), true)
  eq(program.can_load_bpf("CapEff:\t0000008000000000\n"), true)
  eq(program.can_load_bpf("CapEff:\t0000000000000000\n"), false)
end

return T
