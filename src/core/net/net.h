// Network links, addresses and routes over netlink (Debian's libnl-route-3, loaded on first use),
// each call run inside the network namespace of a process: sbx never touches the host's links
// unless asked for pid 0.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

struct LinkInfo {
  std::string name;
  int index = 0;
  bool up = false;
  unsigned mtu = 0;
};

// All of these act in the network namespace of `pid` (0: the caller's own).
Result<std::vector<LinkInfo>> net_links(pid_t pid);
Status net_set_up(pid_t pid, const std::string& ifname, bool up);
Status net_set_mtu(pid_t pid, const std::string& ifname, unsigned mtu);
// A veth pair: `name` in pid's namespace, `peer` moved to peer_pid's (0: stays with `name`).
Status net_add_veth(pid_t pid, const std::string& name, const std::string& peer, pid_t peer_pid);
Status net_delete_link(pid_t pid, const std::string& ifname);
// A bridge device, and a link attached to one (both in pid's namespace).
Status net_add_bridge(pid_t pid, const std::string& name);
Status net_attach(pid_t pid, const std::string& ifname, const std::string& bridge);
// "10.0.0.1/24" or "fd00::1/64".
Status net_add_address(pid_t pid, const std::string& ifname, const std::string& cidr);
// dst: "default" or a prefix; via: a gateway address ("" for on-link through ifname).
Status net_add_route(pid_t pid, const std::string& dst, const std::string& via,
                     const std::string& ifname);

// An fd of the network namespace of `pid` that keeps it alive: entered through a pidfd (a user may
// not open /proc/PID/ns/net of a sandbox's non-dumpable init, but may join a namespace its own
// user namespace owns) and opened from inside.
Result<Fd> netns_of(pid_t pid);
// Unprivileged: pid's user namespace, which must be entered before its network namespace
// (joining a network namespace needs CAP_SYS_ADMIN in one's own user namespace too). Both are
// opened by path: possible while the sandbox may be entered by its owner (before its payload).
Result<Fd> userns_of(pid_t pid);
// Unprivileged: a sandbox's user and network namespaces, opened by the spawn while its owner may
// still enter it (before it goes on) and kept until it is reaped; netns_of and userns_of of that
// pid hand out copies.
void remember_namespaces(pid_t pid);
void forget_namespaces(pid_t pid);
// Whether this process needs userns_of and in_namespaces to act in a sandbox's network namespace.
bool unprivileged_net();

// Runs fn in a child process that joined `userns` (when >= 0) and then `netns`; its text comes
// back, or its error, and the fd it leaves in its argument (passed over SCM_RIGHTS) into *fd_out.
Result<std::string> in_namespaces(int userns, int netns,
                                  const std::function<Result<std::string>(Fd&)>& fn,
                                  Fd* fd_out = nullptr);

// ip ("10.0.0.1" or "fd00::1") and port as a sockaddr; false when ip is no address.
bool make_sockaddr(const std::string& ip, int port, struct sockaddr_storage& ss, socklen_t& len);

// A UDP socket bound to ip:port in the network namespace of `pid` (0: the caller's own): it stays
// there whatever namespace its owner is in (a resolver for a sandbox, answered by its supervisor).
Result<Fd> udp_bind_in(pid_t pid, const std::string& ip, int port);

// Named network namespaces as iproute2 keeps them: an nsfs bind mount on /run/netns/NAME, so
// `ip netns list` and `ip netns exec NAME` see them. Only files under /run/netns are mounted on.
extern const char* const kNetnsDir;                         // "/run/netns"
Result<std::string> netns_create(const std::string& name);  // -> its path
Status netns_delete(const std::string& name);
Result<std::vector<std::string>> netns_list();

}  // namespace sbx::core
