-- recipes/untrusted.lua: run a tool you do not fully trust on a project you care about.
--   sbx recipes/untrusted.lua [options] DIR -- CMD...
-- CMD runs on the host's root (read-only) with DIR as a review workspace (an overlay: the host's
-- DIR is not written during the run), a fresh empty $HOME, every home's secrets hidden (~/.ssh,
-- ~/.aws, ~/.netrc, browser profiles...), no network unless --allow names what it may reach
-- (everything else refused and counted; names answered only when allowed), and memory and
-- process limits. Then it prints what the tool changed and asks what to do with it: promote all,
-- choose change by change, discard, or keep it for later (sbx diff / promote / discard NAME).
-- Without a terminal, --promote or --discard decides; with neither the changes are kept.
local sbx = require "sbx"
local getopt = require "sbx.cli.getopt"
local wsm = require "sbx.workspace"

local OPTIONS = {
  { long = "allow", arg = "required", key = "allow", list = true, meta = "HOST[:PORT]", help = "let the tool reach HOST (a name, *.domain, IP or CIDR), on PORT only when given; repeatable (default: no network)" },
  { long = "dns", arg = "required", key = "dns", meta = "IP[:PORT]", help = "the resolver that answers allowed names (default: the host's first)" },
  { long = "memory", arg = "required", key = "memory", meta = "SIZE", help = "memory limit (default 1G)" },
  { long = "pids", arg = "required", key = "pids", meta = "N", help = "process limit (default 512)" },
  { long = "no-limits", arg = "none", key = "no_limits", help = "run without memory and process limits (where this host gives you no cgroup to limit with)" },
  { long = "name", arg = "required", key = "name", meta = "NAME", help = "the workspace's name (default: a generated one)" },
  { long = "dest", arg = "required", key = "dest", meta = "PATH", help = "where DIR appears inside (default: the same path)" },
  { long = "promote", arg = "none", key = "promote", help = "apply every change to DIR without asking" },
  { long = "discard", arg = "none", key = "discard", help = "drop every change without asking" },
  { long = "help", short = "h", arg = "none", key = "help", help = "this help" },
}

local USAGE = "usage: sbx recipes/untrusted.lua [options] DIR -- CMD...\n\n" ..
  "Runs CMD on a reviewed copy of DIR: empty home, secrets hidden, network only to what --allow\n" ..
  "names, limited; then shows the changes and promotes, discards or keeps them.\n" ..
  "Exit status: CMD's (125: the sandbox could not start; 2: usage; 1: the changes could not be applied).\n\n"

local function say(fmt, ...) io.stderr:write("untrusted: ", (fmt):format(...), "\n") end

-- options may come before and after DIR; CMD follows "--" (or the first word after DIR)
local function parse(args)
  local opts, rest = getopt.parse(args, OPTIONS)
  if not opts then return nil, rest end
  if opts.help then return opts end
  local dir = rest[1]
  if not dir then return nil, "expected DIR -- CMD..." end
  local tail = {}
  for i = 2, #rest do tail[#tail + 1] = rest[i] end
  local more, cmd = getopt.parse(tail, OPTIONS)
  if not more then return nil, cmd end
  for k, v in pairs(more) do
    if type(v) == "table" and type(opts[k]) == "table" then
      for _, x in ipairs(v) do table.insert(opts[k], x) end
    else
      opts[k] = v
    end
  end
  if #cmd == 0 then return nil, "expected a command after DIR (DIR -- CMD...)" end
  if opts.promote and opts.discard then return nil, "--promote and --discard: choose one" end
  if opts.no_limits and (opts.memory or opts.pids) then return nil, "--no-limits with --memory or --pids: choose" end
  return opts, dir, cmd
end

local function answer(prompt)
  io.stderr:write(prompt)
  io.stderr:flush()
  local line = io.stdin:read("*l")
  return line and line:lower():match("^%s*(.-)%s*$")
end

-- -> the changes to apply (a list), false (discard) or nil (keep)
local function decide(opts, changes, name)
  if opts.promote then return changes end
  if opts.discard then return false end
  if not require("sbx.core").sys.isatty(0) then return nil end
  while true do
    local a = answer("untrusted: promote all (a), choose one by one (c), discard (d) or keep for later (k)? ")
    if a == nil or a == "k" then return nil end
    if a == "a" then return changes end
    if a == "d" then return false end
    if a == "c" then
      local chosen = {}
      for _, c in ipairs(changes) do
        local y = answer(("  %s  promote? [y/N] "):format(wsm.format({ c }):gsub("\n$", "")))
        if y == nil then return nil end
        if y == "y" then chosen[#chosen + 1] = c end
      end
      return chosen
    end
  end
end

return {
  description = "an untrusted tool on a reviewed copy of a project: empty home, egress allow-list, limits, then promote",
  run = function(args)
    local opts, dir, cmd = parse(args)
    local function usage_error(msg) io.stderr:write("untrusted.lua: ", msg, "\n\n", USAGE, getopt.usage(OPTIONS), "\n"); return 2 end
    if not opts then return usage_error(dir) end
    if opts.help then io.write(USAGE, getopt.usage(OPTIONS), "\n"); return 0 end
    if dir:sub(1, 1) ~= "/" then dir = (os.getenv("PWD") or ".") .. "/" .. dir end
    dir = dir:gsub("/+$", "")
    if dir == "" then return usage_error("DIR: the host's / is not a project") end
    if opts.pids and not tonumber(opts.pids) then return usage_error("--pids: expected a number") end
    if opts.dns and not opts.allow then return usage_error("--dns without --allow (there is no network to resolve for)") end

    local denied = {}
    local d = {
      workspace = { dir = dir, dest = opts.dest, name = opts.name }, cwd = opts.dest or dir,
      home = "tmpfs", hide = "secrets",
      on = { egress_denied = function(ev)
        denied[#denied + 1] = ev.name and ("name " .. ev.name) or ("%s %s/%s"):format(ev.address, ev.proto, ev.port)
      end },
    }
    if not opts.no_limits then d.limits = { memory = opts.memory or "1G", pids = tonumber(opts.pids or 512) } end
    if opts.allow then d.net = { bridge = true, egress = opts.allow, dns = opts.dns } end
    local ok, box = pcall(sbx.container, d)
    if not ok then io.stderr:write("untrusted.lua: ", (tostring(box):gsub("^[^:\n]*:%d+: ", "")), "\n"); return 2 end

    say("%s on a workspace of %s; home empty, secrets hidden; network: %s; limits: %s", table.concat(cmd, " "), dir,
        opts.allow and table.concat(opts.allow, ", ") or "none",
        d.limits and ("memory %s, %d processes"):format(d.limits.memory, d.limits.pids) or "none (--no-limits)")
    local argv = {}
    for i, a in ipairs(cmd) do argv[i] = a end
    local st, err = box:run(argv)
    if not st then
      say("%s", err)
      if not opts.no_limits and tostring(err):find("cgroup", 1, true) and sbx.sys.ids().uid ~= 0 then
        say("limits need a cgroup subtree of yours (sbx doctor says whether this host delegates one); --no-limits runs without them")
      end
      return 125
    end
    local status = st.signal and (128 + st.signal) or st.code
    say("%s %s", table.concat(cmd, " "), st.signal and ("was killed by signal " .. st.signal) or ("exited with status " .. st.code))
    if #denied > 0 then say("network refused: %s", table.concat(denied, ", ")) end

    local w = box._workspace and box._workspace.made and wsm.open(box._workspace.name)
    local changes = w and w:changes() or {}
    if #changes == 0 then
      if w then w:discard() end
      say("no changes to %s", dir)
      return status
    end
    local name = w.name
    say("%d change%s to %s (the host's directory is unchanged so far):", #changes, #changes == 1 and "" or "s", dir)
    io.stderr:write((wsm.format(changes):gsub("[^\n]+", "  %0")))
    local chosen = decide(opts, changes, name)
    if chosen == false then
      w:discard()
      say("discarded; %s is as it was", dir)
      return status
    end
    if chosen == nil or #chosen == 0 then
      say("kept in workspace %s: sbx diff %s [--patch] | sbx promote %s [PATH...] | sbx discard %s", name, name, name, name)
      return status
    end
    local res, perr = wsm.open(name):promote{ filter = function(c)
      for _, x in ipairs(chosen) do if x.path == c.path then return true end end
      return false
    end }
    if not res then
      say("nothing applied: %s", perr)
      say("the changes stay in workspace %s (sbx diff %s)", name, name)
      return 1
    end
    local failed = 0
    for _, r in ipairs(res) do
      if r.applied then io.stderr:write(("  promoted %s\n"):format(r.path))
      else failed = failed + 1; io.stderr:write(("  not promoted %s: %s\n"):format(r.path, r.why or "?")) end
    end
    if failed > 0 then
      say("%d change%s not applied; kept in workspace %s (sbx diff %s)", failed, failed == 1 and "" or "s", name, name)
      return 1
    end
    if #chosen == #changes then
      w:discard()
      say("promoted %d change%s to %s", #res, #res == 1 and "" or "s", dir)
    else
      say("promoted %d of %d; the rest stay in workspace %s (sbx diff %s | sbx discard %s)", #res, #changes, name, name, name)
    end
    return status
  end,
}
