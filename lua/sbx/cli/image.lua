-- sbx image ls|inspect|tag|rm|prune|from-dir|import-layer: the local image store from the shell.
local sbx = require "sbx"

local M = {}

local USAGE = [[
usage: sbx image ls                           images: id, tags, layers, created
       sbx image inspect REF                  one image as JSON
       sbx image tag REF NAME[:TAG]           another tag for an image
       sbx image rm REF...                    untag (the image goes with its last tag, or by id)
       sbx image prune [-a|--all] [--filter until=DURATION]   delete untagged images (-a: every image no
                                              container stands on), then layers no image uses
       sbx image from-dir DIR NAME[:TAG]      a one-layer image of a directory tree
       sbx image import-layer TAR NAME[:TAG] [--base REF]   a layer (tar, any compression) on top of REF
       sbx image import FILE|DIR [NAME]       a docker save tarball or an OCI layout (dir or tar)
       sbx image export REF FILE [--format oci-archive|docker-archive]
The store is ]] .. "%s" .. [[ ($SBX_STATE overrides).
]]

local function fail(msg, code)
  io.stderr:write("sbx image: ", msg, "\n")
  return code or 1
end

local function short(id) return (id:gsub("^sha256:", "")):sub(1, 12) end

-- each option and the subcommand it belongs to (true: it takes a value)
local OPTIONS = { ["--base"] = { "import-layer", true }, ["--format"] = { "export", true },
                  ["--all"] = { "prune", false }, ["-a"] = { "prune", false }, ["--filter"] = { "prune", true } }

function M.main(args)
  local cmd = args[1]
  -- sbx image SUB --help: that subcommand's lines of the usage, nothing done
  for i = 2, #args do
    if args[i] == "--help" or args[i] == "-h" then
      local lines = {}
      for line in USAGE:format(sbx.image.store_dir()):gmatch("[^\n]+") do
        if line:find("sbx image " .. cmd:gsub("%p", "%%%0") .. "%f[%s]") then lines[#lines + 1] = line end
      end
      if #lines == 0 then return fail(("%s: no such subcommand (sbx image --help lists them)"):format(cmd), 2) end
      io.write("usage: ", (table.concat(lines, "\n"):gsub("^%s*usage: ", ""):gsub("^%s+", "")), "\n")
      return 0
    end
  end
  -- the options (--base REF, --format F) anywhere after the subcommand; the rest in order
  local pos, opt = { cmd }, {}
  local i = 2
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    local o = OPTIONS[name]
    if o then
      if cmd ~= o[1] then return fail(("%s: %s is an option of sbx image %s"):format(tostring(cmd), name, o[1]), 2) end
      if o[2] then
        if not value then i = i + 1; value = args[i] end
        if not value then return fail(("%s: %s needs a value"):format(cmd, name), 2) end
      elseif value then
        return fail(("%s: %s takes no value"):format(cmd, name), 2)
      end
      opt[name] = value or true
    elseif a:match("^%-.") then
      return fail(("%s: unknown option '%s' (sbx image %s --help)"):format(tostring(cmd), a, tostring(cmd)), 2)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  args = pos
  if cmd == nil or cmd == "--help" or cmd == "-h" then
    io.write(USAGE:format(sbx.image.store_dir()))
    return cmd == nil and 2 or 0
  end
  if cmd == "ls" or cmd == "list" then
    io.write(("%-14s %-30s %6s  %s\n"):format("IMAGE ID", "TAGS", "LAYERS", "CREATED"))
    for _, img in ipairs(sbx.image.list()) do
      io.write(("%-14s %-30s %6d  %s\n"):format(short(img.id), table.concat(img.tags, ","), #img.layers, img.created))
    end
    return 0
  elseif cmd == "inspect" then
    if not args[2] then return fail("inspect: which image?", 2) end
    local img, err = sbx.image.get(args[2])
    if not img then return fail(err) end
    io.write(sbx.json.encode(img, 2), "\n")
    return 0
  elseif cmd == "tag" then
    if not args[3] then return fail("tag: expected REF NAME[:TAG]", 2) end
    local ok, err = sbx.image.tag(args[2], args[3])
    if not ok then return fail(err) end
    return 0
  elseif cmd == "rm" then
    if not args[2] then return fail("rm: which image?", 2) end
    local rc = 0
    for i = 2, #args do
      local ok, err = sbx.image.remove(args[i])
      if ok then io.write("untagged ", args[i], "\n") else rc = fail(err) end
    end
    return rc
  elseif cmd == "prune" then
    local age
    if opt["--filter"] then
      age = opt["--filter"]:match("^until=(.+)$")
      if not age then return fail(("prune: --filter %s: expected until=DURATION (24h, 90m, 3600)"):format(opt["--filter"]), 2) end
    end
    local pok, removed, err = pcall(sbx.image.prune, { all = opt["--all"] or opt["-a"], ["until"] = age })
    if not pok then return fail(("prune: --filter until=%s: %s"):format(age, (tostring(removed):gsub("^.*until: ", ""))), 2) end
    if not removed then return fail(err) end
    for _, l in ipairs(removed) do io.write("deleted layer ", l, "\n") end
    return 0
  elseif cmd == "from-dir" then
    if not args[3] then return fail("from-dir: expected DIR NAME[:TAG]", 2) end
    local img, err = sbx.image.from_dir(args[2], args[3])
    if not img then return fail(err) end
    io.write(img.id, "\n")
    return 0
  elseif cmd == "import-layer" then
    if not args[3] then return fail("import-layer: expected TAR NAME[:TAG] [--base REF]", 2) end
    local base = opt["--base"]
    local img, err = sbx.image.import_layer(args[2], base, args[3])
    if not img then return fail(err) end
    io.write(img.id, "\n")
    return 0
  elseif cmd == "import" then
    if not args[2] then return fail("import: expected FILE|DIR [NAME]", 2) end
    local imgs, err = sbx.image.import(args[2], args[3])
    if not imgs then return fail(err) end
    for _, img in ipairs(imgs) do io.write(img.id, " ", table.concat(img.tags, ","), "\n") end
    return 0
  elseif cmd == "export" then
    if not args[3] then return fail("export: expected REF FILE [--format oci-archive|docker-archive]", 2) end
    local format = opt["--format"]
    if format and format ~= "oci-archive" and format ~= "docker-archive" then
      return fail(("export: --format %s: expected oci-archive (podman load, skopeo) or docker-archive (docker load)"):format(format), 2)
    end
    local ok, err = sbx.image.export(args[2], args[3], format)
    if not ok then return fail(err) end
    return 0
  end
  return fail("unknown command '" .. tostring(cmd) .. "' (ls, inspect, tag, rm, prune, from-dir, import-layer, import, export)", 2)
end

return M
