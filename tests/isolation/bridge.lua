-- Sandboxes on the host bridge: what they can reach (each other by name, published ports)
-- and what they cannot (the host's loopback-only listeners, with net = "none" also the host's
-- abstract unix sockets), outbound NAT into a network the test makes, named netns, and that
-- nothing is left behind after many cycles. Only loopback and namespaces made here are used.
local root = sbx.rootfs.busybox()
local bin = os.getenv("SBX_BIN")
if not root or not bin then skip_all("needs the busybox rootfs and SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("host bridges and nftables need root") end
if not os.execute("nft list tables >/dev/null 2>&1") then skip_all("nftables is not usable here (nft list tables failed)") end

local me = sbx.sys.getpid()
local function run(cmd) return (sh(cmd)) end  -- output only
local port_base = 20000 + (me % 200) * 50  -- concurrent runs of this file use other ports

local links = host_links
-- sbx0's subnet: chosen clear of the host's routes (issue 17); NET is its first two octets and a 0
local SUBNET = assert(sbx.net.subnet())
local NET = SUBNET:match("^(%d+%.%d+)%.") .. ".0"
local NETP = NET:gsub("%.", "%%.")  -- as a pattern: "10%.199%.0"

local function nothing_left(before)
  expect(links(), "host links as before").eq(before)
  expect(#sbx.net.bridges(), "no sbx bridge left").eq(0)
  expect(run("nft list table ip sbx 2>&1")).contains("No such file")
  expect(#assert(sbx.net.ipam.leases(SUBNET)), "no lease left").eq(0)
  local left = run("ls /run/sbx/net | grep -E '^sbx[0-9]+-' || true")
  expect(left, "no per-sandbox files left").eq("")
end

-- A host process listening on 127.0.0.1 only: busybox httpd in the host's network namespace.
local function host_listener(port)
  local p = assert(sbx.container{ rootfs = root, net = "host" }:spawn{ "httpd", "-f", "-p", "127.0.0.1:" .. port, "-h", "/etc" })
  for _ = 1, 50 do
    if run(("curl -s -m 1 http://127.0.0.1:%d/hostname 2>/dev/null || true"):format(port)) ~= "" then return p end
    os.execute("sleep 0.05")
  end
  error("the host listener on 127.0.0.1:" .. port .. " did not come up")
end

local function fetch(box, url)
  -- (busybox's own wget -T crashes in Debian's static build: timeout instead)
  return box:run{ "timeout", "5", "wget", "-q", "-O", "-", url, stdout = "pipe", stderr = "pipe" }
end

local function web(name, publish)
  local box = sbx.container{ rootfs = root, hostname = name, net = { bridge = true, publish = publish } }
  local p = assert(box:spawn{ "sh", "-c", "mkdir -p /tmp/www && echo served-by-" .. name ..
    " > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www" })
  return p
end

local function wait_http(url)
  for _ = 1, 100 do
    if run("curl -s -m 1 " .. url .. " 2>/dev/null || true") ~= "" then return end
    os.execute("sleep 0.05")
  end
end

test("net = none: the host's 127.0.0.1 listener and abstract unix socket are out of reach (net = host reaches both)", function()
  local port = port_base + 1
  local listener = host_listener(port)
  local url = ("http://127.0.0.1:%d/hostname"):format(port)
  local none = sbx.container{ rootfs = root, net = "none" }
  local host = sbx.container{ rootfs = root, net = "host" }
  expect(fetch(host, url).code, "control: the host's namespace reaches it").eq(0)
  expect(fetch(none, url).code, "net = none reaches it").ne(0)
  expect(fetch(sbx.container{ rootfs = root }, url).code, "net = loopback (the default) reaches it").ne(0)
  listener:kill("KILL"); listener:wait()
  -- an abstract unix socket of the host (python3 on the host's root, read-only)
  if not io.open("/usr/bin/python3") then return skip("python3 is missing: the abstract socket half") end
  local name = "sbx-test-" .. me
  local server = assert(sbx.container{ net = "host" }:spawn{ "python3", "-c", ([[
import socket
s = socket.socket(socket.AF_UNIX); s.bind('\0%s'); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b'hello'); c.close()]]):format(name) })
  local client = ([[
import socket, sys, time
for i in range(50):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect('\0%s'); print(s.recv(5).decode()); sys.exit(0)
    except (ConnectionRefusedError, FileNotFoundError) as e:
        err = e; time.sleep(0.05)
print(type(err).__name__); sys.exit(1)]]):format(name)
  local ok = sbx.container{ net = "host" }:run{ "python3", "-c", client, stdout = "pipe" }
  expect(ok.stdout, "control: the host's namespace connects").eq("hello\n")
  local no = sbx.container{ net = "none" }:run{ "python3", "-c", client:gsub("range%(50%)", "range(1)"), stdout = "pipe" }
  expect(no.code).eq(1)
  expect(no.stdout).eq("ConnectionRefusedError\n")
  server:kill("KILL"); server:wait()
end)

test("bridge: sandboxes reach each other by name; the host's loopback-only listener only when published", function()
  local before = links()
  local port = port_base + 2
  local listener = host_listener(port)
  local name = "web-" .. me
  local server = web(name, { ["127.0.0.1:" .. (port_base + 3)] = 80 })
  expect(server.ip).match("^" .. NETP:gsub("%%%.0$", "") .. "%.%d+%.%d+$")
  expect(server.ports[1].host_port).eq(port_base + 3)
  expect(links()).contains("sbx0")
  wait_http(("http://127.0.0.1:%d/"):format(port_base + 3))
  -- from the host, through the published loopback port
  expect(run(("curl -s -m 3 http://127.0.0.1:%d/"):format(port_base + 3))).eq("served-by-" .. name .. "\n")
  -- from a second sandbox, by name (its /etc/hosts is the bridge's)
  local client = sbx.container{ rootfs = root, hostname = "client-" .. me, net = "bridge" }
  local got = fetch(client, "http://" .. name .. "/")
  expect(got.code, got.stderr).eq(0)
  expect(got.stdout).eq("served-by-" .. name .. "\n")
  local hosts = client:run{ "cat", "/etc/hosts", "/etc/hostname", stdout = "pipe" }.stdout
  expect(hosts).contains(server.ip .. "\t" .. name)
  expect(hosts).contains("client-" .. me .. "\n")
  -- the host's loopback-only listener: not through the gateway (the control above proved it answers)
  expect(fetch(client, ("http://%s.1:%d/hostname"):format(NET, port)).code).ne(0)
  expect(fetch(client, ("http://host.sbx.internal:%d/hostname"):format(port)).code).ne(0)
  listener:kill("KILL"); listener:wait()
  server:kill("KILL"); server:wait()
  nothing_left(before)
end)

test("publish: a port the host already uses is refused by name, and nothing is made", function()
  local before = links()
  local port = port_base + 4
  local listener = host_listener(port)
  local p, err = sbx.container{ rootfs = root, net = { publish = { ["127.0.0.1:" .. port] = 80 } } }:spawn{ "true" }
  expect(p).eq(nil)
  expect(err).contains("publish 127.0.0.1:" .. port .. "/tcp: the port is in use on the host")
  listener:kill("KILL"); listener:wait()
  nothing_left(before)
  expect_error(function() sbx.container{ net = { publish = { "80:abc" } } }:spawn{ "true" } end, "is not 1..65535")
  expect_error(function() sbx.container{ net = "bridge", die_with_parent = false } end, "sbx run %-d for a sandbox that outlives")
  expect_error(function() sbx.container{ net = { bridge = "a-name-far-too-long" } } end, "not an interface name")
  local q, err2 = sbx.container{ rootfs = root, net = { ip = "10.99.0.5" } }:spawn{ "true" }
  expect(q).eq(nil)
  expect(err2).contains("not a usable address of " .. SUBNET)
  nothing_left(before)
  -- a wanted address that is taken
  local a = assert(sbx.container{ rootfs = root, net = { ip = NET .. ".77" } }:spawn{ "sleep", "30" })
  expect(a.ip).eq(NET .. ".77")
  local b, err3 = sbx.container{ rootfs = root, net = { ip = NET .. ".77" } }:spawn{ "true" }
  expect(b).eq(nil)
  expect(err3).contains("already leased")
  a:kill("KILL"); a:wait()
  nothing_left(before)
end)

test("outbound NAT: a bridged sandbox reaches a network beyond the host, seen with the host's address", function()
  local before = links()
  -- "outside": a sandbox of the test's own, linked to the host by a veth (198.51.100.0/24, TEST-NET-2)
  local outside = assert(sbx.container{ rootfs = root }:spawn{ "sh", "-c", [[
mkdir -p /tmp/www/cgi-bin
printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n' > /tmp/www/cgi-bin/ip
chmod +x /tmp/www/cgi-bin/ip
exec httpd -f -p 9000 -h /tmp/www]] })
  assert(sbx.net.veth(0, "sbxt-out", outside, "eth0"))
  local ok, err = pcall(function()
    assert(sbx.net.address(0, "sbxt-out", "198.51.100.1/24"))
    assert(sbx.net.up(0, "sbxt-out"))
    assert(sbx.net.address(outside, "eth0", "198.51.100.2/24"))
    assert(sbx.net.up(outside, "eth0"))
    local client = sbx.container{ rootfs = root, net = "bridge" }
    local got
    for _ = 1, 20 do
      got = fetch(client, "http://198.51.100.2:9000/cgi-bin/ip")
      if got.code == 0 then break end
      os.execute("sleep 0.1")
    end
    expect(got.code, got.stderr).eq(0)
    expect(got.stdout, "the outside sees the host's address, not 10.88.x").match("^%[?[:f]*198%.51%.100%.1%]?\n$")
    local direct = sbx.container{ rootfs = root, net = { nat = false, bridge = "sbxt1", subnet = "10.89.0.0/24" } }
    -- without NAT the sandbox's own address would leave the host: 198.51.100.2 has no route back
    expect(fetch(direct, "http://198.51.100.2:9000/cgi-bin/ip").code).ne(0)
  end)
  sbx.net.delete(0, "sbxt-out")
  outside:kill("KILL"); outside:wait()
  assert(ok, err)
  nothing_left(before)
end)

test("leaks: 200 bridged sandboxes with a published port come and go; links, nft, leases and files as before", function()
  local before = links()
  local nft_before = run("nft list ruleset")
  local keep  -- a long-lived sandbox keeps the bridge for 19 cycles of 20; the 20th makes and removes it
  for i = 1, 200 do
    if i % 20 == 1 then keep = assert(sbx.container{ rootfs = root, net = "bridge" }:spawn{ "sleep", "60" }) end
    if i % 20 == 0 then keep:kill("KILL"); keep:wait() end
    local st = assert(sbx.container{ rootfs = root, net = { bridge = true, publish = { "0:80", "127.0.0.1:0:81/udp" } } }:run{ "true" })
    expect(st.code).eq(0)
  end
  nothing_left(before)
  expect(run("nft list ruleset")).eq(nft_before)
end)

test("named network namespaces: sbx.net.create is seen by ip netns; sbx joins it and one made by ip netns add", function()
  -- all of it in a private mount namespace: the host's /run/netns never gets a mount
  local script = [[
local path = assert(sbx.net.create("sbxtest-blue"))
assert(path == "/run/netns/sbxtest-blue", path)
local p = io.popen("ip netns list"); local list = p:read("*a"); p:close()
assert(list:find("sbxtest%-blue"), "ip netns list: " .. list)
assert(os.execute("ip netns exec sbxtest-blue ip link set lo up"))
local root = sbx.rootfs.busybox()
local st = sbx.container{ rootfs = root, netns = "sbxtest-blue" }:run{ "ip", "-o", "link", stdout = "pipe" }
assert(st.code == 0 and st.stdout:find("lo:.*UP"), "joined: " .. tostring(st.stdout))
assert(os.execute("ip netns add sbxtest-red"))
local st2 = sbx.container{ rootfs = root, netns = "sbxtest-red" }:run{ "ip", "-o", "link", stdout = "pipe" }
assert(st2.code == 0 and st2.stdout:find("lo:") and not st2.stdout:find("lo:.*UP"), "red: " .. tostring(st2.stdout))
local _, err = sbx.net.create("sbxtest-blue")
assert(err:find("exists"), err)
assert(sbx.net.destroy("sbxtest-blue"))
assert(os.execute("ip netns delete sbxtest-red"))
local _, err2 = sbx.container{ netns = "sbxtest-blue" }:spawn{ "true" }
assert(err2:find("No such file"), err2)
print("named-ok")
]]
  local path = os.tmpname()
  local f = assert(io.open(path, "w")); f:write(script); f:close()
  local out = run(("unshare -m --propagation private %s %s 2>&1"):format(bin, path))
  os.remove(path)
  expect(out).eq("named-ok\n")
  expect(run("ls /run/netns 2>/dev/null | grep sbxtest || true")).eq("")
end)

test("sbx gc: what a SIGKILLed supervisor left (veth, files, published port, bridge) is removed", function()
  local before = links()
  local out = run(bin .. " run --busybox -d -p 127.0.0.1:0:80 -- sleep 60")
  local sup = tonumber(out:match("supervisor pid (%d+)"))
  expect(out).match("address " .. NETP:gsub("%%%.0$", "") .. "%.%d+%.%d+, published 127%.0%.0%.1:%d+%->80/tcp")
  expect(links()).contains("sbx" .. sup .. "-")
  sbx.sys.kill(sup, 9)
  -- the supervisor is not our child: wait until it is gone (a zombie counts as gone)
  local removed = ""
  for _ = 1, 50 do
    removed = run(bin .. " gc")
    if removed:find("bridge sbx0") then break end
    os.execute("sleep 0.1")
  end
  expect(removed).contains("removed bridge sbx0")
  nothing_left(before)
end)

test("a root whose /etc/resolv.conf is a symlink keeps it (sbx never mounts on a symlink); hosts still bound", function()
  local dir = os.tmpname()
  os.remove(dir)
  run(("cp -a %s %s && chmod 755 %s && ln -sf ../run/resolv.conf %s/etc/resolv.conf"):format(root, dir, dir, dir))
  local st = sbx.container{ rootfs = dir, hostname = "linked", net = "bridge" }:run{ "sh", "-c",
    "readlink /etc/resolv.conf; grep linked /etc/hosts", stdout = "pipe", stderr = "pipe" }
  run("rm -rf " .. dir)
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout).match("^%.%./run/resolv%.conf\n" .. NETP:gsub("%%%.0$", "") .. "%.%d+%.%d+\tlinked\n$")
end)
