// Another program run to its end, without a shell: argv goes to execv as it is, so no path is
// ever quoted (busybox --list, newuidmap, debootstrap).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

struct ProgramIo {
  int stdout_fd = -1;           // -1: ours
  int stderr_fd = -1;           // -1: ours
  bool capture_stdout = false;  // stdout into ProgramEnd::output instead (stdout_fd unused)
  std::optional<std::string> stdin_text;        // given on its stdin (then EOF); none: ours
  std::optional<std::vector<std::string>> env;  // its whole environment; none: ours
  std::optional<std::string> path;              // the file run, when argv[0] is another name
  double timeout = 0;  // seconds, then SIGKILL (ProgramEnd::timed_out); 0: none
};

struct ProgramEnd {
  int code = 0;    // its exit code, when it exited
  int signal = 0;  // the signal that ended it, or 0
  std::string output;
  bool timed_out = false;
  bool ok() const { return signal == 0 && code == 0; }
  // As a shell reports it: the code, or 128 + the signal.
  int status() const { return signal ? 128 + signal : code; }
};

// Runs argv[0] (a path, as execv takes it: no PATH search) with our environment and stdin, and
// waits for it. An error when it cannot be started ("run /usr/sbin/debootstrap: No such file or
// directory"); how it ended is the caller's to judge.
Result<ProgramEnd> run_program(const std::vector<std::string>& argv, const ProgramIo& io = {});

}  // namespace sbx::core
