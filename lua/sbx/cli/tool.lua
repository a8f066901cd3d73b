-- What sbx unshare and sbx nsenter share: util-linux's way of failing, helping and exec'ing.
local getopt = require "sbx.cli.getopt"
local sys = require("sbx.core").sys

local M = {}

-- The eight namespace flags both tools take, util-linux's letters and words: -m or --mount[=FILE]
-- (the short form takes no FILE). verb: "unshare" or "enter".
function M.namespace_options(verb)
  local list = {}
  for _, n in ipairs({ { "m", "mount", "mnt", "mounts namespace" }, { "u", "uts", "uts", "UTS namespace (hostname etc)" },
                       { "i", "ipc", "ipc", "System V IPC namespace" }, { "n", "net", "net", "network namespace" },
                       { "p", "pid", "pid", "pid namespace" }, { "U", "user", "user", "user namespace" },
                       { "C", "cgroup", "cgroup", "cgroup namespace" }, { "T", "time", "time", "time namespace" } }) do
    list[#list + 1] = { short = n[1], long = n[2], arg = "optional", short_arg = "none", key = n[3], meta = "FILE",
                        help = verb .. " " .. (verb == "enter" and n[4]:gsub("^mounts", "mount") or n[4]) }
  end
  return list
end

-- A tool's option table: `first`, then the namespace flags, then `rest`.
function M.options(first, verb, rest)
  local out = {}
  for _, o in ipairs(first) do out[#out + 1] = o end
  for _, o in ipairs(M.namespace_options(verb)) do out[#out + 1] = o end
  for _, o in ipairs(rest) do out[#out + 1] = o end
  return out
end

-- Turns a failure (nil, message) into an error the tool's main prints.
function M.check(ok, err)
  if not ok then error(err, 0) end
  return ok
end

-- Execs argv (default: $SHELL or /bin/sh); on failure says so as util-linux does and exits 127.
function M.exec(name, argv)
  if #argv == 0 then argv = { os.getenv("SHELL") or "/bin/sh" } end
  local _, err = sys.exec(argv)
  io.stderr:write("sbx ", name, ": failed to execute ", argv[1], ": ", (err:gsub("^exec [^:]*: ", "")), "\n")
  io.stderr:flush()
  sys.exit(127)
end

-- main for a tool module { options =, usage =, summary =, run = function(opts, rest) }.
function M.main(name, tool, args)
  local opts, rest = getopt.parse(args, tool.options)
  if not opts then
    io.stderr:write("sbx ", name, ": ", rest, "\nTry 'sbx ", name, " --help' for more information.\n")
    return 1
  end
  if opts.help then
    io.write("usage: sbx ", name, " ", tool.usage, "\n\n", tool.summary, "\n\n", getopt.usage(tool.options), "\n")
    return 0
  end
  local ok, res = pcall(tool.run, opts, rest)
  if not ok then
    io.stderr:write("sbx ", name, ": ", tostring(res), "\n")
    return 1
  end
  return res
end

return M
