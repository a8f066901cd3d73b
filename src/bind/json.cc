// sbx.json: encode/decode with nlohmann::json (Debian's nlohmann-json3-dev).
#include <cmath>
#include <nlohmann/json.hpp>

#include "lua_util.h"

namespace sbx::bind {

namespace {
using nlohmann::json;

json to_json(lua_State* L, int idx, int depth) {
  if (depth > 64) raise(L, "json.encode: nested too deep (a cycle?)");
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return nullptr;
    case LUA_TBOOLEAN: return static_cast<bool>(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
      double d = lua_tonumber(L, idx);
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
        return static_cast<int64_t>(d);
      if (!std::isfinite(d)) raise(L, "json.encode: cannot encode inf or nan");
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
        json a = json::array();
        for (size_t i = 1; i <= n; ++i) {
          lua_rawgeti(L, idx, static_cast<int>(i));
          a.push_back(to_json(L, -1, depth + 1));
          lua_pop(L, 1);
        }
        return a;
      }
      json o = json::object();
      lua_pushnil(L);
      while (lua_next(L, idx)) {  // [k, v]
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) key = lua_tostring(L, -2);
        else if (lua_type(L, -2) == LUA_TNUMBER) {
          lua_pushvalue(L, -2);
          key = lua_tostring(L, -1);
          lua_pop(L, 1);
        } else {
          raise(L, std::string("json.encode: cannot use a ") + luaL_typename(L, -2) + " as an object key");
        }
        o[key] = to_json(L, -1, depth + 1);
        lua_pop(L, 1);
      }
      return o;
    }
    default: raise(L, std::string("json.encode: cannot encode a ") + luaL_typename(L, idx));
  }
}

void push_json(lua_State* L, const json& j) {
  switch (j.type()) {
    case json::value_t::null: lua_pushnil(L); break;
    case json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: lua_pushnumber(L, j.get<double>()); break;
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      int i = 1;
      for (const auto& v : j) {
        push_json(L, v);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (const auto& [k, v] : j.items()) {
        push_json(L, v);
        lua_setfield(L, -2, k.c_str());
      }
      break;
    }
    default: lua_pushnil(L);
  }
}

// encode(value [, indent])
int l_encode(lua_State* L) {
  luaL_checkany(L, 1);
  int indent = static_cast<int>(luaL_optinteger(L, 2, -1));
  // dump() throws on a string that is not UTF-8: that is misuse, raised with its reason (the
  // guard would say the same, but not as an "internal error").
  std::string s;
  try {
    s = to_json(L, 1, 0).dump(indent);
  } catch (const nlohmann::json::exception& e) {
    raise(L, std::string("json.encode: ") + e.what());
  }
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

int l_decode(lua_State* L) {
  size_t n;
  const char* s = luaL_checklstring(L, 1, &n);
  json j = json::parse(s, s + n, nullptr, false);
  if (j.is_discarded()) return push_failure(L, {EINVAL, "json.decode: not valid JSON"});
  push_json(L, j);
  return 1;
}
}  // namespace

void register_json(lua_State* L) {
  static const luaL_Reg fns[] = {{"encode", guarded<l_encode>}, {"decode", guarded<l_decode>}, {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
