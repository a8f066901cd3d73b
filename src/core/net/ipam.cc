#include "core/net/ipam.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/base/trust.h"
#include "core/base/units.h"
#include "core/fs/mount.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/owner.h"

namespace sbx::core {

namespace {

std::string dotted(uint32_t a) {
  struct in_addr in {
    htonl(a)
  };
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &in, buf, sizeof buf);
  return buf;
}

struct LeaseFile {
  Fd fd;
  std::string path;
  struct Entry {
    pid_t owner;
    std::string name;
  };
  std::map<uint32_t, Entry> leases;  // address -> owner
};

Result<LeaseFile> open_locked(const std::string& state, const std::string& subnet) {
  auto net = parse_ipv4_subnet(subnet);
  if (!net) return net.error();
  std::string dir = state + "/ipam";
  if (auto d = trusted_dir(dir, 0755, "ipam directory"); !d) return d.error();
  std::string name = subnet;
  for (char& c : name)
    if (c == '/') c = '_';
  LeaseFile f;
  f.path = dir + "/" + name + ".leases";
  f.fd.reset(open(f.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!f.fd.ok() || flock(f.fd.get(), LOCK_EX) != 0) return sys_error("ipam: lock " + f.path);
  auto text = read_fd(f.fd.get(), "ipam: read " + f.path);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string addr, name;
    pid_t owner = 0;
    if (!(fields >> addr >> owner)) continue;
    fields >> name;
    struct in_addr a;
    if (inet_pton(AF_INET, addr.c_str(), &a) == 1) f.leases[ntohl(a.s_addr)] = {owner, name};
  }
  for (auto it = f.leases.begin(); it != f.leases.end();)  // leases of processes that are gone
    it = owner_alive(it->second.owner) ? std::next(it) : f.leases.erase(it);
  return f;
}

Status save(const LeaseFile& f) {
  std::ostringstream out;
  for (const auto& [a, e] : f.leases)
    out << dotted(a) << " " << e.owner << (e.name.empty() ? "" : " ") << e.name << "\n";
  std::string text = out.str();
  if (ftruncate(f.fd.get(), 0) != 0 ||
      pwrite(f.fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    return sys_error("ipam: write " + f.path);
  return {};
}

}  // namespace

Result<std::pair<uint32_t, int>> parse_ipv4_subnet(const std::string& subnet) {
  auto slash = subnet.find('/');
  struct in_addr a;
  if (slash == std::string::npos || inet_pton(AF_INET, subnet.substr(0, slash).c_str(), &a) != 1)
    return user_error("subnet '" + subnet + "': expected an IPv4 prefix like 10.88.0.0/16");
  auto length = parse_uint(std::string_view(subnet).substr(slash + 1), 30, "prefix length");
  if (!length || *length < 8)
    return user_error("subnet '" + subnet + "': prefix length must be 8..30");
  int prefix = static_cast<int>(*length);
  uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
  uint32_t net = ntohl(a.s_addr);
  if (net & ~mask) return user_error("subnet '" + subnet + "': host bits are set");
  return std::make_pair(net, prefix);
}

Result<Lease> ipam_allocate(const std::string& state, const std::string& subnet, pid_t owner,
                            const std::string& name, const std::string& want) {
  if (name.find_first_of(" \t\n") != std::string::npos)
    return user_error("ipam: name '" + name + "' has white space");
  auto parsed = parse_ipv4_subnet(subnet);
  if (!parsed) return parsed.error();
  auto [net, prefix] = *parsed;
  uint32_t size = 1u << (32 - prefix);
  uint32_t first = 2, last = size - 2;
  if (!want.empty()) {
    struct in_addr w;
    if (inet_pton(AF_INET, want.c_str(), &w) != 1)
      return user_error("ip '" + want + "': not an IPv4 address (e.g. 10.88.0.9)");
    uint32_t host = ntohl(w.s_addr) - net;
    if (host >= size || host < 2 || host == size - 1)
      return user_error("ip " + want + ": not a usable address of " + subnet +
                        " (.0, .1 and broadcast are reserved)");
    first = last = host;
  }
  auto f = open_locked(state, subnet);
  if (!f) return f.error();
  for (uint32_t host = first; host <= last; ++host) {
    uint32_t a = net + host;
    if (f->leases.count(a)) continue;
    f->leases[a] = {owner, name};
    if (auto s = save(*f); !s) return s.error();
    return Lease{dotted(a) + "/" + std::to_string(prefix), owner, name};
  }
  if (!want.empty())
    return Error{EADDRINUSE, "ip " + want + ": already leased to pid " +
                                 std::to_string(f->leases[net + first].owner) +
                                 " (leave ip unset to get a free address)"};
  return Error{ENOSPC, "ipam: no free address left in " + subnet};
}

Status ipam_release(const std::string& state, const std::string& subnet,
                    const std::string& address) {
  auto f = open_locked(state, subnet);
  if (!f) return f.error();
  struct in_addr a;
  std::string ip = address.substr(0, address.find('/'));
  if (inet_pton(AF_INET, ip.c_str(), &a) != 1)
    return user_error("ipam: '" + address + "' is not an IPv4 address");
  f->leases.erase(ntohl(a.s_addr));
  return save(*f);
}

Status ipam_prune(const std::string& state, const std::string& subnet) {
  auto f = open_locked(state, subnet);  // drops the leases of dead owners
  if (!f) return f.error();
  return save(*f);
}

Result<std::vector<Lease>> ipam_leases(const std::string& state, const std::string& subnet) {
  auto f = open_locked(state, subnet);
  if (!f) return f.error();
  auto [net, prefix] = *parse_ipv4_subnet(subnet);
  (void)net;
  std::vector<Lease> out;
  for (const auto& [a, e] : f->leases)
    out.push_back({dotted(a) + "/" + std::to_string(prefix), e.owner, e.name});
  return out;
}

}  // namespace sbx::core
