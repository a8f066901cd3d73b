-- sbx oci VERB ... (and `sbx-oci`): the runc command-line contract engines call (podman through
-- conmon, containerd's shim). State lives in --root (default /run/sbx-oci), one directory per
-- container: state.json, and exec.fifo while it is created but not started.
local core = require "sbx.core"
local json = core.json

local M = {}

local VERSION_TEXT = "sbx-oci version %s\nspec: 1.0.2\n"

local G = { root = "/run/sbx-oci", log = nil, log_format = "text" }

local function log(level, msg)
  io.stderr:write("sbx oci: ", level == "error" and "" or level .. ": ", msg, "\n")
  if G.log then
    local f = io.open(G.log, "a")
    if f then
      if G.log_format == "json" then
        f:write(json.encode({ level = level, msg = msg, time = os.date("!%Y-%m-%dT%H:%M:%SZ") }), "\n")
      else
        f:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " ", level, ": ", msg, "\n")
      end
      f:close()
    end
  end
end
local function log_error(msg) log("error", msg) end

-- raised by the verbs: one message, exit 1
local function die(msg) error({ oci = msg }, 0) end

local function check_id(id)
  if type(id) ~= "string" or id == "" or id == "." or id == ".." or id:find("/") or #id > 1024 then
    die(("invalid container id '%s'"):format(tostring(id)))
  end
  return id
end

local function dir_of(id) return G.root .. "/" .. id end

local function load(id)
  local text = core.read_file(dir_of(check_id(id)) .. "/state.json")
  if not text then die("container does not exist: " .. id) end
  local ok, st = pcall(json.decode, text)
  if not ok or type(st) ~= "table" then die("container " .. id .. ": its state.json cannot be read") end
  return st
end

local function proc_state(pid)
  local stat = core.read_file("/proc/" .. pid .. "/stat")
  return stat and stat:match("%) (%a)")
end

-- created | running | stopped (the process gone, a zombie, or another one with its pid)
local function status_of(st)
  if not st.pid or core.process_identity(st.pid) ~= st.identity then return "stopped" end
  local s = proc_state(st.pid)
  if not s or s == "Z" or s == "X" then return "stopped" end
  -- (never opened here: a reader of the FIFO is what starts the container)
  for _, name in ipairs(core.list_dir(dir_of(st.id))) do
    if name == "exec.fifo" then return "created" end
  end
  local g = st.cgroup and require("sbx.cgroup").open(st.cgroup)
  if g then
    local v2 = require("sbx.cgroup").layout().layout == "2"
    local frozen = v2 and g:get("cgroup.freeze") or g:get("freezer.state")
    if frozen and (frozen:match("^1") or frozen:match("^FROZEN")) then return "paused" end
  end
  return "running"
end

local function group_of(st, verb)
  local g = st.cgroup and require("sbx.cgroup").open(st.cgroup)
  if not g then die(("%s: container %s has no cgroup of its own (give it linux.resources)"):format(verb, st.id)) end
  return g
end

local function state_json(st)
  local status = status_of(st)
  return { ociVersion = "1.0.2", id = st.id, status = status, pid = status ~= "stopped" and st.pid or 0,
           bundle = st.bundle, rootfs = st.rootfs, created = st.created, owner = st.owner or "",
           annotations = next(st.annotations or {}) and st.annotations or nil }
end

-- The config's hooks of one kind (kept in state.json from create), each given the state on its
-- stdin, with its own env and timeout. fatal: the first failure is returned (nil, why); else each
-- failure is a warning and the rest go on (poststart, poststop: the spec's rule).
local function run_hooks(st, kind, fatal, status)
  for i, h in ipairs((st.hooks or {})[kind] or {}) do
    local state = state_json(st)
    state.status = status or state.status
    local argv = (h.args and #h.args > 0) and h.args or { h.path }
    local r, err = core.run_program(argv, { path = h.path, env = h.env or {}, stdin = json.encode(state), timeout = h.timeout })
    local why = not r and err or r.timed_out and ("timed out after " .. h.timeout .. " s")
                or r.signal ~= 0 and ("ended by signal " .. (core.signal_name(r.signal) or r.signal))
                or r.code ~= 0 and ("exit status " .. r.code) or nil
    if why then
      local msg = ("container %s: hook %s[%d] %s: %s"):format(st.id, kind, i, h.path, why)
      if fatal then return nil, msg end
      log("warning", msg)
    end
  end
  return true
end

-- Hooks that run in the container's namespaces, with the state on stdin and their timeout:
-- startContainer (its path resolves in the container) and createContainer (its path is the
-- runtime's: a sealed copy of the file runs, through /proc/self/fd, so the container can neither
-- reach nor change the host's file; a script's interpreter is the container's). (nil, why) at the
-- first failure.
local function run_inside_hooks(st, kind)
  for i, h in ipairs((st.hooks or {})[kind] or {}) do
    local fail = function(why) return nil, ("container %s: hook %s[%d] %s: %s"):format(st.id, kind, i, h.path, why) end
    local argv, fd = { h.path }, nil
    if kind == "createContainer" then
      local ferr
      fd, ferr = core.sealed_copy(h.path)
      if not fd then return fail(ferr) end
      argv[1] = "/proc/self/fd/" .. fd
    end
    for k = 2, #(h.args or {}) do argv[k] = h.args[k] end
    local p, err = core.enter(st.pid, { argv = argv, env = h.env or {}, cwd = "/", die_with_parent = false },
                              { stdin = "pipe", fds = fd and { fd } or nil }, st.cgroup)
    if fd then core.sys.close(fd) end
    if not p then return fail(tostring(err)) end
    local _, _, timed_out = p:communicate(json.encode(state_json(st)), h.timeout)
    local ended = not timed_out and p:wait(h.timeout)
    if not ended then
      p:kill("KILL")
      p:wait()
      return fail("timed out after " .. h.timeout .. " s")
    end
    if ended.status ~= 0 then return fail("exit status " .. ended.status) end
  end
  return true
end

local function write_pid_file(path, pid)
  if not path then return end
  if path:sub(1, 1) ~= "/" then path = (os.getenv("PWD") or ".") .. "/" .. path end
  local ok, err = core.write_file(path, tostring(pid), tonumber("644", 8))  -- decimal, no newline; tmp + rename
  if not ok then die("pid file: " .. err) end
end

local function parse_flags(args, spec)
  local opts, rest, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^%-%-?([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-?([%w%-]+)$")
    if name and spec[name] ~= nil and #rest == 0 then
      if spec[name] == "value" or spec[name] == "list" then
        if value == nil then i = i + 1; value = args[i] end
        if value == nil then die("--" .. name .. " needs a value") end
        if spec[name] == "list" then
          opts[name] = opts[name] or {}
          table.insert(opts[name], value)
        else
          opts[name] = value
        end
      else
        opts[name] = true
      end
    elseif a:sub(1, 1) == "-" and #rest == 0 and a ~= "-" then
      die(("unknown option %s"):format(a))
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return opts, rest
end

-- --preserve-fds N: fds 3 .. 3+N-1 passed on (runc's and podman's meaning)
local function preserved_fds(text)
  if not text then return nil end
  local n = tonumber(text)
  if not n or n < 0 or n ~= math.floor(n) then die("--preserve-fds: expected a count") end
  local fds = {}
  for i = 0, n - 1 do fds[#fds + 1] = 3 + i end
  return fds
end

-- The admission policy (--policy FILE, or /etc/sbx/policy.lua when it exists): a Lua file that
-- returns function(config, info) -> config | nil, reason. It sees config.json as a table before
-- anything is made, may change it (tighten it) or refuse it; the reason reaches the engine's user.
local function admit(config, id, bundle)
  local path = G.policy
  if not path then
    local f = io.open("/etc/sbx/policy.lua")
    if not f then return config end
    f:close()
    path = "/etc/sbx/policy.lua"
  end
  local chunk, err = loadfile(path)
  if not chunk then die("policy " .. path .. ": " .. tostring(err)) end
  setfenv(chunk, setmetatable({ sbx = require "sbx" }, { __index = _G }))  -- sbx, as in a script
  local ok, fn = pcall(chunk)
  if not ok or type(fn) ~= "function" then die("policy " .. path .. ": must return a function(config, info), got " .. (ok and type(fn) or tostring(fn))) end
  local ok2, out, why = pcall(fn, config, { id = id, bundle = bundle })
  if not ok2 then die("policy " .. path .. ": " .. tostring(out)) end
  if out == nil or out == false then die(("refused by policy %s: %s"):format(path, tostring(why or "no reason given"))) end
  if type(out) ~= "table" then die("policy " .. path .. ": expected the config (a table) or nil, reason") end
  return out
end

local function read_bundle(bundle, id)
  bundle = bundle or os.getenv("PWD") or "."
  if bundle:sub(1, 1) ~= "/" then bundle = (os.getenv("PWD") or ".") .. "/" .. bundle end
  local text = core.read_file(bundle .. "/config.json")
  if not text then die("bundle " .. bundle .. ": no config.json") end
  local ok, config = pcall(json.decode, text)
  if not ok or type(config) ~= "table" then die(bundle .. "/config.json: not valid JSON") end
  config = admit(config, id, bundle)
  local oci = require "sbx.oci"
  local ok2, plan, extra = pcall(oci.plan, config, bundle)
  if not ok2 then die(tostring(plan)) end
  for _, w in ipairs(oci.warnings) do log("warning", w) end
  local ok3, checked, err = pcall(core.plan, plan)
  if not ok3 then die("config.json: " .. tostring(checked)) end
  if not checked then die("config.json: " .. tostring(err)) end
  return bundle, checked, extra
end

-- The io of a process with process.terminal (runc's rules): its terminal comes from the container's
-- own devpts and goes to the engine's --console-socket; a foreground run or exec without one joins
-- it to this process's terminal instead (then `interact` is true).
local function terminal_io(io, terminal, socket, size, foreground)
  if socket and not terminal then
    die("--console-socket " .. socket .. ": the process has no terminal (process.terminal is false; exec takes --tty)")
  end
  if not terminal then return io, false end
  io.tty_size = size
  if socket then
    io.console_socket = socket:sub(1, 1) == "/" and socket or (os.getenv("PWD") or ".") .. "/" .. socket
    return io, false
  end
  if not foreground then
    die("process.terminal is true: --console-socket PATH is required (the engine's socket that receives the container's terminal)")
  end
  io.tty = true
  return io, true
end

-- The seccomp agent on linux.seccomp.listenerPath gets the filter's listener of a process with
-- SCMP_ACT_NOTIFY rules (the container's, or an exec'd one's), with the container process state
-- (runc's message: ociVersion, fds = { "seccompFd" }, pid, metadata, state).
local function send_listener(p, st, status)
  if not st.seccomp_listener then return true end
  local state = state_json(st)
  state.status = status
  local msg = json.encode({ ociVersion = "1.0.2", fds = { "seccompFd" }, pid = p.pid,
                            metadata = st.listener_metadata or "", state = state })
  local ok, err = p:send_seccomp_listener(st.seccomp_listener, msg)
  if not ok then return nil, "linux.seccomp.listenerPath: " .. tostring(err) end
  return true
end

-- create: everything set up, the program waiting on exec.fifo; returns the Process (released
-- unless keep), the state, and whether to join the container's terminal to ours (a foreground run)
local function create(id, opts, keep)
  check_id(id)
  local bundle, plan, extra = read_bundle(opts.bundle, id)
  local io, interact = terminal_io({}, extra.terminal, opts["console-socket"], extra.console_size, keep)
  local ok, err = core.private_dir(G.root, "the OCI state root")
  if not ok then die(err) end
  local dir = dir_of(id)
  if core.read_file(dir .. "/state.json") then die("container with id exists: " .. id) end
  ok, err = core.private_dir(dir, "the container's state")
  if not ok then die(err) end
  local function undo()
    for _, f in ipairs({ "exec.fifo", "state.json", "plan.json" }) do os.remove(dir .. "/" .. f) end
    os.remove(dir)
  end
  ok, err = core.mkfifo(dir .. "/exec.fifo", tonumber("600", 8))
  if not ok then undo(); die(err) end
  local okf, fds = pcall(preserved_fds, opts["preserve-fds"])
  if not okf then undo(); error(fds, 0) end
  io.start_fifo, io.fds = dir .. "/exec.fifo", fds
  local p, serr = core.spawn(plan, io)
  if not p then undo(); die(serr) end
  local st = { id = id, pid = p.pid, identity = core.process_identity(p.pid), bundle = bundle, rootfs = plan.rootfs,
               created = os.date("!%Y-%m-%dT%H:%M:%SZ"), owner = os.getenv("USER") or "root",
               annotations = extra.annotations, cgroup = p.cgroup, hooks = extra.hooks,
               seccomp_listener = extra.seccomp_listener, listener_metadata = extra.listener_metadata }
  -- the plan too: what exec joins the container with (its caps, no_new_privs, seccomp, env)
  local wok, werr = core.write_file(dir .. "/plan.json", plan:json(), tonumber("600", 8))
  if wok then wok, werr = core.write_file(dir .. "/state.json", json.encode(st, 2), tonumber("600", 8)) end
  if not wok then p:kill("KILL"); p:wait(); undo(); die(werr) end
  local pok, perr = pcall(write_pid_file, opts["pid-file"], p.pid)
  if not pok then p:kill("KILL"); p:wait(); undo(); error(perr, 0) end
  local lok, lerr = send_listener(p, st, "creating")
  if not lok then p:kill("KILL"); p:wait(); undo(); die(lerr) end
  -- the environment is ready, the program not started: prestart (old name) and createRuntime
  -- hooks in the runtime's namespaces, then createContainer in the container's; one failing
  -- undoes the create
  for _, kind in ipairs({ "prestart", "createRuntime" }) do
    local hok, herr = run_hooks(st, kind, true)
    if not hok then p:kill("KILL"); p:wait(); undo(); die(herr) end
  end
  local cok, cerr = run_inside_hooks(st, "createContainer")
  if not cok then p:kill("KILL"); p:wait(); undo(); die(cerr) end
  if not keep then p:release() end
  return p, st, interact
end

local function start(id)
  local st = load(id)
  local status = status_of(st)
  if status ~= "created" then die(("cannot start a container that is %s: %s"):format(status, id)) end
  -- startContainer hooks, in the container's namespaces before its program; one failing stops it
  local hok, herr = run_inside_hooks(st, "startContainer")
  if not hok then core.sys.kill(st.pid, 9); die(herr .. " (the container is stopped)") end
  local ok, err = core.start_fifo(dir_of(id) .. "/exec.fifo", st.pid)
  os.remove(dir_of(id) .. "/exec.fifo")
  if not ok then die(err) end
  run_hooks(st, "poststart", false, "running")
end

local function remove_state(st)
  if st.cgroup then
    local g = require("sbx.cgroup").open(st.cgroup)
    local ok, err = true, nil
    for _ = 1, 20 do  -- a process that has just ended leaves its group a moment later
      if not g then break end
      ok, err = g:destroy()
      if ok then break end
      core.sleep(0.05)
    end
    if not ok then die(("container %s: its cgroup %s: %s (the state is kept: delete again)"):format(st.id, st.cgroup, tostring(err))) end
  end
  for _, f in ipairs({ "exec.fifo", "state.json", "plan.json" }) do os.remove(dir_of(st.id) .. "/" .. f) end
  os.remove(dir_of(st.id))
  run_hooks(st, "poststop", false, "stopped")
end

local VERBS = {}

function VERBS.spec(args)
  local opts = parse_flags(args, { bundle = "value", b = "value", rootless = "flag" })
  local bundle = opts.bundle or opts.b or "."
  local path = bundle .. "/config.json"
  if io.open(path) then die("File " .. path .. " exists. Remove it first") end
  local f = io.open(path, "w")
  if not f then die("cannot write " .. path) end
  f:write(json.encode(require("sbx.oci").default_config(), 2), "\n")
  f:close()
end

function VERBS.create(args)
  local opts, rest = parse_flags(args, { bundle = "value", b = "value", ["pid-file"] = "value", ["console-socket"] = "value",
                                         ["no-pivot"] = "flag", ["no-new-keyring"] = "flag", ["preserve-fds"] = "value" })
  opts.bundle = opts.bundle or opts.b
  create(rest[1], opts)
end

function VERBS.start(args)
  local _, rest = parse_flags(args, {})
  start(rest[1])
end

function VERBS.run(args)
  local opts, rest = parse_flags(args, { bundle = "value", b = "value", ["pid-file"] = "value", detach = "flag", d = "flag",
                                         ["console-socket"] = "value", ["no-pivot"] = "flag", ["no-new-keyring"] = "flag",
                                         ["preserve-fds"] = "value" })
  opts.bundle = opts.bundle or opts.b
  local detach = opts.detach or opts.d
  local p, st, interact = create(rest[1], opts, not detach)
  start(st.id)
  if detach then return 0 end
  local status = interact and p:interact() or p:wait()
  remove_state(st)
  return status.status
end

function VERBS.state(args)
  local _, rest = parse_flags(args, {})
  io.write(json.encode(state_json(load(rest[1])), 2), "\n")
end

function VERBS.kill(args)
  local opts, rest = parse_flags(args, { all = "flag", a = "flag" })
  local st = load(rest[1])
  local sig = rest[2] or "TERM"
  local n = tonumber(sig) or core.signal_number(sig)
  if not n then die("unknown signal: " .. sig) end
  local status = status_of(st)
  if status == "stopped" then die("container not running: " .. st.id) end
  if (opts.all or opts.a) and st.cgroup then
    local g = require("sbx.cgroup").open(st.cgroup)
    for _, pid in ipairs(g and g:procs() or {}) do core.sys.kill(pid, n) end
  end
  local ok, err = core.sys.kill(st.pid, n)
  if not ok then die(err) end
end

function VERBS.delete(args)
  local opts, rest = parse_flags(args, { force = "flag", f = "flag" })
  local force = opts.force or opts.f
  local id = check_id(rest[1])
  if not core.read_file(dir_of(id) .. "/state.json") then
    if force then return 0 end
    die("container does not exist: " .. id)
  end
  local st = load(id)
  local status = status_of(st)
  if status == "running" and not force then die(("cannot delete container %s that is not stopped"):format(id)) end
  if status ~= "stopped" then
    core.sys.kill(st.pid, 9)
    for _ = 1, 100 do  -- up to 5 s for its parent (conmon, the shim, or this process) to see it end
      if status_of(st) == "stopped" then break end
      core.sleep(0.05)
    end
  end
  remove_state(st)
end

function VERBS.list(args)
  local opts = parse_flags(args, { format = "value", f = "value", quiet = "flag", q = "flag" })
  local out = {}
  for _, id in ipairs(core.list_dir(G.root)) do
    local text = core.read_file(dir_of(id) .. "/state.json")
    local ok, st = pcall(json.decode, text or "")
    if ok and type(st) == "table" then out[#out + 1] = state_json(st) end
  end
  if (opts.format or opts.f) == "json" then io.write(json.encode(out), "\n"); return end
  if opts.quiet or opts.q then for _, s in ipairs(out) do io.write(s.id, "\n") end return end
  io.write(("%-24s %-8s %-9s %s\n"):format("ID", "PID", "STATUS", "BUNDLE"))
  for _, s in ipairs(out) do io.write(("%-24s %-8d %-9s %s\n"):format(s.id, s.pid, s.status, s.bundle or "")) end
end

-- exec [--process F | ID CMD...] [--detach] [--pid-file F] [--tty] [--console-socket S] [--cwd D]
-- [--env K=V] [--user U[:G]] [--cap C] [--preserve-fds N]: a new process in every namespace and the
-- group of the container, with its capabilities, no_new_privs and seccomp unless the process says
-- otherwise; a terminal with --tty or the process's terminal (terminal_io).
function VERBS.exec(args)
  local opts, rest = parse_flags(args, {
    process = "value", p = "value", detach = "flag", d = "flag", ["pid-file"] = "value", tty = "flag", t = "flag",
    ["console-socket"] = "value", cwd = "value", env = "list", e = "list", user = "value", u = "value",
    cap = "list", c = "list", ["preserve-fds"] = "value", ["no-new-privs"] = "flag" })
  local st = load(rest[1])
  local status = status_of(st)
  if status ~= "running" and status ~= "created" then die("container not running: " .. st.id) end
  local plan = json.decode(assert(core.read_file(dir_of(st.id) .. "/plan.json")))
  local e = { argv = {}, env = plan.env, cwd = plan.cwd, uid = plan.uid, gid = plan.gid, caps = plan.caps, cap_sets = plan.cap_sets,
              oom_score_adj = plan.oom_score_adj,
              no_new_privs = plan.no_new_privs, seccomp = plan.seccomp, rlimits = plan.rlimits, umask = plan.umask,
              die_with_parent = false }
  local process = opts.process or opts.p
  local terminal, size = opts.tty or opts.t or false, nil
  if process then
    local text = core.read_file(process)
    if not text then die("exec --process " .. process .. ": cannot be read") end
    local ok, p = pcall(json.decode, text)
    if not ok or type(p) ~= "table" then die("exec --process " .. process .. ": not valid JSON") end
    local cfg = require("sbx.oci").default_config()
    cfg.root = { path = "/" }
    cfg.process = p
    local pok, pplan, pextra = pcall(require("sbx.oci").plan, cfg, "/")
    if not pok then die((tostring(pplan):gsub("^config%.json: ", "process.json: "))) end
    terminal, size = terminal or pextra.terminal, pextra.console_size
    e.argv, e.env, e.cwd, e.uid, e.gid, e.groups = pplan.argv, pplan.env, pplan.cwd, pplan.uid, pplan.gid, pplan.groups
    if p.capabilities then e.caps, e.cap_sets = pplan.caps, pplan.cap_sets end
    if p.noNewPrivileges ~= nil then e.no_new_privs = pplan.no_new_privs end
    if p.rlimits then e.rlimits = pplan.rlimits end
  else
    for k = 2, #rest do e.argv[#e.argv + 1] = rest[k] end
  end
  if #e.argv == 0 then die("exec: no command (give --process FILE or ID CMD...)") end
  if opts.cwd then e.cwd = opts.cwd end
  for _, kv in ipairs(opts.env or {}) do table.insert(e.env, kv) end
  for _, kv in ipairs(opts.e or {}) do table.insert(e.env, kv) end
  local user = opts.user or opts.u
  if user then
    local u, g = user:match("^(%d+):?(%d*)$")
    if not u then die("exec --user: expected UID[:GID] (numbers)") end
    e.uid, e.gid = tonumber(u), g ~= "" and tonumber(g) or e.gid
  end
  for _, c in ipairs(opts.cap or opts.c or {}) do table.insert(e.caps, c) end
  if opts["no-new-privs"] then e.no_new_privs = true end
  local detach = opts.detach or opts.d
  local io, interact = terminal_io({ fds = preserved_fds(opts["preserve-fds"]) }, terminal, opts["console-socket"], size, not detach)
  local p, err = core.enter(st.pid, e, io, st.cgroup)
  if not p then die(err) end
  local lok, lerr = send_listener(p, st, status)
  if not lok then p:kill("KILL"); p:wait(); die(lerr) end
  write_pid_file(opts["pid-file"], p.pid)
  if detach then p:release(); return 0 end
  local ended = interact and p:interact() or p:wait()
  return ended.status
end

-- update [--resources FILE|-] [--memory N] ... ID: new limits written to the live container's group
-- (all or none) and recorded in its plan.json. The flags are runc's; they make the same
-- linux.resources object a --resources file gives, read by the one mapping create uses.
local UPDATE_FLAGS = {
  memory = { "memory", "limit", "size" }, ["memory-swap"] = { "memory", "swap", "size" },
  ["memory-reservation"] = { "memory", "reservation", "size" }, ["kernel-memory"] = { "memory", "kernel", "size" },
  ["kernel-memory-tcp"] = { "memory", "kernelTCP", "size" },
  ["cpu-share"] = { "cpu", "shares", "count" }, ["cpu-shares"] = { "cpu", "shares", "count" },
  ["cpu-quota"] = { "cpu", "quota", "int" }, ["cpu-period"] = { "cpu", "period", "count" },
  ["cpu-rt-period"] = { "cpu", "realtimePeriod", "count" }, ["cpu-rt-runtime"] = { "cpu", "realtimeRuntime", "int" },
  ["cpu-burst"] = { "cpu", "burst", "count" }, ["cpu-idle"] = { "cpu", "idle", "int" },
  ["cpuset-cpus"] = { "cpu", "cpus", "string" }, ["cpuset-mems"] = { "cpu", "mems", "string" },
  ["pids-limit"] = { "pids", "limit", "int" }, ["blkio-weight"] = { "blockIO", "weight", "count" },
}

local function update_resources(opts)
  local given = {}
  for name in pairs(UPDATE_FLAGS) do if opts[name] then given[#given + 1] = "--" .. name end end
  for _, name in ipairs({ "l3-cache-schema", "mem-bw-schema" }) do
    if opts[name] then die(("update --%s: Intel RDT (resctrl) is not supported by sbx"):format(name)) end
  end
  local file = opts.resources or opts.r
  if file then
    if #given > 0 then die("update: --resources and " .. table.concat(given, " ") .. ": give one or the other") end
    local text = file == "-" and io.stdin:read("*a") or core.read_file(file)
    if not text then die("update --resources " .. file .. ": cannot be read") end
    local ok, r = pcall(json.decode, text)
    if not ok or type(r) ~= "table" then die("update --resources " .. file .. ": not valid JSON") end
    return r, file == "-" and "resources (stdin)" or file
  end
  if #given == 0 then die("update: nothing to change (give --resources FILE or a flag such as --memory)") end
  local r = {}
  for name, where in pairs(UPDATE_FLAGS) do
    local v = opts[name]
    if v then
      local n
      if where[3] == "string" then
        n = v
      elseif where[3] == "size" then
        n = v == "-1" and -1 or core.parse_size(v)
        if not n then die(("update --%s: bad value '%s' (bytes, or 64M, 1G; -1: no limit)"):format(name, v)) end
      else
        n = tonumber(v)
        if not n or n ~= math.floor(n) or (where[3] == "count" and n < 0) then
          die(("update --%s: bad value '%s' (expected a whole number%s)"):format(name, v, where[3] == "int" and ", -1: no limit" or ""))
        end
      end
      r[where[1]] = r[where[1]] or {}
      r[where[1]][where[2]] = n
    end
  end
  table.sort(given)
  return r, "update " .. table.concat(given, " ")
end

function VERBS.update(args)
  local spec = { resources = "value", r = "value", ["l3-cache-schema"] = "value", ["mem-bw-schema"] = "value" }
  for name in pairs(UPDATE_FLAGS) do spec[name] = "value" end
  local opts, rest = parse_flags(args, spec)
  local resources, doc = update_resources(opts)
  local st = load(rest[1])
  local status = status_of(st)
  if status == "stopped" then die(("cannot update container %s: it is stopped"):format(st.id)) end
  local g = group_of(st, "update")
  local plan_path = dir_of(st.id) .. "/plan.json"
  local plan = json.decode(assert(core.read_file(plan_path)))
  local r = {}
  for k, v in pairs(resources) do r[k] = v end
  r.devices = nil  -- device rules stay as created (as runc's update)
  local oci = require "sbx.oci"
  oci.warnings = {}
  local ok, limits = pcall(oci.limits, r, plan.limits, "resources", doc)
  if not ok then die(tostring(limits)) end
  for _, w in ipairs(oci.warnings) do log("warning", w) end
  limits = limits or {}
  local mem = type(resources.memory) == "table" and resources.memory or {}
  if mem.checkBeforeUpdate and type(limits.memory) == "number" then
    local now = g:stat()
    local used = now and now.memory and now.memory.current or 0
    if limits.memory < used then
      die(("cannot update container %s: memory limit %d is below its usage %d (checkBeforeUpdate)"):format(st.id, limits.memory, used))
    end
  end
  local old = plan.limits
  plan.limits = limits
  -- the new plan.json, read back through the plan's declaration before anything is written
  local pok, checked, perr = pcall(core.plan, plan)
  if not pok or not checked then die(("cannot update container %s: %s"):format(st.id, tostring(pok and perr or checked))) end
  local live = {}
  for k, v in pairs(limits) do if k ~= "devices" then live[k] = v end end
  local aok, applied, err = pcall(g.limit, g, live)
  if not aok then die(("cannot update container %s: %s"):format(st.id, tostring(applied))) end
  if not applied then die(("cannot update container %s: %s (nothing was changed)"):format(st.id, tostring(err))) end
  local wok, werr = core.write_file(plan_path, checked:json(), tonumber("600", 8))
  if not wok then
    local back = {}
    for k, v in pairs(old or {}) do if k ~= "devices" then back[k] = v end end
    g:limit(back)
    die(("cannot update container %s: its plan.json: %s (the group is as it was)"):format(st.id, tostring(werr)))
  end
end

-- pause / resume: the container's group frozen or thawed, from the status each needs
local function freezer_verb(verb, need, method)
  return function(args)
    local _, rest = parse_flags(args, {})
    local st = load(rest[1])
    if status_of(st) ~= need then die(("container not %s: %s"):format(need, st.id)) end
    local g = group_of(st, verb)
    local ok, err = g[method](g)
    if not ok then die(err) end
  end
end
VERBS.pause = freezer_verb("pause", "running", "freeze")
VERBS.resume = freezer_verb("resume", "paused", "thaw")

-- ps [--format json] ID: the host pids of the container's processes
function VERBS.ps(args)
  local opts, rest = parse_flags(args, { format = "value", f = "value" })
  local st = load(rest[1])
  local pids = {}
  if status_of(st) ~= "stopped" then
    local g = st.cgroup and require("sbx.cgroup").open(st.cgroup)
    pids = g and g:procs() or { st.pid }
  end
  if (opts.format or opts.f) == "json" then
    io.write("[", table.concat(pids, ","), "]\n")
  else
    io.write("PID\n")
    for _, pid in ipairs(pids) do io.write(pid, "\n") end
  end
end

-- features: what this runtime reads (the OCI features document's shape)
function VERBS.features()
  local v2 = require("sbx.cgroup").layout().layout == "2"
  local caps = {}
  for i, c in ipairs(core.cap_names("ffffffffff")) do caps[i] = c:upper() end
  io.write(json.encode({
    ociVersionMin = "1.0.0", ociVersionMax = "1.2.0",
    hooks = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" },
    mountOptions = { "ro", "rw", "bind", "rbind", "size", "mode", "idmap", "ridmap" },
    linux = {
      namespaces = { "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time" },
      capabilities = caps,
      cgroup = { v1 = not v2, v2 = v2, systemd = false, systemdUser = false, rdma = false },
      seccomp = { enabled = true, actions = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                              "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP", "SCMP_ACT_NOTIFY" },
                  operators = { "SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE",
                                "SCMP_CMP_MASKED_EQ" },
                  archs = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" },
                  knownFlags = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" },
                  supportedFlags = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                     "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" } },
      apparmor = { enabled = false }, selinux = { enabled = false }, intelRdt = { enabled = false },
    },
  }, 2), "\n")
end

local GLOBAL = { root = "value", log = "value", ["log-format"] = "value", ["systemd-cgroup"] = "flag", debug = "flag",
                 policy = "value", rootless = "value", criu = "value", ["log-level"] = "value", version = "flag", v = "flag", help = "flag", h = "flag" }

function M.help()
  return "usage: sbx oci [--root DIR] [--log FILE] [--log-format text|json] [--policy FILE.lua] VERB ...  (also as sbx-oci)\n" ..
    "  spec [--bundle DIR]            write a default config.json\n" ..
    "  create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID   set up, the program waits for start\n" ..
    "  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID | list\n" ..
    "  pause ID | resume ID | ps [--format json] ID\n" ..
    "  update [--resources FILE|-] [--memory N] [--memory-swap N] [--memory-reservation N] [--cpu-share N]\n" ..
    "         [--cpu-quota N] [--cpu-period N] [--cpu-rt-period N] [--cpu-rt-runtime N] [--cpuset-cpus L]\n" ..
    "         [--cpuset-mems L] [--pids-limit N] ID   new limits for the live container (all or none)\n" ..
    "  exec [--process F] [-d] [--pid-file F] [-t] [--console-socket S] [--cwd D] [--env K=V] [--user U[:G]] [--cap C] ID [CMD...]\n" ..
    "  run [--bundle DIR] [--pid-file F] [--console-socket S] [-d] ID   create + start (+ wait and delete)\n" ..
    "  features | --version\n"
end

function M.main(args)
  -- global flags come before the verb
  local i = 1
  local globals = {}
  while args[i] and args[i]:sub(1, 1) == "-" do
    local name, value = args[i]:match("^%-%-?([%w%-]+)=(.*)$")
    name = name or args[i]:match("^%-%-?([%w%-]+)$")
    local kind = name and GLOBAL[name]
    if not kind then log_error("unknown global option " .. args[i]); return 1 end
    if kind == "value" and value == nil then i = i + 1; value = args[i] end
    globals[name] = value or true
    i = i + 1
  end
  if globals.version or globals.v then io.write(VERSION_TEXT:format(core.version)); return 0 end
  G.root = globals.root or G.root
  G.log, G.log_format = globals.log, globals["log-format"] or "text"
  G.policy = globals.policy
  local verb = args[i]
  if globals.help or globals.h or not verb or verb == "help" then io.write(M.help()); return verb and 0 or (globals.help and 0 or 1) end
  local rest = {}
  for k = i + 1, #args do rest[#rest + 1] = args[k] end
  local fn = VERBS[verb]
  if not fn then log_error(("unknown command '%s' (see sbx oci --help)"):format(verb)); return 1 end
  local ok, rc = pcall(fn, rest)
  if not ok then
    log_error(type(rc) == "table" and rc.oci or tostring(rc))
    return 1
  end
  return rc or 0
end

return M
