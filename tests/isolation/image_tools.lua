-- Round trips with real tools: podman writes OCI and docker archives of a locally imported
-- rootfs (no registry), sbx imports and runs them, sbx exports, podman loads, skopeo reads.
local root = sbx.rootfs.busybox()
if not root then skip_all("no busybox rootfs") end
-- a store of this file's own, removed at the end (see the last case)
local own_store = os.tmpname()
os.remove(own_store)
before_each(function() sbx.image.store_dir(own_store) end)
local function have(tool) return io.popen("command -v " .. tool):read("*l") ~= nil end
if not have("podman") then skip_all("podman is not installed (apt-get install podman)") end
local work = os.tmpname()
os.remove(work)
assert(os.execute("mkdir -p " .. work) == 0)
local podman = ("podman --root %s/storage --runroot %s/run --storage-driver vfs"):format(work, work)
local name = "localhost/sbxtest-" .. sbx.sys.getpid()


test("podman save (oci-archive and docker-archive) -> sbx image import -> run", function()
  local _, rc = sh(("tar -C %s -c . | %s import - %s:1"):format(root, podman, name))
  expect(rc, "podman import").eq(0)
  for _, fmt in ipairs({ "oci-archive", "docker-archive" }) do
    local file = work .. "/" .. fmt .. ".tar"
    local out, rc2 = sh(("%s save --format %s -o %s %s:1"):format(podman, fmt, file, name))
    expect(rc2, "podman save " .. fmt .. ": " .. out).eq(0)
    local imgs = assert(sbx.image.import(file))
    expect(#imgs).eq(1)
    expect(imgs[1].tags[1]).eq(name .. ":1")
  end
  local box = sbx.container{ image = name .. ":1" }
  local st = assert(box:run{ "/bin/sh", "-c", "id -u; ls /bin/busybox", stdout = "pipe" })
  box:close()
  expect(st.stdout).eq("0\n/bin/busybox\n")
end)

test("skopeo copy --dest-compress to an OCI layout directory (gzip layers) -> sbx image import", function()
  if not have("skopeo") then skip("skopeo is not installed") end
  local layout = work .. "/layout"
  local out, rc = sh(("skopeo copy --dest-compress oci-archive:%s/oci-archive.tar oci:%s:v1"):format(work, layout))
  expect(rc, "skopeo copy: " .. out).eq(0)
  local manifest = sh("cat " .. layout .. "/blobs/sha256/* 2>/dev/null | grep -a -o 'tar+gzip' | head -n 1")
  expect(manifest, "the layer blob is gzip-compressed").contains("tar+gzip")
  local imgs, err = sbx.image.import(layout, "skopeo-test")
  expect(imgs, err).truthy()
  -- skopeo names the tag only ("v1"): the name comes from the caller
  expect(table.concat(imgs[1].tags, " ")).contains("skopeo-test:v1")
  local box = sbx.container{ image = "skopeo-test:v1" }
  expect(assert(box:run{ "/bin/sh", "-c", "ls /bin/busybox", stdout = "pipe" }).stdout).eq("/bin/busybox\n")
  box:close()
  assert(sbx.image.remove("skopeo-test:v1"))
end)

test("sbx image export -> podman load and skopeo inspect", function()
  for _, fmt in ipairs({ "oci-archive", "docker-archive" }) do
    local file = work .. "/sbx-" .. fmt .. ".tar"
    assert(sbx.image.export(name .. ":1", file, fmt))
    local out, rc = sh(("%s load -i %s"):format(podman, file))
    expect(rc, "podman load " .. fmt .. ": " .. out).eq(0)
    expect(out).contains("Loaded image")
  end
  if have("skopeo") then
    local out, rc = sh("skopeo inspect oci-archive:" .. work .. "/sbx-oci-archive.tar")
    expect(rc, out).eq(0)
    expect(out).contains('"Layers"')
  end
  assert(sbx.image.remove(name .. ":1"))
  assert(sbx.image.prune())
end)

test("podman's scratch storage is removed", function()
  sh("rm -rf " .. work)
  expect(io.open(work .. "/storage")).eq(nil)
end)

test("the file's own store is removed", function()
  os.execute("rm -rf " .. own_store)
  expect(io.open(own_store .. "/lock")).eq(nil)
end)
