-- recipes/web.lua: a web server in a sandbox, reachable, limited, and checked.
--   sbx recipes/web.lua [--port 8080] [--keep] [--memory 64M] [--cpus 0.5] [--pids 64]
-- (--keep leaves it running as the long-running sandbox web-PORT: sbx ps, sbx stop web-8080)
-- busybox httpd in its own pid, mnt, uts, ipc, net and (where allowed) user namespaces, on the
-- read-only busybox root with a tmpfs for its site, limited by a cgroup, on the sbx0 bridge with
-- a port published on 127.0.0.1. Then it proves it: the page from the host through the port,
-- the page from a second sandbox by name, the server's cgroup figures, and that stopping it
-- leaves nothing behind (its veth, address, port, cgroup; the bridge goes with its last user).
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"

local OPTIONS = {
  { long = "port", arg = "required", key = "port", meta = "N", help = "the host port on 127.0.0.1 (default 8080)" },
  { long = "keep", arg = "none", key = "keep", help = "leave the server running (prints how to stop it)" },
  { long = "memory", arg = "required", key = "memory", meta = "SIZE", help = "memory limit (default 64M)" },
  { long = "cpus", arg = "required", key = "cpus", meta = "N", help = "CPU limit in cores (default 0.5)" },
  { long = "pids", arg = "required", key = "pids", meta = "N", help = "process limit (default 64)" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local function say(fmt, ...) io.write((fmt):format(...), "\n"); io.stdout:flush() end

-- busybox wget in the host's network namespace (curl may not be installed): the host's view.
local function fetch_from_host(root, url)
  return sbx.container{ rootfs = root, net = "host" }:run{ "timeout", "5", "wget", "-q", "-O", "-", url,
                                                          stdout = "pipe", stderr = "pipe" }
end

local function check(ok, what)
  say("  %s %s", ok and "ok  " or "FAIL", what)
  return ok
end

return {
  description = "a web server in a sandbox: published port, limits, reached by name, cleaned up",
  run = function(args)
    local opts, rest = getopt.parse(args, OPTIONS)
    if not opts then io.stderr:write("web.lua: ", rest, "\n"); return 2 end
    if opts.help then io.write("usage: sbx recipes/web.lua [options]\n\n", getopt.usage(OPTIONS), "\n"); return 0 end
    local port = tonumber(opts.port or 8080)
    if not port or port < 1 or port > 65535 then io.stderr:write("web.lua: --port: expected 1..65535\n"); return 2 end
    local limits = { memory = opts.memory or "64M", cpu = tonumber(opts.cpus or 0.5), pids = tonumber(opts.pids or 64) }
    local root = assert(sbx.rootfs.busybox())
    local name = "web-" .. port  -- concurrent runs on other ports get other names
    local page = "<h1>hello from " .. name .. "</h1>"

    local server = sbx.container{
      rootfs = root, hostname = name, limits = limits,
      net = { bridge = "sbx0", publish = { ["127.0.0.1:" .. port] = 80 } },
    }
    local cmd = { "/bin/sh", "-c", "mkdir -p /tmp/www && echo '" .. page .. "' > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www" }
    say("$ sbx run --busybox --hostname %s -m %s --cpus %s --pids %d -p 127.0.0.1:%d:80 -- httpd -f -p 80", name,
        limits.memory, limits.cpu, limits.pids, port)
    local p, d, err
    if opts.keep then
      local s
      s, err = server:start(cmd, { name = name })
      d = s and { pid = s.pid, ip = s.ip, cgroup = s.cgroup, name = s.name }
    else
      p, err = server:spawn(cmd)
      d = p and { pid = p.pid, ip = p.ip, cgroup = p.cgroup }
    end
    if not d then io.stderr:write("web.lua: start the server: ", err, "\n"); return 1 end
    say("server: sandbox pid %d, address %s on sbx0, cgroup %s", d.pid, d.ip, d.cgroup or "-")

    local url = ("http://127.0.0.1:%d/"):format(port)
    local got
    for _ = 1, 50 do  -- httpd needs a moment to listen
      got = fetch_from_host(root, url)
      if got.code == 0 then break end
      os.execute("sleep 0.05")
    end
    local good = true
    good = check(got.code == 0 and got.stdout == page .. "\n", "the host fetched " .. url .. ": " .. (got.stdout or ""):gsub("\n$", "")) and good
    local client = sbx.container{ rootfs = root, hostname = "client-" .. port, net = "bridge" }
    local byname = client:run{ "timeout", "5", "wget", "-q", "-O", "-", "http://" .. name .. "/", stdout = "pipe", stderr = "pipe" }
    good = check(byname.code == 0 and byname.stdout == page .. "\n", "a second sandbox fetched http://" .. name .. "/ by name") and good
    local noport = fetch_from_host(root, ("http://%s:81/"):format(d.ip))
    good = check(noport.code ~= 0, "an unpublished port is closed") and good

    local stat = d.cgroup and (p and p:stat() or sbx.cgroup.open(d.cgroup):stat())
    if stat then
      say("server's cgroup: memory %.1f MiB (peak %.1f MiB, limit %s), cpu %.3f s (limit %s cores), pids %d (limit %d)",
          stat.memory.current / 1048576, stat.memory.peak / 1048576, limits.memory, stat.cpu.usage_usec / 1e6,
          limits.cpu, stat.pids.current, limits.pids)
    end

    if opts.keep then
      say("left running: http://127.0.0.1:%d/  (sbx ps; sbx logs %s; stop it with: sbx stop %s && sbx rm %s)", port, d.name, d.name, d.name)
      return good and 0 or 1
    end
    local link, cg, ip = p.link, p.cgroup, p.ip
    p:kill("TERM")
    p:wait()
    local links = {}
    for _, l in ipairs(assert(sbx.net.links(0))) do links[l.name] = true end
    good = check(not links[link], "its veth " .. link .. " is gone") and good
    local leased = false
    for _, l in ipairs(assert(sbx.net.ipam.leases(sbx.net.subnet()))) do leased = leased or l.address:match("^[^/]+") == ip end
    good = check(not leased, "its address " .. ip .. " is free") and good
    good = check(not cg or not sbx.cgroup.open(cg), "its cgroup " .. tostring(cg) .. " is removed") and good
    good = check(fetch_from_host(root, url).code ~= 0, "port " .. port .. " is closed") and good
    local bridges = sbx.net.bridges()
    say("  %s", #bridges == 0 and "ok   the sbx0 bridge and the nftables table are gone (it was the last user)"
                             or "ok   the sbx0 bridge stays: other sandboxes use it")
    return good and 0 or 1
  end,
}
