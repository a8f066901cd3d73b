-- The lifecycle commands docker and podman users reach for (issue 17): logs --tail/--since/-t with
-- stdout and stderr kept apart, wait, port, top, pause/unpause, rename, events, cp (never through
-- a link out of the sandbox's root), ps --format json, stats' limit column, and persistent image
-- containers in ps -a and rm. Each on real detached sandboxes.
local bin, probe = os.getenv("SBX_BIN"), os.getenv("SBX_PROBE")
if not bin or not os.getenv("SBX_SOURCE") then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (detached sandboxes with limits, bridges)") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local me = sbx.sys.getpid()
local S = dofile(os.getenv("SBX_SOURCE") .. "/tests/isolation/lib/scratch.lua")()
local scratch = S.dir
local made = {}
local function name(n)
  local full = ("cmd-%s-%d"):format(n, me)
  made[#made + 1] = full
  return full
end
-- (a name in a Lua pattern: its "-" is not a quantifier)
local function esc(s) return (s:gsub("%p", "%%%0")) end
local function start(n, flags, cmd)
  local out, rc = sh(("%s run -d --name %s --busybox %s -- sh -c '%s'"):format(bin, n, flags or "", cmd:gsub("'", "'\\''")))
  expect(rc, out).eq(0)
end
local function gone(n) sh(bin .. " rm -f " .. n) end
local ticker = "echo out1; echo err1 >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"

test("logs: stdout and stderr kept apart, --tail N, --timestamps, --since", function()
  local n = name("logs")
  -- (apart in time: two pipes keep no order between them, as docker's do not)
  start(n, "", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; sleep 0.1; echo four >&2; sleep 30")
  sh("sleep 0.8")
  expect(sh(bin .. " logs " .. n .. " 2>/dev/null")).eq("one\nthree\n")
  expect(sh(bin .. " logs " .. n .. " 2>&1 >/dev/null")).eq("two\nfour\n")
  expect(sh(bin .. " logs --tail 1 " .. n .. " 2>&1")).eq("four\n")
  expect(sh(bin .. " logs -n 2 " .. n .. " 2>/dev/null")).eq("three\n")
  local stamped = sh(bin .. " logs -t " .. n .. " 2>/dev/null")
  expect(stamped).match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d+Z one\n%S+ three\n$")
  expect(sh(bin .. " logs --since 1h " .. n .. " 2>/dev/null")).eq("one\nthree\n")
  expect(sh(bin .. " logs --since " .. (os.time() + 3600) .. " " .. n .. " 2>&1")).eq("")
  local out, rc = sh(bin .. " logs --tail x " .. n)
  expect(rc).eq(2)
  expect(out).contains("--tail x: expected a number of lines")
  gone(n)
end)

test("logs -f follows until the sandbox ends; what it wrote last is there once it has ended", function()
  local n = name("follow")
  start(n, "", "for i in 1 2 3; do echo line $i; sleep 0.2; done; echo last")
  local out, rc = sh("timeout -k 1 20 " .. bin .. " logs -f " .. n)
  expect(rc, out).eq(0)
  expect(out).eq("line 1\nline 2\nline 3\nlast\n")
  gone(n)
end)

test("wait prints the exit code once it has ended; port, top", function()
  local n = name("wait")
  start(n, "", "sleep 0.3; exit 7")
  local out, rc = sh(bin .. " wait " .. n)
  expect(rc, out).eq(0)
  expect(out).eq("7\n")
  gone(n)
  local port = 20000 + me % 20000
  n = name("port")
  start(n, ("-p 127.0.0.1:%d:80"):format(port), "sleep 30")
  expect(sh(bin .. " port " .. n)).eq(("80/tcp -> 127.0.0.1:%d\n"):format(port))
  expect(sh(bin .. " port " .. n .. " 80")).eq(("127.0.0.1:%d\n"):format(port))
  out, rc = sh(bin .. " port " .. n .. " 81")
  expect(rc).eq(1)
  expect(out).contains("no published port 81/tcp")
  out = sh(bin .. " top " .. n)
  expect(out).match("^PID +PPID +UID +COMMAND\n")
  expect(out).contains("sleep 30")
  expect(out).contains("sbx-init")
  gone(n)
end)

test("pause stops every process (with a cgroup: the freezer; without: SIGSTOP), unpause goes on", function()
  for _, flags in ipairs({ "", "-m 64M" }) do
    local n = name("pause")
    start(n, flags, ticker)
    sh("sleep 0.4")
    expect(select(2, sh(bin .. " pause " .. n))).eq(0)
    expect(sh(bin .. " ps")).match(esc(n) .. " +paused ")
    sh("sleep 0.3")
    local before = #sh(bin .. " logs " .. n .. " 2>/dev/null")
    sh("sleep 1")
    expect(#sh(bin .. " logs " .. n .. " 2>/dev/null"), flags .. ": output while paused").eq(before)
    local out, rc = sh(bin .. " pause " .. n)
    expect(rc).eq(1)
    expect(out).contains("is paused")
    expect(select(2, sh(bin .. " unpause " .. n))).eq(0)
    sh("sleep 0.5")
    expect(#sh(bin .. " logs " .. n .. " 2>/dev/null") > before, flags .. ": output after unpause").truthy()
    expect(sh(bin .. " ps")).match(esc(n) .. " +running ")
    gone(n)
  end
end)

test("rename a running sandbox: the new name works for every command, the old is free after rm", function()
  local a, b = name("old"), name("new")
  start(a, "", "sleep 30")
  expect(select(2, sh(bin .. " rename " .. a .. " " .. b))).eq(0)
  local ps = sh(bin .. " ps")
  expect(ps).contains(b)
  expect(ps).never_contains(a)
  expect(sh(bin .. " exec " .. b .. " echo hi")).eq("hi\n")
  local out, rc = sh(bin .. " exec " .. a .. " true")
  expect(rc).eq(1)
  expect(out).contains("renamed to " .. b)
  expect(sh(bin .. " inspect " .. b)).contains('"name": "' .. b .. '"')
  out, rc = sh(bin .. " stop " .. b)
  expect(rc, out).eq(0)
  expect(sh(bin .. " ps -a")).match(esc(b) .. " +exited %(143%)")
  gone(b)
  -- both names free again
  start(a, "", "true")
  sh(bin .. " wait " .. a)
  gone(a)
end)

test("events: a line per start and exit, and oom, as they happen", function()
  local log = scratch .. "/events"
  local pid = tonumber((sh(("%s events --until 60s > %s 2>&1 & echo $!"):format(bin, log))))
  sh("sleep 0.5")
  local n = name("ev")
  start(n, "", "sleep 0.3; exit 3")
  sh(bin .. " wait " .. n)
  local o = name("oom")
  local out, rc = sh(("%s run -d --name %s --busybox -m 16M --ro-bind %s:/probe -- /probe hog 256"):format(bin, o, probe))
  expect(rc, out).eq(0)
  sh(bin .. " wait " .. o)
  sh("sleep 0.5")
  local text = io.open(log):read("*a")
  expect(text).match("%d%d:%d%d:%d%dZ start " .. esc(n) .. "\n")
  expect(text).match("%d%d:%d%d:%d%dZ exit " .. esc(n) .. " 3\n")
  expect(text).match("Z start " .. esc(o) .. "\n.*Z oom " .. esc(o) .. " %(%d+ killed%)\n.*Z exit " .. esc(o) .. " 137\n")
  sbx.sys.kill(pid, 15)
  for _ = 1, 100 do  -- (not this process's child: gone once its /proc entry is)
    if not io.open("/proc/" .. pid .. "/stat") then break end
    require("sbx.core").sleep(0.05)
  end
  -- --since shows what was recorded before
  expect(sh(bin .. " events --since 1h --until 1s")).contains("exit " .. n .. " 3")
  gone(n)
  gone(o)
end)

test("cp in and out: trees, owners as each side has them, a planted link copied as a link and never followed", function()
  local n = name("cp")
  start(n, "", "mkdir -p /tmp/d/sub; echo a > /tmp/d/a; chmod 4755 /tmp/d/a; ln -s /etc/shadow /tmp/d/evil; ln -s / /tmp/up; sleep 30")
  sh("sleep 0.3")
  -- out: the tree, the link as a link, setuid dropped, owned by the caller
  local dest = scratch .. "/out"
  local out, rc = sh(bin .. " cp " .. n .. ":/tmp/d " .. dest)
  expect(rc, out).eq(0)
  expect(sh("cat " .. dest .. "/a")).eq("a\n")
  expect(sh("stat -c %a:%u " .. dest .. "/a")).eq("755:0\n")
  expect(sh("readlink " .. dest .. "/evil")).eq("/etc/shadow\n")
  expect(sh("test -d " .. dest .. "/sub && echo dir")).eq("dir\n")
  -- a path through a link resolves inside the sandbox's root, never the host's
  out = sh(bin .. " cp " .. n .. ":/tmp/up/etc/passwd " .. scratch .. "/passwd")
  expect(sh("cat " .. scratch .. "/passwd")).eq((require("sbx.core").read_file(sbx.rootfs.busybox() .. "/etc/passwd")))
  out, rc = sh(bin .. " cp " .. n .. ":/tmp/d/evil/../../etc/shadow " .. scratch .. "/shadow")
  expect(rc).eq(1)
  expect(io.open(scratch .. "/shadow")).eq(nil)
  -- in: owned by the sandbox's root inside, into an existing directory by its name
  sh(("mkdir -p %s/in/x && echo y > %s/in/x/y && echo f > %s/file"):format(scratch, scratch, scratch))
  expect(select(2, sh(bin .. " cp " .. scratch .. "/in " .. n .. ":/tmp/"))).eq(0)
  expect(select(2, sh(bin .. " cp " .. scratch .. "/file " .. n .. ":/tmp/renamed"))).eq(0)
  expect(sh(bin .. " exec " .. n .. " sh -c 'cat /tmp/in/x/y /tmp/renamed; stat -c %u:%g /tmp/in/x/y'")).eq("y\nf\n0:0\n")
  -- in through a planted link: lands inside the sandbox (its /), not on the host's /
  expect(select(2, sh(bin .. " cp " .. scratch .. "/file " .. n .. ":/tmp/up/tmp/via-link"))).eq(0)
  expect(sh(bin .. " exec " .. n .. " cat /tmp/via-link")).eq("f\n")
  expect(io.open("/tmp/via-link")).eq(nil)
  out, rc = sh(bin .. " cp a b")
  expect(rc).eq(2)
  gone(n)
end)

test("ps --format json, stats' limit column, persistent image containers in ps -a and rm", function()
  local n = name("json")
  start(n, "-m 64M --pids 20", "sleep 30")
  local list = sbx.json.decode(sh(bin .. " ps --format json"))
  local found
  for _, s in ipairs(list) do if s.name == n then found = s end end
  expect(found and found.status).eq("running")
  expect(type(found.pid)).eq("number")
  local stats = sh(bin .. " stats --no-stream " .. n)
  expect(stats).match("NAME +CPU +MEMORY +LIMIT +PEAK +PIDS +MAX\n")
  expect(stats).match(esc(n) .. " .* 64%.0MiB .* 20\n")
  gone(n)
  -- an image container kept by name
  local tag = "cmds-" .. me .. ":1"
  expect(select(2, sh(bin .. " image from-dir " .. sbx.rootfs.busybox() .. " " .. tag))).eq(0)
  local c = name("keep")
  local out, rc = sh(("%s run --image %s --name %s -- sh -c 'echo kept > /kept'"):format(bin, tag, c))
  expect(rc, out).eq(0)
  expect(sh(bin .. " ps -a")).match(esc(c) .. " +stopped ")
  expect(sh(bin .. " ps -a -q")).contains(c .. "\n")
  out, rc = sh(bin .. " rm " .. c)
  expect(rc, out).eq(0)
  expect(sh(bin .. " ps -a")).never_contains(c)
  out, rc = sh(bin .. " rm " .. c)
  expect(rc).eq(1)
  sh(bin .. " image rm " .. tag)
end)

test("unknown options are refused by every sandbox command (exit 2, nothing done); kill -s SIG as docker's", function()
  local n = name("opts")
  start(n, "", "sleep 30")
  for _, c in ipairs({ "ps --bogus", "inspect --bogus " .. n, "logs --bogus " .. n, "stop --bogus " .. n, "rm --bogus " .. n,
                       "kill --bogus " .. n, "wait --bogus " .. n, "top --bogus " .. n, "pause --bogus " .. n, "cp --bogus a b",
                       "events --bogus", "gc --bogus", "commit --bogus x", "audit --bogus", "test --bogus",
                       "diff --bogus", "promote --bogus", "discard --bogus", "image ls --bogus", "completion --bogus" }) do
    local out, rc = sh(bin .. " " .. c)
    expect(rc, c .. ": " .. out).eq(2)
  end
  expect(sh(bin .. " ps")).match(esc(n) .. " +running ")
  local out, rc = sh(bin .. " kill -s TERM " .. n)
  expect(rc, out).eq(0)
  expect(sh(bin .. " wait " .. n)).eq("143\n")
  gone(n)
end)

test("cleanup", function()
  for _, n in ipairs(made) do sh(bin .. " rm -f " .. n .. " >/dev/null 2>&1") end
  sh(bin .. " image rm cmds-" .. me .. ":1 >/dev/null 2>&1")
  assert(S.remove())
end)
