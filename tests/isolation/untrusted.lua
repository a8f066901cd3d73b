-- recipes/untrusted.lua (issue 16, part 5): a deliberately nosy tool on a project — it reads
-- secrets, calls home by name and by address, rewrites and deletes files, plants a symlink to /etc
-- and writes through it, sets a setuid bit and forks past its limit — and every outcome checked:
-- what it saw, what reached the network, what the host's directory holds after promote, discard,
-- keep and an interactive choice (in tmux). The outside is web servers on the sbx0 bridge and a
-- DNS stand-in on the host's loopback, all made here.
local bin, src = os.getenv("SBX_BIN"), os.getenv("SBX_SOURCE")
if not bin or not src then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("the bridge and the test's home need root") end
local root = sbx.rootfs.busybox()
if not root then skip_all("needs the busybox rootfs") end
if not require("sbx.core").net.nft_in then skip_all("this build has no nftables") end
for _, tool in ipairs({ "bash", "wget" }) do
  if not io.popen("command -v " .. tool):read("*l") then skip_all(tool .. " is not installed on the host") end
end
local me = sbx.sys.getpid()
local recipe = src .. "/recipes/untrusted.lua"
local base = "/var/tmp/sbx-test-ut-" .. me
local fake = "/home/sbx-test-ut-" .. me
local env = ("env SBX_STATE=%s "):format(os.getenv("SBX_STATE") or "")

local function sh_out(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1; echo \"::rc=$?\"")
  local out = p:read("*a")
  p:close()
  local text, rc = out:match("^(.*)::rc=(%d+)\n$")
  return text, tonumber(rc)
end

-- the outside: pkg.test (allowed) and home.test (the tool's "home", never allowed)
local outside = dofile(src .. "/tests/isolation/lib/outside.lua")
local PKG, HOME = outside.web("package-index"), outside.web("collected")
local dns_log = base .. "/dns.log"
assert(os.execute(("mkdir -p %s %s/.ssh && echo private-key > %s/.ssh/id_ed25519 && chmod -R a+rX %s"):format(base, fake, fake, fake)) == 0)
local dns = outside.fork(function(name)
  return ({ ["pkg.test"] = PKG, ["home.test"] = HOME })[name]
end, dns_log)

local NOSY = base .. "/nosy.sh"
local f = assert(io.open(NOSY, "w"))
f:write(([[#!/bin/bash
echo "home=$HOME entries=$(ls -A "$HOME" | wc -l)"
echo "key-bytes=$(cat %s/.ssh/id_ed25519 2>/dev/null | wc -c)"
wget -q -T 3 -O- http://pkg.test/ && echo allowed=ok
wget -q -T 3 -O- http://home.test/ > /dev/null 2>&1; echo home-name=$?
(exec 3<>/dev/tcp/%s/80) 2>/dev/null; echo home-ip=$?
echo rewritten > README; rm gone; chmod 4755 main.c
ln -s /etc planted; (echo evil > planted/evil) 2>/dev/null; echo through-link=$?
mkdir -p new && echo n > new/file
sh -c 'for i in $(seq 40); do sleep 3 & done; echo forked-all' 2>/dev/null || echo fork-refused
exit 3
]]):format(fake, HOME))
f:close()
assert(os.execute("chmod 755 " .. NOSY) == 0)

local function project(name)
  local dir = base .. "/" .. name
  assert(os.execute(("rm -rf %s && mkdir -p %s && cd %s && echo hello > README && echo old > gone && echo 'int main(){}' > main.c"):format(dir, dir, dir)) == 0)
  return dir
end

local function tree(dir)
  return sh_out(("cd %s && find . -mindepth 1 -printf '%%p %%y %%m %%l\\n' | sort"):format(dir))
end

local function untrusted(flags, dir)
  return sh_out(("%s%s %s --allow pkg.test:80 --dns 127.0.0.1:%d --pids 20 %s %s -- %s < /dev/null"):format(
    env, bin, recipe, dns.port, flags, dir, NOSY))
end

test("--promote: secrets unseen, only the allowed host reached, limits held; the changes applied safely", function()
  local dir = project("p1")
  local out, rc = untrusted("--promote", dir)
  expect(rc, out).eq(3)
  expect(out, "a fresh, empty home").contains("home=/root entries=0\n")
  expect(out, "another home's key").contains("key-bytes=0\n")
  expect(out, "the allowed host").contains("package-index\nallowed=ok\n")
  expect(out, "home by name").contains("home-name=4\n")
  expect(out, "home by address").contains("home-ip=1\n")
  expect(out, "the host's /etc through the planted link").contains("through-link=1\n")
  expect(out, "the process limit").contains("fork-refused\n")
  expect(out).contains("exited with status 3")
  expect(out, "the refusals reported").contains("network refused: ")
  expect(out).contains("name home.test")
  expect(out).contains(HOME .. " tcp/80")
  expect(out).contains("A  planted  symlink -> /etc\n")
  expect(out).contains("setuid/setgid (dropped on promote)")
  expect(out).contains("promoted 6 changes to " .. dir)
  expect(sh_out("cat " .. dir .. "/README")).eq("rewritten\n")
  expect(tree(dir)).eq("./README f 644 \n./main.c f 755 \n./new d 755 \n./new/file f 644 \n./planted l 777 /etc\n")
  expect(io.open("/etc/evil"), "/etc written").eq(nil)
  local asked = io.open(dns_log):read("*a")
  expect(asked, "names the resolver was asked").contains("pkg.test")
  expect(asked, "a name never allowed never reaches the resolver").never_contains("home.test")
  expect(sh_out(env .. bin .. " diff"), "nothing kept after promoting everything").never_contains(dir)
end)

test("--discard leaves the project as it was; neither: the changes kept for sbx diff/promote/discard", function()
  local dir = project("p2")
  local before = tree(dir)
  local out, rc = untrusted("--discard", dir)
  expect(rc, out).eq(3)
  expect(out).contains("discarded; " .. dir .. " is as it was")
  expect(tree(dir)).eq(before)
  out, rc = untrusted("--name ut-" .. me, dir)
  expect(rc, out).eq(3)
  expect(out).contains("kept in workspace ut-" .. me .. ": sbx diff ut-" .. me)
  expect(tree(dir)).eq(before)
  expect(sh_out(env .. bin .. " diff ut-" .. me)).contains("M  README  6 -> 10 bytes\n")
  expect(sh_out(env .. bin .. " discard ut-" .. me)).eq("discarded ut-" .. me .. "\n")
end)

test("at a terminal it asks: one change promoted, the rest kept", function()
  local dir = project("p3")
  local t = assert(terminal(("%s%s %s --no-limits %s -- sh -c 'echo rewritten > README; rm gone'"):format(env, bin, recipe, dir),
                            { width = 160, height = 40 }))
  t:wait("keep for later %(k%)%?$", 20)
  t:line("c")
  t:wait("M  README  6 %-> 10 bytes  promote%? %[y/N%]$")
  t:line("y")
  t:wait("D  gone  file  promote%? %[y/N%]$")
  t:line("")
  local screen = t:wait("the rest stay in workspace")
  t:close()
  expect(screen).contains("promoted README")
  expect(sh_out("cat " .. dir .. "/README")).eq("rewritten\n")
  expect(io.open(dir .. "/gone") ~= nil, "not chosen: still on the host").eq(true)
  local name = screen:match("the rest stay in workspace (%S+)")
  expect(sh_out(env .. bin .. " diff " .. name)).eq("D  gone  file\n")
  sh_out(env .. bin .. " discard " .. name)
end)

test("usage errors change nothing", function()
  local dir = project("p4")
  for _, args in ipairs({ "", dir, "--promote --discard " .. dir .. " -- true", "--dns 1.1.1.1 " .. dir .. " -- true",
                          "--no-limits --pids 3 " .. dir .. " -- true", "--bogus " .. dir .. " -- true" }) do
    local out, rc = sh_out(("%s%s %s %s"):format(env, bin, recipe, args))
    expect(rc, args .. ": " .. out).eq(2)
    expect(out, args).contains("usage: sbx recipes/untrusted.lua")
  end
  local out, rc = sh_out(("%s%s %s %s/nosuch -- true"):format(env, bin, recipe, base))
  expect(rc, out).eq(2)
  expect(out).contains("untrusted.lua: workspace.dir: realpath " .. base .. "/nosuch: No such file or directory")
end)

test("cleanup", function()
  dns:close()
  outside.stop_web()
  assert(os.execute(("rm -rf %s %s"):format(base, fake)) == 0)
end)
