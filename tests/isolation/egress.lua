-- Network egress by allow-list (issue 16, part 3), entirely on this machine: web servers in
-- sandboxes of the test's own on the sbx0 bridge stand in for the outside, and a DNS stand-in on the
-- host's loopback (answered from this test's own event loop) for the resolver. The sandbox's rules
-- are nftables in its own network namespace; names go through sbx's responder on 127.0.0.53.
local bin = os.getenv("SBX_BIN")
if not bin or not os.getenv("SBX_SOURCE") then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if not io.popen("command -v bash"):read("*l") then skip_all("bash is not installed") end
local root = sbx.rootfs.busybox()
if not root then skip_all("needs the busybox rootfs") end
local N = require("sbx.core").net
if not N.nft_in then skip_all("this build has no nftables") end

-- two web servers: X (reached by name) and Y (never allowed)
local outside = dofile(os.getenv("SBX_SOURCE") .. "/tests/isolation/lib/outside.lua")
local X, Y = outside.web("hello-x"), outside.web("hello-y")

-- the DNS stand-in: every name under .test is X, but other.test is Y
local dns = outside.serve(function(name)
  return name == "other.test" and Y or X
end)
local dns_port, asked = dns.port, dns.asked

test("allowed names and addresses reachable; other names NXDOMAIN; direct IPs, other ports and raw DNS refused and counted", function()
  expect(dns_port, "the stand-in's port").type("number")
  local denied = {}
  local box = sbx.container{ net = { bridge = true, egress = { "web.test:80", "*.pkg.test" }, dns = "127.0.0.1:" .. dns_port },
    on = { egress_denied = function(ev) denied[#denied + 1] = ev.name or ("%s %s/%s"):format(ev.address, ev.proto, ev.port) end } }
  local st = assert(box:run{ "/bin/bash", "-c", table.concat({
    "cat /etc/resolv.conf",
    "wget -q -T 3 -O- http://web.test/; echo name=$?",
    "getent hosts other.test; echo other=$?",
    ("exec 3<>/dev/tcp/%s/80; echo direct=$?"):format(Y),
    "exec 3<>/dev/tcp/web.test/81; echo other-port=$?",
    "echo q > /dev/udp/9.9.9.9/53; echo raw-dns=$?",
    -- (last: a name without a port allows its addresses on every port, X's 81 too)
    "wget -q -T 3 -O- http://files.pkg.test/; echo wildcard=$?",
  }, "; "), stdout = "pipe", stderr = "pipe", timeout = 30 })
  local out, err = st.stdout, st.stderr
  expect(st.code, err).eq(0)
  expect(out).contains("nameserver " .. require("sbx.egress").resolver .. "\n")
  expect(out, "an allowed name").contains("hello-x\nname=0\n")
  expect(out, "a wildcard").contains("hello-x\nwildcard=0\n")
  expect(out, "a name not allowed: NXDOMAIN").contains("other=2\n")
  expect(out, "an address never allowed").contains("direct=1\n")
  expect(out, "an allowed name's other port").contains("other-port=1\n")
  expect(out, "DNS to a raw IP").contains("raw-dns=1\n")
  expect(err).contains("Connection refused")
  expect(err).contains("Operation not permitted")
  local seen = table.concat(denied, ",")
  expect(seen).contains("other.test")
  expect(seen).contains(Y .. " tcp/80")
  expect(seen).contains(X .. " tcp/81")
  expect(seen).contains("9.9.9.9 udp/53")
  local names = table.concat(asked, ",")
  expect(names, "only allowed names reach the resolver").never_contains("other.test")
end)

test("IPv6 the same: an allowed prefix goes out, the rest is refused", function()
  local box = sbx.container{ net = { bridge = true, egress = { "[fd00:5b::/64]:443" }, dns = "127.0.0.1:" .. dns_port },
    hooks = { created = function(p) assert(sbx.net.address(p.pid, "eth0", "fd00:5b::2/64")) end } }
  local st = assert(box:run{ "/bin/bash", "-c", "sleep 1; timeout 2 bash -c 'exec 3<>/dev/tcp/fd00:5b::9/443'; echo allowed=$?; exec 3<>/dev/tcp/fd00:5b::9/80; echo refused=$?", stdout = "pipe", stderr = "pipe", timeout = 20 })
  expect(st.stdout, st.stderr).contains("refused=1\n")
  expect(st.stdout, "an allowed destination nobody answers: the connect waits").never_contains("allowed=1\n")
  expect(st.stderr).contains("Connection refused")
end)

test("sbx run --allow: the same from the command line; bad entries are errors that name them", function()
  local p = io.popen(("%s run --allow %s:80 -- sh -c 'wget -q -T 3 -O- http://%s/; wget -q -T 2 -O- http://%s/ >/dev/null; echo done' 2>&1"):format(bin, X, X, Y))
  local out = p:read("*a")
  p:close()
  expect(out).contains("hello-x\n")
  expect(out).contains("done\n")
  expect(out, "the refused destination, counted").contains("sbx: egress refused: " .. Y .. " tcp/80 (")
  for _, bad in ipairs({ "10.0.0.300", "10.0.0.0/40", "web.test:99999", "[fd00::1", "a..b" }) do
    expect_error(function() sbx.container{ net = { bridge = true, egress = { bad } } } end, "net%.egress%[1%]")
  end
  expect_error(function() sbx.container{ net = { bridge = true, dns = "1.1.1.1" } } end, "net%.dns: the upstream resolver of net%.egress")
  expect_error(function() sbx.container{ cap_add = { "NET_ADMIN" }, net = { bridge = true, egress = { "10.0.0.1" } } } end, "could rewrite its own allow%-list")
  expect_error(function() sbx.container{ privileged = true, net = { bridge = true, egress = { "10.0.0.1" } } } end, "could rewrite its own allow%-list")
end)

test("cleanup", function()
  dns:close()
  outside.stop_web()
end)
