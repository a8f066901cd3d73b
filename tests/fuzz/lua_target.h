// A libFuzzer target that hands each input to a Lua function of sbx's own (the embedded library, as
// the binary runs it): `fn(input)` must return or raise a Lua error; anything else - a crash, a
// sanitizer report, an uncaught C++ exception - is a finding.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <lua.hpp>
#include <string>

#include "bind/module.h"

namespace sbx::fuzz {

// `chunk` returns the function to call with each input.
inline lua_State* lua_target(const char* chunk) {
  static lua_State* L = [&] {
    lua_State* s = luaL_newstate();
    luaL_openlibs(s);
    sbx::bind::install_preloads(s);
    if (luaL_dostring(s, "sbx = require 'sbx'; io.output('/dev/null')") != 0 ||
        luaL_loadstring(s, chunk) != 0 || lua_pcall(s, 0, 1, 0) != 0) {
      std::fprintf(stderr, "fuzz target: %s\n", lua_tostring(s, -1));
      std::abort();
    }
    lua_setglobal(s, "fuzz_one");
    return s;
  }();
  return L;
}

inline int run_lua(lua_State* L, const uint8_t* data, size_t size) {
  int top = lua_gettop(L);
  lua_getglobal(L, "fuzz_one");
  lua_pushlstring(L, reinterpret_cast<const char*>(data), size);
  (void)lua_pcall(L, 1, 0, 0);  // a Lua error is an answer, not a finding
  lua_settop(L, top);
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}

}  // namespace sbx::fuzz
