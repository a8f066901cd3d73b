// Small files whole: read at once, written at once. Every error names the file and the cause
// ("read /proc/1/stat: No such file or directory").
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace sbx::core {

// What a "small" file may hold at most: a larger one is an error (EFBIG), never a huge allocation.
inline constexpr size_t kSmallFileLimit = size_t{16} << 20;

// Everything `fd` gives until end of file; an error names `what` ("read stdout: ...").
Result<std::string> read_fd(int fd, const std::string& what, size_t limit = SIZE_MAX);

// The whole file; `flags` are added to O_RDONLY | O_CLOEXEC (O_NOFOLLOW for files of sbx's own
// state, where a symlink is never ours).
Result<std::string> read_file(const std::string& path, int flags = 0,
                              size_t limit = kSmallFileLimit);

// All of `text` to a blocking fd, retried on short writes and EINTR; `what` names it in the error.
Status write_all(int fd, std::string_view text, const std::string& what);

// Creates or truncates `path` (a symlink there is refused: O_NOFOLLOW), writes all of `text` and
// gives the file `mode` exactly (whatever the umask, or the mode it had).
Status write_file(const std::string& path, std::string_view text, mode_t mode = 0644);

// Whole or not at all: `text` goes to PATH.tmp-PID (as write_file), which is then renamed over
// `path`, so a reader sees the old file or the new one, never half of one.
Status write_file_atomic(const std::string& path, std::string_view text, mode_t mode = 0644);

// A kernel control file (/proc, /sys, cgroupfs): opened without creating, `text` in one write(2),
// as the kernel wants it (a short write is an error).
Status write_control(const std::string& path, std::string_view text);

// One message `data` with one descriptor `fd` (SCM_RIGHTS) on a unix socket; false and errno set
// when it was not sent whole. (Safe in a forked child: no allocation.)
// `tag` goes in the call's unused fourth argument: a seccomp filter can tell this one call by it
// (install_seccomp's hand-over).
bool send_with_fd(int sock, std::string_view data, int fd, uint64_t tag = 0);
// One message into buf (its length, 0 at the end, -1 with errno), and the descriptor it carried
// (SCM_RIGHTS, received close-on-exec) into *fd, else *fd is -1. EINTR is retried.
ssize_t recv_with_fd(int sock, char* buf, size_t len, int* fd);

}  // namespace sbx::core
