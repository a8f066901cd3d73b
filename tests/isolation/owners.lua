-- Identity, not pids (issue 11, items 1 and 5): what a killed sbx published never leads into the
-- next sandbox that gets its address, and `sbx gc` tells a dead owner from a recycled pid (a
-- process made with exactly the dead sbx's pid by clone3 set_tid).
local bin, probe = os.getenv("SBX_BIN"), os.getenv("SBX_PROBE")
if not bin or not probe then skip_all("needs SBX_BIN and SBX_PROBE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("host bridges, nftables and set_tid need root") end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end
if not io.popen("command -v curl"):read("*l") then skip_all("curl is missing") end

local function wait_for(cond, what)
  for _ = 1, 400 do
    if cond() then return true end
    sh("sleep 0.05")
  end
  expect(false, "timed out waiting for " .. what).truthy()
end
local function http(port)
  return (sh(("curl -s -o /dev/null -w '%%{http_code}' --max-time 2 http://127.0.0.1:%d/hostname"):format(port)))
end
local function port_in_nft(port)
  return (sh("nft list map ip sbx publish 2>/dev/null")):find(" " .. port .. " ", 1, true) ~= nil
end
-- starts `cmd` in the background (a shell job); returns sbx's pid
local function background(cmd)
  local pidfile = os.tmpname()
  sh(("(%s >/dev/null 2>&1 & echo $! > %s)"):format(cmd, pidfile))
  local pid = tonumber(io.open(pidfile):read("*l"))
  os.remove(pidfile)
  return pid
end
local function kill9(pid)
  sbx.sys.kill(pid, 9)
  -- gone, and reaped (a zombie still holds the pid; this VM's init reaps orphans late)
  wait_for(function() return io.open("/proc/" .. pid .. "/stat") == nil end, "pid " .. pid .. " to be reaped")
end

test("5: an owner record its writer was killed while writing (PID.tmp-WRITER) goes with sbx gc", function()
  -- a writer that is gone: a process started and reaped here
  local dead = background("true")
  wait_for(function() return io.open("/proc/" .. dead .. "/stat") == nil end, "pid " .. dead .. " to end")
  local dir = sbx.dirs().runtime .. "/owners"
  local half = ("%s/%d.tmp-%d"):format(dir, dead, dead)
  local live = ("%s/%d.tmp-%d"):format(dir, dead, sbx.sys.getpid())  -- its writer (this test) lives
  os.execute("mkdir -p " .. dir)
  assert(io.open(half, "w")):close()
  assert(io.open(live, "w")):close()
  local out, rc = sh(bin .. " gc")
  expect(rc, out).eq(0)
  expect(io.open(half) == nil, "the dead writer's half record is gone").truthy()
  expect(io.open(live) ~= nil, "a live writer's is kept").truthy()
  os.remove(live)
end)

test("1: a killed sbx's published port does not lead into the next sandbox given its address", function()
  local port, ip = 21500 + sbx.sys.getpid() % 400, sbx.net.subnet():match("^(%d+%.%d+)%.") .. ".77.2"
  local a = background(("%s run --rootfs %s --hostname first -p 127.0.0.1:%d:80 --ip %s -- httpd -f -p 80 -h /etc")
    :format(bin, rootfs, port, ip))
  wait_for(function() return http(port) == "200" end, "the first sandbox's page")
  kill9(a)
  -- a new sandbox asks for the same address and publishes nothing
  local name = "second-" .. sbx.sys.getpid()
  local out, rc = sh(("%s run --rootfs %s -d --name %s --hostname second --ip %s -- httpd -f -p 80 -h /etc"):format(bin, rootfs, name, ip))
  expect(rc, out).eq(0)
  expect(out).contains("address " .. ip)
  sh("sleep 0.2")
  expect(http(port), "the dead sandbox's port reaches the new one").eq("000")
  expect(port_in_nft(port)).falsy()
  sh(bin .. " stop -t 1 " .. name .. "; " .. bin .. " rm " .. name)
  sh(bin .. " gc")
  expect(port_in_nft(port)).falsy()
end)

test("1: sbx gc removes a killed sbx's published port even after its address was leased again", function()
  local port, ip = 21900 + sbx.sys.getpid() % 400, sbx.net.subnet():match("^(%d+%.%d+)%.") .. ".77.3"
  local a = background(("%s run --rootfs %s -p 127.0.0.1:%d:80 --ip %s -- httpd -f -p 80 -h /etc"):format(bin, rootfs, port, ip))
  wait_for(function() return http(port) == "200" end, "the page")
  kill9(a)
  -- the address is taken by hand (a lease of this test process) before gc runs
  local lease = assert(sbx.net.ipam.allocate(sbx.net.subnet(), nil, ip))
  expect(lease).eq(ip .. "/16")
  sh(bin .. " gc")
  expect(port_in_nft(port)).falsy()
  sbx.net.ipam.release(lease, sbx.net.subnet())
  sh(bin .. " gc")
end)

test("5: sbx gc after kill -9 removes everything even when the pid now belongs to another process", function()
  local port = 22300 + sbx.sys.getpid() % 400
  local img = "owners-" .. sbx.sys.getpid() .. ":1"
  local out, rc = sh(bin .. " image from-dir " .. rootfs .. " " .. img)
  expect(rc, out).eq(0)
  -- from Lua, an image box has its upper layer in the store's containers/PID-N
  local p = background(("%s -e 'sbx.container{ image = \"%s\", limits = { memory = \"16M\", pids = 32 }, net = { publish = { [\"127.0.0.1:%d\"] = 80 } } }:run{ \"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/etc\" }'")
    :format(bin, img, port))
  wait_for(function() return http(port) == "200" end, "the page")
  local store = sbx.image.store_dir()
  expect(sh("ls " .. store .. "/containers")).contains(p .. "-")
  kill9(p)
  -- an unrelated process with exactly that pid
  local got = sh(probe .. " pid-as " .. p .. " 30")
  expect(tonumber(got)).eq(p)
  local cg_before = sh("find /sys/fs/cgroup -maxdepth 3 -type d -name 'sbx-" .. p .. "-*'")
  expect(cg_before).ne("")
  local gc = sh(bin .. " gc")
  expect(gc).contains("removed")
  expect(sh("find /sys/fs/cgroup -maxdepth 3 -type d -name 'sbx-" .. p .. "-*'")).eq("")
  expect(sh("ip -o link show")).never_contains("sbx" .. p .. "-")
  expect(sh("ls " .. "/run/sbx/net" .. " 2>/dev/null")).never_contains("sbx" .. p .. "-")
  expect(sh("cat " .. "/run/sbx/net" .. "/ipam/*.leases 2>/dev/null")).never_contains(" " .. p)
  expect(sh("ls " .. store .. "/containers")).never_contains(p .. "-")
  expect(port_in_nft(port)).falsy()
  -- the process holding the pid was left alone
  expect(require("sbx.core").process_identity(p)).truthy()
  sbx.sys.kill(p, 9)
  sh(bin .. " image rm " .. img .. "; " .. bin .. " image prune")
end)
