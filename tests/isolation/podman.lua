-- podman with sbx-oci as its runtime (issue 13): an image imported from sbx's busybox root into a
-- test-made storage, then run --rm (output, exit status), the limits podman asks for enforced in
-- the group named by its cgroupsPath, run -d / ps / stop / rm. --network none: podman's default
-- network would make a bridge on sbx0's subnet and change sysctls.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root") end
if not sh("command -v podman") or sh("command -v podman") == "" then skip_all("podman is not installed (scripts/setup.sh installs it)") end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end

local oci = bin:gsub("sbx$", "sbx-oci")
local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. work))
-- podman's own limits exceed this host's hard limits (no CAP_SYS_RESOURCE here): ask for less
-- sbx-oci's state goes to its default /run/sbx-oci (podman's cleanup process, run by conmon, does not
-- pass --runtime-flag root=...): the test removes that directory after if it made it
local had_oci_root = io.open("/run/sbx-oci") ~= nil
local podman = ("podman --root %s/root --runroot %s/run --cgroup-manager=cgroupfs --storage-driver vfs --runtime %s"):format(work, work, oci)
local run_flags = "--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
-- conmon makes libpod_parent/ in every hierarchy: removed after unless it was there before
local layout = sbx.cgroup.layout()
local function hierarchies()
  local out = {}
  if layout.v2_root and layout.v2_root ~= "" then out[#out + 1] = layout.v2_root end
  for _, m in pairs(layout.v1 or {}) do out[#out + 1] = m end
  return out
end
local had_parent = {}
for _, h in ipairs(hierarchies()) do had_parent[h] = io.open(h .. "/libpod_parent/cgroup.procs") ~= nil end

test("podman imports the busybox root into its own storage", function()
  local out, rc = sh(("tar -C %s -cf %s/bb.tar . && %s import %s/bb.tar sbxtest:1"):format(rootfs, work, podman, work))
  expect(rc, out).eq(0)
end)

test("podman run --rm: output, PID 1, exit status through conmon and sbx-oci", function()
  local out, rc = sh(("%s run --rm %s sbxtest:1 /bin/sh -c 'echo hello-$$; exit 5'"):format(podman, run_flags))
  expect(out).contains("hello-1\n")
  expect(rc, out).eq(5)
end)

test("podman run --memory --pids-limit: enforced in the group of its cgroupsPath", function()
  local script = "g=$(grep memory /proc/self/cgroup | cut -d: -f3); cat /sys/fs/cgroup/memory$g/memory.limit_in_bytes; " ..
                 "g=$(grep pids /proc/self/cgroup | cut -d: -f3); echo $g; cat /sys/fs/cgroup/pids$g/pids.max"
  if layout.layout == "2" then
    script = "g=$(cut -d: -f3 /proc/self/cgroup); cat /sys/fs/cgroup$g/memory.max; echo $g; cat /sys/fs/cgroup$g/pids.max"
  end
  local out, rc = sh(("%s run --rm %s --memory 64m --pids-limit 50 sbxtest:1 /bin/sh -c '%s'"):format(podman, run_flags, script))
  expect(rc, out).eq(0)
  expect(out).contains("67108864\n")
  expect(out).match("/libpod_parent/libpod%-%x+\n50\n")
end)

test("podman run --device: the node made, its rule (access r) enforced with runc's defaults", function()
  local script = "stat -c '%t:%T' /dev/myfull /dev/kmsg; (echo x > /dev/myfull) 2>&1; (echo x > /dev/kmsg) 2>&1; " ..
                 "head -c1 /dev/urandom | wc -c"
  local out, rc = sh(("%s run --rm %s --device /dev/full:/dev/myfull --device /dev/kmsg:/dev/kmsg:r sbxtest:1 /bin/sh -c \"%s\"")
                     :format(podman, run_flags, script))
  expect(rc, out).eq(0)
  expect(out).contains("1:7\n1:b\n")
  expect(out).contains("No space left on device")            -- /dev/myfull opens for writing (c 1:7 rwm)
  expect(out).contains("/dev/kmsg: Operation not permitted")  -- c 1:11 r: reading only
  expect(out).contains("\n1\n")                               -- runc's defaults: urandom
end)

test("podman run -d, ps, logs, top, exec, pause, unpause, stop, rm: the container's life; nothing of it left", function()
  local id, rc = sh(("%s run -d %s sbxtest:1 sh -c 'echo started-$((6*7)); exec sleep 300'"):format(podman, run_flags))
  expect(rc, id).eq(0)
  id = id:match("(%x+)%s*$")
  local ps = sh(podman .. " ps --format '{{.ID}} {{.Status}}'")
  expect(ps).contains(id:sub(1, 12) .. " Up")
  local out
  -- the container's output went to conmon (fds 0-2 are the caller's with terminal false)
  for _ = 1, 50 do
    out = sh(podman .. " logs " .. id)
    if out:find("started%-42") then break end
    require("sbx.core").sleep(0.1)
  end
  expect(out).contains("started-42\n")
  out, rc = sh(podman .. " top " .. id .. " pid comm")
  expect(rc, out).eq(0)
  expect(out, "podman top lists the container's PID 1").match("\n%s*1%s+sleep")
  out, rc = sh(podman .. " exec " .. id .. " /bin/sh -c 'echo in-the-container; exit 3'")
  expect(out).contains("in-the-container\n")
  expect(rc, out).eq(3)
  out, rc = sh(podman .. " pause " .. id)
  expect(rc, out).eq(0)
  expect((sh(podman .. " ps -a --format '{{.Status}}'"))).contains("Paused")
  out, rc = sh(podman .. " unpause " .. id)
  expect(rc, out).eq(0)
  expect((sh(podman .. " ps -a --format '{{.Status}}'"))).contains("Up")
  out, rc = sh(podman .. " stop -t 1 " .. id)
  expect(rc, out).eq(0)
  out, rc = sh(podman .. " rm " .. id)
  expect(rc, out).eq(0)
  expect(sh(podman .. " ps -a -q")).eq("")
  expect(#require("sbx.core").list_dir("/run/sbx-oci/" .. id)).eq(0)
  if not had_oci_root then
    local left = require("sbx.core").list_dir("/run/sbx-oci")
    expect(#left, "sbx-oci keeps no state of podman's containers: " .. table.concat(left, " ")).eq(0)
  end
end)

-- In a real terminal (tmux): conmon passes --console-socket, sbx-oci sends it the container's own
-- pty; conmon joins it to podman's terminal.
test("podman update --memory --cpus on a running container: sbx-oci update rewrites its group", function()
  local id, rc = sh(("%s run -d %s --memory 64m sbxtest:1 sleep 300"):format(podman, run_flags))
  expect(rc, id).eq(0)
  id = id:match("(%x+)%s*$")
  local g = assert(sbx.cgroup.open("/libpod_parent/libpod-" .. id))
  local memfile = layout.layout == "2" and "memory.max" or "memory.limit_in_bytes"
  expect(g:get(memfile)).eq("67108864")
  -- podman 4.3 hands sbx-oci `update --resources=FILE ID`: linux.resources JSON
  local out
  out, rc = sh(("%s update --memory 96m --cpus 0.5 %s"):format(podman, id))
  expect(rc, out).eq(0)
  expect(g:get(memfile)).eq(tostring(96 * 1024 * 1024))
  if layout.layout == "2" then
    expect(g:get("cpu.max")).eq("50000 100000")
  else
    expect(g:get("cpu.cfs_quota_us")).eq("50000")
  end
  -- one value the kernel refuses: the update fails whole, the memory limit stays
  out, rc = sh(("%s update --memory 80m --cpuset-cpus 4096 %s"):format(podman, id))
  expect(rc, out).ne(0)
  expect(out).contains("cannot update container " .. id)
  expect(g:get(memfile)).eq(tostring(96 * 1024 * 1024))
  out, rc = sh(podman .. " rm -f -t 0 " .. id)
  expect(rc, out).eq(0)
end)


test("podman run -it: a shell on the container's terminal; typed commands, its size, the exit status", function()
  local t, why = terminal(("sh -c '%s run -it --rm %s sbxtest:1 /bin/sh; echo rc=$?; sleep 60'"):format(podman, run_flags),
                          { width = 100, height = 30 })
  if not t then return skip(why) end
  t:wait("/ #$", 20)
  t:line("tty; stty size; [ -t 0 ] && echo STDIN-A-TTY; echo typed-$((6*7))")
  local screen = t:wait("typed%-42\n/ #$")
  expect(screen, "the container's own devpts, sized like podman's terminal").contains("\n/dev/pts/0\n30 100\nSTDIN-A-TTY\n")
  t:line("exit 3")
  t:wait("rc=3", 10)
  t:close()
end)

test("podman exec -it: a shell on a terminal of its own in a running container", function()
  local id, rc = sh(("%s run -d %s sbxtest:1 sleep 300"):format(podman, run_flags))
  expect(rc, id).eq(0)
  id = id:match("(%x+)%s*$")
  local t, why = terminal(("sh -c '%s exec -it %s /bin/sh; echo rc=$?; sleep 60'"):format(podman, id), { width = 90, height = 25 })
  if not t then sh(podman .. " rm -f -t 0 " .. id); return skip(why) end
  t:wait("/ #$", 20)
  t:line("tty; stty size; cat /proc/1/comm; echo typed-$((6*7))")
  local screen = t:wait("typed%-42\n/ #$")
  expect(screen).contains("\n/dev/pts/0\n25 90\nsleep\n")
  t:line("exit 5")
  t:wait("rc=5", 10)
  t:close()
  local out
  out, rc = sh(podman .. " rm -f -t 0 " .. id)
  expect(rc, out).eq(0)
end)

test("cleanup", function()
  sh(podman .. " rm -a -f")
  sh(podman .. " rmi -a -f")
  for _, h in ipairs(hierarchies()) do
    if not had_parent[h] then
      os.execute(("find %s/libpod_parent -mindepth 1 -depth -type d -exec rmdir {} \\; 2>/dev/null; rmdir %s/libpod_parent 2>/dev/null"):format(h, h))
    end
  end
  sh("umount -R " .. work .. "/run 2>/dev/null; umount -R " .. work .. "/root 2>/dev/null")
  os.execute("rm -rf " .. work)
  if not had_oci_root then os.execute("rmdir /run/sbx-oci 2>/dev/null") end
end)
