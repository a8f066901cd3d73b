-- What must not leak: sbx's fds, zombies, the sandbox after its supervisor died.
local probe = os.getenv("SBX_PROBE")
local sbx_bin = os.getenv("SBX_BIN")
local root, rerr = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs: " .. tostring(rerr)) end
if not probe or not sbx_bin then skip_all("SBX_PROBE/SBX_BIN are not set (run through ctest)") end

local function box(extra)
  local d = { rootfs = root, mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
  for k, v in pairs(extra or {}) do d[k] = v end
  return sbx.container(d)
end

local function state_of(pid)
  local f = io.open(("/proc/%d/stat"):format(pid))
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s:match("%) (%a)")
end

test("fds: only 0, 1 and 2 reach the payload, even when sbx holds others", function()
  local held = assert(io.open("/proc/self/status"))  -- an fd without CLOEXEC in sbx
  local st = assert(box():run{ "/tmp/probe", "fds", stdout = "pipe" })
  held:close()
  expect(st.code).eq(0)
  local fds = {}
  for n in st.stdout:gmatch("(%d+) ") do fds[#fds + 1] = tonumber(n) end
  table.sort(fds)
  expect(table.concat(fds, ","), "open fds inside:\n" .. st.stdout).eq("0,1,2")
end)

test("fds: the init holds nothing of sbx either", function()
  local b = box()
  local p = assert(b:spawn{ "/tmp/probe", "hold", stdout = "pipe" })
  local out = assert(b:run{ "/bin/sh", "-c", "true", stdout = "pipe" })
  expect(out.code).eq(0)
  -- the init is p.pid on the host; its fds as the host sees them
  local h = assert(io.popen("ls /proc/" .. p.pid .. "/fd"))
  local list = h:read("*a")
  h:close()
  p:kill("KILL")
  p:wait()
  local n = 0
  for _ in list:gmatch("%d+") do n = n + 1 end
  expect(n, "fds of the init: " .. list:gsub("\n", " ")).lt(2)
end)

test("init: orphans are reaped (no zombies inside)", function()
  local st = assert(box():run{ "/tmp/probe", "orphans", "8", stdout = "pipe", timeout = 30 })
  expect(st.code).eq(0)
  expect(tonumber(st.stdout), "zombies left").eq(0)
end)

-- The processes on the host whose command line is exactly `words` (NUL-separated).
local function processes_running(words)
  local found = {}
  local h = assert(io.popen("ls /proc"))
  for pid in h:read("*a"):gmatch("%d+") do
    local f = io.open("/proc/" .. pid .. "/cmdline")
    local cmd = f and f:read("*a")
    if f then f:close() end
    if cmd == table.concat(words, "\0") .. "\0" and state_of(tonumber(pid)) ~= "Z" then
      found[#found + 1] = pid
    end
  end
  h:close()
  return found
end

test("init: what the payload left running has ended when run returns; its init is reaped later", function()
  local b = box()
  -- run returns on the init's word, before the init's own exit: by then the rest must be gone
  local st = assert(b:run{ "/bin/sh", "-c", "sleep 31.25 & sleep 31.5 & exit 4" })
  expect(st.code).eq(4)
  expect(#processes_running{ "sleep", "31.25" } + #processes_running{ "sleep", "31.5" },
    "background processes of the payload alive after run returned").eq(0)
  -- the inits that told their status are reaped by the next start: no zombies pile up
  for _ = 1, 3 do assert(b:run{ "/bin/true" }) end
  local zombies = 0
  local h = assert(io.popen("cat /proc/" .. sbx.sys.getpid() .. "/task/*/children"))
  local children = h:read("*a")
  h:close()  -- (the popen's own shell is a zombie until then)
  for c in children:gmatch("%d+") do
    if state_of(tonumber(c)) == "Z" then zombies = zombies + 1 end
  end
  expect(zombies, "inits of ended sandboxes not yet reaped").lt(2)
end)

test("init: exit codes and signals of the payload come back exactly", function()
  local b = box()
  local st = assert(b:run{ "/bin/sh", "-c", "exit 7" })
  expect(st.code).eq(7)
  expect(st.status).eq(7)
  st = assert(b:run{ "/bin/sh", "-c", "kill -9 $$" })
  expect(st.signal, "signal").eq(9)
  expect(st.status).eq(137)
  expect(st.ok).falsy()
end)

test("init: a TERM sent to the sandbox reaches the payload", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 0777 " .. dir) == 0)
  local b = box{ mounts = { sbx.ro_bind(probe, "/tmp/probe"), sbx.bind(dir, "/tmp/out") } }
  local p = assert(b:spawn{ "/bin/sh", "-c", "trap 'echo got-term; exit 3' TERM; touch /tmp/out/ready; while :; do sleep 0.05; done", stdout = "pipe" })
  for _ = 1, 200 do  -- the trap is set once the marker exists
    if io.open(dir .. "/ready") then break end
    os.execute("sleep 0.02")
  end
  p:kill("TERM")
  local out = p:read("stdout")
  local st = p:wait()
  os.execute("rm -rf " .. dir)
  expect(out).contains("got-term")
  expect(st.code).eq(3)
end)

test("die with supervisor: SIGKILL of sbx ends the whole sandbox", function()
  -- The orphaned init comes back to us (not to the host's PID 1) so that we can reap it.
  assert(sbx.sys.subreaper(true))
  local pid = assert(sbx.sys.fork())
  if pid == 0 then
    sbx.sys.exec({ sbx_bin, "run", "--rootfs", root, "--", "/bin/sleep", "100" })
    sbx.sys.exit(127)
  end
  -- find the init (child of the supervisor) and the payload (child of the init)
  local function children(p)
    local f = io.open(("/proc/%d/task/%d/children"):format(p, p))
    if not f then return {} end
    local out = {}
    for c in f:read("*a"):gmatch("%d+") do out[#out + 1] = tonumber(c) end
    f:close()
    return out
  end
  local init, payload
  for _ = 1, 100 do
    init = children(pid)[1]
    payload = init and children(init)[1]
    if payload then break end
    os.execute("sleep 0.05")
  end
  expect(payload, "sandbox started").truthy()
  sbx.sys.kill(pid, 9)
  sbx.sys.waitpid(pid)
  local gone = false
  for _ = 1, 100 do
    local a, b = state_of(init), state_of(payload)
    if (a == nil or a == "Z") and (b == nil or b == "Z") then gone = true break end
    os.execute("sleep 0.05")
  end
  if state_of(init) == "Z" then sbx.sys.waitpid(init) end
  sbx.sys.subreaper(false)
  expect(gone, "init and payload gone after the supervisor was killed").truthy()
end)

test("setup failure: the step, object and cause reach the caller; nothing is left", function()
  local b = box{ mounts = { sbx.bind("/nonexistent-sbx-src", "/data") } }
  local st, err, errno = b:run{ "/bin/true" }
  expect(st).eq(nil)
  expect(err).eq("bind /nonexistent-sbx-src on /data: No such file or directory")
  expect(errno).eq(2)
  local st2, err2 = box():run{ "/no/such/program" }
  expect(st2).eq(nil)
  expect(err2).match("^exec /no/such/program: No such file or directory")
end)

test("mount points missing from a read-only rootfs: made in a scratch layer, rootfs untouched", function()
  local b = box{ mounts = { sbx.ro_bind(probe, "/tmp/probe"), sbx.tmpfs("/scratch-sbx-test"),
                            sbx.ro_bind("/etc/hostname", "/deep/er/hostname") } }
  local st = assert(b:run{ "/bin/sh", "-c", "test -d /scratch-sbx-test && cat /deep/er/hostname && touch /x", stdout = "pipe", stderr = "pipe" })
  expect(st.stdout).eq(assert(io.open("/etc/hostname")):read("*a"))
  expect(st.stderr, "the root stays read-only").contains("Read-only file system")
  expect(io.open(root .. "/scratch-sbx-test"), "mount point left in the rootfs").eq(nil)
  expect(io.open(root .. "/deep"), "directory left in the rootfs").eq(nil)
end)

test("init: /proc/1/cmdline is sbx-init, not the supervisor's command line", function()
  local st = assert(box():run{ "/bin/sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline", stdout = "pipe" })
  expect(st.stdout:match("^sbx%-init%s*$"), "cmdline of the init: " .. st.stdout).truthy()
end)
