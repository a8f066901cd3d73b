-- sbx.seccomp: seccomp policies as Lua data, and the named profiles.
--   seccomp = "default" | "strict" | "none"
--   seccomp = { default = "errno EPERM", allow = { "read", ... }, deny = { "keyctl", ... },
--               rules = { { "clone", "allow", args = { { 0, "masked_eq", 0x7E020000, 0 } } } } }
-- A policy compiles to { default_action =, rules = { { syscall =, action =, args = } } }, the plan's
-- form (box:spec().seccomp). policy:explain("keyctl") says what it does with one syscall.
local core = require "sbx.core"

local M = {}

-- Namespace-creating clone flags: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
M.CLONE_NS_FLAGS = 0x7E020000
local TIOCSTI = 0x5412
local AF_ALG, AF_VSOCK = 38, 40

-- What the default profile refuses outright (Docker's default refuses the same kinds of calls):
-- namespaces and mounts, keys, BPF, userfaultfd, perf, io_uring, kexec and modules, handles,
-- clock and system changes, process inspection across boundaries, swap, accounting.
M.default_deny = {
  "unshare", "setns", "mount", "umount", "umount2", "pivot_root",
  "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
  "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "perf_event_open",
  "io_uring_setup", "io_uring_enter", "io_uring_register",
  "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
  "query_module", "get_kernel_syms", "open_by_handle_at", "name_to_handle_at",
  "acct", "swapon", "swapoff", "reboot", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
  "stime", "sysfs", "_sysctl", "uselib", "ustat", "vm86", "vm86old", "nfsservctl", "lookup_dcookie",
  "quotactl", "quotactl_fd", "iopl", "ioperm", "syslog", "kcmp", "process_vm_readv", "process_vm_writev",
  "ptrace", "vhangup", "mbind", "set_mempolicy", "move_pages", "migrate_pages", "get_mempolicy",
  "lsm_set_self_attr", "fanotify_init",
}

-- personality(): only the values programs ask for in practice.
local SAFE_PERSONALITIES = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff }

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local syscalls_cache
function M.syscalls()
  syscalls_cache = syscalls_cache or core.seccomp_syscalls()
  return syscalls_cache
end

local Policy = {}
Policy.__index = Policy

local function rule(syscall, action, args)
  local r = { syscall = syscall, action = action }
  if args then
    r.args = {}
    for i, a in ipairs(args) do
      r.args[i] = { index = a[1], op = a[2], value = a[3], value2 = a[4] or 0 }
    end
  end
  return r
end

-- The compiled form from the friendly one.
function M.compile(spec, level)
  level = (level or 1) + 1
  if getmetatable(spec) == Policy then return spec end
  if type(spec) ~= "table" then error("seccomp: expected a profile name or a policy table", level) end
  for k in pairs(spec) do
    if k ~= "default" and k ~= "allow" and k ~= "deny" and k ~= "rules" then
      error(("seccomp: unknown key '%s' (expected default, allow, deny, rules)"):format(tostring(k)), level)
    end
  end
  local p = setmetatable({ default_action = spec.default or "errno EPERM", rules = {} }, Policy)
  for _, name in ipairs(spec.allow or {}) do p.rules[#p.rules + 1] = rule(name, "allow") end
  for _, name in ipairs(spec.deny or {}) do p.rules[#p.rules + 1] = rule(name, "errno EPERM") end
  for i, r in ipairs(spec.rules or {}) do
    if type(r) ~= "table" or type(r[1] or r.syscall) ~= "string" then
      error(("seccomp.rules[%d]: expected { \"syscall\", \"action\", args = { { index, op, value [, value2] } } }"):format(i), level)
    end
    local x = rule(r[1] or r.syscall, r[2] or r.action or "allow", r.args)
    p.rules[#p.rules + 1] = x
  end
  return p
end

-- "default": every known syscall but the refused ones; clone without namespace flags; clone3
-- ENOSYS (libc falls back to clone, which is checked); personality only with safe values;
-- socket without AF_ALG and AF_VSOCK; ioctl without TIOCSTI (either encoding).
function M.default()
  local deny = set_of(M.default_deny)
  local special = set_of({ "clone", "clone3", "personality", "socket", "ioctl" })
  local allow = {}
  for _, name in ipairs(M.syscalls()) do
    if not deny[name] and not special[name] then allow[#allow + 1] = name end
  end
  local rules = {
    { "clone", "allow", args = { { 0, "masked_eq", M.CLONE_NS_FLAGS, 0 } } },
    { "clone3", "errno ENOSYS" },
    { "socket", "allow", args = { { 0, "lt", AF_ALG } } },
    { "socket", "allow", args = { { 0, "gt", AF_VSOCK } } },
    { "socket", "allow", args = { { 0, "eq", 39 } } },  -- AF_QIPCRTR, between the two refused ones
    { "ioctl", "allow" },
    { "ioctl", "errno EPERM", args = { { 1, "masked_eq", 0xffffffff, TIOCSTI } } },
  }
  for _, v in ipairs(SAFE_PERSONALITIES) do rules[#rules + 1] = { "personality", "allow", args = { { 0, "eq", v } } } end
  return M.compile({ default = "errno EPERM", allow = allow, rules = rules })
end

-- "strict": a short allowlist for batch jobs (files, memory, time, processes; no sockets).
M.strict_allow = {
  "read", "write", "readv", "writev", "pread64", "pwrite64", "open", "openat", "close", "close_range", "stat",
  "fstat", "lstat", "newfstatat", "statx", "lseek", "mmap", "mprotect", "munmap", "mremap", "madvise", "brk",
  "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "access", "faccessat", "faccessat2", "pipe",
  "pipe2", "dup", "dup2", "dup3", "poll", "ppoll", "select", "pselect6", "nanosleep", "clock_nanosleep",
  "clock_gettime", "clock_getres", "gettimeofday", "time", "getpid", "getppid", "gettid", "getuid", "geteuid",
  "getgid", "getegid", "getgroups", "getresuid", "getresgid", "exit", "exit_group", "execve", "execveat", "wait4",
  "waitid", "kill", "tgkill", "uname", "fcntl", "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2",
  "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "readlink", "readlinkat", "getdents64", "getrandom",
  "futex", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "getrlimit", "arch_prctl", "fork", "vfork",
  "umask", "sysinfo", "getrusage", "times", "sched_yield", "sched_getaffinity", "ftruncate", "fsync", "fdatasync",
  "chmod", "fchmod", "fchmodat", "utimensat", "symlink", "symlinkat", "link", "linkat", "statfs", "fstatfs",
  "getpgrp", "setpgid", "getpgid", "getsid", "setsid", "prctl", "ioctl", "eventfd2", "epoll_create1", "epoll_ctl",
  "epoll_wait", "epoll_pwait", "copy_file_range", "sendfile", "splice",
}
function M.strict()
  return M.compile({ default = "errno EPERM", allow = M.strict_allow, rules = {
    { "clone", "allow", args = { { 0, "masked_eq", M.CLONE_NS_FLAGS, 0 } } },
    { "clone3", "errno ENOSYS" },
    { "ioctl", "errno EPERM", args = { { 1, "masked_eq", 0xffffffff, TIOCSTI } } },
  } })
end

-- seccomp = value (a profile name, a policy table, a compiled policy) -> compiled or nil (none).
function M.resolve(v, level)
  level = (level or 1) + 1
  if v == nil or v == "default" then return M.default() end
  if v == "none" or v == false then return nil end
  if v == "strict" then return M.strict() end
  if type(v) == "string" then error(("seccomp: unknown profile '%s' (expected default, strict, none, or a table)"):format(v), level) end
  return M.compile(v, level)
end

-- What the policy does with `name`: its rules for it, or the default.
function Policy:explain(name)
  local lines = {}
  for _, r in ipairs(self.rules) do
    if r.syscall == name then
      local conds = {}
      for _, a in ipairs(r.args or {}) do
        conds[#conds + 1] = a.op == "masked_eq" and ("(arg%d & 0x%x) == 0x%x"):format(a.index, a.value, a.value2)
                            or ("arg%d %s 0x%x"):format(a.index, a.op, a.value)
      end
      lines[#lines + 1] = r.action .. (#conds > 0 and (" when " .. table.concat(conds, " and ")) or "")
    end
  end
  local known = false
  for _, n in ipairs(M.syscalls()) do known = known or n == name end
  if #lines == 0 then
    return known and (self.default_action .. " (the default)") or "errno ENOSYS (not a syscall this kernel's table knows)"
  end
  local conditional = true
  for _, r in ipairs(self.rules) do
    if r.syscall == name and not (r.args and #r.args > 0) and r.action == "allow" then conditional = false end
  end
  return table.concat(lines, "; ") .. (conditional and ("; otherwise " .. self.default_action) or "")
end

return M
