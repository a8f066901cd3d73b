#include "core/net/bridge.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/fault.h"
#include "core/base/handle.h"
#include "core/base/io.h"
#include "core/base/json.h"
#include "core/base/trust.h"
#include "core/base/units.h"
#include "core/fs/mount.h"
#include "core/net/ipam.h"
#include "core/net/net.h"
#include "core/net/nft.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/owner.h"

namespace sbx::core {

namespace {

// The whole of sbx's nftables state. Per-sandbox entries are map elements, so adding and
// removing one never needs a rule handle.
const char* const kTable = R"(table ip sbx {
  set bridges { type ifname; }
  set subnets { type ipv4_addr; flags interval; }
  map publish { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service; }
  map publish_any { type inet_proto . inet_service : ipv4_addr . inet_service; }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    dnat ip to meta l4proto . ip daddr . th dport map @publish;
    fib daddr type local dnat ip to meta l4proto . th dport map @publish_any; }
  chain output { type nat hook output priority -100; policy accept;
    dnat ip to meta l4proto . ip daddr . th dport map @publish;
    fib daddr type local dnat ip to meta l4proto . th dport map @publish_any; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname @bridges ip saddr 127.0.0.0/8 masquerade;
    ip saddr @subnets oifname != @bridges masquerade; }
  chain guard { type filter hook prerouting priority raw; policy accept;
    iifname @bridges ip daddr 127.0.0.0/8 drop; }
}
)";

// Serialises bridge creation and removal, leases and the hosts files between sbx processes.
class NetLock {
 public:
  Status acquire() {
    std::string dir = net_state_dir();
    if (auto s = checked_runtime_dir(); !s) return s;
    if (auto d = trusted_dir(dir, 0755, "network state directory"); !d) return d.error();
    if (auto d = trusted_dir(dir + "/bridges", 0755, "network state directory"); !d)
      return d.error();
    fd_.reset(open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd_.ok() || flock(fd_.get(), LOCK_EX) != 0) return sys_error("lock " + dir + "/lock");
    return {};
  }

 private:
  Fd fd_;
};

// The file's text, "" when it cannot be read (a record that is not there yet).
std::string read_text(const std::string& path) {
  auto text = read_file(path);
  return text ? *text : "";
}

std::string ip_of(const std::string& cidr) {
  return cidr.substr(0, cidr.find('/'));
}

std::string gateway_of(const std::string& subnet, int* prefix_out = nullptr) {
  auto p = parse_ipv4_subnet(subnet);
  if (!p) return "";
  if (prefix_out) *prefix_out = p->second;
  struct in_addr a {
    htonl(p->first + 1)
  };
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

bool link_exists(const std::string& name) {
  return access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
}

std::string hosts_path(const std::string& bridge) {
  return net_state_dir() + "/" + bridge + ".hosts";
}

// Rewritten in place (the sandboxes bind this very inode): the new text first, then the length.
Status write_hosts(const std::string& bridge, const std::string& subnet) {
  auto leases = ipam_leases(net_state_dir(), subnet);
  if (!leases) return leases.error();
  std::string text = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
                     gateway_of(subnet) + "\thost.sbx.internal\n";
  for (const auto& l : *leases)
    if (!l.name.empty()) text += ip_of(l.address) + "\t" + l.name + "\n";
  std::string path = hosts_path(bridge);
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.ok() ||
      pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0)
    return sys_error("write " + path);
  return {};
}

}  // namespace

// The host's resolvers, without those on its loopback (unreachable from a sandbox's netns).
std::string resolv_conf() {
  std::istringstream in(read_text("/etc/resolv.conf"));
  std::string line, out, dropped;
  bool any = false;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string key, value;
    f >> key >> value;
    if (key == "nameserver") {
      if (value.rfind("127.", 0) == 0 || value == "::1") {
        dropped += " " + value;
        continue;
      }
      any = true;
      out += line + "\n";
    } else if (key == "search" || key == "options" || key == "domain") {
      out += line + "\n";
    }
  }
  if (!any)
    out += "# no nameserver: the host's (" +
           (dropped.empty() ? std::string("none") : dropped.substr(1)) +
           ") is not reachable from a sandbox\n";
  return out;
}

namespace {
std::string bridge_subnet(const std::string& bridge);
}  // namespace

std::vector<std::string> subnet_clashes(const std::string& subnet) {
  std::vector<std::string> out;
  auto want = parse_ipv4_subnet(subnet);
  if (!want) return out;
  uint32_t net = want->first;
  int plen = want->second;
  // /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex, host order)
  std::istringstream in(read_text("/proc/net/route"));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dst_hex, gw_hex, flags, refcnt, use, metric, mask_hex;
    if (!(f >> iface >> dst_hex >> gw_hex >> flags >> refcnt >> use >> metric >> mask_hex))
      continue;
    uint32_t dst = ntohl(static_cast<uint32_t>(std::stoul(dst_hex, nullptr, 16)));
    uint32_t mask = ntohl(static_cast<uint32_t>(std::stoul(mask_hex, nullptr, 16)));
    if (mask == 0) continue;  // the default route
    if (access((net_state_dir() + "/bridges/" + iface).c_str(), F_OK) == 0) continue;  // ours
    uint32_t want_mask = plen == 0 ? 0 : ~uint32_t{0} << (32 - plen);
    uint32_t common = mask & want_mask;  // the shorter of the two prefixes
    if ((dst & common) != (net & common)) continue;
    int len = 0;
    for (uint32_t m = mask; m & 0x80000000u; m <<= 1) ++len;
    struct in_addr a {};
    a.s_addr = htonl(dst);
    out.push_back(std::string(inet_ntoa(a)) + "/" + std::to_string(len) + " on " + iface);
  }
  return out;
}

Result<std::string> choose_subnet(const std::string& bridge, bool remember) {
  std::string own = bridge_subnet(bridge);
  if (!own.empty() && link_exists(bridge)) return own;
  // (with the leases: address management's state, host-wide like them)
  std::string rec = net_state_dir() + "/ipam/default-subnet";
  if (remember) mkdir((net_state_dir() + "/ipam").c_str(), 0755);
  std::string before = read_text(rec);
  while (!before.empty() && (before.back() == '\n' || before.back() == ' ')) before.pop_back();
  if (!before.empty() && parse_ipv4_subnet(before) && subnet_clashes(before).empty()) return before;
  for (int second = 199; second >= 100; --second) {
    std::string candidate = "10." + std::to_string(second) + ".0.0/16";
    if (!subnet_clashes(candidate).empty()) continue;
    if (remember) (void)write_file(rec, candidate + "\n");  // the next bridge gets the same
    return candidate;
  }
  return Error{EADDRINUSE,
               "bridge " + bridge +
                   ": every subnet sbx would choose (10.100.0.0/16 to 10.199.0.0/16) overlaps a "
                   "route of the host; give net.subnet (--subnet is not a flag yet: use the Lua "
                   "API) one that does not"};
}

namespace {

const char* const kForward = "/proc/sys/net/ipv4/ip_forward";

Status make_bridge(const BridgeSpec& spec) {
  int prefix = 0;
  std::string gw = gateway_of(spec.subnet, &prefix);
  std::string step = "create bridge " + spec.bridge + " for " + spec.subnet;
  std::string rec = net_state_dir() + "/bridges/" + spec.bridge;
  auto undo = [&](Error e) {
    (void)net_delete_link(0, spec.bridge);
    unlink(rec.c_str());
    return e.context(step);
  };
  if (int e = fault("bridge.create")) return fault_error("bridge.create", step, e);
  if (auto s = net_add_bridge(0, spec.bridge); !s) {
    if (geteuid() != 0)
      return s.error().context(
          step +
          " (a host bridge needs root, CAP_NET_ADMIN on the host; unprivileged "
          "sandboxes can use net = \"loopback\" or join a namespace with netns)");
    return s.error().context(step);
  }
  // Written first, so that a failure below (or a kill) leaves something `sbx gc` recognises.
  if (auto s = write_file(rec, spec.subnet + "\n"); !s) return undo(s.error());
  if (auto s = net_add_address(0, spec.bridge, gw + "/" + std::to_string(prefix)); !s)
    return undo(s.error());
  if (auto s = net_set_up(0, spec.bridge, true); !s) return undo(s.error());
  // Loopback-published ports: packets from 127.0.0.1 may leave through this bridge (only).
  if (auto s = write_control("/proc/sys/net/ipv4/conf/" + spec.bridge + "/route_localnet", "1\n");
      !s)
    return undo(s.error());
  if (!nft_run("list table ip sbx")) {
    if (int e = fault("bridge.nft-table"))
      return undo(fault_error("bridge.nft-table", "create nftables table ip sbx", e));
    if (auto r = nft_run(kTable); !r)
      return undo(r.error().context("create nftables table ip sbx"));
  }
  auto r = nft_run("add element ip sbx bridges { \"" + spec.bridge +
                   "\" }\nadd element ip sbx subnets { " + spec.subnet + " }\n");
  if (!r) return undo(r.error());
  if (spec.nat) {
    std::string saved = net_state_dir() + "/ip_forward.saved";
    std::string now = read_text(kForward);
    if (now.rfind("0", 0) == 0 && access(saved.c_str(), F_OK) != 0) {
      if (auto s = write_file(saved, now); !s) return undo(s.error());
      if (auto s = write_control(kForward, "1\n"); !s)
        return undo(s.error().context("turn on IPv4 forwarding"));
    }
  }
  return {};
}

// The subnet a bridge made by sbx serves ("" when sbx has no record of it).
std::string bridge_subnet(const std::string& bridge) {
  std::string subnet = read_text(net_state_dir() + "/bridges/" + bridge);
  while (!subnet.empty() && subnet.back() == '\n') subnet.pop_back();
  return subnet;
}

std::vector<std::string> recorded_bridges() {
  std::vector<std::string> out;
  Dir d(opendir((net_state_dir() + "/bridges").c_str()));
  if (!d) return out;
  while (auto* e = readdir(d.get()))
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  return out;
}

// With the lock held: the bridge goes when nobody leases an address on it; the table and the
// forwarding setting go with the last bridge.
Status remove_bridge_if_unused(const std::string& bridge) {
  std::string rec = net_state_dir() + "/bridges/" + bridge;
  std::string subnet = bridge_subnet(bridge);
  if (subnet.empty()) return {};
  auto leases = ipam_leases(net_state_dir(), subnet);
  if (!leases) return leases.error();
  if (!leases->empty()) return {};
  Status result;
  if (link_exists(bridge))
    if (auto s = net_delete_link(0, bridge); !s) result = s;
  (void)nft_run("delete element ip sbx bridges { \"" + bridge +
                "\" }\ndelete element ip sbx subnets { " + subnet + " }\n");
  unlink(rec.c_str());
  unlink(hosts_path(bridge).c_str());
  if (recorded_bridges().empty()) {
    (void)nft_run("delete table ip sbx");
    std::string saved = net_state_dir() + "/ip_forward.saved";
    std::string old = read_text(saved);
    if (!old.empty()) {
      if (auto s = write_control(kForward, old); !s && result) result = s;
      unlink(saved.c_str());
    }
  }
  return result;
}

std::string element(const PortMap& p, const std::string& target_ip, bool with_value) {
  std::string key = p.host_ip == "0.0.0.0"
                        ? p.proto + " . " + std::to_string(p.host_port)
                        : p.proto + " . " + p.host_ip + " . " + std::to_string(p.host_port);
  std::string map = p.host_ip == "0.0.0.0" ? "publish_any" : "publish";
  return "ip sbx " + map + " { " + key +
         (with_value ? " : " + target_ip + " . " + std::to_string(p.port) : "") + " }";
}

void remove_dir_files(const std::string& dir) {
  for (const char* f : {"/hostname", "/resolv.conf", "/ports"}) unlink((dir + f).c_str());
  rmdir(dir.c_str());
}

// <net>/<host link>/ports: the nft elements a sandbox published, one per line ("ip sbx publish {
// tcp . 127.0.0.1 . 8080 }"), written before each is added, so that whatever a killed owner
// published can be found and removed.
std::vector<std::string> recorded_ports(const std::string& dir) {
  std::vector<std::string> out;
  std::istringstream in(read_text(dir + "/ports"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("ip sbx publish", 0) == 0) out.push_back(line);
  return out;
}

// With the lock held: what sandboxes of dead owners left — their published ports first (before
// their address can be leased again: a new sandbox there must not receive a dead one's traffic),
// their host veths and their files. Their leases are free once their owner is dead (ipam). Returns
// what went.
std::vector<std::string> reap_dead_attachments() {
  std::vector<std::string> removed, dead, live_ports;
  std::string base = net_state_dir();
  if (Dir d{opendir(base.c_str())}) {
    while (auto* e = readdir(d.get())) {
      pid_t p = link_owner(e->d_name);
      if (!p) continue;
      if (owner_alive(p)) {
        for (auto& l : recorded_ports(base + "/" + e->d_name)) live_ports.push_back(l);
      } else {
        dead.push_back(e->d_name);
      }
    }
  }
  for (const auto& name : dead) {
    std::string dir = base + "/" + name;
    for (const auto& el : recorded_ports(dir)) {
      // a live sandbox that took the same host port since has replaced the element: keep it
      if (std::find(live_ports.begin(), live_ports.end(), el) != live_ports.end()) continue;
      if (nft_run("delete element " + el)) removed.push_back("published " + el);
    }
    if (link_exists(name) && net_delete_link(0, name)) removed.push_back("link " + name);
    remove_dir_files(dir);
    removed.push_back("files " + dir);
  }
  return removed;
}

}  // namespace

pid_t link_owner(const std::string& name) {
  if (name.rfind("sbx", 0) != 0) return 0;
  auto dash = name.find('-');
  if (dash == std::string::npos || dash == 3) return 0;
  std::string pid = name.substr(3, dash - 3), n = name.substr(dash + 1);
  if (pid.find_first_not_of("0123456789") != std::string::npos || n.empty() ||
      n.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  auto p = parse_uint(pid, INT32_MAX, "link " + name + ": pid");
  return p && *p > 0 ? static_cast<pid_t>(*p) : -1;
}

std::string net_state_dir() {
  return runtime_dir() + "/net";
}

Result<PortMap> parse_port_map(const std::string& text) {
  PortMap p;
  std::string t = text;
  auto bad = [&](const std::string& why) {
    return user_error("publish '" + text + "': " + why +
                      " (expected [HOST_IP:]HOST_PORT:PORT[/tcp|/udp], e.g. 127.0.0.1:8080:80)");
  };
  if (auto slash = t.find('/'); slash != std::string::npos) {
    p.proto = t.substr(slash + 1);
    t = t.substr(0, slash);
    if (p.proto != "tcp" && p.proto != "udp") return bad("protocol must be tcp or udp");
  }
  std::vector<std::string> parts;
  std::stringstream ss(t);
  for (std::string part; std::getline(ss, part, ':');) parts.push_back(part);
  if (parts.size() == 3) {
    p.host_ip = parts[0];
    parts.erase(parts.begin());
    struct in_addr a;
    if (inet_pton(AF_INET, p.host_ip.c_str(), &a) != 1)
      return bad("'" + p.host_ip + "' is not an IPv4 address");
  }
  if (parts.size() != 2) return bad("wrong number of fields");
  auto port = [&](const std::string& s, bool zero_ok, uint16_t& out) -> bool {
    auto v = parse_uint(s, 65535, "port");
    if (!v || (*v == 0 && !zero_ok)) return false;
    out = static_cast<uint16_t>(*v);
    return true;
  };
  if (!port(parts[0], true, p.host_port))
    return bad("host port '" + parts[0] + "' is not 0..65535");
  if (!port(parts[1], false, p.port)) return bad("port '" + parts[1] + "' is not 1..65535");
  return p;
}

std::string format_port_map(const PortMap& p) {
  return p.host_ip + ":" + std::to_string(p.host_port) + "->" + std::to_string(p.port) + "/" +
         p.proto;
}

BridgeAttachment::BridgeAttachment(BridgeAttachment&& o) noexcept {
  *this = std::move(o);
}

BridgeAttachment& BridgeAttachment::operator=(BridgeAttachment&& o) noexcept {
  if (this != &o) {
    (void)release();
    spec_ = std::move(o.spec_);
    owner_ = o.owner_;
    released_ = std::exchange(o.released_, true);
    address_ = std::exchange(o.address_, "");
    host_link_ = std::exchange(o.host_link_, "");
    dir_ = std::exchange(o.dir_, "");
    reservations_ = std::move(o.reservations_);
    added_ = std::move(o.added_);
  }
  return *this;
}

BridgeAttachment::~BridgeAttachment() {
  (void)release();
}

Result<BridgeAttachment> BridgeAttachment::prepare(
    const BridgeSpec& spec, const std::string& hostname,
    std::vector<std::pair<std::string, std::string>>& files) {
  if (spec.bridge.empty() || spec.bridge.size() >= 16 ||
      spec.bridge.find_first_of("/ :") != std::string::npos)
    return user_error("bridge: bad interface name '" + spec.bridge + "' (1-15 characters)");
  if (link_owner(spec.bridge))
    return user_error("bridge: '" + spec.bridge + "' looks like a sandbox's veth name");
  if (!spec.subnet.empty())
    if (auto p = parse_ipv4_subnet(spec.subnet); !p)
      return p.error().context("bridge " + spec.bridge);
  BridgeAttachment at;
  at.spec_ = spec;
  at.owner_ = getpid();
  if (at.spec_.name.empty()) at.spec_.name = hostname;
  static unsigned counter = 0;
  at.host_link_ = "sbx" + std::to_string(getpid()) + "-" + std::to_string(++counter % 10000);

  // Ports first: a port someone else holds fails the sandbox before anything is made.
  for (auto& p : at.spec_.publish) {
    std::string what = "publish " + p.host_ip + ":" + std::to_string(p.host_port) + "/" + p.proto;
    Fd s(socket(AF_INET, (p.proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    struct sockaddr_in sa {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(p.host_port);
    if (!s.ok() || inet_pton(AF_INET, p.host_ip.c_str(), &sa.sin_addr) != 1) return sys_error(what);
    if (int e = fault("bridge.reserve-port")) return fault_error("bridge.reserve-port", what, e);
    if (bind(s.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
      int e = errno;
      if (e == EADDRINUSE)
        return Error{e, what +
                            ": the port is in use on the host (a program or another sandbox holds "
                            "it); publish another port"};
      return sys_error(what, e);
    }
    socklen_t len = sizeof sa;
    getsockname(s.get(), reinterpret_cast<struct sockaddr*>(&sa), &len);
    p.host_port = ntohs(sa.sin_port);  // port 0: the kernel's choice
    at.reservations_.push_back(std::move(s));
  }

  NetLock lock;
  if (auto s = lock.acquire(); !s) return s.error();
  (void)reap_dead_attachments();  // before any address is handed out
  std::string rec = net_state_dir() + "/bridges/" + spec.bridge;
  // The subnet: the bridge's own, else one clear of the host's routes (choose_subnet); one asked
  // for must be clear of them too (a host route to it elsewhere takes the sandboxes' traffic).
  if (at.spec_.subnet.empty()) {
    auto chosen = choose_subnet(spec.bridge);
    if (!chosen) return chosen.error();
    at.spec_.subnet = *chosen;
  } else if (!link_exists(spec.bridge)) {
    auto clashes = subnet_clashes(at.spec_.subnet);
    if (!clashes.empty()) {
      std::string list;
      for (const auto& c : clashes) list += (list.empty() ? "" : ", ") + c;
      return Error{EADDRINUSE, "bridge " + spec.bridge + ": subnet " + at.spec_.subnet +
                                   " overlaps the host's route " + list +
                                   ": the host would send the sandboxes' traffic there; choose "
                                   "another subnet (or leave it out: sbx chooses a free one)"};
    }
  }
  const BridgeSpec& chosen = at.spec_;
  if (!link_exists(spec.bridge)) {
    unlink(rec.c_str());  // a record without its link: left by a killed sbx
    if (auto s = make_bridge(at.spec_); !s) return s.error();
  } else if (access(rec.c_str(), F_OK) != 0) {
    return Error{
        EEXIST,
        "bridge " + spec.bridge +
            ": a link of that name exists and was not made by sbx; choose another bridge name"};
  } else {
    std::string subnet = bridge_subnet(spec.bridge);
    if (subnet != chosen.subnet)
      return Error{EINVAL, "bridge " + spec.bridge + " serves " + subnet + ", not " +
                               chosen.subnet + "; use that subnet or another bridge"};
  }
  auto lease =
      fault("bridge.lease")
          ? Result<Lease>(fault_error("bridge.lease", "ipam: lease in " + chosen.subnet, EIO))
          : ipam_allocate(net_state_dir(), chosen.subnet, getpid(), at.spec_.name, spec.ip);
  if (!lease) {
    (void)remove_bridge_if_unused(spec.bridge);
    return lease.error().context("bridge " + spec.bridge);
  }
  at.address_ = lease->address;
  if (auto s = write_hosts(spec.bridge, chosen.subnet); !s)
    return s.error();  // `at` releases the lease
  at.dir_ = net_state_dir() + "/" + at.host_link_;
  if (int e = fault("bridge.files")) return fault_error("bridge.files", "write " + at.dir_, e);
  if (mkdir(at.dir_.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("create " + at.dir_);
  if (auto s =
          write_file(at.dir_ + "/hostname", (hostname.empty() ? at.spec_.name : hostname) + "\n");
      !s)
    return s.error();
  std::string resolv = spec.dns.empty() ? resolv_conf() : "nameserver " + spec.dns + "\n";
  if (auto s = write_file(at.dir_ + "/resolv.conf", resolv); !s) return s.error();
  files.push_back({hosts_path(spec.bridge), "/etc/hosts"});
  files.push_back({at.dir_ + "/hostname", "/etc/hostname"});
  files.push_back({at.dir_ + "/resolv.conf", "/etc/resolv.conf"});
  return at;
}

Status BridgeAttachment::connect(pid_t child) {
  std::string step = "connect to bridge " + spec_.bridge;
  if (int e = fault("bridge.veth"))
    return fault_error("bridge.veth", step + ": create veth " + host_link_, e);
  if (auto s = net_add_veth(0, host_link_, "eth0", child); !s) return s.error().context(step);
  if (auto s = net_attach(0, host_link_, spec_.bridge); !s) return s.error().context(step);
  if (auto s = net_set_up(0, host_link_, true); !s) return s.error().context(step);
  if (int e = fault("bridge.address"))
    return fault_error("bridge.address", step + ": address " + address_, e);
  if (auto s = net_add_address(child, "eth0", address_); !s) return s.error().context(step);
  if (auto s = net_set_up(child, "eth0", true); !s) return s.error().context(step);
  if (auto s = net_add_route(child, "default", gateway_of(spec_.subnet), "eth0"); !s)
    return s.error().context(step);
  std::string ip = ip_of(address_);
  for (const auto& p : spec_.publish) {
    std::string what = "publish " + format_port_map(p);
    // recorded first: a kill between the record and the element leaves a record gc ignores
    Fd rec(open((dir_ + "/ports").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    std::string line = element(p, ip, false) + "\n";
    if (!rec.ok() ||
        write(rec.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
      return sys_error(what + ": record in " + dir_ + "/ports");
    if (int e = fault("bridge.publish")) return fault_error("bridge.publish", what, e);
    auto r = nft_run("create element " + element(p, ip, true));
    // Refused because the key is there (asked of nft, not read from its message)? We hold the
    // host port, so whoever published it before is gone: replace its entry.
    if (!r && nft_run("get element " + element(p, ip, false))) {
      (void)nft_run("delete element " + element(p, ip, false));
      r = nft_run("create element " + element(p, ip, true));
    }
    if (!r) return r.error().context(what);
    added_.push_back(p);
  }
  return {};
}

Status BridgeAttachment::release() {
  if (released_ || address_.empty() || owner_ != getpid()) return {};
  released_ = true;
  Status result;
  for (const auto& p : added_)
    if (auto r = nft_run("delete element " + element(p, "", false)); !r && result)
      result = r.error();
  added_.clear();
  reservations_.clear();
  if (link_exists(host_link_))
    if (auto s = net_delete_link(0, host_link_); !s && link_exists(host_link_) && result)
      result = s;
  NetLock lock;
  if (auto s = lock.acquire(); !s) return s;
  if (auto s = ipam_release(net_state_dir(), spec_.subnet, address_); !s && result) result = s;
  if (!dir_.empty()) remove_dir_files(dir_);
  if (auto s = write_hosts(spec_.bridge, spec_.subnet); !s && result) result = s;
  if (auto s = remove_bridge_if_unused(spec_.bridge); !s && result) result = s;
  return result;
}

std::vector<std::string> sbx_bridges() {
  std::vector<std::string> out;
  for (const auto& b : recorded_bridges())
    if (link_exists(b)) out.push_back(b);
  return out;
}

Result<std::vector<std::string>> bridge_gc() {
  std::vector<std::string> removed;
  NetLock lock;
  if (auto s = lock.acquire(); !s) return s.error();
  for (auto& r : reap_dead_attachments()) removed.push_back(r);
  // Host ends of veths whose supervisor is gone (their sandbox may still run, cut off).
  if (Dir d{opendir("/sys/class/net")}) {
    std::vector<std::string> stale;
    while (auto* e = readdir(d.get()))
      if (pid_t p = link_owner(e->d_name); p && !owner_alive(p)) stale.push_back(e->d_name);
    d.reset();
    for (const auto& l : stale)
      if (net_delete_link(0, l)) removed.push_back("link " + l);
  }
  // Per-sandbox files.
  if (Dir d{opendir(net_state_dir().c_str())}) {
    std::vector<std::string> stale;
    while (auto* e = readdir(d.get()))
      if (pid_t p = link_owner(e->d_name); p && !owner_alive(p)) stale.push_back(e->d_name);
    d.reset();
    for (const auto& f : stale) {
      remove_dir_files(net_state_dir() + "/" + f);
      removed.push_back("files " + net_state_dir() + "/" + f);
    }
  }
  // Published ports that lead to an address nobody leases any more.
  std::vector<std::string> live;
  for (const auto& b : recorded_bridges()) {
    if (auto leases = ipam_leases(net_state_dir(), bridge_subnet(b)))
      for (const auto& l : *leases) live.push_back(ip_of(l.address));
  }
  for (const char* map : {"publish", "publish_any"}) {
    auto out = nft_run(std::string("list map ip sbx ") + map, true);
    if (!out) continue;
    auto doc = parse_json(*out, "nft list map");
    if (!doc) continue;
    const Json* items = json_field(*doc, "nftables");
    if (!items || !items->is_array()) continue;
    for (const auto& item : *items) {
      const Json* elems =
          json_field(item, "map") ? json_field(*json_field(item, "map"), "elem") : nullptr;
      if (!elems || !elems->is_array()) continue;
      for (const auto& el : *elems) {
        // [ {"concat": [key...]}, {"concat": [ip, port]} ]
        if (!el.is_array() || el.size() != 2) continue;
        const Json* keys = json_field(el[0], "concat");
        const Json* value = json_field(el[1], "concat");
        if (!keys || !keys->is_array() || !value || !value->is_array() || value->empty() ||
            !(*value)[0].is_string())
          continue;
        std::string ip = (*value)[0].get<std::string>();
        if (std::find(live.begin(), live.end(), ip) != live.end()) continue;
        std::string key;
        for (const auto& k : *keys) {
          if (!key.empty()) key += " . ";
          key += k.is_string() ? k.get<std::string>() : json_text(k);
        }
        if (nft_run(std::string("delete element ip sbx ") + map + " { " + key + " }"))
          removed.push_back(std::string("published ") + key + " -> " + ip);
      }
    }
  }
  for (const auto& b : recorded_bridges()) {
    std::string subnet = bridge_subnet(b);
    (void)ipam_prune(net_state_dir(), subnet);
    (void)write_hosts(b, subnet);
    auto leases = ipam_leases(net_state_dir(), subnet);
    if (leases && leases->empty() && remove_bridge_if_unused(b)) removed.push_back("bridge " + b);
  }
  return removed;
}

}  // namespace sbx::core
