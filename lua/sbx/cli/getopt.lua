-- A small getopt for the one-liners: short bundles (-fp), long options (--wd=DIR or --wd DIR),
-- optional arguments only in the attached form (--mount-proc=/proc), "--" ends options, and so
-- does the first word that is not an option (the command).
local M = {}

-- options: list of { short = "m", long = "mount", arg = "none"|"required"|"optional",
--                    short_arg = "none" (the short form takes no value: util-linux's -m, --mount=FILE),
--                    key = "mount", list = true (repeatable, values collected),
--                    tagged = true (list items are { flag =, value = }) }
-- Returns opts, rest or nil, message.
function M.parse(args, options, first)
  local by_short, by_long = {}, {}
  for _, o in ipairs(options) do
    if o.short then by_short[o.short] = o end
    if o.long then by_long[o.long] = o end
  end
  local opts, i = {}, first or 1
  local function set(o, v)
    if o.list then
      opts[o.key] = opts[o.key] or {}
      -- tagged: several flags share one ordered list, each value remembers its flag
      table.insert(opts[o.key], o.tagged and { flag = o.long, value = v } or v)
    else
      opts[o.key] = v
    end
  end
  while i <= #args do
    local a = args[i]
    if a == "--" then i = i + 1; break end
    if a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local o = by_long[name]
      if not o then return nil, "unknown option --" .. name end
      if o.arg == "none" then
        if value then return nil, "option --" .. name .. " takes no value" end
        set(o, true)
      elseif o.arg == "optional" then
        set(o, value or true)
      else
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then return nil, "option --" .. name .. " needs a value" end
        end
        set(o, value)
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local o = by_short[c]
        if not o then return nil, "unknown option -" .. c end
        local arg = o.short_arg or o.arg  -- (short_arg: the short form takes none where the long may)
        if arg == "none" then
          set(o, true)
        elseif arg == "optional" then
          local rest = a:sub(j + 1)
          set(o, rest ~= "" and rest or true)
          break
        else
          local rest = a:sub(j + 1)
          if rest == "" then
            i = i + 1
            rest = args[i]
            if rest == nil then return nil, "option -" .. c .. " needs a value" end
          end
          set(o, rest)
          break
        end
        j = j + 1
      end
    else
      break
    end
    i = i + 1
  end
  local rest = {}
  for k = i, #args do rest[#rest + 1] = args[k] end
  return opts, rest
end

-- Usage lines from the option table: "  -m, --mount            unshare mounts namespace".
function M.usage(options)
  local lines = {}
  for _, o in ipairs(options) do
    if o.help then
      local flag = (o.short and ("-" .. o.short .. ", ") or "    ") .. "--" .. o.long
      if o.arg == "required" then flag = flag .. " " .. (o.meta or "VALUE")
      elseif o.arg == "optional" then flag = flag .. "[=" .. (o.meta or "VALUE") .. "]" end
      lines[#lines + 1] = ("  %-30s %s"):format(flag, o.help)
    end
  end
  return table.concat(lines, "\n")
end

return M
