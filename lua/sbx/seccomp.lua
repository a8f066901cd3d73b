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
