-- The sbx command line. Every mode reaches the same Lua API (and so the same core path).
local M = {}

-- (loaded when needed: sbx.help holds the whole reference, which a plain start has no use for)
local function USAGE() return require("sbx.help").usage end

-- The long-running sandboxes' commands (sbx.cli.sandboxes; its M.options has one entry each,
-- which completion and the man page read too: a test keeps the two lists equal)
local SANDBOX_COMMANDS = {}
for _, c in ipairs({ "ps", "inspect", "logs", "exec", "stop", "kill", "rm", "stats", "wait", "port", "top",
                     "pause", "unpause", "rename", "events", "cp" }) do SANDBOX_COMMANDS[c] = true end
M.sandbox_commands = SANDBOX_COMMANDS

local function run_chunk(chunk, name, args)
  local sbx = require "sbx"
  _G.sbx = sbx
  _G.arg = args
  -- the prompt's helpers, as the README uses them in scripts (loaded on first use)
  _G.pretty = _G.pretty or function(...) return require("sbx.repl").pretty(...) end
  _G.help = _G.help or function(...) return require("sbx.help").help(...) end
  local ok, res = xpcall(function()
    local r = chunk(unpack(args))
    -- A recipe returns { description = ..., run = function(args) ... end }: run it.
    if type(r) == "table" and type(r.run) == "function" then return r.run(args) end
    return r
  end, function(e)
    return debug.traceback(tostring(e), 2)
  end)
  if not ok then
    io.stderr:write("sbx: ", name, ": ", tostring(res), "\n")
    return 1
  end
  return type(res) == "number" and res or 0
end

local function script(path, rest)
  local chunk, err = loadfile(path)
  if not chunk then io.stderr:write("sbx: ", err, "\n"); return 1 end
  local args = { [0] = path }
  for i, a in ipairs(rest) do args[i] = a end
  return run_chunk(chunk, path, args)
end

local function repl()
  return require("sbx.repl").run()
end

function M.main(args)
  -- called as sbx-oci (a symlink): the OCI runtime's command line, as engines call runc
  if args[0] and args[0]:match("sbx%-oci$") then return require("sbx.cli.oci").main(args) end
  local cmd = args[1]
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  -- CMD --help for the commands without a help of their own: their lines of the usage, and
  -- nothing done (sbx gc --help once collected)
  local OWN_HELP = { run = true, unshare = true, nsenter = true, image = true, doctor = true, diff = true,
                     promote = true, discard = true, test = true, probe = true, oci = true }
  if cmd and (rest[1] == "--help" or rest[1] == "-h") and not OWN_HELP[cmd] and cmd:sub(1, 1) ~= "-" then
    local lines = {}
    for line in USAGE():gmatch("[^\n]+") do
      if line:find("%f[%w]" .. cmd:gsub("%p", "%%%0") .. "%f[^%w%-]") then lines[#lines + 1] = line:gsub("^usage: ", "") end
    end
    if #lines > 0 then
      io.write("usage: ", (table.concat(lines, "\n"):gsub("^%s+", "")), "\n")
      return 0
    end
  end
  if cmd == nil then
    if require("sbx.core").sys.isatty(0) then return repl() end
    local src = io.read("*a")
    local chunk, err = loadstring(src, "=stdin")
    if not chunk then io.stderr:write("sbx: ", err, "\n"); return 1 end
    return run_chunk(chunk, "stdin", { [0] = "-" })
  elseif cmd == "--help" or cmd == "-h" then
    io.write(USAGE())
    return 0
  elseif cmd == "help" then
    local help = require "sbx.help"
    if rest[1] == "--markdown" then io.write(help.markdown()); return 0 end
    if rest[1] == "--man" then io.write(require("sbx.completion").man()); return 0 end
    if not rest[1] then io.write(USAGE(), "\n", help.text()); return 0 end
    local text, err = help.text(rest[1])
    if not text then io.stderr:write("sbx help: ", err, "\n"); return 1 end
    io.write(text)
    return 0
  elseif cmd == "-i" then
    -- a script, then the prompt with the globals it set
    if not rest[1] then return repl() end
    local chunk, err = loadfile(rest[1])
    if not chunk then io.stderr:write("sbx: ", err, "\n"); return 1 end
    local a = { [0] = rest[1] }
    for i = 2, #rest do a[i - 1] = rest[i] end
    run_chunk(chunk, rest[1], a)
    return repl()
  elseif cmd == "--version" or cmd == "-V" then
    io.write("sbx ", require("sbx.core").version, "\n")
    return 0
  elseif cmd == "-e" then
    local code = rest[1]
    if not code then io.stderr:write("sbx: -e needs a chunk of Lua\n"); return 1 end
    local chunk, err = loadstring(code, "=(command line)")
    if not chunk then io.stderr:write("sbx: ", err, "\n"); return 1 end
    local a = { [0] = "-e" }
    for i = 2, #rest do a[i - 1] = rest[i] end
    return run_chunk(chunk, "-e", a)
  elseif cmd == "run" then
    return require("sbx.cli.run").main(rest)
  elseif cmd == "oci" then
    return require("sbx.cli.oci").main(rest)
  elseif cmd == "unshare" then
    return require("sbx.cli.unshare").main(rest)
  elseif cmd == "nsenter" then
    return require("sbx.cli.nsenter").main(rest)
  elseif cmd == "image" then
    return require("sbx.cli.image").main(rest)
  elseif cmd == "commit" then
    if (rest[1] or ""):sub(1, 1) == "-" or (rest[2] or ""):sub(1, 1) == "-" then
      io.stderr:write("sbx commit: unknown option ", (rest[1]:sub(1, 1) == "-" and rest[1] or rest[2]), " (sbx commit NAME TAG)\n")
      return 2
    end
    if not rest[2] or rest[3] then io.stderr:write("sbx commit: expected NAME TAG\n"); return 2 end
    local sbx = require "sbx"
    local ok, box = pcall(sbx.container, { name = rest[1] })
    if not ok then io.stderr:write("sbx commit: ", (tostring(box):gsub("^[^:]*:%d+: ", "")), "\n"); return 1 end
    local img, err = box:commit(rest[2])
    if not img then io.stderr:write("sbx commit: ", err, "\n"); return 1 end
    io.write(img.id, "\n")
    return 0
  elseif cmd == "gc" then
    if rest[1] then io.stderr:write("sbx gc: takes no arguments, got ", rest[1], "\n"); return 2 end
    local removed, err = require("sbx").gc()
    for _, what in ipairs(removed or {}) do io.write("removed ", what, "\n") end
    if not removed then io.stderr:write("sbx ", err, "\n"); return 1 end
    return 0
  elseif SANDBOX_COMMANDS[cmd] then
    -- (every command of sbx.cli.sandboxes has its entry in that module's option table)
    return require("sbx.cli.sandboxes")[cmd](rest)
  elseif cmd == "doctor" then
    return require("sbx.doctor").main(rest)
  elseif cmd == "diff" or cmd == "promote" or cmd == "discard" then
    return require("sbx.cli.workspace")[cmd](rest)
  elseif cmd == "audit" then
    local audit = require "sbx.audit"
    local json = rest[1] == "--json"
    local pid = json and rest[2] or rest[1]
    for _, a in ipairs(rest) do
      if a:sub(1, 1) == "-" and a ~= "--json" then io.stderr:write("sbx audit: unknown option ", a, " (sbx audit [--json] [PID|NAME])\n"); return 2 end
    end
    if pid and not tonumber(pid) then
      -- a long-running sandbox by name: its payload (the first child of its init)
      local s, gerr = require("sbx.sandboxes").get(pid)
      if not s then io.stderr:write("sbx audit: ", gerr, "\n"); return 1 end
      local f = io.open(("/proc/%d/task/%d/children"):format(s.pid, s.pid))
      pid = f and f:read("*l"):match("%d+") or s.pid
      if f then f:close() end
    end
    local r, err = audit.audit(pid)
    if not r then io.stderr:write("sbx ", err, "\n"); return 1 end
    io.write(json and (require("sbx.core").json.encode(r, 2) .. "\n") or audit.text(r))
    return 0
  elseif cmd == "test" then
    return require("sbx.test").main(rest)
  elseif cmd == "completion" then
    local shell = rest[1]
    local c = require "sbx.completion"
    if shell == "bash" then io.write(c.bash()); return 0 end
    if shell == "zsh" then io.write(c.zsh()); return 0 end
    io.stderr:write("sbx completion: expected bash or zsh (source <(sbx completion bash))\n")
    return 2
  elseif cmd == "probe" then
    return require("sbx.probe").main(rest)
  elseif cmd:sub(1, 1) == "-" then
    io.stderr:write("sbx: unknown option ", cmd, "\n", USAGE())
    return 2
  elseif not cmd:find("[/.]") and not io.open(cmd) then
    -- a word that is no command and no file: not "cannot open pull"
    local near = ({ pull = "image import (sbx has no registry client: skopeo copy docker://... oci-archive:F, then sbx image import F)",
                    images = "image ls", version = "--version", start = "run -d", container = "ps",
                    attach = "logs -f", restart = "stop, then run -d" })[cmd]
    io.stderr:write(("sbx: '%s' is not an sbx command%s; the commands:\n"):format(cmd, near and (" (sbx " .. near .. "?)") or ""), USAGE())
    return 2
  else
    return script(cmd, rest)
  end
end

return M
