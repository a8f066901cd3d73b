-- Shell completion (bash, zsh) and the man page are made from sbx's own option tables (issue 17):
-- every option of sbx run is in each; bash's completes commands, options, sandbox names and image
-- tags when driven as bash drives it; zsh's hands _arguments the options (zsh's helpers stubbed:
-- what it is given is what it would offer).
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir .. "/bin " .. dir .. "/state/sandboxes/web-1"))
-- `sbx` on PATH for the scripts' own calls; a store of its own with one (exited) sandbox
assert(os.execute(("ln -s %s %s/bin/sbx"):format(bin, dir)))
local f = assert(io.open(dir .. "/state/sandboxes/web-1/state.json", "w"))
f:write('{"status": "exited", "code": 0, "name": "web-1"}')
f:close()
local env = ("PATH=%s/bin:$PATH SBX_STATE=%s/state "):format(dir, dir)
local run_options = require("sbx.cli.run").options

local function bash_complete(line)
  local script = dir .. "/drive.sh"
  local g = assert(io.open(script, "w"))
  g:write(". ", dir, "/sbx.bash\n")
  g:write("COMP_LINE='", line, "'; read -ra COMP_WORDS <<< \"$COMP_LINE\"\n")
  -- a line ending in a space completes a new, empty word
  g:write("case \"$COMP_LINE\" in *' ') COMP_WORDS+=('') ;; esac\n")
  g:write("COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _sbx; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
  g:close()
  return sh(env .. "bash " .. script)
end

test("sbx completion bash: commands, every run option, sandbox names, image subcommands", function()
  local out, rc = sh(bin .. " completion bash > " .. dir .. "/sbx.bash")
  expect(rc, out).eq(0)
  expect(select(2, sh("bash -n " .. dir .. "/sbx.bash"))).eq(0)
  expect(bash_complete("sbx ru")).eq("run\n")
  expect(bash_complete("sbx run --rea")).eq("--read-only\n")
  expect(bash_complete("sbx logs ")).eq("web-1\n")
  expect(bash_complete("sbx logs --ta")).eq("--tail\n")
  expect(bash_complete("sbx image ex")).eq("export\n")
  expect(bash_complete("sbx unshare --map-a")).eq("--map-auto\n")
  local text = io.open(dir .. "/sbx.bash"):read("*a")
  for _, o in ipairs(run_options) do expect(text, o.long).contains("--" .. o.long .. " ") end
  out, rc = sh(bin .. " completion fish")
  expect(rc).eq(2)
  expect(out).contains("expected bash or zsh")
end)

test("sbx completion zsh: a command list for _describe, every option for _arguments", function()
  if sh("command -v zsh") == "" then skip("zsh is not installed (scripts/setup.sh installs it)") end
  local out, rc = sh(bin .. " completion zsh > " .. dir .. "/_sbx")
  expect(rc, out).eq(0)
  expect(select(2, sh("zsh -n " .. dir .. "/_sbx"))).eq(0)
  local stubs = "_describe() { print -r -- \"DESCRIBE ${(P)2}\" }; _arguments() { print -r -- \"ARGS $*\" }; _files() { :; }; compadd() { :; }; "
  out = sh(env .. "zsh -c '" .. stubs .. "words=(sbx \"\"); CURRENT=2; source " .. dir .. "/_sbx'")
  expect(out).contains("DESCRIBE run:run a command in a new sandbox")
  expect(out).contains("cp:copy in or out of a running sandbox")
  out = sh(env .. "zsh -c '" .. stubs .. "words=(sbx run --re); CURRENT=3; source " .. dir .. "/_sbx'")
  for _, o in ipairs(run_options) do expect(out, o.long).contains("--" .. o.long .. "[") end
  expect(out).contains(" *::command:_normal")
end)

test("sbx help --man: sbx.1 that man renders without warnings, with every run option", function()
  local out, rc = sh(bin .. " help --man > " .. dir .. "/sbx.1")
  expect(rc, out).eq(0)
  local warnings = sh("groff -man -Tutf8 -ww -z " .. dir .. "/sbx.1 2>&1")
  expect(warnings).eq("")
  local page = sh("MANWIDTH=200 man -l " .. dir .. "/sbx.1 2>/dev/null | col -b")
  expect(page).contains("EXIT STATUS")
  for _, o in ipairs(run_options) do expect(page, o.long).contains("--" .. o.long) end
  expect(page).contains("sbx.container{")
end)

test("the CLI dispatches every sandbox command that has an option table, and completion lists each", function()
  local dispatched = require("sbx.cli").sandbox_commands
  local listed = {}
  for _, c in ipairs(require("sbx.completion").commands()) do listed[c[1]] = true end
  for name in pairs(require("sbx.cli.sandboxes").options) do
    expect(dispatched[name], name .. " dispatched").eq(true)
    expect(listed[name], name .. " in completion").eq(true)
  end
  for name in pairs(dispatched) do expect(require("sbx.cli.sandboxes").options[name] ~= nil, name).truthy() end
end)

test("cleanup", function()
  assert(os.execute("rm -rf " .. dir) == 0)
end)
