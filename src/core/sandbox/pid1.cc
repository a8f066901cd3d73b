#include "core/sandbox/pid1.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/trace.h"

namespace sbx::core {

namespace {
char* g_title = nullptr;
size_t g_title_length = 0;
}  // namespace

void set_title_area(char* start, size_t length) {
  g_title = start;
  g_title_length = length;
}

void init_signal_set(sigset_t* set) {
  sigfillset(set);
  sigdelset(set, SIGKILL);
  sigdelset(set, SIGSTOP);
  // Faults must stay deliverable so a bug in the init is not an endless loop.
  sigdelset(set, SIGSEGV);
  sigdelset(set, SIGBUS);
  sigdelset(set, SIGFPE);
  sigdelset(set, SIGILL);
}

void run_init(pid_t payload, int status_fd) {
  prctl(PR_SET_NAME, "sbx-init");
  if (g_title && g_title_length > sizeof "sbx-init") {
    std::memset(g_title, 0, g_title_length);
    std::memcpy(g_title, "sbx-init", sizeof "sbx-init");
  }
  sigset_t set;
  init_signal_set(&set);  // already blocked by the child before the fork, so nothing is lost
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      _exit(125);
    }
    if (sig == SIGCHLD) {
      int st = 0;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p != payload) continue;  // an orphan reparented to us: reaped, nothing more
        ExitRecord rec{-1, 0, 0};
        if (WIFEXITED(st)) rec.code = WEXITSTATUS(st);
        if (WIFSIGNALED(st)) rec.signal = WTERMSIG(st);
        trace::mark("init: payload reaped", "the rest killed and reaped");
        // Everything else in the pid namespace ends (and is reaped) before the status is told:
        // a supervisor that returns on it leaves no process of the sandbox running, only this
        // init's own exit (its namespaces' teardown), which is the kernel's from here on.
        (void)::kill(-1, SIGKILL);
        while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
        }
        // (a process that joined from outside, sbx exec's, is not ours to reap: while one is
        // left, even dying, the supervisor waits for this init's end as before)
        rec.settled = ::kill(-1, 0) != 0 && errno == ESRCH;
        trace::mark("init: the pid namespace empty");
        if (status_fd >= 0) (void)!write(status_fd, &rec, sizeof rec);
        _exit(rec.signal ? 128 + rec.signal : rec.code);
      }
      continue;
    }
    // Signals the terminal sent to the whole foreground group already reached the payload.
    if (info.si_code == SI_KERNEL) continue;
    if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) continue;
    kill(payload, sig);
  }
}

}  // namespace sbx::core
