-- sbx diff / promote / discard: the changes a run made to a review workspace (sbx run --workspace).
local ws = require "sbx.workspace"

local M = {}

local function open(cmd, name)
  if name and name:sub(1, 1) == "-" then
    io.stderr:write(("sbx %s: unknown option %s (sbx %s --help)\n"):format(cmd, name, cmd))
    return nil, 2
  end
  if not name then
    io.stderr:write(("sbx %s: expected a workspace name (sbx diff lists them)\n"):format(cmd))
    return nil
  end
  local w, err = ws.open(name)
  if not w then io.stderr:write("sbx ", cmd, ": ", err, "\n") end
  return w
end

local function usage(cmd)
  local u = {
    diff = "usage: sbx diff [NAME [--patch] [PATH...]]\n\nThe changes a run made to workspace NAME (A added, M modified, D deleted, C mode changed);\n--patch: as a unified diff of the text files. Without NAME: the workspaces kept.\n",
    promote = "usage: sbx promote NAME [PATH...]\n\nApplies the changes to the host directory (all, or those under each PATH): written beside each\ntarget and renamed over it, deletions as deletions, symlinks as symlinks, setuid/setgid dropped,\ndevice nodes refused; nothing is applied when a target changed on the host since the run started.\nThe workspace stays until sbx discard NAME.\n",
    discard = "usage: sbx discard NAME\n\nDrops the workspace's changes (its directory is removed; the host's directory is untouched).\n",
  }
  return u[cmd]
end

function M.diff(args)
  if args[1] == "--help" or args[1] == "-h" then io.write(usage("diff")); return 0 end
  if not args[1] then
    for _, w in ipairs(ws.list()) do
      local n = #(w:changes() or {})
      io.write(("%-16s %4d change%s  %s -> %s\n"):format(w.name, n, n == 1 and " " or "s", w.dir, w.dest))
    end
    return 0
  end
  local w, code = open("diff", args[1])
  if not w then return code or 1 end
  local patch, paths = false, {}
  for i = 2, #args do
    if args[i] == "--patch" or args[i] == "-p" then patch = true
    elseif args[i]:sub(1, 1) == "-" then io.stderr:write("sbx diff: unknown option ", args[i], "\n", usage("diff")); return 2
    else paths[#paths + 1] = args[i] end
  end
  if patch then
    local text, err = w:patch(paths)
    if not text then io.stderr:write("sbx diff: ", err, "\n"); return 1 end
    io.write(text)
    return 0
  end
  local changes, err = w:changes()
  if not changes then io.stderr:write("sbx diff: ", err, "\n"); return 1 end
  io.write(ws.format(changes))
  return 0
end

function M.promote(args)
  if args[1] == "--help" or args[1] == "-h" then io.write(usage("promote")); return 0 end
  local w, code = open("promote", args[1])
  if not w then return code or 1 end
  local paths = {}
  for i = 2, #args do
    if args[i]:sub(1, 1) == "-" then io.stderr:write("sbx promote: unknown option ", args[i], "\n", usage("promote")); return 2 end
    paths[#paths + 1] = args[i]
  end
  local out, err = w:promote{ paths = paths }
  if not out then io.stderr:write("sbx ", (err:gsub("^promote: ", "promote: ")), "\n"); return 1 end
  local failed = 0
  for _, o in ipairs(out) do
    if o.applied then io.write("promoted ", o.path, "\n")
    else failed = failed + 1; io.stderr:write("sbx promote: ", o.path, ": ", o.why or "?", "\n") end
  end
  if #out == 0 then io.write("nothing to promote\n") end
  return failed > 0 and 1 or 0
end

function M.discard(args)
  if args[1] == "--help" or args[1] == "-h" then io.write(usage("discard")); return 0 end
  if args[2] then io.stderr:write("sbx discard: one workspace at a time, got ", args[2], "\n"); return 2 end
  local w, code = open("discard", args[1])
  if not w then return code or 1 end
  local ok, err = w:discard()
  if not ok then io.stderr:write("sbx discard: ", err, "\n"); return 1 end
  io.write("discarded ", w.name, "\n")
  return 0
end

return M
