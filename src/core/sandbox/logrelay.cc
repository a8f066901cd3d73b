#include "core/sandbox/logrelay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "core/base/io.h"
#include "core/base/result.h"

namespace sbx::core {

namespace {

pid_t g_relay = -1;

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The relay's loop: fds 3, 4 the read ends (stdout, stderr), 5 the log, 6 the records.
[[noreturn]] void relay() {
  std::string partial[2];
  bool open[2] = {true, true};
  char buf[65536];
  auto record = [&](int stream, const std::string& line) {
    std::string rec = std::to_string(now_ns()) + (stream == 0 ? " 1 " : " 2 ") + line + "\n";
    (void)write_all(6, rec, "log.lines");
  };
  while (open[0] || open[1]) {
    struct pollfd p[2] = {{open[0] ? 3 : -1, POLLIN, 0}, {open[1] ? 4 : -1, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int s = 0; s < 2; ++s) {
      if (!open[s] || !(p[s].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(3 + s, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        open[s] = false;
        if (!partial[s].empty()) record(s, partial[s]);
        partial[s].clear();
        continue;
      }
      (void)write_all(5, std::string_view(buf, static_cast<size_t>(n)), "log");
      partial[s].append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = partial[s].find('\n', start)) != std::string::npos; start = nl + 1)
        record(s, partial[s].substr(start, nl - start));
      partial[s].erase(0, start);
      if (partial[s].size() >= sizeof buf) {  // a line without end: recorded in pieces
        record(s, partial[s]);
        partial[s].clear();
      }
    }
  }
  _exit(0);
}

}  // namespace

Result<LogRelay> start_log_relay(const std::string& dir) {
  Fd log(open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log.ok()) return sys_error("log relay: open " + dir + "/log");
  Fd lines(open((dir + "/log.lines").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!lines.ok()) return sys_error("log relay: open " + dir + "/log.lines");
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) != 0) return sys_error("log relay: pipe");
  if (pipe2(e, O_CLOEXEC) != 0) {
    close(o[0]);
    close(o[1]);
    return sys_error("log relay: pipe");
  }
  LogRelay r;
  Fd out_read(o[0]), err_read(e[0]);
  r.out.reset(o[1]);
  r.err.reset(e[1]);
  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return sys_error("log relay: fork");
  if (pid == 0) {
    // only its own fds, at 3..6: a copy of a write end (or of the front's report pipe) would keep
    // a reader waiting
    int keep[4] = {out_read.get(), err_read.get(), log.get(), lines.get()};
    int moved[4];
    for (int i = 0; i < 4; ++i) moved[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 100);
    for (int i = 0; i < 4; ++i) dup2(moved[i], 3 + i);
    int null = open("/dev/null", O_RDWR);
    for (int i = 0; i < 3; ++i) dup2(null, i);
    syscall(SYS_close_range, 7, ~0U, 0);
    relay();
  }
  r.pid = pid;
  g_relay = pid;
  return r;
}

void remember_log_relay(pid_t pid) {
  g_relay = pid;
}

void finish_log_relay(int timeout_ms) {
  if (g_relay <= 0) return;
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    fflush(nullptr);
    // (fds 1 and 2 may be the relay's write ends: become_supervisor's)
    dup2(null, 1);
    dup2(null, 2);
    close(null);
  }
  for (int waited = 0;; waited += 10) {
    pid_t w = waitpid(g_relay, nullptr, WNOHANG);
    if (w == g_relay || (w < 0 && errno != EINTR)) break;
    if (waited >= timeout_ms) break;  // left to finish on its own
    usleep(10000);
  }
  g_relay = -1;
}

}  // namespace sbx::core
