-- An OCI bundle's config.json -> the plan (then core.plan, through the plan's one declaration).
-- Strict: a key this reader does not know, or a feature sbx does not do yet, is an error naming
-- its path in config.json - never silently ignored.
local core = require "sbx.core"

local M = {}

-- `doc` names the JSON document in errors (config.json unless told)
local function fail(path, msg, doc) error(("%s: %s: %s"):format(doc or "config.json", path, msg), 0) end

-- keys of t must be in `known` (a set); `path` names t in errors
local function only(t, known, path, doc)
  if t == nil then return {} end
  if type(t) ~= "table" then fail(path, "expected an object", doc) end
  for k in pairs(t) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      fail(path .. "." .. tostring(k), "unknown or unsupported field (this reader knows: " .. table.concat(names, ", ") .. ")", doc)
    end
  end
  return t
end

local function set(list) local s = {} for _, k in ipairs(list) do s[k] = true end return s end

local function none(v, path, why)
  if v == nil or v == "" or v == false or (type(v) == "table" and next(v) == nil) then return end
  fail(path, why or "not supported by sbx yet")
end

local NS = { mount = "mnt", network = "net", pid = "pid", ipc = "ipc", uts = "uts", user = "user", cgroup = "cgroup", time = "time" }

local function options(list, path)
  local o = {}
  for i, x in ipairs(list or {}) do
    if type(x) ~= "string" then fail(("%s[%d]"):format(path, i), "expected a string") end
    local k, v = x:match("^([^=]+)=(.*)$")
    o[k or x] = v or true
  end
  return o
end

local function mount_op(m, i, plan, bundle)
  local path = ("mounts[%d]"):format(i)
  only(m, set { "destination", "type", "source", "options" }, path)
  local dest = m.destination
  if type(dest) ~= "string" or dest:sub(1, 1) ~= "/" then fail(path .. ".destination", "expected an absolute path") end
  local o = options(m.options, path .. ".options")
  local kind = m.type or ((o.bind or o.rbind) and "bind") or "none"
  if kind == "proc" then return { kind = "proc", dest = dest } end
  if kind == "tmpfs" and dest == "/dev" then return { kind = "dev", dest = dest } end  -- sbx's minimal /dev (devpts, shm, mqueue in it)
  if kind == "devpts" and dest == "/dev/pts" then return nil end                   -- part of that /dev
  if kind == "tmpfs" then
    local size = o.size and assert(core.parse_size(o.size)) or nil
    return { kind = "tmpfs", dest = dest, size = size, mode = o.mode and tonumber(o.mode, 8) or nil }
  end
  if kind == "mqueue" then return { kind = "mqueue", dest = dest } end
  if kind == "sysfs" then return { kind = "ro-bind", source = "/sys", dest = dest } end  -- the host's, read-only
  -- without a cgroup namespace runc shows the host's hierarchy read-only: so does this
  if kind == "cgroup" then return { kind = "ro-bind", source = "/sys/fs/cgroup", dest = dest } end
  if kind == "bind" or o.bind or o.rbind then
    local src = m.source
    if type(src) ~= "string" then fail(path .. ".source", "expected a path") end
    if src:sub(1, 1) ~= "/" then src = bundle .. "/" .. src end
    return { kind = o.ro and "ro-bind" or "bind", source = src, dest = dest }
  end
  fail(path .. ".type", ("'%s' mounts are not supported by sbx yet"):format(tostring(kind)))
end

-- An amount of linux.resources: > 0 the limit, negative none ("max"), 0 or absent unchanged (nil).
local function amount(v, path, doc)
  if v == nil or v == 0 then return nil end
  if type(v) ~= "number" or v ~= math.floor(v) then fail(path, "expected a whole number", doc) end
  return v < 0 and "max" or v
end

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- linux.resources (of config.json, or given to `update`) -> the plan's limits, over `base` (the
-- container's limits for an update; nil for create): one mapping for both. What a value means is
-- runc's: > 0 the limit, -1 none, 0 or absent unchanged; a quota or a period alone keeps the other.
-- Returns nil when there are no limits at all. `path` names r in errors; `doc` its document.
-- Raises "DOC: PATH.FIELD: why" (a field sbx does not enforce is an error, never ignored).
function M.limits(r, base, path, doc)
  path = path or "linux.resources"
  r = only(r, set { "memory", "cpu", "pids", "devices", "blockIO" }, path, doc)
  local limits = copy(base)
  local mem = only(r.memory, set { "limit", "swap", "reservation", "kernel", "kernelTCP", "checkBeforeUpdate" }, path .. ".memory", doc)
  -- obsolete in the kernel (v2 has none; v1 no longer enforces it) and ignored by runc too
  if (mem.kernel or 0) ~= 0 or (mem.kernelTCP or 0) ~= 0 then
    io.stderr:write("sbx oci: ", path, ".memory.kernel / kernelTCP: kernel memory limits are obsolete and ignored\n")
  end
  limits.memory = amount(mem.limit, path .. ".memory.limit", doc) or limits.memory
  limits.memory_swap = amount(mem.swap, path .. ".memory.swap", doc) or limits.memory_swap
  limits.memory_reservation = amount(mem.reservation, path .. ".memory.reservation", doc) or limits.memory_reservation
  -- no memory limit takes the swap limit with it (it is memory + swap)
  if limits.memory == "max" and mem.swap == nil and limits.memory_swap then limits.memory_swap = "max" end
  local cpu = only(r.cpu, set { "shares", "quota", "period", "cpus", "mems", "realtimePeriod", "realtimeRuntime" }, path .. ".cpu", doc)
  local period = amount(cpu.period, path .. ".cpu.period", doc)
  if period == "max" then fail(path .. ".cpu.period", "expected microseconds (1000..1000000)", doc) end
  local old_period = limits.cpu_period or 100000
  limits.cpu_period = period or limits.cpu_period
  local quota = amount(cpu.quota, path .. ".cpu.quota", doc)
  if quota == "max" then
    limits.cpu = "max"
  elseif quota then
    limits.cpu = quota / (limits.cpu_period or 100000)
  elseif period and type(limits.cpu) == "number" then
    limits.cpu = limits.cpu * old_period / period  -- the same quota in the new period
  end
  local shares = amount(cpu.shares, path .. ".cpu.shares", doc)
  if shares == "max" then fail(path .. ".cpu.shares", "expected a positive number", doc) end
  if shares then limits.cpu_weight = math.floor(1 + ((math.max(shares, 2) - 2) * 9999) / 262142) end
  for key, field in pairs({ realtimePeriod = "cpu_rt_period", realtimeRuntime = "cpu_rt_runtime" }) do
    local v = amount(cpu[key], path .. ".cpu." .. key, doc)
    if v == "max" then fail(path .. ".cpu." .. key, "expected microseconds", doc) end
    limits[field] = v or limits[field]
  end
  for key, field in pairs({ cpus = "cpuset", mems = "cpuset_mems" }) do
    if cpu[key] ~= nil and type(cpu[key]) ~= "string" then fail(path .. ".cpu." .. key, 'expected a list like "0-1"', doc) end
    if cpu[key] and cpu[key] ~= "" then limits[field] = cpu[key] end
  end
  local pids = only(r.pids, set { "limit" }, path .. ".pids", doc)
  limits.pids = amount(pids.limit, path .. ".pids.limit", doc) or limits.pids
  local bio = only(r.blockIO, set { "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                                    "throttleReadIOPSDevice", "throttleWriteIOPSDevice" }, path .. ".blockIO", doc)
  for k in pairs(bio) do fail(path .. ".blockIO." .. k, "block io limits are not supported by sbx's OCI runtime yet", doc) end
  for i, d in ipairs(r.devices or {}) do
    only(d, set { "allow", "type", "major", "minor", "access" }, ("%s.devices[%d]"):format(path, i), doc)
    -- the usual first rule (deny everything) is sbx's own starting point: only allow rules are kept
    if d.allow then
      limits.devices = limits.devices or {}
      limits.devices[#limits.devices + 1] = ("%s %s:%s %s"):format(d.type or "a", d.major and d.major >= 0 and d.major or "*",
                                                                   d.minor and d.minor >= 0 and d.minor or "*", d.access or "rwm")
    elseif not (i == 1 and (d.access or "rwm") == "rwm" and d.major == nil) then
      fail(("%s.devices[%d]"):format(path, i), "a deny rule after the first is not supported by sbx yet", doc)
    end
  end
  return next(limits) and limits or nil
end

-- plan(config, bundle) -> plan table, { annotations = } ; raises "config.json: PATH: why"
function M.plan(c, bundle)
  only(c, set { "ociVersion", "process", "root", "hostname", "domainname", "mounts", "annotations", "linux", "hooks" }, "config")
  none(c.hooks, "hooks")
  none(c.domainname, "domainname")
  local p = only(c.process, set { "terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits",
                                  "noNewPrivileges", "oomScoreAdj", "apparmorProfile", "selinuxLabel" }, "process")
  if type(p.args) ~= "table" or type(p.args[1]) ~= "string" then fail("process.args", "expected the command, a list of strings") end
  none(p.terminal, "process.terminal", "a terminal (console socket) is not supported by sbx yet")
  none(p.apparmorProfile, "process.apparmorProfile", "AppArmor is not supported by sbx")
  none(p.selinuxLabel, "process.selinuxLabel", "SELinux is not supported by sbx")
  if p.oomScoreAdj and p.oomScoreAdj ~= 0 then fail("process.oomScoreAdj", "not supported by sbx yet") end
  local user = only(p.user, set { "uid", "gid", "additionalGids", "umask", "username" }, "process.user")
  local root = only(c.root, set { "path", "readonly" }, "root")
  if type(root.path) ~= "string" then fail("root.path", "missing (the bundle's root file system)") end
  local rootfs = root.path:sub(1, 1) == "/" and root.path or (bundle .. "/" .. root.path)
  local l = only(c.linux, set { "namespaces", "uidMappings", "gidMappings", "resources", "cgroupsPath", "maskedPaths",
                                "readonlyPaths", "rootfsPropagation", "sysctl", "devices", "seccomp", "mountLabel" }, "linux")
  none(l.devices, "linux.devices", "device nodes are not supported by sbx yet")
  none(l.mountLabel, "linux.mountLabel", "SELinux is not supported by sbx")
  if l.rootfsPropagation and not set { "private", "rprivate", "slave", "rslave" }[l.rootfsPropagation] then
    fail("linux.rootfsPropagation", "only private or slave (sbx makes / private)")
  end
  local plan = { rootfs = rootfs, rootfs_readonly = root.readonly == true, argv = p.args, env = p.env or {},
                 cwd = p.cwd or "/", uid = user.uid, gid = user.gid, hostname = c.hostname,
                 no_new_privs = p.noNewPrivileges == true, die_with_parent = false, init = false, ops = {}, namespaces = {},
                 umask = user.umask, rlimits = {}, sysctl = {}, groups = user.additionalGids }
  for i, r in ipairs(p.rlimits or {}) do
    only(r, set { "type", "soft", "hard" }, ("process.rlimits[%d]"):format(i))
    plan.rlimits[i] = { type = r.type, soft = r.soft, hard = r.hard }
  end
  for k, v in pairs(l.sysctl or {}) do plan.sysctl[#plan.sysctl + 1] = { key = k, value = tostring(v) } end
  table.sort(plan.sysctl, function(a, b) return a.key < b.key end)
  for i, n in ipairs(l.namespaces or {}) do
    local where = ("linux.namespaces[%d]"):format(i)
    only(n, set { "type", "path" }, where)
    local kind = NS[n.type]
    if not kind then fail(where .. ".type", "unknown namespace type '" .. tostring(n.type) .. "'") end
    if n.path and n.path ~= "" then
      if kind ~= "net" then fail(where .. ".path", "joining a " .. n.type .. " namespace by path is not supported by sbx yet") end
      plan.join_netns = n.path
    else
      plan.namespaces[#plan.namespaces + 1] = kind
    end
  end
  local function map(list, where)
    local out = {}
    for i, e in ipairs(list or {}) do
      only(e, set { "containerID", "hostID", "size" }, ("%s[%d]"):format(where, i))
      out[i] = { inside = e.containerID, outside = e.hostID, count = e.size }
    end
    return out
  end
  plan.uid_map, plan.gid_map = map(l.uidMappings, "linux.uidMappings"), map(l.gidMappings, "linux.gidMappings")
  local caps = only(p.capabilities, set { "bounding", "effective", "inheritable", "permitted", "ambient" }, "process.capabilities")
  -- ambient capabilities only matter for a payload that is not root: for root (uid 0) the kept set
  -- is its capabilities after execve anyway
  if caps.ambient and #caps.ambient > 0 then
    local kept = {}
    for _, c in ipairs(caps.bounding or caps.effective or {}) do kept[c] = true end
    for i, c in ipairs(caps.ambient) do
      if (user.uid or 0) ~= 0 then fail("process.capabilities.ambient", "not supported by sbx yet for a payload that is not root") end
      if not kept[c] then fail(("process.capabilities.ambient[%d]"):format(i), c .. " is not in the bounding set") end
    end
  end
  plan.caps = caps.bounding or caps.effective or {}
  for i, m in ipairs(c.mounts or {}) do
    local op = mount_op(m, i, plan, bundle)
    if op then plan.ops[#plan.ops + 1] = op end
  end
  for _, path in ipairs(l.maskedPaths or {}) do plan.ops[#plan.ops + 1] = { kind = "mask", dest = path } end
  for _, path in ipairs(l.readonlyPaths or {}) do plan.ops[#plan.ops + 1] = { kind = "read-only", dest = path } end
  plan.limits = M.limits(l.resources, nil, "linux.resources")
  if l.cgroupsPath and l.cgroupsPath ~= "" then
    if l.cgroupsPath:find(":") then fail("linux.cgroupsPath", "the systemd slice:prefix:name form is not supported by sbx yet") end
    -- the group itself (runc's meaning): its parents are made when missing
    local path = l.cgroupsPath:gsub("^/+", ""):gsub("/+$", "")
    plan.cgroup_parent, plan.cgroup_name = path:match("^(.*)/([^/]+)$")
    if not plan.cgroup_name then plan.cgroup_parent, plan.cgroup_name = "", path end
  end
  if l.seccomp then
    local policy, err = require("sbx.seccomp").from_json(l.seccomp, { caps = plan.caps }, "config.json: linux.seccomp")
    if not policy then error(err, 0) end
    plan.seccomp = { default_action = policy.default_action, rules = policy.rules }
  end
  return plan, { annotations = c.annotations or {} }
end

-- The default config.json of `sbx oci spec` (runc spec's shape, sbx's defaults inside).
function M.default_config()
  local container = require "sbx.container"
  local caps = {}
  for i, cap in ipairs(container.default_caps) do caps[i] = cap end
  return {
    ociVersion = "1.0.2",
    process = { terminal = false, user = { uid = 0, gid = 0 }, args = { "sh" }, cwd = "/",
                env = { "PATH=" .. core.default_path, "TERM=xterm" }, noNewPrivileges = true,
                capabilities = { bounding = caps, effective = caps, permitted = caps } },
    root = { path = "rootfs", readonly = true },
    hostname = "sbx",
    mounts = {
      { destination = "/proc", type = "proc", source = "proc" },
      { destination = "/dev", type = "tmpfs", source = "tmpfs", options = { "nosuid", "strictatime", "mode=755", "size=65536k" } },
      { destination = "/dev/pts", type = "devpts", source = "devpts", options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" } },
      { destination = "/dev/mqueue", type = "mqueue", source = "mqueue", options = { "nosuid", "noexec", "nodev" } },
      { destination = "/tmp", type = "tmpfs", source = "tmpfs", options = { "nosuid", "nodev" } },
    },
    linux = {
      namespaces = { { type = "pid" }, { type = "network" }, { type = "ipc" }, { type = "uts" }, { type = "mount" }, { type = "cgroup" } },
      maskedPaths = container.default_masked,
      readonlyPaths = container.default_readonly,
    },
  }
end

return M
