-- sbx.cgroup as Lua objects on this host's layout (v1, hybrid or v2), with real processes.
local probe = os.getenv("SBX_PROBE")
local bin = os.getenv("SBX_BIN")
local root = sbx.rootfs.busybox()
if not root or not probe or not bin then skip_all("needs the busybox rootfs, SBX_PROBE and SBX_BIN (run through ctest)") end
local layout = sbx.cgroup.layout()
local function need(controller)
  if layout.layout == "2" then
    for _, c in ipairs(layout.v2_controllers) do if c == controller then return end end
  elseif layout.v1[controller] then
    return
  end
  skip("no " .. controller .. " controller here (layout " .. layout.layout .. ")")
end
local function name() return "sbx-test-" .. sbx.sys.getpid() .. "-" .. math.random(1, 1e9) end
local function sleep(s) os.execute("sleep " .. s) end

-- A host process (in the host's namespaces) to put into groups: a busybox sandbox with
-- net/pid shared is overkill; sbx.sys.fork + exec of the probe is enough.
local function spawn_probe(...)
  local args = { probe, ... }
  local pid = assert(sbx.sys.fork())
  if pid == 0 then
    sbx.sys.exec(args)
    sbx.sys.exit(127)
  end
  return pid
end

test("create, raw files, membership, stat shape, remove", function()
  need("memory")
  local cg = assert(sbx.cgroup.create{ name = name(), limits = { memory = "48M", pids = 20 } })
  expect(tostring(cg)).match("^sbx.Cgroup%(/sbx%-test")
  local mem = layout.layout == "2" and "memory.max" or "memory.limit_in_bytes"
  expect(assert(cg:get(mem))).eq(tostring(48 * 1024 * 1024))
  assert(cg:set(mem, tostring(40 * 1024 * 1024)))
  expect(assert(cg:get(mem))).eq(tostring(40 * 1024 * 1024))
  expect(assert(cg:get("pids.max"))).eq("20")
  local pid = spawn_probe("sleep", "30")
  assert(cg:add(pid))
  local procs = assert(cg:procs())
  expect(#procs).eq(1)
  expect(procs[1]).eq(pid)
  local st = assert(cg:stat())
  expect(type(st.memory.current)).eq("number")  -- v1 does not move a task's charge with it
  expect(st.pids.current).eq(1)
  expect(type(st.cpu.usage_usec)).eq("number")
  expect(type(st.io.read_bytes)).eq("number")
  local ev = assert(cg:events())
  expect(ev.oom_kill).eq(0)
  local ok, err = cg:get("memory.no_such_file")
  expect(ok).eq(nil)
  expect(err).contains("No such file")
  expect_error(function() cg:get("../../etc/passwd") end, "expected a file name")
  assert(cg:remove())  -- kills the member first
  sbx.sys.waitpid(pid)
  expect(io.open(cg:dirs()[1] or "/nonexistent")).eq(nil)
  for _, d in ipairs(cg:dirs()) do expect(io.open(d), d).eq(nil) end
end)

test("cg:limit: limits in create's words on a live group, all or none", function()
  need("memory")
  need("pids")
  local cg = assert(sbx.cgroup.create{ name = name(), limits = { memory = "48M", pids = 20 } })
  local mem = layout.layout == "2" and "memory.max" or "memory.limit_in_bytes"
  local pid = spawn_probe("sleep", "30")
  assert(cg:add(pid))
  assert(cg:limit{ memory = "64M", pids = "max" })
  expect(assert(cg:get(mem))).eq(tostring(64 * 1024 * 1024))
  expect(assert(cg:get("pids.max"))).eq("max")
  -- a refused write puts back what was written before it
  local ok, err = cg:limit{ memory = "32M", pids = 10, cpuset = "4096" }
  expect(ok).eq(nil)
  expect(err).contains("cpuset")
  expect(assert(cg:get(mem))).eq(tostring(64 * 1024 * 1024))
  expect(assert(cg:get("pids.max"))).eq("max")
  expect_error(function() cg:limit{ memroy = "1M" } end, "cgroup:limit: unknown key 'memroy'")
  expect_error(function() cg:limit{ pids = -3 } end, "cgroup:limit.pids: expected a positive number")
  assert(cg:remove())
  sbx.sys.waitpid(pid)
end)

test("freeze stops a counting process, thaw resumes it", function()
  need(layout.layout == "2" and "cpu" or "freezer")
  local cg = assert(sbx.cgroup.create{ name = name() })
  local file = os.tmpname()
  local pid = spawn_probe("count", file)
  assert(cg:add(pid))
  local function value() local f = io.open(file); local v = f and tonumber(f:read("*a")); if f then f:close() end; return v or 0 end
  -- waits (up to 10 s: the v2 lane runs under emulation) until the counter passes n
  local function wait_past(n)
    for _ = 1, 200 do
      if value() > n then return value() end
      sleep(0.05)
    end
    return value()
  end
  expect(wait_past(3), "counting before the freeze").gt(3)
  assert(cg:freeze())
  local a = value()
  sleep(0.3)
  local b = value()
  expect(b, "counter while frozen").eq(a)
  assert(cg:thaw())
  expect(wait_past(b + 5), "counter after thaw").gt(b + 5)
  assert(cg:remove())
  sbx.sys.waitpid(pid)
  os.remove(file)
  os.remove(file .. ".tmp")
end)

test("kill leaves no process behind, even for a forking payload", function()
  need("pids")
  local box = sbx.container{ rootfs = root, limits = { pids = 500 }, ns = { "user", "mnt", "uts", "ipc", "net" },
                             mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
  -- no pid namespace: the init cannot take the others with it, only the cgroup can
  local p = assert(box:spawn{ "/bin/sh", "-c", "while :; do /tmp/probe forks 5 >/dev/null & sleep 0.01; done" })
  local cg = assert(sbx.cgroup.open(p.cgroup))
  for _ = 1, 100 do
    if #assert(cg:procs()) > 3 then break end
    sleep(0.05)
  end
  expect(#assert(cg:procs())).gt(3)
  assert(cg:kill())
  expect(#assert(cg:procs())).eq(0)
  local st = p:wait()
  expect(st.signal).eq(9)
end)

test("open finds an existing group; opened groups are never removed", function()
  need("memory")
  local made = assert(sbx.cgroup.create{ name = name() })
  local opened = assert(sbx.cgroup.open(made.path))
  expect(opened.path).eq(made.path)
  assert(opened:remove())  -- a no-op: it did not create it
  expect(io.open(made:dirs()[1] .. "/cgroup.procs"), "still there").ne(nil)
  local dir = made:dirs()[1]
  local by_dir = assert(sbx.cgroup.open(dir))
  expect(by_dir.path).eq(made.path)
  assert(made:remove())
  local none, err = sbx.cgroup.open("/sbx-no-such-group")
  expect(none).eq(nil)
  expect(err).contains("no such group")
end)

test("sbx gc removes the group a SIGKILLed sbx left behind", function()
  need("memory")
  assert(sbx.sys.subreaper(true))
  local pid = assert(sbx.sys.fork())
  if pid == 0 then
    sbx.sys.exec({ bin, "run", "--rootfs", root, "--memory", "64M", "--", "/bin/sleep", "100" })
    sbx.sys.exit(127)
  end
  local dir = (layout.layout == "2" and layout.v2_root or layout.v1.memory) .. "/sbx-" .. pid .. "-1"
  for _ = 1, 100 do
    if io.open(dir .. "/cgroup.procs") then break end
    sleep(0.05)
  end
  expect(io.open(dir .. "/cgroup.procs"), "the run's group " .. dir).ne(nil)
  sbx.sys.kill(pid, 9)
  sbx.sys.waitpid(pid)
  sleep(0.3)
  -- reap the orphaned init that came back to us
  local h = io.popen("cat /proc/" .. sbx.sys.getpid() .. "/task/*/children 2>/dev/null")
  for c in h:read("*a"):gmatch("%d+") do sbx.sys.waitpid(tonumber(c)) end
  h:close()
  sbx.sys.subreaper(false)
  expect(io.open(dir .. "/cgroup.procs"), "left behind by the killed sbx").ne(nil)
  local out = io.popen(bin .. " gc"):read("*a")
  expect(out).contains("/sbx-" .. pid .. "-1")
  expect(io.open(dir .. "/cgroup.procs"), "after sbx gc").eq(nil)
end)

test("sbx run --memory/--cpus/--pids: the limits are in the group's files", function()
  need("memory")
  local out = io.popen(bin .. " run --rootfs " .. root .. " --memory 4M --cpus 0.5 --pids 16 -- cat /proc/self/cgroup"):read("*a")
  local lines = 0
  for line in out:gmatch("[^\n]+") do
    lines = lines + 1
    expect(line:match(":/$"), "cgroup namespace rooted at the sandbox's group: " .. line).truthy()
  end
  expect(lines, "lines of /proc/self/cgroup").gt(0)
  -- the seeds' example: ping under a 4 MB limit, the limit visible in the group's file
  local box = sbx.container{ rootfs = root, limits = { memory = "4M" } }
  local p = assert(box:spawn{ "/bin/ping", "-c", "20", "-i", "0.2", "127.0.0.1", stdout = "null" })
  local cg = assert(sbx.cgroup.open(p.cgroup))
  local mem = layout.layout == "2" and "memory.max" or "memory.limit_in_bytes"
  expect(assert(cg:get(mem))).eq("4194304")
  p:kill("INT")
  expect(p:wait(), "ping ended").truthy()
  local done = assert(box:run{ "/bin/ping", "-c", "2", "-i", "0.2", "127.0.0.1", stdout = "pipe" })
  expect(done.code, "ping under a 4 MB limit").eq(0)
  expect(done.stdout).contains("2 packets received")
end)

test("the seeds' example: busybox ping under a 4 MB limit, detached, the limit in the group's file", function()
  need("memory")
  local out = io.popen(bin .. " run -d --rootfs " .. root .. " --memory 4M -- ping 127.0.0.1"):read("*a")
  local sup, cgpath = out:match("supervisor pid (%d+), sandbox pid %d+, cgroup (%S+)\n")
  expect(sup, "what -d printed: " .. out).truthy()
  local dir = (layout.layout == "2" and layout.v2_root or layout.v1.memory) .. cgpath
  local f = assert(io.open(dir .. (layout.layout == "2" and "/memory.max" or "/memory.limit_in_bytes")))
  expect(f:read("*l")).eq("4194304")
  f:close()
  local cg = assert(sbx.cgroup.open(cgpath))
  expect(#assert(cg:procs()), "ping and the init in the group").gt(0)
  sbx.sys.kill(tonumber(sup), 15)
  local gone = false
  for _ = 1, 100 do
    if not io.open(dir .. "/cgroup.procs") then gone = true break end
    sleep(0.05)
  end
  expect(gone, "group removed after the supervisor was told to stop").truthy()
  local name = out:match("in the background as (%S+):")
  expect((sh(bin .. " rm " .. name))).eq(name .. "\n")
end)

test("Ctrl-C in a real terminal (tmux) stops sbx run and removes its group", function()
  need("memory")
  if not io.popen("command -v tmux"):read("*l") then skip("tmux is not installed") end
  local session = "sbx-test-" .. sbx.sys.getpid()
  local marker = os.tmpname()
  os.execute(("tmux new-session -d -s %s -x 100 -y 20 \"%s run --rootfs %s --memory 64M -- sleep 100; echo rc=\\$? > %s\""):format(
    session, bin, root, marker))
  local dir
  for _ = 1, 100 do
    local h = io.popen("ls -d " .. (layout.layout == "2" and layout.v2_root or layout.v1.memory) .. "/sbx-* 2>/dev/null")
    dir = h:read("*l")
    h:close()
    if dir then break end
    sleep(0.05)
  end
  expect(dir, "the run's group").truthy()
  sleep(0.2)
  os.execute("tmux send-keys -t " .. session .. " C-c")
  local rc
  for _ = 1, 100 do
    local m = io.open(marker)
    rc = m and m:read("*a"):match("rc=(%d+)")
    if m then m:close() end
    if rc then break end
    sleep(0.05)
  end
  os.execute("tmux kill-session -t " .. session .. " 2>/dev/null")
  os.remove(marker)
  expect(rc, "sbx's exit status after Ctrl-C").eq("130")
  expect(io.open(dir .. "/cgroup.procs"), "group after Ctrl-C").eq(nil)
end)
