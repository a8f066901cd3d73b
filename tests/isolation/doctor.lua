-- sbx doctor (issue 16, part 4): what this host lets sbx do, each piece checked for real, and the
-- fix for each missing one; as text and JSON. (As an unprivileged user, and on a host that forbids
-- user namespaces: tests/isolation/rootless.lua.)
local bin = os.getenv("SBX_BIN")
if not bin then skip_all("needs SBX_BIN (run through ctest)") end

test("every check is ok, a note, or a FAIL with its fix; text and --json say the same", function()
  local out, rc = sh(bin .. " doctor --json")
  local checks = sbx.json.decode(out)
  expect(#checks > 8, out).eq(true)
  local failed = false
  for _, c in ipairs(checks) do
    expect(type(c.check), "a name").eq("string")
    expect(type(c.detail), c.check .. ": a detail").eq("string")
    if c.ok == false then
      failed = true
      expect(type(c.fix), c.check .. ": a failed check's fix").eq("string")
    end
  end
  expect(rc, "the exit status follows the failures").eq(failed and 1 or 0)
  local text = sh(bin .. " doctor")
  for _, c in ipairs(checks) do
    local tag = c.ok == true and "ok  " or c.ok == false and "FAIL" or "note"
    expect(text).contains(tag .. "  " .. c.check)
  end
  -- the checks that run something for real, here as root
  local by = {}
  for _, c in ipairs(checks) do by[c.check] = c end
  expect(by["user namespaces"].ok).eq(true)
  expect(by["sandbox with a workspace"].ok, by["sandbox with a workspace"].detail).eq(true)
  expect(by["nftables"].ok, by["nftables"].detail).eq(true)
  expect(sh(bin .. " doctor --bogus")).contains("unknown option --bogus")
  expect(sh(bin .. " doctor --help")).contains("usage: sbx doctor")
end)
