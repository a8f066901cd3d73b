-- Limits are enforced by the kernel, not just written: OOM kill, pids.max, CPU quota, freezer.
local probe = os.getenv("SBX_PROBE")
local root, rerr = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs: " .. tostring(rerr)) end
if not probe then skip_all("SBX_PROBE is not set (run through ctest)") end
local f = sbx.features()
local function need(controller)
  for _, c in ipairs(f.cgroup_controllers) do if c == controller then return end end
  skip("the " .. controller .. " controller is not available (cgroup layout " .. tostring(f.cgroup) .. ")")
end

local function box(limits, extra)
  local d = { rootfs = root, limits = limits, mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
  for k, v in pairs(extra or {}) do d[k] = v end
  return sbx.container(d)
end

test("memory: a hog under 32M is OOM-killed; sbx survives and reports it", function()
  need("memory")
  local st = assert(box{ memory = "32M" }:run{ "/tmp/probe", "hog", "256", stdout = "pipe", timeout = 60 })
  expect(st.signal, "the hog's end (stdout tail: " .. st.stdout:sub(-20) .. ")").eq(9)
  expect(st.oom_killed, "oom-kill event").eq(true)
  expect(st.events.oom_kill).gt(0)
  local last = tonumber(st.stdout:match("(%d+)\n$"))
  expect(last, "MiB touched before the kill").lt(40)
  expect(st.stats.memory.peak, "peak memory").lt(33 * 1024 * 1024 + 1)
end)

test("pids: a fork bomb under pids=32 stops at the limit; the host can still fork", function()
  need("pids")
  local st = assert(box{ pids = 32 }:run{ "/tmp/probe", "forks", "200", stdout = "pipe", timeout = 60 })
  expect(st.code).eq(0)
  local forked = tonumber(st.stdout)
  expect(forked, "forks that succeeded").lt(32)
  expect(forked, "forks that succeeded").gt(10)
  expect(st.events.pids_max, "pids.max events").gt(0)
  local h = assert(io.popen("echo host-forks"))
  expect(h:read("*a")).eq("host-forks\n")
  h:close()
end)

test("cpu: a spinner under cpu=0.25 gets about a quarter of a core", function()
  need("cpu")
  local st = assert(box{ cpu = 0.25 }:run{ "/tmp/probe", "spin", "2", stdout = "pipe", timeout = 60 })
  expect(st.code).eq(0)
  local used = tonumber(st.stdout)
  expect(used, "CPU seconds in 2 s of wall time").lt(0.8)
  expect(used, "CPU seconds in 2 s of wall time").gt(0.2)
  local usec = st.stats.cpu.usage_usec
  expect(usec / 1e6, "cgroup cpu usage (s)").lt(0.9)
end)

test("bad limits raise, naming the field", function()
  local ok, err = pcall(sbx.container, { limits = { cpu = -1 } })
  expect(ok).eq(false)
  expect(err).contains("limits.cpu: expected a positive number")
  expect_error(function() sbx.container{ limits = { memroy = "1M" } } end, "limits: unknown key 'memroy'")
  expect_error(function() sbx.container{ limits = { memory = "lots" } } end, "limits.memory: bad size")
  expect_error(function() sbx.container{ limits = { memory_swap = "1M" } } end, "memory_swap: needs memory too")
end)

test("the sandbox's group exists while it runs and is gone after, on success and on setup failure", function()
  need("memory")
  local b = box{ memory = "64M" }
  local p = assert(b:spawn{ "/bin/sleep", "30" })
  local path = p.cgroup
  expect(path, "cgroup path").match("^/sbx%-%d+%-%d+$")
  local dir = "/sys/fs/cgroup/" .. (f.cgroup == 2 and "" or "memory") .. path
  local limit = assert(io.open(dir .. (f.cgroup == 2 and "/memory.max" or "/memory.limit_in_bytes"))):read("*l")
  expect(tonumber(limit)).eq(64 * 1024 * 1024)
  p:kill("KILL")
  p:wait()
  expect(io.open(dir), "group removed after the sandbox ended").eq(nil)
  local bad = box({ memory = "64M" }, { mounts = { sbx.bind("/nonexistent-sbx", "/x") } })
  local st, err = bad:run{ "/bin/true" }
  expect(st).eq(nil)
  expect(err).contains("bind /nonexistent-sbx on /x")
  local h = io.popen("ls /sys/fs/cgroup/" .. (f.cgroup == 2 and "" or "memory") .. " | grep -c '^sbx-" .. sbx.sys.getpid() .. "-'")
  local n = tonumber(h:read("*a"))
  h:close()
  expect(n, "groups of this process left").eq(0)
end)

test("devices: the allowed nodes open, another is EPERM (v1: the devices files; v2: an eBPF program)", function()
  if f.cgroup ~= 2 then need("devices") end  -- (v2 has no devices controller: a program does it)
  local function sh_in(limits, script)
    local st = assert(box{ devices = limits }:run{ "/bin/sh", "-c", script, stdout = "pipe" })
    return st.stdout
  end
  -- only null and zero: both read and write; urandom, random and full exist in its /dev and are refused
  local out = sh_in({ "c 1:3 rwm", "c 1:5 rwm" },
    "echo x > /dev/null && head -c3 /dev/zero | wc -c && echo null-zero-ok; " ..
    "for d in urandom random full; do head -c1 /dev/$d >/dev/null 2>/tmp/err; echo $d=$? $(cat /tmp/err); done")
  expect(out).contains("3\nnull-zero-ok\n")
  expect(out).contains("urandom=1 head: /dev/urandom: Operation not permitted\n")
  expect(out).contains("random=1 head: /dev/random: Operation not permitted\n")
  expect(out).contains("full=1 head: /dev/full: Operation not permitted\n")
  -- in order: a later rule takes back part of an earlier one (urandom read-only), and "a" allows everything
  out = sh_in({ "c 1:3 rwm", "c 1:9 rwm", "deny c 1:9 w" },
    "head -c1 /dev/urandom | wc -c; (echo x > /dev/urandom) 2>&1; echo write=$?")
  expect(out).match("^1\n.*/dev/urandom: Operation not permitted\nwrite=1\n$")
  out = sh_in({ "a", "deny c 1:8 rwm" }, "head -c1 /dev/urandom | wc -c; head -c1 /dev/random 2>&1")
  expect(out).eq("1\nhead: /dev/random: Operation not permitted\n")
  expect(sh_in("default", "head -c1 /dev/urandom | wc -c")).eq("1\n")
  -- a rule that would punch a hole in a wildcard one is refused before anything runs
  expect_error(function() box{ devices = { "c 1:* rwm", "deny c 1:9 w" } } end, "takes back part of the earlier rule 'c 1:%* rwm'")
  expect_error(function() box{ devices = { "c 1:3 rwx" } } end, "device rule 'c 1:3 rwx': access 'rwx'")
end)

test("io: per-device limits land in the group's files", function()
  local h = io.popen("awk '$2 == \"/\" { print $1 }' /proc/self/mounts")
  local dev = h:read("*l")
  h:close()
  if not dev or not dev:match("^/dev/") then skip("the root filesystem is not on a block device here") end
  need(f.cgroup == 2 and "io" or "blkio")
  local p = assert(box{ io = { { device = dev, read_bps = "10M", write_iops = 100 } } }:spawn{ "/bin/sleep", "10" })
  local cg = assert(sbx.cgroup.open(p.cgroup))
  if f.cgroup == 2 then
    expect(assert(cg:get("io.max"))).contains("rbps=10485760")
  else
    expect(assert(cg:get("blkio.throttle.read_bps_device"))).match(":%d+ 10485760$")
    expect(assert(cg:get("blkio.throttle.write_iops_device"))).match(":%d+ 100$")
  end
  p:kill("KILL")
  p:wait()
end)

test("io weights: the group's share (BFQ's weight, or v2's io.weight) and one device's, on a loop device set to bfq", function()
  need(f.cgroup == 2 and "io" or "blkio")
  local p = assert(box{ io_weight = 300 }:spawn{ "/bin/sleep", "10" })
  local cg = assert(sbx.cgroup.open(p.cgroup))
  local bfq, iocost = cg:get(f.cgroup == 2 and "io.bfq.weight" or "blkio.bfq.weight"), cg:get("io.weight")
  p:kill("KILL")
  p:wait()
  if bfq then
    expect(bfq).match("300")
  elseif f.cgroup == 2 and iocost then
    -- 1 + (300 - 10) * 9999 / 990 = 2929, which iocost keeps in its own units (reads back 2929 or 2930)
    local w = tonumber(iocost:match("default (%d+)"))
    expect(w and math.abs(w - 2929) <= 1, "io.weight: " .. iocost).eq(true)
  end
  expect_error(function() box{ io_weight = 5 } end, "limit io_weight: expected 10..1000, got 5")
  expect_error(function() box{ io = { { device = "/dev/null", weight = 200 } } } end, "device")
  -- a device's own weight needs the device on the bfq scheduler: a loop device of the test's own
  local img = os.tmpname()
  local out, rc = sh("truncate -s 8M " .. img .. " && losetup --find --show " .. img)
  local dev = rc == 0 and out:match("^(/dev/loop%d+)\n$")
  if not dev then os.remove(img); skip("no loop device here: " .. out) end
  local ok, err = pcall(function()
    local _, brc = sh("echo bfq > /sys/block/" .. dev:match("loop%d+") .. "/queue/scheduler")
    if brc ~= 0 then skip("the bfq io scheduler is not available for " .. dev) end
    local q = assert(box{ io = { { device = dev, weight = 200, read_bps = "1M" } } }:spawn{ "/bin/sleep", "10" })
    local qg = assert(sbx.cgroup.open(q.cgroup))
    local text = qg:get(f.cgroup == 2 and "io.bfq.weight" or "blkio.bfq.weight_device")
    local throttle = qg:get(f.cgroup == 2 and "io.max" or "blkio.throttle.read_bps_device")
    q:kill("KILL")
    q:wait()
    expect(text).match("%d+:%d+ 200")
    expect(throttle).match("1048576")
  end)
  sh("losetup -d " .. dev)
  os.remove(img)
  if not ok then error(err, 0) end
end)

test("hugetlb: a limit per page size (hugetlb.2MB.max / limit_in_bytes); a hybrid host's unified-only controller is an error", function()
  expect_error(function() box{ hugetlb = { { size = "2XB", limit = "4M" } } } end, "page size '2XB' is not like 2MB")
  local v1 = false
  for _, c in ipairs(f.cgroup_controllers) do if c == "hugetlb" then v1 = true end end
  if f.cgroup ~= 2 and not v1 then
    local st, err = pcall(box, { hugetlb = { { size = "2MB", limit = "4M" } } })
    expect(st).eq(false)
    expect(tostring(err)).contains("hugetlb controller only in its unified hierarchy")
    return
  end
  local p = assert(box{ hugetlb = { { size = "2MB", limit = "4M" } } }:spawn{ "/bin/sleep", "10" })
  local cg = assert(sbx.cgroup.open(p.cgroup))
  local v = cg:get(f.cgroup == 2 and "hugetlb.2MB.max" or "hugetlb.2MB.limit_in_bytes")
  p:kill("KILL")
  p:wait()
  expect(v).eq("4194304")
end)
