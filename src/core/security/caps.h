// Capabilities with Debian's libcap (linked: statically into the sbx binary, so the child needs
// nothing from the root it pivots into).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

// "CAP_CHOWN" or "chown" -> its number; "all" is every capability the kernel knows.
Result<std::vector<int>> cap_numbers(const std::vector<std::string>& names);
// In the child, while still root with all capabilities: the bounding set reduced to `keep`.
Status drop_bounding(const std::vector<int>& keep);
// The sets a payload ends with (numbers, sorted).
struct CapNumbers {
  std::vector<int> effective, permitted, inheritable, ambient;
};
// After the uid change: permitted, effective and inheritable as given (permitted and effective
// cut to what the process still permits: a non-root payload without PR_SET_KEEPCAPS has none),
// then each ambient capability raised (it must be permitted and inheritable).
Status set_caps(const CapNumbers& sets);
// The same with permitted = effective = keep, inheritable and ambient cleared.
Status set_caps(const std::vector<int>& keep);
// The names of a capability mask (e.g. CapEff from /proc/PID/status), for `sbx audit`.
std::vector<std::string> cap_names(uint64_t mask);

}  // namespace sbx::core
