-- sbx unshare: util-linux unshare(1)'s flags and meaning, built on sbx.sys. Only what is named
-- is unshared; the calling process itself moves (no fork unless -f), as with the original.
local sbx = require "sbx"
local core = require "sbx.core"
local tool = require "sbx.cli.tool"
local sys = sbx.sys

local M = {}

M.usage = "[options] [--] [<program> [<argument>...]]"
M.summary = "Run a program with some namespaces unshared from the parent (util-linux unshare(1) semantics)."

-- (FILE: a persistent namespace, bound there from outside, as util-linux)
M.options = tool.options({}, "unshare", {
  { short = "f", long = "fork", arg = "none", key = "fork", help = "fork before launching <program>" },
  -- the maps in the order given: a later flag overrides an earlier one (-r --map-user=5: uid 5)
  { short = "r", long = "map-root-user", arg = "none", key = "maps", list = true, tagged = true, help = "map current user to root (implies --user)" },
  { short = "c", long = "map-current-user", arg = "none", key = "maps", list = true, tagged = true, help = "map current user to itself (implies --user)" },
  { long = "map-user", arg = "required", key = "maps", list = true, tagged = true, meta = "UID|NAME", help = "map current user to UID (implies --user)" },
  { long = "map-group", arg = "required", key = "maps", list = true, tagged = true, meta = "GID|NAME", help = "map current group to GID (implies --user)" },
  { long = "map-auto", arg = "none", key = "maps", list = true, tagged = true, help = "map users and groups automatically, from /etc/subuid and /etc/subgid (implies --user)" },
  { long = "map-users", arg = "required", key = "maps", list = true, tagged = true, meta = "OUTER,INNER,COUNT", help = "map COUNT users from OUTER to INNER (implies --user)" },
  { long = "map-groups", arg = "required", key = "maps", list = true, tagged = true, meta = "OUTER,INNER,COUNT", help = "map COUNT groups from OUTER to INNER (implies --user)" },
  { long = "keep-caps", arg = "none", key = "keep_caps", help = "retain capabilities granted in user namespaces" },
  { long = "mount-proc", arg = "optional", key = "mount_proc", meta = "DIR", help = "mount proc filesystem first (implies --mount)" },
  { long = "propagation", arg = "required", key = "propagation", meta = "SLAVE|SHARED|PRIVATE|UNCHANGED", help = "modify mount propagation in mount namespace" },
  { short = "R", long = "root", arg = "required", key = "root", meta = "DIR", help = "run the command with root directory set to DIR" },
  { short = "w", long = "wd", arg = "required", key = "wd", meta = "DIR", help = "change working directory to DIR" },
  { short = "S", long = "setuid", arg = "required", key = "setuid", meta = "UID", help = "set uid in entered namespace" },
  { short = "G", long = "setgid", arg = "required", key = "setgid", meta = "GID", help = "set gid in entered namespace" },
  { long = "kill-child", arg = "optional", key = "kill_child", meta = "SIGNAME", help = "when dying, kill the forked child (implies --fork)" },
  { long = "monotonic", arg = "required", key = "monotonic", meta = "OFFSET", help = "set clock monotonic offset (seconds) in time namespaces" },
  { long = "boottime", arg = "required", key = "boottime", meta = "OFFSET", help = "set clock boottime offset (seconds) in time namespaces" },
  { long = "setgroups", arg = "required", key = "setgroups", meta = "allow|deny", help = "control the setgroups syscall in user namespaces" },
  { short = "h", long = "help", arg = "none", key = "help", help = "display this help" },
})

local check = tool.check


-- /proc/PID/ns/<file> of each kind, as a persistent namespace binds it (a new pid or time
-- namespace is the children's)
local NS_FILE = { mnt = "mnt", uts = "uts", ipc = "ipc", net = "net", pid = "pid_for_children", user = "user",
                  cgroup = "cgroup", time = "time_for_children" }

-- A user or group name or number -> number, from /etc/passwd or /etc/group
local function id_of(v, file, what)
  local n = tonumber(v)
  if n then return n end
  for line in io.lines("/etc/" .. file) do
    local name, _, id = line:match("^([^:]*):([^:]*):(%d+):")
    if name == v then return tonumber(id) end
  end
  error(("%s '%s': no such %s"):format(what, v, file == "passwd" and "user" or "group"), 0)
end

-- The first range /etc/subuid (or subgid) gives this user: "OUTER COUNT"
local function sub_range(file, id, name)
  local f = io.open("/etc/" .. file)
  if f then
    for line in f:lines() do
      local who, start, count = line:match("^([^:]+):(%d+):(%d+)$")
      if who == name or tonumber(who) == id then f:close(); return tonumber(start), tonumber(count) end
    end
    f:close()
  end
  error(("--map-auto: no range for %s in /etc/%s"):format(name, file), 0)
end

-- The maps the flags make, in order: { uid = { "INSIDE:OUTSIDE:COUNT", ... }, gid = {...} }, nil
-- when no flag asks for one; `ranges` when a range needs newuidmap (not root).
local function id_maps(o, real_uid, real_gid)
  local uid_line, gid_line, uid_range, gid_range
  local user_name
  for line in io.lines("/etc/passwd") do
    local name, id = line:match("^([^:]*):[^:]*:(%d+):")
    if tonumber(id) == real_uid then user_name = name; break end
  end
  for _, m in ipairs(o.maps or {}) do
    local f, v = m.flag, m.value
    if f == "map-root-user" then uid_line, gid_line, uid_range, gid_range = "0:" .. real_uid .. ":1", "0:" .. real_gid .. ":1", nil, nil
    elseif f == "map-current-user" then uid_line, gid_line, uid_range, gid_range = real_uid .. ":" .. real_uid .. ":1", real_gid .. ":" .. real_gid .. ":1", nil, nil
    elseif f == "map-user" then uid_line, uid_range = id_of(v, "passwd", "--map-user") .. ":" .. real_uid .. ":1", nil
    elseif f == "map-group" then gid_line, gid_range = id_of(v, "group", "--map-group") .. ":" .. real_gid .. ":1", nil
    elseif f == "map-users" or f == "map-groups" then
      local outer, inner, count = v:match("^(%d+)[,:](%d+)[,:](%d+)$")
      if not outer then error(("--%s %s: expected OUTER,INNER,COUNT (0,0,65536)"):format(f, v), 0) end
      local line = inner .. ":" .. outer .. ":" .. count
      if f == "map-users" then uid_line, uid_range = nil, line else gid_line, gid_range = nil, line end
    elseif f == "map-auto" then
      local name = user_name or tostring(real_uid)
      local us, uc = sub_range("subuid", real_uid, name)
      local gs, gc = sub_range("subgid", real_gid, name)
      uid_line, gid_line, uid_range, gid_range = nil, nil, "0:" .. us .. ":" .. uc, "0:" .. gs .. ":" .. gc
    end
  end
  if not (uid_line or gid_line or uid_range or gid_range) then return nil end
  return { uid = { uid_range or uid_line or (real_uid .. ":" .. real_uid .. ":1") },
           gid = { gid_range or gid_line or (real_gid .. ":" .. real_gid .. ":1") },
           ranges = uid_range ~= nil or gid_range ~= nil }
end

-- newuidmap/newgidmap PID INSIDE OUTSIDE COUNT (the setuid helpers of the uidmap package)
local function helper_maps(pid, maps)
  for _, kind in ipairs({ "uid", "gid" }) do
    local args = { "new" .. kind .. "map", tostring(pid) }
    for _, line in ipairs(maps[kind]) do
      for n in line:gmatch("%d+") do args[#args + 1] = n end
    end
    local cmd = table.concat(args, " ")
    if os.execute(cmd .. " 2>&1") ~= 0 then return nil, cmd .. " failed (is the uidmap package installed, and the range yours in /etc/sub" .. kind .. "?)" end
  end
  return true
end

function M.run(o, rest)
  local ns = {}
  if o.maps then o.user = o.user or true end
  if o.mount_proc then o.mnt = o.mnt or true end
  if o.kill_child then o.fork = true end
  if o.monotonic or o.boottime then o.time = o.time or true end
  local persist = {}
  for _, n in ipairs({ "user", "mnt", "uts", "ipc", "pid", "net", "cgroup", "time" }) do
    if o[n] then ns[#ns + 1] = n end
    if type(o[n]) == "string" then persist[#persist + 1] = { n, o[n] } end
  end
  local ids = sys.ids()
  local real_uid, real_gid = ids.euid, ids.gid
  local maps = o.user and id_maps(o, real_uid, real_gid)
  -- (a range map is written from outside the new namespace: the process in it holds no
  -- capability over its parent's ids, root's neither)
  local by_helper = maps and maps.ranges
  -- A helper in the namespaces this process leaves: it binds the persistent ones and runs
  -- newuidmap, once this process has unshared (as util-linux's child does)
  local helper, go
  if #persist > 0 or by_helper then
    local r, w = sys.pipe()
    if not r then error(w, 0) end
    local parent = sys.getpid()
    io.stdout:flush()
    io.stderr:flush()
    helper = check(sys.fork())
    if helper == 0 then
      sys.close(w)
      if sys.read(r) ~= "go" then sys.exit(1) end
      if by_helper then
        local ok, err
        if real_uid == 0 then ok, err = sys.write_id_maps(parent, maps.uid, maps.gid, false)
        else ok, err = helper_maps(parent, maps) end
        if not ok then io.stderr:write("sbx unshare: ", err, "\n"); sys.exit(1) end
      end
      for _, p in ipairs(persist) do
        local src = ("/proc/%d/ns/%s"):format(parent, NS_FILE[p[1]])
        local ok, err = sys.mount(src, p[2], nil, { "bind" })
        if not ok then
          io.stderr:write(("sbx unshare: mount %s on %s failed: %s\n"):format(src, p[2], (tostring(err):gsub("^.*: ", ""))))
          sys.exit(1)
        end
      end
      sys.exit(0)
    end
    sys.close(r)
    go = w
  end
  -- propagation is util-linux's business here (--propagation, default private), done below
  if #ns > 0 then check(sys.unshare(ns, { propagation = "unchanged" })) end
  if helper then
    sys.write(go, "go")
    sys.close(go)
    local st = check(sys.waitpid(helper))
    if st.status ~= 0 then return 1 end
  end
  if o.time then
    local f = io.open("/proc/self/timens_offsets", "w")
    if not f then error("cannot open /proc/self/timens_offsets", 0) end
    local ok, err = f:write(("monotonic %d 0\nboottime %d 0\n"):format(tonumber(o.monotonic) or 0, tonumber(o.boottime) or 0))
    f:close()
    if not ok then error("set time offsets: " .. tostring(err), 0) end
  end
  if o.fork then
    local pid = check(sys.fork())
    if pid > 0 then
      local st = check(sys.waitpid(pid))
      return st.status
    end
    if o.kill_child then
      local sig = o.kill_child == true and 9 or core.signal_number(tostring(o.kill_child))
      if not sig then error("--kill-child: unknown signal " .. tostring(o.kill_child), 0) end
      check(sys.pdeathsig(sig))
    end
  end
  if maps and not by_helper then
    check(sys.write_id_maps(0, maps.uid, maps.gid, o.setgroups ~= "allow" and not maps.ranges))
  elseif not maps and o.setgroups then
    local f = io.open("/proc/self/setgroups", "w")
    if f then f:write(o.setgroups); f:close() end
  end
  if o.mnt then
    local prop = (o.propagation or "private"):lower()
    if prop ~= "unchanged" then
      if prop ~= "private" and prop ~= "shared" and prop ~= "slave" then
        error("unsupported propagation mode: " .. prop, 0)
      end
      check(sys.mount(nil, "/", nil, { "rec", prop }))
    end
  end
  if o.root then check(sys.chroot(o.root)) end
  if o.wd then check(sys.chdir(o.wd)) elseif o.root then check(sys.chdir("/")) end
  if o.mount_proc then
    local dir = o.mount_proc == true and "/proc" or o.mount_proc
    sys.umount(dir, { "detach" })  -- as util-linux: the old one may not be there
    check(sys.mount("proc", dir, "proc", { "nosuid", "nodev", "noexec" }))
  end
  -- (util-linux: --setgid clears the supplementary groups, which fails where setgroups is denied)
  if o.setgid then check(sys.setgid(tonumber(o.setgid) or error("--setgid: not a number", 0), true)) end
  if o.setuid then check(sys.setuid(tonumber(o.setuid) or error("--setuid: not a number", 0))) end
  if o.keep_caps and o.user then check(sys.keep_caps()) end
  tool.exec("unshare", rest)
end

function M.main(args)
  return tool.main("unshare", M, args)
end

return M
