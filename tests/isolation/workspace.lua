-- Workspaces (issue 16, part 1): a host directory seen through an overlay whose upper keeps every
-- change; the host's directory is not written during the run. Then diff, promote (chosen changes,
-- safely: no symlink followed, setuid dropped, fifos and devices refused, nothing over a host file
-- changed since the run started) and discard. Real overlays, a real project directory.
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
local root = sbx.rootfs.busybox()
if not root then skip_all("needs the busybox rootfs") end
local me = sbx.sys.getpid()
-- (under a 0700 directory, as a project in root's home is: the sandbox's root cannot reach the path)
local base = "/var/tmp/sbx-test-ws-" .. me .. "/private"

local function sh_out(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

-- A project: files, a directory, a file to delete, one to rename, a directory to replace.
local function project(name, owner)
  local dir = base .. "/" .. name
  assert(os.execute(("rm -rf %s && mkdir -p %s/src %s/old %s/lib && cd %s && echo hello > README && echo 'int a;' > src/a.c && echo gone > gone.txt && echo r > from.txt && echo o1 > old/one && echo o2 > old/two && echo l > lib/keep"):format(dir, dir, dir, dir, dir)) == 0)
  if owner then assert(os.execute(("chown -R %s %s"):format(owner, dir)) == 0) end
  return dir
end

-- Every entry: path, type, mode, size, contents digest (a snapshot to compare).
local function tree(dir)
  return sh_out(("cd %s && find . -mindepth 1 \\( -type f -printf '%%p f %%m %%s %%U:%%G ' -exec md5sum {} \\; \\) -o \\( ! -type f -printf '%%p %%y %%m %%l %%U:%%G\\n' \\) | sort"):format(dir))
end

local function box(dir, extra)
  local d = { rootfs = root, workspace = { dir = dir, dest = "/work" }, cwd = "/work" }
  for k, v in pairs(extra or {}) do d[k] = v end
  return sbx.container(d)
end

local WORK = table.concat({
  "echo changed >> README",           -- modified
  "echo new > src/b.c",               -- added
  "rm gone.txt",                      -- deleted (a whiteout)
  "mv from.txt to.txt",               -- renamed: deleted and added
  "chmod 600 src/a.c",                -- mode only
  "ln -s src/a.c link",               -- a symlink
  "rm -r lib",                        -- a directory deleted
  "rm -r old && mkdir old && echo fresh > old/three",  -- replaced: an opaque directory
  "cp /bin/busybox suid && chmod 4755 suid",           -- setuid: dropped on promote
  "mkfifo pipe",                      -- never promoted
}, " && ")

before_each(function() assert(os.execute(("mkdir -p %s && chmod 700 %s"):format(base, base:match("^(.*)/private$"))) == 0) end)

test("the host directory is not written; diff names each change by kind", function()
  local dir = project("p1")
  local before = tree(dir)
  local b = box(dir)
  local st = assert(b:run{ "/bin/sh", "-c", WORK .. " && ls -la /work | head -3", stdout = "pipe", stderr = "pipe" })
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout, "the workspace's root keeps the host directory's mode").match("drwxr%-xr%-x")
  expect(tree(dir), "the host's directory during and after the run").eq(before)
  local got = {}
  for _, c in ipairs(assert(b:diff())) do got[#got + 1] = c.kind .. " " .. c.path .. " " .. c.type end
  expect(table.concat(got, "\n")).eq(table.concat({
    "M README file", "D from.txt file", "D gone.txt file", "D lib dir", "A link symlink",
    "D old/one file", "A old/three file", "D old/two file", "A pipe fifo",
    "C src/a.c file", "A src/b.c file", "A suid file", "A to.txt file" }, "\n"))
  local w = assert(b:workspace())
  expect(w:patch({ "README" })).contains("+changed")
  expect(sbx.sys.getpid() > 0 and require("sbx.workspace").format(assert(b:diff()))).contains("A  pipe  fifo (never promoted)")
  assert(b:discard())
end)

test("promote: the host gets the sandbox's view, setuid dropped, a fifo refused by name", function()
  local dir = project("p2")
  local b = box(dir)
  local st = assert(b:run{ "/bin/sh", "-c", WORK .. " && rm pipe && find . -mindepth 1 | sort", stdout = "pipe" })
  expect(st.code).eq(0)
  -- a fifo is refused with its name, and nothing is applied
  local b2 = box(project("p2b"))
  assert(b2:run{ "/bin/sh", "-c", "mkfifo pipe && echo x > ok" })
  local out, err = b2:promote()
  expect(out).eq(nil)
  expect(err).contains("pipe: a fifo is never promoted")
  expect(io.open(base .. "/p2b/ok"), "nothing applied").eq(nil)
  assert(b2:discard())
  -- all of it
  local res = assert(b:promote())
  for _, o in ipairs(res) do expect(o.applied, o.path .. ": " .. tostring(o.why)).eq(true) end
  expect(sh_out("cd " .. dir .. " && find . -mindepth 1 | sort")).eq(st.stdout)
  expect(sh_out("cat " .. dir .. "/README")).eq("hello\nchanged\n")
  expect(sh_out("stat -c %a " .. dir .. "/suid")).eq("755\n")
  expect(sh_out("stat -c %a " .. dir .. "/src/a.c")).eq("600\n")
  expect(sh_out("readlink " .. dir .. "/link")).eq("src/a.c\n")
  expect(sh_out("ls " .. dir .. "/old")).eq("three\n")
  local left = assert(b:diff())
  expect(#left == 1 and left[1].path .. " " .. left[1].kind, "left: the setuid bit, dropped on the host").eq("suid C")
  assert(b:discard())
end)

test("a hostile tool: a symlink to /etc and a write through it; a symlink planted on the host", function()
  local dir = project("p3")
  -- the sandbox's own /etc is writable here, so the write through the link succeeds inside
  local b = box(dir, { mounts = { sbx.tmpfs("/etc") } })
  local st = assert(b:run{ "/bin/sh", "-c", "ln -s /etc x && echo evil > x/evil && cat /etc/evil && mkdir -p deep && echo d > deep/file", stdout = "pipe" })
  expect(st.stdout).eq("evil\n")
  -- meanwhile on the host, someone makes deep a symlink to /etc
  assert(os.execute(("ln -s /etc %s/deep"):format(dir)) == 0)
  local out, err = b:promote()
  expect(out, "a promote over a planted symlink").eq(nil)
  -- (diff is against the host as it is now: deep is a changed entry there, and refused)
  expect(err).contains("deep: changed on the host since the run started")
  expect(io.open("/etc/file"), "/etc written through the host's link").eq(nil)
  os.remove(dir .. "/deep")
  local res = assert(b:promote())
  expect(#res).eq(3)
  expect(sh_out("readlink " .. dir .. "/x")).eq("/etc\n")
  expect(io.open("/etc/evil"), "/etc written through the tool's link").eq(nil)
  expect(sh_out("cat " .. dir .. "/deep/file")).eq("d\n")
  assert(b:discard())
end)

test("a host file changed meanwhile: nothing applied; a partial promote; ownership; discard", function()
  local dir = project("p4", "1000:1000")
  local b = box(dir)
  -- the project's owner is the sandbox's root inside (an idmapped lower): the tool can write it
  local st = assert(b:run{ "/bin/sh", "-c", "stat -c %u README; echo more >> README && echo new > src/b.c && echo t > top", stdout = "pipe", stderr = "pipe" })
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout).eq("0\n")
  assert(os.execute(("sleep 0.02; echo edited-on-host >> %s/README"):format(dir)) == 0)
  local out, err = b:promote()
  expect(out).eq(nil)
  expect(err).contains("README: changed on the host since the run started")
  expect(io.open(dir .. "/src/b.c"), "nothing applied").eq(nil)
  -- only src: applied; the rest stays for later
  local res = assert(b:promote{ paths = { "src" } })
  expect(#res).eq(1)
  expect(sh_out("stat -c '%u:%g %a' " .. dir .. "/src/b.c"), "owned like the directory it lands in").eq("1000:1000 644\n")
  local left = {}
  for _, c in ipairs(assert(b:diff())) do left[#left + 1] = c.kind .. " " .. c.path end
  expect(table.concat(left, ",")).eq("M README,A top")
  local wdir = require("sbx.workspace").dir() .. "/" .. b._workspace.name
  expect(io.open(wdir .. "/workspace.json") ~= nil).eq(true)
  local _, perr = b:promote{ paths = { "nosuch" } }
  expect(perr).contains("nosuch has no change")
  assert(b:discard())
  expect(io.open(wdir .. "/."), "the workspace's directory after discard").eq(nil)
  expect(sh_out("cat " .. dir .. "/README")).eq("hello\nedited-on-host\n")
end)

test("sbx run --workspace, sbx diff, promote, discard; errors", function()
  local dir = project("p5")
  local name = "cli-" .. me
  local out = sh_out(("%s run --busybox --workspace %s:/w --name %s -- sh -c 'echo x >> /w/README; rm /w/gone.txt'"):format(bin, dir, name))
  expect(out).contains("2 changes to " .. dir .. " kept in workspace " .. name)
  expect(out).contains("sbx diff " .. name)
  expect(sh_out(bin .. " diff")).match(name:gsub("%p", "%%%0") .. " +2 changes")
  expect(sh_out(bin .. " diff " .. name)).eq("M  README  6 -> 8 bytes\nD  gone.txt  file\n")
  expect(sh_out(bin .. " diff " .. name .. " --patch")).contains("-gone")
  expect(sh_out(bin .. " promote " .. name .. " README")).eq("promoted README\n")
  expect(sh_out(bin .. " discard " .. name)).eq("discarded " .. name .. "\n")
  expect(io.open(dir .. "/gone.txt") ~= nil, "not promoted").eq(true)
  expect(sh_out(bin .. " diff " .. name)).contains("no such workspace")
  -- no changes: nothing kept
  expect(sh_out(("%s run --busybox --workspace %s -- true"):format(bin, dir))).contains("no changes to " .. dir)
  expect(sh_out(("%s run --busybox -d --workspace %s -- true"):format(bin, dir))).contains("--workspace with -d")
  expect(sh_out(("%s run --busybox --workspace %s/nosuch -- true"):format(bin, dir))).contains("nosuch")
  expect(sh_out(bin .. " promote")).contains("expected a workspace name")
  expect_error(function() sbx.container{ workspace = { dir = dir, mode = "bogus" } } end, 'workspace.mode: "bogus"')
  expect_error(function() sbx.container{ workspace = { dir = "relative" } } end, "workspace.dir: expected an absolute path")
  -- ro and rw: plain binds, nothing kept
  local ro = sbx.container{ rootfs = root, workspace = { dir = dir, dest = "/w", mode = "ro" } }
  expect(ro:run{ "/bin/sh", "-c", "echo y >> /w/README", stderr = "pipe" }.stderr).contains("Read-only")
  local rw = sbx.container{ rootfs = root, workspace = { dir = dir, dest = "/w", mode = "rw" } }
  expect(rw:run{ "/bin/sh", "-c", "echo y >> /w/README" }.code, "rw: the host's file, written").eq(0)
  expect(sh_out("tail -1 " .. dir .. "/README")).eq("y\n")
  expect_error(function() ro:diff() end, "no image")
end)

test("secrets stay out: a fresh $HOME and every home's secrets hidden on the host's root; --hide, --home; sbx audit", function()
  -- a home of the test's own with secrets any user could read (0644 in 0755 directories)
  local fake = "/home/sbx-test-ws-" .. me
  assert(os.execute(("mkdir -p %s/proj %s/.ssh %s/.config/gh && echo key > %s/.ssh/id_ed25519 && echo 'machine x password y' > %s/.netrc && echo token > %s/.config/gh/hosts.yml && echo ok > %s/notes && chmod -R a+rX %s"):format(fake, fake, fake, fake, fake, fake, fake, fake)) == 0)
  local dir = project("p6")
  -- (seen inside that home: the project's own path is under a 0700 directory the sandbox cannot enter)
  local b = sbx.container{ workspace = { dir = dir, dest = fake .. "/proj" }, cwd = fake .. "/proj" }
  local st = assert(b:run{ "/bin/sh", "-c", ("echo HOME=$HOME; ls -A $HOME | wc -l; cat %s/.netrc %s/.ssh/id_ed25519 %s/.config/gh/hosts.yml 2>/dev/null | wc -c; cat %s/notes; cat README"):format(fake, fake, fake, fake), stdout = "pipe", stderr = "pipe" })
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout, "a fresh home; the secrets empty; the rest of that home and the workspace there").eq("HOME=/root\n0\n0\nok\nhello\n")
  b:discard()
  local failing = sbx.container{ workspace = { dir = dir } }
  local _, err = failing:run{ "/bin/true" }
  expect(err, "a destination the sandbox cannot reach").contains("cannot enter a directory on the way to " .. dir)
  expect(io.open(require("sbx.workspace").dir() .. "/" .. failing._workspace.name .. "/."), "the failed start's workspace").eq(nil)
  -- without a workspace nothing is hidden unless asked; --hide-secrets, --hide, --home
  expect(sh_out(("%s run -- cat %s/.netrc"):format(bin, fake))).eq("machine x password y\n")
  expect(sh_out(("%s run --hide-secrets -- sh -c 'cat %s/.netrc | wc -c'"):format(bin, fake))).eq("0\n")
  expect(sh_out(("%s run --hide %s/notes -- sh -c 'cat %s/notes | wc -c'"):format(bin, fake, fake))).eq("0\n")
  expect(sh_out(("%s run --home %s -- sh -c 'cat $HOME/notes'"):format(bin, fake))).eq("ok\n")
  expect(sh_out(("%s run --hide relative -- true"):format(bin))).contains("not an absolute path")
  -- sbx audit says which secrets a sandbox can see
  local function audit(flags)
    local name = "audit-" .. me
    sh_out(("%s run -d --name %s %s -- sleep 30"):format(bin, name, flags))
    local text = sh_out(bin .. " audit " .. name)
    sh_out(bin .. " rm -f " .. name)
    return text
  end
  expect(audit(""), "a plain sandbox on the host's root").contains(fake .. "/.netrc (readable)")
  expect(audit("--hide-secrets"):find(fake, 1, true), "with --hide-secrets").eq(nil)
  assert(os.execute("rm -rf " .. fake) == 0)
end)

test("cleanup", function()
  assert(os.execute("rm -rf " .. base:match("^(.*)/private$")) == 0)
end)
