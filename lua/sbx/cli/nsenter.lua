-- sbx nsenter: util-linux nsenter(1)'s flags and meaning: run a program in the namespaces of a
-- running process (setns), forking when the pid namespace is entered.
local sbx = require "sbx"
local tool = require "sbx.cli.tool"
local sys = sbx.sys

local M = {}

M.usage = "[options] [<program> [<argument>...]]"
M.summary = "Run a program with namespaces of other processes (util-linux nsenter(1) semantics)."

M.options = tool.options({
  { short = "t", long = "target", arg = "required", key = "target", meta = "PID", help = "target process to get namespaces from" },
  { short = "a", long = "all", arg = "none", key = "all", help = "enter all namespaces" },
}, "enter", {
  { short = "S", long = "setuid", arg = "required", key = "setuid", meta = "UID", help = "set uid in entered namespace" },
  { short = "G", long = "setgid", arg = "required", key = "setgid", meta = "GID", help = "set gid in entered namespace" },
  { long = "preserve-credentials", arg = "none", key = "preserve", help = "do not touch uids or gids" },
  { short = "r", long = "root", arg = "optional", key = "root", meta = "DIR", help = "set the root directory (default: the target's)" },
  { short = "w", long = "wd", arg = "optional", key = "wd", meta = "DIR", help = "set the working directory (default: the target's)" },
  { short = "F", long = "no-fork", arg = "none", key = "nofork", help = "do not fork before exec'ing <program>" },
  { short = "h", long = "help", arg = "none", key = "help", help = "display this help" },
})

local check = tool.check


-- util-linux's order of entering: the user namespace first (it grants the rights to the rest)
local ORDER = { "user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time" }

function M.run(o, rest)
  local pid = tonumber(o.target)
  local ns, files = {}, {}
  for _, n in ipairs(ORDER) do
    if type(o[n]) == "string" then files[n] = o[n]; ns[#ns + 1] = n  -- --net=FILE: that namespace
    elseif o[n] or o.all then ns[#ns + 1] = n end
  end
  if not pid and #ns > 0 then
    for _, n in ipairs(ns) do
      if not files[n] then error(("no target PID given for the %s namespace (-t PID, or --%s=FILE)"):format(n, n == "mnt" and "mount" or n), 0) end
    end
  end
  if not pid and (o.root == true or o.wd == true) then error("no target PID given (-t PID) for --root/--wd without a directory", 0) end
  -- The target's root and cwd are opened before any setns: after joining its mount namespace
  -- /proc/PID may name another process. (No namespace named: the command runs as it is, as
  -- util-linux's does.)
  local root_fd, wd_fd
  if o.root then root_fd = check(sys.open(o.root == true and ("/proc/%d/root"):format(pid) or o.root)) end
  if o.wd then wd_fd = check(sys.open(o.wd == true and ("/proc/%d/cwd"):format(pid) or o.wd)) end
  if next(files) == nil then
    if #ns > 0 then check(sys.setns(pid, ns)) end
  else
    -- every namespace opened before the first is joined (after the user namespace the target's
    -- /proc/PID/ns may not be readable), then joined in util-linux's order
    local fds = {}
    for i, n in ipairs(ns) do
      local path = files[n] or ("/proc/%d/ns/%s"):format(pid, n)
      local fd, err = sys.open(path, true)
      if not fd then
        for _, f in ipairs(fds) do sys.close(f) end
        error(err, 0)
      end
      fds[i] = fd
    end
    for i, n in ipairs(ns) do
      local ok, err = sys.setns_file(fds[i], n)
      if not ok then error((err:gsub("fd %d+", files[n] or ("/proc/" .. pid .. "/ns/" .. n))), 0) end
    end
    for _, f in ipairs(fds) do sys.close(f) end
  end
  if root_fd then check(sys.fchdir(root_fd)); check(sys.chroot(".")); sys.close(root_fd) end
  if wd_fd then check(sys.fchdir(wd_fd)); sys.close(wd_fd) elseif root_fd then check(sys.chdir("/")) end
  local entered_user = false
  for _, n in ipairs(ns) do if n == "user" then entered_user = true end end
  if entered_user and not o.preserve then
    o.setuid = o.setuid or 0
    o.setgid = o.setgid or 0
  end
  if o.setgid then check(sys.setgid(tonumber(o.setgid))) end
  if o.setuid then check(sys.setuid(tonumber(o.setuid))) end
  local enters_pid = false
  for _, n in ipairs(ns) do if n == "pid" then enters_pid = true end end
  if enters_pid and not o.nofork then
    local child = check(sys.fork())
    if child > 0 then return check(sys.waitpid(child)).status end
  end
  tool.exec("nsenter", rest)
end

function M.main(args)
  return tool.main("nsenter", M, args)
end

return M
