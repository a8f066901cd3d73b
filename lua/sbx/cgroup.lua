-- sbx.cgroup: a cgroup is a directory (one per hierarchy on v1), limits are files, membership
-- is cgroup.procs. The same calls work on cgroup v2, v1 and hybrid hosts.
--   local cg = sbx.cgroup.create{ name = "web", limits = { memory = "64M", cpu = 0.5, pids = 64 } }
--   cg:set("memory.max", "32M")  cg:get("memory.current")  cg:add(pid)  cg:procs()  cg:stat()
--   cg:events()  cg:freeze()  cg:thaw()  cg:kill()  cg:remove()     sbx.cgroup.open(path)
local core = require "sbx.core"

local M = {}
local C = core.cgroup

local LIMITS = { memory = "size", memory_swap = "size", cpu = "number", cpu_weight = "number",
                 cpuset = "string", pids = "number" }

-- Portable limits (docker's words and units) -> numbers; raises at the caller's level.
function M.limits(limits, level, prefix)
  level, prefix = (level or 1) + 1, prefix or "limits"
  local out = {}
  for k, v in pairs(limits or {}) do
    local kind = LIMITS[k]
    if not kind then
      error(("%s: unknown key '%s' (expected cpu, cpu_weight, cpuset, devices, io, memory, memory_swap, pids)"):format(prefix, tostring(k)), level)
    elseif kind == "size" then
      local n, err = core.parse_size(v)
      if not n then error(prefix .. "." .. k .. ": " .. err, level) end
      out[k] = n
    elseif kind == "number" then
      if type(v) ~= "number" or v <= 0 then error(("%s.%s: expected a positive number, got %s"):format(prefix, k, tostring(v)), level) end
      out[k] = v
    else
      out[k] = tostring(v)
    end
  end
  return out
end

-- create{ name = "web", parent = "", limits = {...} } -> sbx.Cgroup | nil, message, errno
function M.create(opts)
  if type(opts) ~= "table" or type(opts.name) ~= "string" then
    error('sbx.cgroup.create: expected { name = "...", parent =, limits = }', 2)
  end
  for k in pairs(opts) do
    if k ~= "name" and k ~= "parent" and k ~= "limits" then
      error(("sbx.cgroup.create: unknown key '%s' (expected name, parent, limits)"):format(tostring(k)), 2)
    end
  end
  return C.create(opts.name, opts.parent or "", M.limits(opts.limits, 2, "sbx.cgroup.create: limits"))
end

-- open(path): an existing group, "/sys/fs/cgroup/..." or relative to the roots ("/machine.slice/x").
function M.open(path)
  if type(path) ~= "string" then error("sbx.cgroup.open: expected a path", 2) end
  return C.open(path)
end

-- The host's layout: { layout = "2"|"1"|"hybrid", v2_root =, v2_controllers =, v1 = { memory = dir } }
M.layout = C.layout
-- Removes groups left by a killed sbx (named sbx-PID-N, PID gone); returns their paths.
M.gc = C.gc

return M
