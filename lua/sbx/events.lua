-- What a running sandbox tells the loop, and what a handler can do about it: p:on(event, fn),
-- p:wait() that runs the loop, p:freeze()/p:thaw(), p:limits{...} (a live change),
-- p:processes(). Events come from the kernel: the pidfd (exit), the cgroup's memory.events and
-- pids.events (inotify; cgroup v1's oom_control, thresholds and pressure levels through
-- cgroup.event_control), pressure-stall triggers (PSI, cgroup v2), timers (stats) and the
-- payload's pipes (stdout, stderr lines).
local core = require "sbx.core"
local loop = require "sbx.loop"

local P = core.Process
local c_wait = P.wait
local M = {}

local EVENTS = { "exit", "oom", "oom_kill", "memory.high", "memory.max", "pids.max", "pressure",
                 "stats", "stdout", "stderr", "egress_denied" }
local KNOWN = {}
for _, e in ipairs(EVENTS) do KNOWN[e] = true end
M.events = EVENTS

local state = setmetatable({}, { __mode = "k" })  -- Process -> its handlers and sources
local watch_exit  -- (below: the pidfd watch that collects the status)

local function of(p)
  local s = state[p]
  if not s then
    s = { on = {}, sources = {}, counters = {} }
    state[p] = s
  end
  return s
end

local function fire(p, event, ev)
  local s = state[p]
  local list = s and s.on[event]
  if not list then return end
  ev.event = event
  for _, h in ipairs({ unpack(list) }) do
    if h.active then loop.call(h.fn, ev, p) end
  end
end

-- fire(p, event, ev): for sources outside this file (sbx.egress's egress_denied).
M.fire = fire

-- The sandbox's own group; `what` names the caller in the error (p:on("oom"), p:freeze).
local function group(p, what, level)
  local label = what:match("^p:") and what or ("p:on(%q)"):format(what)
  local path = p.cgroup
  if not path then
    error(("%s: this sandbox has no cgroup of its own: give it a limit (memory = \"64M\", pids = 64)"):format(label), level or 0)
  end
  local g, err = require("sbx.cgroup").open(path)
  if not g then error(("%s: %s"):format(label, err), level or 0) end
  return g
end

local function keyed(text, key)
  return tonumber((text or ""):match("%f[%w_]" .. key:gsub("%p", "%%%0") .. " (%d+)")) or 0
end

-- Counters read now against the ones last seen: each event whose counter grew fires once with
-- { count = total, new = by how much }.
local function compare(p, which, now)
  local s = of(p)
  local before = s.counters[which] or {}
  for event, n in pairs(now) do
    local was = before[event] or 0
    if n > was then fire(p, event, { count = n, new = n - was }) end
  end
  s.counters[which] = now
end

local function add_source(p, key, arm)
  local s = of(p)
  if s.sources[key] then return end
  local src = arm()
  s.sources[key] = src
end

local function close_sources(p)
  local s = state[p]
  if not s then return end
  for k, src in pairs(s.sources) do
    if src.handle then src.handle:cancel() end
    if src.first then src.first:cancel() end
    if src.watch then src.watch:close() end
    s.sources[k] = nil
  end
end

-- A file the kernel rewrites when a counter moves (cgroup v2 memory.events, pids.events): an
-- inotify watch; the counters are read at once too (a change before the watch is not lost).
local function file_source(p, event, g, file, read)
  local path = g:file(file)
  if not path then error(("p:on(%q): this host's cgroups have no %s"):format(event, file), 0) end
  local w, err = core.watch.file(path)
  if not w then error(("p:on(%q): %s"):format(event, err), 0) end
  local function check()
    local text = core.read_file(path)
    if text then compare(p, file, read(text)) end
  end
  local src = { watch = w, check = check }
  src.handle = assert(loop.watch(w.fd, function() w:drain(); check() end))
  -- from zero: the group is the sandbox's own, so what it counted before p:on is reported too
  src.first = loop.after(0, check)
  return src
end

local function memory_events(text)
  return { ["memory.high"] = keyed(text, "high"), ["memory.max"] = keyed(text, "max"),
           oom = keyed(text, "oom"), oom_kill = keyed(text, "oom_kill") }
end

local function pids_events(text) return { ["pids.max"] = keyed(text, "max") } end

-- cgroup v1: an eventfd the kernel signals; `after` reads what it means.
local function v1_source(p, event, g, file, args, after)
  local path = g:file(file)
  if not path then error(("p:on(%q): this host's cgroups have no %s"):format(event, file), 0) end
  local dir = path:match("^(.*)/[^/]+$")
  local w, err = core.watch.cgroup_v1(dir, file, args)
  if not w then error(("p:on(%q): %s"):format(event, err), 0) end
  local src = { watch = w, check = function() after(false) end }
  src.handle = assert(loop.watch(w.fd, function() w:drain(); after(true) end))
  return src
end

local arm = {}

function arm.memory(p, event)
  local g = group(p, event)
  if g:version("memory") == 2 then
    add_source(p, "memory.events", function() return file_source(p, event, g, "memory.events", memory_events) end)
    return
  end
  if event == "memory.high" then
    error('p:on("memory.high"): this host\'s memory controller is cgroup v1, which has no memory.high (use "memory.max" or "oom")', 0)
  end
  local oom_control = g:file("memory.oom_control")
  local function kills() return { oom_kill = keyed(core.read_file(oom_control) or "", "oom_kill") } end
  if event == "oom" or event == "oom_kill" then
    add_source(p, "memory.oom_control", function()
      return v1_source(p, event, g, "memory.oom_control", "", function(notified)
        if notified then
          local s = of(p)
          s.counters.oom = (s.counters.oom or 0) + 1
          fire(p, "oom", { count = s.counters.oom, new = 1 })
        end
        compare(p, "oom_control", kills())
        -- the kill follows the notification: look again once it had time to happen
        if notified then loop.after(0.05, function() if not of(p).status then compare(p, "oom_control", kills()) end end) end
      end)
    end)
  else  -- memory.max: usage reaching the limit (a threshold at it), counted by memory.failcnt
    add_source(p, "memory.usage_in_bytes", function()
      local limit = tonumber(core.read_file(g:file("memory.limit_in_bytes")) or "")
      if not limit or limit >= 2 ^ 62 then
        error('p:on("memory.max"): this sandbox has no memory limit to reach (give it memory = "64M")', 0)
      end
      local failcnt = g:file("memory.failcnt")
      local function hits() return { ["memory.max"] = tonumber(core.read_file(failcnt) or "") or 0 } end
      return v1_source(p, event, g, "memory.usage_in_bytes", tostring(limit), function() compare(p, "failcnt", hits()) end)
    end)
  end
end
arm.oom, arm.oom_kill, arm["memory.high"], arm["memory.max"] = arm.memory, arm.memory, arm.memory, arm.memory

-- A counter file the kernel does not notify about (cgroup v1's pids.events): read every 50 ms.
local function polled_source(p, event, g, file, read)
  local path = g:file(file)
  if not path then error(("p:on(%q): this host's cgroups have no %s"):format(event, file), 0) end
  local function check()
    local text = core.read_file(path)
    if text then compare(p, file, read(text)) end
  end
  return { check = check, handle = loop.every(0.05, check), first = loop.after(0, check) }
end

arm["pids.max"] = function(p, event)
  local g = group(p, event)
  if g:version("pids") == 2 then
    add_source(p, "pids.events", function() return file_source(p, event, g, "pids.events", pids_events) end)
  else  -- v1 counts in pids.events but does not notify
    add_source(p, "pids.events", function() return polled_source(p, event, g, "pids.events", pids_events) end)
  end
end

-- pressure: opts = { memory = "some 150ms/2s", cpu = ..., io = ... } (the default: the box's
-- `pressure` table). cgroup v2: PSI triggers on the group's *.pressure files; v1: memory only, as
-- a level of memory.pressure_level ("low", "medium", "critical").
arm.pressure = function(p, event, opts)
  if type(opts) ~= "table" or not next(opts) then
    error('p:on("pressure", fn, { memory = "some 150ms/2s" }): say which pressure (memory, cpu, io) and how much', 0)
  end
  local g = group(p, event)
  for resource, spec in pairs(opts) do
    if resource ~= "memory" and resource ~= "cpu" and resource ~= "io" then
      error(('p:on("pressure"): unknown resource %q (expected memory, cpu, io)'):format(tostring(resource)), 0)
    end
    if type(spec) ~= "string" then error(('p:on("pressure"): %s: expected a text such as "some 150ms/2s"'):format(resource), 0) end
    local key = "pressure " .. resource
    if g:version(resource) == 2 then
      local file = g:file(resource .. ".pressure")
      if not file then error(('p:on("pressure"): this host has no %s.pressure for the group (PSI is off?)'):format(resource), 0) end
      add_source(p, key, function()
        local w, err, errno = core.watch.pressure(file, spec)
        if not w then
          if errno == 22 and spec:match("^%a+ [^ ]+") then
            err = err .. " (without CAP_SYS_RESOURCE the kernel takes only windows that are whole multiples of 2 s: \"some 150ms/2s\")"
          end
          error('p:on("pressure"): ' .. err, 0)
        end
        local src = { watch = w }
        src.handle = assert(loop.watch(w.fd, function() fire(p, "pressure", { resource = resource, trigger = spec }) end, "pri"))
        return src
      end)
    elseif resource == "memory" then
      if not (spec == "low" or spec == "medium" or spec == "critical") then
        error(('p:on("pressure"): this host\'s memory controller is cgroup v1, which has no PSI triggers: give a level, "low", "medium" or "critical" (not %q)'):format(spec), 0)
      end
      add_source(p, key, function()
        return v1_source(p, event, g, "memory.pressure_level", spec, function(notified)
          if notified then fire(p, "pressure", { resource = "memory", level = spec }) end
        end)
      end)
    else
      error(('p:on("pressure"): %s pressure needs cgroup v2 (this host\'s %s controller is v1)'):format(resource, resource), 0)
    end
  end
end

arm.stats = function(p, event, opts)
  local every = type(opts) == "table" and opts.every or type(opts) == "number" and opts or 1
  add_source(p, "stats " .. every, function()
    local src = {}
    src.handle = loop.every(every, function()
      local st = p:stat()
      if st then fire(p, "stats", { stats = st }) end
    end)
    return src
  end)
end

local function lines_source(p, stream)
  local fd = p[stream .. "_fd"]
  if not fd then
    error(('p:on(%q): start it with %s = "pipe" to read its lines'):format(stream, stream), 0)
  end
  local s = of(p)
  local buf = ""
  local src = {}
  local function flush(final)
    while true do
      local i = buf:find("\n", 1, true)
      if not i then break end
      local line = buf:sub(1, i - 1)
      buf = buf:sub(i + 1)
      fire(p, stream, { line = line })
    end
    if final and buf ~= "" then fire(p, stream, { line = buf }); buf = "" end
  end
  -- reads what is there now: false at the end of the pipe
  local function drain()
    while true do
      local chunk = core.read_some(fd)
      if chunk == nil then return false end
      if chunk == "" then return true end
      buf = buf .. chunk
      if s.capture and s.capture[stream] then table.insert(s.capture[stream], chunk) end
      flush(false)
    end
  end
  src.handle = assert(loop.watch(fd, function(h)
    if not drain() then h:cancel(); flush(true) end
  end))
  src.check = function() end
  -- at the end (the exit seen first): what is still in the pipe, then the last partial line
  src.finish = function() drain(); flush(true) end
  return src
end

arm.stdout = function(p) add_source(p, "stdout", function() return lines_source(p, "stdout") end) end
arm.stderr = function(p) add_source(p, "stderr", function() return lines_source(p, "stderr") end) end

-- A handler's answer to a notified call: nothing or "allow" (the call goes on: for audits only, as
-- its pointer arguments can change after the check), "deny" [, errno], "return", value, or "open",
-- path | fd [, flags] (the supervisor opens the file and gives the caller that fd).
local function answer(call, what, x, y)
  if call.answered then return end  -- the handler answered it itself (call:open, call:deny, ...)
  if what == nil or what == "allow" then return call:allow() end
  if what == "deny" then return call:deny(x or "EPERM") end
  if what == "return" then return call:give(x or 0) end
  if what == "open" then
    if type(x) == "number" then return call:give_fd(x, y) end
    if type(x) ~= "string" then error('on_call: "open" needs a path or an fd', 0) end
    return call:open(x, y)
  end
  error(('on_call: unknown answer %q (expected "allow", "deny", "return" or "open")'):format(tostring(what)), 0)
end

-- seccomp.on_call: every call a notify rule stops is answered by fn(call) in this process, from the
-- loop. A handler that fails: the call is refused, the failure reported, and the sandbox killed.
function M.serve_seccomp(p, fn)
  local l = p:seccomp_listener()
  if not l then error("seccomp.on_call: the sandbox handed over no seccomp listener", 2) end
  local s = of(p)
  local src = { listener = l }
  src.handle = assert(loop.watch(l.fd, function(h, ev)
    -- no task uses the filter any more (a receive now would wait for ever on some kernels)
    if ev.hup then h:cancel(); return end
    local call = l:receive()
    if not call then return end  -- the caller went away first
    local ok, err = xpcall(function() return answer(call, fn(call)) end, function(e) return e end)
    if not ok and err == "interrupted" then
      -- Ctrl-C at the prompt: this call refused, the wait ended; the next one serves again
      if not call.answered then call:deny("EPERM") end
      error(err, 0)
    end
    if not ok then
      loop.report(fn, err)
      if not call.answered then call:deny("EPERM") end
      p:kill("KILL")
    end
  end))
  s.sources.seccomp = src
  watch_exit(p)
end

-- The end of a sandbox: the last counters read while its group still exists, then the status
-- (the group goes with the reap), then every source closed and the exit handlers called.
local function collect(p)
  local s = of(p)
  if s.status then return s.status end
  for _, src in pairs(s.sources) do
    if src.check then loop.call(src.check) end
  end
  local st, err, errno = c_wait(p)
  if not st then return nil, err, errno end
  s.status = st
  for _, src in pairs(s.sources) do
    if src.finish then src.finish() end
  end
  close_sources(p)
  if s.exit_handle then s.exit_handle:cancel(); s.exit_handle = nil end
  fire(p, "exit", { status = st })
  return st
end

function watch_exit(p)
  local s = of(p)
  if s.exit_handle or s.status then return end
  local fd = p.pidfd
  if not fd or fd < 0 then return end
  s.exit_handle = assert(loop.watch(fd, function() collect(p) end))
end

-- p:on(event, fn [, opts]) -> handle: fn(ev, p) each time the event happens; handle:cancel().
-- Events: exit { status }, oom / oom_kill / memory.high / memory.max / pids.max { count, new },
-- pressure { resource, trigger | level } (opts: { memory = "some 150ms/2s", cpu =, io = }),
-- stats { stats } (opts: { every = seconds }), stdout / stderr { line }.
function P.on(p, event, fn, opts)
  if not KNOWN[event] then
    error(("p:on: unknown event %q (expected %s)"):format(tostring(event), table.concat(EVENTS, ", ")), 2)
  end
  if type(fn) ~= "function" then error(("p:on(%q): expected a function"):format(event), 2) end
  local s = of(p)
  if s.status then error(("p:on(%q): this sandbox has already ended"):format(event), 2) end
  if arm[event] then
    local ok, err = pcall(arm[event], p, event, opts)
    if not ok then error((tostring(err):gsub("^[^:]*:%d+: ", "")), 2) end
  end
  watch_exit(p)
  local h = { fn = fn, active = true }
  function h.cancel() h.active = false end
  s.on[event] = s.on[event] or {}
  table.insert(s.on[event], h)
  return h
end

-- p:wait([timeout]): while it has handlers, or the loop has other work, the loop runs meanwhile
-- (signals sent to sbx go to the sandbox, as without handlers).
function P.wait(p, timeout)
  local s = state[p]
  if s and s.status then return s.status end
  if (s or loop.busy()) and p.running then
    watch_exit(p)
    s = of(p)
    local deadline = timeout and core.monotonic() + timeout
    while not s.status do
      local left = deadline and deadline - core.monotonic()
      if left and left <= 0 then
        return nil, ("wait for sandbox pid %d: timed out"):format(p.pid), 110
      end
      loop.step(left, p.pidfd)
    end
    return s.status
  end
  if s then return collect(p) end
  return c_wait(p, timeout)
end

-- p:communicate(input, timeout) through the loop (box:run uses it while the loop is busy):
-- stdout and stderr read as they come, the loop's other handlers running meanwhile.
function M.communicate(p, input, timeout, want)
  local s = of(p)
  s.capture = { stdout = want.stdout and {}, stderr = want.stderr and {} }
  for _, stream in ipairs{ "stdout", "stderr" } do
    if want[stream] then arm[stream](p) end
  end
  if input then p:write(input) end
  p:close_stdin()
  local st, err, errno = P.wait(p, timeout)
  local out = s.capture.stdout and table.concat(s.capture.stdout)
  local errout = s.capture.stderr and table.concat(s.capture.stderr)
  s.capture = nil
  return st, out, errout, err, errno
end

function M.busy(p) return state[p] ~= nil or loop.busy() end

-- p:freeze() / p:thaw(): every process of its group stopped (cgroup freezer) or let go on.
function P.freeze(p)
  local g = group(p, "p:freeze", 3)
  return g:freeze()
end
function P.thaw(p)
  local g = group(p, "p:thaw", 3)
  return g:thaw()
end

-- p:limits{ memory = "128M", cpus = 0.5, pids = 100 }: a live change of its group's limits (all
-- or none) -> true | nil, message, errno
function P.limits(p, limits)
  if type(limits) ~= "table" then error("p:limits: expected a table such as { memory = \"128M\" }", 2) end
  local g = group(p, "p:limits", 3)
  return g:limit(limits)
end

local function proc_stat(pid)
  local text = core.read_file("/proc/" .. pid .. "/stat")
  if not text then return nil end
  local comm, rest = text:match("^%d+ %((.*)%) (.*)$")
  if not rest then return nil end
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  -- fields after comm: state(1) ppid(2) ... utime(12) stime(13) ... rss(22, pages)
  return { pid = pid, comm = comm, state = f[1], ppid = tonumber(f[2]),
           cpu = (tonumber(f[12]) + tonumber(f[13])) / 100, rss = tonumber(f[22]) * 4096 }
end

-- p:processes() -> { { pid =, ppid =, comm =, cmd =, state =, rss = bytes, cpu = seconds }, ... }:
-- its process tree as the host sees it (its group's processes; without one, the init's
-- descendants), parents before children.
function P.processes(p)
  local pids = {}
  if p.cgroup then
    local g = require("sbx.cgroup").open(p.cgroup)
    pids = g and g:procs() or {}
  else
    local todo, seen = { p.pid }, {}
    while #todo > 0 do
      local pid = table.remove(todo)
      if not seen[pid] then
        seen[pid] = true
        pids[#pids + 1] = pid
        local f = io.open(("/proc/%d/task/%d/children"):format(pid, pid))
        if f then
          for c in f:read("*a"):gmatch("%d+") do todo[#todo + 1] = tonumber(c) end
          f:close()
        end
      end
    end
  end
  local out = {}
  for _, pid in ipairs(pids) do
    local st = proc_stat(pid)
    if st then
      local cmd = core.read_file("/proc/" .. pid .. "/cmdline") or ""
      st.cmd = cmd:gsub("%z+$", ""):gsub("%z", " ")
      out[#out + 1] = st
    end
  end
  table.sort(out, function(a, b) return a.pid < b.pid end)
  return out
end

return M
