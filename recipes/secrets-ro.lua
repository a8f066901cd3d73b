-- recipes/secrets-ro.lua: files under /secrets open only read-only, and only for one program; any
-- other open there is refused (EACCES) and reported.
--   sbx recipes/secrets-ro.lua --secrets DIR [--program /bin/cat] [-- COMMAND...]
-- DIR (a host directory) is bound read-write at /secrets, so the kernel alone would let the sandbox
-- write there: the decision is the handler's. The supervisor opens the checked path itself
-- (resolved inside the sandbox's root, its symlinks kept inside) and hands the caller that fd, so a
-- thread that rewrites the path after the check gets the checked file, not another.
-- --program compares the caller's executable file (its /proc/PID/exe) with that path in the
-- sandbox; a busybox root runs every applet from one file, so there it names busybox as a whole.
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "secrets", arg = "required", key = "secrets", meta = "DIR", help = "the host directory seen at /secrets" },
  { long = "program", arg = "required", key = "program", meta = "PATH", help = "the only program that may read it (default: any)" },
  { long = "bind", arg = "required", key = "bind", meta = "SRC:DST", help = "also bind SRC at DST read-only (a program to run)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local O_ACCMODE, O_RDONLY = 3, 0

return {
  description = "open under /secrets only read-only and only for one program",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("secrets-ro.lua: ", rest, "\n"); return 2 end
    if opts.help or not opts.secrets then
      io.write("usage: sbx recipes/secrets-ro.lua --secrets DIR [options] [-- COMMAND...]\n\n", getopt.usage(OPTIONS), "\n")
      return opts.help and 0 or 2
    end
    local argv = #rest > 0 and rest or { "/bin/sh", "-c", "cat /secrets/*; echo x > /secrets/new" }
    local mounts = { sbx.bind(opts.secrets, "/secrets") }
    if opts.bind then
      local src, dst = opts.bind:match("^(.-):(.+)$")
      mounts[#mounts + 1] = sbx.ro_bind(src or opts.bind, dst or opts.bind)
    end
    local refused = 0
    local function refuse(call, path, why)
      refused = refused + 1
      io.stderr:write(("secrets-ro: refused %s for pid %d: %s\n"):format(path, call.pid, why))
      return "deny", "EACCES"
    end
    local box = sbx.container{
      rootfs = sbx.rootfs.busybox(), mounts = mounts,
      seccomp = { notify = { "openat", "open", "creat", "truncate", "unlink", "unlinkat", "rename", "renameat", "renameat2" },
                  on_call = function(call)
        local arg = (call.name == "openat" or call.name == "unlinkat" or call.name == "renameat" or call.name == "renameat2") and 2 or 1
        local path = call:string(arg)
        if not path then return "deny", "EACCES" end
        local under = path == "/secrets" or path:sub(1, 9) == "/secrets/"
        if not under then return "allow" end
        if call.name ~= "openat" and call.name ~= "open" then return refuse(call, path, call.name) end
        local flags = call.args[call.name == "openat" and 3 or 2]
        if flags % 4 ~= O_RDONLY or math.floor(flags / 64) % 2 == 1 or math.floor(flags / 512) % 2 == 1 then
          return refuse(call, path, "not read-only")
        end
        if opts.program and not call:runs(opts.program) then return refuse(call, path, "not " .. opts.program) end
        return "open", path  -- the checked path, opened by the supervisor
      end },
    }
    local st = assert(box:run(argv))
    io.write(("done (%s); %d access(es) refused\n"):format(st.signal and ("signal " .. st.signal) or ("exit " .. st.code), refused))
    return st.status
  end,
}
