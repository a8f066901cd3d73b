-- sbx as an OCI runtime (issue 13, first part): sbx-oci's create / start / state / kill / delete /
-- run / spec / list with runc's meaning, as an engine (conmon, containerd's shim: subreapers)
-- calls them, on a bundle made from the busybox rootfs; strict config.json errors leave nothing;
-- update changes a live container's limits.
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
  local kids = io.open(("/proc/%d/task/%d/children"):format(epid, epid)):read("*a")
  local payload = tonumber(kids:match("%d+"))
  expect(payload, "the exec'd process").truthy()
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

test("a bad config.json is one clear error naming the field, and leaves nothing", function()
  local cases = {
    { function(c) c.process.bogus = 1 end, "process.bogus: unknown or unsupported field" },
    { function(c) c.root = nil end, "root.path: missing" },
    { function(c) c.linux.sysctl = { ["kernel.panic"] = "1" } end, "sysctl kernel.panic: not a namespaced sysctl" },
    { function(c) c.process.rlimits = { { type = "RLIMIT_NOFILES", soft = 1, hard = 1 } } end, "rlimits: unknown type 'RLIMIT_NOFILES'" },
    { function(c) c.process.terminal = true end, "process.terminal" },
    { function(c) c.mounts[#c.mounts + 1] = { destination = "/x", type = "nfs", source = "h:/x" } end, "'nfs' mounts are not supported" },
    { function(c) c.linux.namespaces[#c.linux.namespaces + 1] = { type = "ipc", path = "/proc/1/ns/ipc" } end, "joining a ipc namespace by path" },
    { function(c) c.process.user = { uid = -1 } end, "spec.uid: -1 is not an id" },
  }
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

test("update: new limits in the live container's group and its plan.json; a bad value changes nothing", function()
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
  f:write('{"memory": {"limit": 33554432, "swappiness": 10}}')
  f:close()
  out, rc = run("update -r " .. work .. "/res.json u1")
  expect(rc).eq(1)
  expect(out).contains(work .. "/res.json: resources.memory.swappiness: unknown or unsupported field")
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
  sbx.sys.subreaper(false)
  os.execute("rm -rf " .. work)
end)
