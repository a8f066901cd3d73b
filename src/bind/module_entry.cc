// `require "sbx"` from plain luajit loads this module: the same core and embedded Lua as the
// sbx binary.
#include "module.h"

extern "C" __attribute__((visibility("default"))) int luaopen_sbx(lua_State* L) {
  sbx::bind::install_preloads(L);
  lua_getglobal(L, "package");     // [package]
  lua_getfield(L, -1, "preload");  // [package, preload]
  lua_getfield(L, -1, "sbx");      // [package, preload, loader]
  lua_pushstring(L, "sbx");
  lua_call(L, 1, 1);  // [package, preload, sbx]
  return 1;
}
