// PID 1 of a sandbox's pid namespace: reaps orphans, forwards signals to the payload and exits
// with the payload's status (also written to the supervisor as {code, signal, settled}).
#pragma once
#include <signal.h>
#include <sys/types.h>

#include <cstddef>

namespace sbx::core {

struct ExitRecord {
  int32_t code;     // exit code, or -1 when killed
  int32_t signal;   // terminating signal, or 0
  int32_t settled;  // 1: no other process of the pid namespace is left, not even as a zombie
};

// The signals an init blocks and forwards (everything catchable but SIGCHLD, which it handles).
void init_signal_set(sigset_t* set);

[[noreturn]] void run_init(pid_t payload, int status_fd);

// The sbx binary registers its argv memory so that the init, which is a fork of sbx, can show
// itself as "sbx-init" in /proc/1/cmdline instead of the supervisor's command line (host paths).
void set_title_area(char* start, size_t length);

}  // namespace sbx::core
