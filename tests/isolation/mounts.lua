-- Safe mount destinations: resolved inside the new root (openat2 RESOLVE_IN_ROOT), never created
-- or mounted on the host through a symlink; a destination that is a symlink, and a rootfs whose
-- /proc or /dev is one, are refused; a destination swapped to a symlink while 1,000 sandboxes
-- start never reaches the host.
local root = sbx.rootfs.busybox()
if not root then skip_all("needs the busybox rootfs") end
local me = sbx.sys.getpid()

local function copy_root()
  local dir = os.tmpname()
  os.remove(dir)
  -- owned by root inside (2100000000 outside when sbx runs as root): writable with readonly = false
  assert(os.execute(("cp -a %s %s && chmod 755 %s && chown -R 2100000000:2100000000 %s"):format(root, dir, dir, dir)))
  return dir
end

local function host_has(path) return io.open(path) ~= nil end

test("an absolute symlink in a destination's path resolves inside the root, never on the host", function()
  local dir = copy_root()
  local marker = "sbx-escape-" .. me
  assert(os.execute(("ln -s /etc %s/data"):format(dir)))
  for _, readonly in ipairs({ false, true }) do
    local box = sbx.container{ rootfs = dir, readonly = readonly,
                               mounts = { sbx.ro_bind("/etc/hostname", "/data/" .. marker) } }
    local st = assert(box:run{ "cat", "/etc/" .. marker, stdout = "pipe" })
    expect(st.code, "the bind landed on the root's own /etc").eq(0)
    expect(host_has("/etc/" .. marker), "nothing created in the host's /etc").eq(false)
  end
  os.execute("rm -rf " .. dir)
end)

test("a device node whose path leads through a symlink to /etc is made in the root's /etc, never the host's", function()
  if sbx.sys.ids().uid ~= 0 then skip("needs root (mknod without a user namespace)") end
  local dir = copy_root()
  local sub = "sbx-dev-" .. me
  assert(os.execute(("ln -s /etc %s/data"):format(dir)))
  local box = sbx.container{ rootfs = dir, readonly = false, share = { "user" },
                             mounts = { sbx.device("/data/" .. sub .. "/node", "c 1:7", { mode = 416 }),
                                        sbx.device("/data/" .. sub .. "/fifo", "p") } }
  local st = assert(box:run{ "/bin/sh", "-c", ("stat -c '%%F %%t:%%T %%a' /etc/%s/node /etc/%s/fifo"):format(sub, sub), stdout = "pipe" })
  expect(st.stdout).eq("character special file 1:7 640\nfifo 0:0 666\n")
  expect(host_has("/etc/" .. sub), "nothing made in the host's /etc").eq(false)
  -- the node itself given as a symlink is refused (as every destination that is one)
  local link = sbx.container{ rootfs = dir, readonly = false, share = { "user" }, mounts = { sbx.device("/data", "p") } }
  local none, err = link:run{ "/bin/true" }
  expect(none).eq(nil)
  expect(err).contains("device /data (p): /data exists and is another file (refused)")
  expect_error(function() sbx.device("/dev/x", 7) end, 'node must be a string like "c 1:7"')
  expect_error(function() sbx.device("/dev/x", "c 1:7", { owner = 1 }) end, "unknown option 'owner'")
  os.execute("rm -rf " .. dir)
end)

test("a destination that is a symlink, and a rootfs whose /proc or /dev is one, are refused", function()
  local dir = copy_root()
  assert(os.execute(("ln -s /tmp %s/link && rm -rf %s/proc && ln -s /tmp %s/proc"):format(dir, dir, dir)))
  local a, err = sbx.container{ rootfs = dir, proc = false, mounts = { sbx.tmpfs("/link") } }:run{ "true" }
  expect(a).eq(nil)
  expect(err).contains("tmpfs /link: destination is a symbolic link (refused)")
  local b, err2 = sbx.container{ rootfs = dir }:run{ "true" }
  expect(b).eq(nil)
  expect(err2).contains("proc /proc: destination is a symbolic link (refused)")
  os.execute("rm -rf " .. dir)
end)

test("a destination swapped to a symlink (to /etc) while 1,000 sandboxes start never reaches the host", function()
  local dir = copy_root()
  local marker = "sbx-race-" .. me
  assert(os.execute(("mkdir -p %s/mnt/target"):format(dir)))
  -- the attacker: swaps /mnt/target between a directory and a symlink to /etc, as fast as it can
  local swapper = assert(io.popen(([[
cd %s/mnt && while :; do mv target target.d 2>/dev/null; ln -s /etc target 2>/dev/null; rm -f target; mv target.d target 2>/dev/null; done &
echo $!]]):format(dir)):read("*l"))
  local mounts_before = io.open("/proc/self/mountinfo"):read("*a")
  local box = sbx.container{ rootfs = dir, readonly = false, mounts = { sbx.ro_bind("/etc/hostname", "/mnt/target/" .. marker) } }
  local ran, refused = 0, 0
  for _ = 1, 1000 do
    local st = box:run{ "true" }
    if st then ran = ran + 1 else refused = refused + 1 end
  end
  sbx.sys.kill(tonumber(swapper), 9)
  expect(host_has("/etc/" .. marker), "nothing created in the host's /etc").eq(false)
  expect(io.open("/proc/self/mountinfo"):read("*a"), "the host's mount table").eq(mounts_before)
  expect(ran + refused).eq(1000)
  expect(ran, "some starts won the race and ran").gt(0)
  os.execute("rm -rf " .. dir)
end)

test("an idmapped bind: files owned by inside ids on disk are the sandbox's own; what it writes lands as those ids", function()
  if sbx.sys.ids().uid ~= 0 then skip("needs root (an idmapped mount of a host file system)") end
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute(("mkdir %s && touch %s/rootfile %s/userfile && chown 1000:1000 %s/userfile"):format(dir, dir, dir, dir)))
  local m = { { inside = 0, outside = 100000, count = 65536 } }
  local function run(bind_opts)
    local b = sbx.container{ rootfs = root, ns = { "user", "mnt", "pid", "uts", "ipc" }, uid_map = m, gid_map = m,
                             mounts = { sbx.bind(dir, "/data", bind_opts) } }
    return assert(b:run{ "/bin/sh", "-c", "stat -c '%n %u:%g' /data/rootfile /data/userfile; touch /data/made 2>&1 && echo made",
                         stdout = "pipe" }).stdout
  end
  -- without the idmap the host's root and 1000 are unmapped in the sandbox's user namespace: nobody
  expect(run(nil), "a plain bind").eq("/data/rootfile 65534:65534\n/data/userfile 65534:65534\ntouch: /data/made: Permission denied\n")
  expect(run{ uid_map = m, gid_map = m }, "idmapped: 0 and 1000 on disk are 0 and 1000 inside")
    .eq("/data/rootfile 0:0\n/data/userfile 1000:1000\nmade\n")
  local h = io.popen("stat -c '%u:%g' " .. dir .. "/made")
  expect(h:read("*l"), "written by the sandbox's root (host 100000) as 0 on disk").eq("0:0")
  h:close()
  expect_error(function() sbx.bind(dir, "/data", { uid_map = m }) end, "takes uid_map and gid_map both")
  local err = expect_error(function()
    sbx.container{ rootfs = root, mounts = { sbx.bind(dir, "/data", { uid_map = { { inside = 0, outside = 1, count = 0 } }, gid_map = m }) } }
  end)
  expect(err).contains("(bind): uid map: a line with count 0")
  os.execute("rm -rf " .. dir)
end)

test("a read-only root that lacks a masked path (/sys/firmware) is bound as it is: no scratch overlay for a mask", function()
  -- (sys = false: the host's /sys, bound by default, has a /sys/firmware)
  local st = assert(sbx.container{ rootfs = root, sys = false }:run{ "/bin/sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo; ls /sys/firmware 2>&1", stdout = "pipe" })
  expect(st.stdout, "the root's mount line").match("^%d+ %d+ %d+:%d+ %S+ / ro,")
  expect(st.stdout, "the root's own file system, not an overlay").never_contains(" - overlay ")
  expect(st.stdout).contains("/sys/firmware: No such file or directory")
  -- a bind whose mount point is missing still gets the scratch overlay (the root is not written)
  local st2 = assert(sbx.container{ rootfs = root, mounts = { sbx.ro_bind("/etc/hostname", "/etc/sbx-new-point") } }
                      :run{ "/bin/sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo", stdout = "pipe" })
  expect(st2.stdout).contains(" - overlay ")
  expect(io.open(root .. "/etc/sbx-new-point"), "nothing made in the root itself").eq(nil)
end)
