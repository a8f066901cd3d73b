-- Hooks at the phases of a start (issue 15, part 5): Lua in the supervisor, never in the child.
--   hooks = { created = fn(p), before_exec = fn(p), started = fn(p), exited = fn(p, status) }
-- The sandbox is started waiting before its identity change and execve (on a start fifo, as an OCI
-- create waits: one mechanism with sbx-oci's createContainer and startContainer hooks), with its
-- namespaces made and its root prepared and pivoted. created, then before_exec, run then; the
-- payload starts after them, then started runs; exited gets the status. While it waits a hook acts
-- through p:exec_as_root{...} (a command inside all its namespaces, as root there), p:write_file and
-- p:read_file (inside its root: its symlinks stay inside), p.pid (a sbx.net.* target), p.cgroup.
-- A hook that fails aborts the start with its message; everything made is released.
local core = require "sbx.core"

local M = {}
local P = core.Process
local serial = 0
local plans = setmetatable({}, { __mode = "k" })  -- Process -> the plan it was started from

local function clean(e) return (tostring(e):gsub("^[^:]*:%d+: ", "")) end

function M.start(box, io, run)
  local hooks = box._hooks
  local dir = core.dirs().runtime .. "/hooks"
  local ok, err, errno = core.private_dir(dir, "hook fifo directory")
  if not ok then return nil, err, errno end
  serial = serial + 1
  local fifo = ("%s/start-%d-%d"):format(dir, core.sys.getpid(), serial)
  os.remove(fifo)
  ok, err, errno = core.mkfifo(fifo, tonumber("600", 8))
  if not ok then return nil, err, errno end
  local with = {}
  for k, v in pairs(io) do with[k] = v end
  with.start_fifo = fifo
  local p
  p, err, errno = core.spawn(box._plan, with, run)
  if not p then os.remove(fifo); return nil, err, errno end
  plans[p] = box._plan
  local function abort(phase, e)
    p:kill("KILL")
    p:wait()
    os.remove(fifo)
    return nil, ("hook %s: %s"):format(phase, clean(e))
  end
  for _, phase in ipairs({ "created", "before_exec" }) do
    if hooks[phase] then
      local hok, herr = pcall(hooks[phase], p)
      if not hok then return abort(phase, herr) end
    end
  end
  ok, err = core.start_fifo(fifo, p.pid)
  os.remove(fifo)
  if not ok then return abort("start", err) end
  if hooks.started then
    local hok, herr = pcall(hooks.started, p)
    if not hok then return abort("started", herr) end
  end
  if hooks.exited then
    p:on("exit", function(ev, proc) hooks.exited(proc, ev.status) end)
  end
  return p
end

-- p:exec_as_root{ cmd, arg..., stdout = "pipe", input = } -> status: a command inside the
-- sandbox's namespaces and group, as root there, with its capabilities and seccomp filter; for
-- set-up before the payload (as its user) starts.
function P.exec_as_root(p, args)
  if type(args) ~= "table" or type(args[1]) ~= "string" then error('p:exec_as_root: expected { "/bin/prog", "arg", ... }', 2) end
  local plan = plans[p]
  local argv = {}
  for i, a in ipairs(args) do argv[i] = tostring(a) end
  local e = { argv = argv, env = plan and plan.env or {}, cwd = "/", uid = 0, gid = 0 }
  if plan then e.caps, e.no_new_privs, e.seccomp = plan.caps, plan.no_new_privs, plan.seccomp end
  local stdin = args.input and "pipe" or args.stdin
  local q, err, errno = core.enter(p.pid, e, { stdin = stdin, stdout = args.stdout, stderr = args.stderr }, p.cgroup)
  if not q then return nil, err, errno end
  local out, errout
  if stdin == "pipe" or args.stdout == "pipe" or args.stderr == "pipe" then out, errout = q:communicate(args.input) end
  local st = q:wait()
  st.stdout, st.stderr = out, errout
  return st
end

-- p:write_file(path, text [, mode]) / p:read_file(path): a file inside the sandbox's root, opened
-- by this process there (symlinks resolved inside; a new file is root's inside).
function P.write_file(p, path, text, mode)
  if type(path) ~= "string" or type(text) ~= "string" then error("p:write_file: expected a path and a text", 2) end
  local fd, err, errno = core.open_in(p.pid, path, "w", mode or 420)
  if not fd then return nil, err, errno end
  local ok, werr = core.sys.write(fd, text)
  core.sys.close(fd)
  if not ok then return nil, werr end
  return true
end

function P.read_file(p, path)
  if type(path) ~= "string" then error("p:read_file: expected a path", 2) end
  local fd, err, errno = core.open_in(p.pid, path, "r")
  if not fd then return nil, err, errno end
  local parts = {}
  while true do
    local chunk = core.read_some(fd)
    if not chunk or chunk == "" then break end
    parts[#parts + 1] = chunk
  end
  core.sys.close(fd)
  return table.concat(parts)
end

return M
