// sbx.SeccompListener and sbx.SeccompCall: the supervisor's side of notify rules as Lua values
// (lua/sbx/events.lua runs a box's seccomp.on_call with them).
#include "core/security/notify.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <new>

#include "core/base/units.h"
#include "lua_util.h"

namespace sbx::bind {

namespace {

constexpr const char* kListenerMeta = "sbx.SeccompListener";
constexpr const char* kCallMeta = "sbx.SeccompCall";

struct Call {
  core::SeccompCall c;
  const core::SeccompListener* listener;  // kept alive: the listener is the call's environment
  bool answered = false;
};

core::SeccompListener* check_listener(lua_State* L, int i) {
  return static_cast<core::SeccompListener*>(luaL_checkudata(L, i, kListenerMeta));
}
Call* check_call(lua_State* L, int i) {
  return static_cast<Call*>(luaL_checkudata(L, i, kCallMeta));
}

// Answers once: a second answer (or one after the caller went away) is an error to report.
Call* unanswered(lua_State* L) {
  Call* c = check_call(L, 1);
  if (c->answered) raise(L, "seccomp call " + c->c.name + ": already answered");
  c->answered = true;
  return c;
}

int done(lua_State* L, const core::Status& s) {
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// listener:receive() -> call | nil, message, errno (ENOENT: the caller went away first)
int l_receive(lua_State* L) {
  auto* l = check_listener(L, 1);
  auto c = l->receive();
  if (!c) return push_failure(L, c.error());
  void* mem = lua_newuserdata(L, sizeof(Call));
  new (mem) Call{std::move(*c), l, false};
  luaL_getmetatable(L, kCallMeta);
  lua_setmetatable(L, -2);
  lua_createtable(L, 1, 0);  // the call's environment holds its listener
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_setfenv(L, -2);
  return 1;
}

int l_listener_index(lua_State* L) {
  auto* l = check_listener(L, 1);
  std::string key = luaL_checkstring(L, 2);
  if (key == "fd") {
    lua_pushinteger(L, l->fd());
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, key.c_str());
  return 1;
}

int l_listener_gc(lua_State* L) {
  check_listener(L, 1)->~SeccompListener();
  return 0;
}

// An argument's index, 1..6 as Lua counts (call.args[1] is the call's first argument).
size_t arg_index(lua_State* L, int idx) {
  lua_Number i = luaL_checknumber(L, idx);
  if (i < 1 || i > 6 || i != std::floor(i)) raise(L, "seccomp call: argument index 1..6 expected");
  return static_cast<size_t>(i) - 1;
}

int l_call_index(lua_State* L) {
  Call* c = check_call(L, 1);
  std::string key = luaL_checkstring(L, 2);
  if (key == "name") {
    lua_pushstring(L, c->c.name.c_str());
  } else if (key == "pid") {
    lua_pushinteger(L, c->c.pid);
  } else if (key == "nr") {
    lua_pushinteger(L, c->c.nr);
  } else if (key == "arch") {
    lua_pushnumber(L, c->c.arch);
  } else if (key == "answered") {
    lua_pushboolean(L, c->answered);
  } else if (key == "args") {
    // as signed 64-bit values: AT_FDCWD is -100, flags and small numbers exact
    lua_createtable(L, 6, 0);
    for (size_t i = 0; i < 6; ++i) {
      lua_pushnumber(L, static_cast<lua_Number>(static_cast<int64_t>(c->c.args[i])));
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
  } else {
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, key.c_str());
  }
  return 1;
}

// call:string(i [, max]) -> the NUL-terminated text argument i points to | nil, message, errno
int l_call_string(lua_State* L) {
  Call* c = check_call(L, 1);
  size_t i = arg_index(L, 2);
  lua_Number max = luaL_optnumber(L, 3, 4096);
  if (max < 1 || max > 1 << 20) raise(L, "call:string: max must be 1 to 1M");
  auto s = c->listener->read_string(c->c, c->c.args[i], static_cast<size_t>(max));
  if (!s) return push_failure(L, s.error());
  lua_pushlstring(L, s->data(), s->size());
  return 1;
}

// call:sockaddr(i [, len_arg]) -> "inet 127.0.0.1:8080" | nil, ...: argument i points to a sockaddr
// whose length is argument len_arg (default i + 1, as connect, bind and sendto have it)
int l_call_sockaddr(lua_State* L) {
  Call* c = check_call(L, 1);
  size_t i = arg_index(L, 2);
  size_t li = lua_isnoneornil(L, 3) ? i + 1 : arg_index(L, 3);
  if (li > 5) raise(L, "call:sockaddr: give the index of the length argument");
  uint64_t len = c->c.args[li];
  if (len > 128) len = 128;  // sizeof(struct sockaddr_storage)
  auto b = c->listener->read_bytes(c->c, c->c.args[i], static_cast<size_t>(len));
  if (!b) return push_failure(L, b.error());
  lua_pushstring(L, core::describe_sockaddr(*b).c_str());
  return 1;
}

// call:runs(path) -> whether the caller runs that program (its /proc/PID/exe is that file)
int l_call_runs(lua_State* L) {
  Call* c = check_call(L, 1);
  auto r = c->listener->runs(c->c, luaL_checkstring(L, 2));
  if (!r) return push_failure(L, r.error());
  lua_pushboolean(L, *r);
  return 1;
}

int l_call_allow(lua_State* L) {
  Call* c = unanswered(L);
  return done(L, c->listener->allow(c->c.id));
}

// call:deny(errno name or number)
int l_call_deny(lua_State* L) {
  Call* c = check_call(L, 1);
  int err = EPERM;
  if (!lua_isnoneornil(L, 2)) {
    auto e = core::parse_errno(lua_type(L, 2) == LUA_TNUMBER
                                   ? std::to_string(static_cast<long long>(lua_tonumber(L, 2)))
                                   : std::string(luaL_checkstring(L, 2)));
    if (!e) raise(L, "call:deny: " + e.error().message);
    err = *e;
  }
  unanswered(L);
  return done(L, c->listener->deny(c->c.id, err));
}

int l_call_give(lua_State* L) {
  lua_Number v = luaL_checknumber(L, 2);
  if (v != std::floor(v) || std::fabs(v) > 9.2e18) raise(L, "call:give: expected a whole number");
  Call* c = unanswered(L);
  return done(L, c->listener->give(c->c.id, static_cast<int64_t>(v)));
}

// call:give_fd(fd [, cloexec]): an fd of this process put into the caller, its number the result
int l_call_give_fd(lua_State* L) {
  lua_Number fd = luaL_checknumber(L, 2);
  if (fd < 0 || fd > 1e9 || fd != std::floor(fd)) raise(L, "call:give_fd: expected an fd number");
  bool cloexec = lua_toboolean(L, 3);
  Call* c = unanswered(L);
  return done(L, c->listener->give_fd(c->c.id, static_cast<int>(fd), cloexec));
}

// call:open(path [, flags [, mode]]): the supervisor opens path as the caller would see it (inside
// its root), checks it is a regular file or directory, and gives the caller that fd. flags default
// to the call's own (openat's third argument; open's second), close-on-exec kept.
int l_call_open(lua_State* L) {
  Call* c = check_call(L, 1);
  std::string path = luaL_checkstring(L, 2);
  bool is_openat = c->c.name == "openat" || c->c.name == "openat2";
  int flags = lua_isnoneornil(L, 3) ? static_cast<int>(c->c.args[is_openat ? 2 : 1])
                                    : static_cast<int>(luaL_checknumber(L, 3));
  mode_t mode = lua_isnoneornil(L, 4) ? static_cast<mode_t>(c->c.args[is_openat ? 3 : 2])
                                      : static_cast<mode_t>(luaL_checknumber(L, 4));
  if (c->c.name == "openat2")
    flags = O_RDONLY;  // its flags are in a struct: read-only unless given
  unanswered(L);
  auto fd = core::open_for_caller(c->c.pid, path, flags & ~O_CLOEXEC, mode);
  if (!fd) {
    (void)c->listener->deny(c->c.id, fd.error().err ? fd.error().err : EACCES);
    return push_failure(L, fd.error());
  }
  return done(L, c->listener->give_fd(c->c.id, fd->get(), (flags & O_CLOEXEC) != 0));
}

int l_call_gc(lua_State* L) {
  // a call dropped without an answer would hang its caller: it fails with EPERM instead
  Call* c = check_call(L, 1);
  if (!c->answered) (void)c->listener->deny(c->c.id, EPERM);
  c->~Call();
  return 0;
}

// core.open_in(pid, path, "r"|"w" [, mode]) -> fd | nil, message, errno: a file of the sandbox pid
// is in, opened by this process inside its root ("w": created or truncated, as its own ids)
int l_open_in(lua_State* L) {
  lua_Number pid = luaL_checknumber(L, 1);
  std::string path = luaL_checkstring(L, 2);
  std::string how = luaL_optstring(L, 3, "r");
  if (how != "r" && how != "w") raise(L, "open_in: mode \"r\" or \"w\" expected");
  int flags = how == "r" ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC;
  auto fd = core::open_for_caller(static_cast<pid_t>(pid), path, flags,
                                  static_cast<mode_t>(luaL_optnumber(L, 4, 0644)));
  if (!fd) return push_failure(L, fd.error());
  lua_pushinteger(L, fd->release());
  return 1;
}

}  // namespace

void push_seccomp_listener(lua_State* L, core::Fd fd) {
  void* mem = lua_newuserdata(L, sizeof(core::SeccompListener));
  new (mem) core::SeccompListener(std::move(fd));
  luaL_getmetatable(L, kListenerMeta);
  lua_setmetatable(L, -2);
}

void register_notify(lua_State* L) {
  static const luaL_Reg listener_methods[] = {{"receive", guarded<l_receive>},
                                              {"__index", guarded<l_listener_index>},
                                              {"__gc", guarded<l_listener_gc>},
                                              {nullptr, nullptr}};
  luaL_newmetatable(L, kListenerMeta);
  luaL_register(L, nullptr, listener_methods);
  lua_pop(L, 1);
  static const luaL_Reg call_methods[] = {{"string", guarded<l_call_string>},
                                          {"sockaddr", guarded<l_call_sockaddr>},
                                          {"runs", guarded<l_call_runs>},
                                          {"allow", guarded<l_call_allow>},
                                          {"deny", guarded<l_call_deny>},
                                          {"give", guarded<l_call_give>},
                                          {"give_fd", guarded<l_call_give_fd>},
                                          {"open", guarded<l_call_open>},
                                          {"__index", guarded<l_call_index>},
                                          {"__gc", guarded<l_call_gc>},
                                          {nullptr, nullptr}};
  luaL_newmetatable(L, kCallMeta);
  luaL_register(L, nullptr, call_methods);
  lua_pop(L, 1);
  lua_pushcfunction(L, guarded<l_open_in>);  // [core]
  lua_setfield(L, -2, "open_in");
}

}  // namespace sbx::bind
