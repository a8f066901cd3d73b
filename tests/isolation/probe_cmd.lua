-- sbx probe (issue 15, part 6): the attack probe inside a sandbox of the user's own options, TAP out,
-- and what in the configuration let an attack through.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end

test("sbx probe: the default sandbox blocks every attack (exit 0); seccomp none and --privileged are named", function()
  local out, rc = sh(bin .. " probe --busybox")
  expect(rc, out).eq(0)
  expect(out).match("^TAP version 13\n1%.%.%d+\n")
  expect(out).match("# %d+ blocked, 0 allowed")
  out, rc = sh(bin .. " probe --busybox --seccomp none")
  expect(rc).eq(1)
  expect(out).contains("not ok 1 - unshare-user allowed: seccomp = none; 14 capabilities, no CAP_SYS_ADMIN")
  out, rc = sh(bin .. " probe --busybox --privileged")
  expect(rc).eq(1)
  expect(out).contains("proc-sys-write allowed: privileged = true")
  out, rc = sh(bin .. " probe --busybox --no-such-flag")
  expect(rc).eq(2)
  expect(out).contains("sbx probe:")
end)

test("sbx.probe(description) returns each attack, and why one got through", function()
  local r = assert(sbx.probe{ rootfs = sbx.rootfs.busybox(), seccomp = "none" })
  local by = {}
  for _, x in ipairs(r) do by[x.name] = x end
  expect(by.keyctl.ok, "keyctl without seccomp").eq(false)
  expect(by.keyctl.why).contains("seccomp = none")
  expect(by.mount_tmpfs == nil and by["mount-tmpfs"].ok, "mount without CAP_SYS_ADMIN").eq(true)
  r = assert(sbx.probe{ rootfs = sbx.rootfs.busybox() })
  for _, x in ipairs(r) do expect(x.ok, x.name .. " in the default sandbox").eq(true) end
end)
