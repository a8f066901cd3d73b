-- The one source of sbx's reference text: help() at the prompt, `sbx --help`, `sbx help NAME`
-- and docs/reference.md (`sbx help --markdown`) are all made from the entries below.
local M = {}

M.usage = [[
usage: sbx                           the sbx> prompt (Lua with sbx loaded; help() for help)
       sbx -i FILE.lua [ARGS...]     run a script, then the prompt with its globals
       sbx FILE.lua [ARGS...]        run a script (arg = { [0] = FILE, ... }, sbx is a global)
       sbx -e 'CODE' [ARGS...]       run a chunk of Lua;  echo 'print(1)' | sbx  runs stdin
       sbx run [OPTIONS] -- CMD...   run CMD in a new sandbox, everything isolated (see sbx run --help)
       sbx unshare [FLAGS] -- CMD    util-linux unshare(1) flags and meaning
       sbx nsenter -t PID [FLAGS]    util-linux nsenter(1): join a running process's namespaces
       sbx test FILE.lua...          run test files, TAP output (see sbx test --help)
       sbx image ls|inspect|tag|rm|prune|from-dir|import-layer   the local image store
       sbx commit NAME TAG           a named container's changes as a new image
       sbx run --workspace DIR ...   work on DIR through an overlay (the host's DIR unwritten), then:
       sbx diff [NAME] [--patch] | promote NAME [PATH...] | discard NAME   review, apply, drop
       sbx run -d --name NAME ...    a long-running sandbox, then:
       sbx ps [-a] [-q] [--format json] | inspect NAME | exec [-it] NAME CMD | stop [-t SECS] NAME
       sbx logs [-f] [--tail N] [--since T] [-t] NAME   its output (stderr's lines on stderr)
       sbx kill NAME [SIGNAL] | rm [-f] NAME | wait NAME | port NAME [PORT] | top NAME
       sbx pause NAME | unpause NAME | rename OLD NEW | stats [--no-stream] [NAME...]
       sbx cp NAME:PATH DEST | sbx cp SRC NAME:PATH   copy out of or into a running sandbox
       sbx events [--since T] [--until T]            a line per start, exit, oom
       sbx oci VERB ... | sbx-oci    an OCI runtime (runc's command line): spec, create, start, state,
                                     kill, delete, run, exec, update, list, features (see docs/oci.md)
       sbx audit [--json] [PID]      what isolates a process (any process: sbx's, bwrap's, runc's, the host's)
       sbx probe [RUN OPTIONS]       the attack probe in a sandbox of those options: TAP, and what let an attack through
       sbx doctor [--json]           what this host lets sbx do, checked for real, and the fix for what is missing
       sbx gc                        remove what a killed sbx left (cgroups, container dirs, scratch,
                                     veths, published ports, unused bridges, lost sandboxes)
       sbx help [NAME | --markdown | --man]  the reference (one entry, all of it as Markdown, or sbx.1)
       sbx completion bash|zsh       shell completion (source <(sbx completion bash))
       sbx --version | --help
]]

-- { name, signature, text, example }: `name` is how the value is reached from the sbx global
-- (help(sbx.container) finds the entry by identity).
M.entries = {
  { "sbx.container", "sbx.container{ rootfs =, image =, ns =, hostname =, mounts =, env =, net =, limits =, ... } -> box",
    "A sandbox described as plain data, checked now (an unknown key or a bad value raises at your line); nothing runs until box:run or box:spawn. What is not given is the default sandbox (docs/hardening.md). The keys:",
    [[local box = sbx.container{ rootfs = sbx.rootfs.busybox(), hostname = "box", limits = { memory = "64M" } }
print(box:run{ "/bin/sh", "-c", "hostname; id", stdout = "pipe" }.stdout)]],
    function()  -- from container.lua's own key list
      local keys, lines = require("sbx.container").keys, {}
      for k, what in pairs(keys) do lines[#lines + 1] = ("%-16s %s"):format(k, what) end
      table.sort(lines)
      return lines
    end },
  { "plan", "box:spec(), plan.json, sbx run --print-spec -> the plan",
    "What the core runs, as data: every field of the plan, declared once in C++ (src/core/sandbox/plan.cc) and read strictly (an unknown key or a wrong type is an error naming its path). The fields:",
    [[print(sbx.json.encode(sbx.container{}:spec(), 2))]],
    function()
      local lines = {}
      for _, f in ipairs(require("sbx.core").plan_reference()) do
        lines[#lines + 1] = ("%-30s %-24s %s"):format(f.path, f.kind, f.doc)
      end
      return lines
    end },
  { "box:run", "box:run{ cmd, arg..., stdin =, stdout =, stderr =, input =, timeout =, env =, cwd =, tty =, fds = } -> status",
    "Runs a command in the sandbox and waits. The status table has ok, code or signal, status (shell-style), stdout/stderr when piped, stats and events when it had limits, oom_killed, timed_out.",
    [[local st = box:run{ "ls", "/", stdout = "pipe" }  -- st.code == 0, st.stdout]] },
  { "box:spawn", "box:spawn{ cmd, arg..., stdin =, stdout =, stderr = } -> sbx.Process",
    "Starts a command in the sandbox and returns at once: p.pid, p.running, p.ip, p.ports, p.cgroup, p:wait([secs]), p:kill(sig), p:read(stream), p:write(s), p:communicate(input, secs), p:stat(), p:events(); p:on(event, fn), p:freeze(), p:thaw(), p:limits{...}, p:processes() (sbx.loop).",
    [[local p = box:spawn{ "sleep", "30" }; p:kill("TERM"); p:wait()]] },
  { "p:on", "p:on(event, fn [, opts]) -> handle",
    "Calls fn(ev, p) each time the sandbox reports the event, from sbx.loop (p:wait and box:run run it): exit { status }; oom, oom_kill, memory.high, memory.max, pids.max { count, new } (its cgroup: give it limits); pressure { resource, trigger | level } with opts { memory = \"some 150ms/2s\", cpu =, io = } (cgroup v2 PSI; v1: memory = \"low\"|\"medium\"|\"critical\"); stats { stats } with opts { every = secs }; stdout, stderr { line } (started with stdout = \"pipe\"). A failing handler is reported and the loop goes on; handle.cancel() stops it. The same as data: sbx.container{ on = { oom = fn } }.",
    [[local p = box:spawn{ "/bin/sh", "-c", "bomb() { bomb | bomb & }; bomb" }
p:on("pids.max", function(ev, p) for _, pr in ipairs(p:processes()) do print(pr.pid, pr.cmd) end; p:kill("KILL") end)
p:wait()]] },
  { "call:string", "call:string(i), call:sockaddr(i), call:runs(path); call:allow(), call:deny(errno), call:give(v), call:open(path [, flags]), call:give_fd(fd)",
    "A notified system call (seccomp = { notify = {...}, on_call = fn }): call.name, call.pid, call.args (1-based). call:string(i) reads a path from the caller's memory (checked still waiting after the read); the handler answers by returning \"allow\" (audits only: the caller's memory can change after the check), \"deny\", errno, \"return\", value, or \"open\", path (the supervisor opens it inside the caller's root and gives the fd: the safe broker).",
    [[seccomp = { notify = { "openat" }, on_call = function(call)
  local path = call:string(2)
  if path:match("^/secrets/") then return "open", path, 0 end  -- read-only, opened by sbx
end }]] },
  { "box:learn", "box:learn{ cmd, arg..., out = \"FILE.lua\", <box:run's options> } -> policy, status, text",
    "Runs the command with every call the box's seccomp allows reported to this process and let through (user notification: each one, unlike SECCOMP_RET_LOG, which the kernel rate-limits), then gives the policy of the calls made: default deny, those calls allowed, clone, socket, ioctl, personality and prctl only with the values seen; out = also writes it as commented Lua for review. sbx run --seccomp learn=FILE.lua does the same; --seccomp FILE.lua enforces it.",
    [[local pol = box:learn{ "/bin/sh", "-c", "ls /", out = "ls.lua" }
print(pol:explain("mkdir"))  -- errno EPERM (the default)]] },
  { "box:promote", "box:promote{ paths = { ... } | filter = fn(change) } -> outcomes | nil, err; box:diff(), box:discard(), box:workspace()",
    "For a box with a review workspace (sbx.container{ workspace = { dir = \"/src/proj\", dest =, mode = \"review\" | \"ro\" | \"rw\", name = } }): box:diff() lists the changes { kind = A|M|D|C, path, type, mode, size, ... }; box:promote applies chosen ones to the host directory (written beside and renamed, symlinks never followed, setuid/setgid dropped, fifos and devices refused; nothing applied when a target changed on the host since the run started); box:discard() drops them; box:workspace():patch(paths) gives a unified diff.",
    [[local box = sbx.container{ workspace = "/src/proj", cwd = "/src/proj" }
box:run{ "make" }
for _, c in ipairs(box:diff()) do print(c.kind, c.path) end
box:promote{ filter = function(c) return c.path:match("^build/") == nil end }]] },
  { "p:exec_as_root", "p:exec_as_root{ cmd, arg..., stdout =, input = } -> status; p:write_file(path, text [, mode]); p:read_file(path)",
    "For hooks (sbx.container{ hooks = { created =, before_exec =, started =, exited = } }): a command inside the waiting sandbox's namespaces and group as root there, and files of its root opened by the supervisor inside that root (symlinks stay inside).",
    [[hooks = { created = function(p) assert(p:exec_as_root{ "/bin/sh", "-c", "mkdir -p /tmp/app" }) end }]] },
  { "sbx.seccomp.load", "sbx.seccomp.load(path) -> policy | nil, err", "A policy from a Lua file that returns the table seccomp = takes (run as data, without globals); sbx run --seccomp FILE.lua does the same.", [[print(assert(sbx.seccomp.load("policy.lua")):explain("socket"))]] },
  { "p:freeze", "p:freeze() / p:thaw() -> true | nil, err", "Stops every process of the sandbox's group (the cgroup freezer) and lets them go on.", [[p:freeze(); sbx.after(2, function() p:thaw() end)]] },
  { "p:limits", "p:limits{ memory =, cpu =, pids =, ... } -> true | nil, err", "New limits on the running sandbox's group (the words of limits =), all of them or none.", [[p:on("oom", function(ev, p) p:limits{ memory = "128M" } end)]] },
  { "p:processes", "p:processes() -> { { pid, ppid, comm, cmd, state, rss, cpu }... }", "The sandbox's processes as the host sees them (its group's; without one, the init's descendants): rss in bytes, cpu in seconds.", [[for _, pr in ipairs(p:processes()) do print(pr.pid, pr.rss, pr.cmd) end]] },
  { "sbx.loop.run", "sbx.loop.run{ timeout =, until_ = fn } -> done", "Runs the event loop until nothing is left to wait for (true), until_() holds (true), the timeout passes or sbx.loop.stop() is called (false). sbx.loop.step([secs]) runs it once; sbx.loop.busy() says whether it has work.", [[sbx.every(1, function() print(p:stat().memory.current) end); sbx.loop.run{ timeout = 10 }]] },
  { "sbx.loop.watch", "sbx.loop.watch(fd, fn [, \"in\"|\"pri\"]) -> handle", "Calls fn(handle, ev) each time fd is ready (ev.hup, ev.err); handle:cancel() stops it.", [[local h = sbx.loop.watch(fd, function(h) print(sbx.sys.read(fd, 100)) end)]] },
  { "sbx.loop.pressure", "sbx.loop.pressure(\"cpu\"|\"memory\"|\"io\", trigger, fn) -> handle | nil, err", "A PSI trigger on the host's own pressure (/proc/pressure): fn() when it is crossed. Without CAP_SYS_RESOURCE the kernel takes only windows of whole 2 s (\"some 200ms/2s\").", [[sbx.loop.pressure("cpu", "some 200ms/2s", function() hog:freeze() end)]] },
  { "sbx.after", "sbx.after(secs, fn) -> handle; sbx.every(secs, fn) -> handle", "Timers of the event loop: fn(handle) once after secs, or every secs until handle:cancel().", [[sbx.every(0.5, function(h) if not p.running then h:cancel() end end)]] },
  { "box:shell", "box:shell([cmd]) -> status",
    "An interactive shell (or cmd) in the sandbox on a new pseudo-terminal: your terminal is in raw mode while it runs and restored after, window size follows, Ctrl-C and Ctrl-Z go to the sandbox.",
    [[sbx.container{ rootfs = sbx.rootfs.busybox() }:shell()]] },
  { "box:spec", "box:spec() -> table", "The whole plan as data (what sbx will do, in order).",
    [[print(sbx.json.encode(box:spec(), 2))]] },
  { "box:close", "box:close()", "Kills what still runs from this box and drops an ephemeral image upper layer; __gc does it too.", [[box:close()]] },
  { "box:diff", "box:diff() -> { {path, kind}... }", "Changes of an image container (added, changed, deleted).", [[for _, c in ipairs(box:diff()) do print(c.kind, c.path) end]] },
  { "box:commit", "box:commit(tag [, config]) -> image", "An image container's changes as a new image in the store.", [[box:commit("web:2")]] },
  { "sbx.rootfs.busybox", "sbx.rootfs.busybox() -> path", "A minimal root made from busybox-static, built once into the cache.", [[local root = sbx.rootfs.busybox()]] },
  { "sbx.rootfs.debootstrap", "sbx.rootfs.debootstrap{ suite =, variant =, mirror = } -> path", "A Debian root made by debootstrap, cached.", [[local root = sbx.rootfs.debootstrap{ suite = "bookworm" }]] },
  { "sbx.bind", "sbx.bind(src [, dst] [, { try = true, uid_map =, gid_map =, idmap_recursive = }])", "A read-write bind mount step for mounts = {...}; sbx.ro_bind is read-only. With uid_map and gid_map ({ { inside =, outside =, count = } }) an idmapped mount: a file owned by inside on disk is seen as host id outside.", [[mounts = { sbx.ro_bind("/etc/resolv.conf"), sbx.bind("/srv/data", "/data", { uid_map = m, gid_map = m }) }]] },
  { "sbx.tmpfs", "sbx.tmpfs(dst [, { size =, mode = }])", "A tmpfs mount step.", [[mounts = { sbx.tmpfs("/scratch", { size = "16M" }) }]] },
  { "sbx.device", "sbx.device(dst, node [, { mode =, uid =, gid = }])", "A device node step: \"c 1:7\", \"b 8:0\" or \"p\" (a fifo), made with mknod; in a user namespace the host's node at dst is bound instead. limits.devices decides whether it opens.", [[mounts = { sbx.dev(), sbx.device("/dev/fuse", "c 10:229") }]] },
  { "sbx.cgroup.create", "sbx.cgroup.create{ name =, parent =, limits = } -> sbx.Cgroup", "A cgroup of your own (v1 or v2): g:add(pid), g:set(file, v), g:get(file), g:limit(limits) (new limits on the live group, all or none), g:stat(), g:events(), g:freeze(), g:thaw(), g:kill(), g:remove().", [[local g = sbx.cgroup.create{ limits = { memory = "32M" } }]] },
  { "sbx.cgroup.open", "sbx.cgroup.open(path) -> sbx.Cgroup | nil, err", "An existing group by its path (as p.cgroup shows it).", [[sbx.cgroup.open(p.cgroup):stat()]] },
  { "sbx.image.import", "sbx.image.import(path [, name]) -> image", "A docker-save or OCI archive (or layout directory) into the store; digests checked.", [[sbx.image.import("bb.tar", "bb:1")]] },
  { "sbx.image.list", "sbx.image.list() -> { image... }", "The images in the store (id, tags, layers, created).", [[for _, i in ipairs(sbx.image.list()) do print(i.id, i.tags[1]) end]] },
  { "sbx.net.veth", "sbx.net.veth(a, name, b, peer)", "A veth pair: `name` in a's network namespace, `peer` in b's (a sandbox, a pid, or 0 for sbx's own).", [[sbx.net.veth(a, "eth0", b, "eth0")]] },
  { "sbx.net.address", "sbx.net.address(where, ifname, cidr)", "An IPv4 or IPv6 address on a link inside a sandbox's namespace.", [[sbx.net.address(a, "eth0", "10.0.0.1/24")]] },
  { "sbx.net.create", "sbx.net.create(name) -> path", "A named network namespace at /run/netns/NAME, as `ip netns add` makes it; sbx.net.destroy(name) removes it.", [[sbx.net.create("blue"); sbx.container{ netns = "blue" }:run{ "ip", "link" }]] },
  { "sbx.net.gc", "sbx.net.gc() -> { removed... }", "Removes veths, files, published ports and bridges that killed sbx processes left.", [[sbx.net.gc()]] },
  { "sbx.gc", "sbx.gc() -> { removed... } | nil, err", "Removes what killed sbx processes left: lost detached sandboxes, cgroups, veths, published ports, leases, unused bridges, store scratch. An owner is gone when its recorded identity (boot id + start time) no longer matches its pid.", [[for _, what in ipairs(assert(sbx.gc())) do print(what) end]] },
  { "sbx.list", "sbx.list() -> { sandbox... }", "The long-running sandboxes (sbx run -d --name, box:start): name, status, pid, started, image, ports.", [[for _, s in ipairs(sbx.list()) do print(s.name, s.status) end]] },
  { "sbx.get", "sbx.get(name) -> sandbox | nil, err", "One long-running sandbox: s:exec(cmd), s:stop([secs]), s:kill(sig), s:logs(), s:stats(), s:remove().", [[sbx.get("web"):stop()]] },
  { "sbx.audit", "sbx.audit([pid]) -> table", "What isolates a process: its namespaces (own or the host's), capability sets, seccomp mode and filter count, no_new_privs, cgroup and limits, masked and read-only paths, mounts. Works on any process.", [[print(sbx.audit(p.pid).seccomp.filters)]] },
  { "sbx.seccomp.default", "sbx.seccomp.default() -> policy", "The default seccomp profile as data (also strict()); policy:explain(\"keyctl\") says what it does with one syscall; sbx.seccomp.syscalls() lists the known ones; policy:to_json() writes Docker's format.", [[print(sbx.seccomp.default():explain("clone"))]] },
  { "sbx.seccomp.load_json", "sbx.seccomp.load_json(path [, { caps = }]) -> policy | nil, err", "A Docker/OCI JSON seccomp profile as a policy (entries for capabilities the sandbox will not have, or for other architectures, left out).", [[sbx.container{ seccomp = assert(sbx.seccomp.load_json("/usr/share/containers/seccomp.json")) }]] },
  { "sbx.ns.ids", "sbx.ns.ids([pid]) -> { net = inode, ... }", "Namespace identities of a process (the inode numbers in /proc/PID/ns).", [[print(sbx.ns.ids(p.pid).net ~= sbx.ns.ids().net)]] },
  { "sbx.probe", "sbx.probe(description) -> { { name, ok, outcome, why }... } | nil, err", "The project's attack probe (unshare, mount, keyctl, bpf, ptrace, i386 and x32 calls, /proc writes, ...) run inside a sandbox of the description; for an attack that got through, what in the configuration allowed it. sbx probe [sbx run options] prints it as TAP.", [[for _, r in ipairs(sbx.probe{ rootfs = sbx.rootfs.busybox(), seccomp = "none" }) do if not r.ok then print(r.name, r.why) end end]] },
  { "sbx.features", "sbx.features() -> table", "What this host offers: cgroup layout, user namespaces, time namespaces, overlay, seccomp...", [[print(sbx.features().cgroup)]] },
  { "sbx.size", "sbx.size(text) -> bytes", "Sizes as people type them.", [[sbx.size("64M") --> 67108864]] },
  { "sbx.json", "sbx.json.encode(v [, indent]), sbx.json.decode(text)", "JSON (nlohmann) for plans, inspect output and files.", [[print(sbx.json.encode({ a = 1 }))]] },
  { "sbx.sys", "sbx.sys.unshare, setns, clone, mount, umount, pivot_root, chroot, fork, exec, waitpid, pipe, ...", "The primitives, one-to-one with the syscalls (a new mount namespace is made private at once).", [[sbx.sys.unshare{ "uts" }; sbx.sys.sethostname("x")]] },
  { "pretty", "pretty(value [, { depth =, width = }]) -> text", "How the prompt prints values: nested tables indented, keys sorted, cycles marked.", [[print(pretty(sbx.features()))]] },
  { "help", "help([value | name])", "This text: help() lists everything, help(sbx.container) or help(\"box:run\") one entry.", [[help(sbx.container)]] },
}

-- Every other function of the API, one line each: signature, what it does. help(fn) and help("name")
-- find them; a test checks that every function reachable from sbx has help (an entry above, this
-- list, or the comment above its definition).
M.functions = {
  ["sbx.ro_bind"] = { "sbx.ro_bind(src [, dest] [, { try = true }]) -> step", "A read-only bind of a host path (recursive, nosuid, nodev); try: skipped when src is missing." },
  ["sbx.dev_bind"] = { "sbx.dev_bind(src [, dest] [, { try = true }]) -> step", "A bind whose device nodes stay usable (bwrap's --dev-bind)." },
  ["sbx.proc"] = { "sbx.proc([dest]) -> step", "A fresh /proc of the sandbox's pid namespace (the host's bound where a fresh one is refused)." },
  ["sbx.dev"] = { "sbx.dev([dest]) -> step", "A minimal /dev: null, zero, full, random, urandom, tty, pts, shm, the std links." },
  ["sbx.mqueue"] = { "sbx.mqueue([dest]) -> step", "A POSIX message queue file system of the sandbox's ipc namespace." },
  ["sbx.dirs"] = { "sbx.dirs() -> { runtime =, cache = }", "Where sbx keeps runtime state (/run/sbx for root) and its cache (the busybox root)." },
  ["sbx.every"] = { "sbx.every(secs, fn) -> handle", "Runs fn(handle) every secs seconds while the loop runs (p:wait(), sbx.loop.run()), until handle:cancel()." },
  ["sbx.cgroup.gc"] = { "sbx.cgroup.gc() -> { path... }", "Removes the cgroups of sbx processes that are gone (a killed sbx's), by their recorded owner." },
  ["sbx.cgroup.layout"] = { "sbx.cgroup.layout() -> { layout = \"1\" | \"2\" | \"hybrid\", v2_root =, v2_controllers =, v1 = { memory = ... } }", "Where this host's cgroup hierarchies are mounted, and which controllers cgroup2 has." },
  ["sbx.image.from_dir"] = { "sbx.image.from_dir(dir, \"name:tag\" [, config]) -> image | nil, err", "A one-layer image of a directory tree (owners shifted as a root-run sandbox needs them)." },
  ["sbx.image.import_layer"] = { "sbx.image.import_layer(tar, base | nil, \"name:tag\" [, config]) -> image | nil, err", "An image of base's layers and one tar layer (any compression), checked as it is unpacked." },
  ["sbx.image.get"] = { "sbx.image.get(ref) -> image | nil, err", "An image by name:tag or by id (or a unique id prefix): id, tags, layers, layer_dirs, config, created." },
  ["sbx.image.tag"] = { "sbx.image.tag(ref, \"name:tag\") -> true | nil, err", "Another tag for an image (taken from the image that had it)." },
  ["sbx.image.remove"] = { "sbx.image.remove(ref) -> true | nil, err", "Untags; the image goes with its last tag, or at once when ref is its id." },
  ["sbx.image.prune"] = { "sbx.image.prune{ all =, until = } -> { diff id... } | nil, err", "Deletes untagged images (all: every image no container stands on; until: only older ones: 3600, \"24h\"), then the layers no image uses; waits for imports in progress." },
  ["sbx.image.store_dir"] = { "sbx.image.store_dir() -> path", "The store: /var/lib/sbx for root, ~/.local/share/sbx for a user, $SBX_STATE when set." },
  ["sbx.json.encode"] = { "sbx.json.encode(value [, indent]) -> text", "JSON of Lua data (tables with only 1..n keys are lists; an empty table is a list)." },
  ["sbx.json.decode"] = { "sbx.json.decode(text) -> value", "Lua data of JSON text; raises on bad input, naming the position." },
  ["sbx.loop.call"] = { "sbx.loop.call(fn, ...) -> ok", "Runs fn as the loop runs a handler: an error is reported on stderr, naming where fn is defined, and not raised." },
  ["sbx.net.up"] = { "sbx.net.up(where, ifname) -> true | nil, err", "Sets a link up in the network namespace of where (a sandbox, a pid, or 0 for sbx's own)." },
  ["sbx.net.down"] = { "sbx.net.down(where, ifname) -> true | nil, err", "Sets a link down there." },
  ["sbx.net.links"] = { "sbx.net.links(where) -> { { name =, index =, up =, mtu = }... }", "The links of that network namespace." },
  ["sbx.net.mtu"] = { "sbx.net.mtu(where, ifname, mtu) -> true | nil, err", "Sets a link's MTU." },
  ["sbx.net.route"] = { "sbx.net.route(where, dst, via [, ifname]) -> true | nil, err", "Adds a route (dst \"default\" or a CIDR) through a gateway or out of a link." },
  ["sbx.net.attach"] = { "sbx.net.attach(where, ifname, bridge) -> true | nil, err", "Makes a link a port of a bridge." },
  ["sbx.net.delete"] = { "sbx.net.delete(where, ifname) -> true | nil, err", "Deletes a link (a veth takes its peer with it)." },
  ["sbx.net.destroy"] = { "sbx.net.destroy(name) -> true | nil, err", "Removes a named network namespace (/run/netns/NAME), as ip netns delete." },
  ["sbx.net.namespaces"] = { "sbx.net.namespaces() -> { name... }", "The named network namespaces, as ip netns list." },
  ["sbx.net.ipam.leases"] = { "sbx.net.ipam.leases([subnet]) -> { { address =, owner = pid }... }", "The addresses leased on a bridge's subnet (default: sbx0's), with the pid holding each." },
  ["sbx.net.ipam.release"] = { "sbx.net.ipam.release(address [, subnet]) -> true | nil, err", "Gives a leased address back." },
  ["sbx.rootfs.dir"] = { "sbx.rootfs.dir(path) -> path | nil, err", "A directory checked to be usable as a root (an absolute path to a directory)." },
  ["sbx.seccomp.strict"] = { "sbx.seccomp.strict() -> policy", "The strict profile as data: the default one without the calls most programs do not need (namespaces, mount, ptrace...)." },
  ["sbx.seccomp.syscalls"] = { "sbx.seccomp.syscalls() -> { name... }", "The system call names libseccomp knows on this architecture." },
  ["sbx.sys.unshare"] = { "sbx.sys.unshare(names [, { propagation = \"private\" | \"unchanged\" }]) -> true | nil, err", "unshare(2) of the named namespaces; a new mount namespace is made recursively private at once." },
  ["sbx.sys.setns"] = { "sbx.sys.setns(pid, names) -> true | nil, err", "Joins those namespaces of a process (opened before the first is joined; the user namespace first)." },
  ["sbx.sys.setns_file"] = { "sbx.sys.setns_file(path | fd, name) -> true | nil, err", "Joins the namespace a file holds (/run/netns/NAME, a bind of /proc/PID/ns/KIND)." },
  ["sbx.sys.clone"] = { "sbx.sys.clone{ ns = {...}, fn = function() ... end [, uid_map =, gid_map =] } -> process", "A child in new namespaces running a Lua function (its number result is the exit code): the seeds' clone example." },
  ["sbx.sys.mount"] = { "sbx.sys.mount(source, target, fstype, flags [, data]) -> true | nil, err", "mount(2); flags a list: { \"bind\", \"rec\", \"ro\", \"nosuid\", \"private\", ... } or nil." },
  ["sbx.sys.umount"] = { "sbx.sys.umount(target [, { \"detach\" }]) -> true | nil, err", "umount2(2)." },
  ["sbx.sys.pivot_root"] = { "sbx.sys.pivot_root(new_root, put_old) -> true | nil, err", "pivot_root(2)." },
  ["sbx.sys.chroot"] = { "sbx.sys.chroot(dir) -> true | nil, err", "chroot(2)." },
  ["sbx.sys.chdir"] = { "sbx.sys.chdir(dir) -> true | nil, err", "chdir(2)." },
  ["sbx.sys.fchdir"] = { "sbx.sys.fchdir(fd) -> true | nil, err", "fchdir(2)." },
  ["sbx.sys.sethostname"] = { "sbx.sys.sethostname(name) -> true | nil, err", "sethostname(2) (in a uts namespace of its own)." },
  ["sbx.sys.gethostname"] = { "sbx.sys.gethostname() -> name", "gethostname(2)." },
  ["sbx.sys.ids"] = { "sbx.sys.ids() -> { uid =, euid =, gid =, pid =, ppid = }", "This process's ids." },
  ["sbx.sys.getpid"] = { "sbx.sys.getpid() -> pid", "getpid(2)." },
  ["sbx.sys.fork"] = { "sbx.sys.fork() -> 0 (child) | pid | nil, err", "fork(2), stdio flushed first." },
  ["sbx.sys.exec"] = { "sbx.sys.exec(argv [, env]) -> nil, err", "execvpe(3): PATH searched; returns only on failure." },
  ["sbx.sys.waitpid"] = { "sbx.sys.waitpid(pid) -> { code | signal, status } | nil, err", "Waits for a child; status is the shell's (128+N for signal N)." },
  ["sbx.sys.exit"] = { "sbx.sys.exit(code)", "_exit(2): no Lua cleanup, for a forked child." },
  ["sbx.sys.kill"] = { "sbx.sys.kill(pid [, signal = 15]) -> true | nil, err", "kill(2)." },
  ["sbx.sys.setuid"] = { "sbx.sys.setuid(uid) -> true | nil, err", "setresuid(2) to uid for all three." },
  ["sbx.sys.setgid"] = { "sbx.sys.setgid(gid [, strict]) -> true | nil, err", "setgroups(0) then setresgid(2); strict: a refused setgroups is an error (util-linux's --setgid)." },
  ["sbx.sys.pdeathsig"] = { "sbx.sys.pdeathsig(signal) -> true | nil, err", "PR_SET_PDEATHSIG: the signal this process gets when its parent dies." },
  ["sbx.sys.write_id_maps"] = { "sbx.sys.write_id_maps(pid, uid_map, gid_map [, deny_setgroups = true]) -> true | nil, err", "Writes /proc/PID/uid_map and gid_map (lines \"inside:outside:count\" or tables); pid 0 is this process." },
  ["sbx.sys.keep_caps"] = { "sbx.sys.keep_caps() -> true | nil, err", "Every permitted capability made inheritable and ambient, kept across exec by a non-root id (unshare --keep-caps)." },
  ["sbx.sys.open"] = { "sbx.sys.open(path [, readable]) -> fd | nil, err", "An O_PATH fd of a path (readable: O_RDONLY, as setns needs)." },
  ["sbx.sys.close"] = { "sbx.sys.close(fd)", "close(2)." },
  ["sbx.sys.pipe"] = { "sbx.sys.pipe() -> read_fd, write_fd | nil, err", "pipe2(2) with O_CLOEXEC." },
  ["sbx.sys.read"] = { "sbx.sys.read(fd) -> text", "Everything until EOF." },
  ["sbx.sys.write"] = { "sbx.sys.write(fd, text) -> true | nil, err", "All of text, retried on short writes." },
  ["sbx.sys.symlink"] = { "sbx.sys.symlink(target, path) -> true | nil, err", "symlink(2)." },
  ["sbx.sys.subreaper"] = { "sbx.sys.subreaper(true) -> true | nil, err", "PR_SET_CHILD_SUBREAPER: orphans of descendants become this process's children." },
  ["sbx.sys.daemonize"] = { "sbx.sys.daemonize() -> true | nil, err", "A new session, stdin/stdout/stderr on /dev/null (a background supervisor)." },
  ["sbx.sys.isatty"] = { "sbx.sys.isatty(fd) -> boolean", "isatty(3)." },
}

local function resolve(name)
  if name:find(":") then return nil end  -- methods: found by name only
  -- (the library itself where there is no sbx global: plain luajit, a test file's environment)
  local v = setmetatable({ sbx = rawget(_G, "sbx") or require("sbx") }, { __index = _G })
  for part in name:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

-- An entry's own list (the container's keys, the plan's fields), one line each.
local function entry_lines(e)
  return e[5] and e[5]() or {}
end

local function entry_text(e)
  local lines = entry_lines(e)
  local list = #lines > 0 and ("\n    " .. table.concat(lines, "\n    ") .. "\n") or ""
  return ("%s\n  %s\n%s\n  example:\n    %s\n"):format(e[2], e[3], list, (e[4]:gsub("\n", "\n    ")))
end

function M.text(what)
  if what == nil then
    local lines = { "sbx " .. require("sbx.core").version .. " - help(NAME) or help(value) for one entry:", "" }
    -- the first sentence: up to a "." that ends it (followed by a space), not one inside a name
    for _, e in ipairs(M.entries) do lines[#lines + 1] = ("  %-22s %s"):format(e[1], e[3]:match("^(.-%.)%s") or e[3]) end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "The guide: README.md and docs/ (run, prompt, images, networking, limits, hardening,"
    lines[#lines + 1] = "long-running, lua, tests, speed, architecture); every command and entry: docs/reference.md."
    return table.concat(lines, "\n") .. "\n"
  end
  for _, e in ipairs(M.entries) do
    if e[1] == what or (type(what) ~= "string" and resolve(e[1]) == what) then return entry_text(e) end
  end
  for _, e in ipairs(M.entries) do  -- "run" finds box:run
    if type(what) == "string" and (e[1]:match("[%.:]" .. what:gsub("%p", "%%%0") .. "$")) then return entry_text(e) end
  end
  -- the one-line list, by name or by value
  local fname = type(what) == "string" and (M.functions[what] and what or M.functions["sbx." .. what] and "sbx." .. what)
                or type(what) == "function" and M.name_of(what)
  if fname and M.functions[fname] then
    local f = M.functions[fname]
    return ("%s\n  %s\n"):format(f[1], f[2])
  end
  -- any other function of the library: the comment above its definition (sbx.docs, made at build
  -- time), named by where it is reached from sbx
  if type(what) == "function" then
    local info = debug.getinfo(what, "S")
    local key = info and info.source:gsub("^@", "") .. ":" .. tostring(info.linedefined)
    local ok, docs = pcall(require, "sbx.docs")
    local doc = ok and key and docs[key]
    if doc then
      local name = M.name_of(what) or doc[1]:match("^[^(]+")
      local sig = doc[1]:gsub("^[%w_.:]+", name)
      return ("%s\n  %s\n  (%s)\n"):format(sig, (doc[2]:gsub("\n", "\n  ")), key)
    end
    local name = M.name_of(what)
    if name then
      return nil, ("no help for %s (%s; help() lists the entries, docs/reference.md has every one)"):format(name,
        info.what == "C" and "a function of the core, in C" or "defined at " .. tostring(key))
    end
  end
  return nil, "no help for " .. tostring(what) .. " (help() lists the entries)"
end

-- Where a value is reached from the sbx global: "sbx.net.up" (tables two levels down).
function M.name_of(v)
  local root = rawget(_G, "sbx") or require("sbx")
  local seen = {}
  local function walk(t, path, depth)
    if seen[t] or depth > 3 then return nil end
    seen[t] = true
    local keys = {}
    for k in pairs(t) do if type(k) == "string" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      if rawequal(t[k], v) then return path .. "." .. k end
    end
    for _, k in ipairs(keys) do
      if type(t[k]) == "table" and k:sub(1, 1) ~= "_" then
        local found = walk(t[k], path .. "." .. k, depth + 1)
        if found then return found end
      end
    end
  end
  return walk(root, "sbx", 1)
end

function M.help(what)
  local text, err = M.text(what)
  io.write(text or (err .. "\n"))
end

function M.markdown()
  local out = { "# sbx reference", "", "Generated by `sbx help --markdown` from lua/sbx/help.lua (the same text as `help()`).", "",
                "## Command line", "", "```", (M.usage:gsub("\n$", "")), "```", "",
                "## `sbx run`", "", "```", (require("sbx.cli.run").help():gsub("\n+$", "")), "```", "", "## Lua API", "" }
  for _, e in ipairs(M.entries) do
    out[#out + 1] = "### `" .. e[1] .. "`"
    out[#out + 1] = ""
    out[#out + 1] = "`" .. e[2] .. "`"
    out[#out + 1] = ""
    out[#out + 1] = e[3]
    out[#out + 1] = ""
    local lines = entry_lines(e)
    if #lines > 0 then
      out[#out + 1] = "```"
      for _, l in ipairs(lines) do out[#out + 1] = l end
      out[#out + 1] = "```"
      out[#out + 1] = ""
    end
    out[#out + 1] = "```lua"
    out[#out + 1] = e[4]
    out[#out + 1] = "```"
    out[#out + 1] = ""
  end
  out[#out + 1] = "## Every other function"
  out[#out + 1] = ""
  local names = {}
  for name in pairs(M.functions) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    out[#out + 1] = ("- `%s`: %s"):format(M.functions[name][1], M.functions[name][2])
  end
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

return M
