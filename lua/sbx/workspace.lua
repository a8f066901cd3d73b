-- Workspaces: a host directory a sandbox works on through an overlay whose upper directory keeps
-- every change; the host's directory is never written during the run. Afterwards the changes are
-- reviewed (diff, patch) and chosen ones promoted to the host directory, or discarded.
--   sbx.container{ workspace = { dir = "/src/proj", dest =, mode = "review" | "ro" | "rw", name = } }
--   sbx run --workspace DIR[:DEST]; sbx diff NAME [--patch]; sbx promote NAME [PATH...]; sbx discard NAME
-- Each review workspace lives in <state dir>/workspaces/NAME: upper/ and work/ (the overlay's, owned
-- by the sandbox's root) and workspace.json (the host directory, where it is seen, when the first
-- run started: a host file changed after that is never overwritten by promote).
local core = require "sbx.core"
local json = core.json

local M = {}

local Workspace = {}
Workspace.__index = Workspace

function M.dir() return core.image.store_dir() .. "/workspaces" end

-- (the names of long-running sandboxes: the same rules)
local names = require "sbx.sandboxes"
local valid_name = names.valid_name
function M.generated_name() return names.generated_name("ws-") end

-- The description's workspace = value, checked -> { dir =, dest =, mode =, name = }
function M.check(v, level)
  level = (level or 1) + 1
  if type(v) == "string" then v = { dir = v } end
  if type(v) ~= "table" then error('workspace: expected a directory or { dir = "/path", dest =, mode = "review" | "ro" | "rw", name = }', level) end
  for k in pairs(v) do
    if k ~= "dir" and k ~= "dest" and k ~= "mode" and k ~= "name" then
      error(("workspace: unknown key '%s' (expected dir, dest, mode, name)"):format(tostring(k)), level)
    end
  end
  if type(v.dir) ~= "string" or v.dir:sub(1, 1) ~= "/" then error("workspace.dir: expected an absolute path", level) end
  local real, kind, uid, gid = core.realpath(v.dir)
  if not real then error(("workspace.dir: %s"):format(kind), level) end
  if kind ~= "dir" then error(("workspace.dir: %s is not a directory"):format(v.dir), level) end
  local mode = v.mode or "review"
  if mode ~= "review" and mode ~= "ro" and mode ~= "rw" then error(('workspace.mode: "%s" (expected "review", "ro" or "rw")'):format(tostring(mode)), level) end
  local dest = v.dest or v.dir
  if type(dest) ~= "string" or dest:sub(1, 1) ~= "/" then error("workspace.dest: expected an absolute path", level) end
  if v.name ~= nil and not valid_name(v.name) then error(("workspace.name: '%s': letters, digits, '_', '.', '-' (at most 64)"):format(tostring(v.name)), level) end
  return { dir = real, dest = dest, mode = mode, name = v.name, uid = uid, gid = gid }
end

-- The mount step of a checked workspace in a plan: a bind (ro, rw) or the overlay, whose lower is
-- seen as owned by the payload when the sandbox's ids are not the host's (an idmapped lower: the
-- owner of the directory on disk is the payload's id outside).
function M.op(ws, plan)
  local op
  if ws.mode ~= "review" then
    op = { kind = ws.mode == "ro" and "ro-bind" or "bind", source = ws.dir, dest = ws.dest }
  else
    local path = M.dir() .. "/" .. ws.name
    op = { kind = "overlay", source = ws.dir, dest = ws.dest, upper = path .. "/upper", work = path .. "/work" }
  end
  local function outside(map, id)
    for _, e in ipairs(map or {}) do
      if id >= e.inside and id < e.inside + (e.count or 1) then return e.outside + (id - e.inside) end
    end
  end
  -- (the supervisor then opens the directory, whose path the sandbox's root may not reach, as
  -- under a 0700 home; a user's own directory needs none: it is theirs inside too, and a user may
  -- not idmap a host file system)
  if plan.uid_map and core.sys.ids().uid == 0 then
    local ou, og = outside(plan.uid_map, plan.uid or 0), outside(plan.gid_map, plan.gid or 0)
    if (ou or ws.uid) ~= ws.uid or (og or ws.gid) ~= ws.gid then
      op.uid_map = { { inside = ws.uid, outside = ou or ws.uid, count = 1 } }
      op.gid_map = { { inside = ws.gid, outside = og or ws.gid, count = 1 } }
    end
  end
  return op
end

local function load(name)
  local path = M.dir() .. "/" .. name
  local text = core.read_file(path .. "/workspace.json")
  if not text then return nil, ("workspace %s: no such workspace (sbx diff lists none; sbx run --workspace DIR makes one)"):format(name) end
  local ok, meta = pcall(json.decode, text)
  if not ok or type(meta) ~= "table" then return nil, ("workspace %s: %s/workspace.json is not readable"):format(name, path) end
  return setmetatable({ name = name, path = path, upper = path .. "/upper", work = path .. "/work",
                        dir = meta.dir, dest = meta.dest, started = meta.started, created = meta.created }, Workspace)
end

function M.open(name)
  if not valid_name(name) then return nil, ("workspace: '%s' is not a workspace name"):format(tostring(name)) end
  return load(name)
end

-- The workspaces in the state directory, sorted by name.
function M.list()
  local out = {}
  for _, name in ipairs(core.list_dir(M.dir())) do
    local w = valid_name(name) and load(name)
    if w then out[#out + 1] = w end
  end
  return out
end

-- Makes NAME's directories (refused when it exists) and records its start -> workspace | nil, err
function M.create(name, dir, dest)
  local path, err = core.image.workspace_dirs(name, dir)
  if not path then return nil, err end
  local meta = { name = name, dir = dir, dest = dest, started = core.coarse_now(), created = os.time() }
  local ok, werr = core.write_file(path .. "/workspace.json", json.encode(meta, 2))
  if not ok then core.image.remove_tree(path); return nil, werr end
  return load(name)
end

-- The changes, sorted by path: { kind = "A"|"M"|"D"|"C", path =, type =, mode =, size =, ... }
function Workspace:changes()
  return core.workspace_changes(self.upper, self.dir)
end

local function wanted(c, paths)
  for _, p in ipairs(paths) do
    p = p:gsub("^/+", ""):gsub("/+$", "")
    if c.path == p or c.path:sub(1, #p + 1) == p .. "/" then return true end
  end
  return false
end

-- promote{ paths = { "src", "README" } | filter = fn(change) -> bool } (nothing given: all) ->
-- outcomes { { path =, applied =, why = } } | nil, err (nothing applied)
function Workspace:promote(opts)
  opts = opts or {}
  local all, err = self:changes()
  if not all then return nil, err end
  local chosen = {}
  for _, c in ipairs(all) do
    local take = true
    if opts.paths and #opts.paths > 0 then take = wanted(c, opts.paths) end
    if take and opts.filter then take = opts.filter(c) and true or false end
    if take then chosen[#chosen + 1] = c end
  end
  if opts.paths then
    for _, p in ipairs(opts.paths) do
      local any = false
      for _, c in ipairs(chosen) do any = any or wanted(c, { p }) end
      if not any then return nil, ("promote %s: %s has no change (sbx diff %s lists them)"):format(self.name, p, self.name) end
    end
  end
  if #chosen == 0 then return {} end
  return core.promote(self.upper, self.dir, chosen, self.started)
end

-- The unified diff of the text files changed (GNU diff; binary files are named, not shown).
function Workspace:patch(paths)
  local changes, err = self:changes()
  if not changes then return nil, err end
  local out = {}
  local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  for _, c in ipairs(changes) do
    if (c.type == "file" or c.kind == "D") and c.kind ~= "C" and (not paths or #paths == 0 or wanted(c, paths)) then
      local old = (c.kind == "A" or c.old_type) and "/dev/null" or (self.dir .. "/" .. c.path)
      local new = c.kind == "D" and "/dev/null" or (self.upper .. "/" .. c.path)
      if c.kind == "D" and c.type ~= "file" then old = nil end
      if old then
        local p = io.popen(("diff -u --label %s --label %s -- %s %s 2>&1"):format(q("a/" .. c.path), q("b/" .. c.path), q(old), q(new)))
        out[#out + 1] = p:read("*a")
        p:close()
      end
    end
  end
  return table.concat(out)
end

function Workspace:discard()
  return core.image.remove_tree(self.path)
end

-- "A  src/new.c (12 bytes)" lines, as sbx diff prints them.
function M.format(changes)
  local lines = {}
  for _, c in ipairs(changes) do
    local what
    if c.kind == "C" then
      what = ("mode %04o -> %04o"):format(c.old_mode, c.mode)
    elseif c.kind == "D" then
      what = c.type
    elseif c.type == "symlink" then
      what = "symlink -> " .. (c.target or "?")
    elseif c.type == "file" then
      what = c.kind == "M" and c.old_type == nil and ("%d -> %d bytes"):format(c.old_size, c.size) or ("%d bytes"):format(c.size)
    else
      what = c.type
    end
    if c.old_type then what = what .. " (was a " .. c.old_type .. ")" end
    if c.type ~= "symlink" and math.floor(c.mode / 1024) % 4 > 0 then what = what .. ", setuid/setgid (dropped on promote)" end
    if c.type == "device" or c.type == "fifo" or c.type == "socket" then what = what .. " (never promoted)" end
    lines[#lines + 1] = ("%s  %s  %s"):format(c.kind, c.path, what)
  end
  return table.concat(lines, "\n") .. (#lines > 0 and "\n" or "")
end

-- Secrets of a home that a tool has no business reading: keys, tokens, credentials, browser
-- profiles (relative to each home).
M.SECRETS = { ".ssh", ".gnupg", ".aws", ".azure", ".config/gcloud", ".config/gh", ".config/hub", ".netrc",
              ".git-credentials", ".docker/config.json", ".kube", ".npmrc", ".pypirc", ".cargo/credentials.toml",
              ".password-store", ".local/share/keyrings", ".mozilla", ".config/google-chrome",
              ".config/chromium", ".config/BraveSoftware", ".thunderbird" }

-- The homes on this host: the caller's, root's and each under /home.
local function homes()
  local seen, out = {}, {}
  local function add(h) if h and h ~= "" and h ~= "/" and not seen[h] then seen[h] = true; out[#out + 1] = h end end
  add(os.getenv("HOME"))
  add("/root")
  for _, n in ipairs(core.list_dir("/home")) do add("/home/" .. n) end
  return out
end

-- hide = value -> the absolute paths to mask ("secrets": M.SECRETS of every home).
function M.hidden(hide, level)
  level = (level or 1) + 1
  if hide == nil or hide == false then return {} end
  local list = type(hide) == "table" and hide or { hide }
  local out = {}
  for i, p in ipairs(list) do
    if p == "secrets" then
      for _, h in ipairs(homes()) do
        for _, s in ipairs(M.SECRETS) do out[#out + 1] = h .. "/" .. s end
      end
    elseif type(p) == "string" and p:sub(1, 2) == "~/" and os.getenv("HOME") then
      out[#out + 1] = os.getenv("HOME") .. p:sub(2)
    elseif type(p) == "string" and p:sub(1, 1) == "/" and not p:find("/%.%./") and not p:match("/%.%.$") then
      out[#out + 1] = p
    else
      error(("hide[%d]: '%s' is not an absolute path, ~/path or \"secrets\""):format(i, tostring(p)), level)
    end
  end
  return out
end

-- home = "tmpfs" | DIR | false, with the plan's env -> the mount steps: a fresh tmpfs (or DIR bound)
-- at the sandbox's $HOME, and, on the host's root, the host user's own home covered too.
function M.home_ops(home, env, host_root, level)
  level = (level or 1) + 1
  if home == nil or home == false then return {} end
  local inside
  for _, e in ipairs(env or {}) do inside = e:match("^HOME=(.*)$") or inside end
  local ops = {}
  local mine = os.getenv("HOME")
  if host_root and mine and mine ~= "/" and mine ~= inside then
    ops[#ops + 1] = { kind = "tmpfs", dest = mine, mode = 448 }  -- 0700
  end
  if not inside or inside == "/" or inside == "" then return ops end
  if home == "tmpfs" then
    ops[#ops + 1] = { kind = "tmpfs", dest = inside, mode = 448 }
  elseif type(home) == "string" and home:sub(1, 1) == "/" then
    ops[#ops + 1] = { kind = "bind", source = home, dest = inside }
  else
    error(('home: "%s" (expected "tmpfs", an absolute directory or false)'):format(tostring(home)), level)
  end
  return ops
end

M.Workspace = Workspace
return M
