// The declaration of the plan: one list of fields per struct. A new plan field is a member in
// its struct (spec.h, cgroup.h, bridge.h, seccomp.h), one line here, and the code that uses it.
#include "core/sandbox/plan.h"

#include <fcntl.h>

#include <cmath>
#include <limits>

#include "core/base/io.h"
#include "core/net/bridge.h"
#include "core/sandbox/ns.h"

namespace sbx::core {

using schema::bad;
using schema::field;
using schema::Field;
using schema::Json;
using schema::List;
using schema::Maybe;
using schema::Struct;
using schema::Whole;

namespace {

// CLONE_NEW* flags <-> { "user", "mnt", ... }
struct NamespaceSet {
  Json encode(uint64_t flags) const { return namespace_names(flags); }
  Status decode(const Json& j, uint64_t& out, const std::string& path) const {
    std::vector<std::string> names;
    if (auto st = schema::Codec<std::vector<std::string>>{}.decode(j, names, path); !st) return st;
    auto flags = namespace_flags(names);
    if (!flags) return flags.error().context(path);
    out = *flags;
    return {};
  }
  bool empty(uint64_t) const { return false; }
  std::string kind() const { return "list of namespace names"; }
};

struct OpKindName {
  Json encode(OpKind k) const { return op_kind_name(k); }
  Status decode(const Json& j, OpKind& out, const std::string& path) const {
    if (!j.is_string())
      return bad(path, "expected an op kind (a string), got " + schema::type_name(j));
    auto k = op_kind_from_name(j.get_ref<const std::string&>());
    if (!k) return bad(path, "unknown '" + j.get<std::string>() + "'");
    out = *k;
    return {};
  }
  bool empty(OpKind) const { return false; }
  std::string kind() const { return "op kind"; }
};

// "127.0.0.1:8080:80/tcp"
struct PortText {
  Json encode(const PortMap& p) const {
    return p.host_ip + ":" + std::to_string(p.host_port) + ":" + std::to_string(p.port) + "/" +
           p.proto;
  }
  Status decode(const Json& j, PortMap& out, const std::string& path) const {
    if (!j.is_string())
      return bad(path, "expected \"[IP:]HOST_PORT:PORT[/PROTO]\", got " + schema::type_name(j));
    auto p = parse_port_map(j.get<std::string>());
    if (!p) return p.error().context(path);
    out = *p;
    return {};
  }
  bool empty(const PortMap&) const { return false; }
  std::string kind() const { return "port \"IP:HOST_PORT:PORT/PROTO\""; }
};

// A built-in profile by name ("default") or a whole policy.
struct SeccompField {
  Maybe<SeccompPolicy, Struct<SeccompPolicy>> policy;
  Json encode(const std::optional<SeccompPolicy>& p) const {
    if (p && !p->profile.empty() && p->rules.empty() && p->flags.empty() &&
        p->default_action == SeccompPolicy{}.default_action)
      return p->profile;
    return policy.encode(p);
  }
  Status decode(const Json& j, std::optional<SeccompPolicy>& out, const std::string& path) const {
    if (j.is_string()) {
      out = SeccompPolicy{};
      out->profile = j.get<std::string>();
      return {};
    }
    return policy.decode(j, out, path);
  }
  bool empty(const std::optional<SeccompPolicy>& p) const { return !p; }
  std::string kind() const { return "profile name or table"; }
  void docs(const std::string& prefix, std::vector<schema::FieldDoc>& out) const {
    policy.docs(prefix, out);
  }
};

// A limit's amount: a whole number, or "max" for no limit (kUnlimited)
struct Amount {
  Json encode(uint64_t v) const { return v == kUnlimited ? Json("max") : Json(v); }
  Status decode(const Json& j, uint64_t& out, const std::string& path) const {
    if (j.is_string() && j.get_ref<const std::string&>() == "max") {
      out = kUnlimited;
      return {};
    }
    return Whole<uint64_t>{0, kUnlimited - 1, "a whole number or \"max\""}.decode(j, out, path);
  }
  bool empty(uint64_t) const { return false; }
  std::string kind() const { return "whole number or \"max\""; }
};

// Cores of cpu time: a number, or "max" for no quota (infinity)
struct Cores {
  Json encode(double v) const { return std::isinf(v) ? Json("max") : Json(v); }
  Status decode(const Json& j, double& out, const std::string& path) const {
    if (j.is_string() && j.get_ref<const std::string&>() == "max") {
      out = std::numeric_limits<double>::infinity();
      return {};
    }
    return schema::Codec<double>{}.decode(j, out, path);
  }
  bool empty(double) const { return false; }
  std::string kind() const { return "number or \"max\""; }
};

constexpr Whole<uint32_t> kId{0, 4294967294u, "an id"};  // (uid_t)-1 means "unchanged" to setresuid

}  // namespace

namespace schema {

template <>
const std::vector<Field<IdMapEntry>>& fields() {
  static const std::vector<Field<IdMapEntry>> f = {
      field("inside", &IdMapEntry::inside, "first id inside the sandbox"),
      field("outside", &IdMapEntry::outside, "first id on the host"),
      field("count", &IdMapEntry::count, "how many ids"),
  };
  return f;
}

template <>
const std::vector<Field<Op>>& fields() {
  static const std::vector<Field<Op>> f = {
      field("kind", &Op::kind,
            "bind, ro-bind, dev-bind, tmpfs, proc, dev, mqueue, mkdir, symlink, file, remount-ro, "
            "mask, read-only, device, overlay",
            OpKindName{})
          .required(),
      field("source", &Op::source,
            "bind: the host path; overlay: the lower directory; symlink: the link's target; file: "
            "the contents; device: the "
            "node, \"c 1:7\", \"b 8:0\" or \"p\"; tmpfs: its name in the mount table (default "
            "tmpfs)"),
      field("dest", &Op::dest, "the absolute path inside the sandbox"),
      field("upper", &Op::upper,
            "overlay: the host directory that keeps every change (source: the lower, never "
            "written)")
          .quiet(),
      field("work", &Op::work, "overlay: its work directory, beside upper").quiet(),
      field("optional", &Op::optional, "bind: skip quietly when the source is missing").quiet(),
      field("size", &Op::size, "tmpfs: size in bytes (0: the kernel's default)").quiet(),
      field("mode", &Op::mode, "tmpfs, mkdir, file, device: permissions (0: the kind's default)",
            Whole<uint32_t>{0, 07777, "a mode"})
          .quiet(),
      field("uid", &Op::uid, "device: the node's owner inside", kId).quiet(),
      field("gid", &Op::gid, "device: the node's group inside", kId).quiet(),
      field("uid_map", &Op::uid_map,
            "bind: an idmapped mount, uid map lines (inside: the id on disk, outside: the id "
            "it is seen as on the host)",
            List<IdMapEntry, Struct<IdMapEntry>>{})
          .quiet(),
      field("gid_map", &Op::gid_map, "bind: an idmapped mount, gid map lines",
            List<IdMapEntry, Struct<IdMapEntry>>{})
          .quiet(),
      field("idmap_recursive", &Op::idmap_recursive, "bind: the idmap on the submounts too")
          .quiet(),
  };
  return f;
}

template <>
const std::vector<Field<Rlimit>>& fields() {
  static const std::vector<Field<Rlimit>> f = {
      field("type", &Rlimit::type, "RLIMIT_NOFILE, RLIMIT_NPROC, ... (setrlimit's names)"),
      field("soft", &Rlimit::soft, "the soft limit (\"max\": unlimited)", Amount{}),
      field("hard", &Rlimit::hard,
            "the hard limit (\"max\": unlimited; raising it needs CAP_SYS_RESOURCE)", Amount{}),
  };
  return f;
}

template <>
const std::vector<Field<Sysctl>>& fields() {
  static const std::vector<Field<Sysctl>> f = {
      field("key", &Sysctl::key,
            "net.ipv4.ping_group_range, kernel.shmmax, fs.mqueue.msg_max, ..."),
      field("value", &Sysctl::value, "what is written to /proc/sys/KEY"),
  };
  return f;
}

template <>
const std::vector<Field<CapSets>>& fields() {
  static const std::vector<Field<CapSets>> f = {
      field("effective", &CapSets::effective, "the effective set"),
      field("permitted", &CapSets::permitted, "the permitted set"),
      field("inheritable", &CapSets::inheritable, "the inheritable set"),
      field("ambient", &CapSets::ambient,
            "the ambient set (kept across execve by a payload that is not root)"),
  };
  return f;
}

template <>
const std::vector<Field<NsJoin>>& fields() {
  static const std::vector<Field<NsJoin>> f = {
      field("type", &NsJoin::type, "ipc, uts, net, pid, cgroup, mnt or time").required(),
      field("path", &NsJoin::path, "/proc/PID/ns/TYPE, /run/netns/NAME, ...").required(),
  };
  return f;
}

template <>
const std::vector<Field<TimeOffsets>>& fields() {
  static const std::vector<Field<TimeOffsets>> f = {
      field("monotonic", &TimeOffsets::monotonic, "seconds added to CLOCK_MONOTONIC"),
      field("boottime", &TimeOffsets::boottime, "seconds added to CLOCK_BOOTTIME"),
  };
  return f;
}

template <>
const std::vector<Field<UnifiedFile>>& fields() {
  static const std::vector<Field<UnifiedFile>> f = {
      field("file", &UnifiedFile::file, "a cgroup v2 file of the group, \"memory.high\"")
          .required(),
      field("value", &UnifiedFile::value, "what is written to it").required(),
  };
  return f;
}

template <>
const std::vector<Field<IoLimit>>& fields() {
  static const std::vector<Field<IoLimit>> f = {
      field("device", &IoLimit::device, "the block device, \"MAJ:MIN\""),
      field("rbps", &IoLimit::rbps, "read bytes per second (0: no limit)").quiet(),
      field("wbps", &IoLimit::wbps, "written bytes per second").quiet(),
      field("riops", &IoLimit::riops, "read operations per second").quiet(),
      field("wiops", &IoLimit::wiops, "write operations per second").quiet(),
      field("weight", &IoLimit::weight, "10..1000: this device's share of io time (BFQ)").quiet(),
  };
  return f;
}

template <>
const std::vector<Field<HugetlbLimit>>& fields() {
  static const std::vector<Field<HugetlbLimit>> f = {
      field("size", &HugetlbLimit::size, "the huge page size, \"2MB\" or \"1GB\"").required(),
      field("limit", &HugetlbLimit::limit, "bytes of such pages at most; \"max\": none", Amount{})
          .required(),
  };
  return f;
}

template <>
const std::vector<Field<Limits>>& fields() {
  static const std::vector<Field<Limits>> f = {
      field("memory", &Limits::memory, "bytes (memory.max, memory.limit_in_bytes); \"max\": none",
            Maybe<uint64_t, Amount>{}),
      field("memory_swap", &Limits::memory_swap,
            "bytes of memory and swap together (docker's --memory-swap)",
            Maybe<uint64_t, Amount>{}),
      field("memory_reservation", &Limits::memory_reservation,
            "bytes: a soft limit (memory.low, memory.soft_limit_in_bytes)",
            Maybe<uint64_t, Amount>{}),
      field("cpu", &Limits::cpu, "cores (0.5: half of one core); \"max\": no quota",
            Maybe<double, Cores>{}),
      field("cpu_period", &Limits::cpu_period,
            "microseconds of the cpu quota's period (default 100000)"),
      field("cpu_burst", &Limits::cpu_burst,
            "microseconds a quota may be exceeded by (cpu.max.burst, cpu.cfs_burst_us)"),
      field("cpu_idle", &Limits::cpu_idle, "1: the group runs at SCHED_IDLE priority (cpu.idle)"),
      field("cpu_weight", &Limits::cpu_weight, "relative weight 1..10000 (cpu.shares on v1)"),
      field("cpu_shares", &Limits::cpu_shares,
            "relative weight 2..262144 (cpu.shares; cpu.weight on v2), OCI's cpu.shares"),
      field("memory_swappiness", &Limits::memory_swappiness,
            "0..100 (cgroup v1 memory.swappiness)"),
      field("oom_kill_disable", &Limits::oom_kill_disable,
            "the OOM killer off for the group (cgroup v1 memory.oom_control)")
          .quiet(),
      field("cpu_rt_period", &Limits::cpu_rt_period,
            "microseconds: the realtime period (cgroup v1 cpu.rt_period_us)"),
      field("cpu_rt_runtime", &Limits::cpu_rt_runtime,
            "microseconds of realtime in each period (cgroup v1 cpu.rt_runtime_us)"),
      field("cpuset", &Limits::cpuset, "CPUs allowed, \"0-1\""),
      field("cpuset_mems", &Limits::cpuset_mems, "memory nodes allowed, \"0\""),
      field("pids", &Limits::pids, "at most this many processes; \"max\": no limit",
            Maybe<uint64_t, Amount>{}),
      field("io", &Limits::io, "block io limits per device", List<IoLimit, Struct<IoLimit>>{}),
      field("io_weight", &Limits::io_weight,
            "10..1000: the group's share of io time (blkio.bfq.weight, io.bfq.weight)"),
      field("hugetlb", &Limits::hugetlb, "huge page limits per page size",
            List<HugetlbLimit, Struct<HugetlbLimit>>{}),
      field("unified", &Limits::unified,
            "cgroup v2 only: files of the group written as given (OCI's resources.unified)",
            List<UnifiedFile, Struct<UnifiedFile>>{}),
      field("devices", &Limits::devices,
            "device rules in order from every device denied (\"c 1:3 rwm\", \"deny c 1:9 w\", "
            "\"a\"); v1 files or a v2 eBPF program"),
  };
  return f;
}

template <>
const std::vector<Field<BridgeSpec>>& fields() {
  static const std::vector<Field<BridgeSpec>> f = {
      field("bridge", &BridgeSpec::bridge, "the host bridge's name"),
      field("subnet", &BridgeSpec::subnet, "the bridge's IPv4 subnet"),
      field("ip", &BridgeSpec::ip, "the address wanted (empty: the next free one)"),
      field("publish", &BridgeSpec::publish, "ports published on the host",
            List<PortMap, PortText>{}),
      field("nat", &BridgeSpec::nat, "masquerade outbound traffic"),
      field("name", &BridgeSpec::name, "the name other sandboxes on the bridge reach this one by"),
      field("dns", &BridgeSpec::dns,
            "the nameserver of its /etc/resolv.conf (empty: the host's; egress: sbx's responder)")
          .quiet(),
  };
  return f;
}

template <>
const std::vector<Field<UserNetSpec>>& fields() {
  static const std::vector<Field<UserNetSpec>> f = {
      field("tool", &UserNetSpec::tool, "pasta or slirp4netns"),
      field("publish", &UserNetSpec::publish, "ports published on the host",
            List<PortMap, PortText>{}),
      field("dns", &UserNetSpec::dns,
            "the nameserver of its /etc/resolv.conf (empty: the host's; egress: sbx's responder)")
          .quiet(),
  };
  return f;
}

template <>
const std::vector<Field<SeccompArg>>& fields() {
  static const std::vector<Field<SeccompArg>> f = {
      field("index", &SeccompArg::index, "which argument, 0..5",
            Whole<unsigned>{0, 5, "an argument index"}),
      field("op", &SeccompArg::op, "eq ne lt le gt ge masked_eq"),
      field("value", &SeccompArg::value, "the value compared (masked_eq: the mask)"),
      field("value2", &SeccompArg::value2, "masked_eq: the value after masking"),
  };
  return f;
}

template <>
const std::vector<Field<SeccompRule>>& fields() {
  static const std::vector<Field<SeccompRule>> f = {
      field("syscall", &SeccompRule::syscall, "the system call's name"),
      field("action", &SeccompRule::action, "allow, errno NAME|N, kill, kill_process, trap or log"),
      field("args", &SeccompRule::args, "conditions on the arguments (all must hold)",
            List<SeccompArg, Struct<SeccompArg>>{}),
  };
  return f;
}

template <>
const std::vector<Field<SeccompPolicy>>& fields() {
  static const std::vector<Field<SeccompPolicy>> f = {
      field("profile", &SeccompPolicy::profile,
            "a built-in profile the rules extend (default, strict)"),
      field("default_action", &SeccompPolicy::default_action, "for a syscall no rule names"),
      field("rules", &SeccompPolicy::rules, "in order", List<SeccompRule, Struct<SeccompRule>>{})
          .always(),
      field("flags", &SeccompPolicy::flags,
            "filter flags: log (log what the filter does), spec_allow, wait_killable_recv"),
  };
  return f;
}

template <>
const std::vector<Field<Spec>>& fields() {
  static const std::vector<Field<Spec>> f = {
      field("namespaces", &Spec::namespaces, "the namespaces made new", NamespaceSet{}),
      field("rootfs", &Spec::rootfs, "the new root (empty: the host's, read-only)"),
      field("rootfs_readonly", &Spec::rootfs_readonly, "the root is mounted read-only"),
      field("root_propagation", &Spec::root_propagation,
            "the new root's mount propagation: private (default), slave, shared, unbindable"),
      field("ops", &Spec::ops, "mount steps, in order, relative to the new root",
            List<Op, Struct<Op>>{})
          .always(),
      field("uid_map", &Spec::uid_map, "user namespace: uid map lines",
            List<IdMapEntry, Struct<IdMapEntry>>{}),
      field("gid_map", &Spec::gid_map, "user namespace: gid map lines",
            List<IdMapEntry, Struct<IdMapEntry>>{}),
      field("deny_setgroups", &Spec::deny_setgroups, "user namespace: setgroups is denied"),
      field("hostname", &Spec::hostname, "uts namespace: the hostname"),
      field("domainname", &Spec::domainname, "uts namespace: the NIS domain name"),
      field("personality", &Spec::personality,
            "the execution domain: linux, or linux32 (a 32-bit machine to uname; setarch's)"),
      field("cwd", &Spec::cwd, "the payload's working directory"),
      field("env", &Spec::env, "the payload's whole environment, KEY=VALUE").always(),
      field("argv", &Spec::argv, "the payload; argv[1] is searched in the sandbox's PATH").always(),
      field("uid", &Spec::uid, "the payload's uid inside (default 0)",
            Maybe<uint32_t, Whole<uint32_t>>{kId}),
      field("gid", &Spec::gid, "the payload's gid inside (default 0)",
            Maybe<uint32_t, Whole<uint32_t>>{kId}),
      field("groups", &Spec::groups, "the payload's supplementary gids (default none)",
            List<uint32_t, Whole<uint32_t>>{kId}),
      field("loopback_up", &Spec::loopback_up, "net namespace: bring lo up"),
      field("die_with_parent", &Spec::die_with_parent,
            "the sandbox is killed when its starter dies"),
      field("init", &Spec::init,
            "pid namespace: sbx's PID 1 runs the payload (false: it is PID 1)"),
      field("rlimits", &Spec::rlimits, "resource limits of the payload",
            List<Rlimit, Struct<Rlimit>>{}),
      field("umask", &Spec::umask, "the payload's umask (absent: inherited)",
            Maybe<uint32_t, Whole<uint32_t>>{{0, 0777, "a umask"}}),
      field("sysctl", &Spec::sysctl, "namespaced sysctls written inside",
            List<Sysctl, Struct<Sysctl>>{}),
      field("time_offsets", &Spec::time_offsets, "time namespace: clock offsets",
            Struct<TimeOffsets>{}),
      field("layers", &Spec::layers, "an image root: overlay lower directories, top first"),
      field("upper", &Spec::upper, "an image root: the upper directory (empty: a tmpfs)"),
      field("work", &Spec::work, "an image root: overlay's work directory"),
      field("join", &Spec::join, "namespaces joined (by path) instead of made",
            List<NsJoin, Struct<NsJoin>>{}),
      field("bridge", &Spec::bridge, "a veth on a host bridge",
            Maybe<BridgeSpec, Struct<BridgeSpec>>{}),
      field("user_net", &Spec::user_net,
            "rootless networking: a user-mode stack outside the sandbox (pasta, slirp4netns)",
            Maybe<UserNetSpec, Struct<UserNetSpec>>{}),
      field("caps", &Spec::caps, "capabilities kept (absent: unchanged; \"all\")"),
      field("cap_sets", &Spec::cap_sets,
            "with caps: the other capability sets (absent: permitted = effective = caps)",
            Maybe<CapSets, Struct<CapSets>>{}),
      field("oom_score_adj", &Spec::oom_score_adj,
            "the payload's oom_score_adj (absent: inherited; lowering needs CAP_SYS_RESOURCE)",
            Maybe<int32_t, Whole<int32_t>>{{-1000, 1000, "an oom_score_adj"}}),
      field("no_new_privs", &Spec::no_new_privs, "PR_SET_NO_NEW_PRIVS before execve"),
      field("seccomp", &Spec::seccomp, "the seccomp policy (absent: none)", SeccompField{}),
      field("limits", &Spec::limits, "cgroup limits (any: the sandbox gets its own group)",
            Struct<Limits>{}),
      field("cgroup_name", &Spec::cgroup_name,
            "the group's own name under cgroup_parent (empty: sbx-PID-N)"),
      field("cgroup_parent", &Spec::cgroup_parent,
            "where the sandbox's group goes, under the hierarchy roots"),
  };
  return f;
}

}  // namespace schema

Json id_map_to_json(const std::vector<IdMapEntry>& map) {
  return schema::List<IdMapEntry, schema::Struct<IdMapEntry>>{}.encode(map);
}

Status plan_from_json(const Json& j, Spec& out, const std::string& path) {
  return schema::decode(j, out, path);
}

Result<Spec> plan_from_json(const Json& j) {
  Spec s;
  if (auto st = plan_from_json(j, s); !st) return st.error();
  return s;
}

Status limits_from_json(const Json& j, Limits& out, const std::string& path) {
  return schema::decode(j, out, path);
}

Json plan_to_json(const Spec& spec) {
  return schema::encode(spec);
}

Result<Spec> plan_from_text(const std::string& text, const std::string& what) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return user_error(what + ": not valid JSON");
  auto s = plan_from_json(j);
  if (!s) return s.error().context(what);
  return s;
}

Result<Spec> read_plan(const std::string& path) {
  auto text = read_file(path, O_NOFOLLOW);
  if (!text) return text.error().context("plan");
  return plan_from_text(*text, "plan " + path);
}

std::vector<schema::FieldDoc> plan_reference() {
  std::vector<schema::FieldDoc> out;
  Struct<Spec>{}.docs("", out);
  return out;
}

}  // namespace sbx::core
