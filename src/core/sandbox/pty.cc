#include "core/sandbox/pty.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sbx::core {

namespace {

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf {
        fd, POLLOUT, 0
      };
      poll(&pf, 1, -1);
      continue;
    }
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The caller's terminal in raw mode for the life of the object.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    if (!isatty(fd) || tcgetattr(fd, &saved_) != 0) return;
    struct termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd, TCSADRAIN, &raw) == 0;
  }
  ~RawMode() {
    if (active_) tcsetattr(fd_, TCSADRAIN, &saved_);
  }

 private:
  int fd_;
  struct termios saved_ {};
  bool active_ = false;
};

// SIGWINCH as a readable fd (blocked for the life of the object, the old mask restored after).
class WinchFd {
 public:
  WinchFd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigprocmask(SIG_BLOCK, &set, &old_);
    fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  ~WinchFd() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  int fd() const { return fd_.get(); }

 private:
  sigset_t old_;
  Fd fd_;
};

}  // namespace

void copy_window_size(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

Result<Pty> open_pty(int size_from) {
  Pty p;
  p.master.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!p.master.ok()) return sys_error("open a pseudo-terminal (/dev/ptmx)");
  if (grantpt(p.master.get()) != 0 || unlockpt(p.master.get()) != 0)
    return sys_error("unlock the pseudo-terminal");
  char name[64];
  if (ptsname_r(p.master.get(), name, sizeof name) != 0)
    return sys_error("name the pseudo-terminal");
  p.slave.reset(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!p.slave.ok()) return sys_error(std::string("open ") + name);
  if (size_from >= 0 && isatty(size_from)) copy_window_size(size_from, p.master.get());
  return p;
}

Result<Fd> connect_console(const std::string& path, const std::string& what) {
  std::string step = what + " " + path;
  if (path.empty() || path[0] != '/') return user_error(step + ": expected an absolute path");
  Fd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.ok()) return sys_error(step + ": socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  // a path longer than sun_path is reached through its directory, opened here
  std::string name = path;
  Fd dir;
  if (name.size() >= sizeof addr.sun_path) {
    size_t slash = path.rfind('/');
    dir.reset(
        open(slash == 0 ? "/" : path.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir.ok()) return sys_error(step + ": open its directory");
    name = "/proc/self/fd/" + std::to_string(dir.get()) + path.substr(slash);
    if (name.size() >= sizeof addr.sun_path) return user_error(step + ": the name is too long");
  }
  std::memcpy(addr.sun_path, name.c_str(), name.size() + 1);
  int r;
  do r = connect(sock.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    Error e = sys_error(step + ": connect");
    e.message += " (is the engine or agent listening on it?)";
    return e;
  }
  return sock;
}

Status pty_proxy(int master, int pidfd, int in_fd, int out_fd) {
  RawMode raw(in_fd);
  WinchFd winch;
  int flags = fcntl(master, F_GETFL);
  fcntl(master, F_SETFL, flags | O_NONBLOCK);
  bool in_open = true, exited = false;
  char buf[16384];
  for (;;) {
    struct pollfd fds[4] = {{master, POLLIN, 0},
                            {in_open ? in_fd : -1, POLLIN, 0},
                            {winch.fd(), POLLIN, 0},
                            {exited ? -1 : pidfd, POLLIN, 0}};
    // After the sandbox ended: drain what is left, without waiting for more. After our input
    // ended: Ctrl-D again every 100 ms (one sent while the payload had the terminal in canonical
    // mode is only an end-of-line mark, lost when it switches to raw mode before reading it, as a
    // shell with line editing does: `echo cmd | sbx run -t -- sh` would never end).
    int r = poll(fds, 4, exited ? 50 : (in_open ? -1 : 100));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_error("terminal proxy: poll");
    if (r == 0 && exited) break;
    if (r == 0 && !in_open) {
      char eof = 4;
      write_all(master, &eof, 1);
      continue;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) {
        if (!write_all(out_fd, buf, static_cast<size_t>(n))) in_open = false;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (exited) break;  // EIO: every holder of the slave is gone
        fds[0].fd = -1;
        if (pidfd < 0) break;
        struct pollfd w {
          pidfd, POLLIN, 0
        };
        poll(&w, 1, -1);  // the terminal is closed; wait for the end
        break;
      }
    }
    if (in_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(in_fd, buf, sizeof buf);
      if (n > 0) {
        write_all(master, buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_open = false;
        char eof = 4;  // Ctrl-D: the sandbox sees the end of its input
        write_all(master, &eof, 1);
      }
    }
    if (fds[2].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(winch.fd(), &si, sizeof si) == sizeof si) {
      }
      copy_window_size(in_fd,
                       master);  // the kernel sends SIGWINCH to the sandbox's foreground group
    }
    if (fds[3].revents & POLLIN) exited = true;
  }
  fcntl(master, F_SETFL, flags);
  return {};
}

}  // namespace sbx::core
