-- sbx probe [sbx run options] / sbx.probe(description): the project's attack probe (tests/probe,
-- `sbx-probe attacks`) run inside a sandbox built from *your* options or table, printed as TAP: each
-- attack with its outcome and, when it got through, what in the configuration allowed it.
local core = require "sbx.core"

local M = {}

-- What stops each attack in sbx's default sandbox, by the probe's names.
local BY = {
  ["sysrq-write"] = "readonly", ["proc-sys-write"] = "readonly",
  ["read-timer_list"] = "masked", ["read-sched_debug"] = "masked",
  mknod = "caps",
}

-- The probe binary: SBX_PROBE, beside this sbx (a build), or the installed libexec/sbx/sbx-probe.
function M.binary()
  local env = os.getenv("SBX_PROBE")
  if env and env ~= "" then return env end
  local f = io.popen("readlink -f /proc/" .. core.sys.getpid() .. "/exe")
  local exe = f:read("*l")
  f:close()
  local dir = exe and exe:match("^(.*)/[^/]+$")
  for _, candidate in ipairs({ dir and (dir .. "/sbx-probe"), dir and (dir .. "/../libexec/sbx/sbx-probe") }) do
    local h = candidate and io.open(candidate)
    if h then h:close(); return candidate end
  end
  return nil, "sbx probe: no sbx-probe beside " .. tostring(exe) .. " or in its ../libexec/sbx (set SBX_PROBE=PATH)"
end

local function why(name, plan, description)
  local kind = BY[name]
  if description.privileged then return "privileged = true (no seccomp, all capabilities, nothing masked or read-only)" end
  if kind == "readonly" then return "readonly_paths = " .. table.concat(plan.readonly_paths or {}, ", ") end
  if kind == "masked" then return "masked_paths = " .. table.concat(plan.masked_paths or {}, ", ") end
  local sc = plan.seccomp
  local seccomp = sc == nil and "none" or type(sc) == "table" and (sc.profile ~= "" and sc.profile or "a policy of its own") or tostring(sc)
  local caps = plan.caps
  local admin = caps == nil
  for _, c in ipairs(caps or {}) do admin = admin or c == "CAP_SYS_ADMIN" end
  local capstext = caps == nil and "all capabilities" or admin and "caps include CAP_SYS_ADMIN" or ("%d capabilities, no CAP_SYS_ADMIN"):format(#caps)
  if kind == "caps" then return ("%s; seccomp = %s"):format(capstext, seccomp) end
  return ("seccomp = %s; %s"):format(seccomp, capstext)
end

-- sbx.probe(description) -> { { name =, ok = bool, outcome =, why = }, ... } | nil, err
function M.probe(description)
  local bin, err = M.binary()
  if not bin then return nil, err end
  local d = {}
  for k, v in pairs(description) do d[k] = v end
  d.mounts = {}
  for i, m in ipairs(description.mounts or {}) do d.mounts[i] = m end
  d.mounts[#d.mounts + 1] = require("sbx").ro_bind(bin, "/tmp/.sbx-probe")
  local box = require("sbx").container(d)
  local st, rerr = box:run{ "/tmp/.sbx-probe", "attacks", stdout = "pipe", stderr = "pipe", timeout = 120 }
  box:close()
  if not st then return nil, "sbx probe: " .. tostring(rerr) end
  local plan = box:spec()
  local results = {}
  for line in st.stdout:gmatch("[^\n]+") do
    local name, outcome = line:match("^([%w%-_]+): (.+)$")
    if name and (outcome == "allowed" or outcome:match("^blocked")) then
      local ok = outcome ~= "allowed"
      results[#results + 1] = { name = name, ok = ok, outcome = outcome, why = not ok and why(name, plan, description) or nil }
    end
  end
  if #results == 0 then return nil, "sbx probe: the probe reported nothing (" .. (st.stderr or "") .. ")" end
  return results
end

function M.tap(results)
  local lines = { "TAP version 13", "1.." .. #results }
  local failed = 0
  for i, r in ipairs(results) do
    if r.ok then
      lines[#lines + 1] = ("ok %d - %s: %s"):format(i, r.name, r.outcome)
    else
      failed = failed + 1
      lines[#lines + 1] = ("not ok %d - %s allowed: %s"):format(i, r.name, r.why)
    end
  end
  lines[#lines + 1] = ("# %d blocked, %d allowed"):format(#results - failed, failed)
  return table.concat(lines, "\n") .. "\n", failed
end

-- sbx probe [sbx run options]: exit 0 when every attack was blocked, 1 otherwise.
function M.main(args)
  local run = require "sbx.cli.run"
  local opts, rest = require("sbx.cli.getopt").parse(args, run.options)
  if not opts then io.stderr:write("sbx probe: ", rest, "\n(see sbx run --help: the same options)\n"); return 2 end
  if opts.help then
    io.write("usage: sbx probe [sbx run options]\n\nRuns the attack probe in a sandbox made from the options and prints, as TAP, each attack\n",
             "with its outcome, and for one that got through what in the configuration allowed it.\n")
    return 0
  end
  local ok, d = pcall(run.description, opts)
  if not ok then
    if type(d) == "table" then io.stderr:write("sbx probe: ", tostring(d.setup), "\n"); return 125 end
    io.stderr:write("sbx probe: ", run.user_words(d, opts), "\n")
    return 2
  end
  local results, err = M.probe(d)
  if not results then io.stderr:write(err, "\n"); return 125 end
  local text, failed = M.tap(results)
  io.write(text)
  return failed == 0 and 0 or 1
end

return M
