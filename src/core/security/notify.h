// The supervisor's side of a seccomp filter's notify rules (SECCOMP_RET_USER_NOTIF): a listener fd
// that reports each notified call, stopped in the kernel until it is answered - continued, failed
// with an errno, given a return value, or given an fd the supervisor opened
// (SECCOMP_IOCTL_NOTIF_ADDFD).
#pragma once
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

struct SeccompCall {
  uint64_t id = 0;
  pid_t pid = 0;  // the caller, as this process's pid namespace sees it
  int nr = -1;
  uint32_t arch = 0;
  std::string name;  // the syscall's name for its architecture ("" when libseccomp has none)
  std::array<uint64_t, 6> args{};
};

class SeccompListener {
 public:
  // Asks the kernel (6.6 and later) to wake the caller and this process on one cpu: a notify
  // round trip is then one task switch instead of two cross-cpu wake-ups (9 us instead of 48 on
  // this VM, bench/notify.sh). Older kernels keep the plain wake-ups.
  explicit SeccompListener(Fd fd);
  int fd() const { return fd_.get(); }
  // The next notification (call when the fd is readable). ENOENT: the caller went away first.
  Result<SeccompCall> receive() const;
  // Whether the call is still waiting for its answer (the caller alive, the id not answered).
  bool valid(uint64_t id) const;
  Status allow(uint64_t id) const;                // the call goes on as if not filtered
  Status deny(uint64_t id, int err) const;        // it fails with errno err
  Status give(uint64_t id, int64_t value) const;  // it returns value, not made
  // Puts `fd` into the caller (close-on-exec when cloexec) and answers with its number there.
  Status give_fd(uint64_t id, int fd, bool cloexec) const;
  // A NUL-terminated string at addr in the caller's memory, at most max bytes; checked with
  // valid() after the read, so that the text is the caller's own and not a recycled pid's.
  Result<std::string> read_string(const SeccompCall& c, uint64_t addr, size_t max = 4096) const;
  // Bytes at addr in the caller's memory (a sockaddr), checked the same way.
  Result<std::string> read_bytes(const SeccompCall& c, uint64_t addr, size_t len) const;
  // Whether the caller runs the program at `path` (as its root sees it): the same file as its
  // /proc/PID/exe, checked the same way.
  Result<bool> runs(const SeccompCall& c, const std::string& path) const;

 private:
  Fd fd_;
};

// Receives the next notification on a listener and lets the call go on (sbx's own set-up calls,
// made after the filter went on and before the payload's execve).
Status allow_next_call(int listener_fd);

// "inet 127.0.0.1:8080", "inet6 [::1]:53", "unix /run/x.sock", "unix @abstract", or the family
// number, from a sockaddr's bytes.
std::string describe_sockaddr(const std::string& bytes);

// The call's path argument opened as the caller would see it: an absolute path resolved inside its
// root (/proc/PID/root, RESOLVE_IN_ROOT: its symlinks cannot lead out), a relative one from its
// cwd. Only regular files and directories are given; anything else is EACCES.
Result<Fd> open_for_caller(pid_t pid, const std::string& path, int flags, mode_t mode);

}  // namespace sbx::core
