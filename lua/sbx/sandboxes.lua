-- Long-running sandboxes: `sbx run -d --name web`, box:start(), sbx.list(), sbx.get(name).
-- Each lives in <state dir>/sandboxes/NAME: plan.json (what it runs), state.json (written by its
-- supervisor: pid, identity, status, exit status, address, ports, cgroup) and log (its stdout and
-- stderr). A pid is never trusted alone: the recorded identity (boot id + start time) must still
-- match before anything is signalled, so a recycled pid or a reboot reads as "lost".
local core = require "sbx.core"
local json = core.json

local M = {}

local Sandbox = {}
Sandbox.__index = Sandbox

function M.dir() return core.image.store_dir() .. "/sandboxes" end

local function read(path)
  return (core.read_file(path))
end

-- Whole or not at all: a reader (or a supervisor) never sees half a file.
local function write(path, text)
  assert(core.write_file(path, text))
end

-- Letters, digits, _ . - (not first), at most 64 (workspaces take the same names).
local function valid_name(name)
  return type(name) == "string" and name:match("^[%w][%w_.%-]*$") ~= nil and #name <= 64
end
M.valid_name = valid_name

-- "running" only when the supervisor and the sandbox are the very processes recorded; "starting"
-- only while its front or supervisor holds the directory's lock (a killed front leaves "lost").
local function status_of(st, dir)
  if st.status == "starting" or st.status == nil then
    return core.image.in_use(dir) and "starting" or "lost"
  end
  if st.status == "running" then
    local alive = (st.pid and core.process_identity(st.pid) == st.identity)
                  or (st.supervisor and core.process_identity(st.supervisor) == st.supervisor_identity)
    if not alive then return "lost" end
    -- (sbx pause: a marker beside the state, which its supervisor owns)
    local f = io.open(dir .. "/paused")
    if f then f:close(); return "paused" end
    return "running"
  end
  return st.status or "unknown"
end

local function load(name)
  local dir = M.dir() .. "/" .. name
  if core.lstat(dir) == "symlink" then
    local st = json.decode(read(dir .. "/state.json") or "{}")
    return nil, ("sandbox %s: no such sandbox (renamed to %s)"):format(name, tostring(st.name))
  end
  local text = read(dir .. "/state.json")
  local ok, st = pcall(json.decode, text or "")
  st = ok and type(st) == "table" and st or nil
  if not st then
    -- a directory without a readable state: left by an older sbx or a crash; listed, removable
    local f = io.open(dir .. "/.")
    if not f then return nil, ("sandbox %s: no such sandbox (sbx ps -a lists them)"):format(name) end
    f:close()
    st = {}
  end
  st.name = name  -- (its directory's: a rename while it ran is not in its supervisor's copy)
  local obj = setmetatable({ name = name, dir = dir, state = st }, Sandbox)
  obj.status = status_of(st, dir)
  obj.pid, obj.ip, obj.ports, obj.image, obj.cgroup = st.pid, st.ip, st.ports, st.image, st.cgroup
  -- once exited: the shell's status (128+N for signal N), as sbx ps shows it; signal = N
  if obj.status == "exited" then
    obj.signal = st.signal
    obj.exit_code = st.signal and 128 + st.signal or st.code
  end
  return obj
end

-- The names in the state directory, sorted; each as a sandbox object. (A renamed running one
-- leaves its old name as a link its supervisor still writes through: not listed.)
function M.list()
  local out = {}
  for _, name in ipairs(core.list_dir(M.dir())) do
    local s = valid_name(name) and core.lstat(M.dir() .. "/" .. name) == "dir" and load(name)
    if s then out[#out + 1] = s end
  end
  return out
end

function M.get(name)
  if not valid_name(name) then error(("sbx.get: '%s' is not a sandbox name"):format(tostring(name)), 2) end
  return load(name)
end

-- PREFIX and six random hex digits ("sbx-3fa2c1"; workspaces: "ws-...").
local function generated_name(prefix)
  local f = assert(io.open("/dev/urandom", "rb"))
  local rnd = f:read(3):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
  f:close()
  return (prefix or "sbx-") .. rnd
end
M.generated_name = generated_name

-- A detached sandbox with on handlers, hooks or seccomp.on_call: its supervisor is a fork of this
-- process that keeps them (a grandchild, so that nobody has to reap it), not the Lua-free one. It
-- records the same state.json, its handlers' output goes to the sandbox's log, and TERM/INT/HUP
-- sent to it go on to the sandbox (p:wait forwards them) -> sandbox pid | nil, err
local function start_with_lua(box, argv, dir, lock)
  local r, w = assert(core.sys.pipe())
  io.stdout:flush()
  io.stderr:flush()
  local middle, ferr = core.sys.fork()
  if not middle then core.sys.close(r); core.sys.close(w); return nil, "start supervisor: " .. tostring(ferr) end
  if middle == 0 then
    core.sys.close(r)
    local sup = core.sys.fork()
    if sup ~= 0 then core.sys.exit(sup and 0 or 125) end
    -- the supervisor; it holds `lock` (inherited) for its life
    local function say(text) core.sys.write(w, text); core.sys.close(w) end
    local function failed(why)
      local ok, st = pcall(json.decode, read(dir .. "/state.json") or "")
      st = ok and type(st) == "table" and st or {}
      st.status, st.error = "failed", why
      pcall(write, dir .. "/state.json", json.encode(st, 2))
      say("error " .. why)
      core.sys.exit(125)
    end
    local ok, berr = core.become_supervisor(dir)
    if not ok then failed(berr) end
    io.stdout:setvbuf("line")  -- a handler's print reaches `sbx logs -f` as it is made
    require("sbx.loop").forget()
    box:adopt()
    local run = {}
    for k, v in pairs(argv) do run[k] = v end
    local p, serr = box:spawn(run)
    if not p then failed(serr) end
    local rok, rerr = p:record(dir, "running")
    if not rok then p:kill("KILL"); p:wait(); failed(rerr) end
    say("ok " .. p.pid)
    local xok, xerr = pcall(p.wait, p)
    if not xok then io.stderr:write("sbx: supervisor: ", tostring(xerr), "\n"); p:kill("KILL"); p:wait() end
    io.stdout:flush()  -- what the handlers wrote is in the log before the end is recorded
    io.stderr:flush()
    p:record(dir, "exited")
    core.sys.exit(0)
  end
  core.sys.close(w)
  core.sys.waitpid(middle)
  local msg = core.sys.read(r) or ""
  core.sys.close(r)
  local pid = msg:match("^ok (%d+)$")
  if pid then return tonumber(pid) end
  msg = msg:gsub("^error ", "")
  return nil, msg ~= "" and msg or "the supervisor ended without a word (see its state.json)"
end

-- start(box, argv, { name = }) -> sandbox object: a supervisor holds it from now on (without Lua,
-- unless the box has handlers, hooks or on_call: then a fork of this process that keeps them).
function M.start(box, argv, opts)
  opts = opts or {}
  local name = opts.name or box._name or generated_name()
  if not valid_name(name) then return nil, ("name '%s': letters, digits, '_', '.', '-' (at most 64)"):format(tostring(name)) end
  local dir = M.dir() .. "/" .. name
  local function in_use()
    local prev = load(name)
    local why = not prev and "" or prev.status == "running" and (" (running: sbx stop " .. name .. ")")
                or (" (" .. prev.status .. ": sbx rm " .. (prev.status == "starting" and "-f " or "") .. name .. " first)")
    return nil, ("sandbox %s: name in use%s"):format(name, why), 17
  end
  if read(dir .. "/state.json") then return in_use() end  -- the common case, said early; the claim decides
  if box._container_dir then
    return nil, "an image container without a name cannot outlive this process: give it a name, or ephemeral = true"
  end
  local run = { argv = {}, cwd = argv.cwd }
  for i, a in ipairs(argv) do run.argv[i] = tostring(a) end
  if argv.env then
    local env = {}
    for _, e in ipairs(box._plan.env or {}) do env[e:match("^[^=]*")] = e end
    for k, v in pairs(argv.env) do env[k] = k .. "=" .. tostring(v) end
    run.env = {}
    for _, e in pairs(env) do run.env[#run.env + 1] = e end
    table.sort(run.env)
  end
  local plan = box._plan:with(run)
  -- Claimed atomically: a locked draft holds plan and state, then one rename that never replaces
  -- publishes it under the name (of 20 racing claims exactly one wins). The lock goes on to the
  -- supervisor: while it is held the entry is alive; a killed front leaves an entry `ps -a` shows
  -- as lost and `gc` / `rm` remove.
  -- Both files are JSON, which cannot hold text that is not UTF-8 (a path with such bytes): said
  -- before anything is claimed.
  local image = box._image and (box._image.tags and box._image.tags[1] or box._image.id) or nil
  local ok_plan, plan_text = pcall(plan.json, plan, 2)
  local ok_state, state_text = pcall(json.encode, { name = name, status = "starting", created = os.time(), command = plan.argv,
                                                    image = image, container = box._named_dir, hostname = plan.hostname }, 2)
  if not (ok_plan and ok_state) then
    return nil, "sandbox " .. name .. ": its plan cannot be recorded (a path, argument or variable that is not UTF-8)", 22
  end
  local draft, lock = core.image.draft("sandboxes")
  if not draft then return nil, lock end
  write(draft .. "/plan.json", plan_text)
  write(draft .. "/state.json", state_text)
  local ok, perr, errno = core.image.publish(draft, dir)
  if not ok then
    core.sys.close(lock)
    if errno == 17 then return in_use() end
    return nil, perr, errno
  end
  local pid, err
  if box._on or box._on_call or box._hooks then
    pid, err = start_with_lua(box, argv, dir, lock)
  else
    pid, err = core.start_supervisor(plan, dir, lock)
  end
  core.sys.close(lock)
  if not pid then
    core.image.remove_tree(dir)
    return nil, err
  end
  return load(name)
end

-- object methods ------------------------------------------------------------------------------

function Sandbox:refresh()
  local fresh = assert(load(self.name))
  for k, v in pairs(fresh) do self[k] = v end
  return self
end

local function signum(sig)
  local n, err = core.signal_number(sig or "TERM")
  return n or error(err, 3)
end

-- kill(sig): to the sandbox's init (which passes it on), after checking its identity.
function Sandbox:kill(sig)
  self:refresh()
  if self.status ~= "running" then return nil, ("sandbox %s is %s"):format(self.name, self.status) end
  local st = self.state
  if core.process_identity(st.pid) ~= st.identity then return nil, ("sandbox %s: its pid %d is not the recorded process any more"):format(self.name, st.pid) end
  return core.sys.kill(st.pid, signum(sig))
end

-- stop([secs = 10]): TERM, then KILL after secs (on the monotonic clock); returns once the
-- supervisor has recorded the end. It polls its state from 1 ms up to 20 ms apart: a sandbox that
-- ends at once is seen to end at once (sbx rm -f of 500 waited 50 ms for each).
function Sandbox:stop(secs)
  secs = secs or 10
  self:refresh()
  if self.status ~= "running" then return true end
  self:kill("TERM")
  local deadline = core.monotonic() + secs
  local killed, nap = false, 0.001
  while true do
    self:refresh()
    if self.status ~= "running" then return true end
    if not killed and core.monotonic() >= deadline then
      self:kill("KILL")
      killed = true
    end
    core.sleep(nap)
    nap = math.min(nap * 2, 0.02)
  end
end

function Sandbox:logs()
  return read(self.dir .. "/log") or ""
end

-- log_lines([from]) -> { { time = unix secs, ns =, stream = "stdout" | "stderr", text = }, ... },
-- offset: the lines its relay recorded (from byte `from` on), and where the next read starts;
-- nil when it has no records (started by an older sbx).
function Sandbox:log_lines(from)
  local f = io.open(self.dir .. "/log.lines", "rb")
  if not f then return nil end
  f:seek("set", from or 0)
  local out, offset = {}, from or 0
  while true do
    local line = f:read("*l")
    if not line then break end
    if f:seek() > offset + #line then  -- a whole record (its newline read), not one half written
      offset = offset + #line + 1
      local secs, ns, stream, text = line:match("^(%d+)(%d%d%d%d%d%d%d%d%d) ([12]) (.*)$")
      if secs then
        out[#out + 1] = { time = tonumber(secs) + tonumber(ns) / 1e9, secs = tonumber(secs), ns = tonumber(ns),
                          stream = stream == "1" and "stdout" or "stderr", text = text }
      end
    end
  end
  -- (a last record without its newline yet is read again next time)
  f:close()
  return out, offset
end

-- wait([secs]) -> exit code (the shell's: 128+N for signal N) once it has ended, or nil,
-- "timed out" / its status when it ended without a recorded one (lost).
function Sandbox:wait(secs)
  local deadline = secs and core.monotonic() + secs
  local nap = 0.001
  while true do
    self:refresh()
    if self.status == "exited" then return self.exit_code end
    if self.status ~= "running" and self.status ~= "starting" and self.status ~= "paused" then
      return nil, ("sandbox %s is %s"):format(self.name, self.status)
    end
    if deadline and core.monotonic() >= deadline then return nil, "timed out" end
    core.sleep(nap)
    nap = math.min(nap * 2, 0.05)
  end
end

-- processes() -> { { pid =, ppid =, user = uid, cmd = }, ... }: its init and every process
-- under it (host pids), from /proc.
function Sandbox:processes()
  self:refresh()
  if self.status ~= "running" and self.status ~= "paused" then return nil, ("sandbox %s is %s"):format(self.name, self.status) end
  local st = self.state
  if core.process_identity(st.pid) ~= st.identity then return nil, ("sandbox %s: its pid changed identity"):format(self.name) end
  local children, info = {}, {}
  for _, e in ipairs(core.list_dir("/proc")) do
    local pid = tonumber(e)
    local stat = pid and read("/proc/" .. e .. "/stat")
    -- (the command in parentheses may hold spaces and parentheses: the last ")" ends it)
    local comm, ppid
    if stat then comm, ppid = stat:match("^%d+ %((.*)%) %S+ (%d+)") end
    if comm then
      ppid = tonumber(ppid)
      children[ppid] = children[ppid] or {}
      table.insert(children[ppid], pid)
      local cmdline = (read("/proc/" .. e .. "/cmdline") or ""):gsub("%z", " "):gsub("%s+$", "")
      local status = read("/proc/" .. e .. "/status") or ""
      info[pid] = { pid = pid, ppid = ppid, user = tonumber(status:match("\nUid:%s+(%d+)")), cmd = cmdline ~= "" and cmdline or "[" .. comm .. "]" }
    end
  end
  local out, queue = {}, { st.pid }
  while #queue > 0 do
    local pid = table.remove(queue, 1)
    if info[pid] then out[#out + 1] = info[pid] end
    for _, c in ipairs(children[pid] or {}) do queue[#queue + 1] = c end
  end
  table.sort(out, function(a, b) return a.pid < b.pid end)
  return out
end

-- copy_out(path, dest) / copy_in(src, path): files out of and into it, every path resolved in
-- its root (never through a link out of it); docker cp's rules for an existing directory
local function root_pid(self)
  self:refresh()
  if self.status ~= "running" and self.status ~= "paused" then return nil, ("sandbox %s is %s"):format(self.name, self.status) end
  local st = self.state
  if core.process_identity(st.pid) ~= st.identity then return nil, ("sandbox %s: its pid changed identity"):format(self.name) end
  -- its payload (the first child of its init): dumpable, so that its owner may open its root
  local kids = read(("/proc/%d/task/%d/children"):format(st.pid, st.pid)) or ""
  return tonumber(kids:match("%d+")) or st.pid
end

function Sandbox:copy_out(path, dest)
  local pid, err = root_pid(self)
  if not pid then return nil, err end
  return core.copy_out(pid, path, dest)
end

function Sandbox:copy_in(src, path)
  local pid, err = root_pid(self)
  if not pid then return nil, err end
  return core.copy_in(src, pid, path)
end

-- pause() / unpause(): every process of it stopped (the cgroup freezer when it has a cgroup,
-- else SIGSTOP to each, twice over for one forked meanwhile) and continued.
function Sandbox:pause()
  self:refresh()
  if self.status ~= "running" then return nil, ("sandbox %s is %s"):format(self.name, self.status) end
  if self.state.cgroup then
    local g, err = require("sbx.cgroup").open(self.state.cgroup)
    if not g then return nil, err end
    local ok, ferr = g:freeze()
    if not ok then return nil, ferr end
  else
    for _ = 1, 2 do
      for _, p in ipairs(self:processes() or {}) do core.sys.kill(p.pid, 19) end  -- SIGSTOP
    end
  end
  write(self.dir .. "/paused", tostring(os.time()) .. "\n")
  return true
end

function Sandbox:unpause()
  self:refresh()
  if self.status ~= "paused" then return nil, ("sandbox %s is %s, not paused"):format(self.name, self.status) end
  if self.state.cgroup then
    local g, err = require("sbx.cgroup").open(self.state.cgroup)
    if not g then return nil, err end
    local ok, terr = g:thaw()
    if not ok then return nil, terr end
  else
    for _, p in ipairs(self:processes() or {}) do core.sys.kill(p.pid, 18) end  -- SIGCONT
  end
  os.remove(self.dir .. "/paused")
  return true
end

-- rename(new): its entry under the new name. A running one's supervisor goes on writing through
-- the old name, left as a link to the new until the sandbox is removed.
function Sandbox:rename(new)
  if not valid_name(new) then return nil, ("name '%s': letters, digits, '_', '.', '-' (at most 64)"):format(tostring(new)) end
  self:refresh()
  if self.status == "starting" then return nil, ("sandbox %s is starting: try again in a moment"):format(self.name) end
  local to = M.dir() .. "/" .. new
  if core.lstat(to) then return nil, ("sandbox %s: name in use"):format(new), 17 end
  local ok, err = os.rename(self.dir, to)
  if not ok then return nil, err end
  local st = json.decode(read(to .. "/state.json") or "{}")
  if self.status == "running" or self.status == "paused" then
    local lok, lerr = core.sys.symlink(new, self.dir)
    if not lok then os.rename(to, self.dir); return nil, lerr end
  end
  st.name = new
  -- (not while its supervisor writes: it only writes at its end, which rewrites the name it knows)
  write(to .. "/state.json", json.encode(st, 2))
  self.name, self.dir = new, to
  return true
end

-- stats() -> { memory = bytes, memory_peak =, cpu_usec =, pids = } from its cgroup (live).
function Sandbox:stats()
  self:refresh()
  if self.status ~= "running" then return nil, ("sandbox %s is %s"):format(self.name, self.status) end
  if not self.state.cgroup then return nil, ("sandbox %s has no cgroup (start it with limits)"):format(self.name) end
  local g, err = require("sbx.cgroup").open(self.state.cgroup)
  if not g then return nil, err end
  local s = g:stat()
  return { memory = s.memory.current, memory_peak = s.memory.peak, cpu_usec = s.cpu.usage_usec, pids = s.pids.current }
end

-- exec{ cmd, args..., tty =, env =, cwd =, uid =, gid =, stdin/stdout/stderr = } -> status
-- (or, with wait = false, the sbx.Process): a process in all of its namespaces and its cgroup.
function Sandbox:exec(args)
  if type(args) == "string" then args = { "/bin/sh", "-c", args } end
  self:refresh()
  if self.status ~= "running" then return nil, ("sandbox %s is %s"):format(self.name, self.status) end
  local plan = json.decode(assert(read(self.dir .. "/plan.json")))
  local st = self.state
  if core.process_identity(st.pid) ~= st.identity then return nil, ("sandbox %s: its pid changed identity"):format(self.name) end
  -- the same security settings as the sandbox's own payload
  local eplan = { argv = {}, env = plan.env, cwd = args.cwd or plan.cwd or "/", uid = args.uid or plan.uid, gid = args.gid or plan.gid,
                  caps = plan.caps, no_new_privs = plan.no_new_privs, seccomp = plan.seccomp }
  for i, a in ipairs(args) do eplan.argv[i] = tostring(a) end
  if args.env then
    for k, v in pairs(args.env) do eplan.env[#eplan.env + 1] = k .. "=" .. tostring(v) end
  end
  local io_ = { tty = args.tty, stdin = args.stdin, stdout = args.stdout, stderr = args.stderr }
  core.trace("exec: the sandbox's state and plan read")
  local p, err, errno = core.enter(st.pid, eplan, io_, st.cgroup)
  if not p then return nil, err, errno end
  if args.wait == false then return p end
  if args.tty then return p:interact() end
  local out, errout
  if args.stdout == "pipe" or args.stderr == "pipe" or args.stdin == "pipe" then out, errout = p:communicate(args.input) end
  local status = p:wait()
  status.stdout, status.stderr = out, errout
  return status
end

-- remove([force]): its state and log (and a named image container's upper layer); a running
-- one needs force (then it is killed first).
function Sandbox:remove(force)
  self:refresh()
  if self.status == "running" then
    if not force then return nil, ("sandbox %s is running: stop it first (or rm -f)"):format(self.name) end
    self:stop(0)
  end
  if self.status == "starting" then
    return nil, ("sandbox %s is starting (its front or supervisor is alive): try again in a moment"):format(self.name)
  end
  if self.state.container then core.image.remove_tree(self.state.container) end
  local ok, err = core.image.remove_tree(self.dir)
  if not ok then return nil, err end
  -- the link a rename of it while it ran left behind
  for _, name in ipairs(core.list_dir(M.dir())) do
    local path = M.dir() .. "/" .. name
    if core.lstat(path) == "symlink" and not core.lstat(path .. "/.") then os.remove(path) end
  end
  return true
end

function Sandbox:uptime()
  if (self.status ~= "running" and self.status ~= "paused") or not self.state.started then return nil end
  return os.time() - self.state.started
end

function Sandbox:__tostring()
  return ("sbx sandbox %s (%s%s)"):format(self.name, self.status, self.pid and (", pid " .. self.pid) or "")
end

-- Removes the state of sandboxes whose supervisor is gone without recording an end ("lost":
-- sbx killed, or a reboot); exited ones are kept until sbx rm, as docker keeps them.
function M.gc()
  local removed = {}
  for _, s in ipairs(M.list()) do
    if s.status == "lost" and core.image.remove_tree(s.dir) then removed[#removed + 1] = "sandbox " .. s.name end
  end
  -- a rename's link whose sandbox has ended or gone
  for _, name in ipairs(core.list_dir(M.dir())) do
    local path = M.dir() .. "/" .. name
    if core.lstat(path) == "symlink" then
      local ok, st = pcall(json.decode, read(path .. "/state.json") or '{"status":"gone"}')
      if not ok or type(st) ~= "table" or st.status ~= "running" then os.remove(path); removed[#removed + 1] = "link " .. name end
    end
  end
  return removed
end

return M
