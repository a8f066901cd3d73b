// Addresses for sandboxes without a daemon: leases in <state>/ipam/<subnet>.leases, taken under
// an exclusive file lock, each held by a pid (a lease whose owner is gone - owner.h - is free
// again).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

struct Lease {
  std::string address;  // "10.88.0.2/16" (the subnet's prefix length)
  pid_t owner = 0;
  std::string name;  // the sandbox's host name, for /etc/hosts ("" if none)
};

// The next free address of `subnet` ("10.88.0.0/16"), or `want` ("10.88.0.9") when it is free;
// .0, .1 (the gateway) and the broadcast address are never handed out.
Result<Lease> ipam_allocate(const std::string& state_dir, const std::string& subnet, pid_t owner,
                            const std::string& name = "", const std::string& want = "");
Status ipam_release(const std::string& state_dir, const std::string& subnet,
                    const std::string& address);
// Rewrites the lease file without the leases of owners that are gone.
Status ipam_prune(const std::string& state_dir, const std::string& subnet);
// The leases whose owner is alive.
Result<std::vector<Lease>> ipam_leases(const std::string& state_dir, const std::string& subnet);

// "10.88.0.0/16" -> network, prefix; an error for anything else (IPv4 only here).
Result<std::pair<uint32_t, int>> parse_ipv4_subnet(const std::string& subnet);

}  // namespace sbx::core
