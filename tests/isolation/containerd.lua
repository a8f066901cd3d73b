-- containerd 1.6 (the path Kubernetes' CRI takes: the io.containerd.runc.v2 shim) with sbx-oci as
-- its runtime binary (issue 13): a containerd of the test's own (config, root, state and socket in
-- a temp dir), an image imported from sbx's busybox root, then ctr run --rm (output, exit status),
-- run -d, task exec, ps, pause, resume, kill, delete.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root") end
for _, tool in ipairs({ "containerd", "ctr", "containerd-shim-runc-v2", "podman" }) do
  if (sh("command -v " .. tool)) == "" then skip_all(tool .. " is not installed (scripts/setup.sh installs it)") end
end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end
local core = require "sbx.core"

local oci = bin:gsub("sbx$", "sbx-oci")
local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. work))
-- the shim keeps its sockets in /run/containerd whatever the config says: removed after if the test made it
local had_run_dir = io.open("/run/containerd") ~= nil
local cfg = assert(io.open(work .. "/config.toml", "w"))
cfg:write(([[
version = 2
root = "%s/root"
state = "%s/state"
[grpc]
  address = "%s/containerd.sock"
[ttrpc]
  address = "%s/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
]]):format(work, work, work, work))
cfg:close()
local ctr = ("ctr --address %s/containerd.sock"):format(work)
-- its cgroupsPath is /default/ID: sbx-oci makes the parent "default" (as runc does, and leaves it):
-- removed after unless it was there before
local layout = sbx.cgroup.layout()
local hierarchies = {}
if layout.v2_root and layout.v2_root ~= "" then hierarchies[#hierarchies + 1] = layout.v2_root end
for _, m in pairs(layout.v1 or {}) do hierarchies[#hierarchies + 1] = m end
local had_default = {}
for _, h in ipairs(hierarchies) do had_default[h] = io.open(h .. "/default/cgroup.procs") ~= nil end
local runtime = "--runc-binary " .. oci
local daemon

test("a containerd of the test's own starts and imports an OCI archive of the busybox root", function()
  local h = io.popen(("containerd --config %s/config.toml >%s/containerd.log 2>&1 & echo $!"):format(work, work))
  daemon = tonumber(h:read("*l"))
  h:close()
  local up = false
  for _ = 1, 100 do
    if select(2, sh(ctr .. " version")) == 0 then up = true break end
    core.sleep(0.05)
  end
  expect(up, "containerd answers").eq(true)
  local podman = ("podman --root %s/proot --runroot %s/prun --storage-driver vfs"):format(work, work)
  local out, rc = sh(("tar -C %s -cf %s/bb.tar . && %s import %s/bb.tar localhost/sbxtest:1 >/dev/null && %s save --format oci-archive -o %s/bb-oci.tar localhost/sbxtest:1")
                     :format(rootfs, work, podman, work, podman, work))
  expect(rc, out).eq(0)
  sh(podman .. " rmi -a -f")
  out, rc = sh(ctr .. " image import --base-name localhost/sbxtest " .. work .. "/bb-oci.tar")
  expect(rc, out).eq(0)
end)

test("ctr run --rm: output, PID 1, the exit status through the shim and sbx-oci", function()
  local out, rc = sh(("%s run %s --rm localhost/sbxtest:1 t1 /bin/sh -c 'echo hello-$$; exit 3'"):format(ctr, runtime))
  expect(out).contains("hello-1\n")
  expect(rc, out).eq(3)
end)

test("ctr run -d, task exec, ps, pause, resume, kill, delete", function()
  local out, rc = sh(("%s run -d %s localhost/sbxtest:1 t2 sleep 300"):format(ctr, runtime))
  expect(rc, out).eq(0)
  expect((sh(ctr .. " task ls"))).match("t2%s+%d+%s+RUNNING")
  out, rc = sh(ctr .. " task exec --exec-id e1 t2 /bin/sh -c 'echo exec-ok; exit 2'")
  expect(out).contains("exec-ok\n")
  expect(rc, out).eq(2)
  local pid = (sh(ctr .. " task ls")):match("t2%s+(%d+)")
  expect((sh(ctr .. " task ps t2"))).contains(pid)
  out, rc = sh(ctr .. " task pause t2")
  expect(rc, out).eq(0)
  expect((sh(ctr .. " task ls"))).match("t2%s+%d+%s+PAUSED")
  out, rc = sh(ctr .. " task resume t2")
  expect(rc, out).eq(0)
  out, rc = sh(ctr .. " task kill -s KILL t2")
  expect(rc, out).eq(0)
  local stopped = false
  for _ = 1, 100 do
    if (sh(ctr .. " task ls")):match("t2%s+%d+%s+STOPPED") then stopped = true break end
    core.sleep(0.05)
  end
  expect(stopped, "t2 stopped").eq(true)
  out, rc = sh(ctr .. " task delete t2")
  expect(rc, out).eq(0)
  out, rc = sh(ctr .. " container rm t2")
  expect(rc, out).eq(0)
end)

-- In a real terminal (tmux): the shim passes --console-socket, sbx-oci sends it the container's
-- own pty, ctr joins it to its terminal.
test("ctr task metrics: the shim reads the figures from the container's own group (/default/ID)", function()
  local out, rc = sh(("%s run -d %s --memory-limit 67108864 localhost/sbxtest:1 t3 sleep 300"):format(ctr, runtime))
  expect(rc, out).eq(0)
  out, rc = sh(ctr .. " task metrics t3")
  expect(rc, out).eq(0)
  if layout.layout == "2" then
    expect(out).match("memory%.usage_limit%s+67108864")
  else
    expect(out).match("memory%.limit_in_bytes%s+67108864")
  end
  expect(out).match("pids%.current%s+1")
  sh(ctr .. " task kill -s KILL t3")
  for _ = 1, 100 do
    if (sh(ctr .. " task ls")):match("t3%s+%d+%s+STOPPED") then break end
    core.sleep(0.05)
  end
  out, rc = sh(ctr .. " task delete t3")
  expect(rc, out).eq(0)
  out, rc = sh(ctr .. " container rm t3")
  expect(rc, out).eq(0)
end)


test("ctr run -t, task exec -t: a shell on the container's terminal; typed commands, its size, the exit status", function()
  local t, why = terminal(("sh -c '%s run -t %s --rm localhost/sbxtest:1 t3 /bin/sh; echo rc=$?; sleep 60'"):format(ctr, runtime),
                          { width = 100, height = 30 })
  if not t then return skip(why) end
  t:wait("/ #$", 20)
  t:line("tty; stty size; [ -t 0 ] && echo STDIN-A-TTY; echo typed-$((6*7))")
  local screen = t:wait("typed%-42\n/ #$")
  expect(screen, "the container's own devpts, sized like ctr's terminal").contains("\n/dev/pts/0\n30 100\nSTDIN-A-TTY\n")
  -- a second terminal, in the same container
  local e = assert(terminal(("sh -c '%s task exec -t --exec-id e2 t3 /bin/sh; echo rc=$?; sleep 60'"):format(ctr), { width = 90, height = 25 }))
  e:wait("/ #$", 20)
  e:line("tty; stty size; echo exec-$((6*7))")
  screen = e:wait("exec%-42\n/ #$")
  expect(screen).contains("\n/dev/pts/1\n25 90\n")
  e:line("exit 4")
  e:wait("rc=4", 10)
  e:close()
  t:line("exit 3")
  t:wait("rc=3", 10)
  t:close()
end)

test("cleanup", function()
  sh(ctr .. " task kill -s KILL t2")
  sh(ctr .. " task delete t2")
  sh(ctr .. " task kill -s KILL t3")
  sh(ctr .. " task delete t3")
  sh(ctr .. " container rm t1 t2 t3")
  if daemon then sbx.sys.kill(daemon, 15) end
  for _ = 1, 100 do
    if not io.open("/proc/" .. tostring(daemon) .. "/stat") then break end
    core.sleep(0.05)
  end
  -- shims the test's containerd started (found by its unique socket path), ended by pid
  for pid in (sh("pgrep -f -- '-address " .. work .. "/containerd.sock'")):gmatch("%d+") do sbx.sys.kill(tonumber(pid), 9) end
  os.execute("umount -R " .. work .. "/state 2>/dev/null; umount -R " .. work .. "/root 2>/dev/null")
  os.execute("rm -rf " .. work)
  if not had_run_dir then os.execute("rm -rf /run/containerd") end
  for _, h in ipairs(hierarchies) do
    if not had_default[h] then os.execute(("rmdir %s/default 2>/dev/null"):format(h)) end
  end
end)
