-- Load (issue 11): 100 concurrent `sbx run` - 50 plain, 30 with limits, 20 bridged with a published
-- port each - all start and all exit 0, and the host is exactly as before afterwards.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (cgroups, bridges)") end
local rootfs = sbx.rootfs.busybox()
if not rootfs then skip_all("needs the busybox rootfs") end

test("100 concurrent runs: 50 plain, 30 limited, 20 bridged with published ports; all exit 0, nothing left", function()
  sh(bin .. " gc")
  local before = host_leftovers()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  local lines = {}
  local function add(i, flags)
    -- each payload checks what it was given, so "exit 0" means it really ran as asked
    lines[#lines + 1] = ("(%s run --rootfs %s %s -- sh -c 'test -d /proc/1 && echo ok-%d' > %s/%d.out 2>&1; echo $? > %s/%d.rc) &")
      :format(bin, rootfs, flags, i, dir, i, dir, i)
  end
  for i = 1, 50 do add(i, "") end
  for i = 51, 80 do add(i, "-m 32M --pids 64 --cpus 0.5") end
  for i = 81, 100 do add(i, "-m 32M -p 127.0.0.1:0:80") end
  sh(table.concat(lines, "\n") .. "\nwait")
  local failed = {}
  for i = 1, 100 do
    local rc = io.open(dir .. "/" .. i .. ".rc"):read("*l")
    local out = io.open(dir .. "/" .. i .. ".out"):read("*a")
    if rc ~= "0" or not out:find("ok-" .. i, 1, true) then failed[#failed + 1] = i .. ": rc " .. tostring(rc) .. " " .. out end
  end
  sh("rm -rf " .. dir)
  expect(table.concat(failed, "\n"), "runs that failed").eq("")
  -- without a gc: every run released its own resources
  expect(host_leftovers(), "the host after 100 runs").eq(before)
end)
