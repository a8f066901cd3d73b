-- Limits for an unprivileged user on pure cgroup v2, where the host delegates a subtree to it
-- (as systemd's user@UID.service is): the sandbox's group goes beside the user's own group, its
-- limits hold, and it is gone afterwards. Runs in the cgroup-v2 lane (tests/v2/run.sh), whose
-- guest is a pure v2 host: the subtree and the user (uid 1000) are made here, as root.
local bin = os.getenv("SBX_BIN")
-- (skip_all ends the file there: the set-up below never runs on any other host)
if not bin then skip_all("needs SBX_BIN (run through ctest or the v2 lane)") end
if sbx.sys.ids().uid ~= 0 then skip_all("making a delegated subtree needs root") end
if sbx.cgroup.layout().layout ~= "2" then skip_all("needs pure cgroup v2 (the v2 lane runs it: tests/v2/run.sh)") end
if not io.open("/run/sbx-v2-lane") then skip_all("changes /etc/passwd and the cgroup root: only in the v2 lane's guest") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local v2 = sbx.cgroup.layout().v2_root
local base = v2 .. "/sbx-deleg-test"
local uid = 1000
local home = "/tmp/sbx-deleg-home"

-- the user, and its delegated subtree: base (the user's) with the user's own group inside
local f = assert(io.open("/etc/passwd", "a"))
f:write(("sbxu:x:%d:%d::%s:/bin/sh\n"):format(uid, uid, home))
f:close()
assert(os.execute(("mkdir -p %s && chown %d:%d %s"):format(home, uid, uid, home)) == 0)
assert(os.execute(("echo +memory +pids > %s/cgroup.subtree_control"):format(v2)) == 0)
assert(os.execute(("mkdir -p %s/shell && chown %d:%d %s %s/cgroup.procs %s/cgroup.subtree_control %s/cgroup.threads %s/shell %s/shell/cgroup.procs")
  :format(base, uid, uid, base, base, base, base, base, base)) == 0)

-- a script run as the user; with `delegated`, root first moves the shell into the user's group (a
-- user may not move itself out of a group it does not own)
local function as_user(script, delegated)
  local path = home .. "/script.sh"
  local w = assert(io.open(path, "w"))
  w:write("export HOME=" .. home .. "\n", script, "\n")
  w:close()
  local move = delegated and ("echo $$ > " .. base .. "/shell/cgroup.procs && ") or ""
  return sh(("sh -c '%sexec su -s /bin/sh sbxu -c \"sh %s\"'"):format(move, path))
end

test("a user's limits in its delegated subtree: the group beside its own, the limits held, removed at the end", function()
  -- read while it runs, from outside: the group is base/sbx-PID-N
  local out, rc = as_user(bin .. [[ run --busybox -m 32M --pids 20 -- sh -c 'cat /proc/self/cgroup; (for i in $(seq 30); do sleep 2 & done) 2>/dev/null || echo fork-refused; sleep 3' &
sleep 1; cat ]] .. base .. [[/sbx-*/memory.max ]] .. base .. [[/sbx-*/pids.max; wait]], true)
  expect(rc, out).eq(0)
  expect(out, "memory.max and pids.max of the sandbox's group").contains("33554432\n20\n")
  expect(out, "the process limit held").contains("fork-refused")
  expect(out, "its cgroup namespace is rooted at its group").contains("0::/\n")
  expect(sh("for d in " .. base .. "/sbx-*; do [ -d \"$d\" ] && echo $d; done; true"), "the group after the run").eq("")
end)

test("without a delegated subtree: refused with the reason and the fix; --limits-optional runs and says so", function()
  -- the user's group's parent is root's here
  local out, rc = as_user(bin .. " run --busybox -m 32M -- true")
  expect(rc, out).eq(125)
  expect(out).contains("no cgroup subtree of yours")
  expect(out).contains("systemd-run --user --scope -p Delegate=yes")
  out, rc = as_user(bin .. " run --busybox -m 32M --limits-optional -- echo ran")
  expect(rc, out).eq(0)
  expect(out).contains("ran\n")
  expect(out).contains("sbx: without limits (limits_optional): limits as uid 1000: no cgroup subtree of yours")
end)

test("cleanup", function()
  os.execute(("rmdir %s/shell %s; rm -rf %s /tmp/sbx-%d"):format(base, base, home, uid))
end)
