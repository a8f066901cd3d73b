#include "plan_lua.h"

#include <cmath>
#include <cstring>

#include "core/cgroup/cgroup.h"
#include "core/sandbox/plan.h"

namespace sbx::bind {

using core::schema::Json;

Json lua_to_json(lua_State* L, int idx, const std::string& path, int depth) {
  if (depth > 64) raise(L, path.substr(0, 64) + "...: nested too deep (a cycle?)");
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      return nullptr;
    case LUA_TBOOLEAN:
      return static_cast<bool>(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
      double d = lua_tonumber(L, idx);
      if (!std::isfinite(d)) raise(L, path + ": cannot hold inf or nan");
      if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return static_cast<int64_t>(d);
      return d;
    }
    case LUA_TSTRING: {
      size_t n;
      const char* s = lua_tolstring(L, idx, &n);
      return std::string(s, n);
    }
    case LUA_TTABLE: {
      idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
      size_t n = lua_objlen(L, idx);
      size_t count = 0;
      bool only_array = true;
      lua_pushnil(L);
      while (lua_next(L, idx)) {  // [k, v]
        ++count;
        if (lua_type(L, -2) != LUA_TNUMBER) only_array = false;
        lua_pop(L, 1);
      }
      if (only_array && count == n) {  // a list (an empty table is a list too)
        Json a = Json::array();
        for (size_t i = 1; i <= n; ++i) {
          lua_rawgeti(L, idx, static_cast<int>(i));
          a.push_back(lua_to_json(L, -1, path + "[" + std::to_string(i) + "]", depth + 1));
          lua_pop(L, 1);
        }
        return a;
      }
      Json o = Json::object();
      lua_pushnil(L);
      while (lua_next(L, idx)) {  // [k, v]
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
          key = lua_tostring(L, -2);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
          lua_pushvalue(L, -2);
          key = lua_tostring(L, -1);
          lua_pop(L, 1);
        } else {
          raise(L, path + ": cannot use a " + luaL_typename(L, -2) + " as a key");
        }
        o[key] = lua_to_json(L, -1, path + "." + key, depth + 1);
        lua_pop(L, 1);
      }
      return o;
    }
    default:
      raise(L, path + ": cannot hold a " + luaL_typename(L, idx));
  }
}

void push_json(lua_State* L, const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      lua_pushnil(L);
      break;
    case Json::value_t::boolean:
      lua_pushboolean(L, j.get<bool>());
      break;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      lua_pushnumber(L, j.get<double>());
      break;
    case Json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case Json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      int i = 1;
      for (const auto& v : j) {
        push_json(L, v);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case Json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (const auto& [k, v] : j.items()) {
        lua_pushlstring(L, k.data(), k.size());
        push_json(L, v);
        lua_rawset(L, -3);
      }
      break;
    }
    default:
      lua_pushnil(L);
  }
}

namespace {
constexpr const char* kPlanMeta = "sbx.Plan";

// What a run may change in a checked plan without the whole plan being checked again.
bool process_key(const std::string& k) {
  return k == "argv" || k == "env" || k == "cwd" || k == "uid" || k == "gid";
}

}  // namespace

void decode_plan_over(lua_State* L, int idx, core::Spec& spec, const char* path) {
  Json j = lua_to_json(L, idx, path);
  if (auto st = core::plan_from_json(j, spec, path); !st) raise(L, st.error().message);
}

Plan* to_plan(lua_State* L, int idx) {
  return static_cast<Plan*>(luaL_testudata(L, idx, kPlanMeta));
}

core::Spec spec_from_lua(lua_State* L, int idx) {
  if (Plan* p = to_plan(L, idx)) return p->spec;
  if (!lua_istable(L, idx)) raise(L, "spec: expected a plan (a table or a sbx.Plan)");
  core::Spec s;
  decode_plan_over(L, idx, s, "spec");
  return s;
}

void push_spec(lua_State* L, const core::Spec& spec) {
  push_json(L, core::plan_to_json(spec));
}

void push_plan(lua_State* L, core::Spec spec, bool checked) {
  void* mem = lua_newuserdata(L, sizeof(Plan));
  new (mem) Plan{std::move(spec), checked};
  luaL_getmetatable(L, kPlanMeta);
  lua_setmetatable(L, -2);
}

namespace {
Plan* check_plan(lua_State* L, int idx) {
  return static_cast<Plan*>(luaL_checkudata(L, idx, kPlanMeta));
}

int plan_gc(lua_State* L) {
  check_plan(L, 1)->~Plan();
  return 0;
}

// plan:table() -> the plan as plain data (box:spec())
int plan_table(lua_State* L) {
  push_spec(L, check_plan(L, 1)->spec);
  return 1;
}

// plan:json([indent]) -> the text of plan.json
int plan_json(lua_State* L) {
  Plan* p = check_plan(L, 1);
  int indent = static_cast<int>(luaL_optinteger(L, 2, -1));
  std::string text;
  try {
    text = core::plan_to_json(p->spec).dump(indent);
  } catch (const Json::exception& e) {  // a string that is not UTF-8
    raise(L, std::string("plan:json: ") + e.what());
  }
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

// plan:with{ argv =, env =, ... } -> a new sbx.Plan with those fields replaced
int plan_with(lua_State* L) {
  Plan* p = check_plan(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  core::Spec spec = p->spec;
  bool only_process = true;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    only_process =
        only_process && lua_type(L, -2) == LUA_TSTRING && process_key(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  decode_plan_over(L, 2, spec, "spec");
  push_plan(L, std::move(spec), p->checked && only_process);
  return 1;
}

// plan.FIELD: one field as data (nil when it is not set)
int plan_index(lua_State* L) {
  Plan* p = check_plan(L, 1);
  lua_getmetatable(L, 1);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);  // a method?
  if (!lua_isnil(L, -1)) return 1;
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char* key = lua_tostring(L, 2);
  for (const auto& f : core::schema::fields<core::Spec>()) {
    if (std::strcmp(f.name, key) != 0) continue;
    if (!f.present(p->spec)) return 0;
    push_json(L, f.encode(p->spec));
    return 1;
  }
  return 0;
}

int plan_tostring(lua_State* L) {
  Plan* p = check_plan(L, 1);
  std::string text =
      "sbx.Plan(" + (p->spec.rootfs.empty() ? std::string("host root") : p->spec.rootfs) + ")";
  lua_pushstring(L, text.c_str());
  return 1;
}

// plan(table | sbx.Plan) -> sbx.Plan, checked | nil, message, errno. A table that is not a plan
// raises (naming the key path); a plan the core would refuse returns the reason.
int l_plan(lua_State* L) {
  core::Spec spec = spec_from_lua(L, 1);
  if (auto s = core::validate(spec, false); !s) return push_failure(L, s.error());
  if (!spec.limits
           .empty())  // a limit this host cannot enforce is an error now, naming the controller
    if (auto files = core::limit_files(core::detect_cgroups(), spec.limits); !files)
      return push_failure(L, files.error());
  push_plan(L, std::move(spec), true);
  return 1;
}

// plan_reference() -> { { path =, kind =, doc = }, ... }: every field of the plan, declared once
int l_plan_reference(lua_State* L) {
  auto ref = core::plan_reference();
  lua_createtable(L, static_cast<int>(ref.size()), 0);
  for (size_t i = 0; i < ref.size(); ++i) {
    lua_createtable(L, 0, 3);
    set_string(L, "path", ref[i].path.c_str());
    set_string(L, "kind", ref[i].kind.c_str());
    set_string(L, "doc", ref[i].doc.c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}
}  // namespace

void register_plan(lua_State* L) {
  static const luaL_Reg methods[] = {{"__gc", plan_gc},
                                     {"__index", guarded<plan_index>},
                                     {"__tostring", guarded<plan_tostring>},
                                     {"table", guarded<plan_table>},
                                     {"json", guarded<plan_json>},
                                     {"with", guarded<plan_with>},
                                     {nullptr, nullptr}};
  if (luaL_newmetatable(L, kPlanMeta)) luaL_register(L, nullptr, methods);
  lua_pop(L, 1);
  lua_pushcfunction(L, guarded<l_plan>);
  lua_setfield(L, -2, "plan");
  lua_pushcfunction(L, guarded<l_plan_reference>);
  lua_setfield(L, -2, "plan_reference");
}

}  // namespace sbx::bind
