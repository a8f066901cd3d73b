-- Long-running sandboxes: run -d, ps, logs, exec (its pid 1, hostname and mounts), inspect,
-- stats, kill, stop, rm with nothing left; the Lua API; a supervisor without Lua; stale state
-- (a SIGKILLed supervisor, a recycled pid) never trusted.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local me = sbx.sys.getpid()
local function out(cmd) return (sh(cmd)) end
local function cgroup_exists(path)
  local layout = sbx.cgroup.layout()
  local base = layout.layout == "2" and layout.v2_root or layout.v1.memory
  return io.open(base .. path .. "/cgroup.procs") ~= nil
end

before_each(function()  -- a failed case must not leave a sandbox running for the next
  for _, s in ipairs(sbx.list()) do
    if s.name:find("%-" .. me .. "$") then s:remove(true) end
  end
end)

test("run -d, ps, logs, exec, inspect, stats, stop, rm: the whole life, nothing left", function()
  local name = "life-" .. me
  local started = out(("%s run --busybox -d --name %s --hostname %s --memory 64M --tmpfs /scratch -- sh -c 'echo started-$(hostname); echo to-stderr >&2; exec sleep 300'"):format(bin, name, name))
  expect(started).contains("running in the background as " .. name)
  local sup = tonumber(started:match("supervisor pid (%d+)"))
  local cg = started:match("cgroup (%S+)")
  -- the supervisor holds no Lua: it is sbx re-executed, and small
  expect(out("cat /proc/" .. sup .. "/cmdline | tr '\\0' ' '")).contains("--supervise")
  local rss = tonumber(out("awk '/VmRSS/ { print $2 }' /proc/" .. sup .. "/status"))
  -- (a sanitized build - the sanitizer lane - carries ASan's shadow memory: its own bound)
  expect(rss, "supervisor RSS in kB").lt(os.getenv("SBX_SANITIZED") and 65536 or 8192)
  local ps = out(bin .. " ps")
  expect(ps).match(name:gsub("%p", "%%%0") .. " +running +%d+ ")
  for _ = 1, 50 do
    if out(bin .. " logs " .. name):find("to%-stderr") then break end
    os.execute("sleep 0.05")
  end
  expect(out(bin .. " logs " .. name)).eq("started-" .. name .. "\nto-stderr\n")
  -- exec: its pid namespace (pid 1 is its init), its hostname, its mounts, its cgroup
  local ex = out(bin .. " exec " .. name .. " sh -c 'cat /proc/1/comm; hostname; grep -c \" /scratch tmpfs\" /proc/mounts; id -u; cat /proc/self/cgroup | grep -c memory:/$'")
  expect(ex).eq("sbx-init\n" .. name .. "\n1\n0\n1\n")
  local _, rc = sh(bin .. " exec " .. name .. " sh -c 'exit 7'")
  expect(rc, "exec passes the exit status on").eq(7)
  local insp = sbx.json.decode(out(bin .. " inspect " .. name))[1]
  expect(insp.status).eq("running")
  expect(insp.plan.hostname).eq(name)
  expect(insp.supervisor).eq(sup)
  local stats = out(bin .. " stats --no-stream " .. name)
  expect(stats).match(name:gsub("%p", "%%%0") .. " +[%d.]+%% +[%d.]+%a+")
  expect(out(bin .. " stop -t 5 " .. name)).eq(name .. "\n")
  expect(out(bin .. " ps -a")).match(name:gsub("%p", "%%%0") .. " +exited %(143%)")
  expect(require("sbx.core").process_identity(sup), "the supervisor is gone").eq(nil)
  expect(cgroup_exists(cg), "its cgroup is removed").eq(false)
  expect(out(bin .. " rm " .. name)).eq(name .. "\n")
  expect(out(bin .. " ps -a"):find(name, 1, true)).eq(nil)
  local _, rc2 = sh(bin .. " logs " .. name)
  expect(rc2).eq(1)
end)

test("run -d --name on the host's root (no --busybox): the name is the sandbox's", function()
  -- (it was taken for an image container's: "no container 'NAME' (give image = to make it)")
  local name = "hostroot-" .. me
  local started = out(("%s run -d --name %s -- sleep 30"):format(bin, name))
  expect(started).contains("running in the background as " .. name)
  expect(sbx.get(name).status).eq("running")
  assert(sbx.get(name):remove(true))
end)

test("rm -f of several running ones: all end together, each removed once its supervisor recorded the end", function()
  local names, pids, sups = {}, {}, {}
  for i = 1, 6 do
    names[i] = ("many%d-%d"):format(i, me)
    -- one ignores TERM: -f still ends it (KILL follows at once)
    local cmd = i == 1 and "trap '' TERM; exec sleep 300" or "exec sleep 300"
    local o = out(("%s run --busybox -d --name %s --memory 32M -- sh -c %q"):format(bin, names[i], cmd))
    pids[i], sups[i] = tonumber(o:match("sandbox pid (%d+)")), tonumber(o:match("supervisor pid (%d+)"))
    expect(pids[i], o).truthy()
  end
  local cgs = {}
  for i, n in ipairs(names) do cgs[i] = sbx.get(n).state.cgroup end
  local o, rc = sh(bin .. " rm -f " .. table.concat(names, " "))
  expect(rc, o).eq(0)
  expect(o).eq(table.concat(names, "\n") .. "\n")
  for i, n in ipairs(names) do
    expect(sbx.get(n), n .. " removed").eq(nil)
    expect(io.open("/proc/" .. pids[i] .. "/stat"), n .. "'s sandbox ended").eq(nil)
    -- (recording the end is its last step: it may still be leaving, then it is a zombie until
    -- the machine's init reaps it)
    local function ended()
      local f = io.open("/proc/" .. sups[i] .. "/stat")
      if not f then return true end
      local state = f:read("*l"):match("%) (%a)")
      f:close()
      return state == "Z" or state == "X"
    end
    for _ = 1, 100 do if ended() then break end require("sbx.core").sleep(0.01) end
    expect(ended(), n .. "'s supervisor ended").eq(true)
    expect(cgroup_exists(cgs[i]), n .. "'s group removed").eq(false)
  end
end)

test("logs -f follows the output until the sandbox ends", function()
  local name = "follow-" .. me
  out(("%s run --busybox -d --name %s -- sh -c 'echo one; sleep 1; echo two'"):format(bin, name))
  local o, rc = sh(bin .. " logs -f " .. name)
  expect(rc).eq(0)
  expect(o).eq("one\ntwo\n")
  expect(assert(sbx.get(name)).state.code).eq(0)
  expect(out(bin .. " rm " .. name)).eq(name .. "\n")
end)

test("errors: a name in use, unknown names, rm of a running one, -t with -d", function()
  local name = "dup-" .. me
  out(("%s run --busybox -d --name %s -- sleep 300"):format(bin, name))
  local o, rc = sh(("%s run --busybox -d --name %s -- true"):format(bin, name))
  expect(rc).eq(125)
  expect(o).contains("sandbox " .. name .. ": name in use (running: sbx stop " .. name .. ")")
  o, rc = sh(bin .. " rm " .. name)
  expect(rc).eq(1)
  expect(o).contains("is running: stop it first (or rm -f)")
  o, rc = sh(bin .. " exec nosuch-" .. me .. " true")
  expect(rc).eq(1)
  expect(o).contains("no such sandbox")
  o, rc = sh(bin .. " exec " .. name .. " /nonexistent")
  expect(rc).eq(127)  -- (docker's and podman's: the command is not there)
  expect(o).contains("exec /nonexistent: No such file or directory")
  o, rc = sh(bin .. " run --busybox -it -d -- sh")
  expect(rc).eq(2)
  expect(out(bin .. " rm -f " .. name)).eq(name .. "\n")
end)

test("Lua: box:start, sbx.list, sbx.get, s:exec, s:logs, s:stats, s:stop, s:remove", function()
  local name = "lua-" .. me
  local box = sbx.container{ rootfs = sbx.rootfs.busybox(), hostname = "luabox", limits = { memory = "32M" } }
  local s = assert(box:start({ "sh", "-c", "echo hi; exec sleep 300" }, { name = name }))
  expect(s.status).eq("running")
  local found = false
  for _, x in ipairs(sbx.list()) do found = found or x.name == name end
  expect(found).truthy()
  local g = assert(sbx.get(name))
  local st = assert(g:exec{ "hostname", stdout = "pipe" })
  expect(st.stdout).eq("luabox\n")
  expect(assert(g:stats()).memory).gt(0)
  for _ = 1, 50 do
    if g:logs() ~= "" then break end
    os.execute("sleep 0.05")
  end
  expect(g:logs()).eq("hi\n")
  assert(g:stop(2))
  expect(g:refresh().status).eq("exited")
  expect(g.state.signal).eq(15)
  assert(g:remove())
  local none, err = sbx.get(name)
  expect(none).eq(nil)
  expect(err).contains("no such sandbox")
  expect_error(function() sbx.get("../etc") end, "not a sandbox name")
end)

test("a detached sandbox with handlers, hooks and on_call: a supervisor that keeps them after the script ends", function()
  local name = "policy-" .. me
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(([[
local box = sbx.container{ rootfs = sbx.rootfs.busybox(),
  seccomp = { notify = { "mkdir" }, on_call = function(call) print("on_call mkdir " .. call:string(1)); return "deny", "EACCES" end },
  on = { exit = function(ev) print("exit handler: code " .. tostring(ev.status.code)) end },
  hooks = { created = function(p) assert(p:write_file("/tmp/from-hook", "hooked\n")) end } }
local s = assert(box:start({ "/bin/sh", "-c", "sleep 1; cat /tmp/from-hook; mkdir /tmp/denied || echo mkdir-refused; exit 7" }, { name = %q }))
print(s.status, s.state.supervisor)
]]):format(name))
  f:close()
  local started = out(bin .. " " .. script)
  os.remove(script)
  local sup = tonumber(started:match("^running%s+(%d+)"))
  expect(sup, started).type("number")
  -- the script is gone; the sandbox runs on under its supervisor (a fork of the script, with its Lua)
  expect(sbx.get(name).status).eq("running")
  local s
  for _ = 1, 200 do
    s = sbx.get(name)
    if s.status == "exited" then break end
    os.execute("sleep 0.05")
  end
  expect(s.status).eq("exited")
  expect(s.state.code, "the payload's code").eq(7)
  local log = s:logs()
  expect(log, "the hook wrote into its root").contains("hooked\n")
  expect(log, "on_call answered the payload's mkdir").contains("on_call mkdir /tmp/denied")
  expect(log).contains("mkdir-refused")
  expect(log, "the exit handler ran in the supervisor").contains("exit handler: code 7")
  local gone = false
  for _ = 1, 100 do
    local st = io.open("/proc/" .. sup .. "/stat")
    local text = st and st:read("*a") or ""
    if st then st:close() end
    if text == "" or text:match("^%d+ %b() Z") then gone = true; break end  -- (a zombie of a subreaper)
    os.execute("sleep 0.02")
  end
  expect(gone, "the supervisor ended with it").eq(true)
  assert(s:remove())
  -- sbx stop: TERM reaches the sandbox through the Lua supervisor too
  local box = sbx.container{ rootfs = sbx.rootfs.busybox(), on = { exit = function() print("ended") end } }
  local s2 = assert(box:start({ "sleep", "300" }, { name = name }))
  expect(s2.status).eq("running")
  assert(s2:stop(5))
  s2 = sbx.get(name)
  expect(s2.status).eq("exited")
  expect(s2.state.signal, "ended by TERM").eq(15)
  expect(s2:logs()).contains("ended")
  assert(s2:remove())
end)

test("stale state: a SIGKILLed supervisor reads as lost and sbx gc removes it; a recycled pid is never signalled", function()
  local name = "stale-" .. me
  local started = out(("%s run --busybox -d --name %s -- sleep 300"):format(bin, name))
  local sup = tonumber(started:match("supervisor pid (%d+)"))
  local init = tonumber(started:match("sandbox pid (%d+)"))
  sbx.sys.kill(sup, 9)
  local status
  for _ = 1, 100 do
    status = assert(sbx.get(name)).status
    if status == "lost" then break end
    os.execute("sleep 0.05")
  end
  expect(status).eq("lost")
  expect(init and require("sbx.core").process_identity(init)).eq(nil)
  local o, rc = sh(bin .. " kill " .. name .. " TERM")
  expect(rc).eq(1)
  expect(o).contains("is lost")
  expect(out(bin .. " gc")).contains("removed sandbox " .. name)
  expect(sbx.get(name)).eq(nil)
  -- a state whose recorded pid now belongs to another process (ours): refused, the process lives
  local victim = assert(sbx.container{ rootfs = sbx.rootfs.busybox(), ns = { "mnt" } }:spawn{ "sleep", "300" })
  local dir = require("sbx.sandboxes").dir() .. "/recycled-" .. me
  os.execute("mkdir -p " .. dir)
  local f = assert(io.open(dir .. "/state.json", "w"))
  f:write(sbx.json.encode({ name = "recycled-" .. me, status = "running", pid = victim.pid, identity = "not-this-one:1",
                            supervisor = victim.pid, supervisor_identity = "not-this-one:1" }))
  f:close()
  local r = assert(sbx.get("recycled-" .. me))
  expect(r.status).eq("lost")
  local ok, kerr = r:kill("KILL")
  expect(ok).eq(nil)
  expect(kerr).contains("is lost")
  assert(r:stop(0))
  expect(victim.running, "the process that got the pid is untouched").truthy()
  victim:kill("KILL")
  victim:wait()
  os.execute("rm -rf " .. dir)
end)
