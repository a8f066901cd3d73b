-- sbx unshare and sbx nsenter against util-linux's on the same flags (issue 17): the same result,
-- or the same refusal. Persistent namespaces are made inside a private mount namespace of the
-- test's own, so nothing is bound on the host.
local bin = os.getenv("SBX_BIN")
if not bin or not os.getenv("SBX_SOURCE") then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (namespaces of every kind, id maps of ranges)") end
if not (sh("command -v unshare") ~= "" and sh("command -v nsenter") ~= "") then skip_all("util-linux unshare/nsenter missing") end
local S = dofile(os.getenv("SBX_SOURCE") .. "/tests/isolation/lib/scratch.lua")()
local scratch = S.dir

-- the same command through both; (out, rc) of each
local function both(args)
  local a, ra = sh("unshare " .. args)
  local b, rb = sh(bin .. " unshare " .. args)
  return a, ra, b, rb
end

test("nsenter -t PID -- CMD with no namespace named runs CMD, as util-linux's does", function()
  local pid = sbx.sys.getpid()
  local a, ra = sh(("nsenter -t %d -- echo ran"):format(pid))
  local b, rb = sh(("%s nsenter -t %d -- echo ran"):format(bin, pid))
  expect(ra, a).eq(0)
  expect(rb, b).eq(0)
  expect(b).eq(a)
end)

test("unshare -r --map-user=5: the last flag wins (uid 5, gid 0)", function()
  local a, ra, b, rb = both("-r --map-user=5 sh -c 'id -u; id -g'")
  expect(ra, a).eq(0)
  expect(rb, b).eq(0)
  expect(b).eq("5\n0\n")
  expect(b).eq(a)
  a, ra, b, rb = both("--map-user=5 -r id -u")
  expect(b).eq("0\n")
  expect(b).eq(a)
end)

test("unshare -r --setuid 0 --setgid 0 fails on setgroups, as util-linux's", function()
  local a, ra, b, rb = both("-r --setuid 0 --setgid 0 true")
  expect(ra).eq(1)
  expect(rb, b).eq(1)
  expect(a).contains("setgroups failed: Operation not permitted")
  expect(b).contains("setgroups failed: Operation not permitted")
  -- without --setgid (no setgroups call) it works
  a, ra, b, rb = both("-r --setuid 0 id -u")
  expect(rb, b).eq(0)
  expect(b).eq(a)
end)

test("--map-users / --map-groups OUTER,INNER,COUNT: the maps util-linux writes", function()
  local cmd = "--map-users=200000,0,65536 --map-groups=200000,0,65536 cat /proc/self/uid_map /proc/self/gid_map"
  local a, ra, b, rb = both(cmd)
  local function norm(t) return (t:gsub("[ \t]+", " "):gsub("\n ", "\n"):gsub("^ ", "")) end
  expect(rb, b).eq(0)
  expect(norm(b)).eq("0 200000 65536\n0 200000 65536\n")
  if ra == 0 then expect(norm(b)).eq(norm(a)) end
  local out, rc = sh(bin .. " unshare --map-users=1,2 true")
  expect(rc).eq(1)
  expect(out).contains("expected OUTER,INNER,COUNT")
end)

test("--map-auto takes this user's /etc/subuid and /etc/subgid ranges; without one it says so", function()
  local has = sh("grep -c '^root:' /etc/subuid 2>/dev/null"):match("^[1-9]")
  local out, rc = sh(bin .. " unshare --map-auto cat /proc/self/uid_map")
  if has then
    expect(rc, out).eq(0)
    expect(out).match("^%s*0%s+%d+%s+%d+")
  else
    expect(rc).eq(1)
    expect(out).contains("--map-auto: no range for root in /etc/subuid")
  end
end)

test("--keep-caps: a non-root id in the new user namespace keeps its capabilities across exec", function()
  local a, ra, b, rb = both("--map-user=1000 --keep-caps grep CapAmb /proc/self/status")
  expect(rb, b).eq(0)
  expect(b).never_contains("0000000000000000")
  expect(b).eq(a)
  a, ra, b, rb = both("--map-user=1000 grep CapAmb /proc/self/status")
  expect(b).contains("0000000000000000")
  expect(b).eq(a)
end)

test("unshare --net=FILE makes a persistent namespace, nsenter --net=FILE enters it (in a private mount namespace)", function()
  local f = scratch .. "/netns"
  -- (the whole test inside a mount namespace of its own, private: the bind never reaches the host)
  local script = ([[
set -e
touch %s
%s unshare --net=%s ip link set lo up
grep -c ' %s ' /proc/self/mountinfo
%s nsenter --net=%s ip -br link show lo
umount %s
%s unshare --net=%s/missing true 2>&1 || echo "rc=$?"
%s nsenter --net=/proc/self/ns/uts true 2>&1 || echo "rc=$?"
]]):format(f, bin, f, f, bin, f, f, bin, scratch, bin)
  local out, rc = sh("unshare -m --propagation private sh -c '" .. script:gsub("'", "'\\''") .. "'")
  expect(rc, out).eq(0)
  expect(out).match("^1\nlo +UNKNOWN +[%x:]+ <LOOPBACK,UP,LOWER_UP>")
  expect(out).contains("sbx unshare: mount /proc/")
  expect(out).contains("/missing failed: No such file or directory\nrc=1\n")
  expect(out).contains("not a namespace of that kind")
  expect(sh("grep -c " .. f .. " /proc/self/mountinfo")).eq("0\n")
end)

test("cleanup", function()
  assert(S.remove())
end)
