// sbx.net (C half): netlink operations inside a process's network namespace.
#include "core/net/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "core/net/bridge.h"
#include "core/net/ipam.h"
#include "core/net/nft.h"
#include "core/net/usernet.h"
#include "core/sandbox/owner.h"
#include "lua_util.h"

namespace sbx::bind {

namespace {

pid_t pid_arg(lua_State* L, int idx) {
  lua_Integer p = luaL_checkinteger(L, idx);
  if (p < 0) raise(L, "sbx.net: pid must not be negative");
  return static_cast<pid_t>(p);
}

int done(lua_State* L, const core::Status& s) {
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

int l_links(lua_State* L) {
  auto links = core::net_links(pid_arg(L, 1));
  if (!links) return push_failure(L, links.error());
  lua_createtable(L, static_cast<int>(links->size()), 0);
  for (size_t i = 0; i < links->size(); ++i) {
    const auto& l = (*links)[i];
    lua_createtable(L, 0, 4);
    set_string(L, "name", l.name.c_str());
    set_integer(L, "index", l.index);
    set_bool(L, "up", l.up);
    set_integer(L, "mtu", l.mtu);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int l_set_up(lua_State* L) {
  bool up = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
  return done(L, core::net_set_up(pid_arg(L, 1), luaL_checkstring(L, 2), up));
}

int l_set_mtu(lua_State* L) {
  return done(L, core::net_set_mtu(pid_arg(L, 1), luaL_checkstring(L, 2),
                                   static_cast<unsigned>(luaL_checkinteger(L, 3))));
}

int l_veth(lua_State* L) {
  return done(L, core::net_add_veth(pid_arg(L, 1), luaL_checkstring(L, 2), luaL_checkstring(L, 3),
                                    static_cast<pid_t>(luaL_optinteger(L, 4, 0))));
}

int l_bridge(lua_State* L) {
  return done(L, core::net_add_bridge(pid_arg(L, 1), luaL_checkstring(L, 2)));
}

int l_attach(lua_State* L) {
  return done(L, core::net_attach(pid_arg(L, 1), luaL_checkstring(L, 2), luaL_checkstring(L, 3)));
}

int l_delete(lua_State* L) {
  return done(L, core::net_delete_link(pid_arg(L, 1), luaL_checkstring(L, 2)));
}

int l_address(lua_State* L) {
  return done(L,
              core::net_add_address(pid_arg(L, 1), luaL_checkstring(L, 2), luaL_checkstring(L, 3)));
}

int l_route(lua_State* L) {
  return done(L, core::net_add_route(pid_arg(L, 1), luaL_checkstring(L, 2),
                                     luaL_optstring(L, 3, ""), luaL_optstring(L, 4, "")));
}

// ipam_allocate(subnet [, owner_pid [, want]]) -> "10.88.0.2/16" | nil, err
int l_ipam_allocate(lua_State* L) {
  if (auto s = core::register_owner(); !s) return push_failure(L, s.error());
  auto lease = core::ipam_allocate(core::net_state_dir(), luaL_checkstring(L, 1),
                                   static_cast<pid_t>(luaL_optinteger(L, 2, getpid())), "",
                                   luaL_optstring(L, 3, ""));
  if (!lease) return push_failure(L, lease.error());
  lua_pushstring(L, lease->address.c_str());
  return 1;
}

int l_ipam_release(lua_State* L) {
  return done(
      L, core::ipam_release(core::net_state_dir(), luaL_checkstring(L, 1), luaL_checkstring(L, 2)));
}

int l_ipam_leases(lua_State* L) {
  auto leases = core::ipam_leases(core::net_state_dir(), luaL_checkstring(L, 1));
  if (!leases) return push_failure(L, leases.error());
  lua_createtable(L, static_cast<int>(leases->size()), 0);
  for (size_t i = 0; i < leases->size(); ++i) {
    lua_createtable(L, 0, 2);
    set_string(L, "address", (*leases)[i].address.c_str());
    set_integer(L, "owner", (*leases)[i].owner);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int l_netns_create(lua_State* L) {
  auto path = core::netns_create(luaL_checkstring(L, 1));
  if (!path) return push_failure(L, path.error());
  lua_pushstring(L, path->c_str());
  return 1;
}

int l_netns_delete(lua_State* L) {
  return done(L, core::netns_delete(luaL_checkstring(L, 1)));
}

int push_list(lua_State* L, const core::Result<std::vector<std::string>>& r) {
  if (!r) return push_failure(L, r.error());
  push_strings(L, *r);
  return 1;
}

int l_netns_list(lua_State* L) {
  return push_list(L, core::netns_list());
}
int l_gc(lua_State* L) {
  return push_list(L, core::bridge_gc());
}

int l_bridges(lua_State* L) {
  push_strings(L, core::sbx_bridges());
  return 1;
}

}  // namespace

// nft_in(pid, commands [, json]) -> output | nil, err: nft commands in pid's network namespace
int l_nft_in(lua_State* L) {
  auto out = core::nft_run_in(pid_arg(L, 1), luaL_checkstring(L, 2), lua_toboolean(L, 3));
  if (!out) return push_failure(L, out.error());
  lua_pushlstring(L, out->data(), out->size());
  return 1;
}

// nft_in_ns(netns_fd, commands [, json [, userns_fd]]) -> output | nil, err
int l_nft_in_ns(lua_State* L) {
  auto out = core::nft_run_in_ns(static_cast<int>(luaL_checkinteger(L, 1)), luaL_checkstring(L, 2),
                                 lua_toboolean(L, 3), static_cast<int>(luaL_optinteger(L, 4, -1)));
  if (!out) return push_failure(L, out.error());
  lua_pushlstring(L, out->data(), out->size());
  return 1;
}

// netns_fd(pid) -> fd [, userns_fd] | nil, err: pid's network namespace, held open (close it
// with sys.close); unprivileged, its user namespace too (nft_in_ns's fourth argument).
int l_netns_fd(lua_State* L) {
  pid_t pid = pid_arg(L, 1);
  auto ns = core::netns_of(pid);
  if (!ns) return push_failure(L, ns.error());
  if (core::unprivileged_net()) {
    auto user = core::userns_of(pid);
    if (!user) return push_failure(L, user.error());
    lua_pushinteger(L, ns->release());
    lua_pushinteger(L, user->release());
    return 2;
  }
  lua_pushinteger(L, ns->release());
  return 1;
}

// subnet([bridge = "sbx0"]) -> the subnet that bridge serves, or would get now (choose_subnet)
int l_subnet(lua_State* L) {
  std::string bridge = luaL_optstring(L, 1, "sbx0");
  auto s = core::choose_subnet(bridge, false);  // asking writes nothing down
  if (!s) return push_failure(L, s.error());
  lua_pushstring(L, s->c_str());
  return 1;
}

// subnet_clashes(subnet) -> { "10.88.0.0/16 on cni-podman0", ... }
int l_subnet_clashes(lua_State* L) {
  push_strings(L, core::subnet_clashes(luaL_checkstring(L, 1)));
  return 1;
}

// user_net_tool("pasta" | "slirp4netns") -> its path in PATH | nil
int l_user_net_tool(lua_State* L) {
  std::string path = core::user_net_tool(luaL_checkstring(L, 1));
  if (path.empty()) return 0;
  lua_pushstring(L, path.c_str());
  return 1;
}

// udp_bind(pid, ip, port) -> fd | nil, err: a non-blocking UDP socket bound in pid's namespace
int l_udp_bind(lua_State* L) {
  auto fd = core::udp_bind_in(pid_arg(L, 1), luaL_checkstring(L, 2),
                              static_cast<int>(luaL_checkinteger(L, 3)));
  if (!fd) return push_failure(L, fd.error());
  lua_pushinteger(L, fd->release());
  return 1;
}

// recvfrom(fd) -> data, ip, port | nil (nothing waiting), err
int l_recvfrom(lua_State* L) {
  int fd = static_cast<int>(luaL_checkinteger(L, 1));
  char buf[65536];
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return push_failure(L, core::sys_error("recvfrom"));
  char ip[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
  }
  lua_pushlstring(L, buf, static_cast<size_t>(n));
  lua_pushstring(L, ip);
  lua_pushinteger(L, port);
  return 3;
}

// sendto(fd, data, ip, port) -> true | nil, err
int l_sendto(lua_State* L) {
  int fd = static_cast<int>(luaL_checkinteger(L, 1));
  size_t n;
  const char* data = luaL_checklstring(L, 2, &n);
  std::string ip = luaL_checkstring(L, 3);
  int port = static_cast<int>(luaL_checkinteger(L, 4));
  struct sockaddr_storage ss;
  socklen_t len;
  if (!core::make_sockaddr(ip, port, ss, len)) raise(L, "sendto: not an address: " + ip);
  if (sendto(fd, data, n, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), len) < 0)
    return push_failure(L, core::sys_error("sendto " + ip));
  lua_pushboolean(L, 1);
  return 1;
}

void register_net(lua_State* L) {
  static const luaL_Reg fns[] = {{"links", guarded<l_links>},
                                 {"nft_in", guarded<l_nft_in>},
                                 {"nft_in_ns", guarded<l_nft_in_ns>},
                                 {"netns_fd", guarded<l_netns_fd>},
                                 {"user_net_tool", guarded<l_user_net_tool>},
                                 {"subnet", guarded<l_subnet>},
                                 {"subnet_clashes", guarded<l_subnet_clashes>},
                                 {"udp_bind", guarded<l_udp_bind>},
                                 {"recvfrom", guarded<l_recvfrom>},
                                 {"sendto", guarded<l_sendto>},
                                 {"set_up", guarded<l_set_up>},
                                 {"set_mtu", guarded<l_set_mtu>},
                                 {"veth", guarded<l_veth>},
                                 {"delete", guarded<l_delete>},
                                 {"address", guarded<l_address>},
                                 {"route", guarded<l_route>},
                                 {"ipam_allocate", guarded<l_ipam_allocate>},
                                 {"bridge", guarded<l_bridge>},
                                 {"attach", guarded<l_attach>},
                                 {"ipam_release", guarded<l_ipam_release>},
                                 {"ipam_leases", guarded<l_ipam_leases>},
                                 {"netns_create", guarded<l_netns_create>},
                                 {"netns_delete", guarded<l_netns_delete>},
                                 {"netns_list", guarded<l_netns_list>},
                                 {"gc", guarded<l_gc>},
                                 {"bridges", guarded<l_bridges>},
                                 {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
