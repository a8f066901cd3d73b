-- What docker, podman and bwrap users expect to find in sbx run (issue 17): each flag run as such
-- a user runs it, checked inside the sandbox; and the errors and exit statuses they meet.
local bin, src = os.getenv("SBX_BIN"), os.getenv("SBX_SOURCE")
if not bin or not src then skip_all("needs SBX_BIN and SBX_SOURCE (run through ctest)") end
if sbx.sys.ids().uid ~= 0 then skip_all("needs root (sandboxes on the busybox root, images)") end
if not sbx.rootfs.busybox() then skip_all("needs the busybox rootfs") end
local me = sbx.sys.getpid()
local S = dofile(src .. "/tests/isolation/lib/scratch.lua")()
local scratch = S.dir
local file = S.file
local run = bin .. " run --busybox "


test("exit statuses: 2 for a usage error (nothing done), 125 for a set-up failure, 126/127 for a command that cannot run / is not there, else the payload's", function()
  for _, args in ipairs({ "--frobnicate -- true", "", "--timeout x -- true", "--uid 70000 -- true", "--memory lots -- true",
                          "--ulimit nofile -- true", "--user nosuch -- true" }) do
    local out, rc = sh(run .. args)
    expect(rc, args .. ": " .. out).eq(2)
    expect(out, args).contains("(see sbx run --help)")
  end
  local out, rc = sh(run .. "--bind /nonexistent-" .. me .. ":/x -- true")
  expect(rc, out).eq(125)
  expect(out).contains("No such file or directory")
  _, rc = sh(run .. "-- sh -c 'exit 7'")
  expect(rc).eq(7)
  -- the command not there, or not runnable: docker's and podman's 127 and 126
  out, rc = sh(run .. "-- /nonexistent-" .. me)
  expect(rc, out).eq(127)
  expect(out).contains("not found in the sandbox's PATH or root")
  out, rc = sh(run .. "-- /etc/passwd")
  expect(rc, out).eq(126)
  expect(out).contains("Permission denied")
end)

test("errors in the flags' words: no Lua positions, no API or plan names", function()
  local cases = {
    ["--bind :/x -- true"] = "--bind :/x: source must be an absolute path",
    ["--tmpfs /s:10Q -- true"] = "--tmpfs /s:10Q: bad size '10Q'",
    ["-p 99999:80 -- true"] = "-p 99999:80: host port '99999' is not 0..65535",
    ["-v /tmp:/t:rx -- true"] = "--volume /tmp:/t:rx: 'rx' is not ro or rw",
    ["--memory lots -- true"] = "--memory: bad size 'lots'",
    ["--cap-add FOO -- true"] = "--cap-add FOO: not a capability",
    ["--env =x -- true"] = "--env: '=x' is not KEY=VALUE",
    ["--ulimit nofile=abc -- true"] = "--ulimit nofile: 'abc' is not a whole number",
    ["--cgroup-parent ../x -m 8M -- true"] = "--cgroup-parent ../x: contains '..'",
    ["--boottime x -- true"] = "--boottime: bad duration 'x'",
    ["--seccomp /nonexistent.json -- true"] = "--seccomp /nonexistent.json: No such file or directory",
  }
  for args, want in pairs(cases) do
    local out, rc = sh(run .. args)
    expect(rc, args).eq(2)
    expect(out, args).contains(want)
    for _, internal in ipairs({ ".lua:", "sbx.bind", "sbx.tmpfs", "spec.", "sbx.container", "traceback", "limits.",
                                "env[", "rlimits.", "time_offsets", "load_json", "spawn:" }) do
      expect(out, args).never_contains(internal)
    end
  end
  local out, rc = sh(bin .. " image export busybox:none " .. scratch .. "/x.tar --format zip")
  expect(rc, out).eq(2)
  expect(out).contains("--format zip: expected oci-archive")
  expect(out).never_contains("traceback")
end)

test("--ulimit NAME=SOFT[:HARD] (docker's): the payload's limits; bad ones refused", function()
  local out, rc = sh(run .. "--ulimit nofile=100:200 --ulimit core=0 -- sh -c 'ulimit -n; ulimit -Hn; ulimit -c'")
  expect(rc, out).eq(0)
  expect(out).eq("100\n200\n0\n")
  out, rc = sh(run .. "--ulimit nofile=300:200 -- true")
  expect(rc).eq(2)
  expect(out).contains("soft 300 above hard 200")
  out = sh(run .. "--ulimit bogus=1 -- true")
  expect(out).contains("unknown limit 'bogus'")
  -- the Lua key
  local st = assert(sbx.container{ rootfs = sbx.rootfs.busybox(), rlimits = { nproc = "50:60" } }:run{ "sh", "-c", "ulimit -u; ulimit -Hu", stdout = "pipe" })
  expect(st.stdout).eq("50\n60\n")
end)

test("--sysctl KEY=VALUE (namespaced ones), inside only", function()
  local host = sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
  local out, rc = sh(run .. "--sysctl net.ipv4.ip_unprivileged_port_start=0 -- cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
  expect(rc, out).eq(0)
  expect(out).eq("0\n")
  expect(sh("cat /proc/sys/net/ipv4/ip_unprivileged_port_start")).eq(host)
  out, rc = sh(run .. "--sysctl vm.swappiness=1 -- true")
  expect(rc, out).eq(2)
  expect(out).contains("vm.swappiness")
end)

test("--env-file FILE: KEY=VALUE lines, comments skipped, KEY alone inherited, --env after it", function()
  local f = file("env", "# a comment\nA=1\n\nB\nC=x=y\nD=from-file\n")
  local out, rc = sh(("B=inherited %s--env-file %s -e D=flag -- sh -c 'echo $A $B $C $D'"):format(run, f))
  expect(rc, out).eq(0)
  expect(out).eq("1 inherited x=y flag\n")
  out, rc = sh(run .. "--env-file " .. file("bad", "A=1\nnot a var\n") .. " -- true")
  expect(rc).eq(2)
  expect(out).contains(" line 2: 'not a var' is not KEY=VALUE")
end)

test("--add-host NAME:IP and --dns IP: the sandbox's /etc/hosts and /etc/resolv.conf, on every kind of root", function()
  -- the host's root (read-only): a file of its own over /etc/hosts, the host's lines kept
  local out, rc = sh(bin .. " run --add-host db.test:10.1.2.3 --dns 192.0.2.53 -- sh -c 'cat /etc/hosts; cat /etc/resolv.conf'")
  expect(rc, out).eq(0)
  expect(out).contains("10.1.2.3\tdb.test\n")
  expect(out).contains("nameserver 192.0.2.53\n")
  expect(out).contains((sh("head -1 /etc/hosts")))
  expect(sh("cat /etc/hosts")).never_contains("db.test")
  -- a root of its own: localhost and the added line; the busybox root is unchanged
  out = sh(run .. "--add-host db.test:10.1.2.3 -- cat /etc/hosts")
  expect(out).eq("127.0.0.1\tlocalhost sbx\n::1\tlocalhost\n10.1.2.3\tdb.test\n")
  expect((require("sbx.core").read_file(sbx.rootfs.busybox() .. "/etc/hosts") or "")).never_contains("db.test")
  -- on the bridge: its own names first, then the added line
  out, rc = sh(run .. "--net bridge --add-host db.test:10.1.2.3 --dns 192.0.2.53 -- sh -c 'cat /etc/hosts /etc/resolv.conf'")
  expect(rc, out).eq(0)
  expect(out).contains("host.sbx.internal")
  expect(out).contains("10.1.2.3\tdb.test\n")
  expect(out).contains("nameserver 192.0.2.53\n")
  out, rc = sh(run .. "--add-host nocolon -- true")
  expect(rc).eq(2)
  expect(out).contains("'nocolon' is not NAME:IP")
  out = sh(run .. "--dns not-an-ip -- true")
  expect(out).contains("'not-an-ip' is not an IP address")
end)

test("sbx.file over a file of a read-only root: a file of its own bound there, the root unchanged", function()
  local st = assert(sbx.container{ mounts = { sbx.file("/etc/motd", "hello\n") } }:run{ "sh", "-c", "cat /etc/motd; echo more >> /etc/motd && cat /etc/motd", stdout = "pipe" })
  expect(st.status).eq(0)
  expect(st.stdout).eq("hello\nhello\nmore\n")
  expect(sh("cat /etc/motd 2>/dev/null")).never_contains("hello")
end)

test("-v SRC:DST[:ro] binds as docker's, --dev-bind keeps device nodes usable", function()
  local dir = scratch .. "/vol"
  -- (777: the sandbox's root is 2100000000 on the host, not the directory's owner)
  sh("mkdir -p " .. dir .. " && chmod 777 " .. dir .. " && echo in > " .. dir .. "/f")
  local out, rc = sh(run .. "-v " .. dir .. ":/data:ro -- sh -c 'cat /data/f; touch /data/g'")
  expect(rc).eq(1)
  expect(out).contains("in\n")
  expect(out).contains("Read-only file system")
  out, rc = sh(run .. "-v " .. dir .. ":/data -- sh -c 'echo out > /data/g'")
  expect(rc, out).eq(0)
  expect(sh("cat " .. dir .. "/g")).eq("out\n")
end)

test("--device HOST[:INSIDE]: the node inside; allowed in the device cgroup when there is one", function()
  local out, rc = sh(run .. "--device /dev/fuse -- ls -l /dev/fuse")
  expect(rc, out).eq(0)
  expect(out).match("^c.* 10, *229 ")
  -- with limits (a device cgroup, deny-all first): open is allowed, only fuse's own read says EPERM
  out = sh(run .. "--device /dev/fuse:/dev/f -m 64M -- sh -c 'cat /dev/f 2>&1; true'")
  expect(out).contains("read error")
  expect(out).never_contains("can't open")
  out, rc = sh(run .. "--device /nonexistent-" .. me .. " -- true")
  expect(rc).eq(2)
  expect(out).contains("--device /nonexistent-" .. me .. ":")
end)

test("--user NAME[:GROUP] is looked up in the sandbox's /etc/passwd; a link out of the root is not followed", function()
  local out, rc = sh(run .. "--user nobody -- id")
  expect(rc, out).eq(0)
  expect(out).eq("uid=65534(nobody) gid=65534(nogroup)\n")
  out = sh(run .. "-u nobody:root -- id")
  expect(out).eq("uid=65534(nobody) gid=0(root)\n")
  out = sh(run .. "-u 1234:5678 -- id -u")
  expect(out).eq("1234\n")
  -- a hostile root: its /etc/passwd a link to a host file
  local root = scratch .. "/hostile"
  sh(("cp -a %s %s && rm %s/etc/passwd && ln -s /etc/passwd %s/etc/passwd"):format(sbx.rootfs.busybox(), root, root, root))
  out, rc = sh(bin .. " run --rootfs " .. root .. " --user root -- id -u")
  expect(rc).eq(2)
  expect(out).contains("is a symbolic link")
end)

test("--uidmap/--gidmap (podman's): the user namespace's maps", function()
  local out, rc = sh(run .. "--uidmap 0:300000:65536 --gidmap 0:300000:65536 -- cat /proc/self/uid_map /proc/self/gid_map")
  expect(rc, out).eq(0)
  local lines = {}
  for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l:gsub("%s+", " "):gsub("^ ", "") end
  expect(table.concat(lines, "|")).eq("0 300000 65536|0 300000 65536")
  out, rc = sh(run .. "--uidmap 0:300000 --gidmap 0:300000:1 -- true")
  expect(rc).eq(2)
  out, rc = sh(run .. "--uidmap 0:300000:65536 -- true")
  expect(rc).eq(2)
  expect(out).contains("give both")
end)

test("--security-opt seccomp=unconfined|FILE, no-new-privileges (podman's spelling)", function()
  local out = sh(run .. "--security-opt seccomp=unconfined -- grep -E 'Seccomp:|NoNewPrivs' /proc/self/status")
  expect(out).contains("Seccomp:\t0")
  out = sh(run .. "--security-opt no-new-privileges=false -- grep NoNewPrivs /proc/self/status")
  expect(out).contains("NoNewPrivs:\t0")
  out = sh(run .. "--security-opt label=disable -- true")
  expect(out).eq("")
  local _, rc
  out, rc = sh(run .. "--security-opt seccomp=" .. file("p.json", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}') .. " -- mkdir /tmp/x")
  expect(rc).eq(1)
  out, rc = sh(run .. "--security-opt foo=bar -- true")
  expect(rc).eq(2)
  expect(out).contains("--security-opt foo=bar: sbx knows seccomp=")
end)

test("a root of its own has the host's /sys read-only, /sys/firmware masked; --no-sys leaves it out", function()
  local out, rc = sh(run .. "-- sh -c 'ls /sys/class >/dev/null && echo class; ls /sys/firmware | wc -l; touch /sys/x'")
  expect(rc).eq(1)
  expect(out).contains("class\n0\n")
  expect(out).contains("Read-only file system")
  out = sh(run .. "--no-sys -- sh -c 'ls /sys | wc -l'")
  expect(out).eq("0\n")
end)

test("--read-only: an image's root read-only", function()
  local tag = "expected-ro-" .. me .. ":1"
  local id, rc = sh(bin .. " image from-dir " .. sbx.rootfs.busybox() .. " " .. tag)
  expect(rc, id).eq(0)
  local out
  out, rc = sh(bin .. " run --image " .. tag .. " -- sh -c 'touch /x && echo wrote'")
  expect(out).contains("wrote")
  out, rc = sh(bin .. " run --image " .. tag .. " --read-only -- sh -c 'touch /x && echo wrote'")
  expect(rc).eq(1)
  expect(out).contains("Read-only file system")
  sh(bin .. " image rm " .. tag)
end)

test("a failure the user namespace causes is explained: --rw on a root owned by the host's root, --netns of the host's", function()
  local root = scratch .. "/rwroot"
  sh(("cp -a %s %s"):format(sbx.rootfs.busybox(), root))
  local out, rc = sh(bin .. " run --rootfs " .. root .. " --rw -- touch /x")
  expect(rc).eq(1)
  expect(out).contains("Permission denied")
  expect(out).contains("--rw: " .. root .. " is owned by uid 0 on the host, and root inside is uid 2100000000 there")
  expect(out).contains("chown -R 2100000000:2100000000 " .. root)
  -- the fix it names works
  out, rc = sh(bin .. " run --rootfs " .. root .. " --rw --share-user -- touch /x")
  expect(rc, out).eq(0)
  local ns = "sbxexp-" .. me
  assert(os.execute("ip netns add " .. ns))
  out, rc = sh(run .. "--netns " .. ns .. " -- ip link set lo up")
  local out2, rc2 = sh(run .. "--netns " .. ns .. " --share-user --cap-add NET_ADMIN -- ip link set lo up")
  os.execute("ip netns del " .. ns)
  expect(rc).eq(2)  -- (ip's status for a refused request)
  expect(out).contains("Operation not permitted")
  expect(out).contains("--netns: /run/netns/" .. ns .. " belongs to another user namespace")
  expect(rc2, out2).eq(0)
end)

test("sbx image import of a plain root filesystem tar points at import-layer", function()
  local dir = scratch .. "/plain"
  sh(("mkdir -p %s/bin %s/etc && echo x > %s/etc/x && tar -C %s -cf %s/plain.tar ."):format(dir, dir, dir, dir, scratch))
  local out, rc = sh(bin .. " image import " .. scratch .. "/plain.tar")
  expect(rc).eq(1)
  expect(out).contains("it looks like a plain root filesystem: sbx image import-layer " .. scratch .. "/plain.tar NAME[:TAG]")
end)

test("sbx image prune: --filter until= keeps young images, -a takes tagged ones, and it waits for an import in progress", function()
  -- (a store of its own: -a would take every other test's images too)
  local store = scratch .. "/store"
  local img = ("SBX_STATE=%s %s image "):format(store, bin)
  local tag = "prune-" .. me .. ":1"
  expect(select(2, sh(img .. "from-dir " .. sbx.rootfs.busybox() .. " " .. tag))).eq(0)
  -- tagged: kept by a plain prune; -a with until=1h keeps it too (it is seconds old)
  sh(img .. "prune")
  expect(select(2, sh(img .. "inspect " .. tag))).eq(0)
  sh(img .. "prune -a --filter until=1h")
  expect(select(2, sh(img .. "inspect " .. tag))).eq(0)
  local out, rc = sh(img .. "prune --filter until=soon")
  expect(rc).eq(2)
  expect(out).contains("--filter until=soon: bad duration")
  -- an import in progress (holding the import guard, as one does from its first layer to its
  -- manifest): prune waits for it, and removes nothing under it
  local marker = scratch .. "/pruned"
  -- (the background ones' output away from sh's pipe: it would wait for them)
  sh(("flock -s %s/import.lock sleep 2 >/dev/null 2>&1 & sleep 0.3; (%sprune -a > %s.out 2>&1; echo done > %s) >/dev/null 2>&1 & sleep 1")
    :format(store, img, marker, marker))
  expect(io.open(marker), "prune finished while an import held the store").eq(nil)
  expect(select(2, sh(img .. "inspect " .. tag))).eq(0)
  sh("sleep 2")
  expect(io.open(marker) ~= nil, "prune did not finish after the import").truthy()
  -- -a: an image no container stands on goes, with its layers
  expect(select(2, sh(img .. "inspect " .. tag))).eq(1)
  expect(sh("cat " .. marker .. ".out")).contains("deleted layer sha256:")
end)

test("cleanup", function()
  assert(S.remove())
end)
