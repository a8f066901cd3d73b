// The command line: the input is argv (NUL-separated) for `sbx run --print-spec ...` and for the
// `sbx image` argument checks; nothing is run.
#include "lua_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lua_State* L = sbx::fuzz::lua_target(R"(
    local run = require "sbx.cli.run"
    return function(text)
      local args = { "--print-spec" }
      for a in (text .. "\0"):gmatch("([^%z]*)%z") do
        -- a run would start something: only the parse, the description and the plan
        if a == "--print-spec" or a == "-d" or a == "--detach" then a = "--hostname" end
        args[#args + 1] = a
      end
      pcall(run.main, args)
    end)");
  return sbx::fuzz::run_lua(L, data, size);
}
