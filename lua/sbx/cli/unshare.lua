-- sbx unshare: util-linux unshare(1)'s flags and meaning, built on sbx.sys. Only what is named
-- is unshared; the calling process itself moves (no fork unless -f), as with the original.
local sbx = require "sbx"
local core = require "sbx.core"
local tool = require "sbx.cli.tool"
local sys = sbx.sys

local M = {}

M.usage = "[options] [--] [<program> [<argument>...]]"
M.summary = "Run a program with some namespaces unshared from the parent (util-linux unshare(1) semantics)."

M.options = {
  { short = "m", long = "mount", arg = "none", key = "mnt", help = "unshare mounts namespace" },
  { short = "u", long = "uts", arg = "none", key = "uts", help = "unshare UTS namespace (hostname etc)" },
  { short = "i", long = "ipc", arg = "none", key = "ipc", help = "unshare System V IPC namespace" },
  { short = "n", long = "net", arg = "none", key = "net", help = "unshare network namespace" },
  { short = "p", long = "pid", arg = "none", key = "pid", help = "unshare pid namespace" },
  { short = "U", long = "user", arg = "none", key = "user", help = "unshare user namespace" },
  { short = "C", long = "cgroup", arg = "none", key = "cgroup", help = "unshare cgroup namespace" },
  { short = "T", long = "time", arg = "none", key = "time", help = "unshare time namespace" },
  { short = "f", long = "fork", arg = "none", key = "fork", help = "fork before launching <program>" },
  { short = "r", long = "map-root-user", arg = "none", key = "map_root", help = "map current user to root (implies --user)" },
  { short = "c", long = "map-current-user", arg = "none", key = "map_current", help = "map current user to itself (implies --user)" },
  { long = "map-user", arg = "required", key = "map_user", meta = "UID", help = "map current user to UID (implies --user)" },
  { long = "map-group", arg = "required", key = "map_group", meta = "GID", help = "map current group to GID (implies --user)" },
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
}


local check = tool.check


function M.run(o, rest)
  local ns = {}
  if o.map_root or o.map_current or o.map_user or o.map_group then o.user = true end
  if o.mount_proc then o.mnt = true end
  if o.kill_child then o.fork = true end
  if o.monotonic or o.boottime then o.time = true end
  for _, n in ipairs({ "user", "mnt", "uts", "ipc", "pid", "net", "cgroup", "time" }) do
    if o[n] then ns[#ns + 1] = n end
  end
  local ids = sys.ids()
  local real_uid, real_gid = ids.euid, ids.gid
  -- propagation is util-linux's business here (--propagation, default private), done below
  if #ns > 0 then check(sys.unshare(ns, { propagation = "unchanged" })) end
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
  if o.user and (o.map_root or o.map_current or o.map_user or o.map_group) then
    local inside_uid = o.map_root and 0 or (tonumber(o.map_user) or real_uid)
    local inside_gid = o.map_root and 0 or (tonumber(o.map_group) or real_gid)
    check(sys.write_id_maps(0, { inside_uid .. ":" .. real_uid .. ":1" }, { inside_gid .. ":" .. real_gid .. ":1" },
      o.setgroups ~= "allow"))
  elseif o.setgroups then
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
  if o.setgid then check(sys.setgid(tonumber(o.setgid) or error("--setgid: not a number", 0))) end
  if o.setuid then check(sys.setuid(tonumber(o.setuid) or error("--setuid: not a number", 0))) end
  tool.exec("unshare", rest)
end

function M.main(args)
  return tool.main("unshare", M, args)
end

return M
