// The sbx.core C module and the embedded Lua modules.
#pragma once
#include "lua_util.h"

namespace sbx::bind {

// Puts every embedded lua/sbx module and "sbx.core" into package.preload.
void install_preloads(lua_State* L);
// luaopen for "sbx.core": pushes the table of C functions.
int open_core(lua_State* L);

}  // namespace sbx::bind
