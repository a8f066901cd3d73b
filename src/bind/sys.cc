// sbx.sys: the kernel entry points the seeds describe, one-to-one, plus the few process calls
// (fork, exec, waitpid) that let Lua compose them the way util-linux's unshare does.
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/base/io.h"
#include "core/fs/mount.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"
#include "lua_util.h"
#include "plan_lua.h"
#include "sandbox.h"

namespace sbx::bind {

namespace {

int ok_or_failure(lua_State* L, int rc, const std::string& what) {
  if (rc == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return push_failure(L, core::sys_error(what));
}

uint64_t ns_flags_arg(lua_State* L, int idx, const char* what) {
  if (lua_isnoneornil(L, idx)) return 0;
  auto names = check_string_list(L, idx, what);
  auto flags = core::namespace_flags(names);
  if (!flags) raise(L, std::string(what) + ": " + flags.error().message);
  return *flags;
}

// unshare(names [, { propagation = "private"|"unchanged" }]): a new mount namespace is made
// recursively private at once (as util-linux does by default), so a mount made next can never
// propagate to the host; "unchanged" keeps the host's propagation for those who mean it.
int l_unshare(lua_State* L) {
  uint64_t flags = ns_flags_arg(L, 1, "unshare");
  if (!flags) raise(L, "unshare: name at least one namespace, e.g. { \"uts\" }");
  bool keep = false;
  if (lua_istable(L, 2)) {
    check_keys(L, 2, "unshare options", {"propagation"});
    auto prop = opt_string_field(L, 2, "unshare options", "propagation").value_or("private");
    if (prop != "private" && prop != "unchanged")
      raise(L, "unshare options.propagation: expected \"private\" or \"unchanged\", got \"" + prop +
                   "\"");
    keep = prop == "unchanged";
  }
  auto s = core::unshare_namespaces(flags);
  if (!s) return push_failure(L, s.error());
  if ((flags & CLONE_NEWNS) && !keep)
    if (auto p = core::make_mounts_private(); !p) return push_failure(L, p.error());
  lua_pushboolean(L, 1);
  return 1;
}

int l_setns(lua_State* L) {
  pid_t pid = static_cast<pid_t>(luaL_checkinteger(L, 1));
  uint64_t flags = ns_flags_arg(L, 2, "setns");
  auto s = core::join_namespaces(pid, flags);
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// setns_file(path, kind): joins the namespace a file holds (a bind of /proc/PID/ns/KIND, as ip
// netns and unshare --net=FILE make), refused when it is of another kind
int l_setns_file(lua_State* L) {
  // (an fd already open: a namespace of a target opened before the first setns)
  bool given_fd = lua_type(L, 1) == LUA_TNUMBER;
  std::string path =
      given_fd ? "fd " + std::to_string(lua_tointeger(L, 1)) : luaL_checkstring(L, 1);
  lua_createtable(L, 1, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  uint64_t flags = ns_flags_arg(L, lua_gettop(L), "setns_file");
  lua_pop(L, 1);
  int fd =
      given_fd ? static_cast<int>(lua_tointeger(L, 1)) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return push_failure(L, core::sys_error("open " + path));
  int rc = setns(fd, static_cast<int>(flags));
  int e = errno;
  if (!given_fd) close(fd);
  if (rc != 0) {
    std::string why = e == EINVAL ? ": not a namespace of that kind" : "";
    return push_failure(L, core::sys_error("reassociate to namespace " + path + why, e));
  }
  lua_pushboolean(L, 1);
  return 1;
}

struct FlagName {
  const char* name;
  unsigned long flag;
};
constexpr FlagName kMountFlags[] = {
    {"bind", MS_BIND},       {"rec", MS_REC},
    {"rdonly", MS_RDONLY},   {"ro", MS_RDONLY},
    {"nosuid", MS_NOSUID},   {"nodev", MS_NODEV},
    {"noexec", MS_NOEXEC},   {"remount", MS_REMOUNT},
    {"private", MS_PRIVATE}, {"shared", MS_SHARED},
    {"slave", MS_SLAVE},     {"unbindable", MS_UNBINDABLE},
    {"move", MS_MOVE},       {"relatime", MS_RELATIME},
    {"noatime", MS_NOATIME}, {"strictatime", MS_STRICTATIME},
    {"silent", MS_SILENT},
};

int l_mount(lua_State* L) {
  const char* src = luaL_optstring(L, 1, nullptr);
  const char* dst = luaL_checkstring(L, 2);
  const char* type = luaL_optstring(L, 3, nullptr);
  unsigned long flags = 0;
  if (!lua_isnoneornil(L, 4)) {
    for (const auto& f : check_string_list(L, 4, "mount flags")) {
      bool found = false;
      for (const auto& k : kMountFlags)
        if (f == k.name) {
          flags |= k.flag;
          found = true;
        }
      if (!found)
        raise(L, "mount: unknown flag '" + f + "' (e.g. bind, rec, rdonly, private, remount)");
    }
  }
  const char* data = luaL_optstring(L, 5, nullptr);
  std::string what = std::string("mount ") + (src ? src : (type ? type : "none")) + " on " + dst;
  return ok_or_failure(L, mount(src, dst, type, flags, data), what);
}

int l_umount(lua_State* L) {
  const char* target = luaL_checkstring(L, 1);
  int flags = 0;
  if (!lua_isnoneornil(L, 2))
    for (const auto& f : check_string_list(L, 2, "umount flags")) {
      if (f == "detach")
        flags |= MNT_DETACH;
      else if (f == "force")
        flags |= MNT_FORCE;
      else
        raise(L, "umount: unknown flag '" + f + "' (detach, force)");
    }
  return ok_or_failure(L, umount2(target, flags), std::string("umount ") + target);
}

int l_pivot_root(lua_State* L) {
  const char* n = luaL_checkstring(L, 1);
  const char* o = luaL_checkstring(L, 2);
  return ok_or_failure(L, static_cast<int>(syscall(SYS_pivot_root, n, o)),
                       std::string("pivot_root ") + n + " " + o);
}

int l_chroot(lua_State* L) {
  const char* p = luaL_checkstring(L, 1);
  return ok_or_failure(L, chroot(p), std::string("chroot ") + p);
}

int l_chdir(lua_State* L) {
  const char* p = luaL_checkstring(L, 1);
  return ok_or_failure(L, chdir(p), std::string("chdir ") + p);
}

// symlink(target, path) -> true | nil, err
int l_symlink(lua_State* L) {
  const char* target = luaL_checkstring(L, 1);
  const char* path = luaL_checkstring(L, 2);
  return ok_or_failure(L, symlink(target, path), std::string("symlink ") + path);
}

int l_sethostname(lua_State* L) {
  size_t n;
  const char* h = luaL_checklstring(L, 1, &n);
  return ok_or_failure(L, sethostname(h, n), std::string("sethostname ") + h);
}

int l_gethostname(lua_State* L) {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return push_failure(L, core::sys_error("gethostname"));
  lua_pushstring(L, buf);
  return 1;
}

int l_ids(lua_State* L) {
  lua_createtable(L, 0, 4);
  set_integer(L, "pid", getpid());
  set_integer(L, "ppid", getppid());
  set_number(L, "uid", getuid());
  set_number(L, "gid", getgid());
  set_number(L, "euid", geteuid());
  return 1;
}

int l_getpid(lua_State* L) {
  lua_pushinteger(L, getpid());
  return 1;
}

int l_fork(lua_State* L) {
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t p = fork();
  if (p < 0) return push_failure(L, core::sys_error("fork"));
  lua_pushinteger(L, p);
  return 1;
}

// exec(argv [, env list]) searches PATH; returns only on failure.
int l_exec(lua_State* L) {
  auto argv = check_string_list(L, 1, "exec argv");
  if (argv.empty()) raise(L, "exec: empty argv");
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  if (lua_isnoneornil(L, 2)) {
    execvp(a[0], a.data());
  } else {
    auto env = check_string_list(L, 2, "exec env");
    std::vector<char*> e;
    for (auto& s : env) e.push_back(s.data());
    e.push_back(nullptr);
    execvpe(a[0], a.data(), e.data());
  }
  return push_failure(L, core::sys_error("exec " + argv[0]));
}

int l_waitpid(lua_State* L) {
  pid_t pid = static_cast<pid_t>(luaL_checkinteger(L, 1));
  int st = 0;
  pid_t r;
  do r = waitpid(pid, &st, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) return push_failure(L, core::sys_error("waitpid " + std::to_string(pid)));
  lua_createtable(L, 0, 3);
  if (WIFSIGNALED(st)) {
    set_integer(L, "signal", WTERMSIG(st));
  } else {
    set_integer(L, "code", WEXITSTATUS(st));
  }
  set_integer(L, "status", WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
  return 1;
}

int l_exit(lua_State* L) {
  fflush(nullptr);
  _exit(static_cast<int>(luaL_optinteger(L, 1, 0)));
}

int l_kill(lua_State* L) {
  pid_t pid = static_cast<pid_t>(luaL_checkinteger(L, 1));
  int sig = static_cast<int>(luaL_optinteger(L, 2, SIGTERM));
  return ok_or_failure(L, kill(pid, sig), "kill " + std::to_string(pid));
}

int l_setuid(lua_State* L) {
  uid_t u = static_cast<uid_t>(luaL_checknumber(L, 1));
  return ok_or_failure(L, setresuid(u, u, u), "setuid " + std::to_string(u));
}

// setgid(gid [, strict]): the supplementary groups cleared first; strict: a refusal of that is an
// error too (util-linux's unshare -r --setgid: setgroups is denied in that user namespace)
int l_setgid(lua_State* L) {
  gid_t g = static_cast<gid_t>(luaL_checknumber(L, 1));
  bool strict = lua_toboolean(L, 2);
  if (setgroups(0, nullptr) != 0 && (strict || errno != EPERM))
    return push_failure(L, core::sys_error("setgroups failed"));
  return ok_or_failure(L, setresgid(g, g, g), "setgid " + std::to_string(g));
}

// keep_caps(): every permitted capability made inheritable and ambient, so that a program exec'd
// by a non-root id keeps them (util-linux unshare --keep-caps)
int l_keep_caps(lua_State* L) {
  cap_t caps = cap_get_proc();
  if (!caps) return push_failure(L, core::sys_error("read the capabilities"));
  std::vector<cap_value_t> held;
  for (int c = 0; c < static_cast<int>(cap_max_bits()); ++c) {
    cap_flag_value_t v = CAP_CLEAR;
    cap_get_flag(caps, c, CAP_PERMITTED, &v);
    if (v == CAP_SET) held.push_back(c);
  }
  if (!held.empty())
    cap_set_flag(caps, CAP_INHERITABLE, static_cast<int>(held.size()), held.data(), CAP_SET);
  int rc = cap_set_proc(caps);
  cap_free(caps);
  if (rc != 0) return push_failure(L, core::sys_error("set the inheritable capabilities"));
  for (cap_value_t c : held)
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
      return push_failure(L, core::sys_error("raise ambient capability " + std::to_string(c)));
  lua_pushboolean(L, 1);
  return 1;
}

int l_pdeathsig(lua_State* L) {
  int sig = static_cast<int>(luaL_checkinteger(L, 1));
  return ok_or_failure(L, prctl(PR_SET_PDEATHSIG, sig), "prctl PR_SET_PDEATHSIG");
}

std::vector<core::IdMapEntry> map_arg(lua_State* L, int idx, const char* what) {
  std::vector<core::IdMapEntry> out;
  luaL_checktype(L, idx, LUA_TTABLE);
  for (int i = 1; i <= static_cast<int>(lua_objlen(L, idx)); ++i) {
    lua_rawgeti(L, idx, i);  // [e]
    if (lua_type(L, -1) == LUA_TSTRING) {
      auto e = core::parse_id_map_entry(lua_tostring(L, -1));
      if (!e) raise(L, std::string(what) + ": " + e.error().message);
      out.push_back(*e);
    } else if (lua_istable(L, -1)) {
      int t = lua_gettop(L);
      auto f = [&](const char* k, double d) {
        return static_cast<uint32_t>(opt_number_field(L, t, what, k).value_or(d));
      };
      out.push_back({f("inside", 0), f("outside", 0), f("count", 1)});
    } else {
      raise(L, std::string(what) +
                   ": entries are \"inside:outside:count\" or {inside=, outside=, count=}");
    }
    lua_pop(L, 1);
  }
  return out;
}

// write_id_maps(pid (0 = self), uid_map, gid_map [, deny_setgroups=true])
int l_write_id_maps(lua_State* L) {
  pid_t pid = static_cast<pid_t>(luaL_checkinteger(L, 1));
  auto u = map_arg(L, 2, "uid map");
  auto g = map_arg(L, 3, "gid map");
  bool deny = lua_isnoneornil(L, 4) ? true : lua_toboolean(L, 4);
  auto s = core::write_id_maps(pid, u, g, deny);
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// clone{ ns = {...}, fn = function() ... end [, uid_map=, gid_map=] } -> Process
// The function runs in the new process; its number result is the exit code.
int l_clone(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  check_keys(L, 1, "clone", {"ns", "fn", "uid_map", "gid_map"});
  lua_getfield(L, 1, "ns");  // [ns]
  uint64_t flags = ns_flags_arg(L, lua_gettop(L), "clone.ns");
  lua_pop(L, 1);
  lua_getfield(L, 1, "fn");  // [fn]
  if (!lua_isfunction(L, -1)) raise(L, "clone.fn: expected a function");
  int fn = lua_gettop(L);
  std::vector<core::IdMapEntry> um = core::default_uid_map(getuid()),
                                gm = core::default_gid_map(getgid(), getuid());
  lua_getfield(L, 1, "uid_map");
  if (!lua_isnil(L, -1)) um = map_arg(L, lua_gettop(L), "clone.uid_map");
  lua_pop(L, 1);
  lua_getfield(L, 1, "gid_map");
  if (!lua_isnil(L, -1)) gm = map_arg(L, lua_gettop(L), "clone.gid_map");
  lua_pop(L, 1);

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) return push_failure(L, core::sys_error("clone: pipe"));
  auto r = core::clone_process(flags);
  if (!r) {
    close(go[0]);
    close(go[1]);
    return push_failure(L, r.error());
  }
  if (r->pid == 0) {
    // The child: every sbx-owned resource it inherited belongs to the parent (owner pids differ),
    // so nothing it collects or closes here cleans up the parent's sandboxes.
    close(go[1]);
    char c;
    ssize_t n = read(go[0], &c, 1);
    close(go[0]);
    if (n != 1) _exit(127);
    if (flags & CLONE_NEWUSER) {
      if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
        perror("sbx.sys.clone: become root in the user namespace");
    }
    // A new mount namespace is private before the function can mount anything.
    if ((flags & CLONE_NEWNS) && !core::make_mounts_private()) _exit(126);
    lua_pushvalue(L, fn);  // [fn]
    int code = 0;
    if (lua_pcall(L, 0, 1, 0) != 0) {
      fprintf(stderr, "sbx.sys.clone: %s\n", lua_tostring(L, -1));
      code = 1;
    } else if (lua_isnumber(L, -1)) {
      code = static_cast<int>(lua_tointeger(L, -1));
    } else if (lua_isboolean(L, -1)) {
      code = lua_toboolean(L, -1) ? 0 : 1;
    }
    fflush(nullptr);
    _exit(code);
  }
  close(go[0]);
  core::Fd go_write(go[1]);
  Process* p = new_process(L, core::Sandbox(r->pid, core::Fd(r->pidfd), core::Fd()));  // [fn, p]
  p->name = "clone";
  if (flags & CLONE_NEWUSER)
    if (auto s = core::write_id_maps(r->pid, um, gm, true); !s) return push_failure(L, s.error());
  if (write(go_write.get(), "g", 1) != 1)
    return push_failure(L, core::sys_error("clone: start child"));
  return 1;
}

// open(path [, readable]) -> fd: O_PATH unless readable (setns needs a readable namespace fd)
int l_open(lua_State* L) {
  const char* p = luaL_checkstring(L, 1);
  int fd = open(p, O_RDONLY | O_CLOEXEC | (lua_toboolean(L, 2) ? 0 : O_PATH));
  if (fd < 0) return push_failure(L, core::sys_error(std::string("open ") + p));
  lua_pushinteger(L, fd);
  return 1;
}

int l_fchdir(lua_State* L) {
  int fd = static_cast<int>(luaL_checkinteger(L, 1));
  return ok_or_failure(L, fchdir(fd), "fchdir " + std::to_string(fd));
}

// subreaper(true): orphans of our descendants become our children (PR_SET_CHILD_SUBREAPER).
int l_subreaper(lua_State* L) {
  return ok_or_failure(L, prctl(PR_SET_CHILD_SUBREAPER, lua_toboolean(L, 1) ? 1 : 0),
                       "prctl PR_SET_CHILD_SUBREAPER");
}

// pipe() -> read_fd, write_fd (both close-on-exec)
int l_pipe(lua_State* L) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return push_failure(L, core::sys_error("pipe"));
  lua_pushinteger(L, p[0]);
  lua_pushinteger(L, p[1]);
  return 2;
}

// read(fd) -> everything until EOF
int l_read_fd(lua_State* L) {
  int fd = static_cast<int>(luaL_checkinteger(L, 1));
  auto out = core::read_fd(fd, "read fd " + std::to_string(fd));
  if (!out) return push_failure(L, out.error());
  lua_pushlstring(L, out->data(), out->size());
  return 1;
}

int l_write_fd(lua_State* L) {
  int fd = static_cast<int>(luaL_checkinteger(L, 1));
  size_t len;
  const char* s = luaL_checklstring(L, 2, &len);
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, s + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return push_failure(L, core::sys_error("write fd " + std::to_string(fd)));
    off += static_cast<size_t>(n);
  }
  lua_pushboolean(L, 1);
  return 1;
}

// daemonize(): a new session, stdin/stdout/stderr on /dev/null (for a background supervisor).
int l_daemonize(lua_State* L) {
  if (setsid() < 0) return push_failure(L, core::sys_error("setsid"));
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return push_failure(L, core::sys_error("open /dev/null"));
  for (int i = 0; i < 3; ++i) dup2(null, i);
  if (null > 2) close(null);
  lua_pushboolean(L, 1);
  return 1;
}

int l_isatty(lua_State* L) {
  lua_pushboolean(L, isatty(static_cast<int>(luaL_checkinteger(L, 1))));
  return 1;
}

int l_close(lua_State* L) {
  int fd = static_cast<int>(luaL_checkinteger(L, 1));
  return ok_or_failure(L, close(fd), "close " + std::to_string(fd));
}

}  // namespace

void register_sys(lua_State* L) {
  static const luaL_Reg fns[] = {{"unshare", guarded<l_unshare>},
                                 {"setns", guarded<l_setns>},
                                 {"setns_file", guarded<l_setns_file>},
                                 {"clone", guarded<l_clone>},
                                 {"mount", guarded<l_mount>},
                                 {"umount", guarded<l_umount>},
                                 {"pivot_root", guarded<l_pivot_root>},
                                 {"chroot", guarded<l_chroot>},
                                 {"chdir", guarded<l_chdir>},
                                 {"symlink", guarded<l_symlink>},
                                 {"keep_caps", guarded<l_keep_caps>},
                                 {"sethostname", guarded<l_sethostname>},
                                 {"gethostname", guarded<l_gethostname>},
                                 {"ids", guarded<l_ids>},
                                 {"getpid", guarded<l_getpid>},
                                 {"fork", guarded<l_fork>},
                                 {"exec", guarded<l_exec>},
                                 {"waitpid", guarded<l_waitpid>},
                                 {"exit", guarded<l_exit>},
                                 {"kill", guarded<l_kill>},
                                 {"setuid", guarded<l_setuid>},
                                 {"setgid", guarded<l_setgid>},
                                 {"pdeathsig", guarded<l_pdeathsig>},
                                 {"write_id_maps", guarded<l_write_id_maps>},
                                 {"open", guarded<l_open>},
                                 {"fchdir", guarded<l_fchdir>},
                                 {"close", guarded<l_close>},
                                 {"isatty", guarded<l_isatty>},
                                 {"subreaper", guarded<l_subreaper>},
                                 {"pipe", guarded<l_pipe>},
                                 {"read", guarded<l_read_fd>},
                                 {"write", guarded<l_write_fd>},
                                 {"daemonize", guarded<l_daemonize>},
                                 {nullptr, nullptr}};
  lua_newtable(L);  // [sys]
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
