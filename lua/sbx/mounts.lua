-- Mount steps for a container's `mounts` list. Each returns a plain table (an op of the plan);
-- they run in order inside the new mount namespace, relative to the new root.
local core = require "sbx.core"

local M = {}

local function check_path(fn, what, p, level)
  if type(p) ~= "string" or p:sub(1, 1) ~= "/" then
    error(("sbx.%s: %s must be an absolute path, got %s"):format(fn, what, p == nil and "nil" or ("%q"):format(tostring(p))), level + 1)
  end
end

local function options(fn, opts, allowed, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("sbx.%s: options must be a table"):format(fn), level + 1) end
  for k in pairs(opts) do
    if not allowed[k] then
      local names = {}
      for a in pairs(allowed) do names[#names + 1] = a end
      table.sort(names)
      error(("sbx.%s: unknown option '%s' (expected %s)"):format(fn, tostring(k), table.concat(names, ", ")), level + 1)
    end
  end
  return opts
end

local function binder(fn, kind)
  return function(source, dest, opts)
    check_path(fn, "source", source, 2)
    dest = dest or source
    check_path(fn, "destination", dest, 2)
    opts = options(fn, opts, { try = true, uid_map = true, gid_map = true, idmap_recursive = true }, 2)
    if (opts.uid_map == nil) ~= (opts.gid_map == nil) then
      error(("sbx.%s: an idmapped bind takes uid_map and gid_map both"):format(fn), 2)
    end
    return { kind = kind, source = source, dest = dest, optional = opts.try or nil, uid_map = opts.uid_map,
             gid_map = opts.gid_map, idmap_recursive = opts.idmap_recursive }
  end
end

-- sbx.bind(src [, dest] [, { try = true }]): a read-write bind of a host path. With
-- { uid_map = { { inside =, outside =, count = } }, gid_map = ... } an idmapped mount: a file owned
-- by `inside` on disk is seen as owned by host id `outside` (idmap_recursive: its submounts too).
M.bind = binder("bind", "bind")
-- sbx.ro_bind(src [, dest] [, { try = true }]): the same, read-only (recursively).
M.ro_bind = binder("ro_bind", "ro-bind")
-- sbx.dev_bind(src [, dest]): a bind that keeps device nodes usable.
M.dev_bind = binder("dev_bind", "dev-bind")

-- sbx.tmpfs(dest [, { size = "16M", mode = 493 }])
function M.tmpfs(dest, opts)
  check_path("tmpfs", "destination", dest, 2)
  opts = options("tmpfs", opts, { size = true, mode = true }, 2)
  local size
  if opts.size ~= nil then
    local n, err = core.parse_size(opts.size)
    if not n then error("sbx.tmpfs: " .. err, 2) end
    if n == 0 then error("sbx.tmpfs: size 0 would mean no limit at all on a tmpfs (give a size such as 16M, or none)", 2) end
    size = n
  end
  return { kind = "tmpfs", dest = dest, size = size, mode = opts.mode }
end

local function filesystem(fn, kind, default)
  return function(dest)
    dest = dest or default
    check_path(fn, "destination", dest, 2)
    return { kind = kind, dest = dest }
  end
end

-- sbx.proc([dest]): a fresh procfs (of the sandbox's pid namespace), at /proc by default.
M.proc = filesystem("proc", "proc", "/proc")
-- sbx.dev([dest]): a minimal /dev: null zero full random urandom tty, a new devpts, shm.
M.dev = filesystem("dev", "dev", "/dev")
-- sbx.mqueue([dest]): a POSIX message queue filesystem (of the sandbox's ipc namespace).
M.mqueue = filesystem("mqueue", "mqueue", "/dev/mqueue")

-- sbx.mkdir(dest [, mode])
function M.mkdir(dest, mode)
  check_path("mkdir", "destination", dest, 2)
  if mode ~= nil and type(mode) ~= "number" then error("sbx.mkdir: mode must be a number", 2) end
  return { kind = "mkdir", dest = dest, mode = mode }
end

-- sbx.symlink(target, dest): dest -> target
function M.symlink(target, dest)
  if type(target) ~= "string" or target == "" then error("sbx.symlink: target must be a non-empty string", 2) end
  check_path("symlink", "destination", dest, 2)
  return { kind = "symlink", source = target, dest = dest }
end

-- sbx.file(dest, contents [, mode]): writes a file inside the new root.
function M.file(dest, contents, mode)
  check_path("file", "destination", dest, 2)
  if type(contents) ~= "string" then error("sbx.file: contents must be a string", 2) end
  return { kind = "file", dest = dest, source = contents, mode = mode }
end

-- sbx.device(dest, node [, { mode = 438, uid =, gid = }]): a device node, "c 1:7", "b 8:0" or "p"
-- (a fifo); in a user namespace, where mknod is not allowed, the host's node at dest is bound.
-- Opening it is still up to limits.devices.
function M.device(dest, node, opts)
  check_path("device", "destination", dest, 2)
  if type(node) ~= "string" then error('sbx.device: node must be a string like "c 1:7"', 2) end
  opts = options("device", opts, { mode = true, uid = true, gid = true }, 2)
  return { kind = "device", dest = dest, source = node, mode = opts.mode, uid = opts.uid, gid = opts.gid }
end

-- sbx.remount_ro(dest): makes an already mounted path read-only.
function M.remount_ro(dest)
  check_path("remount_ro", "destination", dest, 2)
  return { kind = "remount-ro", dest = dest }
end

return M
