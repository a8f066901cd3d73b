-- sbx.net: links, addresses and routes over netlink (libnl), inside the network namespace of a
-- sandbox. `where` is a sbx.Process (its pid), a pid, or 0 for sbx's own namespace.
--   sbx.net.veth(a, "eth0", b, "eth0")          a pair: one end in a's namespace, one in b's
--   sbx.net.address(a, "eth0", "10.0.0.1/24")   sbx.net.up(a, "eth0")   sbx.net.mtu(a, "eth0", 1400)
--   sbx.net.route(a, "default", "10.0.0.254")   sbx.net.links(a)        sbx.net.delete(a, "eth0")
local core = require "sbx.core"
local N = core.net

local M = {}

local function pid_of(where, fn)
  if type(where) == "number" then return where end
  if (type(where) == "userdata" or type(where) == "table") and where.pid then return where.pid end
  error(("sbx.net.%s: expected a sandbox (sbx.Process), a pid or 0, got %s"):format(fn, type(where)), 3)
end

local function name_arg(fn, v)
  if type(v) ~= "string" or v == "" then error(("sbx.net.%s: expected an interface name"):format(fn), 3) end
  return v
end

function M.links(where) return N.links(pid_of(where, "links")) end

function M.up(where, ifname) return N.set_up(pid_of(where, "up"), name_arg("up", ifname), true) end

function M.down(where, ifname) return N.set_up(pid_of(where, "down"), name_arg("down", ifname), false) end

function M.mtu(where, ifname, mtu)
  if type(mtu) ~= "number" then error("sbx.net.mtu: expected a number", 2) end
  return N.set_mtu(pid_of(where, "mtu"), name_arg("mtu", ifname), mtu)
end

function M.veth(a, name, b, peer)
  return N.veth(pid_of(a, "veth"), name_arg("veth", name), name_arg("veth", peer), b and pid_of(b, "veth") or 0)
end

function M.address(where, ifname, cidr)
  if type(cidr) ~= "string" then error("sbx.net.address: expected an address like 10.0.0.1/24", 2) end
  return N.address(pid_of(where, "address"), name_arg("address", ifname), cidr)
end

function M.route(where, dst, via, ifname)
  if type(dst) ~= "string" then error('sbx.net.route: expected a destination ("default" or a prefix)', 2) end
  return N.route(pid_of(where, "route"), dst, via, ifname)
end

-- Named network namespaces, as iproute2 keeps them (/run/netns/NAME): `ip netns list` and
-- `ip netns exec NAME` see them; sbx.container{ netns = NAME } joins one (also one made by
-- `ip netns add`). create -> the path; delete -> true; list -> names.
function M.create(name) return N.netns_create(name_arg("create", name)) end
function M.destroy(name) return N.netns_delete(name_arg("destroy", name)) end
function M.namespaces() return N.netns_list() end

-- The host bridges sbx made that exist now, and the removal of what killed sbx processes left
-- (veths, per-sandbox files, published ports, unused bridges and the nft table).
function M.bridges() return N.bridges() end
function M.gc() return N.gc() end

-- IPAM without a daemon: leases in <runtime dir>/net/ipam under a file lock, held by a pid.
-- subnet([bridge]) -> the subnet the bridge (sbx0) serves, or would get now: one clear of every
-- route of the host (never podman's 10.88.0.0/16, docker's 172.17.0.0/16, libvirt's 192.168.122.0/24)
function M.subnet(bridge) return N.subnet(bridge) end
-- subnet_clashes(subnet) -> the host's routes it overlaps: { "10.88.0.0/16 on cni-podman0", ... }
function M.subnet_clashes(subnet) return N.subnet_clashes(subnet) end
M.ipam = {}
-- allocate([subnet [, owner pid]]) -> "10.88.0.2/16"; a lease whose owner is gone is reused.
function M.ipam.allocate(subnet, owner, want) return N.ipam_allocate(subnet or M.subnet(), owner, want) end
function M.ipam.release(address, subnet) return N.ipam_release(subnet or M.subnet(), address) end
function M.ipam.leases(subnet) return N.ipam_leases(subnet or M.subnet()) end

-- bridge(where, "br0"): a bridge device; attach(where, "veth0", "br0"): a link into it.
function M.bridge(where, name) return N.bridge(pid_of(where, "bridge"), name_arg("bridge", name)) end
function M.attach(where, ifname, bridge)
  return N.attach(pid_of(where, "attach"), name_arg("attach", ifname), name_arg("attach", bridge))
end

function M.delete(where, ifname) return N.delete(pid_of(where, "delete"), name_arg("delete", ifname)) end

return M
