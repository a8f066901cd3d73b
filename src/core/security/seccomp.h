// Seccomp policies as data. The supervisor (the process that spawns) compiles them with
// libseccomp, or reads them from its private cache, before the clone; the child only installs the
// BPF programs it was handed, just before execve (after pivot_root it could not compile).
// A policy: a default action, rules (syscall, action, argument comparisons). Architectures: the
// native x86-64 and the i386 ABI get the same rules; x32 calls are refused (EPERM) outright; an
// x86-64 number below 1024 that no syscall has returns ENOSYS (libc falls back when a newer
// kernel's call is missing). A rule that denies an otherwise allowed call on its arguments (ioctl
// TIOCSTI) goes into a second filter with ALLOW as default: the kernel applies the stricter answer
// of both.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

struct SeccompArg {
  unsigned index = 0;     // 0..5
  std::string op = "eq";  // eq ne lt le gt ge masked_eq
  uint64_t value = 0;     // masked_eq: the mask
  uint64_t value2 = 0;    // masked_eq: the value after masking
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompRule {
  std::string syscall;
  std::string action = "allow";  // allow | errno NAME|N | kill | kill_process | trap | log | notify
  std::vector<SeccompArg> args;  // all must hold
  bool operator==(const SeccompRule&) const = default;
};

struct SeccompPolicy {
  std::string profile;  // "default" or "strict": the built-in profile (rules filled in by expand)
  std::string default_action = "errno EPERM";
  std::vector<SeccompRule> rules;
  // the kernel's filter flags: log (what the filter does, in the audit log, but allow), spec_allow
  // (leave speculative store bypass mitigation off), wait_killable_recv
  std::vector<std::string> flags;
  bool operator==(const SeccompPolicy&) const = default;
};

// The SECCOMP_FILTER_FLAG_* bits of a policy's flags; an error names an unknown one.
Result<unsigned> seccomp_flag_bits(const std::vector<std::string>& flags);

// The built-in profiles, as policies ("default": every known syscall but the refused ones,
// clone without namespace flags, clone3 ENOSYS, personality with safe values, socket without
// AF_ALG/AF_VSOCK, ioctl without TIOCSTI; "strict": a short allowlist for batch jobs).
Result<SeccompPolicy> builtin_seccomp(const std::string& name);
// A policy with its profile's rules in place (a plan names the profile; the filter needs rules).
Result<SeccompPolicy> expand_seccomp(const SeccompPolicy& p);

// Checks a policy without loading it: actions, syscall names, argument operators.
Status check_seccomp(const SeccompPolicy& p);
// The BPF programs of a policy (one or two), compiled by libseccomp (~20 ms for the default
// profile), or read from cache_dir where an earlier compile of the same policy left them. A policy
// with notify rules has one more, first: the notify rules alone (the listener's filter, every
// other call allowed); the rest are the policy with those rules allowing.
Result<std::vector<std::string>> compile_seccomp(const SeccompPolicy& p);
Result<std::vector<std::string>> cached_seccomp(const SeccompPolicy& p,
                                                const std::string& cache_dir);
// Whether a policy sends some calls to a listener (action "notify": SECCOMP_RET_USER_NOTIF).
bool seccomp_notifies(const SeccompPolicy& p);
// Installs them in the calling thread (no_new_privs set already, or CAP_SYS_ADMIN held), with
// the filter flags `flags` (seccomp_flag_bits). With `listener`, the first program (the one with
// the notify rules) is installed with SECCOMP_FILTER_FLAG_NEW_LISTENER and its listener's fd is
// returned (the calls it notifies wait for an answer on it; once it is closed they get ENOSYS);
// -1 otherwise. With `handover_sock`, that program lets exactly one kind of call by unjudged:
// send_with_fd(handover_sock, ..., handover_tag), which hands the listener over even when the
// policy notifies sendmsg (the tag: random, known to nobody else).
Result<int> install_seccomp(const std::vector<std::string>& programs, unsigned flags = 0,
                            bool listener = false, int handover_sock = -1,
                            uint64_t handover_tag = 0);
// Every syscall name libseccomp knows for x86-64, sorted.
std::vector<std::string> seccomp_syscalls();

}  // namespace sbx::core
