// sbx.net (C half): netlink operations inside a process's network namespace.
#include "core/net/net.h"

#include <unistd.h>

#include "core/net/bridge.h"
#include "core/net/ipam.h"
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

void register_net(lua_State* L) {
  static const luaL_Reg fns[] = {{"links", guarded<l_links>},
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
