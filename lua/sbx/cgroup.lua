-- sbx.cgroup: a cgroup is a directory (one per hierarchy on v1), limits are files, membership
-- is cgroup.procs. The same calls work on cgroup v2, v1 and hybrid hosts.
--   local cg = sbx.cgroup.create{ name = "web", limits = { memory = "64M", cpu = 0.5, pids = 64 } }
--   cg:set("memory.max", "32M")  cg:limit{ memory = "48M" }  cg:get("memory.current")  cg:add(pid)  cg:procs()  cg:stat()
--   cg:events()  cg:freeze()  cg:thaw()  cg:kill()  cg:remove()     sbx.cgroup.open(path)
local core = require "sbx.core"

local M = {}
local C = core.cgroup

-- kind, and whether "max" (no limit) is a value
local LIMITS = { memory = { "size", true }, memory_swap = { "size", true }, memory_reservation = { "size", true },
                 cpu = { "number", true }, cpu_period = { "number" }, cpu_weight = { "number" },
                 cpu_burst = { "count" }, cpu_idle = { "count" },
                 cpu_rt_period = { "number" }, cpu_rt_runtime = { "count" }, cpuset = { "string" },
                 cpuset_mems = { "string" }, pids = { "number", true }, cpu_shares = { "number" },
                 memory_swappiness = { "count" }, oom_kill_disable = { "boolean" }, unified = { "table" },
                 io = { "table" }, io_weight = { "number" }, hugetlb = { "hugetlb" } }
local KEYS = {}
for k in pairs(LIMITS) do KEYS[#KEYS + 1] = k end
KEYS[#KEYS + 1] = "devices"
table.sort(KEYS)

-- Portable limits (docker's words and units) -> numbers; raises at the caller's level.
function M.limits(limits, level, prefix)
  level, prefix = (level or 1) + 1, prefix or "limits"
  local out = {}
  for k, v in pairs(limits or {}) do
    local kind, max = unpack(LIMITS[k] or {})
    if not kind then
      error(("%s: unknown key '%s' (expected %s)"):format(prefix, tostring(k), table.concat(KEYS, ", ")), level)
    elseif max and v == "max" then
      out[k] = "max"
    elseif kind == "size" then
      local n, err = core.parse_size(v)
      if not n then error(prefix .. "." .. k .. ": " .. err, level) end
      out[k] = n
    elseif kind == "number" or kind == "count" then
      if type(v) ~= "number" or v < 0 or (v == 0 and kind == "number") then
        error(("%s.%s: expected a %s number%s, got %s"):format(prefix, k, kind == "count" and "non-negative" or "positive",
                                                              max and ' or "max"' or "", tostring(v)), level)
      end
      out[k] = v
    elseif kind == "table" then
      if type(v) ~= "table" then error(("%s.%s: expected a list, got %s"):format(prefix, k, tostring(v)), level) end
      out[k] = v
    elseif kind == "hugetlb" then  -- { { size = "2MB", limit = "64M" | "max" }, ... }
      if type(v) ~= "table" then error(('%s.%s: expected a list of { size = "2MB", limit = "64M" }'):format(prefix, k), level) end
      out[k] = {}
      for i, e in ipairs(v) do
        local where = ("%s.%s[%d]"):format(prefix, k, i)
        if type(e) ~= "table" or type(e.size) ~= "string" then error(where .. ': expected { size = "2MB", limit = "64M" }', level) end
        for ek in pairs(e) do
          if ek ~= "size" and ek ~= "limit" then error(("%s: unknown key '%s' (expected limit, size)"):format(where, tostring(ek)), level) end
        end
        local n, err = e.limit, nil
        if n ~= "max" then n, err = core.parse_size(e.limit) end
        if not n then error(where .. ".limit: " .. tostring(err), level) end
        out[k][i] = { size = e.size, limit = n }
      end
    elseif kind == "boolean" then
      if type(v) ~= "boolean" then error(("%s.%s: expected true or false, got %s"):format(prefix, k, tostring(v)), level) end
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

-- g:limit{ memory = "32M", pids = "max" }: limits in create's words written to the live group,
-- all of them or none -> true | nil, message, errno
do
  local mt = debug.getregistry()["sbx.Cgroup"]
  local raw = mt and mt.limit
  if raw then
    mt.limit = function(g, limits)
      if type(limits) ~= "table" then error("cgroup:limit: expected a table of limits", 2) end
      return raw(g, M.limits(limits, 2, "cgroup:limit"))
    end
  end
end

-- The host's layout: { layout = "2"|"1"|"hybrid", v2_root =, v2_controllers =, v1 = { memory = dir } }
M.layout = C.layout
-- Removes groups left by a killed sbx (named sbx-PID-N, PID gone); returns their paths.
M.gc = C.gc

return M
