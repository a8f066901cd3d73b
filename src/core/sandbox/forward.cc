#include "core/sandbox/forward.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "core/sandbox/ns.h"

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

namespace sbx::core {

namespace {
constexpr int kOwned[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
constexpr int kMaxOwned = 256;
volatile int g_owned[kMaxOwned];
volatile int g_owned_count = 0;
volatile pid_t g_owned_by = 0;  // a forked child inherits the table, not the sandboxes
struct sigaction g_owned_old[4];

void pass_on(int sig, siginfo_t* info, void* ctx) {
  int saved = errno;
  if (g_owned_by != getpid()) {
    // a fork of sbx (sbx.sys.fork): the signal means what it meant before
    for (int i = 0; i < 4; ++i)
      if (kOwned[i] == sig) sigaction(sig, &g_owned_old[i], nullptr);
    raise(sig);
    errno = saved;
    return;
  }
  // A terminal's Ctrl-C reached the sandboxes in its foreground group already; the prompt's own
  // handler still hears of it.
  if (info && info->si_code == SI_KERNEL) {
    const struct sigaction& prev = g_owned_old[0];
    if (sig != SIGINT) {
    } else if (prev.sa_flags & SA_SIGINFO) {
      if (prev.sa_sigaction) prev.sa_sigaction(sig, info, ctx);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
      prev.sa_handler(sig);
    }
    errno = saved;
    return;
  }
  for (int i = 0; i < g_owned_count; ++i)
    if (g_owned[i] >= 0) sys_pidfd_send_signal(g_owned[i], sig);
  errno = saved;
}

sigset_t owned_set() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : kOwned) sigaddset(&s, sig);
  return s;
}

// Runs `fn` with the owned signals blocked (the table is never seen half-changed by the handler).
template <class F>
void with_owned_blocked(F fn) {
  sigset_t s = owned_set(), old;
  sigprocmask(SIG_BLOCK, &s, &old);
  fn();
  sigprocmask(SIG_SETMASK, &old, nullptr);
}
}  // namespace

SetupSignals::SetupSignals() {
  sigset_t s = owned_set();
  sigprocmask(SIG_BLOCK, &s, &old_);
}

SetupSignals::~SetupSignals() {
  sigprocmask(SIG_SETMASK, &old_, nullptr);
}

int SetupSignals::take_pending() {
  sigset_t pending;
  if (sigpending(&pending) != 0) return 0;
  for (int sig : kOwned)
    if (sigismember(&pending, sig) && !sigismember(&old_, sig)) {
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, sig);
      struct timespec zero {
        0, 0
      };
      (void)sigtimedwait(&one, nullptr, &zero);
      return sig;
    }
  return 0;
}

void own_sandbox_add(int pidfd) {
  if (pidfd < 0) return;
  with_owned_blocked([&] {
    if (g_owned_by != getpid()) {  // first sandbox of this process: the handler goes in
      g_owned_count = 0;
      g_owned_by = getpid();
      struct sigaction sa;
      std::memset(&sa, 0, sizeof sa);
      sa.sa_sigaction = pass_on;
      sa.sa_flags = SA_SIGINFO | SA_RESTART;
      sigemptyset(&sa.sa_mask);
      for (int i = 0; i < 4; ++i) {
        sigaction(kOwned[i], nullptr, &g_owned_old[i]);
        // an ignored signal stays ignored (nohup, a shell's background job): nobody asked for it
        if (g_owned_old[i].sa_handler != SIG_IGN || (g_owned_old[i].sa_flags & SA_SIGINFO))
          sigaction(kOwned[i], &sa, nullptr);
      }
    }
    for (int i = 0; i < g_owned_count; ++i)
      if (g_owned[i] < 0) {
        g_owned[i] = pidfd;
        return;
      }
    if (int n = g_owned_count; n < kMaxOwned) {
      g_owned[n] = pidfd;
      g_owned_count = n + 1;
    }
  });
}

void own_sandbox_remove(int pidfd) {
  if (pidfd < 0 || g_owned_by != getpid()) return;
  with_owned_blocked([&] {
    bool any = false;
    for (int i = 0; i < g_owned_count; ++i) {
      if (g_owned[i] == pidfd) g_owned[i] = -1;
      any = any || g_owned[i] >= 0;
    }
    if (!any) {  // the last one: the signals mean what they meant before
      for (int i = 0; i < 4; ++i) sigaction(kOwned[i], &g_owned_old[i], nullptr);
      g_owned_count = 0;
      g_owned_by = 0;
    }
  });
}

}  // namespace sbx::core

namespace sbx::core {
namespace {
void no_sigpipe(int) {}
}  // namespace

void ignore_sigpipe() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = no_sigpipe;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, nullptr);
}
}  // namespace sbx::core
