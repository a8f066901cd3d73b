#include "lua_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sbx::bind {

int push_failure(lua_State* L, const core::Error& e) {
  lua_pushnil(L);
  lua_pushstring(L, e.message.c_str());
  lua_pushinteger(L, e.err);
  return 3;
}

void raise(lua_State* L, const std::string& message) {
  luaL_where(L, 1);
  lua_pushstring(L, message.c_str());
  lua_concat(L, 2);
  lua_error(L);
  __builtin_unreachable();
}

void check_keys(lua_State* L, int idx, const char* what,
                std::initializer_list<const char*> allowed) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  lua_pushnil(L);                                  // [nil]
  while (lua_next(L, idx)) {                       // [key, value]
    lua_pop(L, 1);                                 // [key]
    if (lua_type(L, -1) == LUA_TNUMBER) continue;  // array part: checked by the caller
    const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
    bool ok = key && std::any_of(allowed.begin(), allowed.end(),
                                 [&](const char* a) { return std::strcmp(a, key) == 0; });
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      std::string k = key ? key : luaL_typename(L, -1);
      lua_pop(L, 1);
      raise(L, std::string(what) + ": unknown key '" + k + "' (expected " + list + ")");
    }
  }
}

namespace {
// Pushes t[key]; raises if it is neither nil nor of type `want`.
bool get_field(lua_State* L, int idx, const char* what, const char* key, int want,
               const char* want_name) {
  lua_getfield(L, idx, key);  // [v]
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return false;
  }
  if (lua_type(L, -1) != want && !(want == LUA_TSTRING && lua_type(L, -1) == LUA_TNUMBER)) {
    std::string got = luaL_typename(L, -1);
    lua_pop(L, 1);
    raise(L, std::string(what) + "." + key + ": expected " + want_name + ", got " + got);
  }
  return true;
}
}  // namespace

std::optional<std::string> opt_string_field(lua_State* L, int idx, const char* what,
                                            const char* key) {
  if (!get_field(L, idx, what, key, LUA_TSTRING, "a string")) return std::nullopt;
  size_t n;
  const char* s = lua_tolstring(L, -1, &n);
  std::string out(s, n);
  lua_pop(L, 1);
  return out;
}

std::optional<lua_Number> opt_number_field(lua_State* L, int idx, const char* what,
                                           const char* key) {
  if (!get_field(L, idx, what, key, LUA_TNUMBER, "a number")) return std::nullopt;
  lua_Number n = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return n;
}

std::optional<lua_Number> opt_whole_field(lua_State* L, int idx, const char* what, const char* key,
                                          lua_Number lo, lua_Number hi) {
  auto v = opt_number_field(L, idx, what, key);
  if (v && !(*v >= lo && *v <= hi && *v == std::floor(*v)))
    raise(L, std::string(what) + "." + key + ": " + std::to_string(*v) +
                 " is not a whole number in " + std::to_string(static_cast<long long>(lo)) + ".." +
                 std::to_string(static_cast<unsigned long long>(hi)));
  return v;
}

std::optional<bool> opt_bool_field(lua_State* L, int idx, const char* what, const char* key) {
  if (!get_field(L, idx, what, key, LUA_TBOOLEAN, "a boolean")) return std::nullopt;
  bool b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

void set_number(lua_State* L, const char* key, lua_Number value) {
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

void set_integer(lua_State* L, const char* key, lua_Integer value) {
  lua_pushinteger(L, value);
  lua_setfield(L, -2, key);
}

void set_string(lua_State* L, const char* key, const char* value) {
  lua_pushstring(L, value);
  lua_setfield(L, -2, key);
}

void set_bool(lua_State* L, const char* key, bool value) {
  lua_pushboolean(L, value);
  lua_setfield(L, -2, key);
}

void push_strings(lua_State* L, const std::vector<std::string>& v) {
  lua_createtable(L, static_cast<int>(v.size()), 0);  // [list]
  for (size_t i = 0; i < v.size(); ++i) {
    lua_pushlstring(L, v[i].data(), v[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

std::vector<std::string> check_string_list(lua_State* L, int idx, const char* what) {
  if (!lua_istable(L, idx))
    raise(L, std::string(what) + ": expected a list of strings, got " + luaL_typename(L, idx));
  std::vector<std::string> out;
  size_t n = lua_objlen(L, idx);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, idx, static_cast<int>(i));  // [v]
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
      std::string got = luaL_typename(L, -1);
      lua_pop(L, 1);
      raise(L, std::string(what) + "[" + std::to_string(i) + "]: expected a string, got " + got);
    }
    size_t len;
    const char* s = lua_tolstring(L, -1, &len);
    out.emplace_back(s, len);
    lua_pop(L, 1);
  }
  return out;
}

std::optional<std::vector<std::string>> opt_string_list_field(lua_State* L, int idx,
                                                              const char* what, const char* key) {
  lua_getfield(L, idx, key);  // [v]
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return std::nullopt;
  }
  std::string name = std::string(what) + "." + key;
  auto out = check_string_list(L, lua_gettop(L), name.c_str());
  lua_pop(L, 1);
  return out;
}

}  // namespace sbx::bind
