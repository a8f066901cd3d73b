// sbx.json: encode/decode with nlohmann::json (Debian's nlohmann-json3-dev); the Lua <-> JSON
// conversion is the plan's (plan_lua).
#include <cmath>
#include <nlohmann/json.hpp>

#include "plan_lua.h"

namespace sbx::bind {

namespace {
using nlohmann::json;

// encode(value [, indent])
int l_encode(lua_State* L) {
  luaL_checkany(L, 1);
  int indent = static_cast<int>(luaL_optinteger(L, 2, -1));
  // dump() throws on a string that is not UTF-8: that is misuse, raised with its reason (the
  // guard would say the same, but not as an "internal error").
  std::string s;
  try {
    s = lua_to_json(L, 1, "json.encode: value").dump(indent);
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
  static const luaL_Reg fns[] = {
      {"encode", guarded<l_encode>}, {"decode", guarded<l_decode>}, {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
