// A long-running sandbox (`sbx run -d`, box:start()) is held by a supervisor that outlives the
// process that started it: the sbx binary re-executed as `sbx --supervise DIR FD LOCKFD` (no Lua
// stays in it), a grandchild so that nobody has to reap it. It reports once on fd FD, "ok PID"
// or "error MESSAGE" (see supervise.h), and holds the directory's lock LOCKFD for its life.
#pragma once
#include <sys/types.h>

#include <string>

#include "core/base/result.h"
#include "core/sandbox/spec.h"

namespace sbx::core {

// Starts the supervisor of `spec` for sandbox directory `dir` (its plan.json already written),
// handing it `lock_fd` (-1: none), and waits for its report: the sandbox's pid, or why it did not
// start. Loaded as a module into another program (not the sbx binary), the supervisor is a fork
// of this process instead of a new sbx.
Result<pid_t> start_detached(const Spec& spec, const std::string& dir, int lock_fd);

}  // namespace sbx::core
