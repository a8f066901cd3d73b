-- sbx ps | inspect | logs | exec | stop | kill | rm | stats: long-running sandboxes (sbx run -d),
-- as docker's commands of the same names.
-- (not the whole sbx library: these commands need the core and the sandboxes module alone, and
-- loading the rest cost every `sbx exec` ~0.2 ms)
local core = require "sbx.core"
local getopt = require "sbx.cli.getopt"
local sandboxes = require "sbx.sandboxes"

local M = {}

local function fail(cmd, msg, code)
  io.stderr:write("sbx ", cmd, ": ", msg, "\n")
  return code or 1
end

local function human_bytes(n)
  if not n then return "-" end
  local units = { "B", "KiB", "MiB", "GiB" }
  local i = 1
  while n >= 1024 and i < #units do n = n / 1024; i = i + 1 end
  return i == 1 and ("%d%s"):format(n, units[i]) or ("%.1f%s"):format(n, units[i])
end

local function human_time(secs)
  if not secs then return "-" end
  if secs < 60 then return secs .. "s" end
  if secs < 3600 then return ("%dm%ds"):format(math.floor(secs / 60), secs % 60) end
  return ("%dh%dm"):format(math.floor(secs / 3600), math.floor(secs % 3600 / 60))
end

local function get(cmd, name)
  if not name then return nil, fail(cmd, "expected a sandbox name (sbx ps -a lists them)", 2) end
  local ok, s, err = pcall(sandboxes.get, name)
  if not ok then return nil, fail(cmd, (tostring(s):gsub("^[^:]*:%d+: ", "")), 2) end
  if not s then return nil, fail(cmd, err) end
  return s
end

function M.ps(args)
  local opts, rest = getopt.parse(args, { { long = "all", short = "a", arg = "none", key = "all", help = "" },
                                          { long = "quiet", short = "q", arg = "none", key = "quiet", help = "" } })
  if not opts then return fail("ps", rest, 2) end
  local rows = {}
  for _, s in ipairs(sandboxes.list()) do
    if opts.all or s.status == "running" then
      if opts.quiet then
        io.write(s.name, "\n")
      else
        local st = s.state
        local mem = "-"
        if s.status == "running" and st.cgroup then
          local stats = s:stats()
          mem = stats and human_bytes(stats.memory) or "-"
        end
        local status = s.status
        -- (the status the Lua object has, with its shell status: a TERM is 143, as docker's)
        if status == "exited" then status = ("exited (%s)"):format(tostring(s.exit_code)) end
        rows[#rows + 1] = { s.name, status, s.status == "running" and tostring(st.pid) or "-", human_time(s:uptime()), mem,
                            st.image or "-", st.ports and table.concat(st.ports, ",") or (st.ip or "-"),
                            table.concat(st.command or {}, " ") }
      end
    end
  end
  if opts.quiet then return 0 end
  local fmt = "%-16s %-12s %-8s %-8s %-9s %-14s %-24s %s\n"
  io.write(fmt:format("NAME", "STATUS", "PID", "UPTIME", "MEMORY", "IMAGE", "PORTS", "COMMAND"))
  for _, r in ipairs(rows) do io.write(fmt:format(unpack(r))) end
  return 0
end

function M.inspect(args)
  if #args == 0 then return fail("inspect", "expected one or more sandbox names", 2) end
  local out = {}
  for _, name in ipairs(args) do
    local s, code = get("inspect", name)
    if not s then return code end
    local plan = core.json.decode(assert(core.read_file(s.dir .. "/plan.json")))
    local info = {}
    for k, v in pairs(s.state) do info[k] = v end
    info.status = s.status
    info.plan = plan
    info.dir = s.dir
    out[#out + 1] = info
  end
  io.write(core.json.encode(out, 2), "\n")
  return 0
end

function M.logs(args)
  local opts, rest = getopt.parse(args, { { long = "follow", short = "f", arg = "none", key = "follow", help = "" } })
  if not opts then return fail("logs", rest, 2) end
  local s, code = get("logs", rest[1])
  if not s then return code end
  local f = assert(io.open(s.dir .. "/log"))
  while true do
    local chunk = f:read(65536)
    if chunk then
      io.write(chunk)
      io.flush()
    elseif not opts.follow or s:refresh().status ~= "running" then
      local tail = f:read("*a")  -- what came between the last read and the end
      if tail then io.write(tail) end
      break
    else
      core.sleep(0.1)
    end
  end
  f:close()
  return 0
end

function M.exec(args)
  local opts, rest = getopt.parse(args, {
    { long = "tty", short = "t", arg = "none", key = "tty", help = "" },
    { long = "interactive", short = "i", arg = "none", key = "interactive", help = "" },
    { long = "env", short = "e", arg = "required", key = "env", list = true, help = "" },
    { long = "workdir", short = "w", arg = "required", key = "cwd", help = "" },
    { long = "user", short = "u", arg = "required", key = "user", help = "" },
  })
  if not opts then return fail("exec", rest, 2) end
  core.trace("exec: flags parsed")
  local s, code = get("exec", rest[1])
  if not s then return code end
  if not rest[2] then return fail("exec", "expected a command after the name (sbx exec NAME sh)", 2) end
  local argv = {}
  for i = 2, #rest do argv[#argv + 1] = rest[i] end
  argv.tty, argv.cwd = opts.tty, opts.cwd
  if opts.user then
    local u, g = opts.user:match("^(%d+):?(%d*)$")
    if not u then return fail("exec", "--user: expected UID[:GID] (numbers inside the sandbox)", 2) end
    argv.uid, argv.gid = tonumber(u), tonumber(g) or tonumber(u)
  end
  if opts.env then
    argv.env = {}
    for _, kv in ipairs(opts.env) do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if not k then return fail("exec", "--env: expected KEY=VALUE", 2) end
      argv.env[k] = v
    end
  end
  if opts.tty then argv.env = argv.env or {}; argv.env.TERM = argv.env.TERM or os.getenv("TERM") or "xterm" end
  local st, err = s:exec(argv)
  if not st then return fail("exec", err, 125) end
  return st.status
end

function M.stop(args)
  local opts, rest = getopt.parse(args, { { long = "time", short = "t", arg = "required", key = "time", help = "" } })
  if not opts then return fail("stop", rest, 2) end
  if #rest == 0 then return fail("stop", "expected one or more sandbox names", 2) end
  local secs = tonumber(opts.time or 10)
  if not secs or secs < 0 then return fail("stop", "-t: expected seconds", 2) end
  for _, name in ipairs(rest) do
    local s, code = get("stop", name)
    if not s then return code end
    s:stop(secs)
    io.write(name, "\n")
  end
  return 0
end

function M.kill(args)
  local name, sig = args[1], args[2] or "KILL"
  local s, code = get("kill", name)
  if not s then return code end
  local ok, r, e = pcall(s.kill, s, sig)
  if not ok then return fail("kill", (tostring(r):gsub("^[^:]*:%d+: ", "")), 2) end
  if not r then return fail("kill", e) end
  return 0
end

function M.rm(args)
  local opts, rest = getopt.parse(args, { { long = "force", short = "f", arg = "none", key = "force", help = "" } })
  if not opts then return fail("rm", rest, 2) end
  if #rest == 0 then return fail("rm", "expected one or more sandbox names", 2) end
  local boxes = {}
  for i, name in ipairs(rest) do
    local s, code = get("rm", name)
    if not s then return code end
    boxes[i] = s
  end
  -- -f: every running one is told to end first (TERM, then KILL at once, as one stop(0) does), so
  -- they end together; each is removed once its supervisor has recorded its end
  if opts.force then
    for _, s in ipairs(boxes) do
      if s.status == "running" then s:kill("TERM"); s:kill("KILL") end
    end
  end
  for i, name in ipairs(rest) do
    local s = boxes[i]
    local ok, err = s:remove(opts.force)
    if not ok then return fail("rm", err) end
    io.write(name, "\n")
  end
  return 0
end

-- One sample: memory, CPU % over `interval`, pids, for each running sandbox with a cgroup.
local function stats_rows(names, interval)
  local list = {}
  if #names > 0 then
    for _, n in ipairs(names) do
      local s = sandboxes.get(n)
      if s then list[#list + 1] = s end
    end
  else
    list = sandboxes.list()
  end
  local first = {}
  for _, s in ipairs(list) do first[s.name] = s.status == "running" and s:stats() end
  core.sleep(interval)
  local rows = {}
  for _, s in ipairs(list) do
    local a, b = first[s.name], s.status == "running" and s:stats()
    if a and b then
      local cpu = (b.cpu_usec - a.cpu_usec) / (interval * 1e6) * 100
      rows[#rows + 1] = ("%-16s %7.1f%% %10s %10s %6d"):format(s.name, cpu, human_bytes(b.memory), human_bytes(b.memory_peak), b.pids)
    elseif s.status == "running" then
      rows[#rows + 1] = ("%-16s %8s %10s %10s %6s"):format(s.name, "-", "-", "-", "-")
    end
  end
  return rows
end

function M.stats(args)
  local opts, rest = getopt.parse(args, { { long = "no-stream", arg = "none", key = "once", help = "" } })
  if not opts then return fail("stats", rest, 2) end
  local header = ("%-16s %8s %10s %10s %6s\n"):format("NAME", "CPU", "MEMORY", "PEAK", "PIDS")
  repeat
    local rows = stats_rows(rest, opts.once and 0.5 or 1)
    if not opts.once then io.write("\27[H\27[2J") end
    io.write(header, table.concat(rows, "\n"), #rows > 0 and "\n" or "")
    io.flush()
  until opts.once
  return 0
end

return M
