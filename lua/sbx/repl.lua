-- The sbx> prompt: Lua with the sbx module, line editing and history (libedit), Tab completion
-- of globals, fields and methods, values printed (tables pretty, cycles marked), errors with a
-- short traceback that never end the session, Ctrl-C back to the prompt, Ctrl-D out (every
-- sandbox started in the session is killed and reaped on the way).
local core = require "sbx.core"
local edit = core.edit

local M = {}

local function is_identifier(s) return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil end

local function key_text(k)
  if is_identifier(k) then return k end
  if type(k) == "string" then return ("[%q]"):format(k) end
  return "[" .. tostring(k) .. "]"
end

local function scalar(v)
  if type(v) == "string" then return ("%q"):format(v):gsub("\\\n", "\\n") end
  return tostring(v)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- pretty(v [, { depth = 6, width = 80 }]): nested tables indented, short ones on one line,
-- keys sorted, a table met again while inside itself shown as <cycle>.
function M.pretty(v, opts)
  opts = opts or {}
  local max_depth, width = opts.depth or 6, opts.width or 80
  local open = {}
  local function fmt(x, indent, depth)
    if type(x) ~= "table" then return scalar(x) end
    if open[x] then return "<cycle>" end
    if depth >= max_depth then return "{...}" end
    if next(x) == nil then return "{}" end
    open[x] = true
    local parts, n = {}, #x
    for i = 1, n do parts[#parts + 1] = fmt(x[i], indent .. "  ", depth + 1) end
    for _, k in ipairs(sorted_keys(x)) do
      if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then
        parts[#parts + 1] = key_text(k) .. " = " .. fmt(x[k], indent .. "  ", depth + 1)
      end
    end
    open[x] = nil
    local one = "{ " .. table.concat(parts, ", ") .. " }"
    if #one + #indent <= width and not one:find("\n") then return one end
    return "{\n" .. indent .. "  " .. table.concat(parts, ",\n" .. indent .. "  ") .. "\n" .. indent .. "}"
  end
  return fmt(v, "", 0)
end

-- The fields reachable from a value for completion: its own (tables) and its metatable's
-- __index chain (objects' methods), without calling anything.
local function fields(v, seen)
  seen = seen or {}
  local out = {}
  if type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do if is_identifier(k) then out[k] = x end end
  end
  local mt = (type(v) == "table" or type(v) == "userdata") and getmetatable(v)
  if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then
    for k, x in pairs(fields(rawget(mt, "__index"), seen)) do if out[k] == nil then out[k] = x end end
  elseif type(mt) == "table" then  -- a C object (sbx.Process): its methods live in the metatable
    for k, x in pairs(mt) do
      if is_identifier(k) and k:sub(1, 2) ~= "__" and type(x) == "function" and out[k] == nil then out[k] = x end
    end
  end
  return out
end

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
                   "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" }

-- complete("sbx.cgr") -> { "sbx.cgroup" }; complete("box:sp") -> { "box:spawn", "box:spec" }.
function M.complete(word, env)
  env = env or _G
  local path, sep, partial = word:match("^(.-)([%.:])([%w_]*)$")
  local candidates, base = {}, nil
  if not path then
    partial = word
    base = fields(env)
    for _, k in ipairs(KEYWORDS) do base[k] = base[k] or true end
    path, sep = "", ""
  else
    local v = env
    for name in (path .. "."):gmatch("([^%.:]*)[%.:]") do
      if not is_identifier(name) then return {} end
      local f = fields(v)
      v = f[name]
      if v == nil then return {} end
    end
    base = fields(v)
  end
  for k, x in pairs(base) do
    if k:sub(1, #partial) == partial and (sep ~= ":" or type(x) == "function") then
      candidates[#candidates + 1] = path .. sep .. k
    end
  end
  table.sort(candidates)
  return candidates
end

-- An error with the frames of the prompt itself cut off.
local function short_traceback(msg)
  msg = tostring(msg)
  local head, tb = msg:match("^(.-)\nstack traceback:\n(.*)$")
  if not head then return msg end
  local keep = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("in function 'interruptible'") or line:find("sbx/repl.lua") or line:find("%[C%]: in function 'xpcall'") then break end
    if not line:find("^%s*%[builtin#%d+%]") then keep[#keep + 1] = line end
  end
  if #keep == 0 then return head end
  return head .. "\nstack traceback:\n" .. table.concat(keep, "\n")
end

local function show(results, n)
  local out = {}
  for i = 1, n do out[i] = M.pretty(results[i]) end
  io.write(table.concat(out, "\t"), "\n")
end

-- Compiles what has been typed: an expression first ("1+1", "=x"), then a statement; nil plus
-- "incomplete" when the text needs more lines.
function M.compile(text)
  local src = text:gsub("^=", "return ")
  local chunk, err = loadstring("return " .. src, "=stdin")
  if chunk then return chunk end
  chunk, err = loadstring(src, "=stdin")
  if chunk then return chunk end
  -- statements ending in an expression ("t = {}; t.me = t; t"): the last one's value is shown
  local head, last = src:match("^(.*;)%s*([^;]-)%s*$")
  if head and last ~= "" then
    local c = loadstring(head .. " return " .. last, "=stdin")
    if c then return c end
  end
  -- an unfinished block, string or call needs more lines; a lone expression ("'=' expected near
  -- '<eof>'") does not: more lines could not make it a statement
  if err:match("'=' expected near '<eof>'$") then return nil, err end
  if err:match("<eof>$") or err:match("<eof>'?$") then return nil, "incomplete" end
  return nil, err
end

-- Runs one complete piece of input: prints values or the error. Returns nothing.
function M.eval(text)
  local chunk, err = M.compile(text)
  if not chunk then
    io.write(err, "\n")
    return
  end
  -- Interpreted, not compiled: a compiled loop never checks the hook Ctrl-C sets (modules the
  -- chunk calls keep their JIT).
  if jit then jit.off(chunk, true) end
  local res = { edit.interruptible(chunk) }
  if not res[1] then
    io.write(short_traceback(res[2]), "\n")
  elseif select("#", unpack(res)) > 1 then
    show({ select(2, unpack(res)) }, select("#", unpack(res)) - 1)
  end
end

function M.history_path()
  local home = os.getenv("HOME")
  return os.getenv("SBX_HISTORY") or (home and home .. "/.sbx_history") or nil
end

function M.run()
  local sbx = require "sbx"
  _G.sbx = sbx
  _G.help = require("sbx.help").help
  _G.pretty = M.pretty
  io.write("sbx ", sbx.version, " (LuaJIT) - help() for help, Tab completes, Ctrl-D leaves\n")
  local history = M.history_path()
  if history then edit.load_history(history) end
  edit.set_completer(function(word) return M.complete(word) end)
  local buffer = ""
  while true do
    local line, why = edit.readline(buffer == "" and "sbx> " or "  >> ")
    if not line and why == "interrupted" then
      io.write("^C\n")
      buffer = ""
    elseif not line then
      io.write("\n")
      break
    else
      buffer = buffer == "" and line or (buffer .. "\n" .. line)
      local _, err = M.compile(buffer)
      if err ~= "incomplete" then
        if buffer:find("%S") then
          edit.add_history(buffer)
          if history then edit.save_history(history) end
        end
        local text = buffer
        buffer = ""
        M.eval(text)
      end
    end
  end
  collectgarbage()  -- sandboxes nobody refers to any more go now; the rest with the state
  return 0
end

return M
