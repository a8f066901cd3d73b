// Interactive sandboxes: a new pseudo-terminal for the payload (never the caller's own terminal,
// which would let it push input back with TIOCSTI), and the proxy that joins it to the caller's
// terminal in raw mode while the sandbox runs.
#pragma once
#include <string>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

struct Pty {
  Fd master, slave;
};

// The window size of terminal `from` set on `to` (nothing when `from` is not a terminal).
void copy_window_size(int from, int to);

// A new pty; its window size copied from `size_from` when that is a terminal.
Result<Pty> open_pty(int size_from);

// A connection to an OCI console socket (a listening AF_UNIX stream socket of the engine's: conmon,
// containerd's shim) that the sandbox sends its terminal's master to (SpawnIo::console).
// `what` names the socket in errors ("seccomp listener socket" for an OCI listenerPath).
Result<Fd> connect_console(const std::string& path, const std::string& what = "console socket");

// Copies in_fd -> master and master -> out_fd until the sandbox (pidfd) has ended and the master
// is drained. When in_fd is a terminal it is in raw mode meanwhile (Ctrl-C, Ctrl-Z reach the
// sandbox's own terminal) and restored on every way out; SIGWINCH passes the new size on.
Status pty_proxy(int master, int pidfd, int in_fd = 0, int out_fd = 1);

}  // namespace sbx::core
