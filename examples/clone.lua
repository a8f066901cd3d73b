-- The seeds' first program, in sbx: clone(container_main, CLONE_NEWUTS | ...) with the child's
-- code as a Lua function. Run: sbx examples/clone.lua
local before = sbx.sys.gethostname()
local child = assert(sbx.sys.clone{
  ns = { "uts", "ipc" },
  fn = function()
    assert(sbx.sys.sethostname("container"))
    print("inside:  hostname " .. sbx.sys.gethostname() .. ", uts ns " .. sbx.ns.ids().uts)
    return 0
  end,
})
local st = child:wait()
print("outside: hostname " .. sbx.sys.gethostname() .. ", uts ns " .. sbx.ns.ids().uts .. " (was " .. before .. ")")
print("child exited with " .. st.status)
