-- sbx.loop: one event loop (epoll) in the process that supervises sandboxes. It dispatches fds
-- (a sandbox's exit, its cgroup's events, pressure triggers, output), timers (sbx.after,
-- sbx.every) and runs whenever a Process is waited for: p:wait() and box:run() run it, so
-- handlers fire with no extra code; sbx.loop.run() for a script that supervises many sandboxes.
-- A handler that fails is reported with where it was defined and the loop goes on.
local core = require "sbx.core"

local M = {}

-- Work for the loop makes p:wait run it: sbx.events installs that p:wait when it loads.
local function with_events()
  if not package.loaded["sbx.events"] then require "sbx.events" end
end

local poller
local sources = {}    -- token -> watch handle
local next_token = 0
local timers = {}     -- pending timer handles, soonest first
local stopped = false
local now = core.monotonic

local function where(fn)
  local info = debug.getinfo(fn, "S")
  return ("%s:%d"):format(info.short_src, info.linedefined or 0)
end

-- After a fork (a detached supervisor that keeps its Lua): this process's loop starts empty. The
-- parent's timers and watches stay the parent's; their epoll instance, shared across the fork, is
-- never changed from here (this process makes its own).
function M.forget()
  poller = nil
  sources, timers = {}, {}
  stopped = false
end

-- A handler's failure: a line on stderr naming the handler; never raised into the loop.
function M.report(fn, err)
  io.stderr:write(("sbx: the handler defined at %s failed: %s\n"):format(where(fn), tostring(err)))
end

local function call(fn, ...)
  local ok, err = xpcall(fn, function(e) return e end, ...)
  -- Ctrl-C at the prompt while a handler runs is not the handler's failure: it ends the wait
  if not ok and err == "interrupted" then error(err, 0) end
  if not ok then M.report(fn, err) end
  return ok
end
M.call = call

local Handle = {}
Handle.__index = Handle

function Handle:cancel()
  if not self.active then return end
  self.active = false
  if self.fd then
    sources[self.token] = nil
    if poller then poller:remove(self.fd) end
  else
    for i, t in ipairs(timers) do
      if t == self then table.remove(timers, i); break end
    end
  end
end

local function check_fn(fn, what)
  if type(fn) ~= "function" then error(what .. ": expected a function", 3) end
end

-- sbx.loop.watch(fd, fn [, "in"|"pri"]) -> handle | nil, message, errno: fn(handle, event) each
-- time fd is ready ({ hup =, err = }); handle:cancel() stops it.
function M.watch(fd, fn, ready)
  if type(fd) ~= "number" then error("sbx.loop.watch: expected an fd number", 2) end
  check_fn(fn, "sbx.loop.watch")
  with_events()
  if not poller then
    local p, err, errno = core.poller()
    if not p then return nil, err, errno end
    poller = p
  end
  next_token = next_token + 1
  local ok, err, errno = poller:add(fd, ready or "in", next_token)
  if not ok then return nil, err, errno end
  local h = setmetatable({ fd = fd, fn = fn, token = next_token, active = true }, Handle)
  sources[next_token] = h
  return h
end

local function schedule(t)
  local i = #timers + 1
  while i > 1 and timers[i - 1].at > t.at do i = i - 1 end
  table.insert(timers, i, t)
end

local function seconds(s, what)
  if type(s) ~= "number" or s ~= s or s < 0 or s > 1e9 then
    error(what .. ": expected a number of seconds (0.5, 2, ...)", 3)
  end
  return s
end

-- sbx.after(s, fn) -> handle: fn(handle) once, s seconds from now.
function M.after(s, fn)
  seconds(s, "sbx.after")
  check_fn(fn, "sbx.after")
  with_events()
  local t = setmetatable({ at = now() + s, fn = fn, active = true }, Handle)
  schedule(t)
  return t
end

-- sbx.every(s, fn) -> handle: fn(handle) every s seconds until handle:cancel().
function M.every(s, fn)
  seconds(s, "sbx.every")
  if s <= 0 then error("sbx.every: the interval must be above 0", 2) end
  check_fn(fn, "sbx.every")
  with_events()
  local t = setmetatable({ at = now() + s, every = s, fn = fn, active = true }, Handle)
  schedule(t)
  return t
end

-- sbx.loop.pressure("cpu"|"memory"|"io", "some 150ms/2s", fn) -> handle | nil, message, errno: fn()
-- each time the host's own pressure (/proc/pressure) crosses the trigger. Without
-- CAP_SYS_RESOURCE the kernel takes only windows that are whole multiples of 2 s.
function M.pressure(resource, spec, fn)
  if resource ~= "cpu" and resource ~= "memory" and resource ~= "io" then
    error(("sbx.loop.pressure: unknown resource %q (expected cpu, memory, io)"):format(tostring(resource)), 2)
  end
  if type(spec) ~= "string" then error('sbx.loop.pressure: expected a trigger such as "some 150ms/2s"', 2) end
  check_fn(fn, "sbx.loop.pressure")
  local w, err, errno = core.watch.pressure("/proc/pressure/" .. resource, spec)
  if not w then
    if errno == 22 then err = err .. " (without CAP_SYS_RESOURCE the kernel takes only windows that are whole multiples of 2 s)" end
    return nil, err, errno
  end
  local h, werr, werrno = M.watch(w.fd, function() fn() end, "pri")
  if not h then w:close(); return nil, werr, werrno end
  local cancel = h.cancel
  h.source = w  -- kept open as long as the handle
  function h:cancel() cancel(self); w:close() end
  return h
end

-- Whether anything waits for the loop (a watch or a timer).
function M.busy()
  return next(sources) ~= nil or #timers > 0
end

local function run_timers()
  local t = now()
  local ran = false
  while timers[1] and timers[1].at <= t do
    local tm = table.remove(timers, 1)
    ran = true
    if tm.every then
      tm.at = tm.at + tm.every
      if tm.at <= t then tm.at = t + tm.every end  -- a late loop skips, never bursts
      schedule(tm)
    else
      tm.active = false
    end
    call(tm.fn, tm)
  end
  return ran
end

-- sbx.loop.step([seconds [, pidfd]]) -> whether a handler ran: waits at most `seconds` (nil:
-- until the next timer or fd) and dispatches. With a sandbox's pidfd, signals sent to sbx
-- meanwhile go to that sandbox (as p:wait does); without, a signal raises "interrupted".
function M.step(timeout, pidfd)
  local wait = timeout
  if timers[1] then
    local d = math.max(0, timers[1].at - now())
    if not wait or d < wait then wait = d end
  end
  if wait == nil and not next(sources) then return false end
  local ran = false
  if next(sources) or (wait and wait > 0) then
    if not poller then poller = assert(core.poller()) end
    local ready, err, errno = poller:wait(wait, pidfd)
    if not ready then
      if errno == 4 then error("interrupted", 0) end  -- EINTR: Ctrl-C at the prompt
      error("sbx.loop: " .. tostring(err), 0)
    end
    for _, r in ipairs(ready) do
      local h = sources[r.token]
      if h and h.active then
        ran = true
        call(h.fn, h, r)
      end
    end
  end
  return run_timers() or ran
end

-- sbx.loop.run{ timeout =, until_ = fn } -> true when it ran out of work or until_() held,
-- false on timeout or sbx.loop.stop(): dispatches until nothing is left to wait for.
function M.run(opts)
  opts = opts or {}
  local deadline = opts.timeout and now() + seconds(opts.timeout, "sbx.loop.run{timeout}")
  local done = opts.until_
  stopped = false
  while not stopped do
    if done and done() then return true end
    if not M.busy() then return true end
    local left = deadline and deadline - now()
    if left and left <= 0 then return false end
    M.step(left, opts.pidfd)
  end
  stopped = false
  return false
end

-- Ends the innermost sbx.loop.run after the handler that calls it.
function M.stop() stopped = true end

return M
