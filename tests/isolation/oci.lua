-- sbx as an OCI runtime (issue 13, first part): sbx-oci's create / start / state / kill / delete /
-- run / spec / list with runc's meaning, as an engine (conmon, containerd's shim: subreapers)
-- calls them, on a bundle made from the busybox rootfs; strict config.json errors leave nothing.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (an OCI runtime runs as root here)") end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end
local core = require "sbx.core"

local oci = bin:gsub("sbx$", "sbx-oci")
local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. work .. "/bundle " .. work .. "/state"))
local root = work .. "/state"
local bundle = work .. "/bundle"
local function run(args) return sh(("%s --root %s %s"):format(oci, root, args)) end
-- An engine is a subreaper that waits for the pid-file pid: so is this test.
assert(sbx.sys.subreaper(true))

local function config(args, edit)
  local c = require("sbx.oci").default_config()
  c.root = { path = rootfs, readonly = true }
  c.process.args = args
  if edit then edit(c) end
  local f = assert(io.open(bundle .. "/config.json", "w"))
  f:write(sbx.json.encode(c))
  f:close()
end

test("sbx-oci spec writes runc's shape of config.json and refuses to overwrite it", function()
  local dir = work .. "/spec"
  os.execute("mkdir -p " .. dir)
  local out, rc = sh(("cd %s && %s spec"):format(dir, oci))
  expect(rc, out).eq(0)
  local c = sbx.json.decode(io.open(dir .. "/config.json"):read("*a"))
  expect(c.ociVersion).match("^1%.")
  expect(c.root.path).eq("rootfs")
  expect(c.process.args[1]).eq("sh")
  out, rc = sh(("cd %s && %s spec"):format(dir, oci))
  expect(rc).eq(1)
  expect(out).contains("exists")
  out = sh(oci .. " --version")
  expect(out).match("^sbx%-oci version %S+\nspec: 1%.0")
end)

test("create sets up and waits; start runs process.args as PID 1; kill, state stopped, delete: nothing left", function()
  config({ "/bin/sh", "-c", "echo pid=$$ > /dev/stderr; exec sleep 30" })
  -- (the container inherits the runtime's stdio: not the test's pipe, or reading it would wait for the container)
  local out, rc = sh(("(%s --root %s create --bundle %s --pid-file %s/pid c1 </dev/null >%s/c1.out 2>%s/c1.err)")
                     :format(oci, root, bundle, work, work, work))
  expect(rc, out).eq(0)
  local pidtext = io.open(work .. "/pid"):read("*a")
  expect(pidtext, "decimal, no newline").match("^%d+$")
  -- (a Lua 0644 is decimal 644: the file was once --w----r-T)
  expect(sh("stat -c %a " .. work .. "/pid " .. root .. "/c1/state.json"), "the files' modes").eq("644\n600\n")
  local pid = tonumber(pidtext)
  local st = sbx.json.decode((run("state c1")))
  expect(st.status).eq("created")
  expect(st.pid).eq(pid)
  expect(st.bundle).eq(bundle)
  -- created: the program has not run yet, and its process outlives the runtime that made it
  expect(io.open(work .. "/c1.err"):read("*a")).eq("")
  expect(io.open(work .. "/c1.out"):read("*a"), "create says nothing on success").eq("")
  expect(io.open("/proc/" .. pid .. "/stat"):read("*l"):match("%) %a (%d+)")).eq(tostring(sbx.sys.getpid()))
  out, rc = run("start c1")
  expect(rc, out).eq(0)
  for _ = 1, 50 do if io.open(work .. "/c1.err"):read("*a") ~= "" then break end core.sleep(0.05) end
  expect(io.open(work .. "/c1.err"):read("*a")).eq("pid=1\n")
  expect(sbx.json.decode((run("state c1"))).status).eq("running")
  out, rc = run("start c1")
  expect(rc, "start twice").eq(1)
  expect(out).contains("cannot start a container that is running")
  out, rc = run("delete c1")
  expect(rc, "delete of a running container").eq(1)
  expect(out).contains("not stopped")
  out, rc = run("kill c1 SIGKILL")
  expect(rc, out).eq(0)
  local ended = assert(sbx.sys.waitpid(pid))
  expect(ended.signal).eq(9)
  expect(sbx.json.decode((run("state c1"))).status).eq("stopped")
  out, rc = run("kill c1 TERM")
  expect(rc).eq(1)
  expect(out).contains("container not running")
  out, rc = run("delete c1")
  expect(rc, out).eq(0)
  out, rc = run("state c1")
  expect(rc).eq(1)
  expect(out).contains("container does not exist")
  out, rc = run("delete --force c1")
  expect(rc, "delete --force of an unknown id").eq(0)
  expect(#core.list_dir(root)).eq(0)
end)

test("run waits and returns the exit status; the config's limits, caps and hostname apply", function()
  config({ "/bin/sh", "-c", "hostname; grep CapEff /proc/self/status; ulimit -n; umask; cat /proc/sys/net/ipv4/ping_group_range; id -G; exit 3" }, function(c)
    c.process.user.additionalGids = { 10, 20 }
    c.process.rlimits = { { type = "RLIMIT_NOFILE", soft = 512, hard = 1024 } }
    c.process.user.umask = 18
    c.linux.sysctl = { ["net.ipv4.ping_group_range"] = "0 0" }
    c.hostname = "oci-box"
    c.process.capabilities = { bounding = { "CAP_KILL" }, effective = { "CAP_KILL" }, permitted = { "CAP_KILL" } }
    c.linux.resources = { memory = { limit = 64 * 1024 * 1024 }, pids = { limit = 32 } }
  end)
  local host_range = io.open("/proc/sys/net/ipv4/ping_group_range"):read("*a")
  local out, rc = run(("run --bundle %s c2"):format(bundle))
  expect(rc, out).eq(3)
  expect(io.open("/proc/sys/net/ipv4/ping_group_range"):read("*a"), "the host's sysctl is untouched").eq(host_range)
  expect(out).contains("oci-box\n")
  expect(out).contains("CapEff:\t0000000000000020")
  expect(out).contains("\n512\n0022\n0\t0\n0 10 20\n")
  expect(#core.list_dir(root)).eq(0)
end)

test("a created container's cgroup outlives the runtime; ps, pause, resume; the group goes with delete", function()
  config({ "/bin/sleep", "30" }, function(c) c.linux.resources = { memory = { limit = 32 * 1024 * 1024 } } end)
  local out, rc = sh(("(%s --root %s create --bundle %s --pid-file %s/pid3 c3 </dev/null >/dev/null 2>&1)"):format(oci, root, bundle, work))
  expect(rc, out).eq(0)
  local pid = tonumber(io.open(work .. "/pid3"):read("*a"))
  local cg = sbx.json.decode(io.open(root .. "/c3/state.json"):read("*a")).cgroup
  expect(cg, "the state records its group").truthy()
  local g = assert(sbx.cgroup.open(cg))
  local procs = g:procs()
  expect(#procs).eq(1)
  expect(procs[1]).eq(pid)
  out, rc = run("start c3")
  expect(rc, out).eq(0)
  expect(sbx.json.decode((run("ps --format json c3")))[1]).eq(pid)
  -- exec: a command in its namespaces and group, with its capabilities (runc's forms)
  out, rc = run("exec c3 /bin/sh -c 'grep CapBnd /proc/self/status; hostname; exit 4'")
  expect(rc, out).eq(4)
  expect(out).contains("CapBnd:\t00000000a80425fb")
  expect(out).contains("sbx\n")
  local pf = io.open(work .. "/process.json", "w")
  pf:write(sbx.json.encode({ args = { "/bin/sleep", "60" }, cwd = "/", env = { "PATH=/bin" }, user = { uid = 0, gid = 0 } }))
  pf:close()
  out, rc = sh(("(%s --root %s exec --process %s/process.json --detach --pid-file %s/epid c3 </dev/null >/dev/null 2>&1)")
               :format(oci, root, work, work))
  expect(rc, out).eq(0)
  local epid = tonumber(io.open(work .. "/epid"):read("*a"))
  expect(epid, "exec's pid file").truthy()
  -- it outlives the runtime (this test, the subreaper, has it now), in the container's group
  -- the pid file names the exec'd process itself (no helper between it and its waiter): sleep,
  -- in the container's pid namespace, a child of this subreaper once the runtime has gone
  local payload = epid
  expect(io.open(("/proc/%d/comm"):format(payload)):read("*l"), "the exec'd process").eq("sleep")
  expect(io.open(("/proc/%d/status"):format(payload)):read("*a"):match("\nPPid:%s+(%d+)"), "reparented to the subreaper")
    .eq(tostring(sbx.sys.getpid()))
  local in_group = false
  for _, p in ipairs(g:procs()) do in_group = in_group or p == payload end
  expect(in_group, "in the container's group").eq(true)
  -- ended as an engine ends it: its pid-file process goes, and is reaped by its waiter
  sbx.sys.kill(payload, 9)
  expect(assert(sbx.sys.waitpid(epid)).signal).eq(9)
  out, rc = run("exec --process /nonexistent c3")
  expect(rc).eq(1)
  expect(out).contains("cannot be read")
  out, rc = run("pause c3")
  expect(rc, out).eq(0)
  expect(sbx.json.decode((run("state c3"))).status).eq("paused")
  expect(io.open("/proc/" .. pid .. "/stat"):read("*l"):match("%) (%a)"), "frozen").ne("R")
  out, rc = run("resume c3")
  expect(rc, out).eq(0)
  expect(sbx.json.decode((run("state c3"))).status).eq("running")
  out, rc = run("resume c3")
  expect(rc).eq(1)
  expect(out).contains("not paused")
  -- as an engine does: the signal, its own wait (it is the subreaper), then delete
  out, rc = run("kill c3 KILL")
  expect(rc, out).eq(0)
  sbx.sys.waitpid(pid)
  out, rc = run("delete c3")
  expect(rc, out).eq(0)
  expect(sbx.cgroup.open(cg), "the group is gone").eq(nil)
  expect(#core.list_dir(root)).eq(0)
end)

test("runc spec's own config.json (ambient capabilities, rlimits, sysfs and cgroup mounts) runs as it is", function()
  if (sh("command -v runc")) == "" then return skip("runc is not installed") end
  local dir = work .. "/runc-spec"
  os.execute("mkdir -p " .. dir)
  local out, rc = sh(("cd %s && runc spec"):format(dir))
  expect(rc, out).eq(0)
  local c = sbx.json.decode(io.open(dir .. "/config.json"):read("*a"))
  c.root = { path = rootfs, readonly = true }
  c.process.terminal = false
  c.process.args = { "/bin/sh", "-c", "ls /sys/fs/cgroup >/dev/null && grep CapEff /proc/self/status" }
  local f = assert(io.open(dir .. "/config.json", "w"))
  f:write(sbx.json.encode(c))
  f:close()
  out, rc = run(("run --bundle %s rs"):format(dir))
  expect(rc, out).eq(0)
  expect(out).contains("CapEff:\t0000000020000420")  -- runc's three: AUDIT_WRITE, KILL, NET_BIND_SERVICE
end)

test("capability sets, namespaces joined by path, oomScoreAdj, domainname, personality, seccomp flags without no_new_privs, unknown properties", function()
  -- a holder container whose namespaces the next one joins by /proc/PID/ns paths
  config({ "/bin/sleep", "30" })
  local out, rc = sh(("(%s --root %s run -d --bundle %s --pid-file %s/hpid holder </dev/null >/dev/null 2>&1)")
                     :format(oci, root, bundle, work))
  expect(rc, out).eq(0)
  local hpid = tonumber(io.open(work .. "/hpid"):read("*a"))
  local function ns(pid, t) return (sh(("readlink /proc/%s/ns/%s"):format(pid, t)):gsub("%s+$", "")) end
  -- a mount namespace made on the host (util-linux), as the conformance suite makes one: the
  -- plan's paths resolve in it
  local mnt = { pid = tonumber((sh("(unshare -m --propagation private sleep 30 </dev/null >/dev/null 2>&1 & echo $!)"))) }
  for _ = 1, 50 do if ns(mnt.pid, "mnt") ~= ns("self", "mnt") then break end core.sleep(0.02) end
  local script = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status; cat /proc/self/oom_score_adj; " ..
                 "cat /proc/sys/kernel/domainname; uname -m; for t in uts ipc pid net mnt; do readlink /proc/self/ns/$t; done"
  config({ "/bin/sh", "-c", script }, function(c)
    c.process.user = { uid = 1000, gid = 1000 }
    c.process.noNewPrivileges = false
    c.process.capabilities = { bounding = { "CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW" }, effective = { "CAP_KILL" },
                               permitted = { "CAP_KILL", "CAP_CHOWN" }, inheritable = { "CAP_KILL", "CAP_CHOWN" },
                               ambient = { "CAP_CHOWN", "CAP_NET_RAW" } }
    c.process.oomScoreAdj = 500
    c.domainname = "example.test"
    c.linux.personality = { domain = "LINUX32" }
    c.futureField = { x = 1 }
    c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_LOG" },
                        syscalls = { { names = { "keyctl" }, action = "SCMP_ACT_ERRNO" } } }
    local keep = {}
    for _, n in ipairs(c.linux.namespaces) do
      if n.type ~= "uts" and n.type ~= "ipc" and n.type ~= "pid" and n.type ~= "mount" then keep[#keep + 1] = n end
    end
    for _, t in ipairs({ "uts", "ipc", "pid" }) do keep[#keep + 1] = { type = t, path = ("/proc/%d/ns/%s"):format(hpid, t) } end
    keep[#keep + 1] = { type = "mount", path = ("/proc/%d/ns/mnt"):format(mnt.pid) }
    c.linux.namespaces = keep
  end)
  out, rc = sh(("(%s --root %s run --bundle %s joiner </dev/null 2>%s/j.err)"):format(oci, root, bundle, work))
  local err = io.open(work .. "/j.err"):read("*a")
  expect(rc, out .. err).eq(0)
  expect(err, "an unknown property is a warning, not an error").contains("config.futureField: not an OCI field, ignored")
  expect(err, "an ambient capability that is not inheritable is left out").contains("CAP_NET_RAW left out")
  -- CAP_KILL = 5, CAP_CHOWN = 0: a payload that is not root keeps its inheritable set and, across
  -- execve of a file without capabilities, permitted = effective = its ambient set
  expect(out).contains("CapInh:\t0000000000000021")
  expect(out).contains("CapPrm:\t0000000000000001")
  expect(out).contains("CapEff:\t0000000000000001")
  expect(out).contains("CapBnd:\t0000000000002021")
  expect(out).contains("CapAmb:\t0000000000000001")
  expect(out, "seccomp installed without no_new_privs (before the identity change)").contains("NoNewPrivs:\t0")
  expect(out).contains("\n500\n")
  expect(out).contains("example.test")
  expect(out, "linux.personality LINUX32").contains("\ni686\n")
  for _, t in ipairs({ "uts", "ipc", "pid" }) do
    expect(out, t .. " joined").contains(ns(hpid, t))
  end
  expect(out, "mnt joined").contains(ns(mnt.pid, "mnt"))
  sh("kill -KILL " .. mnt.pid)
  sbx.sys.waitpid(mnt.pid)
  expect(out, "net was made new").never_contains(ns(hpid, "net"))
  run("kill holder KILL")
  sbx.sys.waitpid(hpid)
  out, rc = run("delete --force holder")
  expect(rc, out).eq(0)
end)

-- An engine's end of --console-socket: sbx-probe console listens on it (and returns once it
-- does), receives the terminal, types `input` into it and records all it shows until it closes.
local probe = os.getenv("SBX_PROBE")
-- `sbx-probe KIND SOCK OUT [ARG]` (console, seccomp-agent): listening once it returns; the waiter
-- gives what it wrote to OUT once it ends ("END") or gives up ("TIMEOUT")
local function receiver(kind, sock, out, arg)
  local o, rc = sh(("%s %s %s %s %s"):format(probe, kind, sock, out, arg and ("'" .. arg .. "'") or ""))
  assert(rc == 0, o)
  return function()
    for _ = 1, 200 do
      local text = core.read_file(out) or ""
      if text:find("END\n$") or text:find("TIMEOUT") then return text end
      core.sleep(0.05)
    end
    return core.read_file(out) or "(nothing)"
  end
end
local function console(name, input)
  local sock = work .. "/" .. name .. ".sock"
  return sock, receiver("console", sock, work .. "/" .. name .. ".out", input)
end

test("process.terminal: run --console-socket sends the container's own pty (its name, one fd); consoleSize; input reaches it", function()
  if not probe then return skip("needs SBX_PROBE") end
  config({ "/bin/sh", "-c", "tty; stty size; [ -t 0 ] && [ -t 2 ] && echo ALL-A-TTY; : </dev/tty && echo CONTROLLING; " ..
                            "[ $(stat -L -c %d /proc/self/fd/0) = $(stat -c %d /dev/pts) ] && echo OWN-DEVPTS; " ..
                            "read line; echo got-$line; exit 7" },
         function(c) c.process.terminal = true; c.process.consoleSize = { height = 33, width = 77 } end)
  local sock, shown = console("t1", "hello")
  local out, rc = run(("run --bundle %s --console-socket %s t1"):format(bundle, sock))
  expect(rc, out).eq(7)
  expect(out, "nothing on the runtime's own stdio").eq("")
  local text = shown()
  expect(text, "one message: the pty's name, exactly one fd").match("^name=/dev/pts/0 fds=1\n")
  expect(text, "its own devpts, sized, on 0-2, its controlling terminal")
    .contains("\n/dev/pts/0\r\n33 77\r\nALL-A-TTY\r\nCONTROLLING\r\nOWN-DEVPTS\r\n")
  expect(text, "input typed into the master reaches the process").contains("got-hello\r\n")
  expect(#core.list_dir(root)).eq(0)
  -- without a socket a detached run or a create is an error (runc's rule), and leaves nothing
  out, rc = run(("create --bundle %s t1"):format(bundle))
  expect(rc).eq(1)
  expect(out).contains("process.terminal is true: --console-socket PATH is required")
  out, rc = run(("run -d --bundle %s t1"):format(bundle))
  expect(rc).eq(1)
  expect(out).contains("--console-socket PATH is required")
  out, rc = run(("create --bundle %s --console-socket %s/nobody-listens t1"):format(bundle, work))
  expect(rc).eq(1)
  expect(out).contains("console socket " .. work .. "/nobody-listens: connect")
  expect(#core.list_dir(root)).eq(0)
end)

test("seccomp SCMP_ACT_NOTIFY: the agent on listenerPath gets the listener and the container process state at create, and answers the calls (exec too)", function()
  if not probe then return skip("needs SBX_PROBE") end
  local sock, out = work .. "/agent.sock", work .. "/agent.out"
  -- (what the agent saw, once the filter's last process is gone)
  local function agent(file) return receiver("seccomp-agent", sock, file) end
  -- the agent answers mkdir with success without making anything: only the agent can say so
  local script = "mkdir /tmp/by-agent && echo mkdir-said-ok; [ -d /tmp/by-agent ] && echo made || echo not-made"
  local function notify(c)
    c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", listenerPath = sock, listenerMetadata = "meta-42",
                        syscalls = { { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_NOTIFY" } } }
  end
  config({ "/bin/sh", "-c", script .. "; sleep 30" }, notify)
  local seen = agent(out)
  local o, rc = sh(("(%s --root %s create --bundle %s --pid-file %s/npid n1 </dev/null >%s/n1.out 2>&1)"):format(oci, root, bundle, work, work))
  expect(rc, o .. (core.read_file(work .. "/n1.out") or "")).eq(0)
  local pid = tonumber(io.open(work .. "/npid"):read("*a"))
  local first = core.read_file(out) or ""
  expect(first, "sent at create, before start").match("^state=")
  local msg = sbx.json.decode(first:match("^state=(.-) fds=%d+\n"))
  expect(first, "one descriptor").contains(" fds=1\n")
  expect(msg.fds[1]).eq("seccompFd")
  expect(msg.pid).eq(pid)
  expect(msg.metadata).eq("meta-42")
  expect(msg.state.id).eq("n1")
  expect(msg.state.status).eq("creating")
  o, rc = run("start n1")
  expect(rc, o).eq(0)
  -- exec'd processes have the filter too: theirs goes to the agent as well (a second agent here)
  for _ = 1, 100 do if (core.read_file(work .. "/n1.out") or ""):find("not%-made") then break end core.sleep(0.05) end
  expect(core.read_file(work .. "/n1.out"), "the agent's answer").contains("mkdir-said-ok\nnot-made\n")
  run("kill n1 KILL")
  sbx.sys.waitpid(pid)
  local text = seen()
  expect(text, "the agent saw the call").match("\ncall nr=%d+ pid=%d+\n")
  expect(text, "and the end of the filter's processes").contains("END\n")
  o, rc = run("delete n1")
  expect(rc, o).eq(0)
  -- exec into a container whose policy notifies: the exec'd process's listener goes to the agent
  -- too (a new one on the same path: the first keeps the container's)
  config({ "/bin/sleep", "30" }, notify)
  local seen_container = agent(out)
  o, rc = sh(("(%s --root %s run -d --bundle %s --pid-file %s/npid n2 </dev/null >/dev/null 2>&1)"):format(oci, root, bundle, work))
  expect(rc, o).eq(0)
  pid = tonumber(io.open(work .. "/npid"):read("*a"))
  -- (the agent is a process of its own: what it received is in its file a moment later - read at
  -- once, it was empty in one CI run)
  for _ = 1, 100 do if (core.read_file(out) or ""):find('"status":"creating"', 1, true) then break end core.sleep(0.05) end
  expect(core.read_file(out) or "", "run -d: sent at create").contains('"status":"creating"')
  seen = agent(work .. "/agent2.out")
  o, rc = run("exec n2 /bin/sh -c '" .. script .. "'")
  expect(rc, o).eq(0)
  expect(o, "the exec'd process's call answered by the agent").eq("mkdir-said-ok\nnot-made\n")
  text = seen()
  expect(text, "the exec's message").contains('"status":"running"')
  expect(text).match("\ncall nr=%d+ pid=%d+\nEND\n$")
  run("kill n2 KILL")
  sbx.sys.waitpid(pid)
  expect(seen_container(), "the container's agent: no calls, then the end").match("fds=1\nEND\n$")
  o, rc = run("delete n2")
  expect(rc, o).eq(0)
  -- no agent listening: create fails and leaves nothing
  os.remove(sock)
  config({ "/bin/true" }, notify)
  o, rc = run(("create --bundle %s n3"):format(bundle))
  expect(rc).eq(1)
  expect(o).contains("linux.seccomp.listenerPath: seccomp listener socket " .. sock .. ": connect")
  expect(#core.list_dir(root), "no state left").eq(0)
  -- in sbx's own sandboxes a notify rule needs its Lua handler: a bare rule is refused, naming it
  expect_error(function() sbx.container{ rootfs = rootfs, seccomp = { default = "allow", rules = { { "mkdir", "notify" } } } } end,
               "seccomp rule for mkdir: action notify needs an answer: list it in seccomp%.notify")
end)

test("process.terminal: create --console-socket hands the terminal over before it returns; start runs on it", function()
  if not probe then return skip("needs SBX_PROBE") end
  config({ "/bin/sh", "-c", "echo pid=$$; stty size; read line; echo got-$line; exit 6" },
         function(c) c.process.terminal = true; c.process.consoleSize = { height = 20, width = 60 } end)
  local sock, shown = console("t2", "world")
  local out, rc = sh(("(%s --root %s create --bundle %s --console-socket %s --pid-file %s/t2.pid t2 </dev/null >/dev/null 2>&1)")
                     :format(oci, root, bundle, sock, work))
  expect(rc, out).eq(0)
  local pid = tonumber(io.open(work .. "/t2.pid"):read("*a"))
  expect(core.read_file(work .. "/t2.out"), "the master arrived while create ran").match("^name=/dev/pts/0 fds=1\n")
  expect(sbx.json.decode((run("state t2"))).status).eq("created")
  out, rc = run("start t2")
  expect(rc, out).eq(0)
  expect(assert(sbx.sys.waitpid(pid)).code).eq(6)
  local text = shown()
  expect(text).contains("pid=1\r\n20 60\r\n")
  expect(text).contains("got-world\r\n")
  out, rc = run("delete t2")
  expect(rc, out).eq(0)
end)

test("exec --tty --console-socket, and exec --process with terminal true: a terminal of the container's devpts", function()
  if not probe then return skip("needs SBX_PROBE") end
  config({ "/bin/sleep", "60" })
  local out, rc = sh(("(%s --root %s run -d --bundle %s --pid-file %s/t3.pid t3 </dev/null >/dev/null 2>&1)"):format(oci, root, bundle, work))
  expect(rc, out).eq(0)
  local pid = tonumber(io.open(work .. "/t3.pid"):read("*a"))
  -- foreground: the exit status comes back; the shell on the terminal reads what is typed
  local sock, shown = console("e1", "echo typed-$((6*7)); exit 4")
  out, rc = run(("exec --tty --console-socket %s t3 /bin/sh -c 'tty; : </dev/tty && echo CONTROLLING; exec sh'"):format(sock))
  expect(rc, out).eq(4)
  local text = shown()
  expect(text).match("^name=/dev/pts/0 fds=1\n")
  expect(text).contains("\n/dev/pts/0\r\nCONTROLLING\r\n")
  expect(text).contains("\ntyped-42\r\n")
  -- detached, as podman exec -it and containerd's shim call it: terminal and size from process.json
  local pf = assert(io.open(work .. "/tty-process.json", "w"))
  pf:write(sbx.json.encode({ terminal = true, consoleSize = { height = 11, width = 22 }, cwd = "/", env = { "PATH=/bin" },
                             args = { "/bin/sh", "-c", "tty; stty size; exit 2" } }))
  pf:close()
  sock, shown = console("e2")
  out, rc = sh(("(%s --root %s exec --process %s/tty-process.json --detach --console-socket %s --pid-file %s/e2.pid t3 </dev/null >/dev/null 2>&1)")
               :format(oci, root, work, sock, work))
  expect(rc, out).eq(0)
  expect(assert(sbx.sys.waitpid(tonumber(io.open(work .. "/e2.pid"):read("*a")))).code).eq(2)
  expect(shown()).contains("/dev/pts/0\r\n11 22\r\n")
  -- runc's rules: a terminal needs a socket when detached; a socket needs a terminal
  out, rc = run(("exec --process %s/tty-process.json --detach t3"):format(work))
  expect(rc).eq(1)
  expect(out).contains("--console-socket PATH is required")
  out, rc = run(("exec --console-socket %s t3 /bin/true"):format(sock))
  expect(rc).eq(1)
  expect(out).contains("the process has no terminal")
  run("kill t3 KILL")
  sbx.sys.waitpid(pid)
  out, rc = run("delete t3")
  expect(rc, out).eq(0)
end)

test("process.terminal without a socket: a foreground run joins the container's terminal to its own (tmux)", function()
  config({ "/bin/sh" }, function(c) c.process.terminal = true end)
  local t, why = terminal(("sh -c '%s --root %s run --bundle %s t4; echo rc=$?; sleep 60'"):format(oci, root, bundle),
                          { width = 100, height = 30 })
  if not t then return skip(why) end
  t:wait("/ #$", 10)
  t:line("tty; stty size; echo typed-$((6*7))")
  local screen = t:wait("typed%-42\n/ #$")
  expect(screen, "its own devpts, sized like the caller's terminal").contains("\n/dev/pts/0\n30 100\n")
  t:line("exit 3")
  t:wait("rc=3")
  t:close()
  expect(#core.list_dir(root)).eq(0)
end)

test("hooks: each gets the state on stdin; createContainer and startContainer run inside; a failing or slow one undoes create or stops the container", function()
  local function hook(name) return { path = "/bin/sh", args = { "sh", "-c", "cat > " .. work .. "/hook-" .. name } } end
  -- createContainer's path is the runtime's (this script is nowhere in the container's root); it
  -- runs in the container's namespaces, from a sealed copy
  local script = work .. "/create-hook.sh"
  local f = assert(io.open(script, "w"))
  f:write("#!/bin/sh\ncat > /tmp/created-state\necho made-in-$(hostname) >> /tmp/created-state\n")
  f:close()
  os.execute("chmod 755 " .. script)
  config({ "/bin/sh", "-c", "cat /tmp/started; cat /tmp/created-state" }, function(c)
    c.hostname = "hooked-box"
    c.annotations = { ["org.example"] = "hooked" }
    c.hooks = { prestart = { hook("prestart") }, createRuntime = { hook("createRuntime") }, poststart = { hook("poststart") },
                poststop = { hook("poststop") }, createContainer = { { path = script, timeout = 5 } },
                startContainer = { { path = "/bin/sh", args = { "sh", "-c", "cat > /tmp/start-state; echo inside-$((6*7)) > /tmp/started" } } } }
  end)
  local out, rc = sh(("(%s --root %s run --bundle %s --pid-file %s/kpid k1 </dev/null)"):format(oci, root, bundle, work))
  expect(rc, out).eq(0)
  expect(out, "startContainer ran in the container's mount namespace, before the program").contains("inside-42")
  expect(out, "createContainer got the state on stdin").contains('"id":"k1"')
  expect(out, "createContainer ran in the container's uts namespace").contains("hooked-box")
  local pid = tonumber(io.open(work .. "/kpid"):read("*a"))
  for name, status in pairs({ prestart = "created", createRuntime = "created", poststart = "running", poststop = "stopped" }) do
    local st = sbx.json.decode(assert(io.open(work .. "/hook-" .. name)):read("*a"))
    expect(st.id, name).eq("k1")
    expect(st.status, name).eq(status)
    expect(st.bundle, name).eq(bundle)
    expect(st.annotations["org.example"], name).eq("hooked")
    if name ~= "poststop" then expect(st.pid, name).eq(pid) end
  end
  config({ "/bin/true" }, function(c) c.hooks = { prestart = { { path = "/bin/false" } } } end)
  out, rc = run(("create --bundle %s k2"):format(bundle))
  expect(rc).eq(1)
  expect(out).contains("container k2: hook prestart[1] /bin/false: exit status 1")
  expect(#core.list_dir(root), "a failing hook undoes create").eq(0)
  config({ "/bin/true" }, function(c) c.hooks = { createRuntime = { { path = "/bin/sleep", args = { "sleep", "30" }, timeout = 1 } } } end)
  out, rc = run(("create --bundle %s k3"):format(bundle))
  expect(rc).eq(1)
  expect(out).contains("hook createRuntime[1] /bin/sleep: timed out after 1 s")
  expect(#core.list_dir(root)).eq(0)
  config({ "/bin/true" }, function(c) c.hooks = { startContainer = { { path = "/bin/sleep", args = { "sleep", "30" }, timeout = 1 } } } end)
  out, rc = sh(("(%s --root %s create --bundle %s k4 </dev/null >/dev/null 2>&1)"):format(oci, root, bundle))
  expect(rc, out).eq(0)
  out, rc = run("start k4")
  expect(rc).eq(1)
  expect(out).contains("hook startContainer[1] /bin/sleep: timed out after 1 s (the container is stopped)")
  out, rc = run("delete --force k4")
  expect(rc, out).eq(0)
end)

test("rootfsPropagation shared, swappiness, disableOOMKiller, cpu shares as given and burst, blockIO throttles and weight", function()
  -- a whole disk of this machine for the throttles (they need a real block device)
  local disk
  for _, name in ipairs(core.list_dir("/sys/block")) do
    local dev = not name:match("^loop") and core.read_file("/sys/block/" .. name .. "/dev")
    if dev then disk = { tonumber(dev:match("^(%d+)")), tonumber(dev:match(":(%d+)")) } break end
  end
  config({ "/bin/sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo" }, function(c)
    c.linux.rootfsPropagation = "rshared"
    c.linux.resources = { cpu = { shares = 1000, quota = 50000, burst = 20000 },
                          memory = { limit = 64 * 1024 * 1024, swappiness = 17, disableOOMKiller = true, useHierarchy = true } }
    if sbx.cgroup.layout().layout == "2" then c.linux.resources.unified = { ["pids.max"] = "42" } end
    c.linux.resources.blockIO = { weight = 300, leafWeight = 10 }
    if disk then
      c.linux.resources.blockIO.throttleReadBpsDevice = { { major = disk[1], minor = disk[2], rate = 1048576 } }
      c.linux.resources.blockIO.throttleWriteIOPSDevice = { { major = disk[1], minor = disk[2], rate = 300 } }
    end
  end)
  local out, rc = sh(("(%s --root %s create --bundle %s --pid-file %s/spid s1 </dev/null >%s/s1.out 2>&1)"):format(oci, root, bundle, work, work))
  expect(rc, out).eq(0)
  expect(io.open(work .. "/s1.out"):read("*a"), "leafWeight: warned").contains("blockIO.leafWeight: the kernel has no leaf weight")
  local g = assert(sbx.cgroup.open(sbx.json.decode(io.open(root .. "/s1/state.json"):read("*a")).cgroup))
  local bfq = g:get(sbx.cgroup.layout().layout == "2" and "io.bfq.weight" or "blkio.bfq.weight")
  expect(bfq or g:get("io.weight") or g:get("blkio.weight"), "blockIO.weight").match(bfq and "300" or "%d")
  local v2 = sbx.cgroup.layout().layout == "2"
  expect(g:get(v2 and "cpu.max.burst" or "cpu.cfs_burst_us"), "cpu.burst").eq("20000")
  if sbx.cgroup.layout().layout == "2" then
    expect(g:get("cpu.weight")).eq(tostring(1 + math.floor((1000 - 2) * 9999 / 262142)))
    expect(g:get("pids.max"), "unified: written as given").eq("42")
  else
    expect(g:get("cpu.shares"), "exactly the config's shares").eq("1000")
    expect(g:get("memory.swappiness")).eq("17")
    expect(g:get("memory.oom_control")).contains("oom_kill_disable 1")
  end
  if disk then
    local dev = disk[1] .. ":" .. disk[2]
    if sbx.cgroup.layout().layout == "2" then
      expect(g:get("io.max")).contains(dev .. " rbps=1048576 wbps=max riops=max wiops=300")
    else
      expect(g:get("blkio.throttle.read_bps_device")).contains(dev .. " 1048576")
      expect(g:get("blkio.throttle.write_iops_device")).contains(dev .. " 300")
    end
  end
  out, rc = run("start s1")
  expect(rc, out).eq(0)
  local pid = tonumber(io.open(work .. "/spid"):read("*a"))
  sbx.sys.waitpid(pid)
  expect(io.open(work .. "/s1.out"):read("*a"), "the new root is shared").match("shared:%d+")
  out, rc = run("delete s1")
  expect(rc, out).eq(0)
end)

test("a user namespace joined by path: the container's other namespaces are made in it, its root is the holder's", function()
  local m = { { containerID = 0, hostID = 100000, size = 65536 } }
  config({ "/bin/sleep", "30" }, function(c)
    c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user" }
    c.linux.uidMappings, c.linux.gidMappings = m, m
  end)
  local out, rc = sh(("(%s --root %s run -d --bundle %s --pid-file %s/upid uholder </dev/null >/dev/null 2>&1)"):format(oci, root, bundle, work))
  expect(rc, out).eq(0)
  local hpid = tonumber(io.open(work .. "/upid"):read("*a"))
  local function ns(pid, t) return (sh(("readlink /proc/%s/ns/%s"):format(pid, t)):gsub("%s+$", "")) end
  local holder_user, holder_mnt = ns(hpid, "user"), ns(hpid, "mnt")
  local dir = work .. "/ujoin"
  assert(os.execute("mkdir -p " .. dir .. " && chmod 777 " .. dir))
  config({ "/bin/sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/mnt; cat /proc/self/uid_map; id -u; touch /w/made" }, function(c)
    c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user", path = ("/proc/%d/ns/user"):format(hpid) }
    c.linux.uidMappings, c.linux.gidMappings = m, m  -- (the joined one's own: left out with a warning)
    c.mounts[#c.mounts + 1] = { destination = "/w", type = "bind", source = dir, options = { "rbind" } }
  end)
  out, rc = sh(("(%s --root %s run --bundle %s ujoiner </dev/null 2>%s/uj.err)"):format(oci, root, bundle, work))
  local err = core.read_file(work .. "/uj.err") or ""
  run("kill uholder KILL")
  sbx.sys.waitpid(hpid)
  run("delete --force uholder")
  expect(rc, out .. err).eq(0)
  expect(err).contains("the joined user namespace /proc/" .. hpid .. "/ns/user has its own, ignored")
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
  expect(lines[1], "the holder's user namespace").eq(holder_user)
  expect(lines[2], "a mount namespace of its own").ne(holder_mnt)
  expect(lines[3]:gsub("%s+", " "), "its maps").eq(" 0 100000 65536")
  expect(lines[4], "root there").eq("0")
  local h = io.popen("stat -c %u " .. dir .. "/made")
  expect(h:read("*l"), "what it writes is the holder's root's: host 100000").eq("100000")
  h:close()
  expect(ns("self", "user"), "the runtime's own ids never changed").ne(lines[1])
  os.execute("rm -rf " .. dir)
end)

test("idmapped mounts: options idmap with the container's maps, and a mount's own uidMappings/gidMappings", function()
  local dir = work .. "/idm"
  assert(os.execute(("mkdir -p %s && touch %s/rootfile %s/userfile && chown 1000:1000 %s/userfile"):format(dir, dir, dir, dir)))
  local m = { { containerID = 0, hostID = 100000, size = 65536 } }
  config({ "/bin/sh", "-c", "stat -c '%n %u:%g' /a/rootfile /a/userfile /b/rootfile /b/userfile" }, function(c)
    c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user" }
    c.linux.uidMappings, c.linux.gidMappings = m, m
    -- /a: the container's maps; /b: its own (on-disk 1000 is the container's 0, and 0 is nobody)
    c.mounts[#c.mounts + 1] = { destination = "/a", type = "bind", source = dir, options = { "rbind", "idmap" } }
    local own = { { containerID = 1000, hostID = 100000, size = 1 } }
    c.mounts[#c.mounts + 1] = { destination = "/b", type = "bind", source = dir, options = { "rbind", "ridmap" },
                                uidMappings = own, gidMappings = own }
  end)
  local out, rc = run(("run --bundle %s idm1"):format(bundle))
  expect(rc, out).eq(0)
  expect(out).eq("/a/rootfile 0:0\n/a/userfile 1000:1000\n/b/rootfile 65534:65534\n/b/userfile 0:0\n")
  config({ "/bin/true" }, function(c)
    c.mounts[#c.mounts + 1] = { destination = "/t", type = "tmpfs", source = "tmpfs", options = { "idmap" } }
  end)
  out, rc = run(("create --bundle %s idm2"):format(bundle))
  expect(rc).eq(1)
  expect(out).contains("an idmapped mount needs uidMappings and gidMappings")
  config({ "/bin/true" }, function(c)
    c.mounts[#c.mounts + 1] = { destination = "/t", type = "tmpfs", source = "tmpfs", options = { "idmap" }, uidMappings = m, gidMappings = m }
  end)
  out, rc = run(("create --bundle %s idm2"):format(bundle))
  expect(rc).eq(1)
  expect(out).contains("idmap: only a bind mount can be idmapped here")
  expect(#core.list_dir(root), "no state left").eq(0)
  os.execute("rm -rf " .. dir)
end)

test("cgroupsPath in systemd's slice:prefix:name form is the unit's path; features lists what sbx reads", function()
  config({ "/bin/true" }, function(c)
    c.linux.cgroupsPath = "sbxtest-oci.slice:sbx:x1"
    c.linux.resources = { pids = { limit = 50 } }
  end)
  local out, rc = sh(("(%s --root %s create --bundle %s x1 </dev/null >/dev/null 2>&1)"):format(oci, root, bundle))
  expect(rc, out).eq(0)
  local st = sbx.json.decode(io.open(root .. "/x1/state.json"):read("*a"))
  expect(st.cgroup).eq("/sbxtest.slice/sbxtest-oci.slice/sbx-x1.scope")
  expect(assert(sbx.cgroup.open(st.cgroup)):get("pids.max")).eq("50")
  out, rc = run("delete --force x1")
  expect(rc, out).eq(0)
  -- the slices were made for it (missing parents are, as runc makes them): the test's to remove
  sh("for d in /sys/fs/cgroup/sbxtest.slice /sys/fs/cgroup/*/sbxtest.slice; do [ -d $d ] && rmdir $d/sbxtest-oci.slice $d; done")
  local f = sbx.json.decode((sh(oci .. " features")))
  expect(f.ociVersionMin).eq("1.0.0")
  expect(table.concat(f.hooks, " ")).eq("prestart createRuntime createContainer startContainer poststart poststop")
  expect(table.concat(f.linux.capabilities, " ")).contains("CAP_SYS_ADMIN")
  expect(f.linux.cgroup.v2).eq(sbx.cgroup.layout().layout == "2")
end)

test("a bad config.json is one clear error naming the field, and leaves nothing", function()
  local cases = {
    { function(c) c.process.ioPriority = { class = "IOPRIO_CLASS_RT" } end, "process.ioPriority: not supported by sbx yet" },
    { function(c) c.root = nil end, "root.path: missing" },
    { function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", syscalls = { { names = { "mkdir" }, action = "SCMP_ACT_NOTIFY" } } } end,
      "linux.seccomp.listenerPath: missing: SCMP_ACT_NOTIFY needs an agent's socket" },
    { function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", listenerPath = "agent.sock" } end,
      "linux.seccomp.listenerPath: expected an absolute path" },
    { function(c) c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_NOPE" } } end,
      "linux.seccomp: flags[1]: 'SECCOMP_FILTER_FLAG_NOPE' is not a flag sbx knows" },
    { function(c) c.linux.personality = { domain = "LINUX64" } end, "linux.personality.domain: expected LINUX or LINUX32" },
    { function(c) c.linux.personality = { domain = "LINUX", flags = { "ADDR_NO_RANDOMIZE" } } end, "linux.personality.flags: personality flags are not supported" },
    { function(c) c.ociVersion = "invalid" end, "ociVersion: 'invalid' is not a version of the OCI runtime spec" },
    { function(c) c.linux.sysctl = { ["kernel.panic"] = "1" } end, "sysctl kernel.panic: not a namespaced sysctl" },
    { function(c) c.process.rlimits = { { type = "RLIMIT_NOFILES", soft = 1, hard = 1 } } end, "rlimits: unknown type 'RLIMIT_NOFILES'" },
    { function(c) c.process.consoleSize = { height = -1 } end, "process.consoleSize.height: expected a whole number" },
    { function(c) c.mounts[#c.mounts + 1] = { destination = "/x", type = "nfs", source = "h:/x" } end, "'nfs' mounts are not supported" },
    { function(c) c.linux.namespaces[#c.linux.namespaces + 1] = { type = "ipc", path = "/proc/1/ns/ipc" } end, "join ipc: joining one and making a new one at once" },
    { function(c) c.process.user = { uid = -1 } end, "spec.uid: -1 is not an id" },
    { function(c) c.linux.devices = { { path = "/dev/../../etc/x", type = "c", major = 1, minor = 3 } } end, "destination '/dev/../../etc/x' contains '..'" },
    { function(c) c.linux.devices = { { path = "/dev/x", type = "q", major = 1, minor = 3 } } end, "linux.devices[1].type: 'q' is not c, b, u or p" },
    { function(c) c.linux.resources = { devices = { { allow = true, type = "c", major = 1, access = "rwx" } } } end, "device rule 'c 1:* rwx'" },
  }
  if sbx.cgroup.layout().layout ~= "2" then
    cases[#cases + 1] = { function(c) c.linux.resources = { unified = { ["memory.high"] = "max" } } end,
                          "limit unified memory.high: needs cgroup v2" }
  end
  if sbx.cgroup.layout().layout == "hybrid" and not sbx.cgroup.layout().v1.hugetlb then
    cases[#cases + 1] = { function(c) c.linux.resources = { hugepageLimits = { { pageSize = "2MB", limit = 4194304 } } } end,
                          "limit hugetlb: this hybrid host has the hugetlb controller only in its unified hierarchy" }
  end
  cases[#cases + 1] = { function(c) c.linux.resources = { hugepageLimits = { { pageSize = 2, limit = 4194304 } } } end,
                        'linux.resources.hugepageLimits[1].pageSize: expected a size like "2MB"' }
  cases[#cases + 1] = { function(c) c.linux.resources = { blockIO = { weight = 5 } } end, "limit io_weight: expected 10..1000, got 5" }
  cases[#cases + 1] = { function(c) c.linux.resources = { memory = { useHierarchy = false } } end,
                        "linux.resources.memory.useHierarchy: false: the kernel's memory groups are always hierarchical now" }
  cases[#cases + 1] = { function(c) c.linux.resources = { cpu = { idle = 2 } } end, "linux.resources.cpu.idle: expected 0 or 1" }
  if not io.open("/sys/dev/block/8:0") then  -- (the conformance suite's device: none on this VM)
    cases[#cases + 1] = { function(c) c.linux.resources = { blockIO = { throttleReadBpsDevice = { { major = 8, minor = 0, rate = 1024 } } } } end,
                          "No such device (no block device 8:0 on this host: lsblk lists MAJ:MIN)" }
  end
  for _, case in ipairs(cases) do
    config({ "/bin/true" }, case[1])
    local out, rc = run(("create --bundle %s bad"):format(bundle))
    expect(rc, case[2]).eq(1)
    expect(out).contains(case[2])
    expect(#core.list_dir(root), "no state left").eq(0)
  end
  local out, rc = run("create --bundle /nonexistent bad")
  expect(rc).eq(1)
  expect(out).contains("no config.json")
  out, rc = run("create --bundle " .. bundle .. " ../escape")
  expect(rc).eq(1)
  expect(out).contains("invalid container id")
end)

test("--policy: a Lua admission policy tightens or refuses a config before anything is made", function()
  local src = os.getenv("SBX_SOURCE") or "."
  local policy = src .. "/examples/oci-policy.lua"
  -- refused: CAP_SYS_ADMIN; the reason reaches the caller, nothing is left
  config({ "/bin/true" }, function(c) table.insert(c.process.capabilities.bounding, "CAP_SYS_ADMIN") end)
  local out, rc = sh(("%s --root %s --policy %s run --bundle %s p1"):format(oci, root, policy, bundle))
  expect(rc).eq(1)
  expect(out).contains("refused by policy " .. policy .. ": privileged containers are not allowed here (p1 asks for CAP_SYS_ADMIN)")
  expect(#core.list_dir(root)).eq(0)
  config({ "/bin/true" }, function(c)
    local kept = {}
    for _, ns in ipairs(c.linux.namespaces) do if ns.type ~= "network" then kept[#kept + 1] = ns end end
    c.linux.namespaces = kept
  end)
  out, rc = sh(("%s --root %s --policy %s run --bundle %s p2"):format(oci, root, policy, bundle))
  expect(rc).eq(1)
  expect(out).contains("the host's network namespace is not allowed here")
  -- tightened: sbx's seccomp profile is added (the default config has none), memory capped at 1 GiB
  config({ "/bin/sh", "-c", "grep Seccomp: /proc/self/status" })
  out, rc = sh(("%s --root %s --policy %s run --bundle %s p3"):format(oci, root, policy, bundle))
  expect(rc, out).eq(0)
  expect(out).contains("Seccomp:\t2")
  out, rc = sh(("(%s --root %s --policy %s create --bundle %s p5 </dev/null >/dev/null 2>&1)"):format(oci, root, policy, bundle))
  expect(rc, out).eq(0)
  local cg = sbx.json.decode(io.open(root .. "/p5/state.json"):read("*a")).cgroup
  local g5 = assert(sbx.cgroup.open(cg))
  local limit = sbx.cgroup.layout().layout == "2" and g5:get("memory.max") or g5:get("memory.limit_in_bytes")
  expect(tonumber(limit)).eq(2 ^ 30)
  local pid5 = sbx.json.decode(io.open(root .. "/p5/state.json"):read("*a")).pid
  run("delete --force p5")
  sbx.sys.waitpid(pid5)
  -- a policy that fails is an error naming it, not an admission
  local bad = work .. "/bad-policy.lua"
  local f = assert(io.open(bad, "w"))
  f:write("return function(c) error('boom') end")
  f:close()
  out, rc = sh(("%s --root %s --policy %s run --bundle %s p4"):format(oci, root, bad, bundle))
  expect(rc).eq(1)
  expect(out).contains("policy " .. bad .. ":")
  expect(out).contains("boom")
  expect(#core.list_dir(root)).eq(0)
end)

test("update: new limits in the live container's group and its plan.json (blkio weight, cpu burst and idle too); a bad value changes nothing", function()
  config({ "/bin/sleep", "60" }, function(c) c.linux.resources = { memory = { limit = 64 * 1024 * 1024 }, pids = { limit = 32 } } end)
  local out, rc = sh(("(%s --root %s create --bundle %s --pid-file %s/upid u1 </dev/null >/dev/null 2>&1)"):format(oci, root, bundle, work))
  expect(rc, out).eq(0)
  local pid = tonumber(io.open(work .. "/upid"):read("*a"))
  out, rc = run("start u1")
  expect(rc, out).eq(0)
  local g = assert(sbx.cgroup.open(sbx.json.decode(io.open(root .. "/u1/state.json"):read("*a")).cgroup))
  local v2 = sbx.cgroup.layout().layout == "2"
  local memfile = v2 and "memory.max" or "memory.limit_in_bytes"
  local function limits() return sbx.json.decode(io.open(root .. "/u1/plan.json"):read("*a")).limits end
  out, rc = run("update --memory 48M u1")
  expect(rc, out).eq(0)
  expect(g:get(memfile)).eq(tostring(48 * 1024 * 1024))
  expect(limits().memory, "recorded in plan.json").eq(48 * 1024 * 1024)
  -- runc's --resources form, from stdin: the OCI linux.resources object
  out, rc = sh(("echo '{\"pids\": {\"limit\": 100}}' | %s --root %s update --resources - u1"):format(oci, root))
  expect(rc, out).eq(0)
  expect(g:get("pids.max")).eq("100")
  expect(limits().pids).eq(100)
  expect(g:get(memfile), "what the update does not name stays").eq(tostring(48 * 1024 * 1024))
  -- a quota and its period; -1 is no limit
  out, rc = run("update --blkio-weight 700 --cpu-quota 40000 --cpu-burst 10000 u1")
  expect(rc, out).eq(0)
  expect(g:get(v2 and "cpu.max.burst" or "cpu.cfs_burst_us"), "--cpu-burst").eq("10000")
  -- (an idle group has the kernel's lowest weight: its shares read 3 after this)
  out, rc = run("update --cpu-idle 1 u1")
  expect(rc, out).eq(0)
  expect(g:get("cpu.idle"), "--cpu-idle").eq("1")
  expect(limits().io_weight).eq(700)
  local bfq = g:get(v2 and "io.bfq.weight" or "blkio.bfq.weight")
  if bfq then expect(bfq).match("700") end
  out, rc = run("update --cpu-quota 25000 --cpu-period 50000 --pids-limit -1 u1")
  expect(rc, out).eq(0)
  if v2 then
    expect(g:get("cpu.max")).eq("25000 50000")
  else
    expect(g:get("cpu.cfs_quota_us")).eq("25000")
    expect(g:get("cpu.cfs_period_us")).eq("50000")
  end
  expect(g:get("pids.max")).eq("max")
  -- a value the kernel refuses (no cpu 4096; or no cpuset controller): nothing changes, memory included
  out, rc = run("update --memory 32M --cpuset-cpus 4096 u1")
  expect(rc).eq(1)
  expect(out).contains("cannot update container u1")
  expect(g:get(memfile)).eq(tostring(48 * 1024 * 1024))
  expect(limits().memory).eq(48 * 1024 * 1024)
  local cases = {
    { "update --memory lots u1", "update --memory: bad value 'lots'" },
    { "update --cpu-quota 1.5 u1", "update --cpu-quota: bad value '1.5'" },
    { "update --l3-cache-schema L3:0=f u1", "Intel RDT" },
    { "update u1", "nothing to change" },
    { "update --memory 1G nosuch", "container does not exist: nosuch" },
  }
  for _, case in ipairs(cases) do
    out, rc = run(case[1])
    expect(rc, case[1]).eq(1)
    expect(out).contains(case[2])
  end
  local f = assert(io.open(work .. "/res.json", "w"))
  f:write('{"memory": {"limit": 33554432}, "rdma": {"mlx4_0": {"hcaHandles": 2}}}')
  f:close()
  out, rc = run("update -r " .. work .. "/res.json u1")
  expect(rc).eq(1)
  expect(out).contains(work .. "/res.json: resources.rdma: not supported by sbx yet")
  expect(g:get(memfile), "an unsupported field changes nothing").eq(tostring(48 * 1024 * 1024))
  out, rc = sh(("echo '{\"memory\": {\"limit\": 4096, \"checkBeforeUpdate\": true}}' | %s --root %s update -r - u1"):format(oci, root))
  expect(rc).eq(1)
  expect(out).contains("memory limit 4096 is below its usage")
  out, rc = run("kill u1 KILL")
  expect(rc, out).eq(0)
  sbx.sys.waitpid(pid)
  out, rc = run("update --memory 1G u1")
  expect(rc).eq(1)
  expect(out).contains("cannot update container u1: it is stopped")
  out, rc = run("delete u1")
  expect(rc, out).eq(0)
end)


test("linux.devices: nodes made with their type, numbers, mode and owner; podman's device rules decide which open", function()
  -- podman's shape: deny everything, then allow what --device named; runc's defaults (null, zero, full, ...) follow
  local script = "for d in mydev mymem; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done; " ..
                 "(echo x > /dev/mydev) 2>&1; head -c1 /dev/mymem 2>&1; head -c1 /dev/fuse-ish 2>&1 | wc -c; echo end"
  config({ "/bin/sh", "-c", script }, function(c)
    c.linux.devices = {
      { path = "/dev/mydev", type = "c", major = 1, minor = 7, fileMode = 8608, uid = 1, gid = 2 },  -- S_IFCHR|0640
      { path = "/dev/mymem", type = "c", major = 1, minor = 1 },
      { path = "/dev/fuse-ish", type = "c", major = 1, minor = 5, fileMode = 438 },
    }
    c.linux.resources = { devices = { { allow = false, access = "rwm" },
                                      { allow = true, type = "c", major = 1, minor = 5, access = "rwm" } } }
  end)
  local out, rc = run(("run --bundle %s d1"):format(bundle))
  expect(rc, out).eq(0)
  expect(out).contains("/dev/mydev character special file 1:7 640 1:2\n")
  expect(out).contains("/dev/mymem character special file 1:1 666 0:0\n")
  -- full (1:7) is one of runc's defaults: it opens (and is full); mem (1:1) is allowed by no rule
  expect(out).contains("No space left on device")
  expect(out).contains("head: /dev/mymem: Operation not permitted\n")
  expect(out).contains("\n1\nend\n")
  -- in a user namespace mknod is not allowed: the host's node at the same path is bound (runc's way)
  config({ "/bin/sh", "-c", "stat -c '%n %F %t:%T' /dev/kmsg" }, function(c)
    c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user" }
    c.linux.uidMappings = { { containerID = 0, hostID = 2000000000, size = 65536 } }
    c.linux.gidMappings = { { containerID = 0, hostID = 2000000000, size = 65536 } }
    c.linux.devices = { { path = "/dev/kmsg", type = "c", major = 1, minor = 11 } }
  end)
  out, rc = run(("run --bundle %s d2"):format(bundle))
  expect(rc, out).eq(0)
  expect(out).contains("/dev/kmsg character special file 1:b\n")
  config({ "/bin/true" }, function(c)
    c.linux.namespaces[#c.linux.namespaces + 1] = { type = "user" }
    c.linux.uidMappings = { { containerID = 0, hostID = 2000000000, size = 65536 } }
    c.linux.gidMappings = { { containerID = 0, hostID = 2000000000, size = 65536 } }
    c.linux.devices = { { path = "/dev/nosuch-on-host", type = "c", major = 1, minor = 11 } }
  end)
  out, rc = run(("run --bundle %s d3"):format(bundle))
  expect(rc).ne(0)
  expect(out).contains("device /dev/nosuch-on-host (c 1:11): mknod: Operation not permitted (a user namespace may not make device nodes, and the host has no c 1:11 at /dev/nosuch-on-host")
  expect(#core.list_dir(root)).eq(0)
end)

test("--log-format json writes each error as one JSON line", function()
  local log = work .. "/log.json"
  local _, rc = sh(("%s --root %s --log %s --log-format json state nosuch"):format(oci, root, log))
  expect(rc).eq(1)
  local line = io.open(log):read("*l")
  local e = sbx.json.decode(line)
  expect(e.level).eq("error")
  expect(e.msg).contains("container does not exist")
  expect(e.time).match("^%d+%-%d+%-%d+T")
end)

test("cleanup", function()
  sh(oci .. " --root " .. root .. " delete --force c1")
  sh(oci .. " --root " .. root .. " delete --force c2")
  sh(oci .. " --root " .. root .. " delete --force c3")
  sh(oci .. " --root " .. root .. " delete --force p5")
  sh(oci .. " --root " .. root .. " delete --force u1")
  sh(oci .. " --root " .. root .. " delete --force holder")
  for _, id in ipairs({ "k1", "k2", "k3", "k4", "s1" }) do sh(oci .. " --root " .. root .. " delete --force " .. id) end
  for _, id in ipairs({ "t1", "t2", "t3", "t4" }) do sh(oci .. " --root " .. root .. " delete --force " .. id) end
  sbx.sys.subreaper(false)
  os.execute("rm -rf " .. work)
end)
