-- recipes/grow-memory.lua: a memory limit that grows in steps while the sandbox needs it, up to a
-- ceiling; there the sandbox is killed and what it was doing is reported.
--   sbx recipes/grow-memory.lua [--start 32M] [--step 16M] [--ceiling 96M] [-- COMMAND...]
-- (default COMMAND: busybox awk holding ~150 MiB of strings, its memory growing steadily)
-- cgroup v2: memory.high is the current step — the kernel throttles the sandbox there and says so
-- in memory.events, and the handler raises it; memory.max is the ceiling plus a step, so that at
-- the ceiling the sandbox is throttled (and then killed by the handler), not OOM-killed.
-- cgroup v1: memory.limit_in_bytes is the current step with the OOM killer off for the group
-- (memory.oom_control): at the limit the sandbox waits, the oom event arrives, the handler raises
-- the limit and it goes on.
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "start", arg = "required", key = "start", meta = "SIZE", help = "the first limit (default 32M)" },
  { long = "step", arg = "required", key = "step", meta = "SIZE", help = "how much each step adds (default 16M)" },
  { long = "ceiling", arg = "required", key = "ceiling", meta = "SIZE", help = "the most it gets (default 96M)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local function say(fmt, ...) io.write((fmt):format(...), "\n"); io.stdout:flush() end
local function mib(n) return ("%dM"):format(math.floor(n / 1048576)) end

return {
  description = "a memory limit that grows in steps up to a ceiling, then kill and report",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("grow-memory.lua: ", rest, "\n"); return 2 end
    if opts.help then io.write("usage: sbx recipes/grow-memory.lua [options] [-- COMMAND...]\n\n", getopt.usage(OPTIONS), "\n"); return 0 end
    local start, step, ceiling = sbx.size(opts.start or "32M"), sbx.size(opts.step or "16M"), sbx.size(opts.ceiling or "96M")
    if start > ceiling then io.stderr:write("grow-memory.lua: --start is above --ceiling\n"); return 2 end
    local argv = #rest > 0 and rest or { "awk", 'BEGIN { for (i = 0; i < 100000; i++) a[i] = sprintf("%1500d", i); print "held", i, "strings" }' }
    local v2 = false
    for _, c in ipairs(sbx.cgroup.layout().v2_controllers or {}) do if c == "memory" then v2 = true end end
    local limits = v2 and { memory = ceiling + step } or { memory = start, oom_kill_disable = true }
    local box = sbx.container{ rootfs = sbx.rootfs.busybox(), limits = limits }
    local p = assert(box:spawn(argv))
    local current = start
    local g = sbx.cgroup.open(p.cgroup)
    if v2 then assert(g:set("memory.high", tostring(start))) end
    say("started %s under %s (cgroup v%d), ceiling %s", table.concat(argv, " "), mib(start), v2 and 2 or 1, mib(ceiling))
    local ended_by_us = false
    local function grow(ev, proc)
      if ended_by_us then return end
      if current + step <= ceiling then
        current = current + step
        if v2 then assert(g:set("memory.high", tostring(current))) else assert(proc:limits{ memory = current }) end
        say("grew to %s", mib(current))
        return
      end
      ended_by_us = true
      local st = proc:stat()
      say("ceiling %s reached: killed; memory %s, peak %s; its processes:", mib(ceiling),
          mib(st and st.memory.current or 0), mib(st and st.memory.peak or 0))
      for _, pr in ipairs(proc:processes()) do say("  %6d %-10s %6.1f MiB  %s", pr.pid, pr.state, pr.rss / 1048576, pr.cmd) end
      proc:kill("KILL")
    end
    p:on(v2 and "memory.high" or "oom", grow)
    p:on("oom_kill", function() if not ended_by_us then say("the kernel's OOM killer ended it under %s", mib(current)) end end)
    local st = p:wait()
    if ended_by_us then return 1 end
    say("it ended by itself with %s under %s", st.signal and ("signal " .. st.signal) or ("code " .. st.code), mib(current))
    return st.status
  end,
}
