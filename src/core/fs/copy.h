// sbx cp: files in and out of a running sandbox, through its root as its processes see it
// (/proc/PID/root), every path resolved inside that root (openat2 RESOLVE_IN_ROOT: "..", absolute
// links and the sandbox's own mounts stay in it) and every entry below opened without following
// a link. A link is copied as a link; device nodes, fifos and sockets are left out.
#pragma once
#include <sys/types.h>

#include <string>

#include "core/base/result.h"

namespace sbx::core {

struct CopyResult {
  size_t files = 0, dirs = 0, links = 0, skipped = 0;
};

// PATH of the sandbox whose init is `pid` to DEST on the host (docker cp's rules: DEST an
// existing directory receives PATH's last name; else DEST is made). Owned by the caller; setuid
// and setgid bits dropped (nothing a sandbox planted runs with the host's privileges).
Result<CopyResult> copy_out(pid_t pid, const std::string& path, const std::string& dest);

// SRC on the host into the sandbox at PATH (the same rules), owned by the sandbox's root (its
// uid/gid 0 as the host sees them).
Result<CopyResult> copy_in(const std::string& src, pid_t pid, const std::string& path);

}  // namespace sbx::core
