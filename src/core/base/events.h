// What an event loop waits on: an epoll set, and the kernel's ways of saying that something about
// a sandbox changed — a file the kernel rewrites (a cgroup's memory.events, pids.events: inotify),
// cgroup v1's eventfd notifications (cgroup.event_control) and pressure-stall triggers (PSI).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

// Which readiness a source reports: data to read, or an exceptional condition (a PSI trigger).
enum class Readiness { in, pri };

// A source of notifications: its fd, what the kernel reports through it, and what it watches (for
// errors). A pressure trigger's readiness is "pri", the others' "in".
struct Watch {
  enum class Kind { inotify, eventfd, pressure };
  Fd fd;
  Kind kind = Kind::inotify;
  std::string what;
  Readiness ready() const { return kind == Kind::pressure ? Readiness::pri : Readiness::in; }
};

// inotify on one file, reporting modifications (kernfs reports its counters' changes this way).
Result<Watch> watch_file_changes(const std::string& path);
// cgroup v1: an eventfd registered in DIR/cgroup.event_control for DIR/FILE with ARGS
// (memory.oom_control, memory.pressure_level "medium", memory.usage_in_bytes "<bytes>").
Result<Watch> cgroup_v1_event(const std::string& dir, const std::string& file,
                              const std::string& args);
// A PSI trigger ("some 150000 1000000": stall and window in microseconds) on a pressure file
// (a cgroup v2 group's memory/cpu/io.pressure, or /proc/pressure/*).
Result<Watch> pressure_trigger(const std::string& path, const std::string& trigger);
// "some 150ms/1s" (or "full 1s/10s", microseconds "some 150000 1000000") -> the kernel's text;
// the window must be 500 ms..10 s and the stall at most the window, as the kernel demands.
Result<std::string> parse_pressure(const std::string& text);
// Consumes what made the fd ready; returns how many notifications it held (0: nothing yet).
Result<uint64_t> drain(const Watch& w);

// An epoll set: fds added with a readiness and a caller's token; wait returns the ready ones.
class Poller {
 public:
  static Result<Poller> create();
  Status add(int fd, Readiness r, uint64_t token);
  Status remove(int fd);
  struct Ready {
    uint64_t token;
    bool in, pri, hup, err;
  };
  // timeout_ms < 0: until something is ready. EINTR is an error (errno EINTR): a signal the
  // caller must see (Ctrl-C at the prompt).
  Result<std::vector<Ready>> wait(int timeout_ms);
  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
};

}  // namespace sbx::core
