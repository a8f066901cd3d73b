// A sandbox on a host bridge: the bridge (default sbx0) is made by the first sandbox that needs
// it and deleted with the last; each sandbox gets a veth pair (host end on the bridge, eth0
// inside), a leased address, a default route, /etc/hosts naming every sandbox on the bridge,
// outbound NAT and published ports (nftables table `ip sbx`). Everything is undone by release().
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

struct PortMap {
  std::string proto = "tcp";        // tcp or udp
  std::string host_ip = "0.0.0.0";  // 0.0.0.0: every local address of the host
  uint16_t host_port = 0;
  uint16_t port = 0;  // in the sandbox
  bool operator==(const PortMap&) const = default;
};

struct BridgeSpec {
  std::string bridge = "sbx0";
  std::string subnet;  // "" (the default): the bridge's own, else chosen (choose_subnet)
  std::string ip;      // wanted address ("" = the next free one)
  std::vector<PortMap> publish;
  bool nat = true;   // outbound masquerading (turns net.ipv4.ip_forward on while a bridge exists)
  std::string name;  // the name other sandboxes reach this one by (default: its hostname)
  std::string dns;   // the one nameserver of its /etc/resolv.conf ("": the host's resolvers)
  bool operator==(const BridgeSpec&) const = default;
};

// "8080:80", "127.0.0.1:8080:80", "8080:80/udp" (docker's -p), or an error naming the text.
Result<PortMap> parse_port_map(const std::string& text);
std::string format_port_map(const PortMap& p);

// A sandbox's resolv.conf: the host's resolvers, without those on its loopback.
std::string resolv_conf();

// The host's IPv4 routes that overlap `subnet` ("10.88.0.0/16 on cni-podman0"), sbx's own
// bridges left out; empty when none does.
std::vector<std::string> subnet_clashes(const std::string& subnet);
// The subnet a new bridge gets when none is asked for: the one chosen before (remembered in
// <runtime dir>/net/ipam/default-subnet) while no host route overlaps it, else the first
// of 10.199.0.0/16, 10.198.0.0/16 ... 10.100.0.0/16 that none does. Never podman's 10.88.0.0/16,
// docker's 172.17.0.0/16 or libvirt's 192.168.122.0/24, which their tools make later. `bridge`: an
// existing bridge of sbx's serves its own.
// (remember: the choice is written down for the next bridge; false for a question only, as
// sbx.net.subnet() asks)
Result<std::string> choose_subnet(const std::string& bridge, bool remember = true);

// The supervisor pid in "sbx<pid>-<n>", the host end of a sandbox's veth (and the name of its
// files under net_state_dir()); 0 for a name of another shape, -1 for one whose number is no pid.
pid_t link_owner(const std::string& name);

// Where leases, hosts files and per-sandbox files live: <runtime dir>/net (one per host, like
// the links themselves, and gone after a reboot with them).
std::string net_state_dir();

class BridgeAttachment {
 public:
  BridgeAttachment() = default;
  BridgeAttachment(BridgeAttachment&& o) noexcept;
  BridgeAttachment& operator=(BridgeAttachment&& o) noexcept;
  ~BridgeAttachment();

  // Before the clone: the bridge, a lease, port reservations, the hosts/hostname/resolv.conf
  // files. `files` receives (host path, path in the sandbox) pairs to bind read-only.
  static Result<BridgeAttachment> prepare(const BridgeSpec& spec, const std::string& hostname,
                                          std::vector<std::pair<std::string, std::string>>& files);
  // After the clone, before the child goes: the veth pair, eth0's address and route, the ports.
  Status connect(pid_t child);
  // Undoes everything (idempotent); the bridge and the nft table go with their last user.
  Status release();

  const std::string& address() const { return address_; }  // "10.88.0.2/16"
  const std::string& host_link() const { return host_link_; }
  const std::string& bridge() const { return spec_.bridge; }
  const std::vector<PortMap>& published() const { return spec_.publish; }

 private:
  BridgeSpec spec_;
  pid_t owner_ = -1;
  bool released_ = false;
  std::string address_, host_link_, dir_;
  std::vector<Fd> reservations_;
  std::vector<PortMap> added_;  // nft map elements this sandbox added
};

// Removes what killed sbx processes left: host veths, per-sandbox files, published ports of
// addresses nobody leases, bridges (and the nft table) nobody uses. Returns what it removed.
Result<std::vector<std::string>> bridge_gc();

// The bridges sbx made that exist now (for checks and `sbx gc`).
std::vector<std::string> sbx_bridges();

}  // namespace sbx::core
