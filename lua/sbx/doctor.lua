-- sbx doctor [--json]: what this host lets sbx do, each piece checked for real where it can be
-- (a user namespace made, an overlay mounted in one, nftables run in a sandbox's own network
-- namespace), and for each missing piece the fix. Nothing on the host is changed.
local core = require "sbx.core"

local M = {}

local function read(path) return (core.read_file(path)) end

local function have(cmd)
  local p = io.popen("command -v " .. cmd .. " 2>/dev/null")
  local out = p:read("*l")
  p:close()
  return out
end

-- checks() -> { { check =, ok = true | false | nil (a note), detail =, fix = } }
function M.checks()
  local out = {}
  local function add(check, ok, detail, fix) out[#out + 1] = { check = check, ok = ok, detail = detail, fix = fix } end
  local f = core.features()
  local root = f.root
  local function whoami()
    local pipe = io.popen("id -un 2>/dev/null")
    local n = pipe:read("*l")
    pipe:close()
    return n or os.getenv("USER") or "?"
  end
  local me = root and "root" or whoami()
  add("kernel", true, f.kernel)
  -- user namespaces
  local why = core.userns_refusal and core.userns_refusal() or ""
  if f.userns then
    add("user namespaces", true, "a user namespace can be made (" .. (root and "root: ids shifted to 2100000000+" or "as " .. me) .. ")")
  else
    add("user namespaces", false, why ~= "" and why or "unshare(CLONE_NEWUSER) failed",
        why:match("%((.-)%)$") or "sysctl -w user.max_user_namespaces=15000")
  end
  -- subordinate ids (rootless: more than one id inside)
  if not root then
    local name = me
    local sub_u, sub_g = read("/etc/subuid") or "", read("/etc/subgid") or ""
    local has = sub_u:find("\n" .. name .. ":", 1, true) or sub_u:find("^" .. name .. ":")
    local hasg = sub_g:find("\n" .. name .. ":", 1, true) or sub_g:find("^" .. name .. ":")
    local tools = have("newuidmap") and have("newgidmap")
    -- (without them a sandbox still runs, with one id inside: a note, not a failure)
    add("subordinate ids", (has and hasg and tools) and true or nil,
        (has and hasg) and (tools and "/etc/subuid and /etc/subgid have ranges for " .. name or "newuidmap/newgidmap are missing")
          or ("no range for " .. name .. " in /etc/subuid or /etc/subgid: only one id (yours) inside"),
        not (has and hasg) and ("usermod --add-subuids 100000-165535 --add-subgids 100000-165535 " .. name) or
          (not tools and "apt-get install uidmap") or nil)
  end
  -- cgroups
  local layout = require("sbx.cgroup").layout()
  local mode = f.cgroup
  if mode == "hybrid" then
    add("cgroups", true, "hybrid: v1 controllers (" .. table.concat(f.cgroup_controllers or {}, " ") .. "), cgroup2 at /sys/fs/cgroup/unified")
    add("hybrid-cgroup quirks", nil, "sbx puts limits in the v1 controllers; crun 1.8 refuses this layout unless run in a private mount namespace with /sys/fs/cgroup/unified unmounted (sbx-oci needs nothing of that)")
  else
    add("cgroups", true, (mode == "2" and "v2" or mode) .. ": " .. table.concat(f.cgroup_controllers or {}, " "))
  end
  if not root then
    -- (the same test spawn makes: the parent of this process's v2 group, writable by the user)
    local parent, why = core.cgroup.delegated_parent()
    add("cgroup delegation", parent and true or nil,
        parent and ("a delegated subtree at " .. layout.v2_root .. parent .. ": limits work") or
          ("no cgroup subtree of yours: limits (-m, --pids, --cpus) are refused (--limits-optional runs without them): " .. tostring(why):gsub("^limits as uid %d+: ", ""):gsub(" %(systemd%-run.*$", "")),
        not parent and "systemd-run --user --scope -p Delegate=yes sbx run ...  (on cgroup v2; or run limits as root)" or nil)
  end
  -- seccomp
  local actions = read("/proc/sys/kernel/seccomp/actions_avail") or ""
  add("seccomp", f.seccomp and true or false, f.seccomp and ("filters; actions: " .. actions:gsub("%s+$", "")) or "no seccomp filter support",
      not f.seccomp and "a kernel with CONFIG_SECCOMP_FILTER" or nil)
  if f.seccomp and not actions:find("user_notif") then
    add("seccomp notify", false, "no SECCOMP_RET_USER_NOTIF: on_call, learn= and OCI seccomp agents do not work", "a kernel of 5.0 or later")
  end
  add("time namespaces", f.timens and true or false, f.timens and "yes (--time, time_offsets)" or "no: --time is refused",
      not f.timens and "a kernel of 5.6 or later with CONFIG_TIME_NS" or nil)
  add("overlayfs", f.overlay and true or false, f.overlay and "listed in /proc/filesystems" or "not available: images and workspaces do not work",
      not f.overlay and "modprobe overlay" or nil)
  -- the real thing: a plain sandbox (its namespaces and a fresh /proc), then one with a workspace
  -- (an overlay over an idmapped lower, in a user namespace when there is one)
  local inner = io.open("/run/.containerenv") or io.open("/.dockerenv")
  if inner then inner:close() end
  local OUTER = "in a container the outer one must allow it: podman run --security-opt unmask=ALL (a fresh /proc) and --cap-add SYS_ADMIN (idmapped mounts, or run sbx there as a user), or --privileged"
  local plain, plain_err = require("sbx").container{}:run{ "/bin/true", stderr = "pipe" }
  local ok_plain = plain and plain.code == 0
  add("sandbox", ok_plain and true or false,
      ok_plain and "its own namespaces, a fresh /proc" or ("failed: " .. tostring(plain_err or plain.stderr):gsub("%s+$", "")),
      not ok_plain and (inner and OUTER or "sbx run --trace-startup -- true shows the step") or nil)
  local dir = os.tmpname()
  os.remove(dir)
  local ok_ws, ws_err
  if core.sys.mkdir then core.sys.mkdir(dir) else os.execute("mkdir -p '" .. dir .. "'") end
  -- (seen under the sandbox's own /tmp, where its mount point can be made on any root)
  local okc, box = pcall(require("sbx").container, { workspace = { dir = dir, dest = "/tmp/ws" }, cwd = "/tmp/ws" })
  if okc then
    local st, err = box:run{ "/bin/sh", "-c", "echo x > /tmp/ws/probe && cat /proc/self/status >/dev/null", stdout = "null", stderr = "pipe" }
    ok_ws, ws_err = st and st.code == 0, err or (st and st.stderr)
    if box._workspace and box._workspace.made then pcall(box.discard, box) end
  else
    ok_ws, ws_err = false, tostring(box)
  end
  os.execute("rm -rf '" .. dir .. "'")
  add("sandbox with a workspace", ok_ws and true or false,
      ok_ws and "overlay in the sandbox's namespaces, idmapped lower, /proc mounted" or ("failed: " .. tostring(ws_err):gsub("%s+$", "")),
      not ok_ws and (inner and OUTER or "sbx run --trace-startup --workspace DIR -- true shows the step") or nil)
  -- nftables inside a sandbox's own network namespace (egress; bridges as root); as a user it is
  -- entered with its user namespace, by a helper
  do
  local okn, nerr
  local sb = require("sbx").container{}
  local p
  p, nerr = sb:spawn{ "/bin/sleep", "5" }
  if p then
    local r, e = core.net.nft_in(p.pid, "list tables")
    okn, nerr = r ~= nil, e
    p:kill("KILL")
    p:wait()
  end
  add("nftables", okn and true or false, okn and "libnftables works in a sandbox's network namespace (--allow" .. (root and ", bridges)" or ")") or ("failed: " .. tostring(nerr)),
      not okn and (tostring(nerr):find("libnftables", 1, true) and "apt-get install libnftables1" or inner and OUTER or "sbx run --trace-startup -- true shows the step") or nil)
  end
  -- rootless networking: a user's --net bridge, -p and --allow (pasta, else slirp4netns), tried
  local pasta, slirp = have("pasta"), have("slirp4netns")
  if root then
    add("rootless network", (pasta or slirp) and true or nil,
        pasta and ("pasta at " .. pasta) or slirp and ("slirp4netns at " .. slirp) or "neither pasta nor slirp4netns: as a user, sandboxes get loopback only",
        not (pasta or slirp) and "apt-get install passt (or slirp4netns)" or nil)
  elseif not (pasta or slirp) then
    add("rootless network", nil, "neither pasta nor slirp4netns: as a user, sandboxes get loopback only",
        "apt-get install passt (or slirp4netns)")
  else
    local tool = pasta and "pasta" or "slirp4netns"
    local st, nerr = require("sbx").container{ net = { user = tool } }:run{ "/bin/true" }
    local okr = st and st.code == 0
    add("rootless network", okr and true or false,
        okr and (tool .. " at " .. (pasta or slirp) .. (pasta and slirp and " (slirp4netns too)" or "") .. ": a user's --net bridge, -p and --allow")
            or ("failed: " .. tostring(nerr)),
        not okr and "sbx run --net " .. tool .. " --trace-startup -- true shows the step; /dev/net/tun must be openable" or nil)
  end
  local tun = io.open("/dev/net/tun", "r+")
  if tun then tun:close() end
  add("/dev/net/tun", tun and true or nil, tun and "present" or "missing or not openable (pasta and slirp4netns need it)",
      not tun and "mknod /dev/net/tun c 10 200 (or modprobe tun)" or nil)
  -- inside a container?
  if inner then
    add("nested", nil, "sbx runs inside a container: what fails above is what the outer one must allow")
  end
  return out
end

function M.text(checks)
  local lines = {}
  for _, c in ipairs(checks) do
    local tag = c.ok == true and "ok  " or c.ok == false and "FAIL" or "note"
    lines[#lines + 1] = ("%s  %-24s %s"):format(tag, c.check, c.detail or "")
    if c.fix then lines[#lines + 1] = ("      %-24s fix: %s"):format("", c.fix) end
  end
  return table.concat(lines, "\n") .. "\n"
end

function M.main(args)
  if args[1] == "--help" or args[1] == "-h" then
    io.write("usage: sbx doctor [--json]\n\nChecks what this host lets sbx do (user namespaces, subordinate ids, cgroups and their\ndelegation, seccomp, time namespaces, overlayfs, a real sandbox with a workspace, nftables in a\nsandbox's namespace, rootless networking, /dev/net/tun) and prints the fix for each missing piece.\nExit status 1 when a check failed.\n")
    return 0
  end
  if args[1] and args[1] ~= "--json" then io.stderr:write("sbx doctor: unknown option ", args[1], " (sbx doctor --help)\n"); return 2 end
  local checks = M.checks()
  if args[1] == "--json" then io.write(core.json.encode(checks, 2), "\n") else io.write(M.text(checks)) end
  for _, c in ipairs(checks) do if c.ok == false then return 1 end end
  return 0
end

return M
