#include "core/base/fault.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/base/units.h"

namespace sbx::core {

const std::vector<FaultStep>& fault_steps() {
  static const std::vector<FaultStep> steps = {
      {"owner.record", "limits",
       "record this process as the owner of what it makes (<runtime>/owners/PID)"},
      {"spawn.runtime-dir", "plain", "create or check the runtime directory"},
      {"spawn.stage", "plain", "create the stage directory new roots are assembled on"},
      {"spawn.sync", "plain", "create the set-up socket and status pipe"},
      {"cgroup.mkdir", "limits", "create the sandbox's cgroup directory (each hierarchy)"},
      {"cgroup.limit", "limits", "write a limit file"},
      {"cgroup.devices", "devices",
       "apply the device rules (v1: the devices files; v2: load and attach the eBPF program)"},
      {"spawn.clone", "limits", "clone the child into its namespaces"},
      {"cgroup.join", "limits", "move the child into its cgroup"},
      {"spawn.id-maps", "limits", "write the child's uid and gid maps"},
      {"bridge.reserve-port", "bridge", "bind the published host port (the reservation)"},
      {"bridge.create", "bridge", "create the host bridge, its record and address"},
      {"bridge.nft-table", "bridge", "create the nftables table ip sbx"},
      {"bridge.lease", "bridge", "lease the sandbox's address"},
      {"bridge.files", "bridge", "write the sandbox's hosts, hostname and resolv.conf"},
      {"bridge.veth", "bridge", "create the veth pair into the child's namespace"},
      {"bridge.address", "bridge", "give eth0 its address, bring it up, add the default route"},
      {"bridge.publish", "bridge", "add the published port's nftables element"},
      {"spawn.go", "limits", "tell the child to go"},
      {"child.mounts", "limits", "the child's mounts (in its private mount namespace)"},
      {"child.pivot", "limits", "pivot_root into the new root"},
      {"child.seccomp", "limits", "install the seccomp filters"},
      {"child.exec", "bridge", "execve the payload"},
      {"image.layer", "image", "unpack a layer into the store's scratch"},
      {"image.store", "image", "move an unpacked layer into place"},
      {"image.manifest", "image", "write the image's manifest"},
      {"detached.claim", "detached", "claim the sandbox's name (draft directory)"},
      {"supervise.log", "detached", "open the detached sandbox's log"},
      {"supervise.state", "detached", "write the detached sandbox's state.json"},
  };
  return steps;
}

namespace {
struct Armed {
  std::string step;
  int nth = 1, err = EIO, seen = 0;
  bool on = false;
};

int errno_named(const std::string& s) {
  auto e = parse_errno(s);
  return e ? *e : EIO;
}

Armed& armed() {
  static Armed a = [] {
    Armed r;
    const char* env = std::getenv("SBX_FAULT");
    if (!env || !*env) return r;
    std::string s = env;
    if (auto eq = s.find('='); eq != std::string::npos) {
      r.err = errno_named(s.substr(eq + 1));
      s = s.substr(0, eq);
    }
    if (auto colon = s.find(':'); colon != std::string::npos) {
      r.nth = std::max(1, std::atoi(s.c_str() + colon + 1));
      s = s.substr(0, colon);
    }
    r.step = s;
    r.on = true;
    return r;
  }();
  return a;
}
}  // namespace

int fault(const char* name) {
  Armed& a = armed();
  if (!a.on || a.step != name) return 0;
  return ++a.seen == a.nth ? a.err : 0;
}

Error fault_error(const char* name, const std::string& what, int err) {
  return {err, what + ": " + std::strerror(err) + " [injected: " + name + "]"};
}

}  // namespace sbx::core
