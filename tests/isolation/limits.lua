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
