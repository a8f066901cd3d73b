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

namespace sbx::core {

// From the first resource a start makes until its sandbox is reaped, INT, TERM, HUP and QUIT are
// sbx's: blocked while the sandbox is set up (so no default action can kill sbx half-way and leave
// its cgroup or network behind), and once it runs passed on to every sandbox this process still
// owns (they end, are reaped and their resources released by their owner).
class SetupSignals {
 public:
  SetupSignals();
  ~SetupSignals();
  SetupSignals(const SetupSignals&) = delete;
  SetupSignals& operator=(const SetupSignals&) = delete;
  // A signal that arrived so far (consumed: it will not be delivered), or 0.
  int take_pending();
  // The caller's mask before the block: what the payload starts with.
  const sigset_t& caller_mask() const { return old_; }

 private:
  sigset_t old_;
};

// Sandboxes of this process that signals to sbx are passed on to (by pidfd).
void own_sandbox_add(int pidfd);
void own_sandbox_remove(int pidfd);

}  // namespace sbx::core

namespace sbx::core {
// A write to a closed pipe (stderr read by a program that went away, a report pipe whose reader was
// killed) is an EPIPE error for sbx, never a SIGPIPE that kills it. A handler that does nothing
// rather than SIG_IGN: handlers are reset by execve, so programs sbx starts get the default
// disposition.
void ignore_sigpipe();
}  // namespace sbx::core
