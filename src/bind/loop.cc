// What lua/sbx/loop.lua is built on: core.poller() (an epoll set), core.watch.* (inotify on a
// file, cgroup v1 eventfds, PSI triggers) and non-blocking reads of an fd.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "core/base/events.h"
#include "core/sandbox/forward.h"
#include "lua_util.h"

namespace sbx::bind {

namespace {

constexpr const char* kPollerMeta = "sbx.Poller";
constexpr const char* kWatchMeta = "sbx.Watch";

core::Poller* check_poller(lua_State* L) {
  return static_cast<core::Poller*>(luaL_checkudata(L, 1, kPollerMeta));
}
core::Watch* check_watch(lua_State* L) {
  return static_cast<core::Watch*>(luaL_checkudata(L, 1, kWatchMeta));
}

int fd_arg(lua_State* L, int idx) {
  lua_Number n = luaL_checknumber(L, idx);
  if (n < 0 || n > 1e9 || n != std::floor(n)) raise(L, "expected an fd number");
  return static_cast<int>(n);
}

core::Readiness readiness_arg(lua_State* L, int idx) {
  std::string r = luaL_optstring(L, idx, "in");
  if (r == "in") return core::Readiness::in;
  if (r == "pri") return core::Readiness::pri;
  raise(L, "readiness: expected \"in\" or \"pri\", got \"" + r + "\"");
}

// core.poller() -> Poller
int l_poller(lua_State* L) {
  auto p = core::Poller::create();
  if (!p) return push_failure(L, p.error());
  void* mem = lua_newuserdata(L, sizeof(core::Poller));
  new (mem) core::Poller(std::move(*p));
  luaL_getmetatable(L, kPollerMeta);
  lua_setmetatable(L, -2);
  return 1;
}

// poller:add(fd, "in"|"pri", token) -> true | nil, message, errno
int l_poller_add(lua_State* L) {
  auto* p = check_poller(L);
  int fd = fd_arg(L, 2);
  auto r = readiness_arg(L, 3);
  lua_Number token = luaL_checknumber(L, 4);
  if (auto s = p->add(fd, r, static_cast<uint64_t>(token)); !s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

int l_poller_remove(lua_State* L) {
  auto* p = check_poller(L);
  if (auto s = p->remove(fd_arg(L, 2)); !s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// poller:wait([seconds [, pidfd]]) -> { { token =, hup = bool, err = bool }, ... } | nil, message,
// errno (nil seconds: until something is ready). A signal ends the wait with errno EINTR; with a
// sandbox's pidfd, signals sent to sbx meanwhile are passed on to that sandbox, as p:wait does, and
// the wait just returns what is ready (nothing).
int l_poller_wait(lua_State* L) {
  auto* p = check_poller(L);
  int ms = -1;
  if (!lua_isnoneornil(L, 2)) {
    lua_Number s = luaL_checknumber(L, 2);
    ms = s <= 0 ? 0 : s > 86400 ? 86400000 : static_cast<int>(std::ceil(s * 1000));
  }
  int pidfd = lua_isnoneornil(L, 3) ? -1 : fd_arg(L, 3);
  core::Result<std::vector<core::Poller::Ready>> r = std::vector<core::Poller::Ready>{};
  if (pidfd >= 0) {
    core::SignalForward forward(pidfd);
    r = p->wait(ms);
    if (!r && r.error().err == EINTR) r = std::vector<core::Poller::Ready>{};
  } else {
    r = p->wait(ms);
  }
  if (!r) return push_failure(L, r.error());
  lua_createtable(L, static_cast<int>(r->size()), 0);
  int i = 0;
  for (const auto& e : *r) {
    lua_createtable(L, 0, 3);
    set_number(L, "token", static_cast<lua_Number>(e.token));
    set_bool(L, "hup", e.hup);
    set_bool(L, "err", e.err);
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

int l_poller_gc(lua_State* L) {
  check_poller(L)->~Poller();
  return 0;
}

int push_watch(lua_State* L, core::Result<core::Watch> w) {
  if (!w) return push_failure(L, w.error());
  void* mem = lua_newuserdata(L, sizeof(core::Watch));
  new (mem) core::Watch(std::move(*w));
  luaL_getmetatable(L, kWatchMeta);
  lua_setmetatable(L, -2);
  return 1;
}

// core.watch.file(path): its modifications (inotify)
int l_watch_file(lua_State* L) {
  return push_watch(L, core::watch_file_changes(luaL_checkstring(L, 1)));
}
// core.watch.cgroup_v1(dir, file [, args]): cgroup.event_control's eventfd
int l_watch_cgroup_v1(lua_State* L) {
  return push_watch(L, core::cgroup_v1_event(luaL_checkstring(L, 1), luaL_checkstring(L, 2),
                                             luaL_optstring(L, 3, "")));
}
// core.watch.pressure(path, "some 150ms/1s"): a PSI trigger
int l_watch_pressure(lua_State* L) {
  auto t = core::parse_pressure(luaL_checkstring(L, 2));
  if (!t) return push_failure(L, t.error());
  return push_watch(L, core::pressure_trigger(luaL_checkstring(L, 1), *t));
}

// watch:drain() -> notifications read (0: none pending) | nil, message, errno
int l_watch_drain(lua_State* L) {
  auto* w = check_watch(L);
  if (!w->fd.ok()) raise(L, "watch of " + w->what + ": closed");
  auto n = core::drain(*w);
  if (!n) return push_failure(L, n.error());
  lua_pushnumber(L, static_cast<lua_Number>(*n));
  return 1;
}

int l_watch_close(lua_State* L) {
  check_watch(L)->fd.reset();
  return 0;
}

int l_watch_index(lua_State* L) {
  auto* w = check_watch(L);
  std::string key = luaL_checkstring(L, 2);
  if (key == "fd") {
    lua_pushinteger(L, w->fd.get());
    return 1;
  }
  if (key == "ready") {
    lua_pushstring(L, w->ready() == core::Readiness::pri ? "pri" : "in");
    return 1;
  }
  if (key == "what") {
    lua_pushstring(L, w->what.c_str());
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, key.c_str());
  return 1;
}

int l_watch_gc(lua_State* L) {
  check_watch(L)->~Watch();
  return 0;
}

// core.read_some(fd [, max]) -> text | "" (nothing yet: it would block) | nil (end of file)
int l_read_some(lua_State* L) {
  int fd = fd_arg(L, 1);
  lua_Number max = luaL_optnumber(L, 2, 65536);
  if (max < 1 || max > 16 << 20) raise(L, "read_some: max must be 1 to 16M");
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return push_failure(L, core::sys_error("read fd " + std::to_string(fd)));
  if (!(fl & O_NONBLOCK)) (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  std::string buf(static_cast<size_t>(max), '\0');
  ssize_t n;
  do n = read(fd, buf.data(), buf.size());
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (n < 0) return push_failure(L, core::sys_error("read fd " + std::to_string(fd)));
  if (n == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, buf.data(), static_cast<size_t>(n));
  return 1;
}

// core.parse_pressure("some 150ms/1s") -> "some 150000 1000000" | nil, message
int l_parse_pressure(lua_State* L) {
  auto t = core::parse_pressure(luaL_checkstring(L, 1));
  if (!t) return push_failure(L, t.error());
  lua_pushstring(L, t->c_str());
  return 1;
}

}  // namespace

// Adds poller, watch, read_some and parse_pressure to the table on top of the stack.
void register_loop(lua_State* L) {
  static const luaL_Reg poller_methods[] = {{"add", guarded<l_poller_add>},
                                            {"remove", guarded<l_poller_remove>},
                                            {"wait", guarded<l_poller_wait>},
                                            {"__gc", guarded<l_poller_gc>},
                                            {nullptr, nullptr}};
  luaL_newmetatable(L, kPollerMeta);
  luaL_register(L, nullptr, poller_methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg watch_methods[] = {{"drain", guarded<l_watch_drain>},
                                           {"close", guarded<l_watch_close>},
                                           {"__index", guarded<l_watch_index>},
                                           {"__gc", guarded<l_watch_gc>},
                                           {nullptr, nullptr}};
  luaL_newmetatable(L, kWatchMeta);
  luaL_register(L, nullptr, watch_methods);
  lua_pop(L, 1);
  lua_pushcfunction(L, guarded<l_poller>);
  lua_setfield(L, -2, "poller");
  lua_pushcfunction(L, guarded<l_read_some>);
  lua_setfield(L, -2, "read_some");
  lua_pushcfunction(L, guarded<l_parse_pressure>);
  lua_setfield(L, -2, "parse_pressure");
  static const luaL_Reg watch_fns[] = {{"file", guarded<l_watch_file>},
                                       {"cgroup_v1", guarded<l_watch_cgroup_v1>},
                                       {"pressure", guarded<l_watch_pressure>},
                                       {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, watch_fns);
  lua_setfield(L, -2, "watch");
}

}  // namespace sbx::bind
