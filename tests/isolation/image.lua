-- Images: a two-layer image from the busybox rootfs, run, change, diff, commit, run again;
-- a hostile-archive corpus; tags and layer reference counting. Uses its own store (SBX_STATE).
local root = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs") end
-- a store of this file's own, removed at the end (see the last case)
local own_store = os.tmpname()
os.remove(own_store)
before_each(function() sbx.image.store_dir(own_store) end)
if not sbx.features().overlay then skip_all("no overlayfs in this kernel") end
local store = own_store
local tag = "sbxtest-" .. sbx.sys.getpid()

local function sh(cmd)
  local h = assert(io.popen(cmd .. " 2>&1"))
  local out = h:read("*a")
  h:close()
  return out
end

local function python_tar(path, script)
  -- the corpus is written by Python's tarfile (python3 is a Debian package like the rest)
  local f = assert(io.open(path .. ".py", "w"))
  f:write("import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w')\n", script, "\nt.close()\n")
  f:close()
  local out = sh("python3 " .. path .. ".py " .. path)
  os.remove(path .. ".py")
  return out
end

test("a two-layer image: run, change, diff, commit, run the commit", function()
  local base = assert(sbx.image.from_dir(root, tag .. ":base"))
  -- a second layer from a tar: a directory with two files
  local tar = os.tmpname()
  python_tar(tar, [[
for name in ["data/keep", "data/old"]:
    b = name.encode()
    i = tarfile.TarInfo(name); i.size = len(b); t.addfile(i, io.BytesIO(b))]])
  local two = assert(sbx.image.import_layer(tar, tag .. ":base", tag .. ":two"))
  os.remove(tar)
  expect(#two.layers).eq(2)
  expect(two.layers[1]).eq(base.layers[1])
  local box = sbx.container{ image = tag .. ":two", hostname = "imgbox" }
  local st = assert(box:run{ "/bin/sh", "-c",
    "cat /data/keep; echo new > /added; rm /etc/group; rm -rf /data; mkdir /data; echo fresh > /data/new; " ..
    "echo 1.2.3.4 x >> /etc/hosts; hostname", stdout = "pipe", stderr = "pipe" })
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout).eq("data/keep" .. "imgbox\n")
  local changes = {}
  for _, c in ipairs(box:diff()) do changes[#changes + 1] = c.kind .. " " .. c.path end
  local text = table.concat(changes, "\n")
  expect(text).contains("A /added")
  expect(text).contains("D /etc/group")
  expect(text).contains("M /data")
  expect(text:find("/etc/hosts", 1, true), "the init layer is not a change").falsy()
  local committed = assert(box:commit(tag .. ":three"))
  expect(#committed.layers).eq(3)
  box:close()
  local again = sbx.container{ image = tag .. ":three" }
  local st2 = assert(again:run{ "/bin/sh", "-c", "cat /added; ls /etc/group 2>&1; ls /data; grep -c 1.2.3.4 /etc/hosts",
    stdout = "pipe" })
  again:close()
  expect(st2.stdout).eq("new\nls: /etc/group: No such file or directory\nnew\n0\n")
end)

test("tags, remove and prune never delete a layer still in use", function()
  local three = assert(sbx.image.get(tag .. ":three"))
  assert(sbx.image.tag(tag .. ":three", tag .. ":alias"))
  expect(#assert(sbx.image.get(tag .. ":alias")).tags).eq(2)
  assert(sbx.image.remove(tag .. ":three"))
  expect(assert(sbx.image.get(tag .. ":alias")).id, "still there by its other tag").eq(three.id)
  assert(sbx.image.remove(tag .. ":alias"))
  local gone, err = sbx.image.get(tag .. ":alias")
  expect(gone).eq(nil)
  expect(err).contains("not in the store")
  local pruned = assert(sbx.image.prune())
  local top = three.layers[3]
  local found = false
  for _, l in ipairs(pruned) do if l == top then found = true end end
  expect(found, "the committed layer is pruned").truthy()
  -- the base layer is shared with :base and :two: kept
  expect(io.open(store .. "/layers/" .. three.layers[1]:sub(8) .. "/bin/busybox"), "shared layer kept").ne(nil)
  assert(sbx.image.remove(tag .. ":two"))
  assert(sbx.image.remove(tag .. ":base"))
  assert(sbx.image.prune())
end)

local corpus = {
  { "traversal", [[i = tarfile.TarInfo("../evil"); t.addfile(i, io.BytesIO(b""))]], "path escapes the layer" },
  { "absolute", [[i = tarfile.TarInfo("/tmp/sbx-evil-abs"); t.addfile(i, io.BytesIO(b""))]], "absolute path" },
  { "escaping symlink", [[i = tarfile.TarInfo("a/link"); i.type = tarfile.SYMTYPE; i.linkname = "../../etc"; t.addfile(i)]],
    "points outside the layer" },
  { "device node", [[i = tarfile.TarInfo("dev/mem"); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 1; t.addfile(i)]],
    "device node refused" },
  { "duplicate", [[
for _ in range(2):
    i = tarfile.TarInfo("twice"); t.addfile(i, io.BytesIO(b""))]], "appears twice" },
  { "hardlink outside", [[i = tarfile.TarInfo("h"); i.type = tarfile.LNKTYPE; i.linkname = "../../etc/passwd"; t.addfile(i)]],
    "hard link target path escapes" },
  { "symlink then write through it", [[
i = tarfile.TarInfo("d"); i.type = tarfile.SYMTYPE; i.linkname = "/tmp"; t.addfile(i)
i = tarfile.TarInfo("d/sbx-evil-through"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))]], "parent directory is a symbolic link" },
}

for _, case in ipairs(corpus) do
  test("hostile layer refused: " .. case[1], function()
    local tar = os.tmpname()
    python_tar(tar, case[2])
    local img, err = sbx.image.import_layer(tar, nil, tag .. ":hostile")
    os.remove(tar)
    expect(img).eq(nil)
    expect(err).contains(case[3])
    expect(io.open("/tmp/sbx-evil-abs"), "nothing outside the store").eq(nil)
    expect(io.open("/tmp/sbx-evil-through"), "nothing outside the store").eq(nil)
    expect(sh("ls -A " .. store .. "/tmp")).eq("")
  end)
end

test("hostile layer refused: truncated and corrupt archives", function()
  local tar = os.tmpname()
  python_tar(tar, [[
b = b"x" * 100000
i = tarfile.TarInfo("big"); i.size = len(b); t.addfile(i, io.BytesIO(b))]])
  sh("truncate -s 20000 " .. tar)
  local img, err = sbx.image.import_layer(tar, nil, tag .. ":cut")
  expect(img).eq(nil)
  expect(err).contains("truncated or corrupt")
  local f = assert(io.open(tar, "w"))
  f:write(string.rep("garbage!", 200))
  f:close()
  img, err = sbx.image.import_layer(tar, nil, tag .. ":junk")
  os.remove(tar)
  expect(img).eq(nil)
  expect(err).match("not a tar archive")
  expect(sh("ls -A " .. store .. "/tmp")).eq("")
end)

test("sbx image from-dir/ls/inspect/tag/rm/prune and sbx run --image from the shell", function()
  local bin = os.getenv("SBX_BIN")
  if not bin then skip("SBX_BIN is not set") end
  bin = "SBX_STATE=" .. own_store .. " " .. bin
  local ref = tag .. "-cli:1"
  expect(sh(bin .. " image from-dir " .. root .. " " .. ref)).match("^sha256:%x+\n$")
  expect(sh(bin .. " image ls")).contains(ref)
  local info = sbx.json.decode(sh(bin .. " image inspect " .. ref))
  expect(info.tags[1]).eq(ref)
  expect(sh(bin .. " image tag " .. ref .. " " .. tag .. "-cli:2")).eq("")
  expect(sh(bin .. " run --image " .. tag .. "-cli:2 -- sh -c 'echo changed > /etc/motd; cat /etc/motd'")).eq("changed\n")
  expect(sh("ls -A " .. store .. "/containers"), "no container directory left after the run").eq("")
  -- a one-shot run is ephemeral: the upper layer is a tmpfs inside the sandbox
  expect(sh(bin .. " run --image " .. ref .. " -- sh -c \"grep ' / ' /proc/self/mountinfo | grep -c overlay\"")).eq("1\n")
  local eb = sbx.container{ image = ref, ephemeral = true }
  expect(assert(eb:run{ "/bin/sh", "-c", "echo x > /y && cat /y", stdout = "pipe" }).stdout).eq("x\n")
  expect_error(function() eb:commit("x:1") end, "ephemeral")
  expect_error(function() sbx.container{ image = ref, name = "n", ephemeral = true } end, "ephemeral: only")
  -- detached: a one-shot image run is ephemeral too, nothing of it in the store
  local out = sh(bin .. " run -d --image " .. ref .. " -- sleep 1")
  expect(out).contains("supervisor pid")
  expect(sh("ls -A " .. store .. "/containers"), "while it runs").eq("")
  local sup = tonumber(out:match("supervisor pid (%d+)"))
  for _ = 1, 100 do
    if not require("sbx.core").process_identity(sup) then break end
    os.execute("sleep 0.05")
  end
  local detached = out:match("in the background as (%S+):")
  expect((sh(bin .. " rm " .. detached))).eq(detached .. "\n")
  expect(sh(bin .. " image rm " .. ref .. " " .. tag .. "-cli:2")).eq("untagged " .. ref .. "\nuntagged " .. tag .. "-cli:2\n")
  expect(sh(bin .. " image prune")).contains("deleted layer sha256:")
  expect(sh(bin .. " image inspect " .. ref)).contains("not in the store")
end)

test("an OCI layout with a tampered blob is refused: digest mismatch", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sbx.image.from_dir(root, tag .. ":src"))
  local file = dir .. ".tar"
  assert(sbx.image.export(tag .. ":src", file))
  sh("mkdir -p " .. dir .. " && tar -C " .. dir .. " -xf " .. file)
  -- change one byte of the layer blob (the largest file)
  local blob = sh("ls -S " .. dir .. "/blobs/sha256/* | head -n 1"):gsub("\n", "")
  sh("printf 'X' | dd of=" .. blob .. " bs=1 seek=600 conv=notrunc status=none")
  local img, err = sbx.image.import(dir, tag .. ":tampered")
  sh("rm -rf " .. dir .. " " .. file)
  assert(sbx.image.remove(tag .. ":src"))
  assert(sbx.image.prune())
  expect(img).eq(nil)
  expect(err).contains("digest mismatch")
  expect(sh("ls -A " .. store .. "/tmp")).eq("")
end)

test("an image of 60 layers runs (overlay options longer than a page)", function()
  local base = assert(sbx.image.from_dir(root, tag .. ":tall"))
  local tar = os.tmpname()
  local ref = tag .. ":tall"
  for i = 1, 59 do
    python_tar(tar, ([[
b = b"%d"
i = tarfile.TarInfo("layers/l%02d"); i.size = len(b); t.addfile(i, io.BytesIO(b))]]):format(i, i))
    ref = assert(sbx.image.import_layer(tar, ref, tag .. ":tall")).id
    os.remove(tar)
  end
  local img = assert(sbx.image.get(tag .. ":tall"))
  expect(#img.layers).eq(60)
  local box = sbx.container{ image = tag .. ":tall" }
  local st = assert(box:run{ "/bin/sh", "-c", "cat /layers/l01 /layers/l59; ls /layers | wc -l", stdout = "pipe", stderr = "pipe" })
  box:close()
  expect(st.code, st.stderr).eq(0)
  expect(st.stdout).eq("15959\n")
  assert(sbx.image.remove(tag .. ":tall"))
  assert(sbx.image.prune())
  expect(base.id).ne(img.id)
end)

test("a named container keeps its changes across runs and boxes; sbx commit NAME TAG", function()
  assert(sbx.image.from_dir(root, tag .. ":named"))
  local name = "web-" .. sbx.sys.getpid()
  local a = sbx.container{ image = tag .. ":named", name = name }
  expect(assert(a:run{ "/bin/sh", "-c", "echo one > /f" }).code).eq(0)
  a:close()
  local b = sbx.container{ name = name }  -- the image comes from the container
  local st = assert(b:run{ "/bin/sh", "-c", "cat /f; echo two >> /f", stdout = "pipe" })
  expect(st.stdout).eq("one\n")
  b:close()
  local out = sh("SBX_STATE=" .. own_store .. " " .. os.getenv("SBX_BIN") .. " commit " .. name .. " " .. tag .. ":named2")
  expect(out).match("^sha256:%x+\n$")
  local c = sbx.container{ image = tag .. ":named2" }
  expect(assert(c:run{ "/bin/cat", "/f", stdout = "pipe" }).stdout).eq("one\ntwo\n")
  c:close()
  assert(b:remove())
  expect_error(function() sbx.container{ name = name } end, "no container")
  expect_error(function() sbx.container{ image = tag .. ":named", name = "../x" } end, "container name")
  assert(sbx.image.remove(tag .. ":named2"))
  assert(sbx.image.remove(tag .. ":named"))
  assert(sbx.image.prune())
end)

test("prune keeps the layers a container stands on, even after its image is removed", function()
  local img = assert(sbx.image.from_dir(root, tag .. ":held"))
  local box = sbx.container{ image = tag .. ":held" }
  assert(sbx.image.remove(tag .. ":held"))
  assert(sbx.image.prune())
  local st = assert(box:run{ "/bin/sh", "-c", "ls /bin/busybox", stdout = "pipe" })
  expect(st.stdout, "the layer is still there").eq("/bin/busybox\n")
  box:close()
  local pruned = assert(sbx.image.prune())
  local users = {}
  for _, i in ipairs(sbx.image.list()) do users[#users + 1] = table.concat(i.tags, ",") end
  expect(pruned[1], "pruned once the container is gone (images: " .. table.concat(users, " ") ..
    "; containers: " .. sh("ls " .. store .. "/containers " .. store .. "/named 2>&1") .. ")").eq(img.layers[1])
end)

test("a gzipped docker archive imports; setuid bits are refused without root", function()
  assert(sbx.image.from_dir(root, tag .. ":gz"))
  local file = os.tmpname()
  assert(sbx.image.export(tag .. ":gz", file, "docker-archive"))
  sh("gzip -f " .. file)
  assert(sbx.image.remove(tag .. ":gz"))
  local imgs, err = sbx.image.import(file .. ".gz")
  os.remove(file .. ".gz")
  expect(imgs, err).truthy()
  expect(imgs[1].tags[1]).eq(tag .. ":gz")
  assert(sbx.image.remove(tag .. ":gz"))
  assert(sbx.image.prune())
  local sp = io.popen("command -v setpriv"):read("*l")
  if not sp or not os.getenv("SBX_BIN") then skip("setpriv or SBX_BIN missing") end
  local tar = os.tmpname()
  python_tar(tar, [[i = tarfile.TarInfo("suid"); i.mode = 0o4755; t.addfile(i, io.BytesIO(b""))]])
  sh("chmod 644 " .. tar)
  local home = os.tmpname()
  os.remove(home)
  sh("mkdir -m 0777 " .. home)
  -- (its runtime directory inside that home too, so that nothing of it stays in /tmp)
  local out = sh(sp .. " --reuid 65534 --regid 65534 --clear-groups env HOME=" .. home .. " XDG_RUNTIME_DIR=" .. home ..
    " SBX_STATE=" .. home .. "/state " .. os.getenv("SBX_BIN") .. " image import-layer " .. tar .. " x:1")
  sh("rm -rf " .. home .. " " .. tar)
  expect(out).contains("setuid/setgid bits refused when importing without root")
end)


test("sbx gc removes the container directory of a SIGKILLed sbx", function()
  assert(sbx.image.from_dir(root, tag .. ":gc"))
  local bin = os.getenv("SBX_BIN")
  if not bin then skip("SBX_BIN is not set") end
  assert(sbx.sys.subreaper(true))
  local pid = assert(sbx.sys.fork())
  if pid == 0 then
    sbx.sys.exec({ "/usr/bin/env", "SBX_STATE=" .. own_store, bin, "-e",
      "local b = sbx.container{ image = '" .. tag .. ":gc' }; b:run{ '/bin/sleep', '100' }" })
    sbx.sys.exit(127)
  end
  local dir
  for _ = 1, 100 do
    local h = io.popen("ls -d " .. store .. "/containers/" .. pid .. "-* 2>/dev/null")
    dir = (h:read("*l") or "")
    h:close()
    if dir ~= "" then break end
    os.execute("sleep 0.05")
  end
  expect(dir, "the running box's container directory").ne("")
  sbx.sys.kill(pid, 9)
  sbx.sys.waitpid(pid)
  os.execute("sleep 0.3")
  for c in sh("cat /proc/" .. sbx.sys.getpid() .. "/task/*/children"):gmatch("%d+") do sbx.sys.waitpid(tonumber(c)) end
  sbx.sys.subreaper(false)
  expect(io.open(dir .. "/upper"), "left behind by the killed sbx").ne(nil)
  local out = sh("SBX_STATE=" .. own_store .. " " .. bin .. " gc")
  expect(out).contains("removed " .. dir)
  expect(io.open(dir .. "/upper"), "after sbx gc").eq(nil)
  assert(sbx.image.remove(tag .. ":gc"))
  assert(sbx.image.prune())
end)

test("the file's own store is removed", function()
  os.execute("rm -rf " .. own_store)
  expect(io.open(own_store .. "/lock")).eq(nil)
end)
