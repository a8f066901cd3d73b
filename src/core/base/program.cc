#include "core/base/program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "core/base/fd.h"
#include "core/base/io.h"

namespace sbx::core {

namespace {

// In the forked child: only async-signal-safe calls from here to execv.
void become(int from, int to) {
  if (from < 0) return;
  if (from == to)
    fcntl(to, F_SETFD, 0);  // keep it across exec
  else
    dup2(from, to);
}

}  // namespace

Result<ProgramEnd> run_program(const std::vector<std::string>& argv, const ProgramIo& io) {
  if (argv.empty() || argv[0].empty()) return Error{EINVAL, "run: no program named"};
  const std::string& file = io.path ? *io.path : argv[0];
  const std::string what = "run " + file;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  if (io.env) {
    for (const auto& e : *io.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  int in[2] = {-1, -1};
  if (io.stdin_text && pipe2(in, O_CLOEXEC) != 0) return sys_error(what + ": pipe");
  Fd in_r(in[0]), in_w(in[1]);
  int out[2] = {-1, -1}, report[2];
  if (io.capture_stdout && pipe2(out, O_CLOEXEC) != 0) return sys_error(what + ": pipe");
  Fd out_r(out[0]), out_w(out[1]);
  // the child's exec failure comes back as its errno; a successful exec closes this pipe unread
  if (pipe2(report, O_CLOEXEC) != 0) return sys_error(what + ": pipe");
  Fd report_r(report[0]), report_w(report[1]);
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t pid = fork();
  if (pid < 0) return sys_error(what + ": fork");
  if (pid == 0) {
    become(in_r.get(), 0);
    become(io.capture_stdout ? out_w.get() : io.stdout_fd, 1);
    become(io.stderr_fd, 2);
    if (io.env)
      execve(file.c_str(), args.data(), envp.data());
    else
      execv(file.c_str(), args.data());
    int e = errno;
    (void)!write(report_w.get(), &e, sizeof e);
    _exit(127);
  }
  out_w.reset();
  report_w.reset();
  in_r.reset();
  if (in_w.ok()) {
    // what fits the pipe (the text is small: an OCI state); a program that does not read it
    // must not hold us past its timeout
    fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
    size_t done = 0;
    while (done < io.stdin_text->size()) {
      ssize_t w = write(in_w.get(), io.stdin_text->data() + done, io.stdin_text->size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    in_w.reset();
  }
  ProgramEnd end;
  Error failed;
  if (out_r.ok()) {
    auto text = read_fd(out_r.get(), what + ": read its output");
    if (text)
      end.output = std::move(*text);
    else
      failed = text.error();
  }
  int exec_errno = 0;
  ssize_t n;
  do n = read(report_r.get(), &exec_errno, sizeof exec_errno);
  while (n < 0 && errno == EINTR);
  if (io.timeout > 0 && n != sizeof exec_errno) {
    Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    struct pollfd pfd {
      pidfd.get(), POLLIN, 0
    };
    int r;
    do r = poll(&pfd, 1, static_cast<int>(io.timeout * 1000));
    while (r < 0 && errno == EINTR);
    if (r == 0) {
      kill(pid, SIGKILL);
      end.timed_out = true;
    }
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return sys_error(what + ": wait");
  if (n == sizeof exec_errno) return sys_error(what, exec_errno);
  if (!failed.message.empty()) return failed;
  if (WIFSIGNALED(st))
    end.signal = WTERMSIG(st);
  else
    end.code = WEXITSTATUS(st);
  return end;
}

}  // namespace sbx::core
