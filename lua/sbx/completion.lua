-- Shell completion (bash, zsh) and the man page (sbx.1), made from the same tables the commands
-- parse their options with and the same text `sbx --help` and help() show: nothing here lists
-- an option by hand.
local M = {}

-- The commands: name, summary, options table (or nil), what a word after it is
-- ("sandbox", "image", "file", "command")
local function commands()
  local run = require("sbx.cli.run").options
  local sb = require("sbx.cli.sandboxes").options
  local list = {
    { "run", "run a command in a new sandbox", run, "command" },
    { "probe", "the attack probe in a sandbox of sbx run's options", run, "command" },
    { "unshare", "util-linux unshare(1)", require("sbx.cli.unshare").options, "command" },
    { "nsenter", "util-linux nsenter(1)", require("sbx.cli.nsenter").options, "command" },
    { "ps", "the long-running sandboxes", sb.ps },
    { "inspect", "one sandbox as JSON", sb.inspect, "sandbox" },
    { "logs", "a sandbox's output", sb.logs, "sandbox" },
    { "exec", "a command in a running sandbox", sb.exec, "sandbox" },
    { "stop", "TERM, then KILL", sb.stop, "sandbox" },
    { "kill", "a signal to a sandbox", sb.kill, "sandbox" },
    { "rm", "remove a sandbox or a persistent image container", sb.rm, "sandbox" },
    { "wait", "its exit code once it has ended", sb.wait, "sandbox" },
    { "port", "its published ports", sb.port, "sandbox" },
    { "top", "its processes", sb.top, "sandbox" },
    { "pause", "stop every process of it", sb.pause, "sandbox" },
    { "unpause", "let them go on", sb.unpause, "sandbox" },
    { "rename", "another name", sb.rename, "sandbox" },
    { "stats", "cgroup figures, live", sb.stats, "sandbox" },
    { "cp", "copy in or out of a running sandbox", sb.cp, "sandbox" },
    { "events", "a line per start, exit, oom", sb.events },
    { "image", "the local image store", nil, "image-command" },
    { "commit", "a named container's changes as an image", nil, "sandbox" },
    { "diff", "a review workspace's changes", nil, "workspace" },
    { "promote", "apply them", nil, "workspace" },
    { "discard", "drop them", nil, "workspace" },
    { "audit", "what isolates a process", nil, "sandbox" },
    { "doctor", "what this host lets sbx do", nil },
    { "test", "run test files (TAP)", nil, "file" },
    { "oci", "the OCI runtime (runc's command line)", nil },
    { "gc", "remove what a killed sbx left", nil },
    { "help", "the reference", nil },
    { "completion", "shell completion", nil, "shell" },
  }
  return list
end
M.commands = commands

local IMAGE_COMMANDS = { "ls", "inspect", "tag", "rm", "prune", "from-dir", "import-layer", "import", "export" }

local function flags(options)
  local out = {}
  for _, o in ipairs(options or {}) do
    if o.long then out[#out + 1] = "--" .. o.long end
    if o.short then out[#out + 1] = "-" .. o.short end
  end
  return out
end

-- The options that take a value, and what kind (for the word after them)
local function value_kind(o)
  if o.arg ~= "required" then return nil end
  local m = (o.meta or ""):upper()
  if o.long == "image" then return "image" end
  if o.long == "name" then return "none" end
  if m:find("DIR") or m:find("FILE") or m:find("SRC") or m:find("PATH") or m:find("PROFILE") or m:find("HOST") and o.long == "device" then return "file" end
  return "none"
end

function M.bash()
  local lines = {
    "# bash completion for sbx, made by `sbx completion bash` from sbx's own option tables",
    "# (source <(sbx completion bash), or install it as /usr/share/bash-completion/completions/sbx)",
    "_sbx() {",
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]}",
    "  COMPREPLY=()",
    "  if [ \"$COMP_CWORD\" -eq 1 ]; then",
  }
  local names = {}
  for _, c in ipairs(commands()) do names[#names + 1] = c[1] end
  lines[#lines + 1] = ("    COMPREPLY=($(compgen -W '%s -e -i --help --version' -- \"$cur\") $(compgen -f -X '!*.lua' -- \"$cur\"))"):format(table.concat(names, " "))
  lines[#lines + 1] = "    return"
  lines[#lines + 1] = "  fi"
  lines[#lines + 1] = "  local opts='' words=''"
  lines[#lines + 1] = "  case \"$cmd\" in"
  for _, c in ipairs(commands()) do
    local f = flags(c[3])
    if #f > 0 then
      lines[#lines + 1] = ("    %s) opts='%s' ;;"):format(c[1], table.concat(f, " "))
    end
  end
  lines[#lines + 1] = "  esac"
  -- the word after an option that takes a value
  lines[#lines + 1] = "  case \"$cmd $prev\" in"
  local seen = {}
  for _, c in ipairs(commands()) do
    for _, o in ipairs(c[3] or {}) do
      local k = value_kind(o)
      if k then
        local pats = {}
        for _, fl in ipairs({ o.long and ("--" .. o.long), o.short and ("-" .. o.short) }) do
          if fl and not seen[c[1] .. " " .. fl] then seen[c[1] .. " " .. fl] = true; pats[#pats + 1] = "'" .. c[1] .. " " .. fl .. "'" end
        end
        if #pats > 0 then
          local action = k == "image" and "COMPREPLY=($(compgen -W \"$(sbx image ls 2>/dev/null | awk 'NR>1 {gsub(/,/, \" \", $2); print $2}')\" -- \"$cur\"))"
                         or k == "file" and "COMPREPLY=($(compgen -f -- \"$cur\"))" or ":"
          lines[#lines + 1] = ("    %s) %s; return ;;"):format(table.concat(pats, "|"), action)
        end
      end
    end
  end
  lines[#lines + 1] = "  esac"
  lines[#lines + 1] = "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\")); return; fi"
  lines[#lines + 1] = "  case \"$cmd\" in"
  local by_kind = {}
  for _, c in ipairs(commands()) do
    if c[4] then by_kind[c[4]] = by_kind[c[4]] or {}; table.insert(by_kind[c[4]], c[1]) end
  end
  lines[#lines + 1] = ("    %s) COMPREPLY=($(compgen -W \"$(sbx ps -a -q 2>/dev/null)\" -- \"$cur\")) ;;"):format(table.concat(by_kind.sandbox, "|"))
  lines[#lines + 1] = ("    %s) COMPREPLY=($(compgen -W \"$(sbx diff 2>/dev/null | awk '{print $1}')\" -- \"$cur\")) ;;"):format(table.concat(by_kind.workspace, "|"))
  lines[#lines + 1] = ("    image) [ \"$COMP_CWORD\" -eq 2 ] && COMPREPLY=($(compgen -W '%s' -- \"$cur\")) || COMPREPLY=($(compgen -f -- \"$cur\")) ;;"):format(table.concat(IMAGE_COMMANDS, " "))
  lines[#lines + 1] = "    completion) COMPREPLY=($(compgen -W 'bash zsh' -- \"$cur\")) ;;"
  lines[#lines + 1] = ("    %s) COMPREPLY=($(compgen -c -- \"$cur\") $(compgen -f -- \"$cur\")) ;;"):format(table.concat(by_kind.command, "|"))
  lines[#lines + 1] = "    *) COMPREPLY=($(compgen -f -- \"$cur\")) ;;"
  lines[#lines + 1] = "  esac"
  lines[#lines + 1] = "}"
  lines[#lines + 1] = "complete -F _sbx sbx"
  return table.concat(lines, "\n") .. "\n"
end

-- zsh: an _arguments spec per command ("--rootfs[...]:DIR:_files")
local function zsh_quote(s)
  return (s:gsub("\\", "\\\\"):gsub("'", "'\\''"):gsub("%[", "\\["):gsub("%]", "\\]"):gsub(":", "\\:"))
end

function M.zsh()
  local lines = {
    "#compdef sbx",
    "# zsh completion for sbx, made by `sbx completion zsh` from sbx's own option tables",
    "# (install it as _sbx in a directory of $fpath, e.g. /usr/share/zsh/vendor-completions)",
    "_sbx_sandboxes() { local -a n; n=(${(f)\"$(sbx ps -a -q 2>/dev/null)\"}); compadd -a n }",
    "_sbx_images() { local -a n; n=(${(f)\"$(sbx image ls 2>/dev/null | awk 'NR>1 {gsub(/,/, \"\\n\", $2); print $2}')\"}); compadd -a n }",
    "_sbx() {",
    "  local -a cmds",
    "  cmds=(",
  }
  for _, c in ipairs(commands()) do lines[#lines + 1] = ("    '%s:%s'"):format(c[1], zsh_quote(c[2])) end
  lines[#lines + 1] = "  )"
  lines[#lines + 1] = "  if (( CURRENT == 2 )); then _describe 'sbx command' cmds; _files -g '*.lua'; return; fi"
  lines[#lines + 1] = "  local cmd=$words[2]"
  lines[#lines + 1] = "  shift words; (( CURRENT-- ))"
  lines[#lines + 1] = "  case $cmd in"
  for _, c in ipairs(commands()) do
    local specs = {}
    for _, o in ipairs(c[3] or {}) do
      if o.long then
        local help = zsh_quote(o.help or "")
        local k = value_kind(o)
        local action = k == "image" and ":" .. (o.meta or "REF") .. ":_sbx_images" or k == "file" and ":" .. zsh_quote(o.meta or "FILE") .. ":_files"
                       or k == "none" and ":" .. zsh_quote(o.meta or "VALUE") .. ": " or ""
        local rep = o.list and "*" or ""
        local eq = o.arg == "optional" and "=-" or ""
        specs[#specs + 1] = ("'%s--%s%s[%s]%s'"):format(rep, o.long, eq, help, action)
        if o.short then specs[#specs + 1] = ("'%s-%s[%s]%s'"):format(rep, o.short, help, o.arg == "required" and action or "") end
      end
    end
    local rest = c[4] == "sandbox" and "'*::sandbox:_sbx_sandboxes'" or c[4] == "command" and "'*::command:_normal'"
                 or c[4] == "image-command" and ("'1:image command:(%s)' '*::file:_files'"):format(table.concat(IMAGE_COMMANDS, " "))
                 or c[4] == "shell" and "'1:shell:(bash zsh)'" or "'*::file:_files'"
    lines[#lines + 1] = ("    %s) _arguments -s -S %s %s ;;"):format(c[1], table.concat(specs, " "), rest)
  end
  lines[#lines + 1] = "  esac"
  lines[#lines + 1] = "}"
  lines[#lines + 1] = "_sbx \"$@\""
  return table.concat(lines, "\n") .. "\n"
end

-- roff: a man page of the usage, every command's options, the Lua API entries and the statuses
local function roff(s)
  return (tostring(s):gsub("\\", "\\e"):gsub("^%.", "\\&."):gsub("\n%.", "\n\\&."):gsub("^'", "\\&'"):gsub("%-", "\\-"))
end

function M.man()
  local help = require "sbx.help"
  local version = require("sbx.core").version
  local out = {
    ('.TH SBX 1 "%s" "sbx %s" "User Commands"'):format(os.date("!%Y-%m-%d", tonumber(os.getenv("SOURCE_DATE_EPOCH")) or os.time()), version),
    ".SH NAME", "sbx \\- a scriptable, Lua-driven Linux sandbox shell",
    ".SH SYNOPSIS", ".nf",
  }
  for line in help.usage:gmatch("[^\n]+") do out[#out + 1] = roff((line:gsub("^usage: ", ""):gsub("^       ", ""))) end
  out[#out + 1] = ".fi"
  out[#out + 1] = ".SH DESCRIPTION"
  out[#out + 1] = roff("sbx turns the kernel's isolation primitives (namespaces, cgroups, overlayfs, pivot_root, seccomp) into Lua values. "
    .. "sbx run gives a sandbox with everything isolated by default; the sbx> prompt, scripts and the commands below reach the same Lua API.")
  out[#out + 1] = ".SH COMMANDS"
  for _, c in ipairs(commands()) do
    out[#out + 1] = ".TP"
    out[#out + 1] = "\\fB" .. roff(c[1]) .. "\\fR"
    out[#out + 1] = roff(c[2])
  end
  local function options(title, list)
    out[#out + 1] = ".SH " .. title
    for _, o in ipairs(list) do
      if o.help and o.help ~= "" then
        out[#out + 1] = ".TP"
        local f = (o.short and ("\\fB\\-" .. roff(o.short) .. "\\fR, ") or "") .. "\\fB\\-\\-" .. roff(o.long) .. "\\fR"
        if o.arg == "required" then f = f .. " \\fI" .. roff(o.meta or "VALUE") .. "\\fR"
        elseif o.arg == "optional" then f = f .. "[=\\fI" .. roff(o.meta or "VALUE") .. "\\fR]" end
        out[#out + 1] = f
        out[#out + 1] = roff(o.help)
      end
    end
  end
  options("RUN OPTIONS", require("sbx.cli.run").options)
  options("UNSHARE OPTIONS", require("sbx.cli.unshare").options)
  options("NSENTER OPTIONS", require("sbx.cli.nsenter").options)
  local sb = require("sbx.cli.sandboxes").options
  for _, c in ipairs(commands()) do
    if c[3] == sb[c[1]] and #(c[3] or {}) > 0 then options(c[1]:upper() .. " OPTIONS", c[3]) end
  end
  out[#out + 1] = ".SH EXIT STATUS"
  out[#out + 1] = roff("sbx run, sbx exec and sbx probe: 2 when the command line is wrong (nothing was done), 125 when the sandbox could not be set up, 126 when the command cannot be run, 127 when it is not there, else the payload's own status (128+N for signal N). "
    .. "The other commands: 0 done, 1 failed, 2 a usage error.")
  out[#out + 1] = ".SH LUA API"
  for _, e in ipairs(help.entries) do
    out[#out + 1] = ".TP"
    out[#out + 1] = "\\fB" .. roff(e[2]) .. "\\fR"
    out[#out + 1] = roff(e[3])
  end
  out[#out + 1] = ".SH FILES"
  out[#out + 1] = roff("/var/lib/sbx (root) or ~/.local/share/sbx: images, sandboxes, workspaces ($SBX_STATE overrides). /run/sbx (root), else $XDG_RUNTIME_DIR/sbx or /tmp/sbx-UID: runtime state. /var/cache/sbx (root) or ~/.cache/sbx: the busybox root.")
  out[#out + 1] = ".SH SEE ALSO"
  out[#out + 1] = "\\fBunshare\\fR(1), \\fBnsenter\\fR(1), \\fBbwrap\\fR(1), \\fBpodman\\-run\\fR(1), \\fBnamespaces\\fR(7), \\fBcgroups\\fR(7)"
  return table.concat(out, "\n") .. "\n"
end

return M
