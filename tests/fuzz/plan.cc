// The plan reader: JSON text (what a detached supervisor reads from plan.json) -> a Spec,
// validated.
#include "lua_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lua_State* L = sbx::fuzz::lua_target(R"(
    local core = require "sbx.core"
    return function(text)
      local ok, plan = pcall(core.json.decode, text)
      if ok and type(plan) == "table" then pcall(core.plan, plan) end
    end)");
  return sbx::fuzz::run_lua(L, data, size);
}
