// The supervisor of a long-running sandbox (`sbx run -d`, box:start()): a process of its own,
// with no Lua state, that starts the sandbox with its output going to DIR/log, records what it
// is in DIR/state.json, forwards TERM/INT/HUP to it, and when it ends records the exit status
// and releases its cgroup and network.
#pragma once
#include <string>

#include "core/sandbox/spec.h"

namespace sbx::core {

// Runs until the sandbox ends. `report_fd` (-1: none) gets "ok PID" or "error MESSAGE" once the
// sandbox runs or failed to start. Returns the supervisor's exit code.
int supervise(const Spec& spec, const std::string& dir, int report_fd);

}  // namespace sbx::core
