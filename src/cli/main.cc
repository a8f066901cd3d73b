// sbx: a LuaJIT state with the core and the embedded lua/sbx modules; everything the command
// line does is in lua/sbx/cli (the same code path as the Lua API).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bind/module.h"
#include "core/base/trace.h"
#include "core/sandbox/forward.h"
#include "core/sandbox/pid1.h"
#include "core/sandbox/plan.h"
#include "core/sandbox/supervise.h"

namespace {
// The error on top of the stack as text (an error object that is not a string says so).
const char* message_of(lua_State* L) {
  const char* msg = lua_tostring(L, -1);
  return msg ? msg : "(error object is not a string)";
}

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
// `sbx --supervise DIR FD LOCKFD`: the plan in DIR/plan.json becomes a Spec through the plan's
// declaration (core/sandbox/plan): the supervisor holds no Lua at all.
int supervise_main(const char* dir, const char* fd_text, const char* lock_text) {
  int report_fd = std::atoi(fd_text);
  // The sandbox directory's lock, held for the supervisor's whole life (sbx ps and gc read "alive"
  // from it); never passed on to anything it starts.
  if (int lock = lock_text ? std::atoi(lock_text) : -1; lock > 2) fcntl(lock, F_SETFD, FD_CLOEXEC);
  auto plan = sbx::core::read_plan(std::string(dir) + "/plan.json");
  if (!plan) {
    std::string msg = "error " + plan.error().message;
    if (report_fd >= 0) (void)!write(report_fd, msg.data(), msg.size());
    return 125;
  }
  return sbx::core::supervise(*plan, dir, report_fd);
}
}  // namespace

int main(int argc, char** argv) {
  sbx::core::ignore_sigpipe();
  // argv strings are contiguous: [argv[0], end of the last one) is the area /proc/PID/cmdline
  // shows.
  sbx::core::set_title_area(
      argv[0], static_cast<size_t>(argv[argc - 1] + std::strlen(argv[argc - 1]) - argv[0]));
  if ((argc == 4 || argc == 5) && std::strcmp(argv[1], "--supervise") == 0)
    return supervise_main(argv[2], argv[3], argc == 5 ? argv[4] : nullptr);
  // the start-up trace: asked for in the environment or by a flag before the command's `--`
  const char* want = std::getenv("SBX_TRACE");
  bool trace = want && std::strstr(want, "startup");
  for (int i = 1; i < argc && !trace && std::strcmp(argv[i], "--") != 0; ++i)
    trace = std::strcmp(argv[i], "--trace-startup") == 0;
  if (trace) sbx::core::trace::start();
  lua_State* L = luaL_newstate();
  if (!L) {
    std::fputs("sbx: cannot create a Lua state (out of memory)\n", stderr);
    return 125;
  }
  luaL_openlibs(L);
  sbx::bind::install_preloads(L);
  sbx::core::trace::mark("lua state");
  lua_pushcfunction(L, traceback);  // [tb]
  lua_getglobal(L, "require");      // [tb, require]
  lua_pushstring(L, "sbx.cli");
  if (lua_pcall(L, 1, 1, 1) != 0) {  // [tb, cli]
    std::fprintf(stderr, "sbx: %s\n", message_of(L));
    return 125;
  }
  sbx::core::trace::mark("library", "sbx.cli loaded");
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
    std::fprintf(stderr, "sbx: %s\n", message_of(L));
  } else {
    rc = lua_isnumber(L, -1) ? static_cast<int>(lua_tointeger(L, -1)) : 0;
  }
  std::fflush(stdout);
  lua_close(L);  // runs __gc: sandboxes still running are killed and reaped
  if (sbx::core::trace::on()) {
    sbx::core::trace::mark("end");
    std::fputs(sbx::core::trace::report().c_str(), stderr);
  }
  return rc;
}
