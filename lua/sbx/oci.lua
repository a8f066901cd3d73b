-- An OCI bundle's config.json -> the plan (then core.plan, through the plan's one declaration).
-- Strict: a key this reader does not know, or a feature sbx does not do yet, is an error naming
-- its path in config.json - never silently ignored.
local core = require "sbx.core"

local M = {}

-- `doc` names the JSON document in errors (config.json unless told)
local function fail(path, msg, doc) error(("%s: %s: %s"):format(doc or "config.json", path, msg), 0) end

-- Properties that are not OCI fields are ignored, as the spec requires (each named in a warning);
-- an OCI field sbx does not do is an error. `known`: the fields read here; `spec` (optional): the
-- other OCI fields of this object (refused). Warnings collect in M.warnings for the caller to log.
M.warnings = {}

local function only(t, known, path, spec, doc)
  if t == nil then return {} end
  if type(t) ~= "table" then fail(path, "expected an object", doc) end
  for k in pairs(t) do
    if not known[k] then
      if spec and spec[k] then fail(path .. "." .. tostring(k), "not supported by sbx yet", doc) end
      M.warnings[#M.warnings + 1] = ("%s: %s.%s: not an OCI field, ignored"):format(doc or "config.json", path, tostring(k))
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

local function id_map(list, where)
  local out = {}
  for i, e in ipairs(list or {}) do
    only(e, set { "containerID", "hostID", "size" }, ("%s[%d]"):format(where, i))
    out[i] = { inside = e.containerID, outside = e.hostID, count = e.size }
  end
  return out
end

local function mount_op(m, i, plan, bundle)
  local path = ("mounts[%d]"):format(i)
  only(m, set { "destination", "type", "source", "options", "uidMappings", "gidMappings" }, path)
  local dest = m.destination
  if type(dest) ~= "string" or dest:sub(1, 1) ~= "/" then fail(path .. ".destination", "expected an absolute path") end
  local o = options(m.options, path .. ".options")
  -- an idmapped bind: the mount's own maps, or with idmap/ridmap alone the container's (runc's way)
  local uid_map, gid_map = id_map(m.uidMappings, path .. ".uidMappings"), id_map(m.gidMappings, path .. ".gidMappings")
  local idmapped = o.idmap or o.ridmap or #uid_map > 0 or #gid_map > 0
  if idmapped and #uid_map == 0 and #gid_map == 0 then uid_map, gid_map = plan.uid_map or {}, plan.gid_map or {} end
  if idmapped and (#uid_map == 0 or #gid_map == 0) then
    fail(path, "an idmapped mount needs uidMappings and gidMappings (its own, or the container's linux.uidMappings)")
  end
  local kind = m.type or ((o.bind or o.rbind) and "bind") or "none"
  if idmapped and not (kind == "bind" or o.bind or o.rbind) then
    fail(path .. ".options", "idmap: only a bind mount can be idmapped here")
  end
  if kind == "proc" then return { kind = "proc", dest = dest } end
  if kind == "tmpfs" and dest == "/dev" then return { kind = "dev", dest = dest } end  -- sbx's minimal /dev (devpts, shm, mqueue in it)
  if kind == "devpts" and dest == "/dev/pts" then return nil end                   -- part of that /dev
  if kind == "tmpfs" then
    local size = o.size and assert(core.parse_size(o.size)) or nil
    return { kind = "tmpfs", dest = dest, size = size, mode = o.mode and tonumber(o.mode, 8) or nil,
             source = m.source ~= "tmpfs" and m.source or nil }
  end
  if kind == "mqueue" then return { kind = "mqueue", dest = dest } end
  if kind == "sysfs" then return { kind = "ro-bind", source = "/sys", dest = dest } end  -- the host's, read-only
  -- without a cgroup namespace runc shows the host's hierarchy read-only: so does this
  if kind == "cgroup" then return { kind = "ro-bind", source = "/sys/fs/cgroup", dest = dest } end
  if kind == "bind" or o.bind or o.rbind then
    local src = m.source
    if type(src) ~= "string" then fail(path .. ".source", "expected a path") end
    if src:sub(1, 1) ~= "/" then src = bundle .. "/" .. src end
    return { kind = o.ro and "ro-bind" or "bind", source = src, dest = dest, uid_map = idmapped and uid_map or nil,
             gid_map = idmapped and gid_map or nil, idmap_recursive = o.ridmap and true or nil }
  end
  fail(path .. ".type", ("'%s' mounts are not supported by sbx yet"):format(tostring(kind)))
end

-- linux.devices[i]: a node made in the container (mknod, or the host's bound in a user namespace)
local function device_op(d, i)
  local path = ("linux.devices[%d]"):format(i)
  only(d, set { "path", "type", "major", "minor", "fileMode", "uid", "gid" }, path)
  if type(d.path) ~= "string" or d.path:sub(1, 1) ~= "/" then fail(path .. ".path", "expected an absolute path") end
  local node
  if d.type == "p" then
    node = "p"
  elseif d.type == "c" or d.type == "u" or d.type == "b" then
    for _, k in ipairs { "major", "minor" } do
      if type(d[k]) ~= "number" or d[k] < 0 or d[k] % 1 ~= 0 then fail(path .. "." .. k, "expected a device number") end
    end
    node = ("%s %d:%d"):format(d.type == "b" and "b" or "c", d.major, d.minor)
  else
    fail(path .. ".type", ("'%s' is not c, b, u or p"):format(tostring(d.type)))
  end
  -- fileMode may carry the type bits too (runc drops them)
  local mode = type(d.fileMode) == "number" and d.fileMode % 4096 or nil
  return { kind = "device", dest = d.path, source = node, mode = mode ~= 0 and mode or nil, uid = d.uid, gid = d.gid }
end

-- What runc allows after a config's own device rules (its AllowedDevices): making any node, and
-- null, random, full, tty, zero, urandom, the ptys, ptmx and tun.
local runc_devices = { "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",
                       "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm" }

-- linux.cgroupsPath -> the group's path under the hierarchy roots. The systemd form
-- "SLICE:PREFIX:NAME" (podman and the CRI with the systemd cgroup manager) becomes the path
-- systemd gives such a unit - a-b.slice expands to a.slice/a-b.slice, the unit is PREFIX-NAME.scope
-- - made through cgroupfs like any other (sbx does not ask systemd for a transient unit).
function M.cgroup_path(p)
  if type(p) ~= "string" then fail("linux.cgroupsPath", "expected a path") end
  local slice, prefix, name = p:match("^([^:/]*):([^:/]*):([^:/]+)$")
  if not slice then
    if p:find(":") then fail("linux.cgroupsPath", "'" .. p .. "' is neither a path nor systemd's slice:prefix:name") end
    return (p:gsub("^/+", ""):gsub("/+$", ""))
  end
  if slice == "" then slice = "system.slice" end
  if not slice:match("%.slice$") or slice:find("%-%-") or slice:match("^%-") then
    fail("linux.cgroupsPath", "'" .. slice .. "' is not a systemd slice name (like machine.slice or a-b.slice)")
  end
  local parts, acc = {}, nil
  for piece in slice:gsub("%.slice$", ""):gmatch("[^%-]+") do
    acc = acc and (acc .. "-" .. piece) or piece
    if acc ~= "-" then parts[#parts + 1] = acc .. ".slice" end
  end
  if slice == "-.slice" then parts = {} end
  parts[#parts + 1] = (prefix ~= "" and (prefix .. "-") or "") .. name .. (name:match("%.slice$") and "" or ".scope")
  return table.concat(parts, "/")
end

-- hooks (config.json's) -> { prestart = { { path =, args =, env =, timeout = }, ... }, ... } or nil.
-- Each runs where the spec says (cli/oci.lua).
local HOOKS = set { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" }
function M.hooks(h)
  if h == nil then return nil end
  only(h, HOOKS, "hooks")
  local out = {}
  for kind, list in pairs(h) do
    if type(list) ~= "table" then fail("hooks." .. kind, "expected a list of hooks") end
    out[kind] = {}
    for i, hook in ipairs(list) do
      local where = ("hooks.%s[%d]"):format(kind, i)
      only(hook, set { "path", "args", "env", "timeout" }, where)
      if type(hook.path) ~= "string" or hook.path:sub(1, 1) ~= "/" then fail(where .. ".path", "expected an absolute path") end
      if hook.timeout ~= nil and (type(hook.timeout) ~= "number" or hook.timeout <= 0 or hook.timeout % 1 ~= 0) then
        fail(where .. ".timeout", "expected whole seconds, more than 0")
      end
      for _, k in ipairs({ "args", "env" }) do
        for j, v in ipairs(hook[k] or {}) do
          if type(v) ~= "string" then fail(("%s.%s[%d]"):format(where, k, j), "expected a string") end
        end
      end
      out[kind][i] = { path = hook.path, args = hook.args, env = hook.env, timeout = hook.timeout }
    end
  end
  return next(out) and out or nil
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
  r = only(r, set { "memory", "cpu", "pids", "devices", "blockIO", "unified", "hugepageLimits" }, path, set { "network", "rdma" }, doc)
  local limits = copy(base)
  -- unified: cgroup v2 files as given (the core refuses them on a v1 host, naming the file)
  if r.unified ~= nil then
    if type(r.unified) ~= "table" then fail(path .. ".unified", "expected an object of file = value", doc) end
    local files = {}
    for k, v in pairs(r.unified) do
      if type(k) ~= "string" or type(v) ~= "string" then fail(path .. ".unified", "expected file names and string values", doc) end
      files[#files + 1] = { file = k, value = v }
    end
    table.sort(files, function(a, b) return a.file < b.file end)
    limits.unified = #files > 0 and files or nil
  end
  local mem = only(r.memory, set { "limit", "swap", "reservation", "kernel", "kernelTCP", "checkBeforeUpdate",
                                     "swappiness", "disableOOMKiller", "useHierarchy" }, path .. ".memory", nil, doc)
  -- every memory group is hierarchical (v2; v1 refuses use_hierarchy = 0 on current kernels): true is
  -- what there is, false cannot be had
  if mem.useHierarchy == false then
    fail(path .. ".memory.useHierarchy", "false: the kernel's memory groups are always hierarchical now", doc)
  elseif mem.useHierarchy ~= nil and mem.useHierarchy ~= true then
    fail(path .. ".memory.useHierarchy", "expected true or false", doc)
  end
  -- v1 only: on a v2 host left out with a warning (runc ignores them there too)
  -- (the host's layout read only when a config asks for one of them)
  local function v2() return require("sbx.cgroup").layout().layout == "2" end
  if mem.swappiness ~= nil then
    if type(mem.swappiness) ~= "number" or mem.swappiness < 0 or mem.swappiness > 100 or mem.swappiness % 1 ~= 0 then
      fail(path .. ".memory.swappiness", "expected 0..100", doc)
    end
    if v2() then M.warnings[#M.warnings + 1] = path .. ".memory.swappiness: cgroup v2 has none, ignored"
    else limits.memory_swappiness = mem.swappiness end
  end
  if mem.disableOOMKiller ~= nil then
    if type(mem.disableOOMKiller) ~= "boolean" then fail(path .. ".memory.disableOOMKiller", "expected true or false", doc) end
    if mem.disableOOMKiller and v2() then M.warnings[#M.warnings + 1] = path .. ".memory.disableOOMKiller: cgroup v2 has none, ignored"
    elseif mem.disableOOMKiller then limits.oom_kill_disable = true end
  end
  -- obsolete in the kernel (v2 has none; v1 no longer enforces it) and ignored by runc too
  if (mem.kernel or 0) ~= 0 or (mem.kernelTCP or 0) ~= 0 then
    io.stderr:write("sbx oci: ", path, ".memory.kernel / kernelTCP: kernel memory limits are obsolete and ignored\n")
  end
  limits.memory = amount(mem.limit, path .. ".memory.limit", doc) or limits.memory
  limits.memory_swap = amount(mem.swap, path .. ".memory.swap", doc) or limits.memory_swap
  limits.memory_reservation = amount(mem.reservation, path .. ".memory.reservation", doc) or limits.memory_reservation
  -- no memory limit takes the swap limit with it (it is memory + swap)
  if limits.memory == "max" and mem.swap == nil and limits.memory_swap then limits.memory_swap = "max" end
  local cpu = only(r.cpu, set { "shares", "quota", "period", "cpus", "mems", "realtimePeriod", "realtimeRuntime",
                                "burst", "idle" }, path .. ".cpu", nil, doc)
  local burst = amount(cpu.burst, path .. ".cpu.burst", doc)
  if burst == "max" then fail(path .. ".cpu.burst", "expected microseconds", doc) end
  limits.cpu_burst = burst or limits.cpu_burst
  if cpu.idle ~= nil then
    if cpu.idle ~= 0 and cpu.idle ~= 1 then fail(path .. ".cpu.idle", "expected 0 or 1", doc) end
    limits.cpu_idle = cpu.idle
  end
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
  if shares then limits.cpu_shares, limits.cpu_weight = math.max(shares, 2), nil end
  for key, field in pairs({ realtimePeriod = "cpu_rt_period", realtimeRuntime = "cpu_rt_runtime" }) do
    local v = amount(cpu[key], path .. ".cpu." .. key, doc)
    if v == "max" then fail(path .. ".cpu." .. key, "expected microseconds", doc) end
    limits[field] = v or limits[field]
  end
  for key, field in pairs({ cpus = "cpuset", mems = "cpuset_mems" }) do
    if cpu[key] ~= nil and type(cpu[key]) ~= "string" then fail(path .. ".cpu." .. key, 'expected a list like "0-1"', doc) end
    if cpu[key] and cpu[key] ~= "" then limits[field] = cpu[key] end
  end
  local pids = only(r.pids, set { "limit" }, path .. ".pids", nil, doc)
  limits.pids = amount(pids.limit, path .. ".pids.limit", doc) or limits.pids
  local bio = only(r.blockIO, set { "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                                    "throttleReadIOPSDevice", "throttleWriteIOPSDevice" }, path .. ".blockIO", nil, doc)
  -- the weights (BFQ's: blkio.bfq.weight on v1, io.bfq.weight on v2, else v2's io.weight) and the
  -- throttles, per device (the plan's io limits: blkio.throttle.* on v1, io.max on v2)
  local function whole(v, where)
    if type(v) ~= "number" or v < 0 or v % 1 ~= 0 then fail(where, "expected a whole number", doc) end
    return v
  end
  if bio.weight ~= nil and whole(bio.weight, path .. ".blockIO.weight") > 0 then limits.io_weight = bio.weight end
  -- the kernel has had no leaf weight since CFQ went (5.0); runc and crun leave it out too
  local function leaf(v, where)
    if v ~= nil and whole(v, where) > 0 then
      M.warnings[#M.warnings + 1] = where .. ": the kernel has no leaf weight since CFQ was removed, ignored"
    end
  end
  leaf(bio.leafWeight, path .. ".blockIO.leafWeight")
  local devs, order = {}, {}
  local function device(d, where, keys)
    only(d, keys, where, nil, doc)
    for _, k in ipairs({ "major", "minor" }) do whole(d[k], where .. "." .. k) end
    local dev = ("%d:%d"):format(d.major, d.minor)
    if not devs[dev] then devs[dev] = { device = dev }; order[#order + 1] = dev end
    return devs[dev]
  end
  for i, d in ipairs(bio.weightDevice or {}) do
    local where = ("%s.blockIO.weightDevice[%d]"):format(path, i)
    local e = device(d, where, set { "major", "minor", "weight", "leafWeight" })
    if d.weight ~= nil and whole(d.weight, where .. ".weight") > 0 then e.weight = d.weight end
    leaf(d.leafWeight, where .. ".leafWeight")
  end
  for key, field in pairs({ throttleReadBpsDevice = "rbps", throttleWriteBpsDevice = "wbps",
                            throttleReadIOPSDevice = "riops", throttleWriteIOPSDevice = "wiops" }) do
    for i, d in ipairs(bio[key] or {}) do
      local where = ("%s.blockIO.%s[%d]"):format(path, key, i)
      device(d, where, set { "major", "minor", "rate" })[field] = whole(d.rate, where .. ".rate")
    end
  end
  if #order > 0 then
    table.sort(order)
    limits.io = {}
    for i, dev in ipairs(order) do limits.io[i] = devs[dev] end
  end
  -- huge pages, per page size ("2MB"): hugetlb.SIZE.limit_in_bytes on v1, .max on v2
  if r.hugepageLimits ~= nil then
    if type(r.hugepageLimits) ~= "table" then fail(path .. ".hugepageLimits", "expected a list", doc) end
    limits.hugetlb = {}
    for i, h in ipairs(r.hugepageLimits) do
      local where = ("%s.hugepageLimits[%d]"):format(path, i)
      only(h, set { "pageSize", "limit" }, where, nil, doc)
      if type(h.pageSize) ~= "string" then fail(where .. ".pageSize", 'expected a size like "2MB"', doc) end
      limits.hugetlb[i] = { size = h.pageSize, limit = whole(h.limit, where .. ".limit") }
    end
    if #limits.hugetlb == 0 then limits.hugetlb = nil end
  end
  -- the rules in order (the core reads them as the v1 controller does, on v1 and v2 alike), then
  -- runc's own, which it adds to every container's
  if r.devices then limits.devices = nil end  -- a new list replaces the old one
  for i, d in ipairs(r.devices or {}) do
    local where = ("%s.devices[%d]"):format(path, i)
    only(d, set { "allow", "type", "major", "minor", "access" }, where, nil, doc)
    local access = d.access or "rwm"
    if type(access) ~= "string" or access == "" then fail(where .. ".access", "expected some of r, w and m", doc) end
    local rule
    if d.type == nil or d.type == "a" then
      if not (access:find("r") and access:find("w") and access:find("m")) then
        fail(where, "type a (every device) takes access rwm", doc)
      end
      rule = "a"
    else
      local function num(n) return type(n) == "number" and n >= 0 and ("%d"):format(n) or "*" end
      rule = ("%s %s:%s %s"):format(d.type, num(d.major), num(d.minor), access)
    end
    limits.devices = limits.devices or {}
    limits.devices[#limits.devices + 1] = (d.allow and "" or "deny ") .. rule
  end
  if limits.devices then
    for _, rule in ipairs(runc_devices) do limits.devices[#limits.devices + 1] = rule end
  end
  return next(limits) and limits or nil
end

-- plan(config, bundle) -> plan table, { annotations =, hooks =, terminal =, console_size = } ; raises
-- "config.json: PATH: why". The terminal is the caller's business (a console socket), not the plan's.
function M.plan(c, bundle)
  M.warnings = {}
  only(c, set { "ociVersion", "process", "root", "hostname", "domainname", "mounts", "annotations", "linux", "hooks",
                "windows", "solaris", "vm", "zos" }, "config")
  -- the spec's versions this reader knows: 1.x.y (1.0.0 .. 1.2.0 and later minor versions)
  if type(c.ociVersion) ~= "string" or not c.ociVersion:match("^1%.%d+%.%d+[%-%+]?[%w%.%-%+]*$") then
    fail("ociVersion", ("'%s' is not a version of the OCI runtime spec sbx reads (1.x.y)"):format(tostring(c.ociVersion)))
  end
  local hooks = M.hooks(c.hooks)
  local p = only(c.process, set { "terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits",
                                  "noNewPrivileges", "oomScoreAdj", "apparmorProfile", "selinuxLabel" }, "process",
                 set { "commandLine", "ioPriority", "scheduler", "execCPUAffinity" })
  if type(p.args) ~= "table" or type(p.args[1]) ~= "string" then fail("process.args", "expected the command, a list of strings") end
  if p.terminal ~= nil and type(p.terminal) ~= "boolean" then fail("process.terminal", "expected true or false") end
  local size = only(p.consoleSize, set { "height", "width" }, "process.consoleSize")
  for _, k in ipairs({ "height", "width" }) do
    local v = size[k]
    if v ~= nil and (type(v) ~= "number" or v < 0 or v > 65535 or v ~= math.floor(v)) then
      fail("process.consoleSize." .. k, "expected a whole number of cells (0-65535)")
    end
  end
  none(p.apparmorProfile, "process.apparmorProfile", "AppArmor is not supported by sbx")
  none(p.selinuxLabel, "process.selinuxLabel", "SELinux is not supported by sbx")
  local user = only(p.user, set { "uid", "gid", "additionalGids", "umask", "username" }, "process.user")
  local root = only(c.root, set { "path", "readonly" }, "root")
  if type(root.path) ~= "string" then fail("root.path", "missing (the bundle's root file system)") end
  local rootfs = root.path:sub(1, 1) == "/" and root.path or (bundle .. "/" .. root.path)
  local l = only(c.linux, set { "namespaces", "uidMappings", "gidMappings", "resources", "cgroupsPath", "maskedPaths",
                                "readonlyPaths", "rootfsPropagation", "sysctl", "devices", "seccomp", "mountLabel",
                                "timeOffsets", "personality" }, "linux",
               set { "intelRdt", "memoryPolicy", "netDevices" })
  none(l.mountLabel, "linux.mountLabel", "SELinux is not supported by sbx")
  local personality
  if l.personality ~= nil then
    local pers = only(l.personality, set { "domain", "flags" }, "linux.personality")
    local domain = ({ LINUX = "linux", LINUX32 = "linux32" })[pers.domain]
    if not domain then fail("linux.personality.domain", "expected LINUX or LINUX32") end
    if pers.flags ~= nil and (type(pers.flags) ~= "table" or #pers.flags > 0) then
      fail("linux.personality.flags", "personality flags are not supported by sbx (runc takes none either)")
    end
    personality = domain
  end
  -- (recursive either way: sbx makes the whole new root one kind)
  local propagation = l.rootfsPropagation and l.rootfsPropagation:gsub("^r", "")
  if propagation and not set { "private", "slave", "shared", "unbindable" }[propagation] then
    fail("linux.rootfsPropagation", "expected private, slave, shared or unbindable (or rprivate, ...)")
  end
  local plan = { rootfs = rootfs, rootfs_readonly = root.readonly == true, argv = p.args, env = p.env or {},
                 cwd = p.cwd or "/", uid = user.uid, gid = user.gid, hostname = c.hostname,
                 no_new_privs = p.noNewPrivileges == true, die_with_parent = false, init = false, ops = {}, namespaces = {},
                 umask = user.umask, rlimits = {}, sysctl = {}, groups = user.additionalGids,
                 oom_score_adj = p.oomScoreAdj, domainname = c.domainname, root_propagation = propagation,
                 personality = personality }
  if l.timeOffsets then
    local t = only(l.timeOffsets, set { "monotonic", "boottime" }, "linux.timeOffsets")
    plan.time_offsets = {}
    for _, clock in ipairs({ "monotonic", "boottime" }) do
      local o = only(t[clock], set { "secs", "nanosecs" }, "linux.timeOffsets." .. clock)
      if (o.nanosecs or 0) ~= 0 then fail("linux.timeOffsets." .. clock .. ".nanosecs", "only whole seconds (sbx's plan)") end
      plan.time_offsets[clock] = o.secs
    end
  end
  for i, r in ipairs(p.rlimits or {}) do
    only(r, set { "type", "soft", "hard" }, ("process.rlimits[%d]"):format(i))
    local function amount(v) return type(v) == "number" and v >= 2 ^ 64 - 4096 and "max" or v end  -- RLIM_INFINITY
    plan.rlimits[i] = { type = r.type, soft = amount(r.soft), hard = amount(r.hard) }
  end
  for k, v in pairs(l.sysctl or {}) do plan.sysctl[#plan.sysctl + 1] = { key = k, value = tostring(v) } end
  table.sort(plan.sysctl, function(a, b) return a.key < b.key end)
  for i, n in ipairs(l.namespaces or {}) do
    local where = ("linux.namespaces[%d]"):format(i)
    only(n, set { "type", "path" }, where)
    local kind = NS[n.type]
    if not kind then fail(where .. ".type", "unknown namespace type '" .. tostring(n.type) .. "'") end
    if n.path and n.path ~= "" then
      plan.join = plan.join or {}
      plan.join[#plan.join + 1] = { type = kind, path = n.path }
    else
      plan.namespaces[#plan.namespaces + 1] = kind
    end
  end
  plan.uid_map, plan.gid_map = id_map(l.uidMappings, "linux.uidMappings"), id_map(l.gidMappings, "linux.gidMappings")
  for _, j in ipairs(plan.join or {}) do
    -- a joined user namespace has its maps already (runc reads them from it)
    if j.type == "user" and (#plan.uid_map > 0 or #plan.gid_map > 0) then
      M.warnings[#M.warnings + 1] = "linux.uidMappings/gidMappings: the joined user namespace " .. j.path .. " has its own, ignored"
      plan.uid_map, plan.gid_map = {}, {}
    end
  end
  local caps = only(p.capabilities, set { "bounding", "effective", "inheritable", "permitted", "ambient" }, "process.capabilities")
  plan.caps = caps.bounding or caps.permitted or caps.effective or {}
  if p.capabilities then
    -- each set as given (runc's meaning); the core cuts them to the bounding set it keeps
    plan.cap_sets = { effective = caps.effective or {}, permitted = caps.permitted or {},
                      inheritable = caps.inheritable or {}, ambient = {} }
    -- the kernel raises an ambient capability only when it is permitted and inheritable: others
    -- are left out with a warning, as runc does (its own `runc spec` asks for such)
    local perm, inh, left = set(plan.cap_sets.permitted), set(plan.cap_sets.inheritable), {}
    for _, c in ipairs(caps.ambient or {}) do
      if perm[c] and inh[c] then table.insert(plan.cap_sets.ambient, c) else left[#left + 1] = c end
    end
    if #left > 0 then
      M.warnings[#M.warnings + 1] = "config.json: process.capabilities.ambient: " .. table.concat(left, ", ") ..
        " left out (an ambient capability must be permitted and inheritable too)"
    end
  end
  for i, m in ipairs(c.mounts or {}) do
    local op = mount_op(m, i, plan, bundle)
    if op then plan.ops[#plan.ops + 1] = op end
  end
  for i, d in ipairs(l.devices or {}) do plan.ops[#plan.ops + 1] = device_op(d, i) end
  for _, path in ipairs(l.maskedPaths or {}) do plan.ops[#plan.ops + 1] = { kind = "mask", dest = path } end
  for _, path in ipairs(l.readonlyPaths or {}) do plan.ops[#plan.ops + 1] = { kind = "read-only", dest = path } end
  plan.limits = M.limits(l.resources, nil, "linux.resources")
  if l.cgroupsPath and l.cgroupsPath ~= "" then
    -- the group itself (runc's meaning): its parents are made when missing
    local path = M.cgroup_path(l.cgroupsPath)
    plan.cgroup_parent, plan.cgroup_name = path:match("^(.*)/([^/]+)$")
    if not plan.cgroup_name then plan.cgroup_parent, plan.cgroup_name = "", path end
  end
  local listener, listener_metadata  -- the agent's socket, when the compiled policy notifies
  if l.seccomp then
    local sc = only(l.seccomp, set { "defaultAction", "defaultErrnoRet", "architectures", "syscalls", "flags",
                                     "listenerPath", "listenerMetadata" }, "linux.seccomp")
    -- SCMP_ACT_NOTIFY: the calls wait for the seccomp agent listening on listenerPath, which gets
    -- the filter's listener and the container process state at create
    local notify = sc.defaultAction == "SCMP_ACT_NOTIFY"
    for _, e in ipairs(sc.syscalls or {}) do notify = notify or e.action == "SCMP_ACT_NOTIFY" end
    if sc.listenerPath ~= nil and (type(sc.listenerPath) ~= "string" or sc.listenerPath:sub(1, 1) ~= "/") then
      fail("linux.seccomp.listenerPath", "expected an absolute path (the agent's unix socket)")
    end
    if sc.listenerMetadata ~= nil and type(sc.listenerMetadata) ~= "string" then
      fail("linux.seccomp.listenerMetadata", "expected a string")
    end
    if notify and not sc.listenerPath then
      fail("linux.seccomp.listenerPath", "missing: SCMP_ACT_NOTIFY needs an agent's socket (the calls would wait for an answer nobody gives)")
    end
    if sc.listenerPath and not notify then
      M.warnings[#M.warnings + 1] = "linux.seccomp.listenerPath: no SCMP_ACT_NOTIFY rule, no listener to send; ignored"
    end
    local policy, err = require("sbx.seccomp").from_json(l.seccomp, { caps = plan.caps }, "config.json: linux.seccomp")
    if not policy then error(err, 0) end
    plan.seccomp = { default_action = policy.default_action, rules = policy.rules, flags = policy.flags }
    -- (rules for other architectures or missing capabilities were left out: what is left decides)
    local notifies = policy.default_action == "notify"
    for _, r in ipairs(policy.rules) do notifies = notifies or r.action == "notify" end
    if notifies then listener, listener_metadata = sc.listenerPath, sc.listenerMetadata end
  end
  return plan, { annotations = c.annotations or {}, hooks = hooks, terminal = p.terminal == true,
                 seccomp_listener = listener, listener_metadata = listener_metadata,
                 console_size = p.consoleSize and { height = size.height, width = size.width } or nil }
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
      resources = { devices = { { allow = false, access = "rwm" } } },
    },
  }
end

return M
