// Docker/OCI seccomp profiles (sbx.seccomp.load_json), then what the policy says of a few calls and
// its compiled filter (libseccomp), as a start would use it.
#include <unistd.h>

#include <cstdlib>

#include "lua_target.h"
#include "scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = sbx::fuzz::scratch_dir("seccomp") + "/profile.json";
  static lua_State* L = [] {
    std::string chunk = "local path = '" + path + R"('
      return function(text)
        local f = assert(io.open(path, "wb")); f:write(text); f:close()
        local ok, policy = pcall(sbx.seccomp.load_json, path)
        if not ok or not policy then return end
        for _, name in ipairs({ "read", "clone", "ioctl", "unshare" }) do pcall(policy.explain, policy, name) end
        local ok2, plan = pcall(function() return sbx.container{ seccomp = policy }:spec() end)
        if ok2 then pcall(require("sbx.core").seccomp_compile, plan) end
      end)";
    return sbx::fuzz::lua_target(chunk.c_str());
  }();
  return sbx::fuzz::run_lua(L, data, size);
}
