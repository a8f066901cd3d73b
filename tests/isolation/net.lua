-- sbx.net over netlink, entirely inside network namespaces the test makes: a veth pair between
-- two sandboxes, IPv4 and IPv6 addresses, MTU, a route, and a ping across. The host's links are
-- never touched (the hygiene guard checks).
local root = sbx.rootfs.busybox()
local bin = os.getenv("SBX_BIN")
if not root or not bin then skip_all("needs the busybox rootfs and SBX_BIN (run through ctest)") end
if not io.open("/bin/busybox") then skip_all("/bin/busybox is missing") end


local function pair()
  local a = assert(sbx.container{ rootfs = root }:spawn{ "/bin/sleep", "30" })
  local b = assert(sbx.container{ rootfs = root }:spawn{ "/bin/sleep", "30" })
  return a, b
end

local function stop(...)
  for _, p in ipairs({ ... }) do p:kill("KILL"); p:wait() end
end

test("a veth pair between two sandboxes: addresses, up, MTU, ping both ways", function()
  local host_links = #assert(sbx.net.links(0))
  local a, b = pair()
  assert(sbx.net.veth(a, "eth0", b, "eth0"))
  assert(sbx.net.address(a, "eth0", "10.213.0.1/24"))
  assert(sbx.net.address(b, "eth0", "10.213.0.2/24"))
  assert(sbx.net.address(a, "eth0", "fd00:213::1/64"))
  assert(sbx.net.address(b, "eth0", "fd00:213::2/64"))
  assert(sbx.net.up(a, "eth0"))
  assert(sbx.net.up(b, "eth0"))
  assert(sbx.net.mtu(a, "eth0", 1400))
  local seen = {}
  for _, l in ipairs(assert(sbx.net.links(a))) do seen[l.name] = l end
  expect(seen.eth0.up).eq(true)
  expect(seen.eth0.mtu).eq(1400)
  expect(#assert(sbx.net.links(0)), "host links").eq(host_links)
  local out, rc = sh(bin .. " nsenter -t " .. a.pid .. " -n -- /bin/busybox ping -c 1 -W 3 10.213.0.2")
  expect(rc, "ping 10.213.0.2 from a: " .. out).eq(0)
  out, rc = sh(bin .. " nsenter -t " .. b.pid .. " -n -- /bin/busybox ping -c 1 -W 3 10.213.0.1")
  expect(rc, "ping 10.213.0.1 from b: " .. out).eq(0)
  -- IPv6 needs duplicate address detection to finish first: a few tries
  for _ = 1, 30 do
    out, rc = sh(bin .. " nsenter -t " .. a.pid .. " -n -- /bin/busybox ping -6 -c 1 -W 1 fd00:213::2")
    if rc == 0 then break end
    os.execute("sleep 0.2")
  end
  expect(rc, "ping6 fd00:213::2 from a: " .. out).eq(0)
  stop(a, b)
end)

test("routes, deleting a link, and errors that name the link", function()
  local a, b = pair()
  assert(sbx.net.veth(a, "v0", b, "v1"))
  assert(sbx.net.address(a, "v0", "10.214.0.1/24"))
  assert(sbx.net.up(a, "v0"))
  assert(sbx.net.route(a, "10.99.0.0/16", "10.214.0.2", "v0"))
  assert(sbx.net.route(a, "default", "10.214.0.254"))
  local out = sh(bin .. " nsenter -t " .. a.pid .. " -n -- /bin/busybox ip route")
  expect(out).contains("10.99.0.0/16 via 10.214.0.2 dev v0")
  expect(out).contains("default via 10.214.0.254 dev v0")
  local ok, err, errno = sbx.net.up(a, "nope0")
  expect(ok).eq(nil)
  expect(err).eq("set nope0 up: link nope0: No such device")
  expect(errno).eq(19)
  ok, err = sbx.net.address(a, "v0", "10.214.0.9")
  expect(ok).eq(nil)
  expect(err).contains("not an address with a prefix length")
  expect_error(function() sbx.net.veth(a, "", b, "x") end, "expected an interface name")
  ok, err = sbx.net.veth(a, "this-name-is-too-long", b, "x")
  expect(ok).eq(nil)
  expect(err).contains("bad interface name")
  assert(sbx.net.delete(a, "v0"))  -- deleting one end removes the pair
  local names = {}
  for _, l in ipairs(assert(sbx.net.links(b))) do names[#names + 1] = l.name end
  expect(table.concat(names, ",")).eq("lo")
  stop(a, b)
end)

test("net = { netns = sandbox }: a sandbox joins another's network namespace", function()
  local a, b = pair()
  assert(sbx.net.veth(a, "eth0", b, "eth0"))
  assert(sbx.net.address(a, "eth0", "10.215.0.1/24"))
  assert(sbx.net.address(b, "eth0", "10.215.0.2/24"))
  assert(sbx.net.up(a, "eth0"))
  assert(sbx.net.up(b, "eth0"))
  local joined = sbx.container{ rootfs = root, net = { netns = a } }
  expect(joined:spec().join[1].path).eq("/proc/" .. a.pid .. "/ns/net")
  -- (a raw ICMP socket there would need CAP_NET_RAW in a's user namespace: this checks the view)
  local st = assert(joined:run{ "/bin/sh", "-c", "ip -o addr show eth0 | grep -c 10.215.0.1; readlink /proc/self/ns/net",
    stdout = "pipe", stderr = "pipe" })
  expect(st.stdout, st.stderr).match("^1\n")
  expect(tonumber(st.stdout:match("%[(%d+)%]")), "the same network namespace as a").eq(sbx.ns.ids(a.pid).net)
  local by_pid = sbx.container{ rootfs = root, net = { netns = b.pid } }
  expect(assert(by_pid:run{ "/bin/sh", "-c", "ip -o addr show eth0 | grep -c 10.215.0.2", stdout = "pipe" }).stdout).eq("1\n")
  local bad = sbx.container{ rootfs = root, net = { netns = "/nonexistent/netns" } }
  local none, err = bad:run{ "/bin/true" }
  expect(none).eq(nil)
  expect(err).eq("join network namespace /nonexistent/netns: No such file or directory")
  expect_error(function() sbx.container{ net = { netns = {} } } end, "net.netns: expected")
  expect_error(function() sbx.container{ net = { netns = a, bridge = "x" } } end, "net: unknown key 'bridge'")
  expect_error(function() sbx.container{ net = { bridge = "x", bogus = 1 } } end, "net: unknown key 'bogus'")
  stop(a, b)
end)

test("IPAM: concurrent sbx processes never get the same address; leases of dead owners are reused", function()
  local subnet = "10.213.0.0/24"
  -- 8 processes at once, each taking 4 addresses and holding them until all have reported
  local r, w = assert(sbx.sys.pipe())
  local hold_r, hold_w = assert(sbx.sys.pipe())
  local kids = {}
  for i = 1, 8 do
    local pid = assert(sbx.sys.fork())
    if pid == 0 then
      sbx.sys.close(r)
      sbx.sys.close(hold_w)
      local got = {}
      for _ = 1, 4 do got[#got + 1] = assert(sbx.net.ipam.allocate(subnet)) end
      sbx.sys.write(w, table.concat(got, " ") .. "\n")
      sbx.sys.close(w)
      sbx.sys.read(hold_r)  -- EOF once the parent has read every line
      sbx.sys.exit(0)
    end
    kids[i] = pid
  end
  sbx.sys.close(w)
  sbx.sys.close(hold_r)
  local out = sbx.sys.read(r)  -- to EOF: every child has written and closed its end
  sbx.sys.close(hold_w)
  sbx.sys.close(r)
  for _, pid in ipairs(kids) do sbx.sys.waitpid(pid) end
  local seen, n = {}, 0
  for a in out:gmatch("%S+") do
    expect(seen[a], "address handed out twice: " .. a).eq(nil)
    expect(a).match("^10%.213%.0%.%d+/24$")
    expect(a ~= "10.213.0.1/24" and a ~= "10.213.0.0/24" and a ~= "10.213.0.255/24", "reserved address " .. a).truthy()
    seen[a] = true
    n = n + 1
  end
  expect(n).eq(32)
  -- the 8 owners are gone: their addresses are free again, the next one starts at .2
  expect(assert(sbx.net.ipam.allocate(subnet))).eq("10.213.0.2/24")
  expect(#assert(sbx.net.ipam.leases(subnet)), "only our own lease is left").eq(1)
  assert(sbx.net.ipam.release("10.213.0.2/24", subnet))
  expect(#assert(sbx.net.ipam.leases(subnet))).eq(0)
  local none, err = sbx.net.ipam.allocate("10.213.0.5/24")
  expect(none).eq(nil)
  expect(err).contains("host bits are set")
end)

test("a bridge inside a sandbox joins two others (host untouched)", function()
  local host_links = #assert(sbx.net.links(0))
  local hub, a = pair()
  local b = assert(sbx.container{ rootfs = root }:spawn{ "/bin/sleep", "30" })
  assert(sbx.net.bridge(hub, "br0"))
  assert(sbx.net.up(hub, "br0"))
  for i, p in ipairs({ a, b }) do
    assert(sbx.net.veth(hub, "port" .. i, p, "eth0"))
    assert(sbx.net.attach(hub, "port" .. i, "br0"))
    assert(sbx.net.up(hub, "port" .. i))
    assert(sbx.net.address(p, "eth0", "10.216.0." .. (i + 1) .. "/24"))
    assert(sbx.net.up(p, "eth0"))
  end
  local out, rc = sh(bin .. " nsenter -t " .. a.pid .. " -n -- /bin/busybox ping -c 1 -W 3 10.216.0.3")
  expect(rc, "a reaches b through the bridge: " .. out).eq(0)
  local ok, err = sbx.net.attach(hub, "port1", "nobr")
  expect(ok).eq(nil)
  expect(err).contains("link nobr: No such device")
  expect(#assert(sbx.net.links(0)), "host links").eq(host_links)
  stop(hub, a, b)
end)
