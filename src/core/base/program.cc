#include "core/base/program.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

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
  const std::string what = "run " + argv[0];
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out[2] = {-1, -1}, report[2];
  if (io.capture_stdout && pipe2(out, O_CLOEXEC) != 0) return sys_error(what + ": pipe");
  Fd out_r(out[0]), out_w(out[1]);
  // the child's exec failure comes back as its errno; a successful exec closes this pipe unread
  if (pipe2(report, O_CLOEXEC) != 0) return sys_error(what + ": pipe");
  Fd report_r(report[0]), report_w(report[1]);
  pid_t pid = fork();
  if (pid < 0) return sys_error(what + ": fork");
  if (pid == 0) {
    become(io.capture_stdout ? out_w.get() : io.stdout_fd, 1);
    become(io.stderr_fd, 2);
    execv(args[0], args.data());
    int e = errno;
    (void)!write(report_w.get(), &e, sizeof e);
    _exit(127);
  }
  out_w.reset();
  report_w.reset();
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
