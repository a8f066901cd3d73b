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
  return sh(("cd / && runuser -u %s -- env -u SBX_STATE HOME=%s %s"):format(user, home, cmd))
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

-- the user-mode network tools (pasta, slirp4netns) running on this user's runtime directory
local function tools_left()
  local found = {}
  for pid in io.popen("ls /proc"):lines() do
    local f = pid:match("^%d+$") and io.open("/proc/" .. pid .. "/cmdline")
    local cmd = f and f:read("*a") or ""
    if f then f:close() end
    local exe = cmd:match("^[^%z]+") or ""
    if (exe:match("pasta$") or exe:match("slirp4netns$")) and cmd:find("/tmp/sbx-" .. uid .. "/usernet", 1, true) then
      found[#found + 1] = pid
    end
  end
  return table.concat(found, " ")
end

test("hooks as a user: the start fifo is the user's own (a Lua 0600 was decimal: p--x--x--T)", function()
  local out, rc = as_user(bin .. [[ -e 'local st, err = sbx.container{ hooks = { created = function(p) io.write("created ") end } }:run{ "true" }
    print(st and st.code, err)']])
  expect(rc, out).eq(0)
  expect(out).eq("created 0\tnil\n")
end)

test("rootless networking: --net bridge is pasta; published ports, outbound, slirp4netns, egress; nothing left, even after SIGKILL", function()
  for _, tool in ipairs({ "pasta", "slirp4netns", "curl", "wget", "bash" }) do
    if not io.popen("command -v " .. tool):read("*l") then return skip(tool .. " is not installed (scripts/setup.sh installs it)") end
  end
  if not os.getenv("SBX_SOURCE") then return skip("needs SBX_SOURCE (run through ctest)") end
  -- the outside: web servers root runs on sbx0, reached through the user's own sockets
  local outside = dofile(os.getenv("SBX_SOURCE") .. "/tests/isolation/lib/outside.lua")
  local X, Y = outside.web("from-x"), outside.web("from-y")
  local ok, err = pcall(function()
    local out, rc = as_user(bin .. (" run --net bridge -- sh -c 'ip -4 -o addr show eth0; ip route show default; wget -q -T 5 -O- http://%s/'"):format(X))
    expect(rc, out).eq(0)
    expect(out, "eth0 with the host's address, the host's route").match("eth0%s+inet %d+%.%d+%.%d+%.%d+/%d+")
    expect(out).contains("default via ")
    expect(out, "outbound as the user's own connection").contains("from-x\n")
    -- published ports, pasta and slirp4netns, on a detached sandbox
    local port = 20000 + (sbx.sys.getpid() * 13) % 20000
    for i, tool in ipairs({ "pasta", "slirp4netns" }) do
      local name = "rl-" .. tool
      local p = port + i
      out, rc = as_user(("%s run -d --name %s --net %s -p 127.0.0.1:%d:80 --busybox -- httpd -f -p 80 -h /etc"):format(bin, name, tool, p))
      expect(rc, out).eq(0)
      local page = ""
      for _ = 1, 40 do
        page = sh(("curl -s -m 2 http://127.0.0.1:%d/passwd"):format(p))
        if page ~= "" then break end
        require("sbx.core").sleep(0.05)
      end
      expect(page, tool .. ": the host reaches the published port").contains("root:x:0:0")
      expect(as_user(bin .. " ps"), tool .. ": sbx ps").match(name:gsub("%p", "%%%0") .. ".-127%.0%.0%.1:" .. p .. "%->80/tcp")
      as_user(bin .. " stop " .. name)
      as_user(bin .. " rm " .. name)
      expect(tools_left(), tool .. " after stop").eq("")
      expect(sh(("curl -s -m 1 http://127.0.0.1:%d/passwd"):format(p)), "the port after stop").eq("")
    end
    -- egress by allow-list as a user: rules in the sandbox's own namespaces, entered by a helper
    out, rc = as_user(bin .. (" run --allow %s:80 -- bash -c 'wget -q -T 5 -O- http://%s/; (exec 3<>/dev/tcp/%s/80); echo y=$?'"):format(X, X, Y))
    expect(rc, out).eq(0)
    expect(out).contains("from-x\n")
    expect(out).contains("y=1\n")
    expect(out).contains("sbx: egress refused: " .. Y .. " tcp/80")
    -- a supervisor killed: its pasta dies with it (PR_SET_PDEATHSIG); sbx gc removes its directory
    os.execute(("cd / && runuser -u %s -- env -u SBX_STATE HOME=%s %s run --net bridge -- sleep 30 > /dev/null 2>&1 &"):format(user, home, bin))
    local sup
    for _ = 1, 100 do
      sup = sh("pgrep -u " .. uid .. " -f -x '" .. bin .. " run --net bridge -- sleep 30'"):match("%d+")
      if sup and tools_left() ~= "" then break end
      require("sbx.core").sleep(0.05)
    end
    expect(sup ~= nil, "the user's sbx run").eq(true)
    expect(tools_left() ~= "", "its pasta, running").eq(true)
    os.execute("kill -KILL " .. sup)
    for _ = 1, 40 do
      if tools_left() == "" then break end
      require("sbx.core").sleep(0.05)
    end
    expect(tools_left(), "pasta after its supervisor's SIGKILL").eq("")
    out = as_user(bin .. " gc")
    expect(out).contains("user-mode network /tmp/sbx-" .. uid .. "/usernet-" .. sup .. "-")
    expect(sh("ls /tmp/sbx-" .. uid .. " | grep usernet"), "after sbx gc").eq("")
  end)
  outside.stop_web()
  if not ok then error(err, 0) end
end)

test("limits as a user without a delegated subtree: refused with the reason, the fix and sbx doctor; --limits-optional says so", function()
  local out, rc = as_user(bin .. " run --busybox -m 64M -- true")
  expect(rc, out).eq(125)
  expect(out).match("limits as uid %d+: ")
  expect(out).contains("systemd-run --user --scope -p Delegate=yes")
  expect(out).contains("sbx doctor checks this host")
  out, rc = as_user(bin .. " run --busybox -m 64M --limits-optional -- echo ran")
  expect(rc, out).eq(0)
  expect(out).contains("ran\n")
  expect(out).contains("sbx: without limits (limits_optional): limits as uid")
  expect(as_user(bin .. " doctor")).match("note  cgroup delegation +no cgroup subtree of yours")
end)

test("as a user: workspace, diff and promote; images, a persistent container, commit; run -d; state under the user's home", function()
  local proj = home .. "/proj"
  assert(os.execute(("mkdir -p %s && echo one > %s/README && chown -R %s: %s"):format(proj, proj, user, proj)) == 0)
  local out, rc = as_user(bin .. " run --busybox --workspace " .. proj .. ":/w --name rl-ws -- sh -c 'echo two >> /w/README; echo n > /w/new'")
  expect(rc, out).eq(0)
  expect(as_user(bin .. " diff rl-ws")).eq("M  README  4 -> 8 bytes\nA  new  2 bytes\n")
  expect(as_user(bin .. " promote rl-ws")).eq("promoted README\npromoted new\n")
  expect(sh("cat " .. proj .. "/README; stat -c %U " .. proj .. "/new")).eq("one\ntwo\n" .. user .. "\n")
  as_user(bin .. " discard rl-ws")
  -- a project whose group is not the user's: no idmap attempted (a user may not), readable inside
  local other = home .. "/proj2"
  assert(os.execute(("mkdir -p %s && echo one > %s/README && chown -R %s:root %s"):format(other, other, user, other)) == 0)
  out, rc = as_user(bin .. " run --busybox --workspace " .. other .. ":/w -- cat /w/README")
  expect(rc, out).eq(0)
  expect(out).contains("one\n")
  out, rc = as_user(bin .. [[ -e 'assert(sbx.image.from_dir(sbx.rootfs.busybox(), "rl:1"))']])
  expect(rc, out).eq(0)
  expect(as_user(bin .. " run --image rl:1 --name rl-c -- sh -c 'echo kept > /k; id -u'")).eq("0\n")
  expect(as_user(bin .. " run --image rl:1 --name rl-c -- cat /k"), "the container's upper layer").eq("kept\n")
  out, rc = as_user(bin .. " commit rl-c rl:2")
  expect(rc, out).eq(0)
  expect(as_user(bin .. " run --image rl:2 -- cat /k")).eq("kept\n")
  out, rc = as_user(bin .. " run -d --name rl-d --busybox -- sleep 30")
  expect(rc, out).eq(0)
  expect(as_user(bin .. " ps")).match("rl%-d +running")
  as_user(bin .. " stop rl-d")
  as_user(bin .. " rm rl-d")
  expect(sh("ls " .. home .. "/.local/share/sbx"), "the state under the user's home").contains("images")
end)

test("cleanup", function()
  os.execute("rm -rf " .. home .. " /tmp/sbx-" .. uid)  -- its home, and the runtime dir sbx made for it
  if created then sh("userdel " .. user) end
end)
