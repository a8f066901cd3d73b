-- Policies learned from a run (issue 15, part 4): box:learn / sbx run --seccomp learn=FILE.lua runs a
-- command with each call the base policy allows reported and let through, and writes the policy of
-- the calls made; --seccomp FILE.lua enforces it. The workload: a web server and a client inside
-- the sandbox's own network namespace (nothing leaves it), on the host's root.
local bin, probe = os.getenv("SBX_BIN"), os.getenv("SBX_PROBE")
if not bin or not probe then skip_all("needs SBX_BIN and SBX_PROBE (run through ctest)") end
for _, tool in ipairs({ "busybox", "wget" }) do
  if not io.popen("command -v " .. tool):read("*l") then skip_all(tool .. " is not installed on the host") end
end
-- (a name ending in .lua: that is how --seccomp tells a policy file)
local function lua_name() local n = os.tmpname(); os.remove(n); return n .. ".lua" end
local policy, other = lua_name(), lua_name()
local WORK = "mkdir -p /tmp/www && echo hello-learn > /tmp/www/index.html && busybox httpd -p 127.0.0.1:8080 -h /tmp/www && ls / >/dev/null && wget -q -O- http://127.0.0.1:8080/"

local function run(args)
  local p = io.popen(bin .. " run " .. args .. " 2>&1; echo rc=$?")
  local out = p:read("*a")
  p:close()
  return out
end

test("sbx run --seccomp learn=FILE.lua: the workload runs, and its policy is written", function()
  local out = run(("--seccomp learn=%s -- /bin/sh -c %q"):format(policy, WORK))
  expect(out).contains("hello-learn\n")
  expect(out).contains("rc=0")
  expect(out).match("learned %d+ allow rules into " .. policy:gsub("%p", "%%%0"))
  local text = assert(io.open(policy)):read("*a")
  expect(text, "reviewable: what it was learned from").contains("-- A seccomp policy learned by sbx")
  expect(text).contains("busybox httpd")
  expect(text, "default deny").contains('default = "errno EPERM"')
  expect(text, "counts as comments").match('"openat",%s+%-%- %d+')
  expect(text, "socket only for the family seen").match('{ "socket", "allow", args = { { 0, "masked_eq", 0xffffffff, 0x2 } } },%s+%-%- AF_INET')
  expect(text, "clone only with the flags seen").match('{ "clone", "allow", args = { { 0, "eq", 0x%x+ } } },%s+%-%- [%u_|]+')
  expect(text:find('"mkdir"', 1, true) ~= nil, "mkdir (made by the workload) learned").eq(true)
  expect(text:find('"unshare"', 1, true), "nothing the base refuses").eq(nil)
end)

test("the learned policy enforced: the same workload succeeds, a call never learned is refused", function()
  for i = 1, 3 do
    local out = run(("--seccomp %s -- /bin/sh -c %q"):format(policy, WORK))
    expect(out, "run " .. i).contains("hello-learn\n")
    expect(out, "run " .. i).contains("rc=0")
  end
  -- rmdir and a UDP socket were never made in the learning run
  local out = run(("--seccomp %s -- /bin/sh -c %q"):format(policy, WORK .. " && rmdir /tmp/www"))
  expect(out).contains("hello-learn\n")
  expect(out).contains("Operation not permitted")
  expect(out).contains("rc=1")
  -- the filter is the learned one (a default-deny filter of its own, not the default profile)
  local pol = assert(sbx.seccomp.load(policy))
  expect(pol:explain("rmdir")).eq("errno EPERM (the default)")
  expect(pol:explain("getdents64")).eq("allow")
  expect(pol:explain("socket")).contains("allow when (arg0 & 0xffffffff) == 0x2; otherwise errno EPERM")
end)

test("box:learn: a base of the box's own, another architecture's calls, misuse", function()
  local box = sbx.container{ seccomp = "strict", mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
  local pol, st, text = box:learn{ "/tmp/probe", "i386-getpid", stdout = "pipe" }
  expect(pol, tostring(st)).type("table")
  expect(st.stdout).eq("i386 getpid ok\n")
  expect(text, "the i386 call, named for its architecture").match('"getpid",%s+%-%- 1 %(i386%)')
  expect(text, "x86_64 calls counted apart").match("i386: 1 calls, 1 made; x86_64: %d+ calls, %d+ made")
  for _, r in ipairs(pol.rules) do
    if r.action == "allow" then
      expect(sbx.seccomp.strict():explain(r.syscall):match("^allow") ~= nil, r.syscall .. " learned under strict").eq(true)
    end
  end
  local again = sbx.container{ seccomp = pol, mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
  expect(again:run{ "/tmp/probe", "i386-getpid", stdout = "pipe" }.stdout).eq("i386 getpid ok\n")
  expect_error(function() box:learn{} end, "box:learn: expected")
  expect_error(function() box:learn{ "/bin/true", tty = true } end, "a learning run has no terminal")
  local notifying = sbx.container{ seccomp = { notify = { "mkdir" }, on_call = print } }
  expect_error(function() notifying:learn{ "/bin/true" } end, "already has an on_call handler")
  expect(run("-d --seccomp learn=" .. other .. " -- true")).contains("a learning run is attached")
  expect(run("--seccomp learn= -- true")).contains("the file to write the learned policy to")
end)

test("cleanup", function()
  os.remove(policy)
  expect(os.remove(other), "-d with learn= wrote nothing").eq(nil)
end)
