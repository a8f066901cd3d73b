-- recipes/hello.lua: the first thing to run. A shell command in a sandbox built from the
-- busybox rootfs (no download), and what it proves: each namespace inside differs from outside.
--   sbx recipes/hello.lua [COMMAND]
local sbx = require "sbx"

return {
  description = "run a shell command in a busybox sandbox and show what is isolated",
  run = function(args)
    local root = assert(sbx.rootfs.busybox())
    local box = sbx.container{
      rootfs = root,
      hostname = "hello",
      env = { PS1 = "hello# " },
    }
    local cmd = args[1] or "echo \"inside: pid $$, $(id), host $(hostname)\"; ps; ls /"
    print("$ sbx run --busybox --hostname hello -- /bin/sh -c '" .. cmd .. "'")
    io.stdout:flush()
    local p = assert(box:spawn{ "/bin/sh", "-c", cmd .. "; sleep 0.3" })
    -- While it runs, compare its namespaces with ours (inode identities from /proc/PID/ns).
    local inside, outside = assert(sbx.ns.ids(p.pid)), sbx.ns.ids()
    local st = assert(p:wait())
    print()
    print(("%-8s %-14s %-14s %s"):format("ns", "outside", "inside", ""))
    for _, k in ipairs(sbx.ns.kinds) do
      local a, b = outside[k.name], inside[k.name]
      if a and b then
        print(("%-8s %-14.0f %-14.0f %s"):format(k.name, a, b, a == b and "shared" or "isolated"))
      end
    end
    print()
    print(("exit status %d; the plan it ran (box:spec()):"):format(st.status))
    local plan = box:spec()
    for i, op in ipairs(plan.ops) do
      print(("  %d. %s %s%s"):format(i, op.kind, op.source and (op.source .. " -> ") or "", op.dest))
    end
    print("  then pivot_root into " .. plan.rootfs .. " (read-only), hostname, env, execve")
    return st.status
  end,
}
