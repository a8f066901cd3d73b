#include "core/net/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/base/dl.h"
#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/io.h"
#include "core/sandbox/ns.h"

namespace sbx::core {

namespace {

// (an X-macro list: clang-format does not settle on one layout for it)
// clang-format off
#define SBX_NL_FUNCTIONS(X) \
  X(nl_socket_alloc) \
  X(nl_socket_free) \
  X(nl_connect) \
  X(nl_geterror) \
  X(nl_addr_parse) \
  X(nl_addr_put) \
  X(nl_cache_get_first) \
  X(nl_cache_get_next) \
  X(nl_cache_free)
// clang-format on
// (an X-macro list: clang-format does not settle on one layout for it)
// clang-format off
#define SBX_RTNL_FUNCTIONS(X) \
  X(rtnl_link_veth_alloc) \
  X(rtnl_link_veth_get_peer) \
  X(rtnl_link_set_name) \
  X(rtnl_link_set_ns_pid) \
  X(rtnl_link_add) \
  X(rtnl_link_put) \
  X(rtnl_link_get_kernel) \
  X(rtnl_link_alloc) \
  X(rtnl_link_set_flags) \
  X(rtnl_link_unset_flags) \
  X(rtnl_link_set_mtu) \
  X(rtnl_link_change) \
  X(rtnl_link_get_ifindex) \
  X(rtnl_link_get_flags) \
  X(rtnl_link_get_mtu) \
  X(rtnl_link_get_name) \
  X(rtnl_link_alloc_cache) \
  X(rtnl_link_delete) \
  X(rtnl_addr_alloc) \
  X(rtnl_addr_set_ifindex) \
  X(rtnl_addr_set_local) \
  X(rtnl_addr_add) \
  X(rtnl_addr_put) \
  X(rtnl_route_alloc) \
  X(rtnl_route_set_dst) \
  X(rtnl_route_nh_alloc) \
  X(rtnl_route_nh_set_gateway) \
  X(rtnl_route_nh_set_ifindex) \
  X(rtnl_route_add_nexthop) \
  X(rtnl_route_add) \
  X(rtnl_route_put) \
  X(rtnl_route_set_family) \
  X(rtnl_link_bridge_alloc) \
  X(rtnl_link_enslave_ifindex)
// clang-format on

struct NlApi {
  SBX_NL_FUNCTIONS(SBX_DL_DECLARE)
  SBX_RTNL_FUNCTIONS(SBX_DL_DECLARE)
};

Result<const NlApi*> nl_api() {
  return dl_once<NlApi>([](NlApi& api, std::string& error) {
    void* nl = dl_open("libnl-3.so.200", RTLD_NOW | RTLD_GLOBAL, "libnl-3", "libnl-3-200", error);
    void* rt = nl ? dl_open("libnl-route-3.so.200", RTLD_NOW | RTLD_LOCAL, "libnl-route-3",
                            "libnl-route-3-200", error)
                  : nullptr;
    if (rt) {
#define SBX_LOAD_NL(name) dl_sym(nl, api.name, #name, "libnl-3", error);
#define SBX_LOAD_RT(name) dl_sym(rt, api.name, #name, "libnl-route-3", error);
      SBX_NL_FUNCTIONS(SBX_LOAD_NL)
      SBX_RTNL_FUNCTIONS(SBX_LOAD_RT)
#undef SBX_LOAD_NL
#undef SBX_LOAD_RT
    }
  });
}

// For the life of the object: this thread is in pid's network namespace, with a netlink socket
// made there (a socket belongs to the namespace it was created in).
class InNetns {
 public:
  InNetns(const NlApi* a, pid_t pid) : a_(a) {
    if (pid != 0) {
      home_.reset(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
      std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
      Fd target(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!home_.ok() || !target.ok() || setns(target.get(), CLONE_NEWNET) != 0) {
        error_ = sys_error("enter the network namespace of pid " + std::to_string(pid));
        home_.reset();
        return;
      }
    }
    sock_ = a_->nl_socket_alloc();
    if (!sock_ || a_->nl_connect(sock_, NETLINK_ROUTE) != 0)
      error_ = Error{EIO, "netlink: cannot connect"};
  }
  ~InNetns() {
    if (sock_) a_->nl_socket_free(sock_);
    if (home_.ok()) (void)setns(home_.get(), CLONE_NEWNET);  // back home (cannot fail for our own)
  }
  const Status& status() const { return error_; }
  struct nl_sock* sock() const {
    return sock_;
  }

 private:
  const NlApi* a_;
  Fd home_;
  struct nl_sock* sock_ = nullptr;
  Status error_;
};

Error nl_error(const NlApi* a, int err, const std::string& what) {
  return Error{EIO, what + ": " + a->nl_geterror(err)};
}

// Runs fn(api, sock) inside pid's network namespace.
template <class F>
Status in_netns(pid_t pid, const std::string& what, F fn) {
  auto a = nl_api();
  if (!a) return a.error().context(what);
  InNetns ns(*a, pid);
  if (!ns.status()) return ns.status().error().context(what);
  return fn(*a, ns.sock());
}

// The link named `ifname`, or an error naming it.
Result<struct rtnl_link*> get_link(const NlApi* a, struct nl_sock* s, const std::string& ifname) {
  struct rtnl_link* link = nullptr;
  int err = a->rtnl_link_get_kernel(s, 0, ifname.c_str(), &link);
  if (err < 0) return Error{ENODEV, "link " + ifname + ": " + a->nl_geterror(err)};
  return link;
}

}  // namespace

Result<std::vector<LinkInfo>> net_links(pid_t pid) {
  std::vector<LinkInfo> out;
  Status s = in_netns(pid, "list links", [&](const NlApi* a, struct nl_sock* sock) -> Status {
    struct nl_cache* cache = nullptr;
    int err = a->rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache);
    if (err < 0) return nl_error(a, err, "list links");
    for (auto* o = a->nl_cache_get_first(cache); o; o = a->nl_cache_get_next(o)) {
      auto* l = reinterpret_cast<struct rtnl_link*>(o);
      const char* name = a->rtnl_link_get_name(l);
      out.push_back({name ? name : "", a->rtnl_link_get_ifindex(l),
                     (a->rtnl_link_get_flags(l) & IFF_UP) != 0, a->rtnl_link_get_mtu(l)});
    }
    a->nl_cache_free(cache);
    return {};
  });
  if (!s) return s.error();
  return out;
}

namespace {
Status change_link(pid_t pid, const std::string& ifname, const std::string& what,
                   void (*edit)(const NlApi*, struct rtnl_link*, unsigned), unsigned value) {
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    auto link = get_link(a, sock, ifname);
    if (!link) return link.error().context(what);
    struct rtnl_link* change = a->rtnl_link_alloc();
    edit(a, change, value);
    int err = a->rtnl_link_change(sock, *link, change, 0);
    a->rtnl_link_put(change);
    a->rtnl_link_put(*link);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}
}  // namespace

Status net_set_up(pid_t pid, const std::string& ifname, bool up) {
  return change_link(
      pid, ifname, std::string("set ") + ifname + (up ? " up" : " down"),
      [](const NlApi* a, struct rtnl_link* l, unsigned v) {
        if (v)
          a->rtnl_link_set_flags(l, IFF_UP);
        else
          a->rtnl_link_unset_flags(l, IFF_UP);
      },
      up ? 1u : 0u);
}

Status net_set_mtu(pid_t pid, const std::string& ifname, unsigned mtu) {
  if (mtu < 68 || mtu > 65535)
    return user_error("mtu " + std::to_string(mtu) + ": expected 68..65535");
  return change_link(
      pid, ifname, "set mtu " + std::to_string(mtu) + " on " + ifname,
      [](const NlApi* a, struct rtnl_link* l, unsigned v) { a->rtnl_link_set_mtu(l, v); }, mtu);
}

Status net_add_veth(pid_t pid, const std::string& name, const std::string& peer, pid_t peer_pid) {
  for (const auto& n : {name, peer})
    if (n.empty() || n.size() >= IFNAMSIZ || n.find_first_of("/ :") != std::string::npos)
      return user_error("veth: bad interface name '" + n +
                        "' (1-15 characters, no '/', ':' or space)");
  std::string what = "create veth " + name + " <-> " + peer;
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    struct rtnl_link* link = a->rtnl_link_veth_alloc();
    if (!link) return Error{ENOMEM, what};
    struct rtnl_link* p = a->rtnl_link_veth_get_peer(link);
    a->rtnl_link_set_name(link, name.c_str());
    a->rtnl_link_set_name(p, peer.c_str());
    if (peer_pid) a->rtnl_link_set_ns_pid(p, peer_pid);
    int err = a->rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL);
    a->rtnl_link_put(p);
    a->rtnl_link_put(link);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}

Status net_add_bridge(pid_t pid, const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find_first_of("/ :") != std::string::npos)
    return user_error("bridge: bad interface name '" + name + "'");
  std::string what = "create bridge " + name;
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    struct rtnl_link* link = a->rtnl_link_bridge_alloc();
    if (!link) return Error{ENOMEM, what};
    a->rtnl_link_set_name(link, name.c_str());
    int err = a->rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL);
    a->rtnl_link_put(link);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}

Status net_attach(pid_t pid, const std::string& ifname, const std::string& bridge) {
  std::string what = "attach " + ifname + " to bridge " + bridge;
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    auto br = get_link(a, sock, bridge);
    if (!br) return br.error().context(what);
    auto link = get_link(a, sock, ifname);
    if (!link) {
      a->rtnl_link_put(*br);
      return link.error().context(what);
    }
    int err = a->rtnl_link_enslave_ifindex(sock, a->rtnl_link_get_ifindex(*br),
                                           a->rtnl_link_get_ifindex(*link));
    a->rtnl_link_put(*br);
    a->rtnl_link_put(*link);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}

Status net_delete_link(pid_t pid, const std::string& ifname) {
  std::string what = "delete link " + ifname;
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    auto link = get_link(a, sock, ifname);
    if (!link) return link.error().context(what);
    int err = a->rtnl_link_delete(sock, *link);
    a->rtnl_link_put(*link);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}

Status net_add_address(pid_t pid, const std::string& ifname, const std::string& cidr) {
  std::string what = "add address " + cidr + " to " + ifname;
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    auto link = get_link(a, sock, ifname);
    if (!link) return link.error().context(what);
    int index = a->rtnl_link_get_ifindex(*link);
    a->rtnl_link_put(*link);
    struct nl_addr* local = nullptr;
    if (cidr.find('/') == std::string::npos ||
        a->nl_addr_parse(cidr.c_str(), AF_UNSPEC, &local) < 0)
      return user_error(what + ": not an address with a prefix length (e.g. 10.0.0.1/24)");
    struct rtnl_addr* addr = a->rtnl_addr_alloc();
    a->rtnl_addr_set_ifindex(addr, index);
    a->rtnl_addr_set_local(addr, local);
    int err = a->rtnl_addr_add(sock, addr, 0);
    a->rtnl_addr_put(addr);
    a->nl_addr_put(local);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}

Status net_add_route(pid_t pid, const std::string& dst, const std::string& via,
                     const std::string& ifname) {
  std::string what = "add route " + dst + (via.empty() ? "" : " via " + via) +
                     (ifname.empty() ? "" : " dev " + ifname);
  return in_netns(pid, what, [&](const NlApi* a, struct nl_sock* sock) -> Status {
    struct nl_addr* gw = nullptr;
    if (!via.empty() && a->nl_addr_parse(via.c_str(), AF_UNSPEC, &gw) < 0)
      return user_error(what + ": bad gateway");
    bool v6 = via.find(':') != std::string::npos || dst.find(':') != std::string::npos;
    std::string d = dst == "default" ? (v6 ? "::/0" : "0.0.0.0/0") : dst;
    struct nl_addr* to = nullptr;
    if (a->nl_addr_parse(d.c_str(), v6 ? AF_INET6 : AF_INET, &to) < 0) {
      if (gw) a->nl_addr_put(gw);
      return user_error(what + ": bad destination");
    }
    int index = 0;
    if (!ifname.empty()) {
      auto link = get_link(a, sock, ifname);
      if (!link) {
        a->nl_addr_put(to);
        if (gw) a->nl_addr_put(gw);
        return link.error().context(what);
      }
      index = a->rtnl_link_get_ifindex(*link);
      a->rtnl_link_put(*link);
    }
    struct rtnl_route* route = a->rtnl_route_alloc();
    a->rtnl_route_set_family(route, v6 ? AF_INET6 : AF_INET);
    a->rtnl_route_set_dst(route, to);
    struct rtnl_nexthop* nh = a->rtnl_route_nh_alloc();
    if (gw) a->rtnl_route_nh_set_gateway(nh, gw);
    if (index) a->rtnl_route_nh_set_ifindex(nh, index);
    a->rtnl_route_add_nexthop(route, nh);
    int err = a->rtnl_route_add(sock, route, NLM_F_CREATE);
    a->rtnl_route_put(route);
    a->nl_addr_put(to);
    if (gw) a->nl_addr_put(gw);
    if (err < 0) return nl_error(a, err, what);
    return {};
  });
}

const char* const kNetnsDir = "/run/netns";

namespace {
Status check_netns_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == ".." ||
      name.find_first_of("/ \t\n") != std::string::npos)
    return user_error("netns '" + name +
                      "': not a usable name (1-64 characters, no '/' or spaces)");
  return {};
}
}  // namespace

Result<std::string> netns_create(const std::string& name) {
  if (auto s = check_netns_name(name); !s) return s.error();
  std::string path = std::string(kNetnsDir) + "/" + name, step = "create netns " + name;
  if (mkdir(kNetnsDir, 0755) != 0 && errno != EEXIST)
    return sys_error(step + ": mkdir " + kNetnsDir);
  // As `ip netns add` does: /run/netns a shared mount (bound on itself the first time), so that
  // the namespaces show in every mount namespace and `ip netns delete` can unmount them.
  for (bool bound = false; mount("", kNetnsDir, nullptr, MS_SHARED | MS_REC, nullptr) != 0;
       bound = true) {
    if (errno != EINVAL || bound) return sys_error(step + ": make " + kNetnsDir + " shared");
    if (mount(kNetnsDir, kNetnsDir, nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return sys_error(step + ": bind " + kNetnsDir + " on itself");
  }
  Fd file(open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
  if (!file.ok()) {
    if (errno == EEXIST)
      return Error{EEXIST, step + ": " + path + " exists (sbx.net.destroy(\"" + name +
                               "\") or ip netns delete " + name + ")"};
    return sys_error(step + ": create " + path);
  }
  file.reset();
  // The calling thread makes the namespace, pins it with the bind mount, and goes home.
  Fd home(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  Status result;
  if (!home.ok() || unshare(CLONE_NEWNET) != 0) {
    result = sys_error(step + ": unshare");
  } else {
    if (mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0)
      result = sys_error(step + ": bind on " + path);
    if (setns(home.get(), CLONE_NEWNET) != 0 && result)
      result = sys_error(step + ": return to the original namespace");
  }
  if (!result) {
    unlink(path.c_str());
    return result.error();
  }
  return path;
}

Status netns_delete(const std::string& name) {
  if (auto s = check_netns_name(name); !s) return s;
  std::string path = std::string(kNetnsDir) + "/" + name, step = "delete netns " + name;
  struct statfs fs;
  if (statfs(path.c_str(), &fs) != 0) return sys_error(step);
  if (fs.f_type != NSFS_MAGIC)
    return Error{EINVAL, step + ": " + path + " is not a network namespace mount (left alone)"};
  if (umount2(path.c_str(), MNT_DETACH) != 0) return sys_error(step + ": unmount " + path);
  if (unlink(path.c_str()) != 0) return sys_error(step + ": remove " + path);
  return {};
}

Result<std::vector<std::string>> netns_list() {
  std::vector<std::string> out;
  Dir d(opendir(kNetnsDir));
  if (!d) {
    if (errno == ENOENT) return out;
    return sys_error(std::string("list ") + kNetnsDir);
  }
  while (auto* e = readdir(d.get()))
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  d.reset();
  std::sort(out.begin(), out.end());
  return out;
}

bool make_sockaddr(const std::string& ip, int port, struct sockaddr_storage& ss, socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  if (ip.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<struct sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
    return inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<struct sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(static_cast<uint16_t>(port));
  len = sizeof *a;
  return inet_pton(AF_INET, ip.c_str(), &a->sin_addr) == 1;
}

// Not root, or root without CAP_SYS_ADMIN (a container's root): a sandbox's network namespace is
// entered with its user namespace then.
bool unprivileged_net() {
  static const bool answer = [] {
    if (geteuid() != 0) return true;
    auto status = read_file("/proc/self/status");
    size_t at = status ? status->find("CapEff:") : std::string::npos;
    if (at == std::string::npos) return false;
    unsigned long long eff = std::strtoull(status->c_str() + at + 7, nullptr, 16);
    return !(eff & (1ULL << 21));  // CAP_SYS_ADMIN
  }();
  return answer;
}

namespace {
struct KeptNamespaces {
  Fd user, net;
};
std::map<pid_t, KeptNamespaces>& kept_namespaces() {
  static std::map<pid_t, KeptNamespaces> kept;
  return kept;
}
// pid's namespace `type` ("user", "net"): a copy of the one kept for it, else opened by path
Result<Fd> namespace_by_path(pid_t pid, const char* type) {
  auto it = kept_namespaces().find(pid);
  if (it != kept_namespaces().end()) {
    const Fd& f = std::string(type) == "user" ? it->second.user : it->second.net;
    if (f.ok()) return Fd(fcntl(f.get(), F_DUPFD_CLOEXEC, 3));
  }
  Fd ns(open(("/proc/" + std::to_string(pid) + "/ns/" + type).c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.ok())
    return sys_error(std::string("open the ") + (std::string(type) == "net" ? "network" : type) +
                     " namespace of pid " + std::to_string(pid));
  return ns;
}
}  // namespace

void remember_namespaces(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/ns/";
  KeptNamespaces k{Fd(open((dir + "user").c_str(), O_RDONLY | O_CLOEXEC)),
                   Fd(open((dir + "net").c_str(), O_RDONLY | O_CLOEXEC))};
  kept_namespaces()[pid] = std::move(k);
}

void forget_namespaces(pid_t pid) {
  kept_namespaces().erase(pid);
}

Result<Fd> userns_of(pid_t pid) {
  return namespace_by_path(pid, "user");
}

Result<Fd> netns_of(pid_t pid) {
  std::string what = "the network namespace of pid " + std::to_string(pid);
  if (unprivileged_net()) return namespace_by_path(pid, "net");  // (entered with its user ns)
  Fd home(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd pidfd(sys_pidfd_open(pid, 0));
  if (!home.ok() || !pidfd.ok()) return sys_error(what);
  if (setns(pidfd.get(), CLONE_NEWNET) != 0) return sys_error("enter " + what);
  Fd ns(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  Error e = ns.ok() ? Error{} : sys_error("open " + what);
  (void)setns(home.get(), CLONE_NEWNET);  // back home (cannot fail for our own)
  if (!ns.ok()) return e;
  return ns;
}

Result<std::string> in_namespaces(int userns, int netns,
                                  const std::function<Result<std::string>(Fd&)>& fn, Fd* fd_out) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return sys_error("a helper in the sandbox's namespaces: socketpair");
  Fd mine(sv[0]), theirs(sv[1]);
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t pid = fork();
  if (pid < 0) return sys_error("a helper in the sandbox's namespaces: fork");
  if (pid == 0) {
    mine.release();
    Fd out;
    Result<std::string> r = Error{EINVAL, ""};
    if (userns >= 0 && setns(userns, CLONE_NEWUSER) != 0)
      r = sys_error("enter the sandbox's user namespace");
    else if (setns(netns, CLONE_NEWNET) != 0)
      r = sys_error("enter the sandbox's network namespace");
    else
      r = fn(out);
    // header: 'O' or 'E', errno, length; then the text; the fd rides on the header
    std::string text = r ? *r : r.error().message;
    int32_t err = r ? 0 : r.error().err;
    uint32_t len = static_cast<uint32_t>(text.size());
    char head[9];
    head[0] = r ? 'O' : 'E';
    std::memcpy(head + 1, &err, 4);
    std::memcpy(head + 5, &len, 4);
    bool sent = out.ok() ? send_with_fd(theirs.get(), std::string_view(head, 9), out.get())
                         : write(theirs.get(), head, 9) == 9;
    if (!sent) _exit(1);
    size_t at = 0;
    while (at < text.size()) {
      ssize_t n = write(theirs.get(), text.data() + at, text.size() - at);
      if (n <= 0) _exit(1);
      at += static_cast<size_t>(n);
    }
    _exit(0);
  }
  theirs.reset();
  char head[9];
  int fd = -1;
  ssize_t n = recv_with_fd(mine.get(), head, sizeof head, &fd);
  Fd passed(fd);
  auto rest = n == 9 ? read_fd(mine.get(), "the helper's answer") : Result<std::string>{""};
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (n != 9 || !rest)
    return Error{EIO, "a helper in the sandbox's namespaces ended without an answer"};
  int32_t err;
  std::memcpy(&err, head + 1, 4);
  if (head[0] != 'O') return Error{err ? err : EIO, *rest};
  if (fd_out) *fd_out = std::move(passed);
  return *rest;
}

Result<Fd> udp_bind_in(pid_t pid, const std::string& ip, int port) {
  std::string what = "udp socket on " + ip + ":" + std::to_string(port);
  if (pid != 0 && unprivileged_net()) {
    auto user = userns_of(pid);
    if (!user) return user.error().context(what);
    auto net = namespace_by_path(pid, "net");
    if (!net) return net.error().context(what);
    Fd s;
    auto r = in_namespaces(
        user->get(), net->get(),
        [&](Fd& out) -> Result<std::string> {
          auto b = udp_bind_in(0, ip, port);
          if (!b) return b.error();
          out = std::move(*b);
          return std::string();
        },
        &s);
    if (!r) return r.error().context(what);
    if (!s.ok()) return Error{EIO, what + ": no socket came back"};
    return s;
  }
  Fd home, target;
  if (pid != 0) {
    auto ns = netns_of(pid);
    if (!ns) return ns.error().context(what);
    target = std::move(*ns);
    home.reset(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!home.ok() || setns(target.get(), CLONE_NEWNET) != 0)
      return sys_error(what + ": enter the network namespace of pid " + std::to_string(pid));
  }
  struct sockaddr_storage ss;
  socklen_t len = 0;
  Status st;
  if (!make_sockaddr(ip, port, ss, len)) st = user_error(what + ": not an address");
  Fd s;
  if (st) s.reset(socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (st && !s.ok()) st = sys_error(what);
  if (st && bind(s.get(), reinterpret_cast<struct sockaddr*>(&ss), len) != 0) st = sys_error(what);
  if (home.ok()) (void)setns(home.get(), CLONE_NEWNET);
  if (!st) return st.error();
  return s;
}

}  // namespace sbx::core
