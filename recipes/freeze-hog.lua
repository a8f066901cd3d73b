-- recipes/freeze-hog.lua: a CPU hog frozen while the host's own CPU pressure is high, thawed once it
-- had a pause, for a while; then a report of how often and how long it was held.
--   sbx recipes/freeze-hog.lua [--pause 2] [--duration 10] [--trigger "some 200ms/2s"] [-- COMMAND...]
-- (default COMMAND: three busy loops, more than this machine's two cpus can run at once)
-- The trigger is a PSI trigger on /proc/pressure/cpu (without CAP_SYS_RESOURCE the kernel takes
-- only windows that are whole multiples of 2 s); freeze and thaw are the sandbox's cgroup freezer.
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "pause", arg = "required", key = "pause", meta = "SECS", help = "how long it stays frozen (default 2)" },
  { long = "duration", arg = "required", key = "duration", meta = "SECS", help = "how long the hog runs (default 10)" },
  { long = "trigger", arg = "required", key = "trigger", meta = "PSI", help = "the host's cpu pressure that freezes it (default \"some 200ms/2s\")" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local function say(fmt, ...) io.write((fmt):format(...), "\n"); io.stdout:flush() end

return {
  description = "a CPU hog frozen while the host's cpu pressure is high, thawed after a pause",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("freeze-hog.lua: ", rest, "\n"); return 2 end
    if opts.help then io.write("usage: sbx recipes/freeze-hog.lua [options] [-- COMMAND...]\n\n", getopt.usage(OPTIONS), "\n"); return 0 end
    local pause, duration = tonumber(opts.pause or 2), tonumber(opts.duration or 10)
    if not pause or not duration or pause <= 0 or duration <= 0 then
      io.stderr:write("freeze-hog.lua: --pause and --duration: expected seconds\n")
      return 2
    end
    local argv = #rest > 0 and rest or { "/bin/sh", "-c", "for i in 1 2 3; do (while :; do :; done) & done; wait" }
    local box = sbx.container{ rootfs = sbx.rootfs.busybox(), limits = { pids = 64 } }
    local core = require "sbx.core"
    local p = assert(box:spawn(argv))
    local t0 = core.monotonic()
    local frozen_at, held, times = nil, 0, 0
    local trigger, err = sbx.loop.pressure("cpu", opts.trigger or "some 200ms/2s", function()
      if frozen_at or not p.running then return end
      if not p:freeze() then return end
      frozen_at, times = core.monotonic(), times + 1
      say("%5.1f s: the host's cpu pressure is high: frozen", frozen_at - t0)
      sbx.after(pause, function()
        if not frozen_at then return end
        p:thaw()
        held = held + core.monotonic() - frozen_at
        say("%5.1f s: thawed", core.monotonic() - t0)
        frozen_at = nil
      end)
    end)
    if not trigger then
      p:kill("KILL")
      p:wait()
      io.stderr:write("freeze-hog.lua: ", err, "\n")
      return 1
    end
    say("a hog started (%s); frozen for %ss whenever the host's cpu pressure is above %s", argv[#argv], pause, opts.trigger or "some 200ms/2s")
    sbx.after(duration, function()
      if frozen_at then p:thaw(); held = held + core.monotonic() - frozen_at; frozen_at = nil end
      p:kill("KILL")
    end)
    p:wait()
    trigger:cancel()
    say("done after %.1f s: frozen %d times, %.1f s in all", core.monotonic() - t0, times, held)
    return 0
  end,
}
