// cgroups as sbx sees them: a directory per group (one per hierarchy on v1), limits are files,
// membership is cgroup.procs. One Cgroup type works on v2 (unified), v1 and hybrid hosts.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

// The host's cgroup layout. `v2_root` is the unified mount (or empty); `v1` maps a controller
// name (memory, cpu, cpuacct, cpuset, pids, blkio, freezer, devices) to its mount point. A
// controller is used from v2 when the unified root offers it, else from v1.
struct CgroupHost {
  std::string layout;  // "2", "1" or "hybrid"
  std::string v2_root;
  std::vector<std::string> v2_controllers;
  std::map<std::string, std::string> v1;

  bool on_v2(const std::string& controller) const;
  bool has(const std::string& controller) const;
};

// Reads /proc/self/mountinfo: the first cgroup2 mount, and each v1 controller's hierarchy.
CgroupHost detect_cgroups();

// An unprivileged caller's place for its sandboxes' groups: on cgroup v2, the parent of its own
// cgroup when that is delegated to it (the directory, cgroup.procs and cgroup.subtree_control
// writable: systemd's user@UID.service subtree, or a directory chown'ed to the user), relative to
// the v2 root. Else an error that says why and what to do.
Result<std::string> delegated_cgroup_parent(const CgroupHost& host);

// A cgroup v2 interface file written as it is (OCI's linux.resources.unified): "memory.high".
struct UnifiedFile {
  std::string file, value;
  bool operator==(const UnifiedFile&) const = default;
};

struct IoLimit {
  std::string device;                                 // "MAJ:MIN"
  uint64_t rbps = 0, wbps = 0, riops = 0, wiops = 0;  // 0 = no limit
  uint64_t weight = 0;  // 10..1000, this device's share of io time (BFQ's weight); 0 = none
  bool operator==(const IoLimit&) const = default;
};

// At most `limit` bytes of huge pages of one size ("2MB", "1GB": the kernel's names in the
// hugetlb files) for the group.
struct HugetlbLimit {
  std::string size;
  uint64_t limit = 0;
  bool operator==(const HugetlbLimit&) const = default;
};

// "No limit", written as max (v2) or -1 (v1): memory, memory_swap, memory_reservation, pids; a
// cpu of infinity is no quota. In a plan these are the string "max".
constexpr uint64_t kUnlimited = UINT64_MAX;

// Portable limits (docker's meaning). Each maps to a file on v1 and on v2.
struct Limits {
  std::optional<uint64_t> memory;              // bytes
  std::optional<uint64_t> memory_swap;         // bytes of memory + swap together (--memory-swap)
  std::optional<uint64_t> memory_reservation;  // bytes: a soft limit (v1) / protection (v2 low)
  std::optional<double> cpu;                   // cores: 0.5 = half of one core
  std::optional<uint64_t> cpu_period;          // microseconds of the cpu quota's period
  std::optional<uint64_t> cpu_burst;           // microseconds a quota may be exceeded by (burst)
  std::optional<uint64_t> cpu_idle;            // 1: the group runs at SCHED_IDLE priority
  std::optional<uint64_t> cpu_weight;          // 1..10000 (v2 scale; cpu.shares on v1)
  std::optional<uint64_t> cpu_shares;          // 2..262144 (v1 scale, OCI's; cpu.weight on v2)
  std::optional<uint64_t> memory_swappiness;   // 0..100 (v1 memory.swappiness; none on v2)
  bool oom_kill_disable = false;               // v1 memory.oom_control (none on v2)
  std::optional<uint64_t> cpu_rt_period;       // microseconds (v1 cpu.rt_period_us)
  std::optional<uint64_t> cpu_rt_runtime;      // microseconds of realtime in each period (v1)
  std::optional<std::string> cpuset;           // "0-1"
  std::optional<std::string> cpuset_mems;      // memory nodes, "0"
  std::optional<uint64_t> pids;
  std::vector<IoLimit> io;
  std::optional<uint64_t> io_weight;  // 10..1000, the group's share of io time (BFQ's weight)
  std::vector<HugetlbLimit> hugetlb;
  // Device rules in order from "every device denied" ("c 1:3 rwm", "deny c 1:9 w", "a"), read as
  // the v1 controller reads them (device_bpf.h): v1's devices files, or an eBPF program on v2.
  std::optional<std::vector<std::string>> devices;
  std::vector<UnifiedFile> unified;  // cgroup v2 only: files of the group written as given, last
  bool empty() const {
    return !memory && !memory_swap && !memory_reservation && !cpu && !cpu_period && !cpu_burst &&
           !cpu_idle && !cpu_weight && !cpu_shares && !memory_swappiness && !oom_kill_disable &&
           !cpu_rt_period && !cpu_rt_runtime && !cpuset && !cpuset_mems && !pids && io.empty() &&
           !io_weight && hugetlb.empty() && !devices && unified.empty();
  }
  bool operator==(const Limits&) const = default;
};

struct LimitFile {
  std::string controller;  // which hierarchy (v1) or "" for the v2 group
  std::string file;        // "memory.max", "cpu.cfs_quota_us", ...
  std::string value;
  // written instead when the group has no `file` (which of two a kernel offers: blkio.weight or
  // BFQ's blkio.bfq.weight; v2's io.bfq.weight or iocost's io.weight, on its own scale)
  std::string alt_file, alt_value;
};

// The files and values that enforce `limits` on this host, in the order to write them. An error
// names the controller the host lacks ("limit cpu: the cpu controller is not available ...").
Result<std::vector<LimitFile>> limit_files(const CgroupHost& host, const Limits& limits);

// The devices a container normally needs: null zero full random urandom tty console ptmx, pts.
const std::vector<std::string>& default_device_rules();

// cpu.weight (v2, 1..10000) -> cpu.shares (v1, 2..262144), the OCI runtimes' conversion.
uint64_t weight_to_shares(uint64_t weight);

struct CgroupStat {
  uint64_t memory_current = 0, memory_peak = 0;
  uint64_t cpu_usage_usec = 0;
  uint64_t pids_current = 0;
  uint64_t io_read_bytes = 0, io_write_bytes = 0;
  uint64_t oom_kills = 0;
};

struct CgroupEvents {
  uint64_t oom = 0, oom_kill = 0, pids_max = 0;
};

// The owner of a group: one that create() made is killed and removed when its Cgroup goes (by
// the process that made it only: a forked copy never removes it), unless release() handed it on.
// Movable, not copyable.
class Cgroup {
 public:
  // Creates `name` under `parent` (relative to each hierarchy's root; "" = the root) in every
  // hierarchy sbx uses, and writes `limits`. Fails, removing what it made, when a limit cannot
  // be enforced.
  static Result<Cgroup> create(const CgroupHost& host, const std::string& parent,
                               const std::string& name, const Limits& limits);
  // An existing group by path: "/sys/fs/cgroup/..." (one directory) or a path relative to the
  // hierarchy roots ("/machine.slice/x"), found in every hierarchy that has it. Never removed.
  static Result<Cgroup> open(const CgroupHost& host, const std::string& path);

  Cgroup() = default;
  Cgroup(Cgroup&& o) noexcept;
  Cgroup& operator=(Cgroup&& o) noexcept;  // removes the group this one owned first
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;
  ~Cgroup();

  const std::string& path() const { return rel_; }  // relative to the hierarchy roots
  // The directory for a controller ("" = the v2 group, or any v1 one).
  std::string dir(const std::string& controller = "") const;
  std::vector<std::string> dirs() const;
  // The absolute path of one of its files in the hierarchy that has the file's controller ("" when
  // none has it), and whether that controller is a cgroup v2 one here.
  std::string file_path(const std::string& file) const;
  bool on_v2(const std::string& controller) const { return host_.on_v2(controller); }

  Status set(const std::string& file, const std::string& value) const;
  // Writes the files of `limits` (limit_files) to this live group: all or none - a value the
  // kernel refuses is tried again after the others (v1 orders memory under memsw, rt runtime
  // within its period), and if it is still refused every file written is put back. Devices and
  // io rules cannot be changed this way (an error).
  Status apply(const Limits& limits) const;
  Result<std::string> get(const std::string& file) const;
  Status add(pid_t pid) const;
  Result<std::vector<pid_t>> procs() const;
  Result<CgroupStat> stat() const;
  Result<CgroupEvents> events() const;
  Status freeze() const;
  Status thaw() const;
  // Kills every process in the group, forks included (cgroup.kill, or freeze-kill-thaw rounds).
  Status kill() const;
  // Kills what is left and removes the directories (only groups this process created).
  Status remove();
  // Kills and removes the group whoever created it (an OCI delete of a group made by create).
  Status destroy();
  // Hands the group on: its directories outlive this object (their new owner, or `sbx gc` once
  // the pid in the name is gone, removes them).
  void release() { owned_ = false; }
  bool owned() const { return owned_; }

 private:
  friend std::vector<std::string> collect_stale_cgroups(const CgroupHost& host);
  CgroupHost host_;
  std::string rel_;
  std::map<std::string, std::string> dirs_;  // controller ("" for v2) -> directory
  bool owned_ = false;
  pid_t owner_ = -1;
};

// Groups sbx made whose supervisor is gone ("sbx-PID-N" with PID dead): killed and removed.
// Returns the paths removed.
std::vector<std::string> collect_stale_cgroups(const CgroupHost& host);

}  // namespace sbx::core
