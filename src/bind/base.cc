// The small host helpers of core/base for Lua, so that it never shells out for them:
// core.sleep, core.read_file, core.write_file, core.signal_number, core.signal_name,
// core.private_dir, core.mkfifo, core.start_fifo, core.run_program and core.default_path.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>

#include "core/base/clock.h"
#include "core/base/env.h"
#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/base/program.h"
#include "core/base/signals.h"
#include "core/base/trace.h"
#include "core/base/trust.h"
#include "lua_util.h"

namespace sbx::bind {

namespace {

// sleep(seconds): fractions too ("sleep 0.05" without a fork and an exec).
// trace(phase): a mark of the start-up trace (SBX_TRACE=startup); nothing when it is off
int l_trace(lua_State* L) {
  if (core::trace::on()) core::trace::mark("lua", luaL_checkstring(L, 1));
  return 0;
}

// monotonic() -> seconds on the monotonic clock (fractions too): deadlines that a change of the
// wall clock does not move, finer than os.time()'s whole seconds
int l_monotonic(lua_State* L) {
  lua_pushnumber(L, core::monotonic_seconds());
  return 1;
}

int l_sleep(lua_State* L) {
  core::sleep_for(luaL_checknumber(L, 1));
  return 0;
}

// read_file(path) -> text | nil, message, errno
int l_read_file(lua_State* L) {
  auto text = core::read_file(luaL_checkstring(L, 1));
  if (!text) return push_failure(L, text.error());
  lua_pushlstring(L, text->data(), text->size());
  return 1;
}

// write_file(path, text [, mode = 0644]) -> true | nil, message, errno: whole or not at all (a
// temporary file renamed over path), so a reader never sees half of it.
int l_write_file(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  size_t n;
  const char* text = luaL_checklstring(L, 2, &n);
  lua_Integer mode = luaL_optinteger(L, 3, 0644);
  if (mode < 0 || mode > 07777)
    raise(L, "write_file: mode " + std::to_string(mode) + " is not a file mode");
  if (auto s = core::write_file_atomic(path, std::string_view(text, n), static_cast<mode_t>(mode));
      !s)
    return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// signal_number("TERM" | "SIGTERM" | "15" | 15) -> 15 | nil, "unknown signal 'X' (...)", EINVAL
int l_signal_number(lua_State* L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, 1);
    if (!(n >= 0 && n <= SIGRTMAX) || n != static_cast<lua_Number>(static_cast<int>(n))) {
      char text[32];
      snprintf(text, sizeof text, "%g", n);
      return push_failure(L, {EINVAL, std::string("signal ") + text + ": not a signal number"});
    }
    lua_pushinteger(L, static_cast<lua_Integer>(n));
    return 1;
  }
  auto sig = core::signal_number(luaL_checkstring(L, 1));
  if (!sig) return push_failure(L, sig.error());
  lua_pushinteger(L, *sig);
  return 1;
}

// signal_name(15) -> "TERM" | nil
int l_signal_name(lua_State* L) {
  std::string name = core::signal_name(static_cast<int>(luaL_checkinteger(L, 1)));
  if (name.empty()) return 0;
  lua_pushstring(L, name.c_str());
  return 1;
}

// private_dir(path [, what]) -> true | nil, message, errno: made 0700 if missing, and refused
// unless it is ours, not a symlink and nobody else can write it (core/base/trust.h).
int l_private_dir(lua_State* L) {
  auto d = core::trusted_dir(luaL_checkstring(L, 1), 0700, luaL_optstring(L, 2, "directory"));
  if (!d) return push_failure(L, d.error());
  lua_pushboolean(L, 1);
  return 1;
}

// mkfifo(path [, mode = 0600]) -> true | nil, message, errno
int l_mkfifo(lua_State* L) {
  const char* path = luaL_checkstring(L, 1);
  if (mkfifo(path, static_cast<mode_t>(luaL_optinteger(L, 2, 0600))) != 0)
    return push_failure(L, core::sys_error(std::string("mkfifo ") + path));
  lua_pushboolean(L, 1);
  return 1;
}
// start_fifo(path, pid [, timeout = 10]) -> true | nil, message, errno: an OCI start - be the
// reader the created sandbox waits for and take its byte; gives up if pid is gone meanwhile.
int l_start_fifo(lua_State* L) {
  std::string path = luaL_checkstring(L, 1);
  pid_t pid = static_cast<pid_t>(luaL_checkinteger(L, 2));
  double timeout = luaL_optnumber(L, 3, 10);
  core::Fd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.ok()) return push_failure(L, core::sys_error("start: open " + path));
  for (double waited = 0; waited < timeout; waited += 0.1) {
    struct pollfd pfd {
      fd.get(), POLLIN, 0
    };
    int r = poll(&pfd, 1, 100);
    if (r > 0 && (pfd.revents & POLLIN)) {
      char c;
      if (read(fd.get(), &c, 1) == 1) {
        lua_pushboolean(L, 1);
        return 1;
      }
    }
    if (r < 0 && errno != EINTR) return push_failure(L, core::sys_error("start: poll " + path));
    if (kill(pid, 0) != 0) break;
  }
  return push_failure(L, {ESRCH, "start: the container's process " + std::to_string(pid) +
                                     " did not take its start (it exited, or is not waiting)"});
}

// run_program(argv, { path =, stdin =, env =, timeout = }) -> { code =, signal =, timed_out = } |
// nil, message, errno: another program to its end, without a shell (path, or else argv[1], is a
// path: no PATH search); an OCI hook, say.
int l_run_program(lua_State* L) {
  std::vector<std::string> argv = check_string_list(L, 1, "run_program: argv");
  core::ProgramIo io;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    check_keys(L, 2, "run_program", {"path", "stdin", "env", "timeout"});
    io.path = opt_string_field(L, 2, "run_program", "path");
    io.stdin_text = opt_string_field(L, 2, "run_program", "stdin");
    io.env = opt_string_list_field(L, 2, "run_program", "env");
    io.timeout = opt_number_field(L, 2, "run_program", "timeout").value_or(0);
  }
  auto end = core::run_program(argv, io);
  if (!end) return push_failure(L, end.error());
  lua_createtable(L, 0, 3);
  set_integer(L, "code", end->code);
  set_integer(L, "signal", end->signal);
  set_bool(L, "timed_out", end->timed_out);
  return 1;
}

// sealed_copy(path) -> fd | nil, message, errno: the file's contents in a sealed memfd (no write,
// grow, shrink or new seals; close-on-exec), for running a host program inside a container
// without giving the container any way to reach - or overwrite - the host's file (an OCI
// createContainer hook: runc's answer to CVE-2019-5736, for itself).
int l_sealed_copy(lua_State* L) {
  std::string path = luaL_checkstring(L, 1);
  core::Fd in(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.ok()) return push_failure(L, core::sys_error("open " + path));
  core::Fd mem(memfd_create("sbx-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem.ok()) return push_failure(L, core::sys_error("memfd_create for " + path));
  auto text = core::read_fd(in.get(), "read " + path);
  if (!text) return push_failure(L, text.error());
  for (size_t done = 0; done < text->size();) {
    ssize_t w = write(mem.get(), text->data() + done, text->size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return push_failure(L, core::sys_error("copy " + path + " into a memfd"));
    done += static_cast<size_t>(w);
  }
  if (fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    return push_failure(L, core::sys_error("seal the copy of " + path));
  // as executable as the original
  struct stat st;
  if (fstat(in.get(), &st) == 0) fchmod(mem.get(), st.st_mode & 0755);
  lua_pushinteger(L, mem.release());
  return 1;
}

}  // namespace

void register_base(lua_State* L) {
  static const luaL_Reg fns[] = {{"sleep", guarded<l_sleep>},
                                 {"trace", guarded<l_trace>},
                                 {"monotonic", guarded<l_monotonic>},
                                 {"read_file", guarded<l_read_file>},
                                 {"write_file", guarded<l_write_file>},
                                 {"signal_number", guarded<l_signal_number>},
                                 {"signal_name", guarded<l_signal_name>},
                                 {"private_dir", guarded<l_private_dir>},
                                 {"mkfifo", guarded<l_mkfifo>},
                                 {"start_fifo", guarded<l_start_fifo>},
                                 {"run_program", guarded<l_run_program>},
                                 {"sealed_copy", guarded<l_sealed_copy>},
                                 {nullptr, nullptr}};
  luaL_register(L, nullptr, fns);  // into the table on top: [core]
  set_string(L, "default_path", core::kDefaultPath);
}

}  // namespace sbx::bind
