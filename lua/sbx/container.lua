-- sbx.container{...}: a sandbox described as data (validated, no syscalls), then run.
local core = require "sbx.core"
local d = require "sbx.describe"
local fail, key_list, port_text, bridge_plan, limits_plan, list_of_ns, has, remove, env_list, default_env, copy, caps_plan =
  d.fail, d.key_list, d.port_text, d.bridge_plan, d.limits_plan, d.list_of_ns, d.has, d.remove, d.env_list, d.default_env, d.copy, d.caps_plan

local M = {}

local Box = {}
Box.__index = Box

-- Everything but time is new by default; user only where the host allows it.
M.default_ns = { "user", "mnt", "uts", "ipc", "pid", "net", "cgroup" }
M.default_path = core.default_path  -- the core's, the one child.cc searches

-- The description's keys, each with what it takes: the one list help() and docs/reference.md show.
local KEYS = {
  rootfs = "string (a directory: the new root)", readonly = "boolean (the root read-only; default true for rootfs)",
  ns = "list of namespace names (default: all but time; replaces the default)",
  share = 'list of namespaces kept from the host, taken out of the default ("net", "pid", "ipc", "uts", "cgroup", "user")',
  time = "boolean (a new time namespace too)",
  hostname = "string (the hostname inside; needs uts)", mounts = "list of sbx.bind/sbx.tmpfs/... steps (after the defaults)",
  env = 'table ({ KEY = "v" } or { "KEY=v" }; merged over PATH, HOME, TERM and the image\'s; KEY = false drops one)',
  cwd = "string (the working directory; default /, or the image's)", uid = "number (the payload's uid inside; default 0)",
  gid = "number (the payload's gid inside; default 0)", uid_map = "list ({ inside =, outside =, count = } lines; default: see docs/run.md)",
  gid_map = "list (as uid_map)",
  time_offsets = "table { monotonic =, boottime = } (seconds or durations; implies time)",
  personality = '"linux32" (uname -m says i686, as setarch) or "linux"',
  die_with_parent = "boolean (the sandbox dies with its starter; default true)",
  net = '"loopback", "none", "host", "bridge", "pasta", "slirp4netns", { bridge = "sbx0", ip =, publish =, subnet =, nat =, name =, egress = { "10.1.2.0/24", "127.0.0.1:8080", "deb.debian.org:443", "*.pypi.org:443" }, dns = "IP[:PORT]" }, { user = "pasta" | "slirp4netns" | "auto", publish =, egress =, dns = } (a user-mode network: what "bridge" is for an unprivileged user) or { netns = sandbox | pid | NAME | path }',
  proc = "boolean (a fresh /proc; default true with pid, or with a root of its own)", dev = "boolean (a minimal /dev; default true)",
  tmp = "boolean or size (a private /tmp tmpfs; default true)",
  limits = "table { memory =, memory_swap =, cpu =, cpu_weight =, cpuset =, pids =, io =, io_weight =, hugetlb =, devices = }",
  image = 'string ("name:tag" or an id)',
  name = "string (a persistent container: its upper layer is kept, box:commit works later)",
  ephemeral = "boolean (image: the upper layer on a tmpfs inside the sandbox, gone at exit; no diff or commit)",
  workspace = 'a directory, or { dir = "/src/proj", dest =, mode = "review" (default: an overlay; box:diff, box:promote, box:discard) | "ro" | "rw", name = } (on the host\'s root it implies home = "tmpfs", hide = "secrets")',
  home = '"tmpfs" (a fresh empty $HOME; the host user\'s home hidden too), a host directory bound as $HOME, or false',
  hide = 'list of paths masked (an empty read-only directory, or /dev/null for a file; "~/x" is in the host user\'s home), or "secrets": ~/.ssh, ~/.aws, ~/.config/gh, ~/.netrc, browser profiles... of every home',
  cgroup_parent = "string (where the sandbox's cgroup goes, under the hierarchy roots)",
  limits_optional = "boolean (an unprivileged user without a delegated cgroup subtree: run without the limits, and say so; default false: refused)",
  netns = "a name in /run/netns, a path, a pid or a sandbox: join that network namespace",
  seccomp = '"default" (the default), "strict", "none", a policy { default =, allow =, deny =, rules =, flags = }, or { notify = { "openat", ... }, on_call = function(call) ... end [, base = ] } (decided in Lua: see sbx.loop)',
  caps = 'list of capabilities kept (default: docker\'s 14), {} for none, "all" for all',
  cap_add = 'list of capabilities kept beyond caps (or "ALL"), as docker --cap-add',
  cap_drop = 'list of capabilities dropped from caps (or "ALL"), as docker --cap-drop',
  privileged = "boolean (no seccomp, all capabilities, nothing masked or read-only; still namespaced)",
  no_new_privs = "boolean (default true)",
  masked_paths = "list of paths hidden (default: /proc/kcore, /proc/keys, ... as docker)",
  readonly_paths = "list of paths made read-only (default: /proc/sys, /proc/sysrq-trigger, ...)",
  hooks = "table { created = fn(p), before_exec = fn(p), started = fn(p), exited = fn(p, status) }: Lua in the supervisor at each phase (p:exec_as_root, p:write_file, p:read_file while it waits; an error aborts the start)",
  on = "table of event handlers { oom = fn, exit = fn, ... }: p:on(event, fn) for every sandbox the box starts (see sbx.loop)",
  pressure = 'table { memory = "some 150ms/2s", cpu =, io = } (cgroup v2 PSI triggers; v1: memory = "low"|"medium"|"critical") for on.pressure',
  rlimits = 'table { nofile = 1024 | "SOFT:HARD" | { soft =, hard = }, nproc =, core =, ... } (setrlimit for the payload, as docker --ulimit; "unlimited"; a hard limit can be lowered, raised only with CAP_SYS_RESOURCE)',
  sysctl = 'table { ["net.ipv4.ip_unprivileged_port_start"] = "0", ... } (namespaced sysctls, written inside: net.* with net, kernel.shm*/msg*/sem and fs.mqueue.* with ipc)',
  sys = "boolean (the host's /sys read-only, /sys/firmware masked; default true with a root of its own, as docker)",
  hosts = 'table { name = "IP" } or list of "NAME:IP" (lines added to /etc/hosts, as docker --add-host)',
  dns = 'list of nameserver IPs (the /etc/resolv.conf inside, as docker --dns; with net.egress use net.dns)',
}

M.rlimit_names = { "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                   "nproc", "rss", "rtprio", "rttime", "sigpending", "stack" }

M.keys = KEYS

-- Docker's default capability set.
M.default_caps = { "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                   "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                   "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" }
M.default_masked = { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                     "/sys/firmware", "/sys/devices/virtual/powercap" }
M.default_readonly = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

local HOOK_PHASES = { created = true, before_exec = true, started = true, exited = true }

local RUN_KEYS = { stdin = true, stdout = true, stderr = true, input = true, timeout = true,
                   env = true, cwd = true, uid = true, gid = true, tty = true, fds = true }

local function expect_type(key, v, want, level)
  if v ~= nil and type(v) ~= want then
    fail(("%s: expected %s, got %s"):format(key, KEYS[key] or want, type(v)), level + 1)
  end
end

-- Cheap (sysctls only): start-up must not pay for sbx.features()' probing forks.
function M.userns_available()
  return core.userns_allowed()
end

-- Builds the plan (the table the core receives) from the user's description.
function M.new(opts)
  local level = 2
  if type(opts) ~= "table" then fail("expected a table, e.g. sbx.container{ rootfs = sbx.rootfs.busybox() }", level) end
  for k in pairs(opts) do
    if not KEYS[k] then fail(("unknown key '%s' (expected %s)"):format(tostring(k), key_list(KEYS)), level) end
  end
  for _, k in ipairs({ "rootfs", "hostname", "cwd", "image", "name", "personality" }) do expect_type(k, opts[k], "string", level) end
  if opts.image and opts.rootfs then fail("image and rootfs: choose one", level) end
  local img
  if opts.name and not opts.image then
    -- an existing named container: its image comes from its directory
    local _, _, _, id = core.image.named_container(opts.name)
    if not id then fail("name: no container '" .. opts.name .. "' (give image = to make it)", level) end
    opts = copy(opts)
    opts.image = id
  end
  if opts.image then
    local err
    img, err = core.image.get(opts.image)
    if not img then fail("image: " .. err, level) end
  end
  for _, k in ipairs({ "readonly", "die_with_parent", "proc", "dev", "ephemeral", "time", "privileged" }) do expect_type(k, opts[k], "boolean", level) end
  if opts.ephemeral and (opts.name or not opts.image) then fail("ephemeral: only for an image without a name", level) end
  for _, k in ipairs({ "uid", "gid" }) do
    expect_type(k, opts[k], "number", level)
    local id = opts[k]
    if id and (id < 0 or id >= 4294967295 or id ~= math.floor(id)) then
      fail(("%s %s: not an id (a whole number 0..4294967294; (uid_t)-1 means \"unchanged\")"):format(k, tostring(id)), level)
    end
  end
  for _, k in ipairs({ "ns", "mounts", "env", "uid_map", "gid_map", "time_offsets", "limits", "on", "pressure", "rlimits", "sysctl", "hosts", "dns" }) do expect_type(k, opts[k], "table", level) end
  expect_type("sys", opts.sys, "boolean", level)
  if opts.hide ~= nil and type(opts.hide) ~= "table" and opts.hide ~= "secrets" then fail('hide: expected a list of paths or "secrets"', level) end
  if opts.home ~= nil and opts.home ~= false and type(opts.home) ~= "string" then fail('home: expected "tmpfs", a directory or false', level) end
  if opts.hooks ~= nil then
    if type(opts.hooks) ~= "table" then fail("hooks: expected a table { created = fn, before_exec = fn, started = fn, exited = fn }", level) end
    for phase, fn in pairs(opts.hooks) do
      if not HOOK_PHASES[phase] then fail(("hooks: unknown phase %s (expected created, before_exec, started, exited)"):format(tostring(phase)), level) end
      if type(fn) ~= "function" then fail(("hooks.%s: expected a function"):format(phase), level) end
    end
  end
  if opts.on then
    local known = {}
    for _, e in ipairs(require("sbx.events").events) do known[e] = true end
    for e, fn in pairs(opts.on) do
      if not known[e] then fail(("on: unknown event %s (expected %s)"):format(tostring(e), table.concat(require("sbx.events").events, ", ")), level) end
      if type(fn) ~= "function" then fail(("on.%s: expected a function"):format(e), level) end
    end
    if opts.on.pressure and not opts.pressure then fail('on.pressure: say which pressure with pressure = { memory = "some 150ms/2s" }', level) end
  end
  expect_type("cgroup_parent", opts.cgroup_parent, "string", level)

  local ns
  if opts.ns then
    ns = list_of_ns(opts.ns, level)
  else
    ns = copy(M.default_ns)
    if not M.userns_available() then ns = remove(ns, "user") end
  end
  if opts.share ~= nil then
    if type(opts.share) ~= "table" then fail("share: expected a list of namespace names", level) end
    for _, n in ipairs(list_of_ns(opts.share, level)) do ns = remove(ns, n) end
  end
  if opts.time then if not has(ns, "time") then ns[#ns + 1] = "time" end end
  local net = opts.net or "loopback"
  if net == "loopback" and opts.net == nil and opts.netns == nil and opts.share and has(opts.share, "net") then net = "host" end
  if opts.netns ~= nil then
    if opts.net ~= nil then fail("netns and net: give one (netns = X is net = { netns = X })", level) end
    net = { netns = opts.netns }
  end
  local join_netns
  local bridge, user_net
  if net == "bridge" then net = { bridge = true } end
  if net == "pasta" or net == "slirp4netns" then net = { user = net } end
  local egress
  if type(net) == "table" and net.netns == nil then
    if net.egress ~= nil then
      local eg = require "sbx.egress"
      egress = eg.check(net.egress, level + 1)
      local dns = net.dns or eg.host_resolver()
      if type(dns) ~= "string" then fail("net.egress: no resolver in /etc/resolv.conf to ask: give net.dns = \"IP[:PORT]\"", level) end
      local ip, port = dns:match("^%[(.+)%]:(%d+)$")
      if not ip then ip, port = dns:match("^([%d%.]+):(%d+)$") end
      egress.dns_ip, egress.dns_port = ip or dns, tonumber(port) or 53
    end
    -- a host bridge needs root; anyone else gets a user-mode network (pasta, slirp4netns)
    if net.user ~= nil or core.sys.ids().uid ~= 0 then
      user_net = d.user_net_plan(net, level)
      if egress then user_net.dns = require("sbx.egress").resolver end
    else
      bridge = bridge_plan(net, opts, level)
    end
    if not has(ns, "net") then ns[#ns + 1] = "net" end
    net = "bridge"
  elseif type(net) == "table" then
    for k in pairs(net) do
      if k ~= "netns" then fail(("net: unknown key '%s' (with netns, no other key)"):format(tostring(k)), level) end
    end
    local target = net.netns
    if type(target) == "number" then join_netns = "/proc/" .. target .. "/ns/net"
    elseif type(target) == "string" and target:sub(1, 1) == "/" then join_netns = target
    elseif type(target) == "string" then join_netns = "/run/netns/" .. target
    elseif (type(target) == "userdata" or type(target) == "table") and target.pid then join_netns = "/proc/" .. target.pid .. "/ns/net"
    else fail("net.netns: expected a sandbox, a pid, a /run/netns name or a path", level) end
    ns = remove(ns, "net")
    net = "joined"
  elseif net == "host" then
    ns = remove(ns, "net")
  elseif net == "none" or net == "loopback" then
    if not has(ns, "net") then ns[#ns + 1] = "net" end
  else
    fail(("net: unknown '%s' (expected %s)"):format(tostring(net), KEYS.net), level)
  end
  if opts.time_offsets and not has(ns, "time") then ns[#ns + 1] = "time" end

  local plan = {
    namespaces = ns,
    rootfs = opts.rootfs,
    rootfs_readonly = (opts.readonly == nil and not img) or opts.readonly == true,
    hostname = opts.hostname,
    cwd = opts.cwd or (img and img.config.workdir ~= "" and img.config.workdir) or "/",
    uid = opts.uid, gid = opts.gid,
    die_with_parent = opts.die_with_parent ~= false,
    loopback_up = net ~= "none",
    join = join_netns and { { type = "net", path = join_netns } } or nil,
    bridge = bridge,
    user_net = user_net,
    ops = {},
    limits = opts.limits and limits_plan(opts.limits, level) or nil,
    cgroup_parent = opts.cgroup_parent,
  }
  -- limits_optional: dropped when this user has no cgroup subtree to put them in (said at spawn)
  local limits_skipped
  if plan.limits and opts.limits_optional and core.sys.ids().uid ~= 0 and not opts.cgroup_parent then
    local parent, why = core.cgroup.delegated_parent()
    if not parent then plan.limits, limits_skipped = nil, why end
  end
  -- hardening: each part switchable, each visible in box:spec()
  local seccomp, caps, masked, readonly = opts.seccomp, opts.caps, opts.masked_paths, opts.readonly_paths
  if opts.privileged then
    if seccomp == nil then seccomp = "none" end
    if caps == nil then caps = "all" end
    masked, readonly = masked or {}, readonly or {}
  end
  local on_call
  plan.seccomp, on_call = require("sbx.seccomp").resolve(seccomp, level + 1)
  plan.caps = caps_plan(caps, opts.cap_add, opts.cap_drop, M.default_caps, level + 1)
  if egress then
    -- the rules live in the sandbox's own namespace: a payload that may change them is not held by them
    for _, c in ipairs(plan.caps or {}) do
      if c == "all" or c == "CAP_NET_ADMIN" then
        fail("net.egress with CAP_NET_ADMIN (" .. (c == "all" and "all capabilities" or "cap_add") .. "): the payload could rewrite its own allow-list; drop it", level)
      end
    end
  end
  plan.no_new_privs = opts.no_new_privs ~= false
  plan.personality = opts.personality
  if opts.rlimits then
    plan.rlimits = {}
    local known = {}
    for _, n in ipairs(M.rlimit_names) do known[n] = true end
    local function amount(k, v)
      if v == "unlimited" or v == "max" or v == -1 then return "max" end
      local n = tonumber(v)
      if not n or n < 0 or n ~= math.floor(n) then fail(("rlimits.%s: '%s' is not a whole number or \"unlimited\""):format(k, tostring(v)), level + 1) end
      return n
    end
    for k, v in pairs(opts.rlimits) do
      local name = type(k) == "string" and k:lower():gsub("^rlimit_", "")
      if not name or not known[name] then
        fail(("rlimits: unknown limit '%s' (expected %s)"):format(tostring(k), table.concat(M.rlimit_names, ", ")), level)
      end
      local soft, hard
      if type(v) == "table" then soft, hard = v.soft, v.hard or v.soft
      elseif type(v) == "string" and v:find(":") then soft, hard = v:match("^([^:]*):(.*)$")
      else soft, hard = v, v end
      soft, hard = amount(name, soft), amount(name, hard)
      local function big(x) return x == "max" and math.huge or x end
      if big(soft) > big(hard) then fail(("rlimits.%s: soft %s above hard %s"):format(name, tostring(soft), tostring(hard)), level) end
      plan.rlimits[#plan.rlimits + 1] = { type = "RLIMIT_" .. name:upper(), soft = soft, hard = hard }
    end
    table.sort(plan.rlimits, function(a, b) return a.type < b.type end)
  end
  if opts.sysctl then
    plan.sysctl = {}
    for k, v in pairs(opts.sysctl) do
      if type(k) ~= "string" then fail("sysctl: expected { [\"net.ipv4...\"] = \"value\" }", level) end
      plan.sysctl[#plan.sysctl + 1] = { key = k, value = tostring(v) }
    end
    table.sort(plan.sysctl, function(a, b) return a.key < b.key end)
  end
  if opts.time_offsets then
    local t = {}
    for k, v in pairs(opts.time_offsets) do
      if k ~= "monotonic" and k ~= "boottime" then fail(("time_offsets: unknown key '%s' (expected monotonic, boottime)"):format(tostring(k)), level) end
      local n, err = core.parse_seconds(v)
      if not n then fail("time_offsets." .. k .. ": " .. err, level) end
      t[k] = n
    end
    plan.time_offsets = t
  end
  if has(ns, "user") then
    local du, dg = core.default_id_maps()
    plan.uid_map = opts.uid_map or du
    plan.gid_map = opts.gid_map or dg
  elseif opts.uid_map or opts.gid_map then
    fail("uid_map/gid_map: need the user namespace in ns", level)
  end
  if has(ns, "mnt") then
    -- Defaults first, so that the user's own mounts can go on top of them.
    -- (sharing the host's pid namespace on a root of its own: a /proc all the same, as bwrap does -
    -- the host's, bound, where a fresh one of that namespace is refused)
    if opts.proc ~= false and (has(ns, "pid") or opts.rootfs or img) then
      plan.ops[#plan.ops + 1] = { kind = "proc", dest = "/proc" }
      for _, path in ipairs(masked or M.default_masked) do plan.ops[#plan.ops + 1] = { kind = "mask", dest = path } end
      for _, path in ipairs(readonly or M.default_readonly) do plan.ops[#plan.ops + 1] = { kind = "read-only", dest = path } end
    end
    -- a root of its own sees the host's /sys read-only (docker mounts one; bwrap users bind it),
    -- with what docker masks in it masked (default_masked)
    if opts.sys ~= false and (opts.rootfs or img) then
      table.insert(plan.ops, 1, { kind = "ro-bind", source = "/sys", dest = "/sys" })
    end
    if opts.dev ~= false then plan.ops[#plan.ops + 1] = { kind = "dev", dest = "/dev" } end
    if opts.tmp ~= false then
      local size
      if type(opts.tmp) == "string" or type(opts.tmp) == "number" then
        local n, err = core.parse_size(opts.tmp)
        if not n then fail("tmp: " .. err, level) end
        size = n
      end
      plan.ops[#plan.ops + 1] = { kind = "tmpfs", dest = "/tmp", size = size }
    end
    if has(ns, "ipc") and opts.dev ~= false then plan.ops[#plan.ops + 1] = { kind = "mqueue", dest = "/dev/mqueue" } end
  elseif opts.mounts and #opts.mounts > 0 then
    fail("mounts: need the mnt namespace in ns", level)
  end
  -- the home, hidden paths and the workspace before the user's own mounts (which may go into them)
  local base_env = default_env(opts.uid, M.default_path)
  if img then base_env = env_list(img.config.env, base_env, level) end
  plan.env = env_list(opts.env, base_env, level)
  -- a fresh home and the host's secrets hidden: the default of a workspace on the host's root
  local host_root = not opts.rootfs and not img
  local home, hide = opts.home, opts.hide
  if opts.workspace ~= nil and host_root then
    if home == nil then home = "tmpfs" end
    if hide == nil then hide = "secrets" end
  end
  if (home ~= nil and home ~= false) or hide ~= nil then
    if not has(ns, "mnt") then fail("home, hide: need the mnt namespace", level) end
    local wsm = require "sbx.workspace"
    for _, op in ipairs(wsm.home_ops(home, plan.env, host_root, level + 1)) do plan.ops[#plan.ops + 1] = op end
    for _, path in ipairs(wsm.hidden(hide, level + 1)) do plan.ops[#plan.ops + 1] = { kind = "mask", dest = path } end
  end
  local ws
  if opts.workspace ~= nil then
    if not has(ns, "mnt") then fail("workspace: needs the mnt namespace", level) end
    local wsm = require "sbx.workspace"
    ws = wsm.check(opts.workspace, level + 1)
    if ws.mode == "review" then ws.name = ws.name or (not img and opts.name) or wsm.generated_name() end
    plan.ops[#plan.ops + 1] = wsm.op(ws, plan)
  end
  -- /etc/hosts and /etc/resolv.conf of the caller's (docker's --add-host, --dns): files of their
  -- own (a root of its own gets a generated hosts, not one read through its links)
  if opts.hosts or opts.dns then
    if not has(ns, "mnt") then fail("hosts, dns: need the mnt namespace", level) end
    local function ip_of(what, v)
      if type(v) ~= "string" or not (v:match("^%d+%.%d+%.%d+%.%d+$") or (v:find(":") and v:match("^[%x:.]+$"))) then
        fail(("%s: '%s' is not an IP address"):format(what, tostring(v)), level + 1)
      end
      return v
    end
    if opts.hosts then
      local lines = {}
      for k, v in pairs(opts.hosts) do
        local name, ip = k, v
        if type(k) == "number" then name, ip = tostring(v):match("^([^:]+):(.+)$") end
        if type(name) ~= "string" or not name:match("^[%w][%w.%-]*$") then
          fail(("hosts: '%s' is not NAME:IP (or { NAME = IP })"):format(tostring(type(k) == "number" and v or k)), level)
        end
        lines[#lines + 1] = ip_of("hosts." .. name, ip) .. "\t" .. name
      end
      table.sort(lines)
      local base = ""  -- (a bridge's own names go first: spawn puts them there)
      if not bridge and not user_net then
        base = host_root and (core.read_file("/etc/hosts") or "")
               or ("127.0.0.1\tlocalhost %s\n::1\tlocalhost\n"):format(opts.hostname or "sbx")
        if base ~= "" and base:sub(-1) ~= "\n" then base = base .. "\n" end
      end
      plan.ops[#plan.ops + 1] = { kind = "file", dest = "/etc/hosts", source = base .. table.concat(lines, "\n") .. "\n" }
    end
    if opts.dns then
      if egress then fail("dns: with net.egress the sandbox asks sbx's responder; its upstream is net.dns", level) end
      local text = {}
      for i, v in ipairs(opts.dns) do text[i] = "nameserver " .. ip_of("dns", v) end
      plan.ops[#plan.ops + 1] = { kind = "file", dest = "/etc/resolv.conf", source = table.concat(text, "\n") .. "\n" }
    end
  end
  for i, op in ipairs(opts.mounts or {}) do
    if type(op) ~= "table" or type(op.kind) ~= "string" then
      fail(("mounts[%d]: expected a step made by sbx.bind, sbx.tmpfs, sbx.proc ..., got %s"):format(i, type(op)), level)
    end
    plan.ops[#plan.ops + 1] = copy(op)
  end

  local box = { _procs = setmetatable({}, { __mode = "k" }), _name = opts.name, _on = opts.on, _pressure = opts.pressure,
                _on_call = on_call, _hooks = opts.hooks, _workspace = ws,
                _limits_skipped = limits_skipped }
  if egress then
    -- the rules and the responder go in while the sandbox waits, before its payload runs
    local user = opts.hooks or {}
    local hooks = {}
    for k, v in pairs(user) do hooks[k] = v end
    hooks.created = function(p)
      require("sbx.egress").arm(p, egress)
      if user.created then user.created(p) end
    end
    box._hooks, box._egress = hooks, egress
  end
  if img and opts.name then
    local dir, upper, work = core.image.named_container(opts.name, img.id)
    if not dir then fail("name: " .. upper, level) end
    plan.layers, plan.upper, plan.work = img.layer_dirs, upper, work
    box._image, box._named_dir = img, dir
    -- in use while this box is open: sbx rm NAME leaves it
    box._named_lock = core.image.hold(dir)
  elseif img and opts.ephemeral then
    plan.layers = img.layer_dirs  -- no upper given: the child puts it on its scratch tmpfs
    box._image, box._ephemeral = img, true
  elseif img then
    -- the container's own upper layer, in the store; removed by box:close() or when collected
    local dir, upper, work = core.image.container_dirs(img.layers)
    if not dir then fail("image: " .. upper, level) end
    plan.layers, plan.upper, plan.work = img.layer_dirs, upper, work
    box._image, box._container_dir, box._owner = img, dir, core.sys.getpid()
    -- only the process that owns the box removes its directory (a fork, sbx.sys.clone, does not)
    box._sentinel = newproxy(true)
    getmetatable(box._sentinel).__gc = function()
      if box._owner == core.sys.getpid() then core.image.remove_tree(dir) end
    end
  end
  -- the one conversion to the core's plan (a sbx.Plan: checked now, not again at each run)
  local ok, checked, err = pcall(core.plan, plan)
  if not ok or not checked then
    if box._container_dir then core.image.remove_tree(box._container_dir) end
    fail(ok and err or tostring(checked):gsub("^[^:]*:%d+: ", ""), level)
  end
  box._plan = checked
  return setmetatable(box, Box)
end

-- What the container changed against its image: { { kind = "A"|"M"|"D", path = "/x" }, ... }
-- The box's review workspace (sbx.workspace): diff, promote, patch, discard -> workspace | nil, err
function Box:workspace()
  local ws = self._workspace
  if not ws or ws.mode ~= "review" then error("box:workspace: this box has no review workspace (workspace = { dir = ... })", 2) end
  return require("sbx.workspace").open(ws.name)
end

-- box:promote{ paths = { ... } | filter = fn(change) } -> outcomes | nil, err: the workspace's
-- changes applied to the host directory (see sbx.workspace).
function Box:promote(opts)
  local w, err = self:workspace()
  if not w then return nil, err end
  return w:promote(opts)
end

-- box:discard(): the workspace's changes dropped (its directory removed).
function Box:discard()
  local w, err = self:workspace()
  if not w then return nil, err end
  return w:discard()
end

function Box:diff()
  if self._workspace and self._workspace.mode == "review" then
    local w, err = self:workspace()
    if not w then return nil, err end
    return w:changes()
  end
  if not self._image then error("box:diff: this container has no image (made with rootfs)", 2) end
  if self._ephemeral then error("box:diff: an ephemeral container keeps no upper layer", 2) end
  return core.image.diff(self._plan.upper, self._image.layer_dirs)
end

-- Turns the container's changes into a new layer on top of its image: the new image.
function Box:commit(tag, config)
  if not self._image then error("box:commit: this container has no image (made with rootfs)", 2) end
  if self._ephemeral then error("box:commit: an ephemeral container keeps no upper layer", 2) end
  if tag ~= nil and type(tag) ~= "string" then error("box:commit: tag must be a string", 2) end
  for p in pairs(self._procs) do
    if p.running then return nil, "commit: the container is still running (stop it first)", 16 end
  end
  return core.image.commit(self._plan.upper, self._image.id, tag, config)
end

-- The plan as plain data: what the core will do, in order.
function Box:spec()
  return self._plan:table()
end

local function run_plan(self, args, level)
  if type(args) ~= "table" or type(args[1]) ~= "string" then
    error('box:run/spawn: expected { "/bin/prog", "arg", ... [, stdout = "pipe"] }', level + 1)
  end
  for k in pairs(args) do
    if type(k) ~= "number" and not RUN_KEYS[k] then
      error(("box:run/spawn: unknown key '%s' (expected %s)"):format(tostring(k), key_list(RUN_KEYS)), level + 1)
    end
  end
  if args.timeout ~= nil and (type(args.timeout) ~= "number" or not (args.timeout > 0)) then
    error(("box:run: timeout: expected seconds above 0, got %s"):format(tostring(args.timeout)), level + 1)
  end
  -- what this run changes in the box's plan
  local run = { argv = {}, cwd = args.cwd, uid = args.uid, gid = args.gid }
  for i, a in ipairs(args) do run.argv[i] = tostring(a) end
  if args.env then run.env = env_list(args.env, self._plan.env or {}, level + 1) end
  return run
end

-- Starts a sandbox of this box: straight, or with its hooks around the start (lua/sbx/hooks.lua).
-- A review workspace's directories are made at its first start (and its start recorded).
local function start(self, io, run)
  local ws = self._workspace
  local made
  if ws and ws.mode == "review" and not ws.made then
    local w, err = require("sbx.workspace").create(ws.name, ws.dir, ws.dest)
    if not w then return nil, err end
    ws.made, made = true, w
  end
  local p, err, errno
  if self._limits_skipped then
    _G.io.stderr:write("sbx: without limits (limits_optional): ", (self._limits_skipped:gsub(" %(systemd%-run.*$", "")), "\n")
  end
  if self._hooks then
    p, err, errno = require("sbx.hooks").start(self, io, run)
  else
    p, err, errno = core.spawn(self._plan, io, run)
  end
  -- a workspace made for a start that failed holds nothing: it goes too
  if not p and made then made:discard(); ws.made = false end
  return p, err, errno
end

-- box:spawn{ argv..., stdin/stdout/stderr = "inherit"|"null"|"pipe"|fd } -> sbx.Process
function Box:spawn(args)
  local run = run_plan(self, args, 2)
  local p, err, errno = start(self, { stdin = args.stdin, stdout = args.stdout, stderr = args.stderr, tty = args.tty, fds = args.fds }, run)
  if not p then return nil, err, errno end
  self._procs[p] = true
  local ok, aerr = self:_arm(p)
  if not ok then return nil, aerr end
  return p
end

-- The box's `on` handlers armed on a sandbox it started (an error ends that sandbox).
function Box:_arm(p)
  if self._on_call then require("sbx.events").serve_seccomp(p, self._on_call) end
  if not self._on then return true end
  for event, fn in pairs(self._on) do
    local ok, err = pcall(p.on, p, event, fn, event == "pressure" and self._pressure or nil)
    if not ok then
      p:kill("KILL")
      p:wait()
      return nil, tostring(err):gsub("^[^:]*:%d+: ", "")
    end
  end
  return true
end

-- box:run{ argv..., input = "data", stdout = "pipe", timeout = 10 } -> status table
-- { ok = true, code = 0, status = 0, stdout = "...", stderr = "..." } or { signal = 9, ... }.
function Box:run(args)
  local run = run_plan(self, args, 2)
  if args.tty then
    -- a new pseudo-terminal, joined to ours (raw mode) until it ends
    if args.stdin or args.stdout or args.stderr or args.input then
      error("box:run: tty = true gives the sandbox a terminal for stdin, stdout and stderr (drop them)", 2)
    end
    local p, err, errno = start(self, { tty = true }, run)
    if not p then return nil, err, errno end
    self._procs[p] = true
    local st, werr = p:interact()
    self._procs[p] = nil
    if not st then return nil, werr end
    st.pid = p.pid
    return st
  end
  local stdin = args.stdin
  if args.input ~= nil then stdin = "pipe" end
  local p, err, errno = start(self, { stdin = stdin, stdout = args.stdout, stderr = args.stderr, fds = args.fds }, run)
  if not p then return nil, err, errno end
  self._procs[p] = true
  local armed, aerr = self:_arm(p)
  if not armed then return nil, aerr end
  local out, errout, cut
  local st
  local piped = stdin == "pipe" or args.stdout == "pipe" or args.stderr == "pipe"
  if piped and package.loaded["sbx.events"] and package.loaded["sbx.events"].busy(p) then
    -- the loop has work (handlers, timers): the output is read by the loop, which runs meanwhile
    st, out, errout = package.loaded["sbx.events"].communicate(p, args.input, args.timeout,
      { stdout = args.stdout == "pipe", stderr = args.stderr == "pipe" })
    cut = not st
  elseif piped then
    out, errout, cut = p:communicate(args.input, args.timeout)
  end
  st = st or (not cut and p:wait(args.timeout))
  if not st then
    p:kill("KILL")
    st = assert(p:wait())
    st.timed_out = true
  end
  if args.stdout == "pipe" then st.stdout = out end
  if args.stderr == "pipe" then st.stderr = errout end
  st.pid = p.pid
  if self._plan.limits then
    -- what the sandbox used, and whether the kernel's OOM killer or pids.max stopped it
    st.stats = p:stat()
    st.events = p:events()
    st.oom_killed = st.events and st.events.oom_kill > 0 or false
  end
  self._procs[p] = nil
  return st
end

-- box:learn{ argv..., out = "FILE.lua", <box:run's options> } -> policy, status, text: runs the
-- command with each call the box's seccomp allows reported to a recorder in this process (and let
-- through), then gives the policy of the calls it made: default deny, the calls seen allowed, for
-- clone, socket, ioctl, personality and prctl only with the argument values seen. `out`: also
-- written there as reviewable Lua, which sbx.seccomp.load and --seccomp FILE.lua read.
function Box:learn(args)
  if type(args) ~= "table" or type(args[1]) ~= "string" then error('box:learn: expected { "/bin/prog", "arg", ..., out = "FILE.lua" }', 2) end
  if self._on_call then error("box:learn: this box's seccomp already has an on_call handler: learn from a box without one", 2) end
  if args.tty then error("box:learn: tty = true: a learning run has no terminal (its output can be piped)", 2) end
  local seccomp = require "sbx.seccomp"
  local run, argv = {}, {}
  for k, v in pairs(args) do if k ~= "out" then run[k] = v end end
  for i, a in ipairs(args) do argv[i] = a end
  local rec = seccomp.learner{ command = argv }
  local learner = setmetatable({}, getmetatable(self))
  for k, v in pairs(self) do learner[k] = v end
  learner._plan = self._plan:with{ seccomp = seccomp.learning(self._plan.seccomp) }
  learner._on_call = rec.on_call
  local st, err = learner:run(run)
  if not st then return nil, err end
  local text = rec:text()
  if args.out then
    local ok, werr = core.write_file(args.out, text)
    if not ok then return nil, ("box:learn: write %s: %s"):format(args.out, tostring(werr)) end
  end
  return rec:policy(), st, text
end

-- box:start{ argv..., env =, cwd = } [, { name = }] -> a long-running sandbox (see sbx.get):
-- a supervisor of its own holds it after this process is gone (with the box's on handlers, hooks
-- and seccomp.on_call: a fork of this process, which runs them).
function Box:start(args, opts)
  if type(args) ~= "table" or type(args[1]) ~= "string" then error('box:start: expected { "/bin/prog", "arg", ... }', 2) end
  return require("sbx.sandboxes").start(self, args, opts)
end

-- box:shell([cmd]) -> status: an interactive shell (or cmd: a string for /bin/sh -c, or a list)
-- on the sandbox's own terminal, with the caller's TERM.
function Box:shell(cmd)
  local argv
  if cmd == nil then argv = { "/bin/sh" }
  elseif type(cmd) == "string" then argv = { "/bin/sh", "-c", cmd }
  elseif type(cmd) == "table" then argv = {}; for i, a in ipairs(cmd) do argv[i] = a end
  else error("box:shell: expected nothing, a command string or a list", 2) end
  argv.tty = true
  argv.env = { TERM = os.getenv("TERM") or "xterm" }
  return self:run(argv)
end

-- Kills and reaps every sandbox this box started that still runs, and removes its container
-- directory (its upper layer). Idempotent.
function Box:close()
  for p in pairs(self._procs) do
    if p.running then p:kill("KILL"); p:wait() end
    self._procs[p] = nil
  end
  if self._container_dir and self._owner == core.sys.getpid() then
    core.image.remove_tree(self._container_dir)
  end
  self._container_dir = nil
  if self._named_lock then core.sys.close(self._named_lock); self._named_lock = nil end
end

-- Deletes a named container's directory (its upper layer): after this, box:commit cannot work.
function Box:remove()
  self:close()
  if self._named_dir then
    local ok, err = core.image.remove_tree(self._named_dir)
    if not ok then return nil, err end
    self._named_dir = nil
  end
  return true
end

-- After a fork: which process cleans the box up from now on (default: this one). The other side
-- of the fork calls it with the new owner's pid so that it keeps its hands off.
function Box:adopt(pid)
  self._owner = pid or core.sys.getpid()
end

function Box:__tostring()
  return ("sbx.Box(%s, ns: %s)"):format(self._plan.rootfs or "host root", table.concat(self._plan.namespaces, ","))
end

return M
