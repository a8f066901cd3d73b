-- sbx.rootfs: root filesystems made without a registry (LXC's templates idea).
--   sbx.rootfs.busybox()                        busybox-static's applets, built once into the cache
--   sbx.rootfs.debootstrap{ suite = "bookworm", variant = "minbase" [, mirror =] }   Debian, cached
--   sbx.rootfs.dir(path)                        an existing directory, checked
local core = require "sbx.core"

local M = {}

function M.busybox(busybox)
  local path, err, errno = core.busybox_rootfs(busybox)
  if not path then return nil, err, errno end
  return path
end

function M.dir(path)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
    error("sbx.rootfs.dir: expected an absolute path, got " .. tostring(path), 2)
  end
  local f = io.open(path .. "/.")
  if not f then return nil, "rootfs " .. path .. ": no such directory", 2 end
  f:close()
  return path
end

-- The mirror apt uses on this machine, else deb.debian.org.
local function default_mirror()
  for _, file in ipairs({ "/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list" }) do
    local text = core.read_file(file)
    if text then
      local uri = text:match("\nURIs:%s*(%S+)") or text:match("^URIs:%s*(%S+)") or text:match("\ndeb%s+(http%S+)") or text:match("^deb%s+(http%S+)")
      if uri then return uri end
    end
  end
  return "http://deb.debian.org/debian"
end

local DEBOOTSTRAP_KEYS = { suite = true, variant = true, mirror = true }

-- debootstrap{ suite =, variant = "minbase", mirror = } -> path | nil, message
-- Runs Debian's debootstrap once into the cache (its output on a terminal, a log otherwise).
function M.debootstrap(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("sbx.rootfs.debootstrap: expected a table { suite =, variant = }", 2) end
  for k in pairs(opts) do
    if not DEBOOTSTRAP_KEYS[k] then error("sbx.rootfs.debootstrap: unknown key '" .. tostring(k) .. "' (expected mirror, suite, variant)", 2) end
  end
  local suite, variant = opts.suite or "bookworm", opts.variant or "minbase"
  for _, v in ipairs({ suite, variant }) do
    if type(v) ~= "string" or not v:match("^[%w%.%-]+$") then error("sbx.rootfs.debootstrap: bad suite or variant '" .. tostring(v) .. "'", 2) end
  end
  local mirror = opts.mirror or default_mirror()
  if type(mirror) ~= "string" or not mirror:match("^https?://[%w%.%-:/_~]+$") then error("sbx.rootfs.debootstrap: bad mirror '" .. tostring(mirror) .. "'", 2) end
  -- built by the core: debootstrap runs without a shell, its output on a terminal, a log otherwise
  local path, err, errno = core.debootstrap_rootfs(suite, variant, mirror, not core.sys.isatty(2))
  if not path then return nil, err, errno end
  return path
end

return M
