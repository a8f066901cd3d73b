// The output of a detached sandbox, kept apart: its stdout and stderr go into two pipes, and a
// relay process appends what comes to DIR/log as it comes (sbx logs without options, and older
// readers) and a record per line to DIR/log.lines: "<unix time in ns> <1|2> <the line>\n" (sbx
// logs --timestamps, --since, --tail, and stderr written to stderr). The relay ends when every
// writer has closed its end.
#pragma once
#include <sys/types.h>

#include <string>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

struct LogRelay {
  pid_t pid = -1;
  Fd out, err;  // the write ends, for the sandbox's fds 1 and 2
};

Result<LogRelay> start_log_relay(const std::string& dir);

// This process's own copies of the write ends closed (and its fds 1, 2 pointed at /dev/null when
// they were the relay's), then the relay waited for, at most `timeout_ms` (a process that kept a
// copy, outside a pid namespace, would keep it going): what the sandbox wrote is on disk before
// its end is recorded. Safe to call when no relay was started.
void finish_log_relay(int timeout_ms = 1000);

// The relay of this process (become_supervisor's), for finish_log_relay.
void remember_log_relay(pid_t pid);

}  // namespace sbx::core
