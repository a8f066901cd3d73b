-- sbx ps | inspect | logs | exec | stop | kill | rm | stats: long-running sandboxes (sbx run -d),
-- as docker's commands of the same names.
-- (not the whole sbx library: these commands need the core and the sandboxes module alone, and
-- loading the rest cost every `sbx exec` ~0.2 ms)
local core = require "sbx.core"
local getopt = require "sbx.cli.getopt"
local sandboxes = require "sbx.sandboxes"

local M = {}

-- Each command's options (what completion and the man page are made from too).
M.options = {
  ps = { { long = "all", short = "a", arg = "none", key = "all", help = "exited, lost and persistent image containers too" },
         { long = "quiet", short = "q", arg = "none", key = "quiet", help = "names only" },
         { long = "format", arg = "required", key = "format", meta = "json|table", help = "json: a list of objects" } },
  logs = { { long = "follow", short = "f", arg = "none", key = "follow", help = "go on while it runs" },
           { long = "tail", short = "n", arg = "required", key = "tail", meta = "N|all", help = "the last N lines" },
           { long = "since", arg = "required", key = "since", meta = "TIME", help = "lines since TIME (10m, unix seconds, 2026-12-02T05:00:00Z)" },
           { long = "timestamps", short = "t", arg = "none", key = "timestamps", help = "each line's time first" } },
  exec = { { long = "tty", short = "t", arg = "none", key = "tty", help = "a pseudo-terminal" },
           { long = "interactive", short = "i", arg = "none", key = "interactive", help = "keep stdin open (it is)" },
           { long = "env", short = "e", arg = "required", key = "env", list = true, meta = "KEY=VALUE", help = "a variable" },
           { long = "workdir", short = "w", arg = "required", key = "cwd", meta = "DIR", help = "working directory" },
           { long = "user", short = "u", arg = "required", key = "user", meta = "UID[:GID]", help = "ids inside" } },
  stop = { { long = "time", short = "t", arg = "required", key = "time", meta = "SECS", help = "KILL after SECS (default 10)" } },
  kill = { { long = "signal", short = "s", arg = "required", key = "signal", meta = "SIG", help = "the signal (default KILL)" } },
  rm = { { long = "force", short = "f", arg = "none", key = "force", help = "a running one is killed first" } },
  stats = { { long = "no-stream", arg = "none", key = "once", help = "one sample, then exit" } },
  events = { { long = "since", arg = "required", key = "since", meta = "TIME", help = "the recorded ones since TIME first" },
             { long = "until", arg = "required", key = "until_", meta = "TIME", help = "stop at TIME (a duration: from now)" } },
  inspect = {}, wait = {}, port = {}, top = {}, pause = {}, unpause = {}, rename = {}, cp = {},
}

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

-- Persistent image containers (sbx run --image X --name N): not running, kept until sbx rm.
local function named_containers()
  local dir = core.image.store_dir() .. "/named"
  local out = {}
  for _, name in ipairs(core.list_dir(dir)) do
    if sandboxes.valid_name(name) then
      local _, _, _, id = core.image.named_container(name)
      local img = id and core.image.get(id)
      out[#out + 1] = { name = name, dir = dir .. "/" .. name, image = img and img.tags[1] or id or "-" }
    end
  end
  return out
end
M.named_containers = named_containers

function M.ps(args)
  local opts, rest = getopt.parse(args, M.options.ps)
  if not opts then return fail("ps", rest, 2) end
  if #rest > 0 then return fail("ps", "unexpected argument '" .. rest[1] .. "' (sbx ps [-a] [-q] [--format json])", 2) end
  if opts.format and opts.format ~= "json" and opts.format ~= "table" then
    return fail("ps", "--format " .. opts.format .. ": expected json or table", 2)
  end
  if opts.format == "json" then
    local list = {}
    for _, s in ipairs(sandboxes.list()) do
      if opts.all or s.status == "running" or s.status == "paused" then
        local st = s.state
        list[#list + 1] = { name = s.name, status = s.status, exit_code = s.exit_code, signal = s.signal,
                            pid = (s.status == "running" or s.status == "paused") and st.pid or nil, started = st.started,
                            finished = st.finished, image = st.image, ip = st.ip, ports = st.ports, cgroup = st.cgroup,
                            command = st.command, kind = "sandbox" }
      end
    end
    if opts.all then
      for _, c in ipairs(named_containers()) do
        list[#list + 1] = { name = c.name, status = "stopped", image = c.image, kind = "container" }
      end
    end
    io.write(core.json.encode(list, 2), "\n")
    return 0
  end
  local rows = {}
  for _, s in ipairs(sandboxes.list()) do
    if opts.all or s.status == "running" or s.status == "paused" then
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
        local live = s.status == "running" or s.status == "paused"
        rows[#rows + 1] = { s.name, status, live and tostring(st.pid) or "-", human_time(s:uptime()), mem,
                            st.image or "-", st.ports and table.concat(st.ports, ",") or (st.ip or "-"),
                            table.concat(st.command or {}, " ") }
      end
    end
  end
  if opts.all then
    for _, c in ipairs(named_containers()) do
      if opts.quiet then io.write(c.name, "\n")
      else rows[#rows + 1] = { c.name, "stopped", "-", "-", "-", c.image, "-", "(a persistent image container: sbx run --image " .. c.image .. " --name " .. c.name .. " CMD)" } end
    end
  end
  if opts.quiet then return 0 end
  local fmt = "%-16s %-12s %-8s %-8s %-9s %-14s %-24s %s\n"
  io.write(fmt:format("NAME", "STATUS", "PID", "UPTIME", "MEMORY", "IMAGE", "PORTS", "COMMAND"))
  for _, r in ipairs(rows) do io.write(fmt:format(unpack(r))) end
  return 0
end

function M.inspect(args)
  local opts, names = getopt.parse(args, M.options.inspect)
  if not opts then return fail("inspect", names, 2) end
  args = names
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

-- --since: a duration ago (10m), unix seconds, or an RFC 3339 time (2026-12-02T05:00:00Z)
local function since_time(v)
  if v:match("^%d+%.?%d*$") and tonumber(v) > 1e8 then return tonumber(v) end
  local y, mo, d, h, mi, sec = v:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):?(%d*)")
  if y then
    -- days from the civil date (UTC), as timegm
    y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
    if mo <= 2 then y = y - 1; mo = mo + 12 end
    local days = 365 * y + math.floor(y / 4) - math.floor(y / 100) + math.floor(y / 400) + math.floor((153 * (mo - 3) + 2) / 5) + d - 719469
    return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + (tonumber(sec) or 0)
  end
  local secs = core.parse_seconds(v)
  if secs then return os.time() - secs end
  return nil
end

local function stamp(r)
  return os.date("!%Y-%m-%dT%H:%M:%S", r.secs) .. (".%09dZ "):format(r.ns)
end

function M.logs(args)
  local opts, rest = getopt.parse(args, M.options.logs)
  if not opts then return fail("logs", rest, 2) end
  if #rest > 1 then return fail("logs", "one sandbox at a time (sbx logs [-f] [--tail N] [--since T] [-t] NAME)", 2) end
  local tail = opts.tail
  if tail and tail ~= "all" then
    tail = tonumber(tail)
    if not tail or tail < 0 or tail ~= math.floor(tail) then return fail("logs", "--tail " .. opts.tail .. ": expected a number of lines or all", 2) end
  elseif tail == "all" then tail = nil end
  local since = opts.since and since_time(opts.since)
  if opts.since and not since then return fail("logs", "--since " .. opts.since .. ": expected a duration (10m), unix seconds or a time (2026-12-02T05:00:00Z)", 2) end
  local s, code = get("logs", rest[1])
  if not s then return code end
  local lines, offset = s:log_lines()
  if not lines then
    -- (a sandbox started by an older sbx: one stream, no times)
    if opts.tail or opts.since or opts.timestamps then return fail("logs", s.name .. ": its log has no per-line records (started by an older sbx): sbx logs " .. s.name .. " shows it whole") end
    local f = assert(io.open(s.dir .. "/log"))
    while true do
      local chunk = f:read(65536)
      if chunk then
        io.write(chunk)
        io.flush()
      elseif not opts.follow or s:refresh().status ~= "running" then
        local rest_ = f:read("*a")
        if rest_ then io.write(rest_) end
        break
      else
        core.sleep(0.1)
      end
    end
    f:close()
    return 0
  end
  -- stdout's lines on stdout, stderr's on stderr (as docker logs)
  local last
  local function show(list, first)
    for i = first or 1, #list do
      local r = list[i]
      if not since or r.time >= since then
        local out = r.stream == "stderr" and io.stderr or io.stdout
        if last and last ~= out then last:flush() end  -- (the order kept where both meet: 2>&1)
        out:write(opts.timestamps and stamp(r) or "", r.text, "\n")
        last = out
      end
    end
    io.stdout:flush()
    io.stderr:flush()
  end
  local first = 1
  if tail then
    local shown = {}
    for _, r in ipairs(lines) do if not since or r.time >= since then shown[#shown + 1] = r end end
    lines, first = shown, math.max(1, #shown - tail + 1)
  end
  show(lines, first)
  while opts.follow do
    local running = s:refresh().status == "running" or s.status == "paused"
    local more
    more, offset = s:log_lines(offset)
    show(more or {})
    if not running and #(more or {}) == 0 then break end
    core.sleep(0.1)
  end
  return 0
end

function M.exec(args)
  local opts, rest = getopt.parse(args, M.options.exec)
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
  local st, err, errno = s:exec(argv)
  -- (docker's: 126 the command cannot be run, 127 it is not there, 125 the exec itself failed)
  if not st then return fail("exec", err, require("sbx.cli.run").start_failure(err, errno)) end
  return st.status
end

function M.stop(args)
  local opts, rest = getopt.parse(args, M.options.stop)
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
  local opts, rest = getopt.parse(args, M.options.kill)
  if not opts then return fail("kill", rest, 2) end
  -- sbx kill NAME [SIGNAL], or docker's sbx kill -s SIGNAL NAME
  local name, sig = rest[1], opts.signal or rest[2] or "KILL"
  local s, code = get("kill", name)
  if not s then return code end
  local ok, r, e = pcall(s.kill, s, sig)
  if not ok then return fail("kill", (tostring(r):gsub("^[^:]*:%d+: ", "")), 2) end
  if not r then return fail("kill", e) end
  return 0
end

function M.rm(args)
  local opts, rest = getopt.parse(args, M.options.rm)
  if not opts then return fail("rm", rest, 2) end
  if #rest == 0 then return fail("rm", "expected one or more sandbox names", 2) end
  local boxes = {}
  local named = {}
  for _, c in ipairs(named_containers()) do named[c.name] = c end
  for i, name in ipairs(rest) do
    local ok, s = pcall(sandboxes.get, name)
    if ok and not s and named[name] then
      boxes[i] = named[name]  -- a persistent image container: its directory (upper layer) goes
    else
      local code
      s, code = get("rm", name)
      if not s then return code end
      boxes[i] = s
    end
  end
  -- -f: every running one is told to end first (TERM, then KILL at once, as one stop(0) does), so
  -- they end together; each is removed once its supervisor has recorded its end
  if opts.force then
    for _, s in ipairs(boxes) do
      if s.status == "running" or s.status == "paused" then
        if s.status == "paused" then s:unpause() end
        s:kill("TERM"); s:kill("KILL")
      end
    end
  end
  for i, name in ipairs(rest) do
    local s = boxes[i]
    local ok, err
    if s.remove then
      ok, err = s:remove(opts.force)
    elseif core.image.in_use(s.dir) then
      ok, err = nil, ("container %s is in use by a running sbx run --name %s: try when it has ended"):format(name, name)
    else
      ok, err = core.image.remove_tree(s.dir)
    end
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
    local plan = a and core.json.decode(core.read_file(s.dir .. "/plan.json") or "{}") or {}
    local limits = plan.limits or {}
    local function limit(v) return (v == nil or v == "max") and "-" or human_bytes(v) end
    if a and b then
      local cpu = (b.cpu_usec - a.cpu_usec) / (interval * 1e6) * 100
      rows[#rows + 1] = ("%-16s %7.1f%% %10s %10s %10s %6d %6s"):format(s.name, cpu, human_bytes(b.memory), limit(limits.memory),
                                                                    human_bytes(b.memory_peak), b.pids, tostring(limits.pids or "-"))
    elseif s.status == "running" then
      rows[#rows + 1] = ("%-16s %8s %10s %10s %10s %6s %6s"):format(s.name, "-", "-", "-", "-", "-", "-")
    end
  end
  return rows
end

function M.stats(args)
  local opts, rest = getopt.parse(args, M.options.stats)
  if not opts then return fail("stats", rest, 2) end
  local header = ("%-16s %8s %10s %10s %10s %6s %6s\n"):format("NAME", "CPU", "MEMORY", "LIMIT", "PEAK", "PIDS", "MAX")
  repeat
    local rows = stats_rows(rest, opts.once and 0.5 or 1)
    if not opts.once then io.write("\27[H\27[2J") end
    io.write(header, table.concat(rows, "\n"), #rows > 0 and "\n" or "")
    io.flush()
  until opts.once
  return 0
end

-- sbx wait NAME...: each one's exit code once it has ended (as docker wait)
function M.wait(args)
  local opts, rest = getopt.parse(args, {})
  if not opts then return fail("wait", rest, 2) end
  if #rest == 0 then return fail("wait", "expected one or more sandbox names", 2) end
  local rc = 0
  for _, name in ipairs(rest) do
    local s, code = get("wait", name)
    if not s then return code end
    local c, err = s:wait()
    if c then io.write(c, "\n") else rc = fail("wait", err) end
    io.flush()
  end
  return rc
end

-- sbx port NAME [PORT[/PROTO]]: its published ports, "80/tcp -> 127.0.0.1:8080" (as docker port)
function M.port(args)
  local opts, rest = getopt.parse(args, {})
  if not opts then return fail("port", rest, 2) end
  local s, code = get("port", rest[1])
  if not s then return code end
  local want = rest[2]
  if want and not want:find("/") then want = want .. "/tcp" end
  local found = false
  for _, p in ipairs(s.state.ports or {}) do
    local host, inside = p:match("^(.*)%->(.*)$")
    if host and (not want or inside == want) then
      io.write(want and host or (inside .. " -> " .. host), "\n")
      found = true
    end
  end
  if want and not found then return fail("port", ("%s: no published port %s"):format(s.name, want)) end
  return 0
end

-- sbx top NAME: its processes (host pids), as docker top
function M.top(args)
  local opts, rest = getopt.parse(args, {})
  if not opts then return fail("top", rest, 2) end
  local s, code = get("top", rest[1])
  if not s then return code end
  local procs, err = s:processes()
  if not procs then return fail("top", err) end
  io.write(("%-8s %-8s %-6s %s\n"):format("PID", "PPID", "UID", "COMMAND"))
  for _, p in ipairs(procs) do io.write(("%-8d %-8d %-6s %s\n"):format(p.pid, p.ppid, tostring(p.user), p.cmd)) end
  return 0
end

local function each(cmd, args, fn)
  local opts, rest = getopt.parse(args, {})
  if not opts then return fail(cmd, rest, 2) end
  if #rest == 0 then return fail(cmd, "expected one or more sandbox names", 2) end
  for _, name in ipairs(rest) do
    local s, code = get(cmd, name)
    if not s then return code end
    local ok, err = fn(s)
    if not ok then return fail(cmd, err) end
    io.write(name, "\n")
  end
  return 0
end

function M.pause(args) return each("pause", args, function(s) return s:pause() end) end
function M.unpause(args) return each("unpause", args, function(s) return s:unpause() end) end

function M.rename(args)
  local opts, rest = getopt.parse(args, {})
  if not opts then return fail("rename", rest, 2) end
  if #rest ~= 2 then return fail("rename", "expected OLD NEW", 2) end
  local s, code = get("rename", rest[1])
  if not s then return code end
  local ok, err = s:rename(rest[2])
  if not ok then return fail("rename", err) end
  return 0
end

-- sbx events [--since T] [--until T]: a line per start, exit and oom of every sandbox, as they
-- happen (the recorded ones since T first); ends at --until, or never
function M.events(args)
  local opts, rest = getopt.parse(args, M.options.events)
  if not opts then return fail("events", rest, 2) end
  if #rest > 0 then return fail("events", "unexpected argument '" .. rest[1] .. "'", 2) end
  local since = opts.since and since_time(opts.since)
  if opts.since and not since then return fail("events", "--since " .. opts.since .. ": expected a duration, unix seconds or a time", 2) end
  local until_ = opts.until_ and since_time(opts.until_)
  if opts.until_ and not until_ then return fail("events", "--until " .. opts.until_ .. ": expected a duration, unix seconds or a time", 2) end
  if until_ and opts.until_:match("^%d+[smhd]?$") and tonumber(opts.until_:match("^%d+")) < 1e8 then
    until_ = os.time() + (os.time() - until_)  -- a duration: from now on
  end
  local seen = {}
  local function line(t, what, s, extra)
    io.write(os.date("!%Y-%m-%dT%H:%M:%SZ", t), " ", what, " ", s.name, extra or "", "\n")
  end
  local function scan(initial)
    local out = {}
    for _, s in ipairs(sandboxes.list()) do
      local st, key = s.state, s.name .. "@" .. tostring(s.state.created)
      local was = seen[key] or {}
      if st.started and not was.start then
        was.start = true
        if not initial or (since and st.started >= since) then out[#out + 1] = { st.started, "start", s } end
      end
      if s.status == "exited" and not was.exit then
        was.exit = true
        local t = st.finished or os.time()
        if not initial or (since and t >= since) then
          if (st.oom_kills or 0) > 0 then out[#out + 1] = { t, "oom", s, (" (%d killed)"):format(st.oom_kills) } end
          out[#out + 1] = { t, "exit", s, " " .. tostring(s.exit_code) }
        end
      end
      seen[key] = was
    end
    local rank = { start = 1, oom = 2, exit = 3 }
    table.sort(out, function(a, b)
      if a[1] ~= b[1] then return a[1] < b[1] end
      if a[3].name ~= b[3].name then return a[3].name < b[3].name end
      return rank[a[2]] < rank[b[2]]
    end)
    for _, e in ipairs(out) do line(e[1], e[2], e[3], e[4]) end
    io.flush()
  end
  scan(true)
  while not until_ or os.time() < until_ do
    core.sleep(0.1)
    scan(false)
  end
  return 0
end

-- sbx cp NAME:PATH DEST | sbx cp SRC NAME:PATH (as docker cp)
function M.cp(args)
  local opts, rest = getopt.parse(args, {})
  if not opts then return fail("cp", rest, 2) end
  if #rest ~= 2 then return fail("cp", "expected NAME:PATH DEST or SRC NAME:PATH", 2) end
  local function split(a)
    local name, path = a:match("^([%w][%w_.%-]*):(.*)$")
    if name and path:sub(1, 1) ~= "/" then path = "/" .. path end
    return name, path
  end
  local n1, p1 = split(rest[1])
  local n2, p2 = split(rest[2])
  if (n1 and n2) or (not n1 and not n2) then
    return fail("cp", "one side is NAME:PATH, the other a host path (sbx cp web:/etc/hosts ./hosts)", 2)
  end
  local s, code = get("cp", n1 or n2)
  if not s then return code end
  local r, err
  if n1 then r, err = s:copy_out(p1, rest[2]) else r, err = s:copy_in(rest[1], p2) end
  if not r then return fail("cp", err) end
  if r.skipped > 0 then io.stderr:write(("sbx cp: %d device node(s), fifo(s) or socket(s) left out\n"):format(r.skipped)) end
  return 0
end

return M
