// The eight Linux namespaces: name <-> CLONE_NEW* flag tables, identities from /proc/PID/ns,
// and the three kernel entry points (clone3, unshare, setns) wrapped with errors that say why.
#pragma once
#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

// The time namespace (Linux 5.6) for headers that predate it; the one place sbx spells it out.
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace sbx::core {

struct NamespaceKind {
  std::string_view name;       // user's word and /proc/PID/ns/<name>: "mnt", "pid", ...
  uint64_t flag;               // CLONE_NEWNS, CLONE_NEWPID, ...
  std::string_view flag_name;  // "CLONE_NEWNS"
};

// All eight, in the order they must be joined by setns (user first: it grants the rest).
const std::vector<NamespaceKind>& namespace_kinds();

// "net" -> CLONE_NEWNET; also accepts "mount" (util-linux's word) for mnt. Error names the word.
Result<uint64_t> namespace_flag(std::string_view name);
Result<uint64_t> namespace_flags(const std::vector<std::string>& names);
// CLONE_NEWPID|CLONE_NEWNET -> {"pid", "net"} (table order).
std::vector<std::string> namespace_names(uint64_t flags);
// CLONE_NEWPID|CLONE_NEWNET -> "CLONE_NEWPID|CLONE_NEWNET" (table order) for logs.
std::string namespace_flags_string(uint64_t flags);
// Every namespace flag this table knows.
uint64_t all_namespace_flags();

// Inode identity of each namespace of a process (0 = self): {"net": 4026531840, ...}.
Result<std::map<std::string, uint64_t>> namespace_ids(pid_t pid);

// clone3(2) with CLONE_PIDFD; falls back to clone(2) without a pidfd where clone3 is missing.
// Returns the child's pid in the parent (pidfd set, or -1) and 0 in the child.
struct CloneResult {
  pid_t pid = -1;
  int pidfd = -1;
};
Result<CloneResult> clone_process(uint64_t ns_flags, bool want_pidfd = true);

// The same, in the user namespace `userns` (an fd of /proc/PID/ns/user): a helper forked here
// joins it and clones the child as a child of this process (CLONE_PARENT), so the new
// namespaces are that user namespace's and the caller's own ids never change.
Result<CloneResult> clone_in_userns(int userns, uint64_t ns_flags);

// unshare(2) with the flags named in the error.
Status unshare_namespaces(uint64_t ns_flags);

// Join some or all (flags == 0: all that differ) namespaces of a running process, like nsenter.
// Uses a pidfd (atomic, kernel >= 5.8) and falls back to one /proc/PID/ns fd per namespace.
Status join_namespaces(pid_t pid, uint64_t ns_flags);

// Thin wrappers the libc of Debian 12 lacks or that need errno kept.
int sys_pidfd_open(pid_t pid, unsigned flags);
int sys_pidfd_send_signal(int pidfd, int sig);
int sys_close_range(unsigned first, unsigned last, unsigned flags);

// Whether a process that may own sbx state (a lease, a cgroup, a directory) still runs: a
// zombie counts as gone (its parent may not have reaped it yet).
bool process_alive(pid_t pid);

// "<boot id>:<start time in ticks>": names one process for good (a recycled pid, or the same pid
// after a reboot, gives another); "" when pid does not exist or is a zombie.
std::string process_identity(pid_t pid);

}  // namespace sbx::core
