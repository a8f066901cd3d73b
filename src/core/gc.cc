#include "gc.h"

#include "bridge.h"
#include "cgroup.h"
#include "image.h"
#include "owner.h"

namespace sbx::core {

std::vector<std::string> collect_leftovers() {
  std::vector<std::string> removed;
  for (auto& c : collect_stale_cgroups(detect_cgroups())) removed.push_back("cgroup " + c);
  if (auto net = bridge_gc())
    for (auto& n : *net) removed.push_back(n);
  for (auto& f : ImageStore().collect_stale()) removed.push_back(f);
  (void)forget_dead_owners();
  return removed;
}

}  // namespace sbx::core
