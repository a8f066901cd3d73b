-- sbx inside a container (issue 16, part 4): a CI job in `podman run` (runc as podman's runtime),
-- on an image the test makes from the busybox root, sbx and the libraries it loads. Where the kernel
-- allows it, it works; where the outer container forbids it (a masked /proc, no CAP_SYS_ADMIN for
-- idmapped mounts), the error and `sbx doctor` say exactly what the outer one must allow.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (podman's storage of the test's own)") end
for _, tool in ipairs({ "podman", "runc", "ldd" }) do
  local path = sh("command -v " .. tool)
  if not path or path == "" then skip_all(tool .. " is not installed (scripts/setup.sh installs it)") end
end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end

local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. work .. "/root"))
local podman = ("podman --root %s/storage --runroot %s/run --cgroup-manager=cgroupfs --storage-driver vfs --runtime runc"):format(work, work)
-- (--network none: podman's default network would make a bridge and change sysctls; this host's
-- hard limits are below podman's defaults, and raising them needs CAP_SYS_RESOURCE)
local flags = "--rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
local layout = sbx.cgroup.layout()
local had_parent = {}
local hierarchies = {}
if layout.v2_root and layout.v2_root ~= "" then hierarchies[#hierarchies + 1] = layout.v2_root end
for _, m in pairs(layout.v1 or {}) do hierarchies[#hierarchies + 1] = m end
-- (conmon makes its group in systemd's named hierarchy too, where there is one)
if io.open("/sys/fs/cgroup/systemd/cgroup.procs") then hierarchies[#hierarchies + 1] = "/sys/fs/cgroup/systemd" end
for _, h in ipairs(hierarchies) do had_parent[h] = io.open(h .. "/libpod_parent/cgroup.procs") ~= nil end
local had_runc = io.open("/run/runc") ~= nil

local function inside(extra, cmd)
  return sh(("%s run %s %s localhost/nested:1 %s"):format(podman, flags, extra, cmd))
end

test("an image with sbx in it: the busybox root, sbx, its libraries and libnftables", function()
  local r = work .. "/root"
  local libs = {}
  local nft = sh("ldconfig -p | grep -m1 'libnftables.so.1 ' | sed 's/.*=> //'"):gsub("%s+$", "")
  for _, obj in ipairs({ bin, nft ~= "" and nft or nil }) do
    libs[#libs + 1] = obj
    for lib in sh("ldd " .. obj):gmatch("(/%S+) %(0x") do libs[#libs + 1] = lib end
  end
  local script = { ("cp -a %s/. %s/ && mkdir -p %s/usr/local/bin %s/root && cp %s %s/usr/local/bin/sbx"):format(rootfs, r, r, r, bin, r) }
  for _, lib in ipairs(libs) do
    if lib ~= bin then script[#script + 1] = ("mkdir -p %s$(dirname %s) && cp -L %s %s%s"):format(r, lib, lib, r, lib) end
  end
  local out, rc = sh(table.concat(script, " && "))
  expect(rc, out).eq(0)
  out, rc = sh(("tar -C %s -cf %s/nested.tar . && %s import %s/nested.tar localhost/nested:1"):format(r, work, podman, work))
  expect(rc, out).eq(0)
end)

test("a default podman container: its /proc is masked, so a fresh one is refused - the error and sbx doctor name the flags; --share-pid works", function()
  local out, rc = inside("", "/usr/local/bin/sbx run --busybox -- echo nested")
  expect(rc, out).eq(125)
  expect(out).contains("the outer container masks parts of its /proc")
  expect(out).contains("--security-opt unmask=ALL")
  expect(out).contains("sbx doctor")
  out, rc = inside("", "/usr/local/bin/sbx run --busybox --share-pid -- echo shared")
  expect(rc, out).eq(0)
  expect(out).contains("shared\n")
  out, rc = inside("", "/usr/local/bin/sbx doctor")
  expect(rc, out).eq(1)
  expect(out).match("FAIL  sandbox +failed: [^\n]*masks parts of its /proc")
  expect(out).contains("fix: in a container the outer one must allow it: podman run --security-opt unmask=ALL")
  expect(out).match("note  nested ")
end)

test("with --security-opt unmask=ALL: sandboxes work, nftables in them too; idmapped workspaces need CAP_SYS_ADMIN, and say so", function()
  local out, rc = inside("--security-opt unmask=ALL", "/usr/local/bin/sbx run --busybox -- sh -c 'echo $$'")
  expect(rc, out).eq(0)
  expect(out, "the payload: pid 2, after sbx's init").eq("2\n")
  -- (podman's default seccomp profile refuses sethostname without CAP_SYS_ADMIN, whatever the
  -- namespace: the error names the step; the outer's seccomp=unconfined lets it)
  out, rc = inside("--security-opt unmask=ALL", "/usr/local/bin/sbx run --busybox --hostname in -- hostname")
  expect(rc, out).eq(125)
  expect(out).contains("set hostname in: Operation not permitted")
  out, rc = inside("--security-opt unmask=ALL --security-opt seccomp=unconfined", "/usr/local/bin/sbx run --busybox --hostname in -- hostname")
  expect(rc, out).eq(0)
  expect(out).eq("in\n")
  out = inside("--security-opt unmask=ALL", "/usr/local/bin/sbx doctor")
  expect(out).match("ok    sandbox +its own namespaces")
  expect(out, "nft entered through the sandbox's user namespace (root without CAP_SYS_ADMIN)").match("ok    nftables ")
  expect(out).match("FAIL  sandbox with a workspace [^\n]*needs CAP_SYS_ADMIN where sbx runs")
end)

test("--privileged: everything, a workspace too", function()
  local out = inside("--privileged", "/usr/local/bin/sbx doctor")
  expect(out).match("ok    sandbox +its own")
  expect(out).match("ok    sandbox with a workspace ")
  expect(out).match("ok    nftables ")
end)

test("cleanup", function()
  sh(podman .. " rmi -f localhost/nested:1")
  -- podman's vfs storage holds files of other ids: removed as root, after podman let go
  sh("rm -rf " .. work)
  for _, h in ipairs(hierarchies) do
    if not had_parent[h] then
      os.execute(("find %s/libpod_parent -mindepth 1 -depth -type d -exec rmdir {} \\; 2>/dev/null; rmdir %s/libpod_parent 2>/dev/null"):format(h, h))
    end
  end
  if not had_runc then os.execute("rmdir /run/runc 2>/dev/null") end
end)
