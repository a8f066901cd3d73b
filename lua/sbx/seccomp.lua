-- sbx.seccomp: seccomp policies as Lua data, and the named profiles.
--   seccomp = "default" | "strict" | "none"
--   seccomp = { default = "errno EPERM", allow = { "read", ... }, deny = { "keyctl", ... },
--               rules = { { "clone", "allow", args = { { 0, "masked_eq", 0x7E020000, 0 } } } } }
-- A policy compiles to { default_action =, rules = { { syscall =, action =, args = } } }, the plan's
-- form (box:spec().seccomp). policy:explain("keyctl") says what it does with one syscall.
local core = require "sbx.core"

local M = {}

-- The built-in profiles ("default", "strict") live in the core (src/core/seccomp.cc); a plan
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

local function builtin(name)
  local t = assert(core.seccomp_profile(name))
  local p = setmetatable({ profile = name, default_action = t.default_action, rules = t.rules }, Policy)
  return p
end
function M.default() return builtin("default") end
function M.strict() return builtin("strict") end

-- seccomp = value -> the plan's form: a profile name, a compiled policy, or nil (none).
function M.resolve(v, level)
  level = (level or 1) + 1
  if v == nil then return "default" end
  if v == "none" or v == false then return nil end
  if v == "default" or v == "strict" then return v end
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
