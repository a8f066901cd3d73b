-- sbx test: a small harness for Lua test files. A file calls the globals
--   test("name", function() ... end)        a case
--   expect(v).eq(x) .ne(x) .truthy() .falsy() .match(pat) .contains(s) .type(t) .gt(x) .lt(x)
--   expect_error(fn, pattern)               fn must raise, with a message matching pattern
--   skip("reason")                          inside a case: skipped, with the reason
--   skip_all("reason")                      at the top: every case of the file is skipped, and
--                                           nothing after it runs
--   sh("command")                           runs a shell command: its output (stderr too) and status
--   has_cap(n)                              whether this process has capability number n (effective)
--   expect_event(p, event, secs [, opts])   the loop runs until p reports the event (p:on's); ev
--   handler_failures(fn)                    the loop's failed handlers while fn ran, and its result
--   expect_denied(box, { cmd... } [, pat])  the command must be refused (EPERM/EACCES or pat)
--   with_policy(description, fn)            fn(box) with a box of the description, closed after
--   before_each(fn)                         fn runs before every case of the file (files are all
--                                           loaded before any case runs: per-file state goes here)
-- and prints TAP (prove-readable). Exit status 1 when any case failed.
local M = {}

local SKIP = {}

local function fmt(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

local function fail(msg) error({ failure = msg }, 3) end

local function expect(actual, label)
  local prefix = label and (label .. ": ") or ""
  local e = {}
  function e.eq(want) if actual ~= want then fail(prefix .. "expected " .. fmt(want) .. ", got " .. fmt(actual)) end return e end
  function e.ne(other) if actual == other then fail(prefix .. "expected something other than " .. fmt(other)) end return e end
  function e.truthy() if not actual then fail(prefix .. "expected a true value, got " .. fmt(actual)) end return e end
  function e.falsy() if actual then fail(prefix .. "expected false or nil, got " .. fmt(actual)) end return e end
  function e.match(pat)
    if type(actual) ~= "string" or not actual:match(pat) then fail(prefix .. "expected a match for " .. fmt(pat) .. ", got " .. fmt(actual)) end
    return e
  end
  function e.contains(s)
    if type(actual) ~= "string" or not actual:find(s, 1, true) then fail(prefix .. "expected text containing " .. fmt(s) .. ", got " .. fmt(actual)) end
    return e
  end
  function e.never_contains(s)
    if type(actual) == "string" and actual:find(s, 1, true) then fail(prefix .. "expected no " .. fmt(s) .. " in " .. fmt(actual)) end
    return e
  end
  function e.type(t) if type(actual) ~= t then fail(prefix .. "expected a " .. t .. ", got " .. type(actual)) end return e end
  function e.gt(x) if not (type(actual) == "number" and actual > x) then fail(prefix .. "expected > " .. fmt(x) .. ", got " .. fmt(actual)) end return e end
  function e.lt(x) if not (type(actual) == "number" and actual < x) then fail(prefix .. "expected < " .. fmt(x) .. ", got " .. fmt(actual)) end return e end
  return e
end

local function expect_error(fn, pattern)
  local ok, err = pcall(fn)
  if ok then fail("expected an error" .. (pattern and (" matching " .. fmt(pattern)) or "")) end
  local msg = type(err) == "table" and (err.failure or tostring(err)) or tostring(err)
  if pattern and not msg:match(pattern) then fail("expected an error matching " .. fmt(pattern) .. ", got " .. fmt(msg)) end
  return msg
end

-- sh(cmd) -> its stdout and stderr, its exit status. (In a subshell of its own: a command that
-- says `exit 3` ends that, not the line that reports the status.)
local function sh(cmd)
  local h = assert(io.popen("(" .. cmd .. "\n) 2>&1; echo \"::sbx-status=$?\""))
  local out = h:read("*a")
  h:close()
  local body, rc = out:match("^(.*)::sbx%-status=(%d+)\n$")
  return body, tonumber(rc)
end

-- Whether this process has a capability in its effective set, by number (24: CAP_SYS_RESOURCE).
local function has_cap(bit)
  local f = io.open("/proc/self/status")
  local status = f and f:read("*a") or ""
  if f then f:close() end
  local hex = status:match("CapEff:%s*(%x+)") or "0"
  local digit = tonumber(hex:sub(-1 - math.floor(bit / 4), -1 - math.floor(bit / 4)), 16) or 0
  return math.floor(digit / 2 ^ (bit % 4)) % 2 == 1
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- terminal(cmd [, { width = 100, height = 30 }]): a real terminal (a tmux server of its own)
-- running cmd. t:type(text) types it, t:key("Enter"|"C-c"|"Tab"|...) presses keys,
-- t:screen() is what it shows, t:wait(pattern [, secs]) waits for it (an error naming the
-- screen when it does not come), t:resize(w, h), t:close().
local terminals, open_terminals = 0, {}
local function close_terminals()  -- after each case: a failed one leaves none running
  for t in pairs(open_terminals) do t:close() end
end
local function terminal(cmd, opts)
  opts = opts or {}
  if not io.popen("command -v tmux"):read("*l") then return nil, "tmux is not installed" end
  terminals = terminals + 1
  local t = { socket = ("sbxtest%d-%d"):format(require("sbx.core").sys.getpid(), terminals) }
  local function tmux(args) return sh("tmux -L " .. t.socket .. " " .. args) end
  function t:type(text) tmux("send-keys -t main -l " .. quote(text)) end
  function t:key(...) for _, k in ipairs({ ... }) do tmux("send-keys -t main " .. k) end end
  function t:line(text) self:type(text); self:key("Enter") end
  -- what it shows, without trailing blanks (so "sbx>$" matches a prompt at the end)
  function t:screen() return ((tmux("capture-pane -p -J -t main")):gsub("[ \t]+\n", "\n"):gsub("%s+$", "")) end
  -- whether the program it started has ended (a zombie counts: tmux reaps late at times)
  function t:ended()
    local pid = tonumber((tmux("display -p -t main '#{pane_pid}'")))
    return not pid or require("sbx.core").process_identity(pid) == nil
  end
  function t:wait_end(secs)
    for _ = 1, math.floor((secs or 5) / 0.05) do
      if self:ended() then return true end
      require("sbx.core").sleep(0.05)
    end
    error("terminal: the program did not end; the screen:\n" .. self:screen(), 2)
  end
  function t:resize(w, h) tmux(("resize-window -t main -x %d -y %d"):format(w, h)) end
  function t:wait(pattern, secs)
    local screen
    for _ = 1, math.floor((secs or 5) / 0.05) do
      screen = self:screen()
      if screen:find(pattern) then return screen end
      require("sbx.core").sleep(0.05)
    end
    error(("terminal: %q did not appear; the screen:\n%s"):format(pattern, screen), 2)
  end
  function t:close()
    tmux("kill-server")
    open_terminals[t] = nil
  end
  local _, rc = tmux(("new-session -d -s main -x %d -y %d %s"):format(opts.width or 100, opts.height or 30, quote(cmd)))
  if rc ~= 0 then return nil, "tmux could not start" end
  tmux("set-option -t main remain-on-exit on")
  open_terminals[t] = true
  return t
end

-- handler_failures(fn) -> { "message @line", ... }, fn's result: what sbx.loop reported as failed
-- handlers while fn ran (instead of stderr), each with the line its handler was defined at.
local function handler_failures(fn)
  local loop = require "sbx.loop"
  local got, saved = {}, loop.report
  loop.report = function(h, err) got[#got + 1] = tostring(err) .. " @" .. debug.getinfo(h, "S").linedefined end
  local ok, res = pcall(fn)
  loop.report = saved
  if not ok then error(res, 0) end
  return got, res
end

-- expect_event(p, event, timeout [, opts]) -> ev: runs the loop until the sandbox reports the event
-- (p:on's events and opts), fails the case when it has not within timeout seconds or p ended first.
local function expect_event(p, event, timeout, opts)
  local got
  local h = p:on(event, function(ev) got = got or ev end, opts)
  local loop = require("sbx.loop")
  local deadline = require("sbx.core").monotonic() + (timeout or 10)
  while not got and p.running and require("sbx.core").monotonic() < deadline do
    loop.step(math.max(0, deadline - require("sbx.core").monotonic()), p.pidfd)
  end
  h.cancel()
  if not got then
    fail(("expected the event %s within %ss%s"):format(event, timeout or 10, p.running and "" or " (the sandbox ended first)"))
  end
  return got
end

-- expect_denied(box, { cmd, ... } [, pattern]) -> status: the command must fail with the kernel's
-- refusal (EPERM, EACCES) in its output, or the given pattern.
local function expect_denied(box, argv, pattern)
  local run = {}
  for i, a in ipairs(argv) do run[i] = a end
  run.stdout, run.stderr = "pipe", "pipe"
  local st = assert(box:run(run))
  local out = (st.stdout or "") .. (st.stderr or "")
  local refused = pattern and out:find(pattern) or (not pattern and (out:find("Operation not permitted") or out:find("Permission denied") or out:find("EPERM") or out:find("EACCES")))
  if st.code == 0 or not refused then
    fail(("expected %s to be refused%s; it ended %s with: %s"):format(table.concat(argv, " "), pattern and (" (" .. pattern .. ")") or "",
      st.signal and ("by signal " .. st.signal) or ("with code " .. tostring(st.code)), out))
  end
  return st
end

-- with_policy(description, fn) -> fn's results: a box made of the description, given to fn, closed
-- after it whatever fn does.
local function with_policy(description, fn)
  local box = require("sbx").container(description)
  local res = { pcall(fn, box) }
  box:close()
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2)
end

-- The host's network links, sorted, as one string (to compare before and after).
local function host_links()
  local names = {}
  for _, l in ipairs(assert(require("sbx").net.links(0))) do names[#names + 1] = l.name end
  table.sort(names)
  return table.concat(names, " ")
end

-- What sbx can leave on the host (as root), as one text to compare before and after: cgroups and
-- links named sbx*, nftables tables, network state, leases, owner records of other processes, the
-- store's scratch, containers, sandboxes and images.
local function host_leftovers()
  local store = require("sbx").image.store_dir()
  local me = tostring(require("sbx.core").sys.getpid())
  return table.concat({
    (sh("find /sys/fs/cgroup -maxdepth 3 -type d -name 'sbx-*' | sort")),
    (sh("ip -o link show | awk -F': ' '{print $2}' | grep '^sbx' | sort")),
    (sh("nft list tables 2>/dev/null")),
    (sh("ls -A /run/sbx/net /run/sbx/net/bridges 2>/dev/null")),
    (sh("cat /run/sbx/net/ipam/*.leases 2>/dev/null")),
    (sh("ls -A /run/sbx/owners 2>/dev/null | grep -vx '" .. me .. "'")),
    (sh("ls -A " .. store .. "/tmp " .. store .. "/containers " .. store .. "/sandboxes 2>/dev/null")),
    (sh("ls -A " .. store .. "/images 2>/dev/null")),
  }, "\n--\n")
end

-- Loads a test file and returns its cases (each { name =, fn = }) and a skip-all reason.
local function collect(path)
  local cases, skip_all, before = {}, nil, nil
  local env = setmetatable({
    test = function(name, fn)
      if type(name) ~= "string" or type(fn) ~= "function" then error("test(name, function) expected", 2) end
      cases[#cases + 1] = { name = name, fn = fn }
    end,
    expect = expect,
    expect_error = expect_error,
    skip = function(reason) error({ [SKIP] = tostring(reason) }, 2) end,
    -- ends the file's top-level code there (nothing after it runs: no set-up for cases that will
    -- not run); inside a case it skips that case
    skip_all = function(reason) error({ [SKIP] = tostring(reason), all = true }, 2) end,
    sh = sh,
    has_cap = has_cap,
    expect_event = expect_event,
    handler_failures = handler_failures,
    expect_denied = expect_denied,
    with_policy = with_policy,
    terminal = terminal,
    host_links = host_links,
    host_leftovers = host_leftovers,
    before_each = function(fn) before = fn end,
    sbx = require "sbx",
  }, { __index = _G })
  local chunk, err = loadfile(path)
  if not chunk then return nil, err end
  setfenv(chunk, env)
  local ok, lerr = pcall(chunk)
  if not ok and type(lerr) == "table" and lerr.all then return {}, lerr[SKIP] end
  if not ok then return nil, tostring(lerr) end
  if before then
    for _, c in ipairs(cases) do
      local fn = c.fn
      c.fn = function() before(); return fn() end
    end
  end
  return cases, skip_all
end

function M.run_files(files, out)
  out = out or io.stdout
  local plan, failed, skipped, n = {}, 0, 0, 0
  for _, f in ipairs(files) do
    local cases, extra = collect(f)
    -- a file skipped before it declared a case still reports one line: its skip
    if cases and #cases == 0 and extra then cases = { { name = "(every case)", fn = function() end } } end
    plan[#plan + 1] = { file = f, cases = cases, skip_all = extra, load_error = not cases and extra or nil }
    n = n + (cases and #cases or 1)
  end
  out:write("TAP version 13\n1..", n, "\n")
  local i = 0
  for _, p in ipairs(plan) do
    local short = p.file:match("([^/]+)%.lua$") or p.file
    if p.load_error then
      i = i + 1
      failed = failed + 1
      out:write("not ok ", i, " - ", short, ": load\n  # ", (tostring(p.load_error):gsub("\n", "\n  # ")), "\n")
    else
      for _, c in ipairs(p.cases) do
        i = i + 1
        local name = short .. ": " .. c.name
        if p.skip_all then
          skipped = skipped + 1
          out:write("ok ", i, " - ", name, " # SKIP ", p.skip_all, "\n")
        else
          local ok, err = xpcall(c.fn, function(e)
            if type(e) == "table" then return e end
            return { error = debug.traceback(tostring(e), 2) }
          end)
          if ok then
            out:write("ok ", i, " - ", name, "\n")
          elseif err[SKIP] then
            skipped = skipped + 1
            out:write("ok ", i, " - ", name, " # SKIP ", err[SKIP], "\n")
          else
            failed = failed + 1
            local msg = err.failure or err.error or tostring(err)
            out:write("not ok ", i, " - ", name, "\n  # ", (tostring(msg):gsub("\n", "\n  # ")), "\n")
          end
        end
        out:flush()
        close_terminals()
        collectgarbage()  -- a sandbox a case forgot to close is killed and reaped now
      end
    end
  end
  out:write(("# %d passed, %d skipped, %d failed\n"):format(i - failed - skipped, skipped, failed))
  -- nothing ran: every case skipped (a skip is never a pass)
  if failed == 0 and skipped > 0 and skipped == i then return true, "skipped" end
  return failed == 0
end

function M.main(args)
  if #args == 0 or args[1] == "--help" or args[1] == "-h" then
    io.write("usage: sbx test FILE.lua...\n\nRuns the test cases of each file and prints TAP; exit status 1 when a case failed,\n77 when every case was skipped (ctest's SKIP_RETURN_CODE), 0 otherwise.\n")
    return #args == 0 and 2 or 0
  end
  for _, a in ipairs(args) do
    if a:sub(1, 1) == "-" then io.stderr:write("sbx test: unknown option ", a, " (sbx test FILE.lua...)\n"); return 2 end
  end
  local ok, how = M.run_files(args)
  if not ok then return 1 end
  return how == "skipped" and 77 or 0
end

return M
