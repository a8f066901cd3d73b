// The supervisor of a long-running sandbox (`sbx run -d`, box:start()): a process of its own,
// with no Lua state, that starts the sandbox with its output going to DIR/log, records what it
// is in DIR/state.json, forwards TERM/INT/HUP to it, and when it ends records the exit status
// and releases its cgroup and network.
#pragma once
#include <optional>
#include <string>

#include "core/base/result.h"
#include "core/sandbox/spawn.h"
#include "core/sandbox/spec.h"

namespace sbx::core {

// Runs until the sandbox ends. `report_fd` (-1: none) gets "ok PID" or "error MESSAGE" once the
// sandbox runs or failed to start. Returns the supervisor's exit code.
int supervise(const Spec& spec, const std::string& dir, int report_fd);

// The same supervisor's steps for one of another kind (a fork of a Lua process that keeps its
// handlers: a detached sandbox with a policy, lua/sbx/sandboxes.lua). First: a session of its own,
// / as cwd, SIGPIPE ignored, stdin /dev/null, stdout and stderr appended to DIR/log.
Status become_supervisor(const std::string& dir);
// DIR/state.json says "running" (the sandbox's and this supervisor's pids and identities, its
// cgroup, address and ports), then "exited" (code or signal, memory peak, cpu time).
Status record_running(const std::string& dir, const Sandbox& box);
Status record_exited(const std::string& dir, const Sandbox& box,
                     const std::optional<ExitStatus>& es);

}  // namespace sbx::core
