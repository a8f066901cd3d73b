-- Trust under hostile local users (issue 11 A, B, C): two users made by this test (removed after),
-- a victim and an attacker. What the attacker plants in the victim's predictable directories is
-- refused by name; the image store's setuid files cannot be reached from outside; of 20 racing
-- claims of one name exactly one wins.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("creating the test users needs root") end
if not io.popen("command -v runuser"):read("*l") then skip_all("runuser (util-linux) is missing") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end

local made = {}
local function user(name)
  if not (sh("id -u " .. name)):match("^%d+") then
    local _, rc = sh("useradd -M -d /nonexistent -s /usr/sbin/nologin " .. name)
    if rc ~= 0 then skip_all("useradd failed") end
    made[#made + 1] = name
  end
  return tonumber((sh("id -u " .. name)))
end
local victim, attacker = "sbxvictim", "sbxattacker"
local vuid, auid = user(victim), user(attacker)
local home = os.tmpname()
os.remove(home)
assert(os.execute(("mkdir -m 700 %s && chown %s %s"):format(home, victim, home)))
local function as(who, cmd, env)
  return sh(("cd / && runuser -u %s -- env -u SBX_STATE %s %s 2>&1"):format(who, env or ("HOME=" .. home), cmd))
end
local planted = { "/tmp/sbx-" .. vuid, "/tmp/sbx-state-" .. vuid, "/tmp/sbx-cache-" .. vuid }
local function clean() for _, d in ipairs(planted) do sh("rm -rf " .. d) end end
clean()

local probe_cmd = [[ run --busybox -- sh -c 'grep Seccomp_filters /proc/self/status; unshare -U true 2>/dev/null && echo unshare-allowed; true' ]]

test("A: a seccomp cache planted by another user in /tmp/sbx-UID is refused by name, never loaded", function()
  -- the victim's real cache file, from a run with a runtime dir of its own
  local xdg = home .. "/xdg"
  assert(os.execute(("mkdir -m 700 %s && chown %s %s"):format(xdg, victim, xdg)))
  local out, rc = as(victim, bin .. probe_cmd, "HOME=" .. home .. " XDG_RUNTIME_DIR=" .. xdg)
  expect(rc, out).eq(0)
  expect(out).match("Seccomp_filters:%s+2")
  local name = sh("ls " .. xdg .. "/sbx/seccomp"):match("(%x+%.bpf)")
  expect(name).truthy()
  local f = assert(io.open(xdg .. "/sbx/seccomp/" .. name, "rb"))
  local real = f:read("*a")
  f:close()
  -- the policy text is the lines before the first program's length line
  local text_end = 0
  for line_start, line in real:gmatch("()([^\n]*)\n") do
    if line:match("^%d+$") then break end
    text_end = line_start + #line
  end
  -- one instruction: BPF_RET | BPF_K, SECCOMP_RET_ALLOW
  local forged = real:sub(1, text_end) .. "8\n" .. "\6\0\0\0\0\0\255\127"
  local src = home .. "/forged"
  f = assert(io.open(src, "wb"))
  f:write(forged)
  f:close()
  sh("chmod 644 " .. src .. " && chmod 755 " .. home)
  local dir = "/tmp/sbx-" .. vuid
  local _, prc = as(attacker, ("sh -c 'mkdir -m 777 %s %s/seccomp && cp %s %s/seccomp/%s && chmod 666 %s/seccomp/%s'"):format(
    dir, dir, src, dir, name, dir, name))
  sh("chmod 700 " .. home)
  expect(prc).eq(0)
  out, rc = as(victim, bin .. probe_cmd)
  expect(out).never_contains("unshare-allowed")
  expect(out).never_contains("Seccomp_filters:\t1")
  expect(rc, out).eq(125)
  expect(out).contains("runtime directory " .. dir .. ": owned by uid " .. auid)
  expect(out).contains("rm -rf " .. dir)
  clean()
end)

test("A: the victim's own runtime dir made writable for others, or a symlink, is refused; a private one works", function()
  local dir = "/tmp/sbx-" .. vuid
  local out, rc = as(victim, bin .. probe_cmd)
  expect(rc, out).eq(0)
  expect(out).match("Seccomp_filters:%s+2")
  expect(sh("stat -c %a:%U " .. dir)).eq("700:" .. victim .. "\n")
  expect(sh("stat -c %a " .. dir .. "/seccomp")).eq("700\n")
  sh("chmod 777 " .. dir)
  out, rc = as(victim, bin .. probe_cmd)
  expect(rc, out).eq(125)
  expect(out).contains("mode 0777 lets other users write into it")
  clean()
  -- a symlink the attacker made to a directory of its own
  local target = "/tmp/sbx-attacker-" .. auid
  as(attacker, ("sh -c 'mkdir -m 700 %s && ln -s %s %s'"):format(target, target, dir))
  out, rc = as(victim, bin .. probe_cmd)
  expect(rc, out).eq(125)
  expect(out).contains("is a symlink or not a directory")
  sh("rm -rf " .. target)
  clean()
end)

test("A: the state and cache fallbacks (/tmp/sbx-state-UID, /tmp/sbx-cache-UID) are checked too", function()
  for _, d in ipairs({ "/tmp/sbx-state-" .. vuid, "/tmp/sbx-cache-" .. vuid }) do
    as(attacker, "mkdir -m 777 " .. d)
  end
  -- no HOME: the fallbacks are used
  local out, rc = as(victim, bin .. " run --busybox -- true", "-u HOME")
  expect(rc, out).eq(125)
  expect(out).contains("cache directory /tmp/sbx-cache-" .. vuid .. ": owned by uid " .. auid)
  out, rc = as(victim, bin .. " image from-dir / x:1", "-u HOME")
  expect(rc, out).ne(0)
  expect(out).contains("image store /tmp/sbx-state-" .. vuid .. ": owned by uid " .. auid)
  clean()
end)

test("B: a setuid file in the image store cannot be run or reached by another user", function()
  local probe = os.getenv("SBX_PROBE")
  if not probe then return skip("needs SBX_PROBE") end
  local src = os.tmpname()
  os.remove(src)
  assert(os.execute(("mkdir %s && cp %s %s/suid && chmod 4755 %s/suid"):format(src, probe, src, src)))
  local o, rc = sh(bin .. " image from-dir " .. src .. " suidtest:1 2>&1")
  expect(rc, o).eq(0)
  sh("rm -rf " .. src)
  local store = sbx.image.store_dir()
  local file = sh("ls -d " .. store .. "/layers/*/suid 2>/dev/null | head -1"):gsub("\n", "")
  expect(file).ne("")
  expect(sh("stat -c %a " .. file)).eq("4755\n")
  expect(sh("stat -c %a:%U:%g " .. store)).eq("710:root:2100000000\n")
  -- the attacker: neither run nor list it
  local out = as(attacker, file .. " ids")
  expect(out).never_contains("euid")
  expect(out).contains("Permission denied")
  out = as(attacker, "ls " .. store .. "/layers")
  expect(out).contains("Permission denied")
  -- a sandbox of the image still reaches its layers (root inside = 2100000000 outside, the group)
  out, rc = sh(bin .. " run --image suidtest:1 -- /suid ids 2>&1")
  expect(rc, out).eq(0)
  sh(bin .. " image rm suidtest:1 >/dev/null 2>&1; " .. bin .. " image prune >/dev/null 2>&1")
end)

test("C: 20 concurrent run -d --name X: exactly one wins, the others say name in use", function()
  local name = "race-" .. sbx.sys.getpid()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  local cmd = {}
  for i = 1, 20 do
    cmd[#cmd + 1] = ("(%s run --busybox -d --name %s -- sleep 30 > %s/%d.out 2>&1; echo $? > %s/%d.rc) &"):format(bin, name, dir, i, dir, i)
  end
  sh(table.concat(cmd, "\n") .. "\nwait")
  local won, in_use = 0, 0
  for i = 1, 20 do
    local rc = tonumber(io.open(dir .. "/" .. i .. ".rc"):read("*l"))
    local out = io.open(dir .. "/" .. i .. ".out"):read("*a")
    if rc == 0 then won = won + 1
    elseif out:find("name in use", 1, true) then in_use = in_use + 1
    else io.stderr:write("# unexpected: rc " .. rc .. ": " .. out) end
  end
  sh("rm -rf " .. dir)
  local ps = sh(bin .. " ps -a")
  sh(bin .. " rm -f " .. name .. " >/dev/null 2>&1")
  expect(won).eq(1)
  expect(in_use).eq(19)
  local listed = 0
  for line in ps:gmatch("[^\n]+") do if line:find(name, 1, true) then listed = listed + 1 end end
  expect(listed, "entries in ps -a").eq(1)
  -- nothing half-made stays behind
  expect(sh("ls -a " .. sbx.image.store_dir() .. "/sandboxes | grep -c '^.new-' || true")).eq("0\n")
end)

test("cleanup: the planted directories, the home and the test users go", function()
  clean()
  sh("rm -rf " .. home)
  for _, u in ipairs(made) do sh("userdel " .. u) end
end)
