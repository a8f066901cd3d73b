-- The outside for the network tests, all on this machine (loaded with dofile by the tests):
--   local outside = dofile(src .. "/tests/isolation/lib/outside.lua")
--   outside.web("text") -> IP: a busybox httpd serving "text" in a sandbox on the sbx0 bridge;
--                          outside.stop_web() ends every one
--   a DNS stand-in on the host's loopback: answer(name) -> an IPv4 address (an A record, TTL 60)
--   or nil (an empty answer)
--   local s = outside.serve(answer)  -- in this process's loop: s.port, s.asked (names), s:close()
--   local s = outside.fork(answer, log)  -- in a child of its own (for a test that blocks
--                                        -- meanwhile): each name asked appended to log; s:close()
local sbx = require "sbx"
local N = require("sbx.core").net
local M = {}

local servers = {}
function M.web(text)
  local box = sbx.container{ rootfs = assert(sbx.rootfs.busybox()), net = "bridge", mounts = { sbx.tmpfs("/www") } }
  local p = assert(box:spawn{ "/bin/sh", "-c", ("echo %s > /www/index.html && exec httpd -f -p 80 -h /www"):format(text) })
  servers[#servers + 1] = p
  return p.ip
end

function M.stop_web()
  for _, p in ipairs(servers) do p:kill("KILL"); p:wait() end
  servers = {}
end

local function p16(n) return string.char(math.floor(n / 256) % 256, n % 256) end

local function bind()
  for try = 0, 20 do
    local port = 20000 + (sbx.sys.getpid() * 7 + try * 131) % 30000
    local fd = N.udp_bind(0, "127.0.0.1", port)
    if fd then return fd, port end
  end
  error("no free port for the DNS stand-in")
end

local function reply(fd, answer, asked)
  local msg, ip, port = N.recvfrom(fd)
  if not msg then return end
  local i, labels = 13, {}
  while msg:byte(i) and msg:byte(i) ~= 0 do labels[#labels + 1] = msg:sub(i + 1, i + msg:byte(i)); i = i + msg:byte(i) + 1 end
  local name, qend = table.concat(labels, "."), i + 5
  local qtype = msg:byte(i + 1) * 256 + msg:byte(i + 2)
  asked(name)
  local to = answer(name)
  local a, b, c, d = (to or ""):match("(%d+)%.(%d+)%.(%d+)%.(%d+)")
  local ans = (qtype == 1 and a) and (p16(0xc00c) .. p16(1) .. p16(1) .. string.char(0, 0, 0, 60) .. p16(4) .. string.char(a, b, c, d)) or ""
  N.sendto(fd, msg:sub(1, 2) .. p16(0x8180) .. p16(1) .. p16(ans ~= "" and 1 or 0) .. p16(0) .. p16(0) .. msg:sub(13, qend - 1) .. ans, ip, port)
end

function M.serve(answer)
  local fd, port = bind()
  local s = { port = port, asked = {} }
  local watch = sbx.loop.watch(fd, function() reply(fd, answer, function(n) s.asked[#s.asked + 1] = n end) end)
  function s:close() watch:cancel(); sbx.sys.close(fd) end
  return s
end

function M.fork(answer, log)
  local fd, port = bind()
  local child = assert(sbx.sys.clone{ ns = {}, fn = function()
    sbx.loop.forget()
    sbx.loop.watch(fd, function()
      reply(fd, answer, function(n)
        local f = io.open(log, "a")
        f:write(n, "\n")
        f:close()
      end)
    end)
    sbx.loop.run()
    return 0
  end })
  sbx.sys.close(fd)
  local s = { port = port }
  function s:close() child:kill("KILL"); child:wait() end
  return s
end

return M
