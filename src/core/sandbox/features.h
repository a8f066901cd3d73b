// What this kernel and host offer, so recipes and tests skip with a reason instead of failing.
#pragma once
#include <string>
#include <vector>

namespace sbx::core {

struct Features {
  std::string cgroup;  // "2" (unified), "1" (legacy), "hybrid" (v1 controllers + cgroup2)
  std::vector<std::string> cgroup_controllers;  // usable ones (v1 mounts, or v2 subtree)
  bool userns = false;                          // a user namespace can be created by this process
  bool overlay = false;                         // overlayfs is known to the kernel
  bool seccomp = false;                         // seccomp filters (libseccomp API level >= 1)
  bool timens = false;                          // time namespaces
  bool cgroupns = false;
  bool clone3 = false;  // clone3 with pidfds
  bool root = false;    // running as uid 0
  std::string kernel;   // uname release
};

// Cheap (two sysctl reads, no fork): may this process create a user namespace? Used on the
// start-up path; detect_features() really tries.
bool userns_allowed();
// Why this caller cannot make user namespaces, naming the sysctl or AppArmor switch ("" if it can).
std::string userns_refusal();

// Probes once per call (cheap: a few stat/read calls and one short-lived user namespace).
Features detect_features();

}  // namespace sbx::core
