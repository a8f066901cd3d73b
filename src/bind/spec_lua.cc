#include "spec_lua.h"

#include <sched.h>

#include <cmath>
#include <cstdio>

#include "core/sandbox/ns.h"

namespace sbx::bind {

namespace {

std::vector<core::IdMapEntry> read_map(lua_State* L, int idx, const char* key) {
  std::vector<core::IdMapEntry> out;
  lua_getfield(L, idx, key);  // [map]
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return out;
  }
  if (!lua_istable(L, -1)) raise(L, std::string("spec.") + key + ": expected a list of {inside, outside, count}");
  int t = lua_gettop(L);
  for (int i = 1; i <= static_cast<int>(lua_objlen(L, t)); ++i) {
    lua_rawgeti(L, t, i);  // [map, e]
    std::string what = std::string("spec.") + key + "[" + std::to_string(i) + "]";
    if (!lua_istable(L, -1)) raise(L, what + ": expected a table {inside=, outside=, count=}");
    check_keys(L, -1, what.c_str(), {"inside", "outside", "count"});
    auto num = [&](const char* k, double dflt) {
      auto v = opt_number_field(L, lua_gettop(L), what.c_str(), k);
      double d = v.value_or(dflt);
      if (d < 0 || d > 4294967295.0 || d != std::floor(d)) raise(L, what + "." + k + ": not an id");
      return static_cast<uint32_t>(d);
    };
    core::IdMapEntry e{num("inside", 0), num("outside", 0), num("count", 1)};
    out.push_back(e);
    lua_pop(L, 1);  // [map]
  }
  lua_pop(L, 1);
  return out;
}

core::Op read_op(lua_State* L, int idx, int n) {
  std::string what = "spec.ops[" + std::to_string(n) + "]";
  if (!lua_istable(L, idx)) raise(L, what + ": expected a table");
  check_keys(L, idx, what.c_str(), {"kind", "source", "dest", "optional", "size", "mode"});
  auto kind_name = opt_string_field(L, idx, what.c_str(), "kind");
  if (!kind_name) raise(L, what + ": missing kind");
  auto kind = core::op_kind_from_name(*kind_name);
  if (!kind) raise(L, what + ".kind: unknown '" + *kind_name + "'");
  core::Op op{*kind, opt_string_field(L, idx, what.c_str(), "source").value_or(""),
              opt_string_field(L, idx, what.c_str(), "dest").value_or("")};
  op.optional = opt_bool_field(L, idx, what.c_str(), "optional").value_or(false);
  op.size = static_cast<uint64_t>(opt_whole_field(L, idx, what.c_str(), "size", 0, kU64Max).value_or(0));
  op.mode = static_cast<uint32_t>(opt_whole_field(L, idx, what.c_str(), "mode", 0, 07777).value_or(0));
  return op;
}

void push_map(lua_State* L, const std::vector<core::IdMapEntry>& map) {
  lua_createtable(L, static_cast<int>(map.size()), 0);  // [list]
  for (size_t i = 0; i < map.size(); ++i) {
    lua_createtable(L, 0, 3);  // [list, e]
    set_number(L, "inside", map[i].inside);
    set_number(L, "outside", map[i].outside);
    set_number(L, "count", map[i].count);
    lua_rawseti(L, -2, static_cast<int>(i + 1));  // [list]
  }
}


}  // namespace

void push_seccomp(lua_State* L, const core::SeccompPolicy& p) {
  lua_newtable(L);  // [seccomp]
  if (!p.profile.empty()) set_string(L, "profile", p.profile.c_str());
  set_string(L, "default_action", p.default_action.c_str());
  lua_createtable(L, static_cast<int>(p.rules.size()), 0);  // [seccomp, rules]
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const auto& r = p.rules[i];
    lua_createtable(L, 0, 3);
    set_string(L, "syscall", r.syscall.c_str());
    set_string(L, "action", r.action.c_str());
    if (!r.args.empty()) {
      lua_createtable(L, static_cast<int>(r.args.size()), 0);
      for (size_t j = 0; j < r.args.size(); ++j) {
        lua_createtable(L, 0, 4);
        set_integer(L, "index", r.args[j].index);
        set_string(L, "op", r.args[j].op.c_str());
        set_number(L, "value", static_cast<double>(r.args[j].value));
        set_number(L, "value2", static_cast<double>(r.args[j].value2));
        lua_rawseti(L, -2, static_cast<int>(j + 1));
      }
      lua_setfield(L, -2, "args");
    }
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, -2, "rules");  // [seccomp]
}

core::Spec spec_from_lua(lua_State* L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  if (!lua_istable(L, idx)) raise(L, "spec: expected a table");
  check_keys(L, idx, "spec",
             {"namespaces", "rootfs", "rootfs_readonly", "ops", "uid_map", "gid_map", "deny_setgroups",
              "hostname", "cwd", "env", "argv", "uid", "gid", "die_with_parent", "time_offsets", "loopback_up",
              "limits", "cgroup_parent", "layers", "upper", "work", "join_netns", "bridge", "caps",
              "no_new_privs", "seccomp"});
  core::Spec s;
  if (auto ns = opt_string_list_field(L, idx, "spec", "namespaces")) {
    auto flags = core::namespace_flags(*ns);
    if (!flags) raise(L, "spec.namespaces: " + flags.error().message);
    s.namespaces = *flags;
  }
  s.rootfs = opt_string_field(L, idx, "spec", "rootfs").value_or("");
  s.rootfs_readonly = opt_bool_field(L, idx, "spec", "rootfs_readonly").value_or(true);
  lua_getfield(L, idx, "ops");  // [ops]
  if (lua_istable(L, -1)) {
    int t = lua_gettop(L);
    for (int i = 1; i <= static_cast<int>(lua_objlen(L, t)); ++i) {
      lua_rawgeti(L, t, i);  // [ops, op]
      s.ops.push_back(read_op(L, lua_gettop(L), i));
      lua_pop(L, 1);
    }
  } else if (!lua_isnil(L, -1)) {
    raise(L, "spec.ops: expected a list of ops");
  }
  lua_pop(L, 1);  // []
  s.uid_map = read_map(L, idx, "uid_map");
  s.gid_map = read_map(L, idx, "gid_map");
  s.deny_setgroups = opt_bool_field(L, idx, "spec", "deny_setgroups").value_or(true);
  s.hostname = opt_string_field(L, idx, "spec", "hostname").value_or("");
  s.cwd = opt_string_field(L, idx, "spec", "cwd").value_or("/");
  s.env = opt_string_list_field(L, idx, "spec", "env").value_or(std::vector<std::string>{});
  s.argv = opt_string_list_field(L, idx, "spec", "argv").value_or(std::vector<std::string>{});
  // An id is checked before it is narrowed: (uid_t)-1 means "unchanged" to setresuid.
  auto id_field = [&](const char* key) -> std::optional<uint32_t> {
    auto v = opt_number_field(L, idx, "spec", key);
    if (!v) return std::nullopt;
    if (!(*v >= 0 && *v < 4294967295.0 && *v == std::floor(*v))) {
      char text[32];
      snprintf(text, sizeof text, "%.17g", *v);
      raise(L, std::string("spec: ") + key + " " + text +
                   " is not an id (0..4294967294, and mapped in the sandbox's user namespace)");
    }
    return static_cast<uint32_t>(*v);
  };
  if (auto u = id_field("uid")) s.uid = *u;
  if (auto g = id_field("gid")) s.gid = *g;
  s.die_with_parent = opt_bool_field(L, idx, "spec", "die_with_parent").value_or(true);
  s.loopback_up = opt_bool_field(L, idx, "spec", "loopback_up").value_or(true);
  s.cgroup_parent = opt_string_field(L, idx, "spec", "cgroup_parent").value_or("");
  s.layers = opt_string_list_field(L, idx, "spec", "layers").value_or(std::vector<std::string>{});
  s.upper = opt_string_field(L, idx, "spec", "upper").value_or("");
  s.join_netns = opt_string_field(L, idx, "spec", "join_netns").value_or("");
  s.work = opt_string_field(L, idx, "spec", "work").value_or("");
  s.caps = opt_string_list_field(L, idx, "spec", "caps");
  s.no_new_privs = opt_bool_field(L, idx, "spec", "no_new_privs").value_or(false);
  lua_getfield(L, idx, "seccomp");  // [seccomp]
  if (lua_isstring(L, -1)) {  // a built-in profile by name
    core::SeccompPolicy pol;
    pol.profile = lua_tostring(L, -1);
    s.seccomp = std::move(pol);
  } else if (lua_istable(L, -1)) {
    int t = lua_gettop(L);
    check_keys(L, t, "spec.seccomp", {"profile", "default_action", "rules"});
    core::SeccompPolicy pol;
    pol.profile = opt_string_field(L, t, "spec.seccomp", "profile").value_or("");
    pol.default_action = opt_string_field(L, t, "spec.seccomp", "default_action").value_or(pol.default_action);
    lua_getfield(L, t, "rules");  // [seccomp, rules]
    if (lua_istable(L, -1)) {
      int rt = lua_gettop(L);
      for (int i = 1; i <= static_cast<int>(lua_objlen(L, rt)); ++i) {
        lua_rawgeti(L, rt, i);  // [.., rule]
        int r = lua_gettop(L);
        std::string w = "spec.seccomp.rules[" + std::to_string(i) + "]";
        check_keys(L, r, w.c_str(), {"syscall", "action", "args"});
        core::SeccompRule rule;
        rule.syscall = opt_string_field(L, r, w.c_str(), "syscall").value_or("");
        rule.action = opt_string_field(L, r, w.c_str(), "action").value_or("allow");
        lua_getfield(L, r, "args");  // [.., rule, args]
        if (lua_istable(L, -1)) {
          int at = lua_gettop(L);
          for (int j = 1; j <= static_cast<int>(lua_objlen(L, at)); ++j) {
            lua_rawgeti(L, at, j);  // [.., args, arg]
            int a = lua_gettop(L);
            std::string aw = w + ".args[" + std::to_string(j) + "]";
            core::SeccompArg arg;
            arg.index = static_cast<unsigned>(opt_whole_field(L, a, aw.c_str(), "index", 0, 5).value_or(0));
            arg.op = opt_string_field(L, a, aw.c_str(), "op").value_or("eq");
            arg.value = static_cast<uint64_t>(opt_whole_field(L, a, aw.c_str(), "value", 0, kU64Max).value_or(0));
            arg.value2 = static_cast<uint64_t>(opt_whole_field(L, a, aw.c_str(), "value2", 0, kU64Max).value_or(0));
            rule.args.push_back(arg);
            lua_pop(L, 1);
          }
        }
        lua_pop(L, 2);  // [.., rules]
        pol.rules.push_back(std::move(rule));
      }
    }
    lua_pop(L, 1);  // [seccomp]
    s.seccomp = std::move(pol);
  } else if (!lua_isnil(L, -1)) {
    raise(L, "spec.seccomp: expected a table { default_action =, rules = }");
  }
  lua_pop(L, 1);  // []
  lua_getfield(L, idx, "bridge");  // [bridge]
  if (lua_istable(L, -1)) {
    int t = lua_gettop(L);
    const char* w = "spec.bridge";
    check_keys(L, t, w, {"bridge", "subnet", "ip", "publish", "nat", "name"});
    core::BridgeSpec b;
    b.bridge = opt_string_field(L, t, w, "bridge").value_or(b.bridge);
    b.subnet = opt_string_field(L, t, w, "subnet").value_or(b.subnet);
    b.ip = opt_string_field(L, t, w, "ip").value_or("");
    b.nat = opt_bool_field(L, t, w, "nat").value_or(true);
    b.name = opt_string_field(L, t, w, "name").value_or("");
    for (const auto& text : opt_string_list_field(L, t, w, "publish").value_or(std::vector<std::string>{})) {
      auto p = core::parse_port_map(text);
      if (!p) raise(L, "spec.bridge." + p.error().message);
      b.publish.push_back(*p);
    }
    s.bridge = std::move(b);
  } else if (!lua_isnil(L, -1)) {
    raise(L, "spec.bridge: expected a table");
  }
  lua_pop(L, 1);  // []
  lua_getfield(L, idx, "limits");  // [limits]
  if (lua_istable(L, -1)) {
    int t = lua_gettop(L);
    const char* w = "spec.limits";
    check_keys(L, t, w, {"memory", "memory_swap", "cpu", "cpu_weight", "cpuset", "pids", "io", "devices"});
    s.limits.devices = opt_string_list_field(L, t, w, "devices");
    auto u64 = [&](const char* k) -> std::optional<uint64_t> {
      auto v = opt_whole_field(L, t, w, k, 0, kU64Max);
      if (!v) return std::nullopt;
      return static_cast<uint64_t>(*v);
    };
    s.limits.memory = u64("memory");
    s.limits.memory_swap = u64("memory_swap");
    s.limits.cpu = opt_number_field(L, t, w, "cpu");
    s.limits.cpu_weight = u64("cpu_weight");
    s.limits.cpuset = opt_string_field(L, t, w, "cpuset");
    s.limits.pids = u64("pids");
    lua_getfield(L, t, "io");  // [limits, io]
    if (lua_istable(L, -1)) {
      int io = lua_gettop(L);
      for (int i = 1; i <= static_cast<int>(lua_objlen(L, io)); ++i) {
        lua_rawgeti(L, io, i);  // [limits, io, e]
        std::string what = "spec.limits.io[" + std::to_string(i) + "]";
        if (!lua_istable(L, -1)) raise(L, what + ": expected { device = \"8:0\", rbps =, wbps =, riops =, wiops = }");
        int e = lua_gettop(L);
        check_keys(L, e, what.c_str(), {"device", "rbps", "wbps", "riops", "wiops"});
        core::IoLimit lim;
        lim.device = opt_string_field(L, e, what.c_str(), "device").value_or("");
        lim.rbps = static_cast<uint64_t>(opt_whole_field(L, e, what.c_str(), "rbps", 0, kU64Max).value_or(0));
        lim.wbps = static_cast<uint64_t>(opt_whole_field(L, e, what.c_str(), "wbps", 0, kU64Max).value_or(0));
        lim.riops = static_cast<uint64_t>(opt_whole_field(L, e, what.c_str(), "riops", 0, kU64Max).value_or(0));
        lim.wiops = static_cast<uint64_t>(opt_whole_field(L, e, what.c_str(), "wiops", 0, kU64Max).value_or(0));
        s.limits.io.push_back(lim);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);  // [limits]
  } else if (!lua_isnil(L, -1)) {
    raise(L, "spec.limits: expected a table");
  }
  lua_pop(L, 1);  // []
  lua_getfield(L, idx, "time_offsets");  // [t]
  if (lua_istable(L, -1)) {
    check_keys(L, -1, "spec.time_offsets", {"monotonic", "boottime"});
    s.monotonic_offset = static_cast<int64_t>(opt_whole_field(L, lua_gettop(L), "spec.time_offsets", "monotonic", -kI64Max, kI64Max).value_or(0));
    s.boottime_offset = static_cast<int64_t>(opt_whole_field(L, lua_gettop(L), "spec.time_offsets", "boottime", -kI64Max, kI64Max).value_or(0));
  } else if (!lua_isnil(L, -1)) {
    raise(L, "spec.time_offsets: expected a table {monotonic=, boottime=}");
  }
  lua_pop(L, 1);
  return s;
}

void push_spec(lua_State* L, const core::Spec& s) {
  lua_newtable(L);  // [plan]
  push_strings(L, core::namespace_names(s.namespaces));
  lua_setfield(L, -2, "namespaces");
  if (!s.rootfs.empty()) {
    set_string(L, "rootfs", s.rootfs.c_str());
  }
  set_bool(L, "rootfs_readonly", s.rootfs_readonly);
  lua_createtable(L, static_cast<int>(s.ops.size()), 0);  // [plan, ops]
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const auto& op = s.ops[i];
    lua_newtable(L);  // [plan, ops, op]
    set_string(L, "kind", core::op_kind_name(op.kind));
    if (!op.source.empty()) {
      lua_pushlstring(L, op.source.data(), op.source.size());
      lua_setfield(L, -2, "source");
    }
    set_string(L, "dest", op.dest.c_str());
    if (op.optional) {
      set_bool(L, "optional", 1);
    }
    if (op.size) {
      set_number(L, "size", static_cast<lua_Number>(op.size));
    }
    if (op.mode) {
      set_number(L, "mode", op.mode);
    }
    lua_rawseti(L, -2, static_cast<int>(i + 1));  // [plan, ops]
  }
  lua_setfield(L, -2, "ops");  // [plan]
  if (s.namespaces & CLONE_NEWUSER) {
    push_map(L, s.uid_map);
    lua_setfield(L, -2, "uid_map");
    push_map(L, s.gid_map);
    lua_setfield(L, -2, "gid_map");
    set_bool(L, "deny_setgroups", s.deny_setgroups);
  }
  if (!s.hostname.empty()) {
    set_string(L, "hostname", s.hostname.c_str());
  }
  set_string(L, "cwd", s.cwd.c_str());
  push_strings(L, s.env);
  lua_setfield(L, -2, "env");
  push_strings(L, s.argv);
  lua_setfield(L, -2, "argv");
  if (s.uid) {
    set_number(L, "uid", *s.uid);
  }
  if (s.gid) {
    set_number(L, "gid", *s.gid);
  }
  set_bool(L, "die_with_parent", s.die_with_parent);
  if (s.namespaces & CLONE_NEWNET) {
    set_bool(L, "loopback_up", s.loopback_up);
  }
  if (s.caps) {
    push_strings(L, *s.caps);
    lua_setfield(L, -2, "caps");
  }
  set_bool(L, "no_new_privs", s.no_new_privs);
  if (s.seccomp && !s.seccomp->profile.empty() && s.seccomp->rules.empty()) {
    set_string(L, "seccomp", s.seccomp->profile.c_str());
  } else if (s.seccomp) {
    push_seccomp(L, *s.seccomp);
    lua_setfield(L, -2, "seccomp");  // [plan]
  }
  if (s.bridge) {
    const auto& b = *s.bridge;
    lua_newtable(L);  // [plan, bridge]
    set_string(L, "bridge", b.bridge.c_str());
    set_string(L, "subnet", b.subnet.c_str());
    if (!b.ip.empty()) set_string(L, "ip", b.ip.c_str());
    if (!b.name.empty()) set_string(L, "name", b.name.c_str());
    set_bool(L, "nat", b.nat);
    lua_createtable(L, static_cast<int>(b.publish.size()), 0);
    for (size_t i = 0; i < b.publish.size(); ++i) {
      const auto& p = b.publish[i];
      std::string text = p.host_ip + ":" + std::to_string(p.host_port) + ":" + std::to_string(p.port) + "/" + p.proto;
      lua_pushstring(L, text.c_str());
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
    lua_setfield(L, -2, "publish");
    lua_setfield(L, -2, "bridge");  // [plan]
  }
  if (!s.limits.empty()) {
    const auto& l = s.limits;
    lua_newtable(L);  // [plan, limits]
    auto num = [&](const char* k, double v) {
      lua_pushnumber(L, v);
      lua_setfield(L, -2, k);
    };
    if (l.memory) num("memory", static_cast<double>(*l.memory));
    if (l.memory_swap) num("memory_swap", static_cast<double>(*l.memory_swap));
    if (l.cpu) num("cpu", *l.cpu);
    if (l.cpu_weight) num("cpu_weight", static_cast<double>(*l.cpu_weight));
    if (l.pids) num("pids", static_cast<double>(*l.pids));
    if (l.cpuset) {
      set_string(L, "cpuset", l.cpuset->c_str());
    }
    if (l.devices) {
      lua_createtable(L, static_cast<int>(l.devices->size()), 0);
      for (size_t i = 0; i < l.devices->size(); ++i) {
        lua_pushstring(L, (*l.devices)[i].c_str());
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      lua_setfield(L, -2, "devices");
    }
    if (!l.io.empty()) {
      lua_createtable(L, static_cast<int>(l.io.size()), 0);  // [plan, limits, io]
      for (size_t i = 0; i < l.io.size(); ++i) {
        lua_newtable(L);
        set_string(L, "device", l.io[i].device.c_str());
        if (l.io[i].rbps) num("rbps", static_cast<double>(l.io[i].rbps));
        if (l.io[i].wbps) num("wbps", static_cast<double>(l.io[i].wbps));
        if (l.io[i].riops) num("riops", static_cast<double>(l.io[i].riops));
        if (l.io[i].wiops) num("wiops", static_cast<double>(l.io[i].wiops));
        lua_rawseti(L, -2, static_cast<int>(i + 1));
      }
      lua_setfield(L, -2, "io");
    }
    lua_setfield(L, -2, "limits");  // [plan]
  }
  if (!s.layers.empty()) {
    push_strings(L, s.layers);
    lua_setfield(L, -2, "layers");
  }
  if (!s.upper.empty()) {
    set_string(L, "upper", s.upper.c_str());
    set_string(L, "work", s.work.c_str());
  }
  if (!s.join_netns.empty()) {
    set_string(L, "join_netns", s.join_netns.c_str());
  }
  if (!s.cgroup_parent.empty()) {
    set_string(L, "cgroup_parent", s.cgroup_parent.c_str());
  }
  if (s.monotonic_offset || s.boottime_offset) {
    lua_createtable(L, 0, 2);
    set_number(L, "monotonic", static_cast<lua_Number>(s.monotonic_offset));
    set_number(L, "boottime", static_cast<lua_Number>(s.boottime_offset));
    lua_setfield(L, -2, "time_offsets");
  }
}

}  // namespace sbx::bind
