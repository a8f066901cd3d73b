-- recipes/connect-only.lua: a command may connect to one address only (127.0.0.1:8080 by default);
-- every other destination is refused with ECONNREFUSED and logged, with a count per destination.
--   sbx recipes/connect-only.lua [--allow 127.0.0.1:8080] [--net host] [-- COMMAND...]
-- connect(2) stops in the kernel, the handler reads the address from the caller's memory and
-- answers. A refusal is a decision the kernel enforces; an allowed call goes on with the address
-- as the caller then holds it (a racing thread could change it: for a hard boundary, a network
-- namespace and nftables are the tools; see docs/networking.md).
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "allow", arg = "required", key = "allow", meta = "IP:PORT", help = "the one destination allowed (default 127.0.0.1:8080)" },
  { long = "net", arg = "required", key = "net", meta = "MODE", help = "the sandbox's network (default loopback; host: the host's)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

return {
  description = "connect only to one address; refuse and log every other destination",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("connect-only.lua: ", rest, "\n"); return 2 end
    if opts.help then io.write("usage: sbx recipes/connect-only.lua [options] [-- COMMAND...]\n\n", getopt.usage(OPTIONS), "\n"); return 0 end
    local allowed = "inet " .. (opts.allow or "127.0.0.1:8080")
    local argv = #rest > 0 and rest or { "/bin/sh", "-c", "nc -w 2 10.9.8.7 80 </dev/null; nc -w 2 10.9.8.7 80 </dev/null; nc -w 2 127.0.0.1 8080 </dev/null; true" }
    local refused, order = {}, {}
    local box = sbx.container{
      rootfs = sbx.rootfs.busybox(), net = opts.net,
      seccomp = { notify = { "connect" }, on_call = function(call)
        local to = call:sockaddr(2) or "?"
        if to == allowed or to:match("^unix ") then return "allow" end
        if not refused[to] then refused[to] = 0; order[#order + 1] = to end
        refused[to] = refused[to] + 1
        io.stderr:write(("connect-only: refused %s (pid %d)\n"):format(to, call.pid))
        return "deny", "ECONNREFUSED"
      end },
    }
    local st = assert(box:run(argv))
    io.write(("allowed %s; refused %d destination(s)\n"):format(allowed, #order))
    for _, to in ipairs(order) do io.write(("  %4d  %s\n"):format(refused[to], to)) end
    return st.status
  end,
}
