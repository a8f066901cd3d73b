-- Rootless mode: sbx run by an unprivileged user (made by this test when missing): a user
-- namespace with a single-id map without helpers, the full /etc/subuid range through
-- newuidmap/newgidmap, setgroups denied, and a clear message when the host forbids user
-- namespaces (made here in a user namespace of the test's own whose limit is 0).
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("creating the test user needs root") end
if not io.popen("command -v runuser"):read("*l") then skip_all("runuser (util-linux) is missing") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local user = "sbxrootless"
local created = false
if not (sh("id -u " .. user)):match("^%d+") then
  local _, rc = sh("useradd -M -d /nonexistent -s /usr/sbin/nologin " .. user)
  if rc ~= 0 then skip_all("useradd failed") end
  created = true
end
local uid = tonumber((sh("id -u " .. user)))
-- the user's home for this run (its busybox rootfs cache goes there), removed at the end
local home = os.tmpname()
os.remove(home)
assert(os.execute(("mkdir -m 700 %s && chown %s %s"):format(home, user, home)))
local function as_user(cmd)
  return sh(("cd / && runuser -u %s -- env HOME=%s %s"):format(user, home, cmd))
end

test("an unprivileged user runs a sandbox: root inside is the user outside, setgroups denied, hardened", function()
  local out, rc = as_user(bin .. [[ -e 'local st = sbx.container{ rootfs = sbx.rootfs.busybox(),
    uid_map = { { inside = 0, outside = ]] .. uid .. [[, count = 1 } }, gid_map = { { inside = 0, outside = ]] ..
    (sh("id -g " .. user)):match("%d+") .. [[, count = 1 } } }:run{ "sh", "-c",
    "id -u; cat /proc/self/uid_map; cat /proc/self/setgroups; grep CapEff /proc/self/status", stdout = "pipe" }
    io.write(st.stdout)']])
  expect(rc, out).eq(0)
  expect(out).match("^0\n%s+0%s+" .. uid .. "%s+1\ndeny\nCapEff:%s+00000000a80425fb\n$")
  -- what the user cannot do stays refused: no host files written, no privileges gained
  local o2 = as_user(bin .. " run --busybox -- sh -c 'touch /etc/x 2>&1; cat /proc/self/uid_map | wc -l'")
  expect(o2).contains("Read-only file system")
end)

test("with /etc/subuid and /etc/subgid ranges, newuidmap/newgidmap map 65536 ids", function()
  if not io.open("/usr/bin/newuidmap") then return skip("uidmap (newuidmap) is not installed") end
  local sub = sh("grep '^" .. user .. ":' /etc/subuid /etc/subgid")
  if not sub:find("subuid") or not sub:find("subgid") then return skip("no subordinate ranges for " .. user) end
  local start = tonumber(sub:match("/etc/subuid:" .. user .. ":(%d+):"))
  local out, rc = as_user(bin .. " run --busybox -- sh -c 'cat /proc/self/uid_map; chown 1000:1000 /tmp && stat -c %u /tmp'")
  expect(rc, out).eq(0)
  expect(out).match("^%s+0%s+" .. uid .. "%s+1\n%s+1%s+" .. start .. "%s+65535\n1000\n$")
end)

test("when the host forbids user namespaces the error names the switch", function()
  -- a user namespace of the test's own whose user.max_user_namespaces is 0 (the host's keeps its
  -- value); an unprivileged uid inside it runs sbx
  local out, rt = os.tmpname(), os.tmpname()
  os.remove(rt)
  assert(os.execute("mkdir -m 777 " .. rt))
  local map = { { inside = 0, outside = 0, count = 2000 } }
  local child = assert(sbx.sys.clone{ ns = { "user" }, uid_map = map, gid_map = map, fn = function()
    local f = assert(io.open("/proc/sys/user/max_user_namespaces", "w"))
    f:write("0")
    f:close()
    os.execute(("setpriv --reuid=1999 --regid=1999 --keep-groups env HOME=%s XDG_RUNTIME_DIR=%s %s run --busybox -- true > %s 2>&1"):format(rt, rt, bin, out))
    os.execute(("setpriv --reuid=1999 --regid=1999 --keep-groups env HOME=%s XDG_RUNTIME_DIR=%s %s doctor >> %s 2>&1; echo doctor=$? >> %s"):format(rt, rt, bin, out, out))
    return 0
  end })
  child:wait()
  local text = io.open(out):read("*a")
  os.remove(out)
  os.execute("rm -rf " .. rt)
  expect(text).contains("user.max_user_namespaces is 0 (sysctl -w user.max_user_namespaces=15000)")
  expect(text, "the error points at sbx doctor").contains("sbx doctor checks the rest of this host")
  -- sbx doctor names it too, with the fix, and fails
  expect(text).match("FAIL  user namespaces +user namespaces are disabled: user.max_user_namespaces is 0")
  expect(text).contains("fix: sysctl -w user.max_user_namespaces=15000")
  expect(text).contains("doctor=1")
end)

test("sbx doctor as the user: the rootless checks, each ok, a note, or a FAIL with its fix; a workspace works", function()
  -- (its own state under its home: SBX_STATE is the suite's, root's)
  local out, rc = as_user("env -u SBX_STATE " .. bin .. " doctor --json")
  local ok, checks = pcall(sbx.json.decode, out)
  expect(ok, out).eq(true)
  local by = {}
  for _, c in ipairs(checks) do
    by[c.check] = c
    if c.ok == false then expect(c.fix ~= nil, c.check .. " failed without a fix").eq(true) end
  end
  for _, name in ipairs({ "user namespaces", "subordinate ids", "cgroups", "seccomp", "overlayfs",
                          "sandbox with a workspace", "nftables", "rootless network" }) do
    expect(by[name] ~= nil, "the check " .. name).eq(true)
  end
  expect(by["user namespaces"].ok).eq(true)
  expect(by["sandbox with a workspace"].ok, by["sandbox with a workspace"].detail).eq(true)
  expect(rc == 0 or rc == 1, "exit status").eq(true)
  local text = as_user("env -u SBX_STATE " .. bin .. " doctor")
  expect(text).match("ok    user namespaces")
end)

test("cleanup", function()
  os.execute("rm -rf " .. home .. " /tmp/sbx-" .. uid)  -- its home, and the runtime dir sbx made for it
  if created then sh("userdel " .. user) end
end)
