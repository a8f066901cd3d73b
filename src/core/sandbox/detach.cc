#include "core/sandbox/detach.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/sandbox/supervise.h"

namespace sbx::core {

namespace {

// The running program, when it is the sbx binary ("" otherwise: sbx.so loaded by a luajit).
std::string sbx_binary() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string self = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "";
  bool is_sbx = self.size() >= 4 && self.compare(self.size() - 4, 4, "/sbx") == 0;
  return is_sbx ? self : "";
}

// The supervisor's one report: "ok PID" or "error MESSAGE"; nothing at all when it died first.
Result<pid_t> parse_report(std::string msg) {
  if (msg.rfind("ok ", 0) == 0) return static_cast<pid_t>(std::atoi(msg.c_str() + 3));
  if (msg.rfind("error ", 0) == 0) msg = msg.substr(6);
  if (msg.empty()) msg = "the supervisor ended without a word (see its state.json)";
  return Error{EIO, msg};
}

}  // namespace

Result<pid_t> start_detached(const Spec& spec, const std::string& dir, int lock_fd) {
  const std::string self = sbx_binary();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return sys_error("start supervisor: pipe");
  Fd r(fds[0]), w(fds[1]);
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t middle = fork();
  if (middle < 0) return sys_error("start supervisor: fork");
  if (middle == 0) {
    // A grandchild, so that nobody has to reap it: it belongs to the host's init once we exit.
    setsid();
    pid_t sup = fork();
    if (sup == 0) {
      if (!self.empty()) {
        int wfd = w.get();
        fcntl(wfd, F_SETFD, 0);
        if (lock_fd >= 0) fcntl(lock_fd, F_SETFD, 0);
        std::string fd_text = std::to_string(wfd), lock_text = std::to_string(lock_fd);
        execl(self.c_str(), "sbx", "--supervise", dir.c_str(), fd_text.c_str(), lock_text.c_str(),
              static_cast<char*>(nullptr));
      }
      // Loaded as a module into another program: supervise from this fork (it keeps this heap).
      _exit(supervise(spec, dir, w.get()));
    }
    _exit(sup < 0 ? 125 : 0);
  }
  w.reset();
  int st = 0;
  while (waitpid(middle, &st, 0) < 0 && errno == EINTR) {
  }
  auto msg = read_fd(r.get(), "start supervisor: read its report");
  if (!msg) return msg.error();
  return parse_report(std::move(*msg));
}

}  // namespace sbx::core
