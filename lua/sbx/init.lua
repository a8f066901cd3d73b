-- sbx: the Lua face of the sandbox core. `local sbx = require "sbx"`.
-- Conventions: misuse (wrong type, unknown key, bad unit) raises at the caller's line; an
-- operational failure returns nil, message, errno; a command that ran and failed is a status
-- table ({ code = 1 } or { signal = 9 }), not an error.
local core = require "sbx.core"

local sbx = {
  version = core.version,
  sys = core.sys,    -- one-to-one with the syscalls: unshare, setns, clone, mount, pivot_root ...
  json = core.json,  -- encode(value [, indent]), decode(text)
}

local mounts = require "sbx.mounts"
for name, fn in pairs(mounts) do sbx[name] = fn end  -- sbx.bind, sbx.ro_bind, sbx.tmpfs, sbx.proc ...

sbx.ns = require "sbx.ns"
sbx.cgroup = require "sbx.cgroup"
sbx.image = require "sbx.image"
sbx.net = require "sbx.net"
sbx.seccomp = require "sbx.seccomp"
-- sbx.audit(pid): what isolates a process (namespaces, caps, seccomp, cgroup, masks), as a table.
function sbx.audit(pid) return require("sbx.audit").audit(pid) end
sbx.container = require("sbx.container").new

local features
-- What this host offers: { cgroup = 1|2|"hybrid", userns = true, overlay = true, ... }.
function sbx.features(refresh)
  if not features or refresh then features = core.features() end
  return features
end

sbx.rootfs = require "sbx.rootfs"

-- The event loop (lua/sbx/loop.lua) and what a running sandbox reports to it (lua/sbx/events.lua:
-- p:on, p:freeze, p:thaw, p:limits, p:processes) load on first use: a run without a policy pays
-- nothing for them.
setmetatable(sbx, { __index = function(t, k)
  if k == "loop" then
    local loop = require "sbx.loop"
    rawset(t, "loop", loop)
    return loop
  end
end })
-- sbx.probe(description) -> results: the attack probe inside a sandbox of that description.
function sbx.probe(description) return require("sbx.probe").probe(description) end
function sbx.after(s, fn) return require("sbx.loop").after(s, fn) end
function sbx.every(s, fn) return require("sbx.loop").every(s, fn) end
for module, names in pairs({ ["sbx.events"] = { "on", "freeze", "thaw", "limits", "processes" },
                             ["sbx.hooks"] = { "exec_as_root", "write_file", "read_file" } }) do
  for _, name in ipairs(names) do
    core.Process[name] = function(...)
      require(module)  -- replaces these with the real methods
      return core.Process[name](...)
    end
  end
end

-- Long-running sandboxes (sbx run -d, box:start): sbx.list() and sbx.get(name).
local sandboxes = require "sbx.sandboxes"
sbx.list, sbx.get = sandboxes.list, sandboxes.get

-- sbx.gc() -> { "what was removed", ... } | nil, err: everything killed sbx processes left -
-- detached sandboxes whose supervisor is gone, then cgroups, veths, published ports, leases,
-- network files, unused bridges, store scratch and drafts of owners that are gone (a recycled
-- pid is not the owner: see the owner records).
function sbx.gc()
  local removed = sandboxes.gc()
  local rest, err = require("sbx.core").gc()
  if not rest then return nil, err end
  for _, r in ipairs(rest) do removed[#removed + 1] = r end
  return removed
end

-- Sizes and durations as a person types them: sbx.size("64M") == 67108864.
function sbx.size(text)
  local n, err = core.parse_size(text)
  if not n then error(err, 2) end
  return n
end

sbx.dirs = core.dirs  -- { runtime = "/run/sbx", cache = "/var/cache/sbx" }

return sbx
