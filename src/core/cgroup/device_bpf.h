// Device access for a sandbox's cgroup. Rules are the v1 devices controller's ("c 1:3 rwm",
// "deny c 1:* w"), read in order into the state the kernel's v1 controller would be left in (a
// default and exceptions to it). v1 gets that state as devices.deny/devices.allow lines; cgroup v2
// has no devices files: the same state becomes an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
// attached to the group, so one list means the same thing on both.
#pragma once
#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

// BPF_DEVCG_ACC_* (the v1 controller's DEVCG_ACC_* are the same bits)
enum : unsigned { kDevMknod = 1, kDevRead = 2, kDevWrite = 4, kDevAll = 7 };

struct DeviceRule {
  bool allow = true;
  char type = 'a';                 // 'a' every device (and every access), 'c', 'b'
  int64_t major = -1, minor = -1;  // -1: '*'
  unsigned access = kDevAll;
  bool operator==(const DeviceRule&) const = default;
};

// "[allow|deny] TYPE MAJ:MIN ACCESS" (TYPE c, b or a; MAJ, MIN a number or *; ACCESS some of
// rwm), or "a" alone. The error quotes the rule and says what is wrong with it.
Result<DeviceRule> parse_device_rule(const std::string& text);
// "c 1:3 rwm" (without allow/deny).
std::string device_rule_text(const DeviceRule& r);

// What a list of rules leaves, starting from "every device denied": everything allowed or denied
// by default, and exceptions (type c or b, each allow == !default_allow, one per type:major:minor).
struct DevicePolicy {
  bool default_allow = false;
  std::vector<DeviceRule> exceptions;
  // The kernel's v1 check: with a deny default one exception must cover the whole access asked;
  // with an allow default an exception that shares any of it denies.
  bool allows(char type, uint32_t major, uint32_t minor, unsigned access) const;
};

// Reads `rules` in order as the v1 controller does. A rule that would punch a hole in an earlier
// wildcard rule (deny c 1:3 after allow c 1:*) is refused: v1 ignores it silently, which would
// leave more allowed than the list says (runc refuses it too).
Result<DevicePolicy> device_policy(const std::vector<std::string>& rules);

// The program for `policy`: its ctx is struct bpf_cgroup_dev_ctx, it returns 1 (allow) or 0.
std::vector<bpf_insn> device_program(const DevicePolicy& policy);

// BPF_PROG_LOAD of device_program(policy). A refusal by the verifier carries its log.
Result<Fd> load_device_program(const DevicePolicy& policy);

// Loads the program and attaches it to the cgroup v2 directory `dir` (BPF_CGROUP_DEVICE,
// BPF_F_ALLOW_MULTI: the programs of the groups above still apply). The program fd is closed
// here: the attachment holds the program, and removing the group releases both.
Status attach_device_program(const std::string& dir, const DevicePolicy& policy);

}  // namespace sbx::core
