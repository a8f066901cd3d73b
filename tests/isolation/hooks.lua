-- Hooks at every phase of a start (issue 15, part 5): Lua in the supervisor while the sandbox waits
-- (namespaces made, root prepared), acting through p:exec_as_root, p:write_file, p:read_file.
local root, rerr = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs: " .. tostring(rerr)) end
local core = require "sbx.core"

local function leftover_fifos()
  local dir = core.dirs().runtime .. "/hooks"
  local h = io.popen("ls " .. dir .. " 2>/dev/null")
  local out = h:read("*a")
  h:close()
  return (out:gsub("\n", " "))
end

test("created, before_exec, started, exited run in order; set-up as root inside, payload as its user", function()
  local order, seen_before = {}, nil
  local box = sbx.container{ rootfs = root, uid = 1000, gid = 1000, hooks = {
    created = function(p)
      order[#order + 1] = "created"
      assert(p:write_file("/tmp/setup", "made by the hook\n"))
      local st = assert(p:exec_as_root{ "/bin/sh", "-c", "echo root-setup > /tmp/by-root; id -u > /tmp/uid; chmod 644 /tmp/by-root /tmp/uid" })
      assert(st.code == 0, "exec_as_root failed")
    end,
    before_exec = function(p)
      order[#order + 1] = "before_exec"
      seen_before = p:read_file("/tmp/by-root")
    end,
    started = function(p) order[#order + 1] = "started" end,
    exited = function(p, st) order[#order + 1] = "exited " .. st.code end,
  } }
  local st = assert(box:run{ "/bin/sh", "-c", "cat /tmp/setup /tmp/by-root /tmp/uid; id -u", stdout = "pipe" })
  expect(st.code).eq(0)
  expect(st.stdout).eq("made by the hook\nroot-setup\n0\n1000\n")
  expect(seen_before).eq("root-setup\n")
  expect(table.concat(order, ",")).eq("created,before_exec,started,exited 0")
  expect(leftover_fifos(), "start fifos left").eq("")
end)

test("a hook that fails aborts the start with its message; the sandbox and its fifo are gone", function()
  local pid
  local box = sbx.container{ rootfs = root, hooks = { created = function(p) pid = p.pid; error("no network for you") end } }
  local st, err = box:run{ "/bin/true" }
  expect(st).eq(nil)
  expect(err).eq("hook created: no network for you")
  expect(pid, "the hook saw the sandbox").gt(0)
  expect(io.open("/proc/" .. pid .. "/stat"), "the sandbox's init after the abort").eq(nil)
  expect(leftover_fifos(), "start fifos left").eq("")
end)

test("p:write_file resolves inside the sandbox's root: a symlink to /etc is the sandbox's, never the host's", function()
  local werr, host_file = nil, "/etc/sbx-hook-escape-" .. sbx.sys.getpid()
  local box = sbx.container{ rootfs = root, hooks = { created = function(p)
    assert(p:exec_as_root{ "/bin/ln", "-s", "/etc", "/tmp/etc-link" })
    local ok, e = p:write_file("/tmp/etc-link/" .. host_file:match("[^/]+$"), "x")
    werr = ok and "written" or e
  end } }
  assert(box:run{ "/bin/true" })
  expect(io.open(host_file), "a file on the host's /etc").eq(nil)
  expect(werr, "the sandbox's /etc is read-only").contains("Read-only file system")
end)

test("misuse: an unknown phase, a hook that is not a function", function()
  expect_error(function() sbx.container{ rootfs = root, hooks = { prestart = print } } end, "hooks: unknown phase prestart")
  expect_error(function() sbx.container{ rootfs = root, hooks = { created = 1 } } end, "hooks%.created: expected a function")
end)
