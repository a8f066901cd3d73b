#include "forward.h"

#include <cstring>

#include "ns.h"

namespace sbx::core {

namespace {
constexpr int kForwarded[6] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
volatile sig_atomic_t g_pidfd = -1;

void forward(int sig, siginfo_t* info, void*) {
  // A terminal's Ctrl-C (SI_KERNEL) already reached the sandbox: it shares the foreground group.
  if (info && info->si_code == SI_KERNEL) return;
  int saved = errno;
  if (g_pidfd >= 0) sys_pidfd_send_signal(g_pidfd, sig);
  errno = saved;
}
}  // namespace

SignalForward::SignalForward(int pidfd) : previous_pidfd_(g_pidfd) {
  g_pidfd = pidfd;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 6; ++i) sigaction(kForwarded[i], &sa, &old_[i]);
}

SignalForward::~SignalForward() {
  for (int i = 0; i < 6; ++i) sigaction(kForwarded[i], &old_[i], nullptr);
  g_pidfd = previous_pidfd_;
}

}  // namespace sbx::core
