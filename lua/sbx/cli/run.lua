-- sbx run [options] [--] cmd args: a sandbox with everything isolated by default.
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local M = {}

-- The exit statuses (docs/run.md): 2 the command line is wrong (flags, values, the description
-- they make: checked before anything is made), 125 the sandbox could not be set up, 126 the
-- command cannot be run and 127 it is not there (as docker's and podman's), else the payload's own.
local USAGE_ERROR, SETUP_ERROR = 2, 125

-- A start that failed: 127 when the command is not there (ENOENT, ENOTDIR), 126 when it cannot
-- be run (EACCES, EPERM, ENOEXEC, EISDIR, ELOOP, ETXTBSY), else (an I/O error...) 125
local NOT_THERE = { [2] = true, [20] = true }
local CANNOT_RUN = { [13] = true, [1] = true, [8] = true, [21] = true, [40] = true, [26] = true }
function M.start_failure(err, errno)
  if tostring(err):match("^exec ") then
    if NOT_THERE[errno] then return 127 end
    if CANNOT_RUN[errno] then return 126 end
  end
  return SETUP_ERROR
end

M.options = {
  { long = "rootfs", arg = "required", key = "rootfs", meta = "DIR", help = "pivot_root into DIR (default: the host's root, read-only)" },
  { long = "busybox", arg = "none", key = "busybox", help = "use the cached busybox rootfs (built on first use)" },
  { long = "image", arg = "required", key = "image", meta = "REF", help = "an image from the store (an overlay with its own upper layer)" },
  { long = "name", arg = "required", key = "name", meta = "NAME", help = "a persistent container (its changes are kept; sbx commit NAME TAG)" },
  { long = "rw", arg = "none", key = "rw", help = "leave the --rootfs writable" },
  { long = "workspace", arg = "required", key = "workspace", meta = "DIR[:DEST]", help = "DIR at DEST (default: the same path) through an overlay: the host's DIR is not written; review the changes with sbx diff, apply them with sbx promote" },
  { long = "workspace-mode", arg = "required", key = "workspace_mode", meta = "MODE", help = "review (default: the overlay), ro (read-only bind) or rw (plain bind)" },
  { long = "home", arg = "required", key = "home", meta = "DIR|tmpfs", help = "$HOME: DIR bound, or a fresh tmpfs (--workspace on the host's root: tmpfs unless given)" },
  { long = "hide", arg = "required", key = "hide", list = true, meta = "PATH", help = "mask PATH (an empty directory or /dev/null); ~/PATH is in your home" },
  { long = "hide-secrets", arg = "none", key = "hide_secrets", help = "mask ~/.ssh, ~/.aws, ~/.config/gh, ~/.netrc, browser profiles... of every home (--workspace on the host's root: the default)" },
  { long = "hostname", arg = "required", key = "hostname", meta = "NAME", help = "hostname inside (uts namespace)" },
  { long = "bind", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC[:DST]", help = "bind a host path read-write" },
  { long = "ro-bind", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC[:DST]", help = "bind a host path read-only" },
  { long = "bind-try", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC[:DST]", help = "like --bind, skipped when SRC is missing" },
  { long = "ro-bind-try", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC[:DST]", help = "like --ro-bind, skipped when SRC is missing" },
  { long = "tmpfs", arg = "required", key = "mounts", list = true, tagged = true, meta = "DST[:SIZE]", help = "a tmpfs at DST" },
  { long = "volume", short = "v", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC:DST[:ro]", help = "docker's and podman's bind: --bind SRC:DST, or --ro-bind with :ro" },
  { long = "dev-bind", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC[:DST]", help = "like --bind, with its device nodes usable (as bwrap)" },
  { long = "dev-bind-try", arg = "required", key = "mounts", list = true, tagged = true, meta = "SRC[:DST]", help = "like --dev-bind, skipped when SRC is missing" },
  { long = "device", arg = "required", key = "devices", list = true, meta = "HOST[:INSIDE]", help = "a host device in the sandbox (as docker: --device /dev/fuse; with a device cgroup it is allowed there too)" },
  { long = "read-only", arg = "none", key = "read_only", help = "the root read-only (an --image root; --rootfs and the host's root already are)" },
  { long = "no-sys", arg = "none", key = "no_sys", help = "no /sys in a root of its own (default: the host's, read-only, /sys/firmware masked)" },
  { long = "env", short = "e", arg = "required", key = "env", list = true, meta = "KEY=VALUE", help = "set an environment variable" },
  { long = "env-file", arg = "required", key = "env_files", list = true, meta = "FILE", help = "variables from FILE: KEY=VALUE lines (# comments; KEY alone takes yours), before --env" },
  { long = "cwd", short = "w", arg = "required", key = "cwd", meta = "DIR", help = "working directory inside (default /)" },
  { long = "uid", arg = "required", key = "uid", meta = "N", help = "user id inside" },
  { long = "gid", arg = "required", key = "gid", meta = "N", help = "group id inside" },
  { long = "user", short = "u", arg = "required", key = "user", meta = "NAME[:GROUP]", help = "user (and group) inside, names looked up in the sandbox's root's /etc/passwd and /etc/group, or UID[:GID]" },
  { long = "uidmap", arg = "required", key = "uidmap", list = true, meta = "INSIDE:OUTSIDE:COUNT", help = "a line of the user namespace's uid map (as podman; replaces the default map)" },
  { long = "gidmap", arg = "required", key = "gidmap", list = true, meta = "INSIDE:OUTSIDE:COUNT", help = "a line of the gid map (as podman)" },
  { long = "ulimit", arg = "required", key = "ulimit", list = true, meta = "NAME=SOFT[:HARD]", help = "a resource limit (nofile=1024:2048, nproc=64, core=0; unlimited), as docker" },
  { long = "sysctl", arg = "required", key = "sysctl", list = true, meta = "KEY=VALUE", help = "a namespaced sysctl inside (net.*, kernel.shm*/msg*/sem, fs.mqueue.*), as docker" },
  { long = "add-host", arg = "required", key = "add_host", list = true, meta = "NAME:IP", help = "a line in the sandbox's /etc/hosts, as docker" },
  { long = "net", arg = "required", key = "net", meta = "MODE", help = "loopback (default), none (lo down), host, bridge (sbx0, NAT; as a user: pasta, else slirp4netns), pasta or slirp4netns (user-mode networks: no privilege needed)" },
  { long = "publish", short = "p", arg = "required", key = "publish", list = true, meta = "[IP:]HOST:PORT", help = "publish a port on the host (implies --net bridge; 127.0.0.1:8080:80)" },
  { long = "ip", arg = "required", key = "ip", meta = "ADDR", help = "this address on the bridge (default: the next free one)" },
  { long = "bridge", arg = "required", key = "bridge", meta = "NAME", help = "use bridge NAME instead of sbx0 (implies --net bridge)" },
  { long = "allow", arg = "required", key = "allow", list = true, meta = "HOST[:PORT]", help = "egress allow-list (implies --net bridge): an IP, CIDR, [IPv6], name or *.domain, with a port or not; everything else is refused and counted" },
  { long = "dns", arg = "required", key = "dns", list = true, meta = "IP", help = "the sandbox's nameserver (its /etc/resolv.conf, as docker); with --allow, the resolver the allowed names are asked of (IP[:PORT]; default: the host's first nameserver)" },
  { long = "netns", arg = "required", key = "netns", meta = "NAME|PATH", help = "join a named (ip netns) network namespace" },
  { long = "share-net", arg = "none", key = "share_net", help = "keep the host's network namespace" },
  { long = "share-pid", arg = "none", key = "share_pid", help = "keep the host's pid namespace (no init)" },
  { long = "share-ipc", arg = "none", key = "share_ipc", help = "keep the host's ipc namespace" },
  { long = "share-uts", arg = "none", key = "share_uts", help = "keep the host's uts namespace" },
  { long = "share-cgroup", arg = "none", key = "share_cgroup", help = "keep the host's cgroup namespace" },
  { long = "share-user", arg = "none", key = "share_user", help = "no user namespace (root stays root)" },
  { long = "time", arg = "none", key = "time", help = "a new time namespace" },
  { long = "boottime", arg = "required", key = "boottime", meta = "SECS", help = "boottime offset (implies --time)" },
  { long = "monotonic", arg = "required", key = "monotonic", meta = "SECS", help = "monotonic offset (implies --time)" },
  { long = "memory", short = "m", arg = "required", key = "memory", meta = "SIZE", help = "memory limit (64M, 1G): its own cgroup" },
  { long = "memory-swap", arg = "required", key = "memory_swap", meta = "SIZE", help = "memory + swap limit (as docker)" },
  { long = "cpus", arg = "required", key = "cpus", meta = "N", help = "CPU limit in cores (0.5 = half a core)" },
  { long = "cpu-weight", arg = "required", key = "cpu_weight", meta = "1-10000", help = "relative CPU weight (cpu.shares on v1)" },
  { long = "cpuset", arg = "required", key = "cpuset", meta = "LIST", help = "CPUs allowed (0-1, 0,2)" },
  { long = "pids", arg = "required", key = "pids", meta = "N", help = "at most N processes (pids.max)" },
  { long = "limits-optional", arg = "none", key = "limits_optional", help = "as a user without a delegated cgroup subtree (sbx doctor): run without the limits, and say so (default: refused)" },
  { long = "device-cgroup-rule", arg = "required", key = "device_rules", list = true, meta = "RULE", help = "allow a device beyond the default ones ('c 10:229 rwm'; deny-all first, as docker)" },
  { long = "cgroup-parent", arg = "required", key = "cgroup_parent", meta = "PATH", help = "create the sandbox's group under PATH" },
  { long = "preserve-fds", arg = "required", key = "preserve_fds", meta = "N", help = "pass fds 3..3+N-1 on (as runc/podman)" },
  { long = "security-opt", arg = "required", key = "security_opt", list = true, meta = "OPT", help = "podman's and docker's: seccomp=PROFILE|unconfined, no-new-privileges[=true|false]" },
  { long = "seccomp", arg = "required", key = "seccomp", meta = "PROFILE", help = "default, strict, none, FILE.lua (a policy table, as sbx.seccomp.load reads it), FILE.json (docker's format), or learn=FILE.lua (run under the default profile and write the policy of the calls made)" },
  { long = "cap-add", arg = "required", key = "cap_add", list = true, meta = "CAP", help = "keep a capability beyond the default 14 (or ALL)" },
  { long = "cap-drop", arg = "required", key = "cap_drop", list = true, meta = "CAP", help = "drop a capability of the default 14 (or ALL)" },
  { long = "privileged", arg = "none", key = "privileged", help = "no seccomp, all capabilities, nothing masked (still namespaced)" },
  { long = "stats", arg = "none", key = "stats", help = "print the sandbox's cgroup figures on stderr at the end" },
  { long = "timeout", arg = "required", key = "timeout", meta = "SECS", help = "kill the sandbox after SECS" },
  { long = "tty", short = "t", arg = "none", key = "tty", help = "a new pseudo-terminal for COMMAND, joined to yours (sbx run -it -- sh)" },
  { long = "interactive", short = "i", arg = "none", key = "interactive", help = "keep stdin open (it is: accepted for docker's -it)" },
  { long = "detach", short = "d", arg = "none", key = "detach", help = "leave it running in the background; print how to stop it" },
  { long = "print-spec", arg = "none", key = "print_spec", help = "print the plan as JSON and exit" },
  { long = "trace-startup", arg = "none", key = "trace_startup", help = "print each start-up phase and its time on stderr at the end (SBX_TRACE=startup)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local function split_pair(v)
  local a, b = v:match("^([^:]+):(.+)$")
  return a or v, b
end

local function parse(args)
  return getopt.parse(args, M.options)
end

local function whole(opt, v)
  local n = tonumber(v)
  if not n or n < 0 or n ~= math.floor(n) then error(("--%s: '%s' is not a number"):format(opt, v), 0) end
  return n
end

-- KEY=VALUE lines of an --env-file (docker's format: # comments and blank lines skipped, KEY
-- alone takes the caller's value, no quotes removed)
local function env_file(path, into)
  local f, err = io.open(path)
  if not f then error(("--env-file %s: %s"):format(path, (err:gsub("^[^:]*: ", ""))), 0) end
  local n = 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("^%s+", ""):gsub("\r$", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local k = line:match("^([^=]+)")
      if not k:match("^[%a_][%w_]*$") then
        f:close()
        error(("--env-file %s line %d: '%s' is not KEY=VALUE"):format(path, n, line), 0)
      end
      if not line:find("=") then
        local v = os.getenv(k)
        if v then into[#into + 1] = k .. "=" .. v end
      else
        into[#into + 1] = line
      end
    end
  end
  f:close()
end

-- A file of the sandbox's root, read on the host without following a link out of it (a hostile
-- root's /etc/passwd -> /etc/shadow): nil when a part of the path is a link.
local function root_file(root, rel)
  local path = root == "/" and "" or root
  for part in rel:gmatch("[^/]+") do
    path = path .. "/" .. part
    local kind = require("sbx.core").lstat(path)
    if kind == "symlink" then return nil, path .. " is a symbolic link" end
    if not kind then return nil, path .. ": missing" end
  end
  return require("sbx.core").read_file(path)
end

-- --user NAME[:GROUP] (or numbers) -> uid, gid, looked up in the sandbox's own root, as docker
local function lookup_user(spec, root_dirs)
  local user, group = spec:match("^([^:]+):?(.*)$")
  if not user then error(("--user '%s': expected NAME[:GROUP] or UID[:GID]"):format(spec), 0) end
  local function find(file, name)
    local why
    for _, root in ipairs(root_dirs) do
      local text, err = root_file(root, "etc/" .. file)
      if text then
        for line in text:gmatch("[^\n]+") do
          local f = {}
          for field in (line .. ":"):gmatch("([^:]*):") do f[#f + 1] = field end
          if f[1] == name then return tonumber(f[3]), tonumber(f[4]) end
        end
        return nil, ("no %s '%s' in the sandbox's /etc/%s"):format(file == "passwd" and "user" or "group", name, file)
      end
      why = why or err
    end
    return nil, ("the sandbox's /etc/%s cannot be read (%s): give numbers"):format(file, tostring(why))
  end
  local uid, gid = tonumber(user), nil
  if not uid then
    local u, g = find("passwd", user)
    if not u then error(("--user %s: %s"):format(spec, g), 0) end
    uid, gid = u, g
  end
  if group ~= "" then
    gid = tonumber(group)
    if not gid then
      local g, err = find("group", group)
      if not g then error(("--user %s: %s"):format(spec, err), 0) end
      gid = g
    end
  end
  return uid, gid
end

local function id_map_lines(flag, list)
  local map = {}
  for _, v in ipairs(list) do
    local a, b, c = v:match("^(%d+):(%d+):(%d+)$")
    if not a then error(("--%s %s: expected INSIDE:OUTSIDE:COUNT (0:100000:65536)"):format(flag, v), 0) end
    map[#map + 1] = { inside = tonumber(a), outside = tonumber(b), count = tonumber(c) }
  end
  return map
end

-- Fills the same container description the Lua API takes.
function M.description(opts)
  local d = { mounts = {}, env = {} }
  local roots = (opts.busybox and 1 or 0) + (opts.rootfs and 1 or 0) + (opts.image and 1 or 0)
  if roots > 1 then error("--busybox, --rootfs and --image: choose one", 0) end
  -- --name: with -d the sandbox's name; with an image (or alone) a persistent image container
  local root_given = opts.busybox or opts.rootfs
  if opts.workspace_mode and not opts.workspace then error("--workspace-mode: without --workspace", 0) end
  if opts.workspace then
    -- --name then names the workspace
    if opts.detach then error("--workspace with -d: a workspace is for a run that ends (its changes are reviewed after it)", 0) end
    local dir, dest = split_pair(opts.workspace)
    if dir:sub(1, 1) ~= "/" then dir = (os.getenv("PWD") or ".") .. "/" .. dir end
    d.workspace = { dir = dir, dest = dest, mode = opts.workspace_mode, name = opts.name }
  elseif opts.name and root_given and not opts.detach then
    error("--name needs --image (or an existing named container), -d, or --workspace", 0)
  end
  d.image = opts.image
  -- (with -d the name is the sandbox's, given to detach: not an image container's)
  if not root_given and not opts.workspace and not opts.detach then d.name = opts.name end
  if opts.home then
    if opts.home ~= "tmpfs" and opts.home:sub(1, 1) ~= "/" then opts.home = (os.getenv("PWD") or ".") .. "/" .. opts.home end
    d.home = opts.home
  end
  if opts.hide or opts.hide_secrets then
    d.hide = {}
    for _, p in ipairs(opts.hide or {}) do d.hide[#d.hide + 1] = p end
    if opts.hide_secrets then d.hide[#d.hide + 1] = "secrets" end
  end
  -- a one-shot run of an image keeps nothing: its upper layer lives on a tmpfs inside it
  if opts.image and not opts.name then d.ephemeral = true end
  if opts.busybox then
    local root, err = sbx.rootfs.busybox()
    if not root then error({ setup = err }, 0) end  -- (not the command line's fault: 125)
    d.rootfs = root
  elseif opts.rootfs then
    if opts.rootfs:sub(1, 1) ~= "/" then
      local pwd = os.getenv("PWD") or "."
      opts.rootfs = pwd .. "/" .. opts.rootfs
    end
    d.rootfs = opts.rootfs
  end
  if opts.rw then d.readonly = false end
  if opts.read_only then
    if opts.rw then error("--rw and --read-only: choose one", 0) end
    d.readonly = true
  end
  if opts.no_sys then d.sys = false end
  d.hostname = opts.hostname
  d.cwd = opts.cwd
  if opts.uid then d.uid = whole("uid", opts.uid) end
  if opts.gid then d.gid = whole("gid", opts.gid) end
  if opts.user then
    if opts.uid or opts.gid then error("--user with --uid/--gid: choose one", 0) end
    local roots = { d.rootfs or "/" }
    if opts.image then
      local img = sbx.image.get(opts.image)
      roots = {}
      for i = #(img and img.layer_dirs or {}), 1, -1 do roots[#roots + 1] = img.layer_dirs[i] end
    end
    d.uid, d.gid = lookup_user(opts.user, roots)
  end
  if opts.uidmap then d.uid_map = id_map_lines("uidmap", opts.uidmap) end
  if opts.gidmap then d.gid_map = id_map_lines("gidmap", opts.gidmap) end
  if (opts.uidmap or opts.gidmap) and not (opts.uidmap and opts.gidmap) then
    error("--uidmap and --gidmap: give both (the user namespace needs both maps)", 0)
  end
  for _, path in ipairs(opts.env_files or {}) do env_file(path, d.env) end
  for _, v in ipairs(opts.env or {}) do
    if not v:find("=") then
      local inherited = os.getenv(v)
      if inherited then v = v .. "=" .. inherited else error(("--env %s: not KEY=VALUE and not set outside"):format(v), 0) end
    end
    d.env[#d.env + 1] = v
  end
  for _, m in ipairs(opts.mounts or {}) do
    local kind, value = m.flag, m.value
    -- (the API's errors in the flag's words: "--tmpfs /s:10Q: bad size", not "sbx.tmpfs: ...")
    local ok, step = pcall(function()
      if kind == "tmpfs" then
        local dst, size = split_pair(value)
        return sbx.tmpfs(dst, size and { size = size } or nil)
      end
      local src, dst, mode = value:match("^([^:]*):([^:]*):([^:]*)$")
      if not src then src, dst = split_pair(value) end
      if mode and mode ~= "ro" and mode ~= "rw" then error(("'%s' is not ro or rw"):format(mode), 0) end
      local try = kind:match("%-try$") and { try = true } or nil
      local fn = (kind:match("^ro") or mode == "ro") and sbx.ro_bind or kind:match("^dev") and sbx.dev_bind or sbx.bind
      return fn(src, dst ~= "" and dst or src, try)
    end)
    if not ok then
      error(("--%s %s: %s"):format(kind, value, (tostring(step):gsub("^[^:]*:%d+: ", ""):gsub("^sbx%.[%w_]+: ", ""))), 0)
    end
    d.mounts[#d.mounts + 1] = step
  end
  for _, v in ipairs(opts.devices or {}) do
    local host, inside = v:match("^([^:]+):?([^:]*)")
    inside = (inside ~= "" and inside ~= "rwm" and inside) or host
    local num, kind = require("sbx.core").device_number(host, true)
    if not num then error(("--device %s: %s"):format(v, kind), 0) end
    d.mounts[#d.mounts + 1] = sbx.dev_bind(host, inside)
    opts.device_rules = opts.device_rules or (opts.memory or opts.pids or opts.cpus) and {} or nil
    if opts.device_rules then table.insert(opts.device_rules, ("%s %s rwm"):format(kind, num)) end
  end
  if opts.ulimit then
    d.rlimits = {}
    for _, v in ipairs(opts.ulimit) do
      local k, amount = v:match("^([%a_]+)=(.+)$")
      if not k then error(("--ulimit %s: expected NAME=SOFT[:HARD] (nofile=1024:2048)"):format(v), 0) end
      d.rlimits[k] = amount
    end
  end
  if opts.sysctl then
    d.sysctl = {}
    for _, v in ipairs(opts.sysctl) do
      local k, val = v:match("^([%w_.%-/]+)=(.*)$")
      if not k then error(("--sysctl %s: expected KEY=VALUE (net.ipv4.ip_unprivileged_port_start=0)"):format(v), 0) end
      d.sysctl[(k:gsub("/", "."))] = val
    end
  end
  if opts.add_host then d.hosts = opts.add_host end
  for _, o in ipairs(opts.security_opt or {}) do
    local k, v = o:match("^([%w-]+)[=:]?(.*)$")
    if k == "seccomp" and v ~= "" then
      if opts.seccomp then error("--security-opt seccomp= and --seccomp: choose one", 0) end
      opts.seccomp = v == "unconfined" and "none" or v
    elseif k == "no-new-privileges" and (v == "" or v == "true" or v == "false") then
      d.no_new_privs = v ~= "false"
    elseif (k == "label" and v == "disable") or (k == "apparmor" and v == "unconfined") then
      -- sbx applies no SELinux label or AppArmor profile: nothing to turn off
    else
      error(("--security-opt %s: sbx knows seccomp=PROFILE|unconfined, no-new-privileges[=true|false] (and takes label=disable, apparmor=unconfined as they are: it sets neither)"):format(o), 0)
    end
  end
  local share = {}
  for _, n in ipairs({ "user", "pid", "net", "ipc", "uts", "cgroup" }) do
    if opts["share_" .. n] then share[#share + 1] = n end
  end
  if #share > 0 then d.share = share end
  d.time = opts.time
  local user = (opts.net == "pasta" or opts.net == "slirp4netns") and opts.net or nil
  local bridged = opts.net == "bridge" or user or opts.publish or opts.ip or opts.bridge or opts.allow
  local upstream  -- with --allow: the one resolver the allowed names are asked of
  if opts.dns and opts.allow then
    if #opts.dns > 1 then error("--dns with --allow: one resolver (the allowed names are asked of it)", 0) end
    upstream = opts.dns[1]
  elseif opts.dns then
    d.dns = opts.dns
  end
  if opts.netns then
    if opts.net or opts.share_net or bridged then error("--netns joins a namespace: drop --net, --share-net, -p, --ip, --bridge, --allow", 0) end
    d.netns = opts.netns
  elseif bridged then
    if opts.share_net then
      error("--share-net with -p, --ip, --bridge, --allow or --net bridge: the sandbox would be on the host's network, where a port it listens on is the host's already; drop --share-net for a network of its own, or the others", 0)
    end
    if opts.net and opts.net ~= "bridge" and not user then error(("--net %s: -p, --ip, --bridge and --allow need --net bridge (or pasta, slirp4netns)"):format(opts.net), 0) end
    if user or sbx.sys.ids().uid ~= 0 then  -- a user-mode network: no bridge of the host's
      if opts.ip or opts.bridge then error(("--%s: a host bridge's; %s has no bridge (a host bridge needs root)"):format(opts.ip and "ip" or "bridge", user or "an unprivileged user's network (pasta)"), 0) end
      d.net = { user = user, publish = opts.publish, egress = opts.allow, dns = upstream }
    else
      d.net = { bridge = opts.bridge or true, ip = opts.ip, publish = opts.publish, name = opts.hostname or opts.name,
                egress = opts.allow, dns = upstream }
      -- its /etc/hostname says the name it is reached by: so does hostname(1)
      if not opts.hostname and opts.name then d.hostname = opts.name end
    end
  elseif opts.net == "host" or opts.share_net then d.net = "host"
  else d.net = opts.net end
  if opts.boottime or opts.monotonic then
    d.time_offsets = { boottime = opts.boottime, monotonic = opts.monotonic }
  end
  local limits = {}
  local function num(opt, v)
    local n = tonumber(v)
    if not n or n <= 0 then error(("--%s: '%s' is not a positive number"):format(opt, v), 0) end
    return n
  end
  if opts.memory then limits.memory = opts.memory end
  if opts.memory_swap then limits.memory_swap = opts.memory_swap end
  if opts.cpus then limits.cpu = num("cpus", opts.cpus) end
  if opts.cpu_weight then limits.cpu_weight = num("cpu-weight", opts.cpu_weight) end
  if opts.cpuset then limits.cpuset = opts.cpuset end
  if opts.pids then limits.pids = num("pids", opts.pids) end
  if opts.device_rules then
    -- docker's meaning: the devices a container needs, then these
    limits.devices = require("sbx.core").default_device_rules()
    for _, r in ipairs(opts.device_rules) do limits.devices[#limits.devices + 1] = r end
  end
  if next(limits) then d.limits = limits end
  if opts.limits_optional then
    if not d.limits then error("--limits-optional: without -m, --cpus, --pids or another limit", 0) end
    d.limits_optional = true
  end
  d.cgroup_parent = opts.cgroup_parent
  -- hardening: the defaults and what these flags change are container.lua's
  d.privileged = opts.privileged
  local sc = opts.seccomp
  if sc and sc:match("^learn=") then
    -- learned under the default profile (main runs it with box:learn)
    if not sc:match("^learn=.") then error("--seccomp learn=FILE.lua: the file to write the learned policy to", 0) end
    sc = nil
  elseif sc and (sc:match("%.lua$") or sc:match("%.json$")) then
    local seccomp = require("sbx.seccomp")
    local policy, err = (sc:match("%.lua$") and seccomp.load or seccomp.load_json)(sc)
    if not policy then error("--seccomp " .. err, 0) end
    sc = policy
  end
  d.seccomp = sc
  -- (checked here, not at the spawn: an unknown one is the command line's fault)
  local known
  for _, flag in ipairs({ "cap_add", "cap_drop" }) do
    for _, c in ipairs(opts[flag] or {}) do
      if not known then
        known = {}
        for _, n in ipairs(require("sbx.core").cap_names("ffffffffffffffff")) do known[n:lower()] = true end
      end
      local low = c:lower()
      if low ~= "all" and not known[low] and not known["cap_" .. low] then
        error(("--%s %s: not a capability (CAP_NET_ADMIN or net_admin, CAP_SYS_PTRACE..., or ALL; see capabilities(7))"):format(flag:gsub("_", "-"), c), 0)
      end
    end
  end
  if opts.cgroup_parent and ("/" .. opts.cgroup_parent .. "/"):find("/%.%./") then
    error(("--cgroup-parent %s: contains '..' (a path under the hierarchy roots)"):format(opts.cgroup_parent), 0)
  end
  d.cap_add, d.cap_drop = opts.cap_add, opts.cap_drop
  return d
end

function M.help()
  return "usage: sbx run [options] [--] COMMAND [ARG...]\n\n" ..
    "Runs COMMAND in a new sandbox: new mnt, uts, ipc, pid (with an init), net (lo only), cgroup and,\n" ..
    "where the host allows it, user namespaces; a fresh /proc, a minimal /dev, a private /tmp; the\n" ..
    "host's root read-only unless --rootfs DIR is given. The exit status is COMMAND's (128+N for signal N).\n\n" ..
    getopt.usage(M.options) .. "\n"
end

-- After a run on a review workspace: how to see and apply its changes (none: it is removed).
function M.workspace_report(box)
  local ws = box._workspace
  local w = ws.made and require("sbx.workspace").open(ws.name)
  if not w then return end
  local changes = w:changes() or {}
  if #changes == 0 then
    w:discard()
    io.stderr:write(("sbx run: no changes to %s\n"):format(ws.dir))
    return
  end
  io.stderr:write(("sbx run: %d change%s to %s kept in workspace %s (the host's directory is unchanged):\n"):format(
    #changes, #changes == 1 and "" or "s", ws.dir, ws.name))
  io.stderr:write(("     sbx diff %s [--patch] | sbx promote %s [PATH...] | sbx discard %s\n"):format(ws.name, ws.name, ws.name))
end

-- After a payload failed: what in the set-up is the likely cause, when the run had one of the
-- two that look like a bug but are the user namespace's doing.
function M.failure_hints(box, opts)
  local plan = box:spec()
  local userns = false
  for _, n in ipairs(plan.namespaces or {}) do if n == "user" then userns = true end end
  if not userns then return end
  local root_outside
  for _, e in ipairs(plan.uid_map or {}) do
    if e.inside == 0 then root_outside = e.outside end
  end
  local core = require "sbx.core"
  if opts.rw and plan.rootfs and root_outside then
    local _, uid = core.lstat(plan.rootfs)
    if uid and uid ~= root_outside then
      io.stderr:write(("sbx run: note: --rw: %s is owned by uid %d on the host, and root inside is uid %d there (the user namespace shifts ids), "
        .. "so the sandbox cannot write what that uid owns: chown -R %d:%d %s (sbx image from-dir makes an image of it instead), or --share-user (no user namespace: root is root)\n")
        :format(plan.rootfs, uid, root_outside, root_outside, root_outside, plan.rootfs))
    end
  end
  for _, j in ipairs(plan.join or {}) do
    if j.type == "net" then
      io.stderr:write(("sbx run: note: --netns: %s belongs to another user namespace (the one that made it, not the sandbox's), where root inside "
        .. "has no capability: ip link/addr changes and ping's raw socket are refused there. --share-user --cap-add NET_ADMIN (root stays root, with that capability), "
        .. "or a network of the sandbox's own (--net bridge), or make the namespace from inside a sandbox\n"):format(j.path))
    end
  end
end

-- -d: a supervisor of its own (no Lua) holds the sandbox from now on; say how to reach it.
function M.detach(box, argv, name)
  local s, err = require("sbx.sandboxes").start(box, argv, { name = name })
  if not s then
    io.stderr:write("sbx run: ", err, "\n")
    return SETUP_ERROR
  end
  local st = s.state
  io.write(("sbx: running in the background as %s: supervisor pid %d, sandbox pid %d%s\n"):format(
    s.name, st.supervisor, st.pid, st.cgroup and (", cgroup " .. st.cgroup) or ""))
  if st.ip then
    io.write(("     address %s%s\n"):format(st.ip, st.ports and #st.ports > 0 and (", published " .. table.concat(st.ports, ",")) or ""))
  end
  io.write(("     sbx logs %s | sbx exec %s CMD | sbx stop %s\n"):format(s.name, s.name, s.name))
  return 0
end


local function usage_error(msg)
  io.stderr:write("sbx run: ", msg, "\n(see sbx run --help)\n")
  return USAGE_ERROR
end
M.usage_error = usage_error

-- A description's error in the words of the command line: no Lua positions, no API names.
-- (the description's keys and the flags that fill them)
local KEY_FLAGS = {
  { "^limits?[%. ]memory_swap:", "--memory-swap:" }, { "^limits?[%. ]memory:", "--memory:" },
  { "^limits?[%. ]cpuset:", "--cpuset:" }, { "^limits?[%. ]devices:", "--device-cgroup-rule:" },
  { "^limits?[%. ]cpu_weight:", "--cpu-weight:" }, { "^limits?[%. ]cpu:", "--cpus:" }, { "^limits?[%. ]pids:", "--pids:" },
  { "^env%[%d+%]:", "--env:" }, { "^time_offsets%.(%w+):", "--%1:" }, { "^net%.egress%[%d+%]:", "--allow:" },
  { "^hide%[%d+%]:", "--hide:" }, { "^rlimits%.(%w+):", "--ulimit %1:" }, { "^workspace%.dir:", "--workspace:" },
  { "^sysctl (%S+):", "--sysctl %1:" }, { "^hosts[%.%[]", "--add-host " }, { "^dns:", "--dns:" },
  { "^uid_map", "--uidmap" }, { "^gid_map", "--gidmap" }, { "^seccomp%.load_json: ", "" }, { "^seccomp%.load: ", "" },
}

function M.user_words(msg, opts)
  msg = tostring(msg):gsub("^[^:]*:%d+: ", ""):gsub("^sbx%.container: ", "")
  local i, cause = msg:match("^spec%.bridge%.publish%[(%d+)%]: publish '[^']*': (.*)$")
  if i and opts.publish then
    return #opts.publish == 1 and ("-p %s: %s"):format(opts.publish[1], cause) or ("-p: %s"):format(cause)
  end
  for _, m in ipairs(KEY_FLAGS) do
    local out, n = msg:gsub(m[1], m[2], 1)
    if n > 0 then return out end
  end
  msg = msg:gsub("^(%-%-seccomp )seccomp%.load[_%w]*: ", "%1")
  return msg
end

function M.main(args)
  local opts, rest = parse(args)
  require("sbx.core").trace("flags parsed")
  if not opts then return usage_error(rest) end
  if opts.help then io.write(M.help()); return 0 end
  if #rest == 0 and not opts.print_spec then
    return usage_error("no command given (e.g. sbx run --busybox -- /bin/sh -c 'id')")
  end
  local ok, d = pcall(M.description, opts)
  if not ok and type(d) == "table" then io.stderr:write("sbx run: ", tostring(d.setup), "\n"); return SETUP_ERROR end
  if not ok then return usage_error(M.user_words(d, opts)) end
  local ok2, box = pcall(sbx.container, d)
  require("sbx.core").trace("plan: sbx.container built and checked")
  if not ok2 then return usage_error(M.user_words(box, opts)) end  -- (checked, nothing made yet)
  if opts.print_spec then
    local plan = box:spec()
    plan.argv = rest
    io.write(sbx.json.encode(plan, 2), "\n")
    return 0
  end
  local args2 = {}
  for i, a in ipairs(rest) do args2[i] = a end
  if opts.timeout then
    local n = tonumber(opts.timeout)
    if not n or n <= 0 or n ~= n then
      return usage_error(("--timeout %s: expected a number of seconds above 0 (such as 30 or 0.5)"):format(opts.timeout))
    end
    args2.timeout = n
  end
  if opts.preserve_fds then
    local n = tonumber(opts.preserve_fds)
    if not n or n < 0 or n ~= math.floor(n) then return usage_error("--preserve-fds: expected a count") end
    args2.fds = {}
    for i = 0, n - 1 do args2.fds[#args2.fds + 1] = 3 + i end
  end
  if opts.tty then
    if opts.detach then return usage_error("-t and -d: a detached sandbox has no terminal to join") end
    args2.tty = true
    args2.env = { TERM = os.getenv("TERM") or "xterm" }
  end
  local learn = opts.seccomp and opts.seccomp:match("^learn=(.+)$")
  if learn and (opts.detach or opts.tty) then
    local f = opts.detach and "-d" or "-t"
    return usage_error(("--seccomp learn= with %s: a learning run is attached and has no terminal (leave %s out)"):format(f, f))
  end
  if opts.detach then return M.detach(box, args2, opts.name) end
  local st, err, policy, errno
  if learn then
    args2.out = learn
    policy, st, err = box:learn(args2)
    if policy then
      st, err = err, nil
      local n = 0
      for _, r in ipairs(policy.rules) do if r.action == "allow" then n = n + 1 end end
      io.stderr:write(("sbx run: learned %d allow rules into %s: review it, then enforce it with --seccomp %s\n"):format(n, learn, learn))
    else
      err = st
      st = nil
    end
  else
    st, err, errno = box:run(args2)
  end
  box:close()  -- an image container's upper layer goes with the run
  if not st then
    io.stderr:write("sbx run: ", err, "\n")
    return M.start_failure(err, errno)
  end
  if st.timed_out then io.stderr:write(("sbx run: timed out after %ss, killed\n"):format(opts.timeout)) end
  if st.status ~= 0 then M.failure_hints(box, opts) end
  if box._workspace and box._workspace.mode == "review" then M.workspace_report(box) end
  if st.oom_killed then io.stderr:write("sbx run: the sandbox ran out of memory (", opts.memory or "?", "): killed by the kernel's OOM killer\n") end
  if opts.stats and st.stats then
    local s2 = st.stats
    io.stderr:write(("sbx run: memory peak %.1f MiB, cpu %.3f s, oom kills %d, pids.max hits %d\n"):format(
      s2.memory.peak / 1048576, s2.cpu.usage_usec / 1e6, s2.oom_kills, st.events and st.events.pids_max or 0))
  end
  return st.status
end

return M
