-- An admission policy for sbx-oci (sbx-oci --policy examples/oci-policy.lua ..., or installed as
-- /etc/sbx/policy.lua): it sees each container's config.json as a table before anything is made,
-- and tightens it or refuses it. The reason of a refusal reaches the engine's user:
--   Error: OCI runtime error: sbx-oci: sbx oci: refused by policy ...: privileged containers are not allowed here
return function(config, info)
  local caps = (config.process or {}).capabilities or {}
  for _, c in ipairs(caps.bounding or {}) do
    if c == "CAP_SYS_ADMIN" then return nil, "privileged containers are not allowed here (" .. info.id .. " asks for CAP_SYS_ADMIN)" end
  end
  -- every container gets its own network namespace (no --network host)
  local linux = config.linux or {}
  local has_net = false
  for _, ns in ipairs(linux.namespaces or {}) do has_net = has_net or ns.type == "network" end
  if not has_net then return nil, "the host's network namespace is not allowed here" end
  -- sbx's default seccomp profile when the engine sent none
  if not linux.seccomp then linux.seccomp = sbx.json.decode(sbx.seccomp.default():to_json()) end
  -- at most 1 GiB of memory
  linux.resources = linux.resources or {}
  linux.resources.memory = linux.resources.memory or {}
  local limit = linux.resources.memory.limit
  if not limit or limit <= 0 or limit > 2 ^ 30 then linux.resources.memory.limit = 2 ^ 30 end
  config.linux = linux
  return config
end
