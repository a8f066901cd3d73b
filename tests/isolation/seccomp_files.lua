-- Seccomp policies in files: sbx.seccomp.load (a Lua file returning a policy table, run without
-- globals) and sbx run --seccomp FILE.lua / FILE.json; policy:explain on what was loaded.
local bin = os.getenv("SBX_BIN")
local root, rerr = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs: " .. tostring(rerr)) end

-- the default profile with mkdir taken out, written as a file a person reviews
local function write_policy()
  local file = os.tmpname() .. ".lua"
  local rules = {}
  for _, r in ipairs(sbx.seccomp.default().rules) do
    if r.syscall ~= "mkdir" and r.syscall ~= "mkdirat" and r.syscall ~= "socket" then
      local args = {}
      for _, a in ipairs(r.args or {}) do args[#args + 1] = ("{ %d, %q, %.0f, %.0f }"):format(a.index, a.op, a.value, a.value2 or 0) end
      rules[#rules + 1] = ("    { %q, %q%s },"):format(r.syscall, r.action, #args > 0 and (", args = { " .. table.concat(args, ", ") .. " }") or "")
    end
  end
  local f = assert(io.open(file, "w"))
  f:write("-- the default profile without mkdir, and socket for AF_INET only\nreturn {\n  default = \"errno EPERM\",\n  rules = {\n",
          table.concat(rules, "\n"), "\n    { \"socket\", \"allow\", args = { { 0, \"eq\", 2 } } },\n  },\n}\n")
  f:close()
  return file
end

test("sbx.seccomp.load: a policy file enforces and explains itself; a bad file is a clear error", function()
  local file = write_policy()
  local policy = assert(sbx.seccomp.load(file))
  expect(policy:explain("socket")).eq("allow when arg0 eq 0x2; otherwise errno EPERM")
  expect(policy:explain("mkdir")).eq("errno EPERM (the default)")
  expect(policy:explain("openat")).eq("allow")
  local st = assert(sbx.container{ rootfs = root, seccomp = policy }:run{ "/bin/sh", "-c", "ls / > /dev/null && echo listed; mkdir /tmp/x; echo mkdir=$?", stdout = "pipe", stderr = "pipe" })
  expect(st.stdout).contains("listed\nmkdir=1\n")
  expect(st.stderr).contains("Operation not permitted")
  local f = assert(io.open(file, "w"))
  f:write("return { default = 'errno EPERM', allow = { 'read' }, color = 'red' }")
  f:close()
  local p, err = sbx.seccomp.load(file)
  expect(p).eq(nil)
  expect(err).contains("unknown key 'color'")
  f = assert(io.open(file, "w"))
  f:write("os.exit(3)")
  f:close()
  p, err = sbx.seccomp.load(file)
  expect(err, "a policy file is data: no globals").contains("attempt to index global 'os'")
  os.remove(file)
end)

test("sbx run --seccomp FILE.lua enforces it; a missing file is a setup error naming it", function()
  if not bin then skip("SBX_BIN is not set (run through ctest)") end
  local file = write_policy()
  local out, rc = sh(("%s run --busybox --seccomp %s -- /bin/sh -c 'ls / > /dev/null && echo listed'"):format(bin, file))
  expect(rc, out).eq(0)
  expect(out).contains("listed")
  out, rc = sh(("%s run --busybox --seccomp %s -- mkdir /tmp/x"):format(bin, file))
  expect(rc).eq(1)
  expect(out).contains("Operation not permitted")
  out, rc = sh(("%s run --busybox --seccomp /nonexistent.lua -- true"):format(bin))
  expect(rc).eq(2)
  expect(out).contains("--seccomp cannot open /nonexistent.lua")
  expect(out).never_contains("seccomp.load:")
  os.remove(file)
end)
