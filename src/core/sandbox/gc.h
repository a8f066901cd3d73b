// `sbx gc`: everything dead owners left on the host (see owner.h), in one place.
#pragma once
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

// Removes cgroups, veths, published ports, leases, network files, bridges nobody uses, store
// scratch and half-made drafts whose owner is gone, then their owner records; returns what went.
// A network step that could not be done (the lock, nftables) is the error; the rest is done anyway.
Result<std::vector<std::string>> collect_leftovers();

}  // namespace sbx::core
