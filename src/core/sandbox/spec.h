// Spec: the plan of a sandbox as data. The command line, the Lua table and (later) OCI config
// all fill this one struct; the child walks it in C++ between clone and execve.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/cgroup/cgroup.h"
#include "core/net/bridge.h"
#include "core/net/usernet.h"
#include "core/security/seccomp.h"

namespace sbx::core {

// Mask: hide a path (a file gets /dev/null, a directory an empty read-only tmpfs); ReadOnly: the
// path bound on itself read-only. Both skip a path the root does not have. Device: a device node
// (mknod; in a user namespace, where mknod is not allowed, the host's node at the same path bound).
enum class OpKind {
  Bind,
  RoBind,
  DevBind,
  Tmpfs,
  Proc,
  Dev,
  Mqueue,
  Mkdir,
  Symlink,
  File,
  RemountRo,
  Mask,
  ReadOnly,
  Device,
  Overlay
};

struct IdMapEntry {
  uint32_t inside = 0, outside = 0, count = 1;
  bool operator==(const IdMapEntry&) const = default;
};

struct Op {
  OpKind kind;
  std::string source;     // host path (bind), link target (symlink), contents (file), node (device)
  std::string dest;       // absolute path inside the sandbox
  bool optional = false;  // bind: skip quietly when the source is missing (bwrap's --bind-try)
  uint64_t size = 0;      // tmpfs: size in bytes (0 = kernel default)
  uint32_t mode = 0;      // tmpfs/mkdir/file/device: permissions (0 = default for the kind)
  uint32_t uid = 0, gid = 0;  // device: the node's owner (inside ids)
  // bind: an idmapped mount (mount_setattr MOUNT_ATTR_IDMAP): a file owned by `inside` on disk is
  // seen as owned by `outside` (host ids), as OCI's mount uidMappings (containerID, hostID, size);
  // recursive: the submounts too (OCI's ridmap)
  std::vector<IdMapEntry> uid_map, gid_map;
  bool idmap_recursive = false;
  // overlay: source is the lower (a host directory, never written), these its upper and work
  // directories (host paths, the upper keeps every change)
  std::string upper, work;
  bool operator==(const Op&) const = default;
};

// A resource limit for the payload: "RLIMIT_NOFILE", soft and hard (setrlimit).
struct Rlimit {
  std::string type;
  uint64_t soft = 0, hard = 0;
  bool operator==(const Rlimit&) const = default;
};

// A namespaced sysctl ("net.ipv4.ping_group_range" = "0 0"), written inside the sandbox.
struct Sysctl {
  std::string key, value;
  bool operator==(const Sysctl&) const = default;
};

// Clock offsets in a new time namespace, in seconds.
struct TimeOffsets {
  int64_t monotonic = 0, boottime = 0;
  bool operator==(const TimeOffsets&) const = default;
};

// The capability sets besides the bounding set (`caps`), as OCI's process.capabilities names them.
struct CapSets {
  std::vector<std::string> effective, permitted, inheritable, ambient;
  bool operator==(const CapSets&) const = default;
};

// A namespace joined instead of made: "ipc", "uts", "net", "pid", "cgroup", "mnt", "time" and a
// path (/proc/PID/ns/TYPE, /run/netns/NAME, a bind-mounted namespace file).
struct NsJoin {
  std::string type, path;
  bool operator==(const NsJoin&) const = default;
};

struct Spec {
  uint64_t namespaces = 0;  // CLONE_NEW* flags to create
  std::string rootfs;       // empty: the host's root, read-only
  bool rootfs_readonly = true;
  std::vector<Op> ops;  // in order, relative to the new root
  // Propagation of the new root's mounts after pivot_root: "" or "private" (sbx's own), "slave",
  // "shared" (a peer group of the sandbox's own: / was made private first), "unbindable".
  std::string root_propagation;
  std::vector<IdMapEntry> uid_map, gid_map;  // used when CLONE_NEWUSER is set
  bool deny_setgroups = true;
  std::string hostname;    // needs uts
  std::string domainname;  // the NIS domain name (setdomainname); needs uts
  std::string
      personality;  // the execution domain: "" (unchanged), "linux" or "linux32" (uname -m i686)
  std::string cwd = "/";
  std::vector<std::string> env;   // "KEY=VALUE", the whole environment of the payload
  std::vector<std::string> argv;  // argv[0] is searched in the sandbox's PATH when it has no '/'
  std::optional<uid_t> uid;       // inside ids for the payload (default: 0)
  std::optional<gid_t> gid;
  std::vector<uint32_t> groups;  // supplementary gids (default: none); needs setgroups allowed
  bool loopback_up = true;       // with net: "loopback" brings lo up, "none" leaves it down
  bool die_with_parent = true;
  // With a pid namespace: sbx's own PID 1 (sbx-init) runs the payload; false: the payload is PID 1
  // itself (an OCI container's process.args).
  bool init = true;
  std::vector<Rlimit> rlimits;    // set before the ids change (a raise needs CAP_SYS_RESOURCE)
  std::optional<uint32_t> umask;  // the payload's umask (default: inherited)
  std::vector<Sysctl> sysctl;  // net.* (needs net), kernel.shm*/msg*/sem, fs.mqueue.* (needs ipc)
  TimeOffsets time_offsets;    // needs time
  // An image root: overlay of `layers` (directories, top first) under an init layer (hosts,
  // hostname, resolv.conf: never committed) with `upper`/`work` (empty: a tmpfs, gone at exit).
  std::vector<std::string> layers;
  std::string upper, work;
  // Namespaces joined instead of made (not user: that would change the supervisor's own ids).
  std::vector<NsJoin> join;
  // On a host bridge (needs net): a veth, a leased address, NAT, published ports, /etc/hosts.
  std::optional<BridgeSpec> bridge;
  // Rootless networking (needs net): a user-mode stack (pasta, slirp4netns) outside the sandbox.
  std::optional<UserNetSpec> user_net;
  // Hardening, applied last before execve: capabilities kept (nullopt: unchanged), no_new_privs,
  // a seccomp policy (nullopt: none).
  std::optional<std::vector<std::string>> caps;
  // With caps: the other sets (nullopt: permitted = effective = caps, inheritable and ambient
  // empty). A set is cut to the bounding set; ambient needs permitted and inheritable too.
  std::optional<CapSets> cap_sets;
  // The payload's /proc/self/oom_score_adj (-1000..1000; lowering it needs CAP_SYS_RESOURCE).
  std::optional<int32_t> oom_score_adj;
  bool no_new_privs = false;
  std::optional<SeccompPolicy> seccomp;
  Limits limits;  // non-empty: the sandbox gets its own cgroup, made before it runs
  std::string
      cgroup_parent;  // where that group goes, relative to the hierarchy roots (made if missing)
  std::string
      cgroup_name;  // the group's own name (empty: sbx-PID-N; an OCI cgroupsPath's last part)
  bool operator==(const Spec&) const = default;
};

// A device op's node: "c 1:7", "b 8:0" ("u" is c, as in OCI) or "p" (a fifo).
struct DeviceNode {
  char type = 'c';  // c, b or p
  uint32_t major = 0, minor = 0;
};
Result<DeviceNode> parse_device_node(const std::string& text);

const char* op_kind_name(OpKind k);
// CLONE_NEW* of the namespaces the plan joins (Spec::join; unknown types left out).
uint64_t joined_namespaces(const Spec& s);
// "RLIMIT_NOFILE" -> RLIMIT_NOFILE (or nullopt)
std::optional<int> rlimit_number(std::string_view name);
// The namespace a sysctl key belongs to (CLONE_NEWNET, CLONE_NEWIPC), 0 when it is not namespaced
// (writing it would change the host: refused).
uint64_t sysctl_namespace(std::string_view key);
std::optional<OpKind> op_kind_from_name(std::string_view name);

// Checks a plan without running it: paths absolute, maps consistent with the namespaces asked,
// options that need a namespace have it. The error names the field and the value.
// need_argv = false checks a container's plan before any command is given.
Status validate(const Spec& spec, bool need_argv = true);
// The process part alone (argv, cwd, env, uid, gid): what a run adds to a validated plan.
Status validate_process(const Spec& spec, bool need_argv = true);

// "bind /srv/data on /data" - how a step is named in errors and in box:spec().
std::string describe(const Op& op);

}  // namespace sbx::core
