-- sbx.seccomp: seccomp policies as Lua data, and the named profiles.
--   seccomp = "default" | "strict" | "none"
--   seccomp = { default = "errno EPERM", allow = { "read", ... }, deny = { "keyctl", ... },
--               rules = { { "clone", "allow", args = { { 0, "masked_eq", 0x7E020000, 0 } } } },
--               flags = { "log" } }   -- the kernel's filter flags: log, spec_allow, wait_killable_recv
-- A policy compiles to { default_action =, rules = { { syscall =, action =, args = } } }, the plan's
-- form (box:spec().seccomp). policy:explain("keyctl") says what it does with one syscall.
local core = require "sbx.core"

local M = {}

-- The built-in profiles ("default", "strict") live in the core (src/core/security/seccomp.cc); a plan
-- names them, sbx.seccomp.default() / strict() give them as data.

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
  if getmetatable(spec) == Policy then
    if spec.profile then return { profile = spec.profile, default_action = spec.default_action, rules = {} } end
    return spec
  end
  if type(spec) ~= "table" then error("seccomp: expected a profile name or a policy table", level) end
  for k in pairs(spec) do
    if k ~= "default" and k ~= "allow" and k ~= "deny" and k ~= "rules" and k ~= "flags" and k ~= "notify" and k ~= "on_call" and k ~= "base" then
      error(("seccomp: unknown key '%s' (expected default, allow, deny, rules, flags, notify, on_call, base)"):format(tostring(k)), level)
    end
  end
  if spec.flags ~= nil and type(spec.flags) ~= "table" then error('seccomp.flags: expected a list like { "log" }', level) end
  local p = setmetatable({ default_action = spec.default or "errno EPERM", rules = {}, flags = spec.flags }, Policy)
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

local function builtin(name)
  local t = assert(core.seccomp_profile(name))
  local p = setmetatable({ profile = name, default_action = t.default_action, rules = t.rules }, Policy)
  return p
end
function M.default() return builtin("default") end
function M.strict() return builtin("strict") end

-- seccomp = { notify = { "openat", ... }, on_call = fn [, base = "default" | policy] }: the base
-- policy (the default profile unless other keys say otherwise) with the listed calls stopped in
-- the kernel and answered by on_call in the supervisor. -> the plan's form, on_call
local function with_notify(v, level)
  if type(v.notify) ~= "table" or #v.notify == 0 then error('seccomp.notify: expected a list of syscalls, { "openat", "connect" }', level) end
  if type(v.on_call) ~= "function" then error("seccomp.on_call: expected a function(call) that answers the notified calls", level) end
  local own = v.default or v.allow or v.deny or v.rules
  if own and v.base then error("seccomp: base, or default/allow/deny/rules: give one", level) end
  local base
  if own then
    base = M.compile({ default = v.default, allow = v.allow, deny = v.deny, rules = v.rules, flags = v.flags }, level)
  else
    base = M.resolve(v.base or "default", level)
  end
  if base == nil then error('seccomp.base = "none": notify needs a filter (give "default" or a policy)', level) end
  local known = {}
  for _, n in ipairs(M.syscalls()) do known[n] = true end
  -- the base's own rules (a profile's, expanded): a notified call's plain allow gives way to the
  -- notify rule; a denial, or an allow that depends on the arguments (clone without namespace
  -- flags), would be weakened by a handler's "allow": an error
  if type(base) == "string" then base = builtin(base) end
  local plan = { default_action = base.default_action, rules = {}, flags = base.flags or v.flags }
  local notified = {}
  for _, name in ipairs(v.notify) do
    if not known[name] then error(("seccomp.notify: %s is not a syscall this kernel's table knows"):format(tostring(name)), level) end
    notified[name] = true
  end
  for _, r in ipairs(base.rules or {}) do
    if notified[r.syscall] then
      if r.action ~= "allow" then
        error(("seccomp.notify: %s already has a rule (%s): the base policy refuses it, a handler cannot allow it"):format(r.syscall, r.action), level)
      end
      if r.args and #r.args > 0 then
        error(("seccomp.notify: %s is allowed by the base policy only for some arguments: notify it with a base of your own"):format(r.syscall), level)
      end
    else
      plan.rules[#plan.rules + 1] = r
    end
  end
  for _, name in ipairs(v.notify) do plan.rules[#plan.rules + 1] = { syscall = name, action = "notify" } end
  return setmetatable(plan, Policy), v.on_call
end

-- seccomp = value -> the plan's form (a profile name, a compiled policy, or nil: none), and the
-- on_call handler when it has notify rules.
function M.resolve(v, level)
  level = (level or 1) + 1
  if v == nil then return "default" end
  if v == "none" or v == false then return nil end
  if v == "default" or v == "strict" then return v end
  if type(v) == "string" then error(("seccomp: unknown profile '%s' (expected default, strict, none, or a table)"):format(v), level) end
  if type(v) == "table" and getmetatable(v) ~= Policy and (v.notify ~= nil or v.on_call ~= nil) then return with_notify(v, level) end
  if type(v) == "table" and getmetatable(v) ~= Policy and v.base ~= nil then error("seccomp.base: only with notify and on_call", level) end
  local p = M.compile(v, level)
  -- a notified call waits for an answer: only sbx-oci hands the listener on (to an OCI agent)
  for _, r in ipairs(p.rules or {}) do
    if r.action == "notify" then
      error(("seccomp rule for %s: action notify needs an answer: list it in seccomp.notify with an on_call handler"):format(r.syscall), level)
    end
  end
  if p.default_action == "notify" then error("seccomp: default notify needs an agent that answers (sbx-oci's linux.seccomp.listenerPath)", level) end
  return p
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

-- Policies learned from a run -----------------------------------------------------------------
-- box:learn{...} / sbx run --seccomp learn=FILE.lua: every call the base policy allows is notified
-- and continued (SECCOMP_RET_USER_NOTIF: each one reaches the supervisor; SECCOMP_RET_LOG goes
-- through the kernel's printk rate limit, 10 of 408 calls of a small shell loop on this host), and
-- counted; the result is a default-deny policy of the calls seen, written as reviewable Lua.

local AUDIT_ARCH = { [0xC000003E] = "x86_64", [0x40000003] = "i386" }
-- the calls whose argument values are recorded, and the argument (1-based, as call.args counts)
local LEARN_ARGS = { clone = 1, socket = 1, ioctl = 2, personality = 1, prctl = 1 }
local MAX_VALUES = 32  -- more distinct values than this: the call is allowed for the base's arguments
local NAMES = {
  socket = { [1] = "AF_UNIX", [2] = "AF_INET", [10] = "AF_INET6", [16] = "AF_NETLINK", [17] = "AF_PACKET" },
  ioctl = { [0x5401] = "TCGETS", [0x5402] = "TCSETS", [0x5403] = "TCSETSW", [0x5404] = "TCSETSF", [0x540F] = "TIOCGPGRP",
            [0x5410] = "TIOCSPGRP", [0x5413] = "TIOCGWINSZ", [0x5414] = "TIOCSWINSZ", [0x541B] = "FIONREAD",
            [0x5421] = "FIONBIO", [0x5450] = "FIONCLEX", [0x5451] = "FIOCLEX", [0x540B] = "TCFLSH", [0x8933] = "SIOCGIFINDEX",
            [0x8912] = "SIOCGIFCONF", [0x80045430] = "TIOCGPTN", [0x40045431] = "TIOCSPTLCK" },
  prctl = { [1] = "PR_SET_PDEATHSIG", [3] = "PR_GET_DUMPABLE", [4] = "PR_SET_DUMPABLE", [15] = "PR_SET_NAME",
            [16] = "PR_GET_NAME", [21] = "PR_GET_SECCOMP", [22] = "PR_SET_SECCOMP", [23] = "PR_CAPBSET_READ",
            [38] = "PR_SET_NO_NEW_PRIVS", [39] = "PR_GET_NO_NEW_PRIVS", [0x53564d41] = "PR_SET_VMA" },
  personality = { [0] = "PER_LINUX", [0xffffffff] = "query" },
}
local CLONE_FLAGS = { { 0x100, "VM" }, { 0x200, "FS" }, { 0x400, "FILES" }, { 0x800, "SIGHAND" }, { 0x1000, "PIDFD" },
                      { 0x4000, "VFORK" }, { 0x8000, "PARENT" }, { 0x10000, "THREAD" }, { 0x40000, "SYSVSEM" },
                      { 0x80000, "SETTLS" }, { 0x100000, "PARENT_SETTID" }, { 0x200000, "CHILD_CLEARTID" },
                      { 0x1000000, "CHILD_SETTID" } }

local function describe_value(name, v)
  if name == "clone" then
    local parts, rest = {}, v
    for _, f in ipairs(CLONE_FLAGS) do
      if math.floor(rest / f[1]) % 2 == 1 then parts[#parts + 1] = f[2]; rest = rest - f[1] end
    end
    if rest % 256 == 17 then parts[#parts + 1] = "SIGCHLD"; rest = rest - 17 end
    if rest ~= 0 then parts[#parts + 1] = ("0x%x"):format(rest) end
    return #parts > 0 and table.concat(parts, "|") or "0"
  end
  return NAMES[name] and NAMES[name][v] or nil
end

-- learner([{ base = policy (plan form), command = argv }]) -> recorder: rec.on_call(call) answers
-- every call with "allow" (continue) and counts it; rec:policy() the learned Policy; rec:text() it
-- as a Lua file; rec.calls the number of notifications seen.
function M.learner(opts)
  opts = opts or {}
  local rec = { calls = 0, seen = {}, command = opts.command, base = opts.base }
  function rec.on_call(call)
    rec.calls = rec.calls + 1
    local arch = AUDIT_ARCH[call.arch] or ("0x%x"):format(call.arch)
    local per = rec.seen[arch]
    if not per then per = {}; rec.seen[arch] = per end
    local name = call.name ~= "" and call.name or ("#" .. call.nr)
    local e = per[name]
    if not e then e = { count = 0 }; per[name] = e end
    e.count = e.count + 1
    local ai = LEARN_ARGS[name]
    if ai and not e.many then
      local v = call.args[ai] % 4294967296  -- (an int argument: its low 32 bits are what the kernel reads)
      if name == "clone" then v = call.args[ai] end
      e.values = e.values or {}
      if not e.values[v] then
        e.nvalues = (e.nvalues or 0) + 1
        if e.nvalues > MAX_VALUES then e.many, e.values = true, nil end
      end
      if e.values then e.values[v] = (e.values[v] or 0) + 1 end
    end
    return "allow"
  end
  -- the learned calls over every architecture: name -> { count, values | many }
  local function merged()
    local all = {}
    for _, per in pairs(rec.seen) do
      for name, e in pairs(per) do
        local m = all[name] or { count = 0, arches = {} }
        all[name] = m
        m.count = m.count + e.count
        if e.many then m.many = true end
        for v, n in pairs(e.values or {}) do m.values = m.values or {}; m.values[v] = (m.values[v] or 0) + n end
      end
    end
    for arch, per in pairs(rec.seen) do for name in pairs(per) do all[name].arches[#all[name].arches + 1] = arch end end
    return all
  end
  -- sbx's own exec of the payload is answered before the handler runs: execve is always allowed
  local ALWAYS = { execve = true }
  local function sorted_keys(t)
    local ks = {}
    for k in pairs(t) do ks[#ks + 1] = k end
    table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
    return ks
  end
  local function sorted_values(values)
    local vs = {}
    for v in pairs(values) do vs[#vs + 1] = v end
    table.sort(vs)
    return vs
  end
  -- { allow = { names }, rules = { { name, action, args = } }, notes = { [rule index or name] = comment } }
  function rec:table()
    local all = merged()
    local t = { default = "errno EPERM", allow = {}, rules = {}, comments = {} }
    for name in pairs(ALWAYS) do all[name] = all[name] or { count = 0, arches = { "x86_64" }, always = true } end
    -- clone3 passes its flags in memory, out of a filter's reach: ENOSYS, as the default profile
    -- does, makes libc fall back to clone, whose flags are judged
    t.rules[1] = { "clone3", "errno ENOSYS" }
    t.comments[1] = "flags in memory, out of the filter's reach: libc falls back to clone"
    for _, name in ipairs(sorted_keys(all)) do
      local m = all[name]
      local where = (#m.arches == 1 and m.arches[1] == "x86_64") and "" or (" (" .. table.concat(m.arches, ", ") .. ")")
      if name == "clone3" then
        -- (never seen under a base that refuses it)
      elseif LEARN_ARGS[name] and m.values and not m.many then
        local ai = LEARN_ARGS[name] - 1
        for _, v in ipairs(sorted_values(m.values)) do
          local args = name == "clone" and { { ai, "eq", v } } or { { ai, "masked_eq", 0xffffffff, v } }
          t.rules[#t.rules + 1] = { name, "allow", args = args }
          local d = describe_value(name, v)
          t.comments[#t.rules] = (d and (d .. ", ") or "") .. m.values[v] .. where
        end
      elseif LEARN_ARGS[name] and m.many then
        if name == "clone" then
          t.rules[#t.rules + 1] = { "clone", "allow", args = { { 0, "masked_eq", 0x7E020000, 0 } } }
          t.comments[#t.rules] = ("more than %d flag sets: any without namespace flags, %d%s"):format(MAX_VALUES, m.count, where)
        else
          t.allow[#t.allow + 1] = name
          t.comments[name] = ("more than %d distinct values: any, %d%s"):format(MAX_VALUES, m.count, where)
          if name == "ioctl" then
            t.rules[#t.rules + 1] = { "ioctl", "errno EPERM", args = { { 1, "masked_eq", 0xffffffff, 0x5412 } } }
            t.comments[#t.rules] = "TIOCSTI (typing into the terminal) stays refused"
          end
        end
      else
        t.allow[#t.allow + 1] = name
        t.comments[name] = m.always and "sbx's exec of the payload" or (tostring(m.count) .. where)
      end
    end
    return t
  end
  function rec:policy()
    local t = self:table()
    return M.compile({ default = t.default, allow = t.allow, rules = t.rules }, 2)
  end
  function rec:text()
    local t = self:table()
    local function q(v) return type(v) == "string" and ("%q"):format(v) or (v >= 0 and v == math.floor(v) and ("0x%x"):format(v) or tostring(v)) end
    local out = {}
    local function w(line, comment)
      out[#out + 1] = comment and (line .. string.rep(" ", math.max(1, 44 - #line)) .. "-- " .. comment) or line
    end
    w("-- A seccomp policy learned by sbx (sbx run --seccomp learn=FILE.lua / box:learn) from:")
    if self.command then w("--   " .. table.concat(self.command, " ")) end
    local arches = {}
    for arch, per in pairs(self.seen) do
      local n, c = 0, 0
      for _, e in pairs(per) do n = n + 1; c = c + e.count end
      arches[#arches + 1] = ("%s: %d calls, %d made"):format(arch, n, c)
    end
    table.sort(arches)
    w("--   " .. os.date("!%Y-%m-%dT%H:%M:%SZ") .. "; " .. (#arches > 0 and table.concat(arches, "; ") or "no calls seen"))
    w("-- Review it before you use it: every call not listed is refused (" .. t.default .. "); the counts are")
    w("-- how often each was made. Enforce it with: sbx run --seccomp FILE.lua -- ...")
    w("return {")
    w("  default = " .. q(t.default) .. ",")
    w("  allow = {")
    for _, name in ipairs(t.allow) do w("    " .. q(name) .. ",", t.comments[name]) end
    w("  },")
    w("  rules = {")
    for i, r in ipairs(t.rules) do
      local line = "    { " .. q(r[1]) .. ", " .. q(r[2])
      if r.args then
        local as = {}
        for _, a in ipairs(r.args) do
          local parts = { tostring(a[1]), q(a[2]), q(a[3]) }
          if a[4] then parts[4] = q(a[4]) end
          as[#as + 1] = "{ " .. table.concat(parts, ", ") .. " }"
        end
        line = line .. ", args = { " .. table.concat(as, ", ") .. " }"
      end
      w(line .. " },", t.comments[i])
    end
    w("  },")
    w("}")
    return table.concat(out, "\n") .. "\n"
  end
  return rec
end

-- learning(base) -> the plan-form policy a learning run uses: the base (plan form: a profile name,
-- a Policy, or nil for none) with each call it allows notified instead (with the same argument
-- conditions), and everything it refuses still refused in the kernel, never seen.
function M.learning(base)
  -- (profile = "": the plan it replaces may name one, whose rules would come first)
  if base == nil then return setmetatable({ profile = "", default_action = "notify", rules = {} }, Policy) end
  if type(base) == "string" then base = builtin(base) end
  for _, r in ipairs(base.rules or {}) do
    if r.action == "notify" then error("box:learn: the box's seccomp already notifies calls (on_call): learn from a box without", 3) end
  end
  local plan = { profile = "", default_action = base.default_action == "allow" and "notify" or base.default_action, rules = {}, flags = base.flags }
  for _, r in ipairs(base.rules or {}) do
    plan.rules[#plan.rules + 1] = r.action == "allow" and { syscall = r.syscall, action = "notify", args = r.args } or r
  end
  return setmetatable(plan, Policy)
end

-- Docker's and the OCI runtime spec's JSON seccomp profiles ------------------------------------

local ACTION_FROM_JSON = { SCMP_ACT_ALLOW = "allow", SCMP_ACT_KILL = "kill", SCMP_ACT_KILL_THREAD = "kill",
                          SCMP_ACT_KILL_PROCESS = "kill_process", SCMP_ACT_TRAP = "trap", SCMP_ACT_LOG = "log",
                          SCMP_ACT_NOTIFY = "notify" }
local OP_FROM_JSON = { SCMP_CMP_EQ = "eq", SCMP_CMP_NE = "ne", SCMP_CMP_LT = "lt", SCMP_CMP_LE = "le",
                      SCMP_CMP_GT = "gt", SCMP_CMP_GE = "ge", SCMP_CMP_MASKED_EQ = "masked_eq" }
local X86_ARCHES = { SCMP_ARCH_X86_64 = true, SCMP_ARCH_X86 = true, SCMP_ARCH_X32 = true, amd64 = true, x86 = true, x32 = true }

-- the OCI names of the filter flags; TSYNC is moot (the filter goes on a process of one thread)
local FLAG_FROM_JSON = { SECCOMP_FILTER_FLAG_LOG = "log", SECCOMP_FILTER_FLAG_SPEC_ALLOW = "spec_allow",
                         SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = "wait_killable_recv", SECCOMP_FILTER_FLAG_TSYNC = false }

local function json_action(a, errno_ret, where)
  if a == "SCMP_ACT_ERRNO" then return "errno " .. tostring(errno_ret or 1) end
  local x = ACTION_FROM_JSON[a]
  if not x then error(("%s: action %s is not supported here (allow, errno, kill, kill_process, trap, log, notify)"):format(where, tostring(a)), 0) end
  return x
end

-- load_json(path [, { caps = { ... } }]) -> policy: a Docker/OCI profile; entries that need
-- capabilities the sandbox will not have (includes.caps) or are for other architectures are left out.
-- sbx.seccomp.load(path) -> policy | nil, err: a policy written as Lua (a file that returns the
-- table sbx.container's seccomp = takes), checked as that table is; a file is data: it runs without globals.
function M.load(path)
  if type(path) ~= "string" then error("sbx.seccomp.load: expected a path", 2) end
  local chunk, err = loadfile(path)
  if not chunk then return nil, "seccomp.load: " .. err end
  setfenv(chunk, {})  -- data, not a program: no globals
  local ok, t = pcall(chunk)
  if not ok then return nil, ("seccomp.load %s: %s"):format(path, tostring(t)) end
  if type(t) ~= "table" then return nil, ("seccomp.load %s: the file must return a policy table"):format(path) end
  local ok2, p = pcall(M.compile, t, 1)
  if not ok2 then return nil, ("seccomp.load %s: %s"):format(path, tostring(p):gsub("^[^:]*:%d+: ", "")) end
  return p
end

function M.load_json(path, opts)
  opts = opts or {}
  local f, err = io.open(path)
  if not f then return nil, ("seccomp.load_json: %s"):format(err) end
  local ok, doc = pcall(core.json.decode, f:read("*a"))
  f:close()
  if not ok or type(doc) ~= "table" then return nil, ("seccomp.load_json: %s is not JSON"):format(path) end
  return M.from_json(doc, opts, path)
end

-- from_json(doc [, opts, what]) -> policy: the same from a decoded profile (an OCI config's
-- linux.seccomp); `what` names it in errors.
function M.from_json(doc, opts, path)
  opts, path = opts or {}, path or "seccomp"
  local have = {}
  for _, c in ipairs(opts.caps or require("sbx.container").default_caps) do have[c:upper()] = true end
  local function wanted(entry)
    local inc, exc = entry.includes or {}, entry.excludes or {}
    for _, c in ipairs(inc.caps or {}) do if not have[c] then return false end end
    if inc.arches and #inc.arches > 0 then
      local any = false
      for _, a in ipairs(inc.arches) do any = any or X86_ARCHES[a] or false end
      if not any then return false end
    end
    for _, c in ipairs(exc.caps or {}) do if have[c] then return false end end
    return true
  end
  local ok2, policy = pcall(function()
    local spec = { default = json_action(doc.defaultAction or "SCMP_ACT_ERRNO", doc.defaultErrnoRet, path .. ": defaultAction"), rules = {} }
    for i, name in ipairs(doc.flags or {}) do
      local flag = FLAG_FROM_JSON[name]
      if flag == nil then
        error(("%s: flags[%d]: '%s' is not a flag sbx knows (SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV, _TSYNC)"):format(path, i, tostring(name)), 0)
      end
      if flag then spec.flags = spec.flags or {}; spec.flags[#spec.flags + 1] = flag end
    end
    for i, entry in ipairs(doc.syscalls or {}) do
      if wanted(entry) then
        local where = ("%s: syscalls[%d]"):format(path, i)
        local action = json_action(entry.action, entry.errnoRet, where)
        local args
        if entry.args and #entry.args > 0 then
          args = {}
          for j, a in ipairs(entry.args) do
            local op = OP_FROM_JSON[a.op]
            if not op then error(("%s.args[%d]: operator %s"):format(where, j, tostring(a.op)), 0) end
            args[j] = { a.index, op, a.value or 0, a.valueTwo or 0 }
          end
        end
        for _, name in ipairs(entry.names or { entry.name }) do
          spec.rules[#spec.rules + 1] = { name, action, args = args }
        end
      end
    end
    return M.compile(spec, 3)
  end)
  if not ok2 then return nil, "seccomp.load_json: " .. tostring(policy) end
  return policy
end

local ACTION_TO_JSON = { allow = "SCMP_ACT_ALLOW", kill = "SCMP_ACT_KILL", kill_process = "SCMP_ACT_KILL_PROCESS",
                         trap = "SCMP_ACT_TRAP", log = "SCMP_ACT_LOG", notify = "SCMP_ACT_NOTIFY" }
local ERRNO_NUMBERS = { EPERM = 1, EACCES = 13, ENOSYS = 38, EINVAL = 22, ENOTTY = 25, EAFNOSUPPORT = 97 }

local function to_json_action(a)
  local e = a:match("^errno%s*(.*)$")
  if e then return "SCMP_ACT_ERRNO", ERRNO_NUMBERS[e ~= "" and e or "EPERM"] or tonumber(e) end
  return ACTION_TO_JSON[a]
end

-- policy:to_json() -> text in Docker's format (what load_json reads, and docker/podman/runc take).
function Policy:to_json()
  local def, def_errno = to_json_action(self.default_action)
  local doc = { defaultAction = def, defaultErrnoRet = def_errno,
                architectures = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" }, syscalls = {} }
  for _, f in ipairs(self.flags or {}) do
    for name, flag in pairs(FLAG_FROM_JSON) do
      if flag == f then doc.flags = doc.flags or {}; doc.flags[#doc.flags + 1] = name end
    end
  end
  local last
  for _, r in ipairs(self.rules) do
    local action, errno_ret = to_json_action(r.action)
    if not (r.args and #r.args > 0) and last and last.action == action and last.errnoRet == errno_ret and not last.args then
      last.names[#last.names + 1] = r.syscall
    else
      local e = { names = { r.syscall }, action = action, errnoRet = errno_ret }
      if r.args and #r.args > 0 then
        e.args = {}
        for j, a in ipairs(r.args) do
          e.args[j] = { index = a.index, value = a.value, valueTwo = a.value2 or 0, op = "SCMP_CMP_" .. a.op:upper() }
        end
      end
      doc.syscalls[#doc.syscalls + 1] = e
      last = e
    end
  end
  return core.json.encode(doc, 2)
end

return M
