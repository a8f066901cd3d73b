-- Rootfs templates: debootstrap into the cache (once), run it, make an image of it.
if not io.open("/usr/sbin/debootstrap") then skip_all("debootstrap is not installed (apt-get install debootstrap)") end
if not sbx.features().root then skip_all("debootstrap needs root") end

test("debootstrap minbase: cached, runs, and becomes an image", function()
  local dir, err = sbx.rootfs.debootstrap{ suite = "bookworm", variant = "minbase" }
  if not dir and err:match("[Ff]ailure trying to run|Couldn't download|unable to fetch|Release") then
    skip("the Debian mirror is not reachable: " .. err:sub(1, 120))
  end
  expect(dir, err).truthy()
  local t0 = os.time()
  expect(sbx.rootfs.debootstrap{ suite = "bookworm", variant = "minbase" }).eq(dir)
  expect(os.time() - t0, "second call comes from the cache").lt(2)
  local box = sbx.container{ rootfs = dir }
  local st = assert(box:run{ "/bin/sh", "-c", "cat /etc/debian_version; dpkg -l | grep -c '^ii'", stdout = "pipe", stderr = "pipe" })
  expect(st.code).eq(0)
  expect(st.stdout).match("^12%.")
  expect(tonumber(st.stdout:match("\n(%d+)\n$")), "packages installed").gt(50)
  expect_error(function() sbx.rootfs.debootstrap{ suite = "bookworm; rm -rf /" } end, "bad suite")
  expect_error(function() sbx.rootfs.debootstrap{ sute = "x" } end, "unknown key 'sute'")
end)
