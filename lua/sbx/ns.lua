-- sbx.ns: the eight namespaces as data, and their identities.
local core = require "sbx.core"

local ns = {}

-- { { name = "user", flag = 0x10000000, flag_name = "CLONE_NEWUSER" }, ... } (setns order)
ns.kinds = core.ns_kinds()
ns.flag, ns.name = {}, {}
for _, k in ipairs(ns.kinds) do
  ns.flag[k.name] = k.flag
  ns.name[k.flag] = k.name
end
ns.flag.mount = ns.flag.mnt  -- util-linux's word

-- Inode identity of each namespace of a process (default: this one):
-- { net = 4026531840, pid = 4026531836, ... }. Two processes share a namespace when equal.
function ns.ids(pid)
  if pid ~= nil and type(pid) ~= "number" then error("sbx.ns.ids: pid must be a number", 2) end
  return core.ns_ids(pid or 0)
end

-- Names of the namespaces in which two processes differ.
function ns.diff(pid_a, pid_b)
  local a, ea = ns.ids(pid_a)
  if not a then return nil, ea end
  local b, eb = ns.ids(pid_b)
  if not b then return nil, eb end
  local out = {}
  for _, k in ipairs(ns.kinds) do
    if a[k.name] and b[k.name] and a[k.name] ~= b[k.name] then out[#out + 1] = k.name end
  end
  return out
end

return ns
