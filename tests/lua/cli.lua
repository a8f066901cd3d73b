-- The one-liners as a user types them: sbx run, sbx unshare, sbx nsenter, -e, scripts.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("SBX_BIN is not set (run through ctest)") end
local root = sbx.rootfs.busybox()


local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

test("--version, --help, -e, script files", function()
  local out, rc = sh(bin .. " --version")
  expect(rc).eq(0)
  expect(out).match("^sbx %d+%.%d+")
  out, rc = sh(bin .. " --help")
  expect(out).contains("sbx run")
  out, rc = sh(bin .. " -e " .. q("print(type(sbx.container), ...)") .. " a b")
  expect(out).eq("function\ta\tb\n")
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("print(arg[1]); return 3\n")
  f:close()
  out, rc = sh(bin .. " " .. path .. " hello")
  os.remove(path)
  expect(out).eq("hello\n")
  expect(rc).eq(3)
  out, rc = sh("echo 'print(1+1)' | " .. bin)
  expect(out).eq("2\n")
end)

test("sbx run: payload exit status, 128+N for a signal, 125 for a setup error, 2 for a usage error", function()
  if not root then skip("no busybox rootfs") end
  local _, rc = sh(bin .. " run --busybox -- sh -c 'exit 5'")
  expect(rc).eq(5)
  _, rc = sh(bin .. " run --busybox -- sh -c 'kill -TERM $$'")
  expect(rc).eq(143)
  local out
  out, rc = sh(bin .. " run --busybox --bind /nonexistent-sbx:/data -- true")
  expect(rc).eq(125)
  expect(out).eq("sbx run: bind /nonexistent-sbx on /data: No such file or directory\n")
  out, rc = sh(bin .. " run --busybox --frobnicate -- true")
  expect(rc).eq(2)  -- a usage error: nothing was done
  expect(out).contains("unknown option --frobnicate")
end)

test("sbx run: flags fill the spec (hostname, env, cwd, binds, tmpfs, uid)", function()
  if not root then skip("no busybox rootfs") end
  local out, rc = sh(bin .. " run --busybox --hostname hb --env FOO=bar --cwd /tmp --tmpfs /scratch:1M" ..
    " --ro-bind /etc/hostname:/tmp/hn --uid 1000 --gid 1000 -- sh -c " ..
    q("hostname; echo $FOO; pwd; id -u; id -g; df /scratch | tail -1 | awk '{print $2}'; test -r /tmp/hn && echo bound; touch /tmp/hn 2>/dev/null || echo ro"))
  expect(rc, out).eq(0)
  expect(out).eq("hb\nbar\n/tmp\n1000\n1000\n1024\nbound\nro\n")
end)

test("sbx run: the host root read-only by default, private /tmp", function()
  local out, rc = sh(bin .. " run -- sh -c " .. q("touch /sbx-should-not-exist 2>&1; echo x > /tmp/sbx-test-file && ls /tmp"))
  expect(rc).eq(0)
  expect(out).contains("Read-only file system")
  expect(out).contains("sbx-test-file")
  local f = io.open("/tmp/sbx-test-file")
  expect(f, "file written to the sandbox's /tmp appears on the host").eq(nil)
  expect(io.open("/sbx-should-not-exist")).eq(nil)
end)

test("sbx run: --share-net keeps the host's network namespace, --net none has lo down", function()
  if not root then skip("no busybox rootfs") end
  local host_links = select(2, sh("ip -o link | wc -l"))
  local out = sh(bin .. " run --busybox --share-net -- sh -c 'readlink /proc/self/ns/net'")
  expect(tonumber(out:match("%[(%d+)%]"))).eq(sbx.ns.ids().net)
  out = sh(bin .. " run --busybox --net none -- ip link show lo")
  expect(out:find("UP", 1, true)).falsy()
  expect(host_links).eq(0)
end)

test("sbx run --print-spec shows the plan as JSON without running", function()
  local out, rc = sh(bin .. " run --hostname x --print-spec -- /bin/true")
  expect(rc).eq(0)
  local plan = assert(sbx.json.decode(out))
  expect(plan.hostname).eq("x")
  expect(plan.argv[1]).eq("/bin/true")
end)

test("sbx run --trace-startup (and SBX_TRACE=startup) prints each start-up phase, the child's too, in order", function()
  local out, rc = sh(bin .. " run --trace-startup --rootfs " .. root .. " -- /bin/echo payload-ran 2>&1")
  expect(rc, out).eq(0)
  expect(out).contains("payload-ran\n")
  local phases, last = {}, -1
  for ms, delta, pid, phase in out:gmatch("\n%s+([%d.]+)%s+%+([%d.]+)%s+(%d+)%s+([^\n]+)") do
    expect(tonumber(ms) >= last, "in time order: " .. phase).eq(true)
    last = tonumber(ms)
    phases[#phases + 1] = phase
  end
  local text = table.concat(phases, "\n")
  for _, want in ipairs({ "main (the cpu time before it", "lua state", "flags parsed", "plan: sbx.container", "validate", "clone",
                          "id maps", "child: go", "child: root", "proc /proc", "mask /proc/kcore", "read-only /proc/sys",
                          "child: pivot_root", "child: init forked the payload", "child: identity",
                          "child: seccomp, then execve", "exec'd", "payload exit", "teardown", "end" }) do
    expect(text, "a phase: " .. want).contains(want)
  end
  expect(phases[1]).contains("main (the cpu time before it")
  expect(phases[#phases]).eq("end")
  out = sh("SBX_TRACE=startup " .. bin .. " run --rootfs " .. root .. " -- /bin/true 2>&1")
  expect(out).contains("child: pivot_root")
  out = sh(bin .. " run --rootfs " .. root .. " -- /bin/echo --trace-startup 2>&1")
  expect(out, "the payload's own argument is not the flag").eq("--trace-startup\n")
end)

test("sbx unshare: util-linux flags and meaning", function()
  local out, rc = sh(bin .. " unshare -fp --mount-proc -- /bin/sh -c 'echo $$; ls /proc | grep -c \"^[0-9]\"'")
  expect(rc, out).eq(0)
  local pid, n = out:match("^(%d+)\n(%d+)\n$")
  expect(tonumber(pid), out).eq(1)
  expect(tonumber(n)).lt(4)
  out = sh(bin .. " unshare -r -- id -u")
  expect(out).eq("0\n")
  local before = sbx.sys.gethostname()
  out = sh(bin .. " unshare -u -- sh -c 'hostname sbx-unshare-test; hostname'")
  expect(out).eq("sbx-unshare-test\n")
  expect(sbx.sys.gethostname()).eq(before)
  -- only what is named: without -n the network namespace is the host's
  out = sh(bin .. " unshare -u -- readlink /proc/self/ns/net")
  expect(tonumber(out:match("%[(%d+)%]"))).eq(sbx.ns.ids().net)
  out = sh(bin .. " unshare -n -- readlink /proc/self/ns/net")
  expect(tonumber(out:match("%[(%d+)%]"))).ne(sbx.ns.ids().net)
  out, rc = sh(bin .. " unshare -Q -- true")
  expect(rc).eq(1)
  expect(out).contains("unknown option -Q")
  out, rc = sh(bin .. " unshare -- /no/such/prog")
  expect(rc).eq(127)
  expect(out).contains("failed to execute /no/such/prog")
end)

test("sbx unshare -T --boottime shifts the uptime of the child", function()
  if not sbx.features().timens then skip("no time namespaces") end
  local out, rc = sh(bin .. " unshare -fT --boottime 86400 -- cat /proc/uptime")
  expect(rc, out).eq(0)
  expect(tonumber(out:match("^(%S+)"))).gt(86400)
end)

test("sbx nsenter joins a running sandbox's namespaces", function()
  if not root then skip("no busybox rootfs") end
  local box = sbx.container{ rootfs = root, hostname = "nsbox" }
  local p = assert(box:spawn{ "/bin/sleep", "30" })
  os.execute("sleep 0.2")
  local out, rc = sh(bin .. " nsenter -t " .. p.pid .. " -u -- hostname")
  expect(rc, out).eq(0)
  expect(out).eq("nsbox\n")
  -- all namespaces: the sandbox's own root and pid namespace (busybox ps sees its init)
  out, rc = sh(bin .. " nsenter -t " .. p.pid .. " -a -- /bin/sh -c 'hostname; id -u; cat /proc/1/comm'")
  expect(rc, out).eq(0)
  expect(out).eq("nsbox\n0\nsbx-init\n")
  out, rc = sh(bin .. " nsenter -t 999999999 -n -- true")
  expect(rc).eq(1)
  p:kill("KILL")
  p:wait()
end)

test("sbx run: a TERM sent to sbx reaches the payload; its exit status comes back", function()
  if not root then skip("no busybox rootfs") end
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 0777 " .. dir) == 0)
  local pid = assert(sbx.sys.fork())
  if pid == 0 then
    sbx.sys.exec({ bin, "run", "--busybox", "--bind", dir .. ":/tmp/out", "--", "/bin/sh", "-c",
      "trap 'echo term > /tmp/out/marker; exit 3' TERM; touch /tmp/out/ready; while :; do sleep 0.05; done" })
    sbx.sys.exit(127)
  end
  for _ = 1, 200 do
    if io.open(dir .. "/ready") then break end
    os.execute("sleep 0.02")
  end
  sbx.sys.kill(pid, 15)
  local st = sbx.sys.waitpid(pid)
  local f = io.open(dir .. "/marker")
  local marker = f and f:read("*a")
  if f then f:close() end
  os.execute("rm -rf " .. dir)
  expect(marker, "the payload's TERM trap ran").eq("term\n")
  expect(st.code, "sbx's exit status").eq(3)
end)

test("sbx run --timeout kills a payload that runs too long", function()
  if not root then skip("no busybox rootfs") end
  local t0 = os.time()
  local out, rc = sh(bin .. " run --busybox --timeout 1 -- sleep 30")
  expect(rc).eq(137)
  expect(out).contains("timed out after 1s")
  expect(os.time() - t0).lt(10)
end)

test("sbx unshare: --root, --wd, --setuid/--setgid, --kill-child, --propagation", function()
  if not root then skip("no busybox rootfs") end
  -- --root chroots (util-linux: no pivot_root, no mounts); --wd sets the directory inside it
  local out, rc = sh(bin .. " unshare -r -m --root " .. root .. " --wd /etc -- /bin/sh -c 'pwd; ls /bin/busybox'")
  expect(rc, out).eq(0)
  expect(out).eq("/etc\n/bin/busybox\n")
  out = sh(bin .. " unshare -U --map-user=0 --map-group=0 -- sh -c 'id -u'")
  expect(out).eq("0\n")
  out, rc = sh(bin .. " unshare --setuid 65534 --setgid 65534 -- id -u")
  expect(rc, out).eq(0)
  expect(out).eq("65534\n")
  out = sh(bin .. " unshare -m --propagation private -- sh -c 'grep -c shared: /proc/self/mountinfo'")
  expect(out).eq("0\n")
  out, rc = sh(bin .. " unshare -m --propagation sideways -- true")
  expect(rc).eq(1)
  expect(out).contains("unsupported propagation mode: sideways")
  -- --kill-child: when unshare dies, its child gets the signal
  out, rc = sh(bin .. " unshare --kill-child=TERM -- sh -c 'kill -KILL $PPID; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo survived'")
  expect(out:find("survived", 1, true), out).falsy()
end)

test("sbx nsenter: -r/-w use the target's root and cwd, -S/-G set ids, -F does not fork", function()
  if not root then skip("no busybox rootfs") end
  local box = sbx.container{ rootfs = root, hostname = "nsbox2", cwd = "/etc" }
  local p = assert(box:spawn{ "/bin/sleep", "30" })
  os.execute("sleep 0.2")
  -- without -a: mount namespace only with -m; -r and -w take the target's root and cwd
  local out, rc = sh(bin .. " nsenter -t " .. p.pid .. " -m -U -r -w -- /bin/sh -c 'pwd; ls /bin/busybox; id -u'")
  expect(rc, out).eq(0)
  expect(out).eq("/\n/bin/busybox\n0\n")
  out, rc = sh(bin .. " nsenter -t " .. p.pid .. " -a -S 1000 -G 1000 -- /bin/sh -c 'id -u; id -g'")
  expect(rc, out).eq(0)
  expect(out).eq("1000\n1000\n")
  out, rc = sh(bin .. " nsenter -t " .. p.pid .. " -a -F -- /bin/sh -c 'echo $$'")
  expect(rc, out).eq(0)
  expect(tonumber(out) > 1, "pid in the joined namespace view: " .. out).truthy()
  -- no namespace named: the command runs where it is, as util-linux's (issue 17)
  out, rc = sh(bin .. " nsenter -t " .. p.pid .. " -- hostname")
  expect(rc, out).eq(0)
  expect(out).eq(sh("hostname"))
  p:kill("KILL")
  p:wait()
end)

test("sbx run as an unprivileged user: single-id user namespace, own cache", function()
  local sp = io.popen("command -v setpriv"):read("*l")
  if not sp then skip("setpriv (util-linux) is not installed") end
  local home = os.tmpname()
  os.remove(home)
  assert(os.execute("mkdir -m 0777 " .. home) == 0)
  local out, rc = sh(sp .. " --reuid 65534 --regid 65534 --clear-groups env HOME=" .. home ..
    " XDG_RUNTIME_DIR=" .. home .. " " .. bin .. " run --busybox --hostname rootless -- sh -c 'id -u; cat /proc/self/uid_map; hostname'")
  os.execute("rm -rf " .. home)
  if rc ~= 0 and out:find("Operation not permitted", 1, true) then skip("unprivileged user namespaces are off here: " .. out) end
  expect(rc, out).eq(0)
  local uid, inside, outside, count, host = out:match("^(%d+)\n%s*(%d+)%s+(%d+)%s+(%d+)\n(%S+)\n$")
  expect(uid, out).eq("0")
  expect(inside .. " " .. outside .. " " .. count).eq("0 65534 1")
  expect(host).eq("rootless")
end)

test("sbx run's flags map to the same description keys as the Lua API: the defaults are container.lua's alone", function()
  -- each flag set and the description a Lua user would write: the plans must be the same
  local cases = {
    { "--share-net --share-pid --time", { share = { "net", "pid" }, time = true } },
    { "--privileged", { privileged = true } },
    { "--cap-drop ALL --cap-add net_admin", { cap_drop = { "ALL" }, cap_add = { "net_admin" } } },
    { "--cap-drop CHOWN --cap-drop kill", { cap_drop = { "CHOWN", "kill" } } },
    { "--privileged --cap-drop SYS_ADMIN --seccomp strict", { privileged = true, cap_drop = { "SYS_ADMIN" }, seccomp = "strict" } },
    { "--share-user --share-uts --share-ipc --share-cgroup", { share = { "user", "uts", "ipc", "cgroup" } } },
  }
  for _, c in ipairs(cases) do
    local out, rc = sh(bin .. " run " .. c[1] .. " --print-spec -- /bin/true")
    expect(rc, c[1] .. ": " .. out).eq(0)
    local cli = assert(sbx.json.decode(out))
    c[2].cwd = nil
    local lua = sbx.container(c[2]):spec()
    lua.argv = { "/bin/true" }
    expect(sbx.json.encode(cli), c[1]).eq(sbx.json.encode(sbx.json.decode(sbx.json.encode(lua))))
  end
  local priv = sbx.container{ privileged = true, cap_drop = { "SYS_ADMIN" } }:spec()
  expect(#priv.caps > 30, "all but one").truthy()
  for _, cap in ipairs(priv.caps) do expect(cap).ne("CAP_SYS_ADMIN") end
  expect(sbx.container{ cap_add = { "ALL" } }:spec().caps[1]).eq("all")
  expect_error(function() sbx.container{ share = "net" } end, "share: expected a list")
  expect_error(function() sbx.container{ share = { "nett" } } end, "unknown namespace 'nett'")
end)

test("help's one-line summaries end at the end of a sentence, not at a '.' inside a name", function()
  local out = sh(bin .. " help")
  expect(out).contains("from sbx.loop (p:wait and box:run run it): exit")
  expect(out).contains("the cgroup freezer) and lets them go on.")
  expect(out, "a summary cut inside a name").never_contains("sbx.\n")
end)

test("the docs keep step with the declarations: docs/run.md's usage block is sbx run --help; the reference lists every key and field", function()
  local src = os.getenv("SBX_SOURCE") or "."
  local f = assert(io.open(src .. "/docs/run.md"))
  local page = f:read("*a")
  f:close()
  local usage = sh(bin .. " run --help")
  expect(page:find("```\n" .. usage .. "```\n", 1, true) ~= nil, "docs/run.md's usage block differs from `sbx run --help`: paste it again").truthy()
  local ref = sh(bin .. " help --markdown")
  for key in pairs(require("sbx.container").keys) do expect(ref, "container key " .. key).match("\n" .. key .. " ") end
  for _, field in ipairs(require("sbx.core").plan_reference()) do
    expect(ref, "plan field " .. field.path).contains("\n" .. field.path .. " ")
  end
  for _, opt in ipairs(require("sbx.cli.run").options) do expect(ref, "sbx run --" .. opt.long).contains("--" .. opt.long) end
end)
