-- The limit-policy recipes end to end (issue 15): recipes/grow-memory.lua, recipes/forkbomb.lua and
-- recipes/freeze-hog.lua, run as a user runs them. On cgroup v1 here and v2 in tests/v2/run.sh.
local bin, src = os.getenv("SBX_BIN"), os.getenv("SBX_SOURCE")
if not bin or not src then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local f = sbx.features()
local function need(controller)
  for _, c in ipairs(f.cgroup_controllers) do if c == controller then return end end
  skip("the " .. controller .. " controller is not available (cgroup layout " .. tostring(f.cgroup) .. ")")
end

-- freezing: cgroup v2 has it in every group (cgroup.freeze), v1 needs the freezer controller
local function need_freezer()
  if f.cgroup ~= 2 and f.cgroup ~= "2" then need("freezer") end
end

local function recipe(name, args)
  local out, rc = sh(("%s %s/recipes/%s %s"):format(bin, src, name, args or ""))
  return out, rc
end

test("grow-memory: the limit grows in steps while needed; at the ceiling it is killed and its processes shown", function()
  need("memory")
  local out, rc = recipe("grow-memory.lua", "--start 32M --step 16M --ceiling 64M")
  expect(rc, out).eq(1)
  expect(out).contains("grew to 48M")
  expect(out).contains("grew to 64M")
  expect(out).contains("ceiling 64M reached: killed")
  expect(out).contains("awk")
  expect(out, "no step beyond the ceiling").never_contains("grew to 80M")
  out, rc = recipe("grow-memory.lua", "--start 32M --step 32M --ceiling 512M")
  expect(rc, out).eq(0)
  expect(out).contains("held 100000 strings")
  expect(out).contains("it ended by itself with code 0")
  out, rc = recipe("grow-memory.lua", "--start 64M --ceiling 32M")
  expect(rc).eq(2)
  expect(out).contains("--start is above --ceiling")
end)

test("forkbomb: stopped at its first pids.max hit, the tree that caused it printed", function()
  need("pids")
  need_freezer()
  local t0 = sbx.sys and require("sbx.core").monotonic()
  local out, rc = recipe("forkbomb.lua", "--pids 24")
  expect(rc, out).eq(1)
  expect(require("sbx.core").monotonic() - t0, "seconds (the bomb's own sleep is 30)").lt(20)
  expect(out).contains("started under pids.max 24")
  expect(out).match("pids%.max hit %(%d+ refused forks so far%): stopped; its %d+ processes:")
  expect(out).contains("sbx-init")
  out = recipe("forkbomb.lua", "--pids 16 -- /bin/true")
  expect(out).contains("it ended by itself (code 0) without reaching pids.max")
end)

test("freeze-hog: frozen while the host's cpu pressure is high, thawed after each pause", function()
  need_freezer()
  local h = io.open("/proc/pressure/cpu")
  if not h then skip("the kernel has no PSI (/proc/pressure): boot with psi=1") end
  h:close()
  local out, rc = recipe("freeze-hog.lua", "--duration 7 --pause 1")
  expect(rc, out).eq(0)
  expect(out).contains("the host's cpu pressure is high: frozen")
  expect(out).contains("thawed")
  local times = tonumber(out:match("frozen (%d+) times"))
  expect(times, out).gt(0)
  if not has_cap(24) then
    out, rc = recipe("freeze-hog.lua", "--trigger 'some 150ms/1s' --duration 1")
    expect(rc).eq(1)
    expect(out).contains("multiples of 2 s")
  end
end)

test("audit-files: every open and exec of a command, read or written, counted per path", function()
  local log = os.tmpname()
  local out, rc = recipe("audit-files.lua", "--log " .. log)
  expect(rc, out).eq(0)
  expect(out).contains("write+create /tmp/main.c")
  expect(out).contains("read /tmp/main.c")
  expect(out).contains("read /etc")
  expect(out).match("exec %S+")
  local lines = assert(io.open(log)):read("*a")
  os.remove(log)
  expect(lines).match("%d+ write%+create /tmp/main%.o\n")
end)

test("connect-only: one destination allowed, the rest refused with ECONNREFUSED and logged with counts", function()
  local out, rc = recipe("connect-only.lua")
  expect(rc, out).eq(0)
  expect(out).contains("connect-only: refused inet 10.9.8.7:80")
  expect(out).contains("   2  inet 10.9.8.7:80")
  expect(out, "the allowed destination reached the kernel (nothing listens there)").contains("(127.0.0.1): Connection refused")
  expect(out, "refused by the handler, not the network").never_contains("Network is unreachable")
end)

test("secrets-ro: /secrets opens read-only and only for the named program; writes and others refused", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh("mkdir -m 0755 " .. dir .. " && echo topsecret > " .. dir .. "/key"))
  local out, rc = recipe("secrets-ro.lua", "--secrets " .. dir)
  expect(out).contains("topsecret")
  expect(out).contains("refused /secrets/new")
  expect(out).contains("not read-only")
  expect(rc, out).eq(1)
  local new = io.open(dir .. "/new")
  expect(new, "a file written through the bind").eq(nil)
  local probe = os.getenv("SBX_PROBE")
  if probe then
    out = recipe("secrets-ro.lua", ("--secrets %s --program /tmp/probe --bind %s:/tmp/probe -- /bin/sh -c 'cat /secrets/key; /tmp/probe open /secrets/key; /tmp/probe read /secrets/key'"):format(dir, probe))
    expect(out, "busybox cat is not the named program").contains("refused /secrets/key")
    expect(out).contains("not /tmp/probe")
    expect(out, "the probe's O_RDWR open").contains("not read-only")
    local count = select(2, out:gsub("topsecret", ""))
    expect(count, "read once: by the named program, read-only:\n" .. out).eq(1)
  end
  sh("rm -rf " .. dir)
end)
