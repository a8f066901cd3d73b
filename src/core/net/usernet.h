// Rootless networking: a user-mode network stack outside the sandbox (pasta from Debian's passt
// package, podman 5's default; slirp4netns as the fallback) that gives the sandbox's own network
// namespace an eth0 with the host's address and default route, carries its connections out as the
// host user's own sockets, and publishes ports on the host. Needs no privilege: the tool joins the
// sandbox's user and network namespaces, which the sandbox's owner may enter.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"
#include "core/net/bridge.h"

namespace sbx::core {

struct UserNetSpec {
  std::string tool = "pasta";    // "pasta" or "slirp4netns"
  std::vector<PortMap> publish;  // host ports forwarded into the sandbox
  std::string dns;               // the one nameserver of its resolv.conf ("": the host's)
  bool operator==(const UserNetSpec&) const = default;
};

// The tool's path (searched in PATH), or "" when it is not installed.
std::string user_net_tool(const std::string& tool);

class UserNetAttachment {
 public:
  UserNetAttachment() = default;
  UserNetAttachment(UserNetAttachment&& o) noexcept;
  UserNetAttachment& operator=(UserNetAttachment&& o) noexcept;
  ~UserNetAttachment();

  // Before the clone: the tool's directory and the sandbox's resolv.conf; `files` receives (host
  // path, path in the sandbox) pairs to bind read-only.
  static Result<UserNetAttachment> prepare(const UserNetSpec& spec,
                                           std::vector<std::pair<std::string, std::string>>& files);
  // After the clone, before the child goes (while it may still be entered by its owner): starts
  // the tool on the child's namespaces and returns once eth0 is configured and the ports bound.
  // The tool dies with this process (PR_SET_PDEATHSIG) and is ended by release().
  Status connect(pid_t child, bool own_userns);
  // Ends the tool (idempotent).
  Status release();

  const std::vector<PortMap>& published() const { return spec_.publish; }
  const std::string& tool() const { return spec_.tool; }
  pid_t pid() const { return pid_; }

 private:
  UserNetSpec spec_;
  pid_t pid_ = -1, owner_ = -1;
  Fd pidfd_;
  Fd exit_write_;    // slirp4netns: --exit-fd (closed: it exits)
  std::string dir_;  // the tool's pid file, log and API socket
};

// What killed sbx processes left of their user-mode networks: the directories of dead owners, and
// a tool still running on one (its pid file's process, when its command line names that directory).
std::vector<std::string> user_net_gc();

}  // namespace sbx::core
