-- recipes/forkbomb.lua: a fork bomb stopped at its first pids.max hit, and the process tree that
-- caused it printed.
--   sbx recipes/forkbomb.lua [--pids 32] [-- COMMAND...]
-- (default COMMAND: a shell function that starts two copies of itself forever)
-- The handler runs in this process, the sandbox's supervisor: on cgroup v2 the kernel notifies
-- pids.events; v1 counts there without notifying, so sbx reads it every 50 ms.
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "pids", arg = "required", key = "pids", meta = "N", help = "the group's pids.max (default 32)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local function say(fmt, ...) io.write((fmt):format(...), "\n"); io.stdout:flush() end

return {
  description = "a fork bomb stopped at its first pids.max hit, with the tree that caused it",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("forkbomb.lua: ", rest, "\n"); return 2 end
    if opts.help then io.write("usage: sbx recipes/forkbomb.lua [options] [-- COMMAND...]\n\n", getopt.usage(OPTIONS), "\n"); return 0 end
    local pids = tonumber(opts.pids or 32)
    if not pids or pids < 2 then io.stderr:write("forkbomb.lua: --pids: expected a number of at least 2\n"); return 2 end
    local argv = #rest > 0 and rest or { "/bin/sh", "-c", "exec 2>/dev/null; bomb() { bomb | bomb & }; bomb; sleep 30" }
    local box = sbx.container{ rootfs = sbx.rootfs.busybox(), limits = { pids = pids } }
    local p = assert(box:spawn(argv))
    say("started under pids.max %d", pids)
    local stopped
    p:on("pids.max", function(ev, proc)
      if stopped then return end
      stopped = true
      local tree = proc:processes()
      assert(proc:freeze())  -- the tree stays as it was while it is printed
      say("pids.max hit (%d refused forks so far): stopped; its %d processes:", ev.count, #tree)
      local by_parent, pids_in = {}, {}
      for _, pr in ipairs(tree) do pids_in[pr.pid] = pr end
      for _, pr in ipairs(tree) do
        local parent = pids_in[pr.ppid] and pr.ppid or 0
        by_parent[parent] = by_parent[parent] or {}
        table.insert(by_parent[parent], pr)
      end
      local function show(parent, depth)
        for _, pr in ipairs(by_parent[parent] or {}) do
          say("  %s%d %s", ("  "):rep(depth), pr.pid, pr.cmd ~= "" and pr.cmd or pr.comm)
          show(pr.pid, depth + 1)
        end
      end
      show(0, 0)
      proc:kill("KILL")
      proc:thaw()
    end)
    local st = p:wait()
    if stopped then return 1 end
    say("it ended by itself (%s) without reaching pids.max", st.signal and ("signal " .. st.signal) or ("code " .. st.code))
    return st.status
  end,
}
