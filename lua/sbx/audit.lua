-- sbx.audit(pid) / `sbx audit [PID]`: what isolates a process, read from /proc (any process:
-- an sbx sandbox, a bwrap or runc container, or the host itself): namespaces shared with the
-- host's init or not, capability sets, seccomp mode and filters, no_new_privs, cgroup and its
-- limits, masked and read-only paths, mounts.
local core = require "sbx.core"

local M = {}

local function read(path)
  local f = io.open(path)
  if not f then return nil end
  local t = f:read("*a")
  f:close()
  return t
end

M.masked = { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
             "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap" }
M.readonly = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

function M.audit(pid)
  pid = tonumber(pid or core.sys.getpid())
  local status = read(("/proc/%d/status"):format(pid))
  if not status then return nil, ("audit: no process %d (or it is not visible from here)"):format(pid) end
  status = "\n" .. status
  local function field(name) return status:match("\n" .. name .. ":%s*([^\n]*)") end
  local r = { pid = pid, name = field("Name"), namespaces = {}, caps = {} }
  -- namespaces: the same identity as the host's init means shared
  local ids, host = require("sbx.ns").ids(pid) or {}, require("sbx.ns").ids(1) or {}
  -- (the host init's own cannot always be read, even by root: then it is not known, not "own")
  for _, k in ipairs(core.ns_kinds()) do
    local a = ids[k.name]
    if a then
      r.namespaces[k.name] = host[k.name] == nil and "unknown" or (a == host[k.name]) and "shared with the host" or "own"
    end
  end
  for _, set in ipairs({ "CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb" }) do
    local hex = field(set) or "0"
    r.caps[set] = { hex = hex, names = core.cap_names(hex) }
  end
  local mode = tonumber(field("Seccomp") or "0")
  r.seccomp = { mode = ({ [0] = "disabled", "strict", "filter" })[mode] or tostring(mode), filters = tonumber(field("Seccomp_filters") or "0") }
  r.no_new_privs = field("NoNewPrivs") == "1"
  r.uid_map = (read(("/proc/%d/uid_map"):format(pid)) or ""):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  -- cgroup, and the limits its files hold
  r.cgroups = {}
  for line in (read(("/proc/%d/cgroup"):format(pid)) or ""):gmatch("[^\n]+") do
    local _, ctrl, path = line:match("^(%d+):([^:]*):(.*)$")
    if ctrl then r.cgroups[ctrl == "" and "unified" or ctrl] = path end
  end
  local limits = {}
  local layout = require("sbx.cgroup").layout()
  local function limit(file, base, path)
    local v = base and read(base .. path .. "/" .. file)
    if v then limits[file] = v:gsub("%s+$", "") end
  end
  if layout.layout == "2" then
    local path = r.cgroups.unified
    for _, f in ipairs({ "memory.max", "cpu.max", "pids.max" }) do limit(f, layout.v2_root, path) end
  else
    limit("memory.limit_in_bytes", layout.v1.memory, r.cgroups.memory or "")
    limit("cpu.cfs_quota_us", layout.v1.cpu, r.cgroups["cpu,cpuacct"] or r.cgroups.cpu or "")
    limit("pids.max", layout.v1.pids, r.cgroups.pids or "")
  end
  r.limits = limits
  -- mounts as the process sees them: masked (something mounted over them) and read-only paths
  local mounts, over, ro = 0, {}, {}
  for line in (read(("/proc/%d/mountinfo"):format(pid)) or ""):gmatch("[^\n]+") do
    mounts = mounts + 1
    local point, opts = line:match("^%S+ %S+ %S+ %S+ (%S+) (%S+)")
    if point then
      over[point] = true
      if opts:match("^ro") then ro[point] = true end
    end
  end
  r.mounts = mounts
  r.masked, r.readonly = {}, {}
  for _, p in ipairs(M.masked) do if over[p] then r.masked[#r.masked + 1] = p end end
  for _, p in ipairs(M.readonly) do if ro[p] then r.readonly[#r.readonly + 1] = p end end
  r.root = (read(("/proc/%d/mountinfo"):format(pid)) or ""):match("^%S+ %S+ %S+ (%S+) / ") or "?"
  -- secrets it can see: sbx.workspace.SECRETS of each home in its root (its $HOME, /root, /home/*)
  -- that are there and not masked; readable by its uid as the mode bits say
  local uid = tonumber((field("Uid") or ""):match("^%d+"))
  local proot = ("/proc/%d/root"):format(pid)
  local env = read(("/proc/%d/environ"):format(pid)) or ""
  local homes, seen = {}, {}
  local function add(h) if h and h ~= "" and h ~= "/" and not seen[h] then seen[h] = true; homes[#homes + 1] = h end end
  add(env:match("%zHOME=([^%z]*)") or env:match("^HOME=([^%z]*)"))
  add("/root")
  for _, n in ipairs(core.list_dir(proot .. "/home")) do add("/home/" .. n) end
  r.secrets = {}
  for _, h in ipairs(homes) do
    for _, s in ipairs(require("sbx.workspace").SECRETS) do
      local path = h .. "/" .. s
      local kind, owner, _, mode = core.lstat(proot .. path)
      if kind and not over[path] then
        local bits = owner == uid and math.floor(mode / 64) % 8 or mode % 8
        local readable = uid == 0 or math.floor(bits / 4) % 2 == 1
        r.secrets[#r.secrets + 1] = { path = path, readable = readable, mode = mode, owner = owner }
      end
    end
  end
  return r
end

-- The report as text, one line per topic.
function M.text(r)
  local out = { ("process %d (%s)"):format(r.pid, r.name or "?") }
  local ns = {}
  for _, k in ipairs(core.ns_kinds()) do
    local v = r.namespaces[k.name]
    if v then ns[#ns + 1] = k.name .. "=" .. (v == "own" and "own" or v == "unknown" and "unknown" or "HOST") end
  end
  out[#out + 1] = "namespaces:   " .. table.concat(ns, " ")
  out[#out + 1] = "uid map:      " .. (r.uid_map ~= "" and r.uid_map or "?")
  local eff = r.caps.CapEff
  out[#out + 1] = ("capabilities: %d effective (%s)%s"):format(#eff.names, eff.hex,
    #eff.names > 0 and #eff.names <= 16 and (": " .. table.concat(eff.names, " ")) or "")
  out[#out + 1] = ("bounding:     %d (%s)"):format(#r.caps.CapBnd.names, r.caps.CapBnd.hex)
  out[#out + 1] = ("seccomp:      %s, %d filter(s)"):format(r.seccomp.mode, r.seccomp.filters)
  out[#out + 1] = "no_new_privs: " .. tostring(r.no_new_privs)
  local cg, lim = {}, {}
  for k, v in pairs(r.cgroups) do cg[#cg + 1] = k .. ":" .. v end
  table.sort(cg)
  for k, v in pairs(r.limits) do lim[#lim + 1] = k .. "=" .. v end
  table.sort(lim)
  out[#out + 1] = "cgroup:       " .. (cg[1] and (cg[#cg] .. (#cg > 1 and (" (+" .. (#cg - 1) .. " more)") or "")) or "?")
  out[#out + 1] = "limits:       " .. (#lim > 0 and table.concat(lim, " ") or "none")
  out[#out + 1] = "masked:       " .. (#r.masked > 0 and table.concat(r.masked, " ") or "none")
  out[#out + 1] = "read-only:    " .. (#r.readonly > 0 and table.concat(r.readonly, " ") or "none")
  out[#out + 1] = ("mounts:       %d"):format(r.mounts)
  local sec = {}
  for _, s in ipairs(r.secrets or {}) do
    sec[#sec + 1] = s.path .. (s.readable and " (readable)" or (" (mode %04o, owner %d: not readable by it)"):format(s.mode, s.owner))
  end
  out[#out + 1] = "secrets:      " .. (#sec > 0 and table.concat(sec, ", ") or "none visible")
  return table.concat(out, "\n") .. "\n"
end

return M
