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
// After the uid change: inheritable and ambient cleared, permitted = effective = keep (what is
// left of it: a non-root payload has none).
Status set_caps(const std::vector<int>& keep);
// The names of a capability mask (e.g. CapEff from /proc/PID/status), for `sbx audit`.
std::vector<std::string> cap_names(uint64_t mask);

}  // namespace sbx::core
