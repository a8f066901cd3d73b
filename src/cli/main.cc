// sbx: a LuaJIT state with the core and the embedded lua/sbx modules; everything the command
// line does is in lua/sbx/cli (the same code path as the Lua API).
#include <cstdio>
#include <cstring>

#include "bind/module.h"
#include "core/init.h"

namespace {
int traceback(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (!msg) msg = "(error object is not a string)";
  lua_getglobal(L, "debug");
  lua_getfield(L, -1, "traceback");
  lua_pushstring(L, msg);
  lua_pushinteger(L, 2);
  lua_call(L, 2, 1);
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  // argv strings are contiguous: [argv[0], end of the last one) is the area /proc/PID/cmdline shows.
  sbx::core::set_title_area(argv[0], static_cast<size_t>(argv[argc - 1] + std::strlen(argv[argc - 1]) - argv[0]));
  lua_State* L = luaL_newstate();
  if (!L) {
    std::fputs("sbx: cannot create a Lua state (out of memory)\n", stderr);
    return 125;
  }
  luaL_openlibs(L);
  sbx::bind::install_preloads(L);
  lua_pushcfunction(L, traceback);  // [tb]
  lua_getglobal(L, "require");      // [tb, require]
  lua_pushstring(L, "sbx.cli");
  if (lua_pcall(L, 1, 1, 1) != 0) {  // [tb, cli]
    std::fprintf(stderr, "sbx: %s\n", lua_tostring(L, -1));
    return 125;
  }
  lua_getfield(L, -1, "main");  // [tb, cli, main]
  lua_createtable(L, argc, 0);  // [tb, cli, main, args]
  for (int i = 1; i < argc; ++i) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_pushstring(L, argv[0]);
  lua_rawseti(L, -2, 0);
  int rc = 125;
  if (lua_pcall(L, 1, 1, 1) != 0) {
    std::fprintf(stderr, "sbx: %s\n", lua_tostring(L, -1));
  } else {
    rc = lua_isnumber(L, -1) ? static_cast<int>(lua_tointeger(L, -1)) : 0;
  }
  std::fflush(stdout);
  lua_close(L);  // runs __gc: sandboxes still running are killed and reaped
  return rc;
}
