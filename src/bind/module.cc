#include "module.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "core/base/fault.h"
#include "core/base/handle.h"
#include "core/base/units.h"
#include "core/cgroup/cgroup.h"
#include "core/fs/copy.h"
#include "core/fs/rootfs.h"
#include "core/fs/workspace.h"
#include "core/sandbox/detach.h"
#include "core/sandbox/features.h"
#include "core/sandbox/gc.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/plan.h"
#include "core/sandbox/spawn.h"
#include "core/sandbox/supervise.h"
#include "core/security/caps.h"
#include "core/security/seccomp.h"
#include "plan_lua.h"
#include "sandbox.h"

namespace sbx::bind {

struct EmbeddedModule {
  const char* name;
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedModule kEmbeddedModules[];

void register_sys(lua_State* L);
void register_json(lua_State* L);
void register_cgroup(lua_State* L);
void register_image(lua_State* L);
void register_net(lua_State* L);
void register_edit(lua_State* L);
void register_base(lua_State* L);
void register_loop(lua_State* L);

namespace {

// start_supervisor(plan, dir [, lock_fd]) -> sandbox pid | nil, message: a detached supervisor
// (no Lua) holds the sandbox from now on (see core/sandbox/detach.h).
int l_start_supervisor(lua_State* L) {
  core::Spec spec = spec_from_lua(L, 1);
  std::string dir = luaL_checkstring(L, 2);
  int lock = static_cast<int>(
      luaL_optinteger(L, 3, -1));  // the sandbox dir's lock: the supervisor holds it
  auto pid = core::start_detached(spec, dir, lock);
  if (!pid) return push_failure(L, pid.error());
  lua_pushinteger(L, *pid);
  return 1;
}

// become_supervisor(dir) -> true | nil, err: this process (a fork that keeps its Lua) becomes the
// detached supervisor of sandbox dir: its own session, stdin /dev/null, stdout and stderr dir/log.
int l_become_supervisor(lua_State* L) {
  if (auto s = core::become_supervisor(luaL_checkstring(L, 1)); !s)
    return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// workspace_changes(upper, lower) -> { { kind =, path =, type =, old_type =, mode =, old_mode =,
// size =, old_size =, target = }, ... } | nil, err (core/fs/workspace.h)
void push_change(lua_State* L, const core::WorkspaceChange& c) {
  lua_createtable(L, 0, 9);
  char k[2] = {c.kind, 0};
  set_string(L, "kind", k);
  set_string(L, "path", c.path.c_str());
  set_string(L, "type", c.type.c_str());
  if (!c.old_type.empty()) set_string(L, "old_type", c.old_type.c_str());
  set_integer(L, "mode", c.mode);
  set_integer(L, "old_mode", c.old_mode);
  set_number(L, "size", static_cast<lua_Number>(c.size));
  set_number(L, "old_size", static_cast<lua_Number>(c.old_size));
  if (!c.target.empty()) set_string(L, "target", c.target.c_str());
}

int l_workspace_changes(lua_State* L) {
  auto ch = core::workspace_changes(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
  if (!ch) return push_failure(L, ch.error());
  lua_createtable(L, static_cast<int>(ch->size()), 0);
  for (size_t i = 0; i < ch->size(); ++i) {
    push_change(L, (*ch)[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// promote(upper, host, changes, started) -> { { path =, applied =, why = }, ... } | nil, err;
// `started`: coarse_now()'s text at the run's start
int push_copy(lua_State* L, const core::Result<core::CopyResult>& r) {
  if (!r) return push_failure(L, r.error());
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, static_cast<lua_Integer>(r->files));
  lua_setfield(L, -2, "files");
  lua_pushinteger(L, static_cast<lua_Integer>(r->dirs));
  lua_setfield(L, -2, "dirs");
  lua_pushinteger(L, static_cast<lua_Integer>(r->links));
  lua_setfield(L, -2, "links");
  lua_pushinteger(L, static_cast<lua_Integer>(r->skipped));
  lua_setfield(L, -2, "skipped");
  return 1;
}

// copy_out(pid, path, dest) / copy_in(src, pid, path) -> { files, dirs, links, skipped } | nil, err
int l_copy_out(lua_State* L) {
  auto pid = static_cast<pid_t>(luaL_checkinteger(L, 1));
  return push_copy(L, core::copy_out(pid, luaL_checkstring(L, 2), luaL_checkstring(L, 3)));
}

int l_copy_in(lua_State* L) {
  std::string src = luaL_checkstring(L, 1);
  auto pid = static_cast<pid_t>(luaL_checkinteger(L, 2));
  return push_copy(L, core::copy_in(src, pid, luaL_checkstring(L, 3)));
}

int l_promote(lua_State* L) {
  std::string upper = luaL_checkstring(L, 1), host = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  int64_t started = std::strtoll(luaL_checkstring(L, 4), nullptr, 10);
  std::vector<core::WorkspaceChange> chosen;
  for (int i = 1;; ++i) {
    lua_rawgeti(L, 3, i);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      break;
    }
    int t = lua_gettop(L);
    core::WorkspaceChange c;
    std::string kind = opt_string_field(L, t, "promote", "kind").value_or("M");
    c.kind = kind.empty() ? 'M' : kind[0];
    c.path = opt_string_field(L, t, "promote", "path").value_or("");
    c.type = opt_string_field(L, t, "promote", "type").value_or("");
    lua_getfield(L, t, "mode");
    c.mode = static_cast<uint32_t>(lua_tointeger(L, -1));
    lua_pop(L, 2);
    chosen.push_back(std::move(c));
  }
  auto out = core::promote_changes(upper, host, chosen, started);
  if (!out) return push_failure(L, out.error());
  lua_createtable(L, static_cast<int>(out->size()), 0);
  for (size_t i = 0; i < out->size(); ++i) {
    lua_createtable(L, 0, 3);
    set_string(L, "path", (*out)[i].path.c_str());
    set_bool(L, "applied", (*out)[i].applied);
    if (!(*out)[i].why.empty()) set_string(L, "why", (*out)[i].why.c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// realpath(path) -> the path with no symlink, ".." or "." | nil, err; and its type (file, dir,
// ...), owner and group
int l_realpath(lua_State* L) {
  const char* p = luaL_checkstring(L, 1);
  char* r = ::realpath(p, nullptr);
  if (!r) return push_failure(L, core::sys_error(std::string("realpath ") + p));
  lua_pushstring(L, r);
  struct stat st;
  bool ok = stat(r, &st) == 0;
  free(r);
  lua_pushstring(L, !ok                   ? "?"
                    : S_ISDIR(st.st_mode) ? "dir"
                    : S_ISREG(st.st_mode) ? "file"
                    : S_ISLNK(st.st_mode) ? "symlink"
                                          : "other");
  lua_pushinteger(L, ok ? st.st_uid : -1);
  lua_pushinteger(L, ok ? st.st_gid : -1);
  return 4;
}

// lstat(path) -> type, uid, gid, mode | nil, err: the kernel's walk (/proc/PID/root/... reaches
// into that process's root, which realpath(3), reading the link as text, does not)
int l_lstat(lua_State* L) {
  const char* p = luaL_checkstring(L, 1);
  struct stat st;
  if (lstat(p, &st) != 0) return push_failure(L, core::sys_error(std::string("lstat ") + p));
  lua_pushstring(L, S_ISDIR(st.st_mode)   ? "dir"
                    : S_ISREG(st.st_mode) ? "file"
                    : S_ISLNK(st.st_mode) ? "symlink"
                                          : "other");
  lua_pushinteger(L, st.st_uid);
  lua_pushinteger(L, st.st_gid);
  lua_pushinteger(L, st.st_mode & 07777);
  return 4;
}

// userns_refusal() -> why this host refuses the caller a user namespace, with the fix ("" when it
// does not)
int l_userns_refusal(lua_State* L) {
  lua_pushstring(L, core::userns_refusal().c_str());
  return 1;
}

int l_coarse_now(lua_State* L) {
  lua_pushstring(L, std::to_string(core::workspace_start_mark()).c_str());
  return 1;
}

// list_dir(path) -> { name, ... } sorted, without "." entries ({} when it cannot be read)
int l_list_dir(lua_State* L) {
  std::vector<std::string> names;
  if (core::Dir d{opendir(luaL_checkstring(L, 1))}) {
    while (auto* e = readdir(d.get()))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  std::sort(names.begin(), names.end());
  lua_createtable(L, static_cast<int>(names.size()), 0);
  for (size_t i = 0; i < names.size(); ++i) {
    lua_pushstring(L, names[i].c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// gc() -> { "what was removed", ... } | nil, err: everything dead owners left (see
// core/sandbox/gc.h)
int l_gc(lua_State* L) {
  auto r = core::collect_leftovers();
  if (!r) return push_failure(L, r.error());
  push_strings(L, *r);
  return 1;
}

// fault_steps() -> { { name =, shape =, what = }, ... }: the set-up steps SBX_FAULT can fail
int l_fault_steps(lua_State* L) {
  const auto& steps = core::fault_steps();
  lua_createtable(L, static_cast<int>(steps.size()), 0);
  for (size_t i = 0; i < steps.size(); ++i) {
    lua_createtable(L, 0, 3);
    set_string(L, "name", steps[i].name);
    set_string(L, "shape", steps[i].shape);
    set_string(L, "what", steps[i].what);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// cap_names("00000000a80425fb") -> { "cap_chown", ... }
int l_cap_names(lua_State* L) {
  uint64_t mask = std::strtoull(luaL_checkstring(L, 1), nullptr, 16);
  push_strings(L, core::cap_names(mask));
  return 1;
}

// seccomp_profile(name) -> the built-in profile's policy as data
int l_seccomp_profile(lua_State* L) {
  auto p = core::builtin_seccomp(luaL_checkstring(L, 1));
  if (!p) return push_failure(L, p.error());
  push_json(L, core::schema::encode(*p));
  return 1;
}

int l_seccomp_syscalls(lua_State* L) {
  push_strings(L, core::seccomp_syscalls());
  return 1;
}

int l_process_identity(lua_State* L) {
  std::string id = core::process_identity(static_cast<pid_t>(luaL_checkinteger(L, 1)));
  if (id.empty()) return 0;
  lua_pushstring(L, id.c_str());
  return 1;
}

// seccomp_compile(plan) -> { instructions, ... } per BPF program | nil, err: the plan's seccomp
// policy compiled as a start would compile it (nothing is installed).
int l_seccomp_compile(lua_State* L) {
  core::Spec spec = spec_from_lua(L, 1);
  if (!spec.seccomp) raise(L, "seccomp_compile: the plan has no seccomp policy");
  auto progs = core::compile_seccomp(*spec.seccomp);
  if (!progs) return push_failure(L, progs.error());
  lua_createtable(L, static_cast<int>(progs->size()), 0);
  for (size_t i = 0; i < progs->size(); ++i) {
    lua_pushinteger(L, static_cast<lua_Integer>((*progs)[i].size() / 8));
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int l_ns_kinds(lua_State* L) {
  const auto& kinds = core::namespace_kinds();
  lua_createtable(L, static_cast<int>(kinds.size()), 0);  // [list]
  int i = 1;
  for (const auto& k : kinds) {
    lua_createtable(L, 0, 3);  // [list, k]
    lua_pushlstring(L, k.name.data(), k.name.size());
    lua_setfield(L, -2, "name");
    set_number(L, "flag", static_cast<lua_Number>(k.flag));
    lua_pushlstring(L, k.flag_name.data(), k.flag_name.size());
    lua_setfield(L, -2, "flag_name");
    lua_rawseti(L, -2, i++);  // [list]
  }
  return 1;
}

int l_ns_ids(lua_State* L) {
  pid_t pid = static_cast<pid_t>(luaL_optinteger(L, 1, 0));
  auto ids = core::namespace_ids(pid);
  if (!ids) return push_failure(L, ids.error());
  lua_createtable(L, 0, static_cast<int>(ids->size()));
  for (const auto& [name, ino] : *ids) {
    lua_pushnumber(L, static_cast<lua_Number>(ino));
    lua_setfield(L, -2, name.c_str());
  }
  return 1;
}

int l_features(lua_State* L) {
  core::Features f = core::detect_features();
  lua_createtable(L, 0, 12);
  // 2 or 1 as numbers, "hybrid" as a string
  if (f.cgroup == "2" || f.cgroup == "1")
    set_integer(L, "cgroup", f.cgroup == "2" ? 2 : 1);
  else
    set_string(L, "cgroup", f.cgroup.c_str());
  push_strings(L, f.cgroup_controllers);
  lua_setfield(L, -2, "cgroup_controllers");
  const std::pair<const char*, bool> flags[] = {{"userns", f.userns},     {"overlay", f.overlay},
                                                {"seccomp", f.seccomp},   {"timens", f.timens},
                                                {"cgroupns", f.cgroupns}, {"clone3", f.clone3},
                                                {"root", f.root}};
  for (const auto& [k, v] : flags) {
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
  }
  set_string(L, "kernel", f.kernel.c_str());
  return 1;
}

int l_userns_allowed(lua_State* L) {
  lua_pushboolean(L, core::userns_allowed());
  return 1;
}

int l_busybox_rootfs(lua_State* L) {
  auto r = core::busybox_rootfs(luaL_optstring(L, 1, "/bin/busybox"));
  if (!r) return push_failure(L, r.error());
  lua_pushstring(L, r->c_str());
  return 1;
}

// debootstrap_rootfs(suite, variant [, mirror [, quiet]]) -> path | nil, message, errno
int l_debootstrap_rootfs(lua_State* L) {
  core::Debootstrap d;
  d.suite = luaL_checkstring(L, 1);
  d.variant = luaL_checkstring(L, 2);
  d.mirror = luaL_optstring(L, 3, "");
  d.quiet = lua_toboolean(L, 4);
  auto r = core::debootstrap_rootfs(d);
  if (!r) return push_failure(L, r.error());
  lua_pushstring(L, r->c_str());
  return 1;
}

// default_id_maps() -> uid_map, gid_map, as the plan writes them (the two maps only: encoding a
// whole Spec to get them cost ~60 us of every sbx run's start)
int l_default_id_maps(lua_State* L) {
  std::vector<core::IdMapEntry> uids = core::default_uid_map(getuid());
  std::vector<core::IdMapEntry> gids = core::default_gid_map(getgid(), getuid());
  core::add_subordinate_ranges(uids, gids);
  push_json(L, core::id_map_to_json(uids));
  push_json(L, core::id_map_to_json(gids));
  return 2;
}

// A number passes through; a string is parsed ("64M", "2h"): value | nil, message, errno.
template <auto Parse>
int l_parse(lua_State* L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_pushvalue(L, 1);
    return 1;
  }
  auto r = Parse(luaL_checkstring(L, 1));
  if (!r) return push_failure(L, r.error());
  lua_pushnumber(L, static_cast<lua_Number>(*r));
  return 1;
}

// device_number("/dev/vda" or "8:0") -> "8:0" | nil, message
int l_device_number(lua_State* L) {
  std::string d = luaL_checkstring(L, 1);
  if (d.find(':') != std::string::npos && d[0] != '/') {
    lua_pushstring(L, d.c_str());
    return 1;
  }
  // (any: a character device too, and its kind "c" or "b" second)
  bool any = lua_toboolean(L, 2);
  struct stat st;
  if (::stat(d.c_str(), &st) != 0) return push_failure(L, core::sys_error("device " + d));
  if (!S_ISBLK(st.st_mode) && !(any && S_ISCHR(st.st_mode)))
    return push_failure(
        L, {ENOTBLK, "device " + d + (any ? ": not a device node" : ": not a block device")});
  lua_pushfstring(L, "%d:%d", static_cast<int>(major(st.st_rdev)),
                  static_cast<int>(minor(st.st_rdev)));
  lua_pushstring(L, S_ISBLK(st.st_mode) ? "b" : "c");
  return 2;
}

int l_default_device_rules(lua_State* L) {
  push_strings(L, core::default_device_rules());
  return 1;
}

int l_dirs(lua_State* L) {
  lua_createtable(L, 0, 2);
  set_string(L, "runtime", core::runtime_dir().c_str());
  set_string(L, "cache", core::cache_dir().c_str());
  return 1;
}

int l_load_embedded(lua_State* L) {
  const auto* m = static_cast<const EmbeddedModule*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::string chunk = std::string("=") + m->name;
  if (luaL_loadbuffer(L, reinterpret_cast<const char*>(m->data), m->size, chunk.c_str()) != 0)
    return lua_error(L);
  lua_pushstring(L, std::string(m->name) == "sbx.init" ? "sbx" : m->name);
  lua_call(L, 1, 1);
  return 1;
}

}  // namespace

int open_core(lua_State* L) {
  static const luaL_Reg fns[] = {{"spawn", l_spawn_entry},
                                 {"enter", l_enter_entry},
                                 {"process_identity", guarded<l_process_identity>},
                                 {"start_supervisor", guarded<l_start_supervisor>},
                                 {"become_supervisor", guarded<l_become_supervisor>},
                                 {"workspace_changes", guarded<l_workspace_changes>},
                                 {"promote", guarded<l_promote>},
                                 {"copy_out", guarded<l_copy_out>},
                                 {"copy_in", guarded<l_copy_in>},
                                 {"coarse_now", guarded<l_coarse_now>},
                                 {"realpath", guarded<l_realpath>},
                                 {"lstat", guarded<l_lstat>},
                                 {"userns_refusal", guarded<l_userns_refusal>},
                                 {"seccomp_syscalls", guarded<l_seccomp_syscalls>},
                                 {"seccomp_profile", guarded<l_seccomp_profile>},
                                 {"cap_names", guarded<l_cap_names>},
                                 {"list_dir", guarded<l_list_dir>},
                                 {"fault_steps", guarded<l_fault_steps>},
                                 {"gc", guarded<l_gc>},
                                 {"seccomp_compile", guarded<l_seccomp_compile>},
                                 {"ns_kinds", guarded<l_ns_kinds>},
                                 {"ns_ids", guarded<l_ns_ids>},
                                 {"features", guarded<l_features>},
                                 {"busybox_rootfs", guarded<l_busybox_rootfs>},
                                 {"debootstrap_rootfs", guarded<l_debootstrap_rootfs>},
                                 {"userns_allowed", guarded<l_userns_allowed>},
                                 {"default_id_maps", guarded<l_default_id_maps>},
                                 {"parse_size", guarded<l_parse<core::parse_size>>},
                                 {"parse_seconds", guarded<l_parse<core::parse_seconds>>},
                                 {"dirs", guarded<l_dirs>},
                                 {"device_number", guarded<l_device_number>},
                                 {"default_device_rules", guarded<l_default_device_rules>},
                                 {nullptr, nullptr}};
  register_process(L);
  lua_newtable(L);  // [core]
  luaL_register(L, nullptr, fns);
  register_plan(L);    // core.plan, core.plan_reference
  register_base(L);    // [core]: sleep, read_file, write_file, signal names, default_path
  register_loop(L);    // [core]: poller, watch.*, read_some, parse_pressure
  register_notify(L);  // [core]: open_in; the seccomp listener's and call's metatables
  luaL_getmetatable(L, "sbx.Process");  // [core, meta]: lua/sbx/loop.lua adds p:on and friends
  lua_setfield(L, -2, "Process");
  register_sys(L);  // [core, sys]
  lua_setfield(L, -2, "sys");
  register_json(L);  // [core, json]
  lua_setfield(L, -2, "json");
  register_cgroup(L);  // [core, cgroup]
  lua_setfield(L, -2, "cgroup");
  register_image(L);  // [core, image]
  lua_setfield(L, -2, "image");
  register_net(L);  // [core, net]
  lua_setfield(L, -2, "net");
  register_edit(L);  // [core, edit]
  lua_setfield(L, -2, "edit");
  set_string(L, "version", SBX_VERSION);
  return 1;
}

void install_preloads(lua_State* L) {
  lua_getglobal(L, "package");      // [package]
  lua_getfield(L, -1, "preload");   // [package, preload]
  lua_pushcfunction(L, open_core);  // [package, preload, fn]
  lua_setfield(L, -2, "sbx.core");
  for (const EmbeddedModule* m = kEmbeddedModules; m->name; ++m) {
    lua_pushlightuserdata(L, const_cast<EmbeddedModule*>(m));
    lua_pushcclosure(L, l_load_embedded, 1);  // [package, preload, loader]
    std::string name = m->name;
    lua_setfield(L, -2, name == "sbx.init" ? "sbx" : m->name);
  }
  lua_pop(L, 2);
}

}  // namespace sbx::bind
