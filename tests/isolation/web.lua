-- recipes/web.lua end to end: the page fetched from the host matches, a second sandbox fetches
-- it by name, nothing is left; two runs at once on different ports do not collide; --keep
-- leaves it reachable until its supervisor is stopped.
local bin, src = os.getenv("SBX_BIN"), os.getenv("SBX_SOURCE")
if not bin or not src then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("host bridges and nftables need root") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local recipe = src .. "/recipes/web.lua"
local base = 21000 + (sbx.sys.getpid() % 200) * 10

local links = host_links

local function expect_clean(out, port)
  expect(out).contains("ok   the host fetched http://127.0.0.1:" .. port .. "/: <h1>hello from web-" .. port .. "</h1>")
  expect(out).contains("ok   a second sandbox fetched http://web-" .. port .. "/ by name")
  expect(out).contains("ok   its veth")
  expect(out).contains("ok   its cgroup")
  expect(out).match("server's cgroup: memory [%d.]+ MiB %(peak [%d.]+ MiB, limit 64M%), cpu [%d.]+ s %(limit 0.5 cores%), pids %d+ %(limit 64%)")
  expect(out:find("FAIL"), out).eq(nil)
end

test("the recipe serves its page to the host and to a sandbox by name, and leaves nothing", function()
  local before = links()
  local out, rc = sh(("%s %s --port %d"):format(bin, recipe, base))
  expect(rc, out).eq(0)
  expect_clean(out, base)
  expect(links()).eq(before)
  expect(#sbx.net.bridges()).eq(0)
end)

test("two runs at once on different ports do not collide", function()
  local before = links()
  local a, b = os.tmpname(), os.tmpname()
  local out, rc = sh(("(%s %s --port %d > %s 2>&1; echo a=$? >> %s) & (%s %s --port %d > %s 2>&1; echo b=$? >> %s) & wait"):format(
    bin, recipe, base + 1, a, a, bin, recipe, base + 2, b, b))
  expect(rc, out).eq(0)
  local ta, tb = io.open(a):read("*a"), io.open(b):read("*a")
  os.remove(a); os.remove(b)
  expect(ta, ta).contains("a=0")
  expect(tb, tb).contains("b=0")
  expect_clean(ta, base + 1)
  expect_clean(tb, base + 2)
  expect(links()).eq(before)
  expect(#sbx.net.bridges()).eq(0)
end)

test("--keep leaves it running as a long-running sandbox (sbx ps, stop, rm); bad options are refused", function()
  local before = links()
  local out, rc = sh(("%s %s --port %d --keep"):format(bin, recipe, base + 3))
  expect(rc, out).eq(0)
  local name = out:match("stop it with: sbx stop (%S+) &&")
  expect(name, out).eq("web-" .. (base + 3))
  expect((sh(bin .. " ps"))).contains(name)
  local page = sh(("curl -s -m 3 http://127.0.0.1:%d/"):format(base + 3))
  expect(page).eq("<h1>hello from web-" .. (base + 3) .. "</h1>\n")
  expect((sh(bin .. " stop " .. name))).eq(name .. "\n")
  expect((sh(bin .. " rm " .. name))).eq(name .. "\n")
  for _ = 1, 100 do
    if links() == before and #sbx.net.bridges() == 0 then break end
    os.execute("sleep 0.05")
  end
  expect(links()).eq(before)
  expect(#sbx.net.bridges()).eq(0)
  local bad, brc = sh(("%s %s --port 70000"):format(bin, recipe))
  expect(brc).eq(2)
  expect(bad).contains("--port: expected 1..65535")
end)
