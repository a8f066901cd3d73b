// nftables through Debian's libnftables (loaded on first use): sbx keeps everything it adds in
// one table, `ip sbx`, made with the first bridge and deleted with the last.
#pragma once
#include <sys/types.h>

#include <string>

#include "core/base/result.h"

namespace sbx::core {

// Runs nft commands (nft's own syntax); the error carries nft's message. `json` asks for JSON
// output.
Result<std::string> nft_run(const std::string& commands, bool json = false);
// The same in the network namespace of `pid` (this thread steps in for the call and back; the
// context, and its netlink socket, are made in there).
Result<std::string> nft_run_in(pid_t pid, const std::string& commands, bool json = false);
// ... in the network namespace `netns_fd` refers to (an fd of /proc/PID/ns/net keeps it alive
// after its last process).
// Unprivileged, with `userns_fd` (userns_of): in a helper process that joined both.
Result<std::string> nft_run_in_ns(int netns_fd, const std::string& commands, bool json = false,
                                  int userns_fd = -1);

}  // namespace sbx::core
