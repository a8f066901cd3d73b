-- Fault injection (issue 11): every set-up step the core names (SBX_FAULT=STEP, see src/core/base/fault.h)
-- is made to fail in turn, in a start that reaches it. Each must end with 125 (the image commands:
-- a non-zero status), an error that names the step, and the host exactly as before: cgroups, links,
-- the nftables table, network state, leases, owner records, the store's scratch and sandboxes.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (cgroups, bridges)") end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end
local core = require "sbx.core"

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute(("mkdir -p %s/layer/etc && echo hi > %s/layer/etc/hi && tar -C %s/layer -cf %s/layer.tar ."):format(tmp, tmp, tmp, tmp)))

local commands = {
  plain = ("%s run --rootfs %s -- true"):format(bin, rootfs),
  limits = ("%s run --rootfs %s -m 16M --pids 32 -- true"):format(bin, rootfs),
  devices = ("%s run --rootfs %s --device-cgroup-rule 'c 1:3 rwm' -- true"):format(bin, rootfs),
  bridge = ("%s run --rootfs %s -m 16M -p 127.0.0.1:0:80 -- true"):format(bin, rootfs),
  image = ("%s image import-layer %s/layer.tar injected:1"):format(bin, tmp),
  detached = ("%s run --rootfs %s -d --name injected-%d -m 16M -p 127.0.0.1:0:80 -- sleep 5"):format(bin, rootfs, sbx.sys.getpid()),
}

local steps = core.fault_steps()
test("every step has a shape that reaches it", function()
  expect(#steps).gt(20)
  for _, s in ipairs(steps) do expect(commands[s.shape], s.name).truthy() end
end)

for _, step in ipairs(steps) do
  test(step.name .. ": " .. step.what, function()
    local before = host_leftovers()
    local out, rc = sh("SBX_FAULT=" .. step.name .. " " .. commands[step.shape])
    if step.shape == "image" then expect(rc, out).ne(0) else expect(rc, out).eq(125) end
    expect(out).contains("[injected: " .. step.name .. "]")
    expect(out).never_contains("stack traceback")
    local after = host_leftovers()
    expect(after, "the host after a failed " .. step.name).eq(before)
  end)
end

test("cleanup", function()
  sh("rm -rf " .. tmp)
  sh(bin .. " image prune")
end)
