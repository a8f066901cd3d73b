-- Network egress by allow-list (issue 16, part 3):
--   net = { bridge = "sbx0", egress = { "10.1.2.0/24", "127.0.0.1:8080", "deb.debian.org:443", "*.pypi.org:443" },
--           dns = "IP[:PORT]" (the upstream resolver; default: the host's first) }   sbx run --allow HOST[:PORT]
-- Addresses and prefixes are nftables rules in the sandbox's own network namespace (its payload has
-- no CAP_NET_ADMIN there); names are served by a DNS responder in the supervisor, on 127.0.0.53
-- inside, which answers only allowed names and adds each answer's addresses to the allowed set for
-- the answer's TTL. Everything else is refused (TCP with a reset, the rest with an ICMP error),
-- counted per destination, reported when the sandbox ends and as p:on("egress_denied", fn).
local core = require "sbx.core"
local loop = require "sbx.loop"
local N = core.net

local M = {}

M.resolver = "127.0.0.53"

local function is_v4(s) return s:match("^%d+%.%d+%.%d+%.%d+$") ~= nil end

-- One entry -> { kind = "v4" | "v6" | "name", value =, port = }
local function entry(text, i)
  local function bad(why) error(("net.egress[%d]: '%s': %s"):format(i, tostring(text), why), 0) end
  if type(text) ~= "string" or text == "" then bad("expected HOST[:PORT], IP[/PREFIX][:PORT], [IPV6][:PORT] or *.DOMAIN[:PORT]") end
  local host, port = text, nil
  local b6, p6 = text:match("^%[([^%]]+)%]:?(%d*)$")
  if b6 then
    host, port = b6, p6 ~= "" and p6 or nil
  elseif select(2, text:gsub(":", "")) == 1 then
    host, port = text:match("^(.-):(%d+)$")
    if not host then bad("the port must be a number") end
  end
  if port then
    port = tonumber(port)
    if port < 1 or port > 65535 then bad("the port must be 1..65535") end
  end
  local addr, prefix = host:match("^([^/]+)/(%d+)$")
  addr = addr or host
  if is_v4(addr) then
    for o in addr:gmatch("%d+") do if tonumber(o) > 255 then bad("not an IPv4 address") end end
    if prefix and tonumber(prefix) > 32 then bad("an IPv4 prefix is 0..32") end
    return { kind = "v4", value = host, port = port }
  end
  if addr:find(":") then
    if not addr:match("^[%x:%.]+$") then bad("not an IPv6 address") end
    if prefix and tonumber(prefix) > 128 then bad("an IPv6 prefix is 0..128") end
    return { kind = "v6", value = host, port = port }
  end
  if prefix then bad("a name takes no prefix") end
  local name = host:lower():gsub("%.$", "")
  local rest = name:match("^%*%.(.+)$") or name
  if not rest:match("^[%w%-_]+[%w%-_%.]*$") or rest:find("%.%.") then bad("not a host name") end
  return { kind = "name", value = name, port = port }
end

-- check(list) -> the allow-list parsed (errors name the entry)
function M.check(list, level)
  if type(list) ~= "table" then error('net.egress: expected a list like { "10.1.2.0/24", "deb.debian.org:443" }', (level or 1) + 1) end
  local out = { v4 = {}, v6 = {}, names = {} }
  for i, e in ipairs(list) do
    local ok, r = pcall(entry, e, i)
    if not ok then error(r, (level or 1) + 1) end
    if r.kind == "name" then out.names[#out.names + 1] = r else out[r.kind][#out[r.kind] + 1] = r end
  end
  return out
end

-- The host's first resolver (loopback ones too: the responder asks from the host's namespace).
function M.host_resolver()
  local f = io.open("/etc/resolv.conf")
  if not f then return nil end
  for line in f:lines() do
    local ns = line:match("^%s*nameserver%s+(%S+)")
    if ns then f:close(); return ns end
  end
  f:close()
end

local function elements(list, with_port)
  local out = {}
  for _, e in ipairs(list) do
    if (e.port ~= nil) == with_port then
      out[#out + 1] = with_port and (e.value .. " . " .. e.port) or e.value
    end
  end
  return #out > 0 and (" elements = { " .. table.concat(out, ", ") .. " }") or ""
end

-- The table, as nft reads it.
function M.ruleset(cfg)
  local r = { "table inet sbx_egress {" }
  local function set(name, typ, flags, elems) r[#r + 1] = ("  set %s { type %s; flags %s;%s }"):format(name, typ, flags, elems or "") end
  set("cidr4", "ipv4_addr", "interval", elements(cfg.v4, false))
  set("cidrp4", "ipv4_addr . inet_service", "interval", elements(cfg.v4, true))
  set("cidr6", "ipv6_addr", "interval", elements(cfg.v6, false))
  set("cidrp6", "ipv6_addr . inet_service", "interval", elements(cfg.v6, true))
  set("dns4", "ipv4_addr", "timeout")
  set("dnsp4", "ipv4_addr . inet_service", "timeout")
  set("dns6", "ipv6_addr", "timeout")
  set("dnsp6", "ipv6_addr . inet_service", "timeout")
  r[#r + 1] = "  set denied4 { type ipv4_addr . inet_proto . inet_service; size 65535; flags dynamic; counter; }"
  r[#r + 1] = "  set denied6 { type ipv6_addr . inet_proto . inet_service; size 65535; flags dynamic; counter; }"
  r[#r + 1] = [[
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    ct state established,related accept
    ip daddr @cidr4 accept
    ip daddr . th dport @cidrp4 accept
    ip daddr @dns4 accept
    ip daddr . th dport @dnsp4 accept
    ip6 daddr @cidr6 accept
    ip6 daddr . th dport @cidrp6 accept
    ip6 daddr @dns6 accept
    ip6 daddr . th dport @dnsp6 accept
    meta l4proto { tcp, udp } update @denied4 { ip daddr . meta l4proto . th dport }
    meta l4proto { tcp, udp } update @denied6 { ip6 daddr . meta l4proto . th dport }
    meta l4proto tcp reject with tcp reset
    reject with icmpx admin-prohibited
  }
}]]
  return table.concat(r, "\n") .. "\n"
end

-- DNS ----------------------------------------------------------------------------------------

local function u16(s, i) local a, b = s:byte(i, i + 1); if not b then return nil end; return a * 256 + b end
local function u32(s, i) local a, b = u16(s, i), u16(s, i + 2); if not b then return nil end; return a * 65536 + b end
local function p16(n) return string.char(math.floor(n / 256) % 256, n % 256) end

-- The question's name (lower case) and the offset after the question, or nil (no pointers there).
local function question(msg)
  if #msg < 12 or u16(msg, 5) ~= 1 then return nil end
  local i, labels = 13, {}
  while true do
    local len = msg:byte(i)
    if not len or len >= 64 then return nil end
    if len == 0 then break end
    labels[#labels + 1] = msg:sub(i + 1, i + len)
    if #labels[#labels] ~= len or #labels > 127 then return nil end
    i = i + 1 + len
  end
  if not u16(msg, i + 3) then return nil end
  return table.concat(labels, "."):lower(), i + 5, u16(msg, i + 1)
end

local function skip_name(msg, i)
  for _ = 1, 128 do
    local len = msg:byte(i)
    if not len then return nil end
    if len == 0 then return i + 1 end
    if len >= 192 then return i + 2 end
    if len >= 64 then return nil end
    i = i + 1 + len
  end
end

-- The A and AAAA records of an answer: { { "v4" | "v6", address text, ttl } }
local function answers(msg)
  local _, i = question(msg)
  if not i then return {} end
  local out = {}
  for _ = 1, u16(msg, 7) or 0 do
    i = skip_name(msg, i)
    if not i then break end
    local typ, ttl, len = u16(msg, i), u32(msg, i + 4), u16(msg, i + 8)
    if not len then break end
    local rd = msg:sub(i + 10, i + 9 + len)
    if #rd ~= len then break end
    if typ == 1 and len == 4 then
      out[#out + 1] = { "v4", ("%d.%d.%d.%d"):format(rd:byte(1, 4)), ttl }
    elseif typ == 28 and len == 16 then
      local w = {}
      for k = 1, 16, 2 do w[#w + 1] = ("%x"):format(u16(rd, k)) end
      out[#out + 1] = { "v6", table.concat(w, ":"), ttl }
    end
    i = i + 10 + len
  end
  return out
end

local function refusal(query, qend)
  -- the query's id and question, QR + RD + RA, NXDOMAIN, no records
  return query:sub(1, 2) .. p16(0x8183) .. p16(1) .. p16(0) .. p16(0) .. p16(0) .. query:sub(13, qend - 1)
end

local function allowed(cfg, name)
  local ports, any = {}, false
  for _, e in ipairs(cfg.names) do
    local v = e.value
    local hit = v == name or (v:sub(1, 2) == "*." and name:sub(-(#v - 1)) == v:sub(2))
    if hit then
      if e.port then ports[#ports + 1] = e.port else any = true end
    end
  end
  if any then return true, nil end
  if #ports > 0 then return true, ports end
  return false
end

-- arm(p, cfg): the rules into p's network namespace, the responder on 127.0.0.53:53 there; an
-- error is the start's (called from the created phase, before the payload runs).
function M.arm(p, cfg)
  local pid = p.pid
  -- held until the end: the counters are read after the sandbox's last process is gone
  -- (unprivileged: its user namespace too, entered first by a helper for each nft call)
  local nsfd, usfd = assert(N.netns_fd(pid))
  local function nft(cmds, json) return N.nft_in_ns(nsfd, cmds, json, usfd) end
  local function close_ns() core.sys.close(nsfd); if usfd then core.sys.close(usfd) end end
  local ok, err = nft(M.ruleset(cfg))
  if not ok then close_ns(); error("egress rules: " .. tostring(err), 0) end
  local inside = assert(N.udp_bind(pid, M.resolver, 53))
  local upstream = assert(N.udp_bind(0, cfg.dns_ip:find(":") and "::" or "0.0.0.0", 0))
  local pending, next_id, denied = {}, 0, {}
  local handles = {}
  local function add(set, elem, ttl)
    local aok, aerr = nft(("add element inet sbx_egress %s { %s timeout %ds }"):format(set, elem, math.max(5, math.min(ttl, 86400))))
    if not aok then io.stderr:write("sbx: egress: allow ", elem, ": ", tostring(aerr), "\n") end
  end
  handles[#handles + 1] = assert(loop.watch(inside, function()
    while true do
      local msg, ip, port = N.recvfrom(inside)
      if not msg then break end
      local name, qend = question(msg)
      if name then
        local ok, ports = allowed(cfg, name)
        if ok then
          next_id = (next_id + 1) % 65536
          pending[next_id] = { ip = ip, port = port, id = msg:sub(1, 2), name = name, ports = ports }
          N.sendto(upstream, p16(next_id) .. msg:sub(3), cfg.dns_ip, cfg.dns_port)
        else
          io.stderr:write(("sbx: egress: refused name %s (not in the allow-list)\n"):format(name))
          N.sendto(inside, refusal(msg, qend), ip, port)
          local key = "name " .. name
          denied[key] = (denied[key] or 0) + 1
          require("sbx.events").fire(p, "egress_denied", { name = name, count = denied[key] })
        end
      end
    end
  end))
  handles[#handles + 1] = assert(loop.watch(upstream, function()
    while true do
      local msg = N.recvfrom(upstream)
      if not msg then break end
      local q = #msg >= 12 and pending[u16(msg, 1)]
      if q then
        pending[u16(msg, 1)] = nil
        -- the addresses allowed before the answer reaches the payload
        for _, a in ipairs(answers(msg)) do
          local fam = a[1] == "v4" and "4" or "6"
          if q.ports then
            for _, port in ipairs(q.ports) do add("dnsp" .. fam, a[2] .. " . " .. port, a[3]) end
          else
            add("dns" .. fam, a[2], a[3])
          end
        end
        N.sendto(inside, q.id .. msg:sub(3), q.ip, q.port)
      end
    end
  end))
  -- refused destinations: nft's counters read every half second, and at the end
  local function check()
    for _, fam in ipairs({ "4", "6" }) do
      local out = nft("list set inet sbx_egress denied" .. fam, true)
      local ok, doc = pcall(core.json.decode, out or "")
      for _, item in ipairs(ok and doc and doc.nftables or {}) do
        for _, el in ipairs(item.set and item.set.elem or {}) do
          local e = el.elem or {}
          local v = e.val and e.val.concat
          local n = e.counter and e.counter.packets or 0
          if v then
            local key = ("%s %s/%s"):format(v[1], v[2], v[3])
            if (denied[key] or 0) < n then
              denied[key] = n
              require("sbx.events").fire(p, "egress_denied", { address = v[1], proto = v[2], port = v[3], count = n })
            end
          end
        end
      end
    end
  end
  handles[#handles + 1] = loop.every(0.5, check)
  require("sbx.events")
  p:on("exit", function()
    check()
    for _, h in ipairs(handles) do h:cancel() end
    core.sys.close(inside)
    core.sys.close(upstream)
    close_ns()
    local keys = {}
    for k in pairs(denied) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      io.stderr:write(("sbx: egress refused: %s (%d time%s)\n"):format(k, denied[k], denied[k] == 1 and "" or "s"))
    end
  end)
end

return M
