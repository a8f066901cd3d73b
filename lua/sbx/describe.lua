-- The parts of a sbx.container description turned into pieces of the plan: units, lists and
-- tables checked and normalised here (errors name the key); which values are the defaults is
-- container.lua's alone (they are passed in).
local core = require "sbx.core"
local cgroup = require "sbx.cgroup"

local M = {}

local function fail(msg, level) error("sbx.container: " .. msg, level + 1) end

local function key_list(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

local IO_KEYS = { device = true, read_bps = true, write_bps = true, read_iops = true, write_iops = true, weight = true }

local BRIDGE_KEYS = { bridge = true, subnet = true, ip = true, publish = true, nat = true, name = true, egress = true, dns = true }

-- One published port -> "HOST_IP:HOST_PORT:PORT/PROTO" (the core parses and checks it).
local function port_text(host, port, level)
  host, port = tostring(host), tostring(port)
  local proto = port:match("/(%a+)$") or host:match("/(%a+)$") or "tcp"
  port, host = port:gsub("/%a+$", ""), host:gsub("/%a+$", "")
  if not port:match("^%d+$") then fail(("net.publish['%s']: '%s' is not a port"):format(host, port), level + 1) end
  if not host:find(":") then host = "0.0.0.0:" .. host end
  return host .. ":" .. port .. "/" .. proto
end

-- net = { bridge = "sbx0", subnet =, ip =, publish = { ["127.0.0.1:8080"] = 80 } or { "8080:80" }, nat =, name = }
local function bridge_plan(net, opts, level)
  for k in pairs(net) do
    if not BRIDGE_KEYS[k] then fail(("net: unknown key '%s' (expected %s, or netns)"):format(tostring(k), key_list(BRIDGE_KEYS)), level + 1) end
  end
  local name = net.bridge
  if name == true or name == nil then name = "sbx0" end
  if type(name) ~= "string" then fail("net.bridge: expected a bridge name (string) or true", level + 1) end
  if net.dns ~= nil and net.egress == nil then fail("net.dns: the upstream resolver of net.egress (give egress too)", level + 1) end
  return { bridge = name, subnet = net.subnet, ip = net.ip, publish = M.publish_plan(net, level + 1), nat = net.nat,
           name = net.name or opts.hostname or opts.name,
           dns = net.egress ~= nil and require("sbx.egress").resolver or nil }
end

-- net.publish -> { "HOST_IP:HOST_PORT:PORT/PROTO", ... } sorted
function M.publish_plan(net, level)
  local publish = {}
  if net.publish ~= nil and type(net.publish) ~= "table" then fail("net.publish: expected a table", level + 1) end
  for k, v in pairs(net.publish or {}) do
    if type(k) == "number" then  -- docker's -p forms: "80" (any free host port), "8080:80", "127.0.0.1:8080:80/udp"
      v = tostring(v)
      local colons = select(2, v:gsub(":", ""))
      if colons == 0 then v = "0.0.0.0:0:" .. v elseif colons == 1 then v = "0.0.0.0:" .. v end
      publish[#publish + 1] = v:find("/") and v or v .. "/tcp"
    else
      publish[#publish + 1] = port_text(k, v, level + 1)
    end
  end
  table.sort(publish)
  return publish
end

-- Rootless (or net.user given): a user-mode network, pasta or else slirp4netns (net.user = "auto").
-- A host bridge's own settings have no meaning there and are refused by name.
local USER_KEYS = { user = true, bridge = true, publish = true, egress = true, dns = true }
function M.user_net_plan(net, level)
  for k in pairs(net) do
    if not USER_KEYS[k] then
      if BRIDGE_KEYS[k] then
        fail(("net.%s: a host bridge's setting; a user-mode network (pasta, slirp4netns: what an unprivileged user gets) has none"):format(k), level + 1)
      end
      fail(("net: unknown key '%s' (expected %s)"):format(tostring(k), key_list(USER_KEYS)), level + 1)
    end
  end
  if net.bridge ~= nil and net.bridge ~= true and net.bridge ~= "sbx0" then
    fail(("net.bridge: '%s': a host bridge needs root (CAP_NET_ADMIN on the host); as a user, net = \"bridge\" is a user-mode network (pasta)"):format(tostring(net.bridge)), level + 1)
  end
  if net.dns ~= nil and net.egress == nil then fail("net.dns: the upstream resolver of net.egress (give egress too)", level + 1) end
  if core.sys.ids().uid == 0 then
    fail('net.user: pasta and slirp4netns are for unprivileged users (as root they would have to keep root to enter the sandbox); root\'s sandboxes use the host bridge: net = "bridge"', level + 1)
  end
  local tool = net.user
  if tool == nil or tool == true or tool == "auto" then
    tool = (core.net.user_net_tool("pasta") and "pasta") or (core.net.user_net_tool("slirp4netns") and "slirp4netns")
    if not tool then
      fail("net: an unprivileged user's network needs pasta or slirp4netns, and neither is installed (apt-get install passt, or slirp4netns; sbx doctor)", level + 1)
    end
  elseif tool ~= "pasta" and tool ~= "slirp4netns" then
    fail(("net.user: '%s' (expected \"pasta\", \"slirp4netns\" or \"auto\")"):format(tostring(tool)), level + 1)
  end
  local publish = M.publish_plan(net, level + 1)
  for _, p in ipairs(publish) do
    if p:match("^[^:]*:0:") then fail(("net.publish '%s': a user-mode network needs the host port"):format(p), level + 1) end
  end
  return { tool = tool, publish = publish }
end

-- Portable limits (docker's words) -> the plan's numbers; units and types checked here.
local function limits_plan(limits, level)
  local scalar = {}
  for k, v in pairs(limits) do if k ~= "io" and k ~= "devices" then scalar[k] = v end end
  local out = cgroup.limits(scalar, level + 1, "sbx.container: limits")
  if limits.devices ~= nil then
    -- "default" (docker's list: null zero full random urandom tty console ptmx pts) or rules
    if limits.devices == "default" then
      out.devices = core.default_device_rules()
    elseif type(limits.devices) == "table" then
      out.devices = {}
      for i, r in ipairs(limits.devices) do
        if type(r) ~= "string" then fail(("limits.devices[%d]: expected a rule like \"c 1:3 rwm\""):format(i), level + 1) end
        out.devices[i] = r
      end
    else
      fail('limits.devices: expected "default" or a list of rules like "c 1:3 rwm"', level + 1)
    end
  end
  if limits.io ~= nil then
    if type(limits.io) ~= "table" then fail("limits.io: expected a list of { device =, read_bps =, ... }", level + 1) end
    out.io = {}
    for i, e in ipairs(limits.io) do
      local where = ("limits.io[%d]"):format(i)
      if type(e) ~= "table" then fail(where .. ": expected { device =, read_bps =, write_bps =, read_iops =, write_iops = }", level + 1) end
      for ek in pairs(e) do
        if not IO_KEYS[ek] then fail(("%s: unknown key '%s' (expected %s)"):format(where, tostring(ek), key_list(IO_KEYS)), level + 1) end
      end
      local dev, err = core.device_number(e.device or "")
      if not dev then fail(where .. ".device: " .. err, level + 1) end
      local function size(k)
        if e[k] == nil then return nil end
        local n, serr = core.parse_size(e[k])
        if not n then fail(where .. "." .. k .. ": " .. serr, level + 1) end
        return n
      end
      out.io[i] = { device = dev, rbps = size("read_bps"), wbps = size("write_bps"), riops = e.read_iops, wiops = e.write_iops,
                    weight = e.weight }
    end
  end
  return out
end


local ns_known = {}
for _, k in ipairs(core.ns_kinds()) do ns_known[k.name] = true end

local function list_of_ns(v, level)
  local out, seen = {}, {}
  for i, name in ipairs(v) do
    if name == "mount" then name = "mnt" end
    if not ns_known[name] then
      fail(("ns[%d]: unknown namespace '%s' (expected user, mnt, uts, ipc, pid, net, cgroup, time)"):format(i, tostring(name)), level + 1)
    end
    if not seen[name] then out[#out + 1], seen[name] = name, true end
  end
  return out
end

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

local function remove(list, x)
  local out = {}
  for _, v in ipairs(list) do if v ~= x then out[#out + 1] = v end end
  return out
end

-- env: { PATH = "/bin" } or { "PATH=/bin" }; merged over the defaults.
local function env_list(env, base, level)
  local map, order = {}, {}
  local function put(k, v)
    if map[k] == nil then order[#order + 1] = k end
    map[k] = v
  end
  for _, kv in ipairs(base) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    put(k, v)
  end
  if env then
    for k, v in pairs(env) do
      if type(k) == "number" then
        local kk, vv = tostring(v):match("^([^=]+)=(.*)$")
        if not kk then fail(("env[%d]: '%s' is not KEY=VALUE"):format(k, tostring(v)), level + 1) end
        put(kk, vv)
      elseif type(k) == "string" and (type(v) == "string" or type(v) == "number") then
        put(k, tostring(v))
      elseif v == false then
        put(k, false)
      else
        fail(("env.%s: expected a string"):format(tostring(k)), level + 1)
      end
    end
  end
  local out = {}
  for _, k in ipairs(order) do
    if map[k] then out[#out + 1] = k .. "=" .. map[k] end
  end
  return out
end

local function default_env(uid, path)
  local env = { "PATH=" .. path, "HOME=" .. ((uid or 0) == 0 and "/root" or "/") }
  local term = os.getenv("TERM")
  if term then env[#env + 1] = "TERM=" .. term end
  return env
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

-- caps (a list, {} or "all"; default docker's 14) with docker's --cap-add / --cap-drop over it:
-- names as CAP_X or X, any case; "ALL" drops or adds every one.
local function caps_plan(caps, add, drop, default_caps, level)
  local base
  if caps == "all" then base = { "all" }
  elseif caps == nil then base = copy(default_caps)
  elseif type(caps) == "table" then base = copy(caps)
  else fail('caps: expected a list of capability names, {} or "all"', level + 1) end
  if add == nil and drop == nil then return base end
  for key, v in pairs({ cap_add = add, cap_drop = drop }) do
    if type(v) ~= "table" then fail(key .. ": expected a list of capability names", level + 1) end
  end
  local function norm(c) c = tostring(c):upper(); return c:match("^CAP_") and c or ("CAP_" .. c) end
  local keep, order = {}, {}
  if base[1] == "all" then
    if not drop or #drop == 0 then return base end
    base = {}  -- every capability libcap names, to drop from
    for _, c in ipairs(core.cap_names("ffffffffffffffff")) do if c:match("^cap_") then base[#base + 1] = c end end
  end
  for _, c in ipairs(base) do keep[norm(c)] = true; order[#order + 1] = norm(c) end
  for _, c in ipairs(drop or {}) do
    if tostring(c):upper() == "ALL" then keep = {} else keep[norm(c)] = nil end
  end
  for _, c in ipairs(add or {}) do
    if tostring(c):upper() == "ALL" then return { "all" } end
    keep[norm(c)] = true; order[#order + 1] = norm(c)
  end
  local out, seen = {}, {}
  for _, c in ipairs(order) do if keep[c] and not seen[c] then out[#out + 1] = c; seen[c] = true end end
  return out
end

M.fail = fail
M.key_list = key_list
M.port_text = port_text
M.bridge_plan = bridge_plan
M.limits_plan = limits_plan
M.list_of_ns = list_of_ns
M.has = has
M.remove = remove
M.env_list = env_list
M.default_env = default_env
M.copy = copy
M.caps_plan = caps_plan

return M
