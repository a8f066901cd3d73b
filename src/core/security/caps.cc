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

Status set_caps(const CapNumbers& sets) {
  if (cap_reset_ambient() != 0 && errno != EINVAL)
    return sys_error("clear the ambient capabilities");
  cap_t caps = cap_get_proc();
  if (!caps) return sys_error("read the capabilities");
  auto held = [&](int c) {
    cap_flag_value_t have = CAP_CLEAR;
    cap_get_flag(caps, c, CAP_PERMITTED, &have);
    return have == CAP_SET;
  };
  std::vector<cap_value_t> permitted, effective;
  for (int c : sets.permitted)
    if (held(c)) permitted.push_back(c);
  for (int c : sets.effective)
    if (std::find(permitted.begin(), permitted.end(), c) != permitted.end()) effective.push_back(c);
  std::vector<cap_value_t> inheritable(sets.inheritable.begin(), sets.inheritable.end());
  cap_clear(caps);
  auto put = [&](cap_flag_t flag, std::vector<cap_value_t>& v) {
    if (!v.empty()) cap_set_flag(caps, flag, static_cast<int>(v.size()), v.data(), CAP_SET);
  };
  put(CAP_PERMITTED, permitted);
  put(CAP_EFFECTIVE, effective);
  put(CAP_INHERITABLE, inheritable);
  int rc = cap_set_proc(caps);
  cap_free(caps);
  if (rc != 0) return sys_error("set the capabilities");
  for (int c : sets.ambient)
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
      return sys_error("raise ambient capability " + std::to_string(c) +
                       " (it must be permitted and inheritable)");
  return {};
}

Status set_caps(const std::vector<int>& keep) {
  return set_caps(CapNumbers{keep, keep, {}, {}});
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
