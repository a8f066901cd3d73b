// While the supervisor waits for a sandbox in the foreground, signals sent to sbx (kill, not the
// terminal) are passed on to the sandbox, so `kill -TERM <sbx>` stops the payload cleanly.
#pragma once
#include <signal.h>

namespace sbx::core {

class SignalForward {
 public:
  explicit SignalForward(int pidfd);
  ~SignalForward();
  SignalForward(const SignalForward&) = delete;
  SignalForward& operator=(const SignalForward&) = delete;

 private:
  int previous_pidfd_;
  const struct sigaction* previous_int_;
  struct sigaction old_[6];
};

}  // namespace sbx::core
