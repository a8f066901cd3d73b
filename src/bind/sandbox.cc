// sbx.Process: a running sandbox (or a process from sbx.sys.clone) as a Lua value.
#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base/io.h"
#include "core/base/signals.h"
#include "core/sandbox/forward.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/pty.h"
#include "core/sandbox/supervise.h"
#include "plan_lua.h"

namespace sbx::bind {

namespace {

constexpr const char* kProcessMeta = "sbx.Process";

Process* check_process(lua_State* L, int i) {
  return static_cast<Process*>(luaL_checkudata(L, i, kProcessMeta));
}

int push_status(lua_State* L, const core::ExitStatus& es) {
  lua_createtable(L, 0, 4);  // [st]
  if (es.signal) {
    set_integer(L, "signal", es.signal);
  } else {
    set_integer(L, "code", es.code);
  }
  set_integer(L, "status", es.shell_code());
  set_bool(L, "ok", !es.signal && es.code == 0);
  return 1;
}

// "inherit" | "null" | "pipe" | an fd number -> the child's fd, and the parent's pipe end.
core::Status open_stdio(lua_State* L, int io_idx, const char* key, int which, int& child_fd,
                        core::Fd& parent_end, core::Fd& child_end) {
  child_fd = -1;
  if (io_idx == 0) return {};
  lua_getfield(L, io_idx, key);  // [v]
  int type = lua_type(L, -1);
  std::string mode = type == LUA_TSTRING ? lua_tostring(L, -1) : "";
  int number = type == LUA_TNUMBER ? static_cast<int>(lua_tointeger(L, -1)) : -1;
  lua_pop(L, 1);
  if (type == LUA_TNIL || mode == "inherit") return {};
  if (type == LUA_TNUMBER) {
    child_fd = number;
    return {};
  }
  if (mode == "null") {
    child_end.reset(open("/dev/null", which == 0 ? O_RDONLY | O_CLOEXEC : O_WRONLY | O_CLOEXEC));
    if (!child_end.ok()) return core::sys_error(std::string(key) + ": open /dev/null");
  } else if (mode == "pipe") {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return core::sys_error(std::string(key) + ": pipe");
    if (which == 0) {
      child_end.reset(p[0]);
      parent_end.reset(p[1]);
    } else {
      child_end.reset(p[1]);
      parent_end.reset(p[0]);
    }
  } else {
    raise(L, std::string(key) + ": expected \"inherit\", \"null\", \"pipe\" or an fd number, got " +
                 (type == LUA_TSTRING ? "\"" + mode + "\"" : std::string(lua_typename(L, type))));
  }
  child_fd = child_end.get();
  return {};
}

// Writing to a payload's stdin after it exited must be an error (EPIPE), never a SIGPIPE that
// kills sbx (or the luajit that loaded sbx.so): SIGPIPE is blocked while writing, and a pending
// one raised by our own write is consumed before unblocking.
class PipeSignalBlock {
 public:
  PipeSignalBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigpending(&pending_before_);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~PipeSignalBlock() {
    if (!sigismember(&pending_before_, SIGPIPE)) {
      struct timespec zero {
        0, 0
      };
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_, pending_before_;
};

// The io table of spawn/enter: pipes, files or inheritance per stream, or tty = true for a new
// pseudo-terminal on all three; console_socket = PATH sends that terminal (the sandbox's own) to
// an OCI engine's socket; tty_size = { height =, width = } sizes it. Runs `start(io)` and wraps the
// sandbox in a Process.
template <class Start>
int start_process(lua_State* L, int io_idx, const std::string& name, bool own_pty, Start start) {
  if (io_idx)
    check_keys(
        L, io_idx, "io",
        {"stdin", "stdout", "stderr", "tty", "fds", "start_fifo", "console_socket", "tty_size"});
  core::SpawnIo io;
  if (io_idx) {
    lua_getfield(L, io_idx, "fds");  // [fds]
    if (lua_istable(L, -1))
      for (int i = 1; i <= static_cast<int>(lua_objlen(L, -1)); ++i) {
        lua_rawgeti(L, -1, i);
        io.keep_fds.push_back(static_cast<int>(luaL_checkinteger(L, -1)));
        lua_pop(L, 1);
      }
    lua_pop(L, 1);  // []
  }
  core::Fd parents[3], childs[3];
  std::optional<core::Pty> pty;
  std::optional<std::string> console_path;
  std::optional<lua_Number> rows, cols;
  if (io_idx) {
    io.start_fifo = opt_string_field(L, io_idx, "io", "start_fifo").value_or("");
    console_path = opt_string_field(L, io_idx, "io", "console_socket");
    lua_getfield(L, io_idx, "tty_size");  // [size]
    if (!lua_isnil(L, -1)) {
      luaL_checktype(L, -1, LUA_TTABLE);
      int at = lua_gettop(L);
      check_keys(L, at, "io.tty_size", {"height", "width"});
      rows = opt_whole_field(L, at, "io.tty_size", "height", 0, 65535);
      cols = opt_whole_field(L, at, "io.tty_size", "width", 0, 65535);
    }
    lua_pop(L, 1);  // []
  }
  bool tty = console_path || (io_idx && opt_bool_field(L, io_idx, "io", "tty").value_or(false));
  core::Fd console;  // ours closes once the sandbox has sent the master
  if (console_path) {
    auto c = core::connect_console(*console_path);
    if (!c) return push_failure(L, c.error());
    console = std::move(*c);
    io.console = console.get();
    own_pty = true;  // the engine gets the sandbox's own terminal, whatever its /dev is
  }
  if (tty && own_pty) {
    // the sandbox opens it from its own /dev/ptmx and hands us (or the engine) the master,
    // sized before the payload runs: as asked, else like our terminal
    io.tty = true;
    io.own_pty = true;
    struct winsize ws {};
    if (!rows && !cols && !console_path && ioctl(0, TIOCGWINSZ, &ws) == 0) {
      rows = ws.ws_row;
      cols = ws.ws_col;
    }
    io.tty_rows = static_cast<unsigned short>(rows.value_or(0));
    io.tty_cols = static_cast<unsigned short>(cols.value_or(0));
  } else if (tty) {
    // A new pseudo-terminal for all three (sized like ours), never our own terminal.
    auto made = core::open_pty(0);
    if (!made) return push_failure(L, made.error());
    pty = std::move(*made);
    for (int i = 0; i < 3; ++i) io.stdio[i] = pty->slave.get();
    io.tty = true;
  } else {
    static const char* const kKeys[3] = {"stdin", "stdout", "stderr"};
    for (int i = 0; i < 3; ++i)
      if (auto s = open_stdio(L, io_idx, kKeys[i], i, io.stdio[i], parents[i], childs[i]); !s)
        return push_failure(L, s.error());
  }
  core::Result<core::Sandbox> box = start(io);
  if (!box) return push_failure(L, box.error());
  Process* p = new_process(L, std::move(*box));  // [p]
  for (int i = 0; i < 3; ++i) p->pipes[i] = std::move(parents[i]);
  if (pty)
    p->tty = std::move(pty->master);  // our slave copy closes here: EOF comes from the sandbox's
  if (io.own_pty) p->tty = p->box.take_tty();
  p->name = name;
  return 1;
}

// spawn(plan, io, run) -> Process: `run` ({ argv =, env =, cwd =, uid =, gid = }) is applied over
// the plan; a plan core.plan() checked is not checked again, only what the run gave.
int l_spawn(lua_State* L) {
  core::Spec spec = spec_from_lua(L, 1);
  Plan* checked = to_plan(L, 1);
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    check_keys(L, 3, "run", {"argv", "env", "cwd", "uid", "gid"});
    decode_plan_over(L, 3, spec, "run");
  }
  auto check = checked && checked->checked ? core::Check::process : core::Check::all;
  // its own /dev (a devpts instance) can give it its own terminal
  bool own_dev = (spec.namespaces & CLONE_NEWNS) &&
                 std::any_of(spec.ops.begin(), spec.ops.end(),
                             [](const core::Op& o) { return o.kind == core::OpKind::Dev; });
  return start_process(L, lua_istable(L, 2) ? 2 : 0, spec.argv.empty() ? "" : spec.argv[0], own_dev,
                       [&](const core::SpawnIo& io) { return core::spawn(spec, io, check); });
}

// core.enter(pid, plan, io, cgroup) -> Process: `sbx exec` into a running sandbox.
int l_enter(lua_State* L) {
  pid_t target = static_cast<pid_t>(luaL_checkinteger(L, 1));
  core::Spec spec = spec_from_lua(L, 2);
  std::string cgroup = luaL_optstring(L, 4, "");
  std::string ptmx = "/proc/" + std::to_string(target) + "/root/dev/ptmx";
  bool own_dev = access(ptmx.c_str(), F_OK) == 0;
  return start_process(
      L, lua_istable(L, 3) ? 3 : 0, spec.argv.empty() ? "" : spec.argv[0], own_dev,
      [&](const core::SpawnIo& io) { return core::enter(target, spec, io, cgroup); });
}

// Waits, with an optional timeout in seconds: status table, or nil, "timeout", ETIMEDOUT.
int l_wait(lua_State* L) {
  Process* p = check_process(L, 1);
  double timeout = luaL_optnumber(L, 2, -1);
  if (p->box.exit_status()) return push_status(L, *p->box.exit_status());
  if (timeout >= 0 && p->box.pidfd() >= 0) {
    struct pollfd pfd {
      p->box.pidfd(), POLLIN, 0
    };
    int r;
    {
      core::SignalForward fwd(p->box.pidfd());
      do r = poll(&pfd, 1, static_cast<int>(timeout * 1000));
      while (r < 0 && errno == EINTR);
    }
    if (r == 0)
      return push_failure(
          L, {ETIMEDOUT, "wait for sandbox pid " + std::to_string(p->box.pid()) + ": timed out"});
  }
  core::SignalForward fwd(p->box.pidfd());
  auto st = p->box.wait(false);
  if (!st) return push_failure(L, st.error());
  return push_status(L, **st);
}

// p:record(dir, "running" | "exited") -> true | nil, err: what a detached supervisor writes in
// dir/state.json, written by a Lua one (lua/sbx/sandboxes.lua; core/sandbox/supervise.h)
int l_record(lua_State* L) {
  Process* p = check_process(L, 1);
  std::string dir = luaL_checkstring(L, 2);
  std::string what = luaL_checkstring(L, 3);
  core::Status s;
  if (what == "running")
    s = core::record_running(dir, p->box);
  else if (what == "exited")
    s = core::record_exited(dir, p->box, p->box.exit_status());
  else
    raise(L, "record: expected \"running\" or \"exited\"");
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

int signal_number(lua_State* L, int idx) {
  if (lua_type(L, idx) == LUA_TNUMBER) return static_cast<int>(lua_tointeger(L, idx));
  if (lua_isnoneornil(L, idx)) return SIGTERM;
  auto sig = core::signal_number(luaL_checkstring(L, idx));
  if (!sig) raise(L, "kill: " + sig.error().message);
  return *sig;
}

// p:release() -> pid: the sandbox is handed on (an OCI create): this Process no longer kills,
// waits for or cleans up after it.
int l_release(lua_State* L) {
  Process* p = check_process(L, 1);
  lua_pushinteger(L, p->box.release());
  return 1;
}

// p:send_seccomp_listener(path, message) -> true | nil, message, errno: the listener of the
// sandbox's notify rules, sent to the agent listening on `path` with `message` (an OCI
// listenerPath: the container process state) in one sendmsg; the supervisor's copy closes.
int l_send_seccomp_listener(lua_State* L) {
  Process* p = check_process(L, 1);
  std::string path = luaL_checkstring(L, 2);
  size_t n = 0;
  const char* text = luaL_checklstring(L, 3, &n);
  core::Fd fd = p->box.take_seccomp_listener();
  if (!fd.ok())
    return push_failure(L, core::user_error("seccomp listener: this sandbox has none (its "
                                            "policy has no notify rules)"));
  auto sock = core::connect_console(path, "seccomp listener socket");
  if (!sock) return push_failure(L, sock.error());
  if (!core::send_with_fd(sock->get(), std::string_view(text, n), fd.get()))
    return push_failure(L, core::sys_error("seccomp listener socket " + path + ": send"));
  lua_pushboolean(L, 1);
  return 1;
}

// p:seccomp_listener() -> sbx.SeccompListener | nil: the listener of its notify rules, taken
// (once) by the Lua supervisor that answers them (lua/sbx/events.lua).
int l_seccomp_listener(lua_State* L) {
  Process* p = check_process(L, 1);
  core::Fd fd = p->box.take_seccomp_listener();
  if (!fd.ok()) return 0;
  push_seccomp_listener(L, std::move(fd));
  return 1;
}

int l_kill(lua_State* L) {
  Process* p = check_process(L, 1);
  int sig = signal_number(L, 2);
  if (auto s = p->box.kill(sig); !s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// Reads one pipe ("stdout" or "stderr") to its end.
int l_read(lua_State* L) {
  Process* p = check_process(L, 1);
  static const char* const kNames[] = {"stdout", "stderr", nullptr};
  int which = luaL_checkoption(L, 2, "stdout", kNames) + 1;
  if (!p->pipes[which].ok())
    raise(L, std::string("read: ") + kNames[which - 1] + " is not a pipe (spawn with " +
                 kNames[which - 1] + " = \"pipe\")");
  auto out = core::read_fd(p->pipes[which].get(), std::string("read ") + kNames[which - 1]);
  if (!out) return push_failure(L, out.error());
  p->pipes[which].reset();
  lua_pushlstring(L, out->data(), out->size());
  return 1;
}

// communicate([input [, timeout]]): feeds `input` to stdin (then closes it) while draining
// stdout and stderr; returns both, and true when the timeout (seconds) cut it short.
int l_communicate(lua_State* L) {
  Process* p = check_process(L, 1);
  size_t in_len = 0;
  const char* in = luaL_optlstring(L, 2, "", &in_len);
  double timeout = luaL_optnumber(L, 3, -1);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  bool timed_out = false;
  size_t in_off = 0;
  std::string out[3];
  if (p->pipes[0].ok() && in_len == 0) p->pipes[0].reset();
  if (p->pipes[0].ok()) fcntl(p->pipes[0].get(), F_SETFL, O_NONBLOCK);
  core::SignalForward fwd(p->box.pidfd());
  PipeSignalBlock no_sigpipe;
  for (;;) {
    struct pollfd pf[3];
    int idx[3], n = 0;
    for (int i = 0; i < 3; ++i)
      if (p->pipes[i].ok()) {
        pf[n] = {p->pipes[i].get(), static_cast<short>(i == 0 ? POLLOUT : POLLIN), 0};
        idx[n++] = i;
      }
    if (n == 0) break;
    int wait_ms = -1;
    if (timeout >= 0) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      double left = timeout - ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9);
      if (left <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left * 1000) + 1;
    }
    if (poll(pf, static_cast<nfds_t>(n), wait_ms) < 0) {
      if (errno == EINTR) continue;
      return push_failure(L, core::sys_error("communicate: poll"));
    }
    for (int k = 0; k < n; ++k) {
      int i = idx[k];
      if (!pf[k].revents) continue;
      if (i == 0) {
        ssize_t w = write(p->pipes[0].get(), in + in_off, in_len - in_off);
        if (w > 0) in_off += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) p->pipes[0].reset();
        continue;
      }
      char buf[65536];
      ssize_t r = read(p->pipes[i].get(), buf, sizeof buf);
      if (r > 0)
        out[i].append(buf, static_cast<size_t>(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN))
        p->pipes[i].reset();
    }
  }
  lua_pushlstring(L, out[1].data(), out[1].size());
  lua_pushlstring(L, out[2].data(), out[2].size());
  lua_pushboolean(L, timed_out);
  return 3;
}

int l_write(lua_State* L) {
  Process* p = check_process(L, 1);
  size_t len;
  const char* data = luaL_checklstring(L, 2, &len);
  if (!p->pipes[0].ok()) raise(L, "write: stdin is not a pipe (spawn with stdin = \"pipe\")");
  PipeSignalBlock no_sigpipe;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(p->pipes[0].get(), data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return push_failure(L, core::sys_error("write stdin"));
    off += static_cast<size_t>(w);
  }
  lua_pushboolean(L, 1);
  return 1;
}

}  // namespace

void push_cgroup_stat(lua_State* L, const core::CgroupStat& st) {
  lua_createtable(L, 0, 5);  // [stat]
  lua_createtable(L, 0, 2);
  set_number(L, "current", static_cast<lua_Number>(st.memory_current));
  set_number(L, "peak", static_cast<lua_Number>(st.memory_peak));
  lua_setfield(L, -2, "memory");
  lua_createtable(L, 0, 1);
  set_number(L, "usage_usec", static_cast<lua_Number>(st.cpu_usage_usec));
  lua_setfield(L, -2, "cpu");
  lua_createtable(L, 0, 1);
  set_number(L, "current", static_cast<lua_Number>(st.pids_current));
  lua_setfield(L, -2, "pids");
  lua_createtable(L, 0, 2);
  set_number(L, "read_bytes", static_cast<lua_Number>(st.io_read_bytes));
  set_number(L, "write_bytes", static_cast<lua_Number>(st.io_write_bytes));
  lua_setfield(L, -2, "io");
  set_number(L, "oom_kills", static_cast<lua_Number>(st.oom_kills));
}

void push_cgroup_events(lua_State* L, const core::CgroupEvents& ev) {
  lua_createtable(L, 0, 3);
  set_number(L, "oom", static_cast<lua_Number>(ev.oom));
  set_number(L, "oom_kill", static_cast<lua_Number>(ev.oom_kill));
  set_number(L, "pids_max", static_cast<lua_Number>(ev.pids_max));
}

namespace {

// p:stat() -> the sandbox's cgroup figures (live, or as they were when it ended) | nil, err
int l_stat(lua_State* L) {
  Process* p = check_process(L, 1);
  if (p->box.cgroup()) {
    auto st = p->box.cgroup()->stat();
    if (!st) return push_failure(L, st.error());
    push_cgroup_stat(L, *st);
    return 1;
  }
  if (p->box.final_stat()) {
    push_cgroup_stat(L, *p->box.final_stat());
    return 1;
  }
  return push_failure(L, {ENOENT, "stat: this sandbox has no cgroup (give it limits)"});
}

int l_events(lua_State* L) {
  Process* p = check_process(L, 1);
  if (p->box.cgroup()) {
    auto ev = p->box.cgroup()->events();
    if (!ev) return push_failure(L, ev.error());
    push_cgroup_events(L, *ev);
    return 1;
  }
  if (p->box.final_events()) {
    push_cgroup_events(L, *p->box.final_events());
    return 1;
  }
  return push_failure(L, {ENOENT, "events: this sandbox has no cgroup (give it limits)"});
}

// p:interact() -> status: our terminal joined to the sandbox's pty (raw mode meanwhile) until
// it ends; then the exit status as p:wait() gives it.
int l_interact(lua_State* L) {
  Process* p = check_process(L, 1);
  if (!p->tty.ok()) raise(L, "interact: this sandbox has no terminal (spawn it with tty = true)");
  if (!p->box.exit_status()) {
    core::SignalForward fwd(p->box.pidfd());
    if (auto s = core::pty_proxy(p->tty.get(), p->box.pidfd()); !s)
      return push_failure(L, s.error());
  }
  p->tty.reset();
  auto st = p->box.wait(false);
  if (!st) return push_failure(L, st.error());
  return push_status(L, **st);
}

int l_close_stdin(lua_State* L) {
  check_process(L, 1)->pipes[0].reset();
  return 0;
}

int l_index(lua_State* L) {
  Process* p = check_process(L, 1);
  std::string key = luaL_checkstring(L, 2);
  if (key == "pid") {
    lua_pushinteger(L, p->box.pid());
    return 1;
  }
  if (key == "cgroup") {
    if (!p->box.cgroup()) return 0;
    lua_pushstring(L, p->box.cgroup()->path().c_str());
    return 1;
  }
  if (key == "ip" || key == "ports" || key == "link") {  // on a bridge: address, ports, host veth
    const auto& net = p->box.net();
    const auto& un = p->box.user_net();
    if (!net && !(un && key == "ports")) return 0;
    const auto& published = net ? net->published() : un->published();
    if (key == "link") {
      lua_pushstring(L, net->host_link().c_str());
      return 1;
    }
    if (key == "ip") {
      lua_pushstring(L, net->address().substr(0, net->address().find('/')).c_str());
      return 1;
    }
    lua_createtable(L, static_cast<int>(published.size()), 0);
    int i = 0;
    for (const auto& pm : published) {
      lua_createtable(L, 0, 4);
      set_string(L, "host_ip", pm.host_ip.c_str());
      set_integer(L, "host_port", pm.host_port);
      set_integer(L, "port", pm.port);
      set_string(L, "proto", pm.proto.c_str());
      lua_rawseti(L, -2, ++i);
    }
    return 1;
  }
  if (key == "pidfd") {  // readable once it has ended (sbx.loop waits on it)
    lua_pushinteger(L, p->box.pidfd());
    return 1;
  }
  if (key == "stdout_fd" || key == "stderr_fd") {  // our end of its pipe, when it has one
    int fd = p->pipes[key == "stdout_fd" ? 1 : 2].get();
    if (fd < 0) return 0;
    lua_pushinteger(L, fd);
    return 1;
  }
  if (key == "running") {
    if (p->box.running()) (void)p->box.wait(true);
    lua_pushboolean(L, p->box.running());
    return 1;
  }
  lua_getmetatable(L, 1);            // [meta]
  lua_getfield(L, -1, key.c_str());  // [meta, method]
  return 1;
}

int l_gc(lua_State* L) {
  Process* p = check_process(L, 1);
  p->~Process();  // kills and reaps a still-running sandbox (owner process only)
  return 0;
}

int l_tostring(lua_State* L) {
  Process* p = check_process(L, 1);
  std::string state = p->box.exit_status()
                          ? "exited " + std::to_string(p->box.exit_status()->shell_code())
                          : "running";
  lua_pushfstring(L, "sbx.Process(pid %d, %s%s%s)", static_cast<int>(p->box.pid()), state.c_str(),
                  p->name.empty() ? "" : ", ", p->name.c_str());
  return 1;
}

}  // namespace

Process* new_process(lua_State* L, core::Sandbox box) {
  void* mem = lua_newuserdata(L, sizeof(Process));  // [ud]
  Process* p = new (mem) Process{std::move(box), {}, {}};
  luaL_getmetatable(L, kProcessMeta);  // [ud, meta]
  lua_setmetatable(L, -2);             // [ud]
  return p;
}

void register_process(lua_State* L) {
  static const luaL_Reg methods[] = {{"wait", guarded<l_wait>},
                                     {"kill", guarded<l_kill>},
                                     {"release", guarded<l_release>},
                                     {"send_seccomp_listener", guarded<l_send_seccomp_listener>},
                                     {"seccomp_listener", guarded<l_seccomp_listener>},
                                     {"read", guarded<l_read>},
                                     {"write", guarded<l_write>},
                                     {"close_stdin", guarded<l_close_stdin>},
                                     {"communicate", guarded<l_communicate>},
                                     {"interact", guarded<l_interact>},
                                     {"stat", guarded<l_stat>},
                                     {"events", guarded<l_events>},
                                     {"record", guarded<l_record>},
                                     {"__index", guarded<l_index>},
                                     {"__gc", guarded<l_gc>},
                                     {"__tostring", guarded<l_tostring>},
                                     {nullptr, nullptr}};
  luaL_newmetatable(L, kProcessMeta);  // [meta]
  luaL_register(L, nullptr, methods);
  lua_pop(L, 1);
}

int l_spawn_entry(lua_State* L) {
  return guarded<l_spawn>(L);
}
int l_enter_entry(lua_State* L) {
  return guarded<l_enter>(L);
}

}  // namespace sbx::bind
