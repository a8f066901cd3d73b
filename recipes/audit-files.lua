-- recipes/audit-files.lua: a file-access audit of a command (a build, a test suite): every open and
-- every program it starts, with the pid, whether it read or wrote, and a count per path.
--   sbx recipes/audit-files.lua [--log FILE] [--rootfs DIR] [-- COMMAND...]
-- (default COMMAND: a small "build" in the busybox root: reads a source, writes an output, runs
-- a tool). The calls stop in the kernel and sbx records them here, then lets them go on: an audit,
-- not a policy (a pointer argument can change after it is read; see recipes/secrets-ro.lua for a
-- broker that decides).
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "log", arg = "required", key = "log", meta = "FILE", help = "write every call there, one per line (default: only the summary)" },
  { long = "rootfs", arg = "required", key = "rootfs", meta = "DIR", help = "the root (default: the busybox root)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local O_ACCMODE, O_WRONLY, O_RDWR, O_CREAT = 3, 1, 2, 64

return {
  description = "a file-access audit log of a command: every open and exec, counted per path",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("audit-files.lua: ", rest, "\n"); return 2 end
    if opts.help then io.write("usage: sbx recipes/audit-files.lua [options] [-- COMMAND...]\n\n", getopt.usage(OPTIONS), "\n"); return 0 end
    local argv = #rest > 0 and rest or { "/bin/sh", "-c", "echo 'int main;' > /tmp/main.c; cat /tmp/main.c > /tmp/main.o; ls /etc > /dev/null; wc -c /tmp/main.o" }
    local log = opts.log and assert(io.open(opts.log, "w"))
    local count, order = {}, {}
    local function record(kind, path, pid)
      local key = kind .. " " .. path
      if not count[key] then count[key] = 0; order[#order + 1] = key end
      count[key] = count[key] + 1
      if log then log:write(("%d %s %s\n"):format(pid, kind, path)) end
    end
    local box = sbx.container{
      rootfs = opts.rootfs or sbx.rootfs.busybox(),
      seccomp = { notify = { "openat", "execve" }, on_call = function(call)
        if call.name == "execve" then
          record("exec", call:string(1) or "?", call.pid)
        else
          local flags = call.args[3]
          local mode = flags % 4 == O_WRONLY and "write" or flags % 4 == O_RDWR and "rw" or "read"
          if math.floor(flags / O_CREAT) % 2 == 1 then mode = mode .. "+create" end
          record(mode, call:string(2) or "?", call.pid)
        end
        return "allow"
      end },
    }
    local st = assert(box:run(argv))
    if log then log:close() end
    io.write(("audit of %s: exit %s, %d distinct accesses\n"):format(argv[#argv], st.signal and ("signal " .. st.signal) or st.code, #order))
    for _, key in ipairs(order) do io.write(("  %4d  %s\n"):format(count[key], key)) end
    return st.status
  end,
}
