-- Everyday use (issue 17, "wrong today"): each case is one thing a new user met that was wrong,
-- named by its item in the issue, run as that user ran it.
local bin, src = os.getenv("SBX_BIN"), os.getenv("SBX_SOURCE")
if not bin or not src then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (bridges, sandboxes on the busybox root)") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local me = sbx.sys.getpid()
local S = dofile(src .. "/tests/isolation/lib/scratch.lua")()
local scratch = S.dir
local file = S.file


test("1: sbx audit says unknown, not own, for a namespace whose host side cannot be read", function()
  local name = "audit-" .. me
  local out, rc = sh(("%s run -d --name %s --busybox -- sleep 30"):format(bin, name))
  expect(rc, out).eq(0)
  local text = sh(bin .. " audit " .. name)
  sh(bin .. " rm -f " .. name)
  -- (no --time: the sandbox shares the host's time namespace)
  local readable = sh("readlink /proc/1/ns/time"):match("^time:")
  expect(text).contains(readable and "time=HOST" or "time=unknown")
  expect(text).never_contains("time=own")
  expect(text).contains("pid=" .. (readable and "own" or "unknown"))
end)

test("2: output printed before a fork is written once (stdio flushed before every fork)", function()
  local out, rc = sh(bin .. [[ -e 'print("before"); local c = sbx.sys.clone{ ns = { "uts" }, fn = function() return 0 end }; c:wait()' | cat]])
  expect(rc, out).eq(0)
  expect(out).eq("before\n")
  out = sh(bin .. [[ -e 'io.write("partial "); assert(sbx.container{}:run{ "/bin/true" }); print("after")' | cat]])
  expect(out, "a sandbox's spawn").eq("partial after\n")
end)

test("3: pretty and help in sbx FILE.lua, sbx -e and piped stdin", function()
  local script = file("pretty.lua", 'print(pretty({ 1, a = { b = true } }))\n')
  expect(sh(bin .. " " .. script)).eq("{ 1, a = { b = true } }\n")
  expect(sh(bin .. [[ -e 'print(pretty(sbx.version ~= nil))']])).eq("true\n")
  expect(sh("echo 'print(pretty({ x = 1 }))' | " .. bin)).eq("{ x = 1 }\n")
  expect(sh(bin .. [[ -e 'help(sbx.container)']])).match("^sbx%.container{")
end)

test("4: --share-pid on a root of its own still has a /proc (the host's, as bwrap gives)", function()
  local out, rc = sh(bin .. " run --busybox --share-pid -- sh -c 'test -r /proc/1/status && echo has-proc; ps | wc -l'")
  expect(rc, out).eq(0)
  expect(out).contains("has-proc\n")
  expect(tonumber(out:match("\n(%d+)\n$")) > 2, "ps lists the host's processes").eq(true)
end)

test("5: a bind under a symlinked directory (/data -> /etc) of a fresh read-only root lands in /etc", function()
  local root = scratch .. "/root5"
  assert(os.execute(("cp -a %s %s && ln -s /etc %s/data && echo bound > %s/h5"):format(sbx.rootfs.busybox(), root, root, scratch)) == 0)
  local out, rc = sh(("%s run --rootfs %s --bind %s/h5:/data/h5 -- sh -c 'readlink /data; cat /etc/h5'"):format(bin, root, scratch))
  expect(rc, out).eq(0)
  expect(out).eq("/etc\nbound\n")
  expect(io.open(root .. "/etc/h5"), "nothing written into the root").eq(nil)
end)

test("7: --share-net with -p is refused, not a new network made silently", function()
  local out, rc = sh(bin .. " run --busybox --share-net -p 127.0.0.1:18999:80 -- true")
  expect(rc, out).eq(2)
  expect(out).contains("--share-net with -p")
  expect(out).contains("the host's network")
end)

test("8: sbx test: sh() of a command that exits is its output and status; skips are counted as skips, exit 77 when all skip", function()
  local t = file("t_sh.lua", [[
test("sh", function()
  local out, rc = sh("echo hi; exit 3")
  expect(out).eq("hi\n")
  expect(rc).eq(3)
  local _, rc2 = sh("true")
  expect(rc2).eq(0)
end)
test("skipped", function() skip("a reason") end)
]])
  local out, rc = sh(bin .. " test " .. t)
  expect(rc, out).eq(0)
  expect(out).contains("ok 2 - t_sh: skipped # SKIP a reason\n")
  expect(out).contains("# 1 passed, 1 skipped, 0 failed\n")
  local all = file("t_skip.lua", 'if true then skip_all("nothing here") end\ntest("never", function() error("ran") end)\n')
  out, rc = sh(bin .. " test " .. all)
  expect(rc, out).eq(77)
  expect(out).contains("1..1\nok 1 - t_skip: (every case) # SKIP nothing here\n")
  expect(out).contains("# 0 passed, 1 skipped, 0 failed\n")
  -- skip_all ends the file's top-level code: the set-up after it never runs
  local marker = scratch .. "/after-skip"
  local later = file("t_later.lua", ('skip_all("not here")\nio.open(%q, "w"):close()\n'):format(marker))
  out, rc = sh(bin .. " test " .. later)
  expect(rc, out).eq(77)
  expect(io.open(marker), "top-level code after skip_all ran").eq(nil)
end)

test("9: --timeout below or at 0 is refused; box:run's timeout too; a tmpfs of size 0 is refused", function()
  for _, v in ipairs({ "-3", "0", "x" }) do
    local out, rc = sh(bin .. " run --busybox --timeout " .. v .. " -- true")
    expect(rc, v .. ": " .. out).eq(2)
    expect(out).contains("--timeout " .. v .. ": expected a number of seconds above 0")
  end
  local out = sh(bin .. " run --busybox --timeout 0.5 -- sleep 5")
  expect(out).contains("timed out after 0.5s")
  expect_error(function() sbx.container{}:run{ "/bin/true", timeout = 0 } end, "timeout: expected seconds above 0")
  out = sh(bin .. " run --busybox --tmpfs /d:0 -- true")
  expect(out).contains("size 0 would mean no limit")
end)

test("11: a bridged -d --name without --hostname: hostname and /etc/hostname agree", function()
  local name = "host-" .. me
  local out, rc = sh(("%s run -d --name %s --busybox --net bridge -- sleep 30"):format(bin, name))
  expect(rc, out).eq(0)
  out = sh(("%s exec %s sh -c 'hostname; cat /etc/hostname'"):format(bin, name))
  sh(bin .. " rm -f " .. name)
  expect(out).eq(name .. "\n" .. name .. "\n")
end)

test("12: EOF on stdin reaches a pty's payload: echo CMD | sbx run -t -- sh ends", function()
  local out, rc = sh("echo 'echo from-pipe' | timeout -k 5 20 " .. bin .. " run --busybox -t -- sh")
  expect(rc, out).eq(0)
  expect(out).contains("from-pipe")
end)

test("13: a sandbox stopped by TERM: the same status in Lua and sbx ps (exited, 143)", function()
  local name = "term-" .. me
  local out, rc = sh(("%s run -d --name %s --busybox -- sleep 30"):format(bin, name))
  expect(rc, out).eq(0)
  sh(bin .. " stop -t 2 " .. name)
  local s = assert(sbx.get(name))
  expect(s.status).eq("exited")
  expect(s.exit_code).eq(143)
  expect(s.signal).eq(15)
  expect(sh(bin .. " ps -a")).match(name:gsub("%p", "%%%0") .. " +exited %(143%)")
  sh(bin .. " rm " .. name)
  -- the docs' cgroup snippet: portable words work on both versions; a file of the other version's
  -- name says what this host calls it
  local cg = assert(sbx.cgroup.create{ name = "everyday-" .. me, limits = { memory = "64M" } })
  local ok, lerr = cg:limit{ memory = "48M" }
  local v2 = sbx.cgroup.layout().layout == "2"
  local _, err = cg:set(v2 and "memory.limit_in_bytes" or "memory.max", "32M")
  cg:remove()
  expect(ok, lerr).eq(true)
  expect(err).contains(v2 and "names it memory.max" or "names it memory.limit_in_bytes")
end)

test("14: the prompt shows the last expression of statements, and a lone expression is an error, not a continuation", function()
  local repl = require "sbx.repl"
  local chunk = assert(repl.compile("t = { a = 1 }; t.self = t; t"))
  expect(repl.pretty(chunk())).eq("{ a = 1, self = <cycle> }")
  local f, err = repl.compile("undefined_name")
  expect(f ~= nil, "an expression").eq(true)
  f, err = repl.compile("x y")
  expect(f).eq(nil)
  expect(err).never_contains("incomplete")
  local _, why = repl.compile("for i = 1, 2 do")
  expect(why, "an open block still continues").eq("incomplete")
end)

test("15: docs/networking.md's -d example prints what sbx prints", function()
  local doc = io.open(src .. "/docs/networking.md"):read("*a")
  local cmd, shown = doc:match("\n%$ (sbx run %-%-busybox %-%-name web [^\n]+ %-d %-%- [^\n]+)\n(sbx: running[^\n]+\n[^\n]+\n[^\n]+)\n")
  expect(cmd ~= nil, "the example in docs/networking.md").eq(true)
  local name, port = "doc-" .. me, 20000 + me % 20000
  local out, rc = sh(bin .. " " .. cmd:sub(5):gsub("%-%-name web", "--name " .. name):gsub("127%.0%.0%.1:8080:80", "127.0.0.1:" .. port .. ":80"))
  sh(bin .. " rm -f " .. name)
  expect(rc, out).eq(0)
  local function shape(text)
    return (text:gsub("%d+%.%d+%.%d+%.%d+", "IP"):gsub("%d+", "N"):gsub("%-?doc%-N", "NAME"):gsub("web", "NAME"):gsub("%s+$", ""))
  end
  expect(shape(out)).eq(shape(shown))
end)

test("16: sbx0's subnet is chosen clear of the host's routes (never podman's 10.88.0.0/16); a clashing one asked for is refused naming the interface", function()
  if not io.popen("command -v ip"):read("*l") then return skip("iproute2 is not installed") end
  local SUB = assert(sbx.net.subnet())
  expect(SUB, "not podman's default").ne("10.88.0.0/16")
  expect(#sbx.net.subnet_clashes(SUB), "the chosen subnet is clear here").eq(0)
  -- in a network and mount namespace of the test's own (sbx's runtime state on a tmpfs there): a
  -- bridge of another tool on the subnet sbx would choose, as podman's cni-podman0 on 10.88.0.0/16
  local out = scratch .. "/clash.out"
  local c = assert(sbx.sys.clone{ ns = { "net", "mnt" }, fn = function()
    local function run(cmd) os.execute(cmd .. " >> " .. out .. " 2>&1") end
    assert(sbx.sys.mount("tmpfs", "/run/sbx", "tmpfs", nil, "mode=755"))
    run("ip link set lo up && ip link add clash0 type bridge && ip addr add 10.199.0.1/16 dev clash0 && ip link set clash0 up")
    run("echo chosen=$(" .. bin .. [[ -e 'io.write(sbx.net.subnet())')]])
    -- asking wrote nothing down; a bridge's start does
    run("test -e /run/sbx/net/ipam/default-subnet && echo remembered-by-asking || echo not-remembered")
    run(bin .. " run --busybox --net bridge -- ip -4 -o addr show eth0")
    run("echo remembered=$(cat /run/sbx/net/ipam/default-subnet)")
    run(bin .. [[ -e 'local st, err = sbx.container{ rootfs = sbx.rootfs.busybox(), net = { subnet = "10.199.0.0/16" } }:run{ "true" }; print("asked:", err)']])
    return 0
  end })
  c:wait()
  local text = io.open(out):read("*a")
  expect(text, "another subnet chosen").contains("chosen=10.198.0.0/16\n")
  expect(text, "sbx.net.subnet() wrote the choice down").contains("not-remembered\n")
  expect(text).contains("remembered=10.198.0.0/16\n")
  expect(text, "the sandbox's address in it").match("eth0%s+inet 10%.198%.0%.%d+/16")
  expect(text).contains("asked:\tspawn: bridge sbx0: subnet 10.199.0.0/16 overlaps the host's route 10.199.0.0/16 on clash0")
end)

test("errors in the user's words: an unknown subcommand says so, suggests, lists the commands (exit 2)", function()
  for cmd, hint in pairs({ pull = "sbx image import", images = "sbx image ls", version = "sbx --version" }) do
    local out, rc = sh(bin .. " " .. cmd)
    expect(rc, out).eq(2)
    expect(out).contains("sbx: '" .. cmd .. "' is not an sbx command (" .. hint)
    expect(out).contains("usage: sbx ")
    expect(out).never_contains("cannot open")
  end
  local out, rc = sh(bin .. " ./no-such-script.lua")
  expect(rc, out).eq(1)
  expect(out).contains("cannot open ./no-such-script.lua")
end)

test("sbx CMD --help for every command and subcommand: its usage, exit 0, nothing done", function()
  for _, c in ipairs({ "run", "unshare", "nsenter", "image", "image ls", "image import", "image export", "image prune",
                       "image rm", "commit", "gc", "ps", "inspect", "logs", "exec", "stop", "kill", "rm", "stats",
                       "doctor", "diff", "promote", "discard", "audit", "test", "probe", "oci", "wait", "port", "top",
                       "pause", "unpause", "rename", "events", "cp", "completion" }) do
    local out, rc = sh(bin .. " " .. c .. " --help")
    expect(rc, c .. ": " .. out).eq(0)
    expect(out, c).match("^usage: ")
    expect(out, c .. " --help did something").never_contains("removed ")
    expect(out, c).never_contains("unknown option")
  end
end)

test("cleanup", function()
  assert(S.remove())
end)
