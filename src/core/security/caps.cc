#include "core/security/caps.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>

namespace sbx::core {

Result<std::vector<int>> cap_numbers(const std::vector<std::string>& names) {
  std::vector<int> out;
  for (const auto& n : names) {
    if (n == "all") {
      for (int c = 0; c < static_cast<int>(cap_max_bits()); ++c) out.push_back(c);
      continue;
    }
    std::string low = n;
    std::transform(low.begin(), low.end(), low.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (low.rfind("cap_", 0) != 0) low = "cap_" + low;
    cap_value_t v;
    if (cap_from_name(low.c_str(), &v) != 0)
      return user_error("caps: unknown capability '" + n +
                        "' (e.g. CAP_CHOWN, net_bind_service, or \"all\")");
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status drop_bounding(const std::vector<int>& keep) {
  int max = static_cast<int>(cap_max_bits());
  for (int c = 0; c < max; ++c)
    if (!std::binary_search(keep.begin(), keep.end(), c) && cap_drop_bound(c) != 0)
      return sys_error("drop capability " + std::to_string(c) + " from the bounding set");
  return {};
}

Status set_caps(const std::vector<int>& keep) {
  if (cap_reset_ambient() != 0 && errno != EINVAL)
    return sys_error("clear the ambient capabilities");
  cap_t caps = cap_get_proc();
  if (!caps) return sys_error("read the capabilities");
  std::vector<cap_value_t> values;
  for (int c : keep) {
    cap_flag_value_t have = CAP_CLEAR;
    cap_get_flag(caps, c, CAP_PERMITTED, &have);
    if (have == CAP_SET) values.push_back(c);
  }
  cap_clear(caps);
  if (!values.empty()) {
    cap_set_flag(caps, CAP_PERMITTED, static_cast<int>(values.size()), values.data(), CAP_SET);
    cap_set_flag(caps, CAP_EFFECTIVE, static_cast<int>(values.size()), values.data(), CAP_SET);
  }
  int rc = cap_set_proc(caps);
  cap_free(caps);
  if (rc != 0) return sys_error("set the capabilities");
  return {};
}

std::vector<std::string> cap_names(uint64_t mask) {
  std::vector<std::string> out;
  for (int c = 0; c < 64; ++c)
    if (mask & (1ULL << c)) {
      char* n = cap_to_name(c);
      out.push_back(n ? n : std::to_string(c));
      if (n) cap_free(n);
    }
  return out;
}

}  // namespace sbx::core
