// sbx.cgroup: cgroups as Lua objects. create/open return an sbx.Cgroup with the raw file
// access (set/get), membership (add/procs), figures (stat/events) and control (freeze, thaw,
// kill, remove).
#include "core/cgroup/cgroup.h"

#include "core/base/units.h"
#include "core/sandbox/plan.h"
#include "lua_util.h"
#include "plan_lua.h"
#include "sandbox.h"

namespace sbx::bind {

namespace {

constexpr const char* kCgroupMeta = "sbx.Cgroup";

struct LuaCgroup {
  core::Cgroup cg;
};

core::Cgroup& check_cgroup(lua_State* L, int i) {
  return static_cast<LuaCgroup*>(luaL_checkudata(L, i, kCgroupMeta))->cg;
}

int push_cgroup(lua_State* L, core::Cgroup cg) {
  void* mem = lua_newuserdata(L, sizeof(LuaCgroup));  // [ud]
  new (mem) LuaCgroup{std::move(cg)};
  luaL_getmetatable(L, kCgroupMeta);
  lua_setmetatable(L, -2);
  return 1;
}

int ok_or_fail(lua_State* L, const core::Status& s) {
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// Limits arrive already in plan form (numbers, "max"), made by lua/sbx/cgroup.lua: read as a
// plan's limits table is.
core::Limits limits_arg(lua_State* L, int idx, const char* what) {
  core::Limits l;
  if (lua_isnoneornil(L, idx)) return l;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (auto s = core::limits_from_json(lua_to_json(L, idx, what), l, what); !s)
    raise(L, s.error().message);
  return l;
}

// create(name, parent, limits) -> Cgroup | nil, err, errno
int l_create(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  std::string parent = luaL_optstring(L, 2, "");
  core::Limits limits = limits_arg(L, 3, "limits");
  auto cg = core::Cgroup::create(core::detect_cgroups(), parent, name, limits);
  if (!cg) return push_failure(L, cg.error());
  return push_cgroup(L, std::move(*cg));
}

int l_open(lua_State* L) {
  auto cg = core::Cgroup::open(core::detect_cgroups(), luaL_checkstring(L, 1));
  if (!cg) return push_failure(L, cg.error());
  return push_cgroup(L, std::move(*cg));
}

// A cgroup file is one name in the group's directory: a path is misuse, raised.
std::string file_arg(lua_State* L, int idx) {
  std::string f = luaL_checkstring(L, idx);
  if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
    raise(L, "cgroup file '" + f + "': expected a file name such as memory.max");
  return f;
}

int l_set(lua_State* L) {
  std::string f = file_arg(L, 2);
  return ok_or_fail(L, check_cgroup(L, 1).set(f, luaL_checkstring(L, 3)));
}

// g:limit(limits) -> true | nil, err, errno: the limits written to the live group, all or none
int l_limit(lua_State* L) {
  core::Cgroup& cg = check_cgroup(L, 1);
  return ok_or_fail(L, cg.apply(limits_arg(L, 2, "limits")));
}

int l_get(lua_State* L) {
  auto v = check_cgroup(L, 1).get(file_arg(L, 2));
  if (!v) return push_failure(L, v.error());
  lua_pushlstring(L, v->data(), v->size());
  return 1;
}

int l_add(lua_State* L) {
  return ok_or_fail(L, check_cgroup(L, 1).add(static_cast<pid_t>(luaL_checkinteger(L, 2))));
}

int l_procs(lua_State* L) {
  auto ps = check_cgroup(L, 1).procs();
  if (!ps) return push_failure(L, ps.error());
  lua_createtable(L, static_cast<int>(ps->size()), 0);
  for (size_t i = 0; i < ps->size(); ++i) {
    lua_pushinteger(L, (*ps)[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int l_stat(lua_State* L) {
  auto st = check_cgroup(L, 1).stat();
  if (!st) return push_failure(L, st.error());
  push_cgroup_stat(L, *st);
  return 1;
}

int l_events(lua_State* L) {
  auto ev = check_cgroup(L, 1).events();
  if (!ev) return push_failure(L, ev.error());
  push_cgroup_events(L, *ev);
  return 1;
}

int l_freeze(lua_State* L) {
  return ok_or_fail(L, check_cgroup(L, 1).freeze());
}
int l_thaw(lua_State* L) {
  return ok_or_fail(L, check_cgroup(L, 1).thaw());
}
int l_kill(lua_State* L) {
  return ok_or_fail(L, check_cgroup(L, 1).kill());
}
int l_remove(lua_State* L) {
  return ok_or_fail(L, check_cgroup(L, 1).remove());
}

// g:destroy(): kills and removes the group even if this process did not create it
int l_destroy(lua_State* L) {
  return ok_or_fail(L, check_cgroup(L, 1).destroy());
}

// g:file("memory.events") -> its absolute path | nil, message; g:version("memory") -> 1 | 2
int l_file(lua_State* L) {
  std::string name = file_arg(L, 2);
  std::string p = check_cgroup(L, 1).file_path(name);
  if (p.empty()) return push_failure(L, {ENOENT, "cgroup: no hierarchy here has " + name});
  lua_pushstring(L, p.c_str());
  return 1;
}

int l_version(lua_State* L) {
  lua_pushinteger(L, check_cgroup(L, 1).on_v2(luaL_checkstring(L, 2)) ? 2 : 1);
  return 1;
}

int l_dirs(lua_State* L) {
  push_strings(L, check_cgroup(L, 1).dirs());
  return 1;
}

int l_index(lua_State* L) {
  core::Cgroup& cg = check_cgroup(L, 1);
  std::string key = luaL_checkstring(L, 2);
  if (key == "path") {
    lua_pushstring(L, cg.path().c_str());
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, key.c_str());
  return 1;
}

int l_gc(lua_State* L) {
  auto* u = static_cast<LuaCgroup*>(luaL_checkudata(L, 1, kCgroupMeta));
  u->~LuaCgroup();  // a group this process created goes with its last reference
  return 0;
}

int l_tostring(lua_State* L) {
  core::Cgroup& cg = check_cgroup(L, 1);
  lua_pushfstring(L, "sbx.Cgroup(%s%s)", cg.path().c_str(), cg.owned() ? "" : ", opened");
  return 1;
}

// delegated_parent() -> where an unprivileged caller's groups go (relative to the v2 root) | nil,
// err
int l_delegated_parent(lua_State* L) {
  auto d = core::delegated_cgroup_parent(core::detect_cgroups());
  if (!d) return push_failure(L, d.error());
  lua_pushstring(L, d->c_str());
  return 1;
}

// layout() -> { layout = "hybrid", v2_root = ..., v2_controllers = {...}, v1 = { memory =
// "/sys/..." } }
int l_layout(lua_State* L) {
  core::CgroupHost h = core::detect_cgroups();
  lua_createtable(L, 0, 4);
  set_string(L, "layout", h.layout.c_str());
  set_string(L, "v2_root", h.v2_root.c_str());
  push_strings(L, h.v2_controllers);
  lua_setfield(L, -2, "v2_controllers");
  lua_createtable(L, 0, 0);
  for (const auto& [c, m] : h.v1) {
    lua_pushstring(L, m.c_str());
    lua_setfield(L, -2, c.c_str());
  }
  lua_setfield(L, -2, "v1");
  return 1;
}

int l_gc_stale(lua_State* L) {
  push_strings(L, core::collect_stale_cgroups(core::detect_cgroups()));
  return 1;
}

}  // namespace

void register_cgroup(lua_State* L) {
  static const luaL_Reg methods[] = {{"set", guarded<l_set>},
                                     {"get", guarded<l_get>},
                                     {"limit", guarded<l_limit>},
                                     {"add", guarded<l_add>},
                                     {"procs", guarded<l_procs>},
                                     {"stat", guarded<l_stat>},
                                     {"events", guarded<l_events>},
                                     {"freeze", guarded<l_freeze>},
                                     {"thaw", guarded<l_thaw>},
                                     {"kill", guarded<l_kill>},
                                     {"remove", guarded<l_remove>},
                                     {"destroy", guarded<l_destroy>},
                                     {"dirs", guarded<l_dirs>},
                                     {"file", guarded<l_file>},
                                     {"version", guarded<l_version>},
                                     {"__index", guarded<l_index>},
                                     {"__gc", guarded<l_gc>},
                                     {"__tostring", guarded<l_tostring>},
                                     {nullptr, nullptr}};
  luaL_newmetatable(L, kCgroupMeta);
  luaL_register(L, nullptr, methods);
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {
      {"create", guarded<l_create>}, {"open", guarded<l_open>},
      {"layout", guarded<l_layout>}, {"delegated_parent", guarded<l_delegated_parent>},
      {"gc", guarded<l_gc_stale>},   {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
