#include "forward.h"

#include <cstring>

#include "ns.h"

namespace sbx::core {

namespace {
constexpr int kForwarded[6] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
volatile sig_atomic_t g_pidfd = -1;
const struct sigaction* volatile g_previous_int = nullptr;  // SIGINT's handler before ours

void forward(int sig, siginfo_t* info, void* ctx) {
  // A terminal's Ctrl-C (SI_KERNEL) already reached the sandbox: it shares the foreground group.
  // sbx's own handler (the prompt's "interrupt the chunk") still hears of it.
  if (info && info->si_code == SI_KERNEL) {
    const struct sigaction* prev = g_previous_int;
    if (sig == SIGINT && prev) {
      if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) prev->sa_sigaction(sig, info, ctx);
      } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
      }
    }
    return;
  }
  int saved = errno;
  if (g_pidfd >= 0) sys_pidfd_send_signal(g_pidfd, sig);
  errno = saved;
}
}  // namespace

SignalForward::SignalForward(int pidfd) : previous_pidfd_(g_pidfd), previous_int_(g_previous_int) {
  g_pidfd = pidfd;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < 6; ++i) sigaction(kForwarded[i], &sa, &old_[i]);
  g_previous_int = &old_[0];
}

SignalForward::~SignalForward() {
  for (int i = 0; i < 6; ++i) sigaction(kForwarded[i], &old_[i], nullptr);
  g_pidfd = previous_pidfd_;
  g_previous_int = previous_int_;
}

}  // namespace sbx::core
