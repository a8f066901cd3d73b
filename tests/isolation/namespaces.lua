-- Each namespace really differs inside: a real sandbox from the busybox rootfs per case.
local probe = os.getenv("SBX_PROBE")
local root, rerr = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs: " .. tostring(rerr)) end
if not probe then skip_all("SBX_PROBE is not set (run through ctest)") end

local function box(extra)
  local d = { rootfs = root, mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
  for k, v in pairs(extra or {}) do d[k] = v end
  return sbx.container(d)
end

local function sh(b, cmd)
  local st, err = b:run{ "/bin/sh", "-c", cmd, stdout = "pipe", stderr = "pipe", timeout = 30 }
  expect(st, "run: " .. tostring(err)).truthy()
  expect(st.code, "exit code of `" .. cmd .. "` (stderr: " .. tostring(st.stderr) .. ")").eq(0)
  return st.stdout
end

local function ns_inode(text, kind)
  return tonumber(text:match(kind .. ":%[(%d+)%]"))
end

local host = sbx.ns.ids()

test("pid: the payload is pid 2 under an init, host pids are invisible", function()
  local out = sh(box(), "echo $$; cat /proc/1/comm; ls /proc | grep -c '^[0-9]'; readlink /proc/self/ns/pid")
  local pid, init, count, ns = out:match("^(%d+)\n(%S+)\n(%d+)\n(%S+)")
  expect(tonumber(pid), "payload pid").eq(2)
  expect(init, "pid 1").eq("sbx-init")
  expect(tonumber(count), "processes visible").lt(5)
  expect(ns_inode(ns, "pid"), "pid ns inode").ne(host.pid)
end)

test("uts: a hostname set inside does not reach the host", function()
  local before = sbx.sys.gethostname()
  -- root inside may rename its own uts namespace only with CAP_SYS_ADMIN, which the default
  -- hardening drops (tests/isolation/attacks.lua checks that): this case grants it
  local out = sh(box{ hostname = "box1", caps = "all", seccomp = "none" }, "hostname; hostname other; hostname")
  expect(out).eq("box1\nother\n")
  expect(sbx.sys.gethostname(), "host hostname").eq(before)
end)

test("mnt: mounts made inside are invisible outside", function()
  local function host_mounts()
    local f = assert(io.open("/proc/self/mountinfo"))
    local n = select(2, f:read("*a"):gsub("\n", ""))
    f:close()
    return n
  end
  local before = host_mounts()
  local out = sh(box{ caps = "all", seccomp = "none" }, "mkdir /tmp/m && mount -t tmpfs inner /tmp/m && grep -c ' /tmp/m ' /proc/self/mountinfo; readlink /proc/self/ns/mnt")
  expect(out:match("^1\n"), "mounted inside").truthy()
  expect(ns_inode(out, "mnt"), "mnt ns inode").ne(host.mnt)
  expect(host_mounts(), "host mount count").eq(before)
end)

test("net: only lo, and up; net = 'none' leaves it down", function()
  local out = sh(box(), "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; ip link show lo; readlink /proc/self/ns/net")
  expect(out:match("^lo\n"), "interfaces: " .. out).truthy()
  expect(out).contains("LOOPBACK,UP")
  expect(ns_inode(out, "net"), "net ns inode").ne(host.net)
  local down = sh(box{ net = "none" }, "ip link show lo")
  expect(down:find("UP", 1, true), "lo state with net=none: " .. down).falsy()
end)

test("net: a listener on the host's 127.0.0.1 is unreachable from inside", function()
  -- The listener and a control client run in the host's network namespace (net = "host").
  -- a port nobody listens on now (another run of this suite may be using its own)
  local function listening(port)
    for _, file in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
      local f = io.open(file)
      if f then
        local text = f:read("*a")
        f:close()
        if text:find((":%04X %%S+ 0A"):format(port)) then return true end
      end
    end
    return false
  end
  local port = 41000 + sbx.sys.getpid() % 1000
  while listening(port) do port = port + 1 end
  port = tostring(port)
  local hostnet = box{ net = "host" }
  local function listen()
    local l = assert(hostnet:spawn{ "/bin/nc", "-l", "-p", port, stdout = "pipe" })
    os.execute("sleep 0.2")
    return l
  end
  -- control: a client in the host's network reaches it (retried: the listener may be slow to bind)
  local got
  for _ = 1, 5 do
    local l = listen()
    local ctl
    for _ = 1, 20 do
      ctl = hostnet:run{ "/bin/sh", "-c", "echo hello | nc -w 2 127.0.0.1 " .. port, stderr = "pipe", timeout = 20 }
      if ctl.code == 0 then break end
      os.execute("sleep 0.1")
    end
    if ctl.code == 0 then got = l:read("stdout") end
    l:kill("KILL")
    l:wait()
    if got == "hello\n" then break end
  end
  expect(got, "control: client in the host's network reaches the listener").eq("hello\n")
  local l = listen()
  local st = box():run{ "/bin/sh", "-c", "echo hello | nc -w 2 127.0.0.1 " .. port, stderr = "pipe", timeout = 20 }
  expect(st.code, "client in a new network namespace").ne(0)
  l:kill("KILL")
  expect(l:read("stdout"), "what the listener got").eq("")
  l:wait()
end)

test("user: root inside is an unprivileged uid outside", function()
  if not sbx.features().userns then skip("user namespaces are not available") end
  local b = box()
  local p = assert(b:spawn{ "/tmp/probe", "hold", stdout = "pipe" })
  local f = assert(io.open(("/proc/%d/status"):format(p.pid)))
  local status = f:read("*a")
  f:close()
  local out = sh(b, "id -u; cat /proc/self/uid_map")
  p:kill("KILL")
  p:wait()
  expect(out:match("^0\n"), "uid inside").truthy()
  local inside, outside = out:match("\n%s*(%d+)%s+(%d+)")
  expect(tonumber(inside)).eq(0)
  expect(tonumber(outside), "outside uid of root").gt(0)
  local uid = tonumber(status:match("\nUid:%s+(%d+)"))
  expect(uid, "host view of the sandbox's uid").eq(tonumber(outside))
end)

test("ipc: a System V key made inside does not exist outside", function()
  local out = sh(box(), "/tmp/probe shm-create 0x5b0c17 && /tmp/probe shm-exists 0x5b0c17; readlink /proc/self/ns/ipc")
  expect(out:match("^created\nyes\n"), out).truthy()
  expect(ns_inode(out, "ipc")).ne(host.ipc)
  local h = assert(io.popen(probe .. " shm-exists 0x5b0c17"))
  local seen = h:read("*a")
  h:close()
  expect(seen, "host sees the key").eq("no\n")
end)

test("cgroup: the sandbox's cgroup paths start at its own root", function()
  if not sbx.features().cgroupns then skip("no cgroup namespaces") end
  local out = sh(box(), "cat /proc/self/cgroup; readlink /proc/self/ns/cgroup")
  for line in out:gmatch("[^\n]+") do
    if line:match("^%d+:") then expect(line:match(":/$"), "cgroup line " .. line).truthy() end
  end
  expect(ns_inode(out, "cgroup"), "cgroup ns inode").ne(host.cgroup)
end)

test("time: a boottime offset shows in /proc/uptime inside only", function()
  if not sbx.features().timens then skip("no time namespaces on this kernel") end
  local f = assert(io.open("/proc/uptime"))
  local host_up = tonumber(f:read("*a"):match("^(%S+)"))
  f:close()
  local out = sh(box{ time_offsets = { boottime = "10d" } }, "cat /proc/uptime; readlink /proc/self/ns/time")
  local up = tonumber(out:match("^(%S+)"))
  expect(up - host_up, "uptime difference").gt(9 * 86400)
  expect(ns_inode(out, "time"), "time ns inode").ne(host.time)
end)
