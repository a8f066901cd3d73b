#include "core/sandbox/gc.h"

#include "core/cgroup/cgroup.h"
#include "core/image/image.h"
#include "core/net/bridge.h"
#include "core/net/usernet.h"
#include "core/sandbox/owner.h"

namespace sbx::core {

Result<std::vector<std::string>> collect_leftovers() {
  std::vector<std::string> removed;
  for (auto& c : collect_stale_cgroups(detect_cgroups())) removed.push_back("cgroup " + c);
  auto net = bridge_gc();
  if (net)
    for (auto& n : *net) removed.push_back(n);
  for (auto& f : ImageStore().collect_stale()) removed.push_back(f);
  for (auto& u : user_net_gc()) removed.push_back(u);
  (void)forget_dead_owners();
  if (!net) return net.error().context("gc: network");
  return removed;
}

}  // namespace sbx::core
