// Fault injection for the tests, compiled in and inert unless SBX_FAULT is set:
//   SBX_FAULT=STEP[:N][=ERRNO]   the Nth time (default: the first) step STEP runs, it fails with
//                                ERRNO (a number or a name such as ENOSPC; default EIO)
// as if the system call under it had failed. Every set-up step that creates or changes something on
// the host has a name here; the tests walk them all and check that each failure is reported by name
// and leaves the host as it was.
#pragma once
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

struct FaultStep {
  const char* name;  // "cgroup.mkdir"
  // what exercises it: "plain", "limits", "devices", "bridge", "image", "detached"
  const char* shape;
  const char* what;  // one line for people
};
const std::vector<FaultStep>& fault_steps();

// 0, or the errno step `name` must fail with now.
int fault(const char* name);
// The error a faulted step reports: "WHAT: CAUSE [injected: NAME]".
Error fault_error(const char* name, const std::string& what, int err);

}  // namespace sbx::core
