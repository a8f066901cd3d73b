-- sbx nsenter: util-linux nsenter(1)'s flags and meaning: run a program in the namespaces of a
-- running process (setns), forking when the pid namespace is entered.
local sbx = require "sbx"
local tool = require "sbx.cli.tool"
local sys = sbx.sys

local M = {}

M.usage = "[options] [<program> [<argument>...]]"
M.summary = "Run a program with namespaces of other processes (util-linux nsenter(1) semantics)."

M.options = {
  { short = "t", long = "target", arg = "required", key = "target", meta = "PID", help = "target process to get namespaces from" },
  { short = "a", long = "all", arg = "none", key = "all", help = "enter all namespaces" },
  { short = "m", long = "mount", arg = "none", key = "mnt", help = "enter mount namespace" },
  { short = "u", long = "uts", arg = "none", key = "uts", help = "enter UTS namespace (hostname etc)" },
  { short = "i", long = "ipc", arg = "none", key = "ipc", help = "enter System V IPC namespace" },
  { short = "n", long = "net", arg = "none", key = "net", help = "enter network namespace" },
  { short = "p", long = "pid", arg = "none", key = "pid", help = "enter pid namespace" },
  { short = "C", long = "cgroup", arg = "none", key = "cgroup", help = "enter cgroup namespace" },
  { short = "U", long = "user", arg = "none", key = "user", help = "enter user namespace" },
  { short = "T", long = "time", arg = "none", key = "time", help = "enter time namespace" },
  { short = "S", long = "setuid", arg = "required", key = "setuid", meta = "UID", help = "set uid in entered namespace" },
  { short = "G", long = "setgid", arg = "required", key = "setgid", meta = "GID", help = "set gid in entered namespace" },
  { long = "preserve-credentials", arg = "none", key = "preserve", help = "do not touch uids or gids" },
  { short = "r", long = "root", arg = "optional", key = "root", meta = "DIR", help = "set the root directory (default: the target's)" },
  { short = "w", long = "wd", arg = "optional", key = "wd", meta = "DIR", help = "set the working directory (default: the target's)" },
  { short = "F", long = "no-fork", arg = "none", key = "nofork", help = "do not fork before exec'ing <program>" },
  { short = "h", long = "help", arg = "none", key = "help", help = "display this help" },
}

local check = tool.check


function M.run(o, rest)
  local pid = tonumber(o.target)
  if not pid then error("no target PID given (-t PID)", 0) end
  local ns = {}
  for _, n in ipairs({ "user", "mnt", "uts", "ipc", "pid", "net", "cgroup", "time" }) do
    if o[n] or o.all then ns[#ns + 1] = n end
  end
  if #ns == 0 then error("no namespace given (e.g. -n, -m, or -a for all)", 0) end
  -- The target's root and cwd are opened before any setns: after joining its mount namespace
  -- /proc/PID may name another process.
  local root_fd, wd_fd
  if o.root then root_fd = check(sys.open(o.root == true and ("/proc/%d/root"):format(pid) or o.root)) end
  if o.wd then wd_fd = check(sys.open(o.wd == true and ("/proc/%d/cwd"):format(pid) or o.wd)) end
  check(sys.setns(pid, ns))
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
