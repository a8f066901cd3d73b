#include "core/sandbox/spec.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <iterator>

#include "core/net/ipam.h"
#include "core/sandbox/ns.h"

namespace sbx::core {

namespace {
struct OpName {
  OpKind kind;
  const char* name;
};
constexpr OpName kOpNames[] = {
    {OpKind::Bind, "bind"},
    {OpKind::RoBind, "ro-bind"},
    {OpKind::DevBind, "dev-bind"},
    {OpKind::Tmpfs, "tmpfs"},
    {OpKind::Proc, "proc"},
    {OpKind::Dev, "dev"},
    {OpKind::Mqueue, "mqueue"},
    {OpKind::Mkdir, "mkdir"},
    {OpKind::Symlink, "symlink"},
    {OpKind::File, "file"},
    {OpKind::RemountRo, "remount-ro"},
    {OpKind::Mask, "mask"},
    {OpKind::ReadOnly, "read-only"},
    {OpKind::Device, "device"},
    {OpKind::Overlay, "overlay"},
};

constexpr std::pair<const char*, int> kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

bool absolute(const std::string& p) {
  return !p.empty() && p[0] == '/';
}

bool has_dotdot(const std::string& p) {
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (p.compare(i, j - i, "..") == 0 && j - i == 2) return true;
    i = j + 1;
  }
  return false;
}

Status check_map(const char* what, const std::vector<IdMapEntry>& map) {
  if (map.empty())
    return user_error(std::string(what) + ": empty (a user namespace needs at least one line)");
  if (map.size() > 340) return user_error(std::string(what) + ": more than 340 lines");
  for (size_t i = 0; i < map.size(); ++i) {
    const auto& a = map[i];
    if (a.count == 0) return user_error(std::string(what) + ": a line with count 0");
    if (uint64_t(a.inside) + a.count > 4294967295ull ||
        uint64_t(a.outside) + a.count > 4294967295ull)
      return user_error(std::string(what) + ": range past 4294967295");
    for (size_t j = 0; j < i; ++j) {
      const auto& b = map[j];
      if (a.inside < b.inside + b.count && b.inside < a.inside + a.count)
        return user_error(std::string(what) + ": inside ranges overlap");
    }
  }
  return {};
}
}  // namespace

std::optional<int> rlimit_number(std::string_view name) {
  for (const auto& [n, r] : kRlimits)
    if (name == n) return r;
  return std::nullopt;
}

uint64_t sysctl_namespace(std::string_view key) {
  auto starts = [&](std::string_view p) { return key.substr(0, p.size()) == p; };
  if (key.empty() || key.find("..") != std::string_view::npos ||
      key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") != std::string_view::npos)
    return 0;
  if (starts("net.")) return CLONE_NEWNET;
  if (starts("fs.mqueue.") || starts("kernel.shm") || starts("kernel.msg") || key == "kernel.sem")
    return CLONE_NEWIPC;
  return 0;
}

uint64_t joined_namespaces(const Spec& s) {
  uint64_t flags = 0;
  for (const auto& j : s.join)
    if (auto f = namespace_flag(j.type)) flags |= *f;
  return flags;
}

const char* op_kind_name(OpKind k) {
  for (const auto& o : kOpNames)
    if (o.kind == k) return o.name;
  return "?";
}

std::optional<OpKind> op_kind_from_name(std::string_view name) {
  for (const auto& o : kOpNames)
    if (name == o.name) return o.kind;
  return std::nullopt;
}

Result<DeviceNode> parse_device_node(const std::string& text) {
  auto bad = [&] {
    return user_error("device node '" + text +
                      "': expected \"c MAJOR:MINOR\", \"b MAJOR:MINOR\" or \"p\"");
  };
  DeviceNode n;
  if (text == "p") {
    n.type = 'p';
    return n;
  }
  if (text.size() < 5 || text[1] != ' ' || std::string("cbu").find(text[0]) == std::string::npos)
    return bad();
  n.type = text[0] == 'b' ? 'b' : 'c';
  std::string numbers = text.substr(2);
  size_t colon = numbers.find(':');
  auto number = [](const std::string& s, uint32_t& out, uint64_t max) {
    if (s.empty() || s.size() > 7 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    uint64_t v = std::strtoull(s.c_str(), nullptr, 10);
    out = static_cast<uint32_t>(v);
    return v <= max;
  };
  // the kernel's device numbers: 12 bits of major, 20 of minor
  if (colon == std::string::npos || !number(numbers.substr(0, colon), n.major, 4095) ||
      !number(numbers.substr(colon + 1), n.minor, 1048575))
    return bad();
  return n;
}

std::string describe(const Op& op) {
  std::string k = op_kind_name(op.kind);
  switch (op.kind) {
    case OpKind::Bind:
    case OpKind::RoBind:
    case OpKind::DevBind:
      return k + " " + op.source + " on " + op.dest;
    case OpKind::Overlay:
      return "overlay of " + op.source + " on " + op.dest;
    case OpKind::Symlink:
      return "symlink " + op.dest + " -> " + op.source;
    case OpKind::Device:
      return "device " + op.dest + " (" + op.source + ")";
    default:
      return k + " " + op.dest;
  }
}

Status validate(const Spec& s, bool need_argv) {
  if (s.namespaces & ~all_namespace_flags()) return user_error("namespaces: unknown flag bits");
  if (!s.rootfs.empty() && !absolute(s.rootfs))
    return user_error("rootfs: '" + s.rootfs + "' is not an absolute path");
  uint64_t joined = 0;
  for (const auto& j : s.join) {
    auto flag = namespace_flag(j.type);
    if (!flag) return flag.error().context("join");
    if ((s.namespaces | joined) & *flag)
      return user_error("join " + j.type + ": joining one and making a new one at once");
    if (!absolute(j.path))
      return user_error("join " + j.type + ": '" + j.path + "' is not an absolute path");
    if (*flag == CLONE_NEWNS && (s.namespaces & CLONE_NEWUSER))
      return user_error(
          "join mnt: a new user namespace cannot join a mount namespace it does "
          "not own (join without user, or make a new mnt)");
    joined |= *flag;
  }
  if (!s.personality.empty() && s.personality != "linux" && s.personality != "linux32")
    return user_error("personality: '" + s.personality + "' is not linux or linux32");
  if (!s.domainname.empty()) {
    if (!((s.namespaces | joined) & CLONE_NEWUTS))
      return user_error("domainname: needs the uts namespace (it would change the host's)");
    if (s.domainname.size() > 64) return user_error("domainname: longer than 64 characters");
  }
  if (!s.hostname.empty()) {
    if (!((s.namespaces | joined) & CLONE_NEWUTS))
      return user_error("hostname: needs the uts namespace (it would rename the host)");
    if (s.hostname.size() > 64) return user_error("hostname: longer than 64 characters");
  }
  if ((s.time_offsets.monotonic || s.time_offsets.boottime) && !(s.namespaces & CLONE_NEWTIME))
    return user_error("time offsets: need the time namespace");
  if (s.bridge) {
    if (!(s.namespaces & CLONE_NEWNET)) return user_error("net.bridge: needs the net namespace");
    if (joined & CLONE_NEWNET) return user_error("net: a bridge and netns at once");
    if (s.bridge->bridge.empty() || s.bridge->bridge.size() > 15)
      return user_error("net.bridge: '" + s.bridge->bridge +
                        "' is not an interface name (1-15 characters)");
    if (!s.bridge->subnet.empty())
      if (auto p = parse_ipv4_subnet(s.bridge->subnet); !p) return p.error().context("net.subnet");
    if (s.bridge->name.find_first_of(" \t\n") != std::string::npos)
      return user_error("net.name: '" + s.bridge->name + "' has white space");
    // The supervisor holds the lease, the ports and the veth: the sandbox must not outlive it.
    if (!s.die_with_parent)
      return user_error(
          "net.bridge with die_with_parent = false: the bridge plumbing lives as long as the "
          "process "
          "that started the sandbox (use sbx run -d for a sandbox that outlives the caller)");
  }
  if (s.user_net) {
    if (!(s.namespaces & CLONE_NEWNET)) return user_error("net.user: needs the net namespace");
    if (joined & CLONE_NEWNET) return user_error("net: a user-mode network and netns at once");
    if (s.bridge) return user_error("net: a host bridge and a user-mode network at once");
    if (s.user_net->tool != "pasta" && s.user_net->tool != "slirp4netns")
      return user_error("net.user: '" + s.user_net->tool +
                        "' is not a user-mode network (pasta, slirp4netns)");
    if (s.user_net->tool == "slirp4netns")
      for (const auto& p : s.user_net->publish)
        if (p.host_ip.find(':') != std::string::npos)
          return user_error("net.publish " + format_port_map(p) +
                            ": slirp4netns publishes IPv4 addresses only (pasta does both)");
  }
  bool have_mnt = (s.namespaces | joined) & CLONE_NEWNS;
  if (!s.root_propagation.empty()) {
    static const char* const kKinds[] = {"private", "slave", "shared", "unbindable"};
    if (std::find(std::begin(kKinds), std::end(kKinds), s.root_propagation) == std::end(kKinds))
      return user_error("root_propagation: '" + s.root_propagation +
                        "' (expected private, slave, shared or unbindable)");
    if (!have_mnt) return user_error("root_propagation: needs the mnt namespace");
  }
  if (!s.layers.empty()) {
    if (!have_mnt) return user_error("image: needs the mnt namespace");
    if (!s.rootfs.empty()) return user_error("image and rootfs: choose one");
    for (const auto& l : s.layers)
      if (!absolute(l)) return user_error("layers: '" + l + "' is not an absolute path");
    if (s.upper.empty() != s.work.empty())
      return user_error("upper and work: give both or neither");
  }
  if (!have_mnt && (!s.ops.empty() || !s.rootfs.empty()))
    return user_error("mounts: need the mnt namespace (they would change the host)");
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const auto& op = s.ops[i];
    std::string where = "mounts[" + std::to_string(i + 1) + "] (" + op_kind_name(op.kind) + ")";
    if (!absolute(op.dest))
      return user_error(where + ": destination '" + op.dest + "' is not absolute");
    if (has_dotdot(op.dest))
      return user_error(where + ": destination '" + op.dest + "' contains '..'");
    bool is_bind =
        op.kind == OpKind::Bind || op.kind == OpKind::RoBind || op.kind == OpKind::DevBind;
    if ((is_bind || op.kind == OpKind::Overlay) && !absolute(op.source))
      return user_error(where + ": source '" + op.source + "' is not an absolute path");
    if (op.kind == OpKind::Overlay && (!absolute(op.upper) || !absolute(op.work)))
      return user_error(where + ": upper and work must be absolute paths");
    if (op.kind == OpKind::Symlink && op.source.empty())
      return user_error(where + ": empty link target");
    if (op.kind == OpKind::Device) {
      if (auto n = parse_device_node(op.source); !n) return n.error().context(where);
      if (op.dest == "/") return user_error(where + ": a device node cannot be the root");
    }
    if (!op.uid_map.empty() || !op.gid_map.empty() || op.idmap_recursive) {
      if (!is_bind && op.kind != OpKind::Overlay)
        return user_error(where + ": an id map is only for a bind or an overlay's lower");
      if (op.optional) return user_error(where + ": an idmapped bind cannot be optional");
      if (auto st = check_map("uid map", op.uid_map); !st) return st.error().context(where);
      if (auto st = check_map("gid map", op.gid_map); !st) return st.error().context(where);
    }
  }
  if (s.seccomp)
    if (auto st = check_seccomp(*s.seccomp); !st) return st;
  if (!s.cgroup_name.empty() &&
      (s.cgroup_name.find('/') != std::string::npos || s.cgroup_name == "." ||
       s.cgroup_name == ".." || s.cgroup_name.size() > 255))
    return user_error("cgroup_name '" + s.cgroup_name + "': expected one path component");
  if (!s.cgroup_parent.empty()) {
    if (s.cgroup_parent.size() >= 4096)
      return Error{ENAMETOOLONG, "cgroup_parent: longer than a path may be (4095)"};
    size_t start = 0;
    while (start <= s.cgroup_parent.size()) {
      size_t end = s.cgroup_parent.find('/', start);
      if (end == std::string::npos) end = s.cgroup_parent.size();
      if (end - start > 255)
        return Error{ENAMETOOLONG, "cgroup_parent '" + s.cgroup_parent.substr(start, 32) +
                                       "...': a component is longer than 255 characters"};
      start = end + 1;
    }
  }
  for (const auto& c : s.sysctl) {
    uint64_t ns = sysctl_namespace(c.key);
    if (!ns)
      return user_error("sysctl " + c.key +
                        ": not a namespaced sysctl (net.*, kernel.shm*/msg*/sem, fs.mqueue.*): "
                        "writing it would change the host");
    if (!((s.namespaces | joined) & ns))
      return user_error("sysctl " + c.key + ": needs the " + (ns == CLONE_NEWNET ? "net" : "ipc") +
                        " namespace (it would change the host's)");
  }
  if (s.namespaces & CLONE_NEWUSER) {
    if (auto st = check_map("uid map", s.uid_map); !st) return st;
    if (auto st = check_map("gid map", s.gid_map); !st) return st;
  }
  return validate_process(s, need_argv);
}

Status validate_process(const Spec& s, bool need_argv) {
  if (need_argv && s.argv.empty()) return user_error("argv: empty (nothing to run)");
  if (!s.argv.empty() && s.argv[0].empty()) return user_error("argv[1]: empty program name");
  if (!absolute(s.cwd)) return user_error("cwd: '" + s.cwd + "' is not an absolute path");
  for (const auto& e : s.env)
    if (e.find('=') == std::string::npos || e[0] == '=')
      return user_error("env: '" + e + "' is not KEY=VALUE");
  if (!s.groups.empty() && (s.namespaces & CLONE_NEWUSER) && s.deny_setgroups)
    return user_error(
        "groups: setgroups is denied in the sandbox's user namespace (deny_setgroups)");
  for (const auto& r : s.rlimits) {
    if (!rlimit_number(r.type)) return user_error("rlimits: unknown type '" + r.type + "'");
    if (r.soft > r.hard)
      return user_error("rlimits " + r.type + ": soft " + std::to_string(r.soft) + " above hard " +
                        std::to_string(r.hard));
  }
  if (s.uid && *s.uid == static_cast<uid_t>(-1))
    return user_error("uid 4294967295: not an id ((uid_t)-1 means \"unchanged\")");
  if (s.gid && *s.gid == static_cast<gid_t>(-1))
    return user_error("gid 4294967295: not an id ((gid_t)-1 means \"unchanged\")");
  if (s.namespaces & CLONE_NEWUSER) {
    // the payload's ids must exist inside: an unmapped one would fail late, or mean something else
    auto mapped = [](const std::vector<IdMapEntry>& map, uint32_t id) {
      for (const auto& e : map)
        if (id >= e.inside && id - e.inside < e.count) return true;
      return false;
    };
    if (s.uid && !mapped(s.uid_map, *s.uid))
      return user_error("uid " + std::to_string(*s.uid) +
                        ": not mapped in the sandbox's user namespace (see uid_map)");
    if (s.gid && !mapped(s.gid_map, *s.gid))
      return user_error("gid " + std::to_string(*s.gid) +
                        ": not mapped in the sandbox's user namespace (see gid_map)");
  }
  return {};
}

}  // namespace sbx::core
