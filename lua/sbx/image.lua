-- sbx.image: the local image store (content-addressed layers, manifests, tags) under
-- sbx.image.store_dir() (/var/lib/sbx for root; $SBX_STATE overrides).
--   sbx.image.from_dir(dir, "name:tag" [, config])       a one-layer image of a directory tree
--   sbx.image.import_layer("layer.tar", base, "name:tag") an image of base's layers + a tar layer
--   sbx.image.get(ref)  sbx.image.list()  sbx.image.tag(ref, tag)  sbx.image.remove(ref)
--   sbx.image.prune{ all =, until = }   -> the layers no image uses, deleted (untagged images
--                       first; all: tagged ones too when no container stands on them; until:
--                       only images older than that: 3600, "24h"); it waits for imports in progress
-- A container made with { image = ref } has its own upper layer: box:diff(), box:commit(tag).
local core = require "sbx.core"
local I = core.image

local M = {}

local function need_string(fn, what, v, level)
  if type(v) ~= "string" or v == "" then error(("sbx.image.%s: %s must be a string"):format(fn, what), level + 1) end
end

function M.from_dir(dir, tag, config)
  need_string("from_dir", "dir", dir, 2)
  return I.from_dir(dir, tag, config)
end

function M.import_layer(path, base, tag, config)
  need_string("import_layer", "path", path, 2)
  return I.import_layer(path, base, tag, config)
end

function M.get(ref)
  need_string("get", "ref", ref, 2)
  return I.get(ref)
end

function M.tag(ref, tag)
  need_string("tag", "ref", ref, 2)
  need_string("tag", "tag", tag, 2)
  return I.tag(ref, tag)
end

function M.remove(ref)
  need_string("remove", "ref", ref, 2)
  return I.remove(ref)
end

-- import(path [, name]): a docker save tarball or an OCI layout (directory or tar, gzip or not);
-- returns the images. Digests are verified; hostile archives are refused.
function M.import(path, name)
  need_string("import", "path", path, 2)
  return I.import(path, name)
end

-- export(ref, path [, "oci-archive" | "docker-archive"]): for podman load / docker load.
function M.export(ref, path, format)
  need_string("export", "ref", ref, 2)
  need_string("export", "path", path, 2)
  if format ~= nil and format ~= "oci-archive" and format ~= "docker-archive" then
    error("sbx.image.export: format must be \"oci-archive\" or \"docker-archive\"", 2)
  end
  return I.export(ref, path, format)
end

-- commit(box, "name:tag"): the same as box:commit(tag).
function M.commit(box, tag, config)
  if type(box) ~= "table" or type(box.commit) ~= "function" then error("sbx.image.commit: expected a box", 2) end
  return box:commit(tag, config)
end

M.list = I.list
function M.prune(opts)
  if opts ~= nil and type(opts) ~= "table" then error("sbx.image.prune: expected { all =, until = } or nothing", 2) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "all" and k ~= "until" then error(("sbx.image.prune: unknown key '%s' (all, until)"):format(tostring(k)), 2) end
  end
  local age
  if opts["until"] ~= nil then
    local n, err = require("sbx.core").parse_seconds(opts["until"])
    if not n then error("sbx.image.prune: until: " .. err, 2) end
    age = n
  end
  return I.prune({ all = opts.all and true or false, ["until"] = age })
end
-- store_dir([dir]): the store's directory; with an argument, use that store from now on.
M.store_dir = I.store_dir

return M
