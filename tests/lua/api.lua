-- The Lua API's contract: misuse raises at the caller's line, plans are data, primitives work.
local this_file = "api.lua"

test("container: unknown key raises at the caller's line, naming the key", function()
  local msg = expect_error(function() sbx.container{ rootfs = "/", bogus = 1 } end, "unknown key 'bogus'")
  expect(msg).contains(this_file .. ":")
end)

test("container: a value the plan's declaration refuses raises at the caller's line, naming its path", function()
  local msg = expect_error(function() sbx.container{ mounts = { { kind = "tmpfs", dest = "/t", size = 1.5 } } } end,
                           "spec.ops%[%d+%].size: 1.5 is not a whole number")
  expect(msg).contains(this_file .. ":")
  msg = expect_error(function() require("sbx.core").plan{ limits = { memry = 1 } } end, "spec.limits.memry: unknown key")
  expect(msg).contains("expected memory, memory_swap")
  local plan = sbx.container{ hostname = "h" }._plan
  expect(tostring(plan)).match("^sbx.Plan")
  expect(plan.hostname).eq("h")
  expect(plan.uid).eq(nil)
  expect(plan:with{ argv = { "/bin/x" } }.argv[1]).eq("/bin/x")
  expect(sbx.json.decode(plan:json()).hostname).eq("h")
end)

test("container: bad values raise naming the field", function()
  expect_error(function() sbx.container{ hostname = 5 } end, "hostname: expected string")
  expect_error(function() sbx.container{ ns = { "pid", "nope" } } end, "ns%[2%]: unknown namespace 'nope'")
  expect_error(function() sbx.container{ net = "cable" } end, "net: unknown 'cable'")
  expect_error(function() sbx.container{ rootfs = "relative/dir" } end, "rootfs: 'relative/dir' is not an absolute path")
  expect_error(function() sbx.container{ ns = { "mnt" }, hostname = "x" } end, "hostname: needs the uts namespace")
  expect_error(function() sbx.container{ time_offsets = { boottime = "3 weeks" } } end, "time_offsets.boottime: bad duration")
  expect_error(function() sbx.container{ tmp = "lots" } end, "tmp: bad size 'lots'")
  expect_error(function() sbx.container{ mounts = { "/etc" } } end, "mounts%[1%]: expected a step")
end)

test("mount helpers check their arguments", function()
  expect_error(function() sbx.bind("etc") end, "sbx.bind: source must be an absolute path")
  expect_error(function() sbx.tmpfs("/tmp", { size = "12Q" }) end, "unknown unit")
  expect_error(function() sbx.tmpfs("/tmp", { sise = "1M" }) end, "unknown option 'sise'")
  local op = sbx.tmpfs("/scratch", { size = "16M" })
  expect(op.kind).eq("tmpfs")
  expect(op.size).eq(16 * 1024 * 1024)
  expect(sbx.ro_bind("/etc", nil, { try = true }).optional).eq(true)
end)

test("box:spec() is the whole plan as plain data, in order", function()
  local box = sbx.container{ rootfs = "/srv/root", hostname = "h", mounts = { sbx.tmpfs("/scratch") }, env = { A = "1" } }
  local plan = box:spec()
  expect(plan.rootfs).eq("/srv/root")
  expect(plan.hostname).eq("h")
  local kinds, hidden = {}, {}
  for _, op in ipairs(plan.ops) do
    if op.kind == "mask" or op.kind == "read-only" then hidden[#hidden + 1] = op.kind .. " " .. op.dest
    else kinds[#kinds + 1] = op.kind .. " " .. op.dest end
  end
  -- (a root of its own: the host's /sys read-only first)
  expect(table.concat(kinds, ", ")).eq("ro-bind /sys, proc /proc, dev /dev, tmpfs /tmp, mqueue /dev/mqueue, tmpfs /scratch")
  -- the default hardening is part of the plan: masked and read-only paths, caps, no_new_privs, seccomp
  expect(table.concat(hidden, ", ")).contains("mask /proc/kcore, mask /proc/keys")
  expect(table.concat(hidden, ", ")).contains("read-only /proc/sys, read-only /proc/sysrq-trigger")
  expect(#plan.caps).eq(14)
  expect(plan.no_new_privs).eq(true)
  expect(plan.seccomp, "a built-in profile, by name").eq("default")
  local none = sbx.container{ rootfs = "/srv/root", seccomp = "none", caps = "all", no_new_privs = false, masked_paths = {}, readonly_paths = {} }:spec()
  expect(none.seccomp).eq(nil)
  expect(none.caps[1]).eq("all")
  expect(none.no_new_privs).eq(false)
  local env = table.concat(plan.env, " ")
  expect(env).contains("A=1")
  expect(env).contains("PATH=/usr/local/sbin")
  -- plain data: JSON round trip keeps it
  local again = sbx.json.decode(sbx.json.encode(plan))
  expect(again.hostname).eq("h")
  expect(#again.ops).eq(#plan.ops)
  -- a copy: changing it does not change the box
  plan.hostname = "changed"
  expect(box:spec().hostname).eq("h")
end)

test("default namespaces: all but time; user where the host allows it", function()
  local ns = table.concat(sbx.container{}:spec().namespaces, ",")
  local want = sbx.features().userns and "user,mnt,uts,ipc,pid,net,cgroup" or "mnt,uts,ipc,pid,net,cgroup"
  expect(ns).eq(want)
  expect(table.concat(sbx.container{ net = "host" }:spec().namespaces, ",")).eq((want:gsub(",net", "")))
end)

test("box:run/spawn reject bad arguments", function()
  local box = sbx.container{}
  expect_error(function() box:run{} end, "expected { \"/bin/prog\"")
  expect_error(function() box:run{ "/bin/true", stdot = "pipe" } end, "unknown key 'stdot'")
  expect_error(function() box:run{ "/bin/true", stdout = "file" } end, "stdout: expected")
end)

test("sbx.ns: name <-> flag tables and identities", function()
  expect(#sbx.ns.kinds).eq(8)
  expect(sbx.ns.flag.net).eq(0x40000000)
  expect(sbx.ns.flag.mount).eq(sbx.ns.flag.mnt)
  expect(sbx.ns.name[0x20000000]).eq("pid")
  local ids = sbx.ns.ids()
  for _, k in ipairs({ "mnt", "uts", "ipc", "pid", "net", "user", "cgroup" }) do
    expect(ids[k], k).type("number")
  end
  expect(#sbx.ns.diff(sbx.sys.getpid(), sbx.sys.getpid())).eq(0)
end)

test("sbx.json encodes and decodes", function()
  expect(sbx.json.encode({ 1, 2, 3 })).eq("[1,2,3]")
  expect(sbx.json.encode({ a = true, b = "x" })).eq('{"a":true,"b":"x"}')
  expect(sbx.json.decode('{"a":[1,{"b":null}]}').a[1]).eq(1)
  local v, err = sbx.json.decode("{nope")
  expect(v).eq(nil)
  expect(err).contains("not valid JSON")
  local cyc = {}
  cyc.self = cyc
  expect_error(function() sbx.json.encode(cyc) end, "nested too deep")
end)

test("sbx.size parses units and raises on bad ones", function()
  expect(sbx.size("64M")).eq(67108864)
  expect(sbx.size("1.5G")).eq(1610612736)
  expect_error(function() sbx.size("64Q") end, "unknown unit")
end)

test("sbx.sys.clone runs a Lua function in new namespaces (the seeds' clone example)", function()
  local before = sbx.sys.gethostname()
  local p = assert(sbx.sys.clone{ ns = { "uts" }, fn = function()
    assert(sbx.sys.sethostname("container"))
    return sbx.sys.gethostname() == "container" and 42 or 1
  end })
  local st = assert(p:wait())
  expect(st.code).eq(42)
  expect(sbx.sys.gethostname()).eq(before)
end)

test("sbx.sys.clone: the child cannot clean up the parent's sandboxes", function()
  local root = sbx.rootfs.busybox()
  if not root then skip("no busybox rootfs") end
  local box = sbx.container{ rootfs = root }
  local long = assert(box:spawn{ "/bin/sleep", "30" })
  -- the child collects garbage (including the Process it inherited) and closes the box
  local p = assert(sbx.sys.clone{ ns = {}, fn = function()
    box:close(); collectgarbage(); collectgarbage()
    local killed = long:kill("KILL")  -- refused: nil, "... belongs to the process that started it"
    return killed == nil and 0 or 5
  end })
  expect(assert(p:wait()).code).eq(0)
  expect(long.running, "the parent's sandbox still runs").eq(true)
  box:close()
  expect(long.running).eq(false)
end)

test("sbx.sys.unshare and setns move a process between namespaces", function()
  local p = assert(sbx.sys.clone{ ns = {}, fn = function()
    local before = sbx.ns.ids().uts
    assert(sbx.sys.unshare{ "uts" })
    local after = sbx.ns.ids().uts
    assert(sbx.sys.sethostname("moved"))
    assert(after ~= before)
    return 0
  end })
  expect(assert(p:wait()).code).eq(0)
  expect_error(function() sbx.sys.unshare{ "nope" } end, "unknown namespace 'nope'")
end)

test("operational failures return nil, message, errno", function()
  local ok, err, errno = sbx.sys.mount("none", "/nonexistent-sbx-dir", "tmpfs")
  expect(ok).eq(nil)
  expect(err).eq("mount none on /nonexistent-sbx-dir: No such file or directory")
  expect(errno).eq(2)
  local ok2, err2 = sbx.sys.setns(999999999, { "net" })
  expect(ok2).eq(nil)
  expect(err2).contains("999999999")
end)

test("sbx.sys.unshare{'mnt'} makes / private: a mount made next stays inside", function()
  local function has_shared()
    local f = assert(io.open("/proc/self/mountinfo"))
    local all = f:read("*a")
    f:close()
    return all:find("shared:", 1, true) ~= nil
  end
  local p = assert(sbx.sys.clone{ ns = {}, fn = function()
    -- An outer namespace of our own whose mounts are all shared (no mount is made in it) ...
    assert(sbx.sys.unshare({ "mnt" }, { propagation = "unchanged" }))
    assert(sbx.sys.mount(nil, "/", nil, { "rec", "shared" }))
    if not has_shared() then return 2 end
    -- ... and a new one inside it: its copies must not stay in the outer peer groups.
    assert(sbx.sys.unshare{ "mnt" })
    return has_shared() and 1 or 0
  end })
  expect(assert(p:wait()).code, "0: private; 1: still shared; 2: control failed").eq(0)
  expect_error(function() sbx.sys.unshare({ "mnt" }, { propagation = "shared" }) end, "propagation: expected")
end)

test("a C++ exception reaches Lua as a message, not as \"C++ exception\"", function()
  local msg = expect_error(function() sbx.json.encode({ name = "\255\254" }) end, "json.encode: ")
  expect(msg).contains("UTF-8")
  expect(msg:find("C++ exception", 1, true)).falsy()
end)

test("writing to a payload that stopped reading is an error, not a SIGPIPE", function()
  local root = sbx.rootfs.busybox()
  if not root then skip("no busybox rootfs") end
  local box = sbx.container{ rootfs = root }
  local st = assert(box:run{ "/bin/true", input = string.rep("x", 4 * 1024 * 1024), stdout = "pipe" })
  expect(st.code).eq(0)
  local p = assert(box:spawn{ "/bin/true", stdin = "pipe" })
  p:wait()
  local ok, err = p:write("more")
  expect(ok).eq(nil)
  expect(err).contains("Broken pipe")
end)

test("help() documents every function reachable from sbx, and help(sbx.container) every key (issue 17, item 10)", function()
  local help = require "sbx.help"
  local seen, missing = {}, {}
  local function walk(t, path, depth)
    if seen[t] or depth > 3 then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" then
        if type(v) == "function" then
          local text = help.text(v)
          if not text or not text:find("%S") then missing[#missing + 1] = path .. "." .. k end
        elseif type(v) == "table" then walk(v, path .. "." .. k, depth + 1) end
      end
    end
  end
  walk(sbx, "sbx", 1)
  table.sort(missing)
  expect(table.concat(missing, " ")).eq("")
  expect(help.text(sbx.net.up)).contains("sbx.net.up(where, ifname)")
  expect(help.text("sbx.sys.mount")).contains("mount(2)")
  local text = help.text(sbx.container)
  for k in pairs(require("sbx.container").keys) do expect(text, k).contains("\n    " .. k .. " ") end
end)
