-- Seccomp decisions made in Lua (issue 15, part 3): seccomp = { notify = {...}, on_call = fn }. The
-- listed calls stop in the kernel and the handler, in the supervisor, answers: allow, deny with an
-- errno, a return value, or an fd the supervisor opened itself (the safe broker: a racing thread that
-- rewrites the path after the check still gets the checked file).
local probe = os.getenv("SBX_PROBE")
local root, rerr = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs: " .. tostring(rerr)) end
if not probe then skip_all("SBX_PROBE is not set (run through ctest)") end

local function box(on_call, notify, extra)
  local d = { rootfs = root, mounts = { sbx.ro_bind(probe, "/tmp/probe") },
              seccomp = { notify = notify, on_call = on_call } }
  for k, v in pairs(extra or {}) do d[k] = v end
  return sbx.container(d)
end

test("deny with an errno, allow, and a return value without the call: decided per argument", function()
  local seen = {}
  local b = box(function(call)
    if call.name == "mkdir" then
      local path = assert(call:string(1))
      seen[#seen + 1] = path
      if path:match("^/tmp/no") then return "deny", "EACCES" end
      return "allow"
    end
    if call.name == "sethostname" then return "return", 0 end  -- "done", but nothing changed
  end, { "mkdir", "sethostname" }, { hostname = "before" })
  local st = assert(b:run{ "/bin/sh", "-c", "mkdir /tmp/no-way; echo no=$?; mkdir /tmp/yes && ls -d /tmp/yes; hostname after; echo set=$?; hostname", stdout = "pipe", stderr = "pipe" })
  expect(st.code).eq(0)
  expect(st.stdout).contains("no=1")
  expect(st.stderr).contains("Permission denied")
  expect(st.stdout).contains("/tmp/yes\n")
  expect(st.stdout).contains("set=0")
  expect(st.stdout, "the hostname unchanged").contains("before\n")
  expect(table.concat(seen, ","), "paths the handler read").eq("/tmp/no-way,/tmp/yes")
end)

test("open: the supervisor opens the checked path and gives the fd; a racing rewrite gets nothing else", function()
  local opened, denied = 0, 0
  local created = 0
  local b = box(function(call)
    local path = call:string(2)  -- openat(dirfd, path, flags, mode)
    if call.args[3] % 4 ~= 0 then  -- written (the set-up's echo): made by the broker as the caller
      if path == "/tmp/good" or path == "/tmp/bad" then created = created + 1; return "open", path end
      return "allow"
    end
    -- only the checked path is given, everything else refused: an "allow" would let the kernel read
    -- the path again, after the racing thread changed it (half-written paths match neither)
    if path == "/tmp/good" then opened = opened + 1; return "open", path end
    denied = denied + 1
    return "deny", "EACCES"
  end, { "openat" })
  local st = assert(b:run{ "/bin/sh", "-c", "echo G > /tmp/good; echo B > /tmp/bad; stat -c 'owner %u %g' /tmp/good; /tmp/probe race-open /tmp/good /tmp/bad 400", stdout = "pipe", stderr = "pipe", timeout = 60 })
  expect(st.code, st.stderr).eq(0)
  local good, bad, other = st.stdout:match("good=(%d+) bad=(%d+) other=(%d+)")
  expect(tonumber(bad), "opens that read the file the handler refused: " .. st.stdout).eq(0)
  expect(tonumber(good), "opens given the checked file").gt(0)
  expect(tonumber(good) + tonumber(other)).eq(400)
  expect(opened, "brokered opens").eq(tonumber(good))
  expect(denied, "refused opens").eq(tonumber(other))
  expect(created, "files the broker made for the caller").eq(2)
  expect(st.stdout, "the caller's own ids on the file the broker made").contains("owner 0 0\n")
  -- the broker resolves inside the sandbox's root: an absolute symlink is the sandbox's /etc, not
  -- the host's (the supervisor itself sees the host's root)
  local hf = io.open("/etc/hosts")  -- (the v2 lane's host has none)
  local host = hf and hf:read("*a") or "(none)"
  if hf then hf:close() end
  local brokered = 0
  local b2 = box(function(call)
    local path = call:string(2)
    if path == "/tmp/link/hosts" then brokered = brokered + 1; return "open", path end
  end, { "openat" })
  st = assert(b2:run{ "/bin/sh", "-c", "ln -s /etc /tmp/link; cat /etc/hosts; echo ---; cat /tmp/link/hosts", stdout = "pipe", stderr = "pipe" })
  local own, via_link = st.stdout:match("^(.-)%-%-%-\n(.*)$")
  expect(brokered, "brokered opens").eq(1)
  expect(via_link, st.stderr).eq(own)
  expect(via_link ~= host, "the host's /etc/hosts reached through the link").eq(true)
end)

test("connect: call:sockaddr shows the address; allow one, refuse the rest and log it", function()
  local log = {}
  local b = box(function(call)
    local to = call:sockaddr(2)
    log[#log + 1] = to
    if to == "inet 127.0.0.1:8080" then return "allow" end
    return "deny", "ECONNREFUSED"
  end, { "connect" })
  local st = assert(b:run{ "/bin/sh", "-c", "/tmp/probe connect 10.1.2.3 80; /tmp/probe connect 127.0.0.1 8080", stdout = "pipe" })
  expect(st.stdout, "the refused one, then the allowed one (nothing listens: refused by the kernel)").eq("ECONNREFUSED\nECONNREFUSED\n")
  expect(table.concat(log, "|")).eq("inet 10.1.2.3:80|inet 127.0.0.1:8080")
end)

test("sendmsg and write notified too: sbx's own hand-over of the listener is not one of them", function()
  -- the child hands its listener over with sendmsg once the filter is on: that call passes only with
  -- a tag the payload cannot know (before, the set-up waited for an answer nobody could give)
  local seen = {}
  local b = box(function(call) seen[call.name] = (seen[call.name] or 0) + 1; return "allow" end, { "sendmsg", "write" })
  local st = assert(b:run{ "/bin/sh", "-c", "echo hi", stdout = "pipe", timeout = 20 })
  expect(st.timed_out, "the start hung").eq(nil)
  expect(st.stdout).eq("hi\n")
  expect(seen.write, "the payload's write, judged").eq(1)
  expect(seen.sendmsg, "sbx's own sendmsg reached the handler").eq(nil)
end)

test("a strict base: sbx's set-up between the notify filter and the execve is not refused by it", function()
  -- (before, the whole policy went on early and strict refused the identity change: exit 127, no word)
  local b = box(function() return "deny", "EACCES" end, { "mkdir" }, { seccomp = { base = "strict", notify = { "mkdir" }, on_call = function() return "deny", "EACCES" end } })
  local st = assert(b:run{ "/bin/sh", "-c", "mkdir /tmp/x; echo rc=$?; grep Seccomp_filters /proc/self/status", stdout = "pipe", stderr = "pipe" })
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout).contains("rc=1")
  expect(st.stderr).contains("Permission denied")
  expect(st.stdout, "the notify filter, strict, the TIOCSTI filter").match("Seccomp_filters:%s+3")
end)

test("a flood of notifications: every call answered, the supervisor unharmed", function()
  local n = 0
  local b = box(function() n = n + 1; return "deny", "EEXIST" end, { "mkdir" })
  local st = assert(b:run{ "/tmp/probe", "mkdirs", "20000", stdout = "pipe", timeout = 120 })
  expect(st.code).eq(0)
  expect(st.stdout).contains("20000 failed")
  expect(n, "handler calls").eq(20000)
  io.write("# notify round trip through a Lua handler: ", st.stdout)
end)

test("a handler that fails: the call is refused, the failure reported, the sandbox killed", function()
  local reports, st = handler_failures(function()
    local b = box(function(call) error("the policy has a bug") end, { "mkdir" })
    return assert(b:run{ "/bin/sh", "-c", "mkdir /tmp/x; sleep 30", timeout = 60 })
  end)
  expect(st.signal, "killed").eq(9)
  expect(#reports).eq(1)
  expect(reports[1]).contains("the policy has a bug")
end)

test("misuse: notify without a handler, an unknown call, a call with a rule already", function()
  expect_error(function() sbx.container{ rootfs = root, seccomp = { notify = { "mkdir" } } } end, "seccomp%.on_call: expected a function")
  expect_error(function() sbx.container{ rootfs = root, seccomp = { notify = { "nosuchcall" }, on_call = print } } end, "nosuchcall is not a syscall")
  expect_error(function() sbx.container{ rootfs = root, seccomp = { deny = { "mkdir" }, notify = { "mkdir" }, on_call = print } } end, "mkdir already has a rule %(errno EPERM%): the base policy refuses it")
  expect_error(function() sbx.container{ rootfs = root, seccomp = { notify = { "clone" }, on_call = print } } end, "clone is allowed by the base policy only for some arguments")
  expect_error(function() sbx.container{ rootfs = root, seccomp = { rules = { { "mkdir", "notify" } } } } end, "list it in seccomp%.notify")
  local b = box(print, { "mkdir" })
  -- the plan says which calls are notified
  local notified = {}
  for _, r in ipairs(b:spec().seccomp.rules) do if r.action == "notify" then notified[#notified + 1] = r.syscall end end
  expect(table.concat(notified, ",")).eq("mkdir")
end)
