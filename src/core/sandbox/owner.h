// Who made a host resource. sbx names what it makes on the host after the pid of the process that
// made it (cgroup sbx-PID-N, veth sbxPID-N and its files, leases, containers/PID-N); a pid alone
// cannot tell a dead owner from a recycled pid, so before its first such resource a process records
// its identity (boot id + start time) in <runtime dir>/owners/PID. The owner is alive exactly while
// that record matches the process now holding PID.
#pragma once
#include <sys/types.h>

#include "core/base/result.h"

namespace sbx::core {

// Records this process as an owner (once per process; a fork records itself again). A record left
// by a dead process with the same pid means its leftovers carry our names: they are collected first
// (gc.h: collect_leftovers) so that nothing of it can be taken for ours.
Status register_owner();
// True while pid's record matches the process with that pid. Without a record (a resource of an
// sbx older than the records) the pid's liveness decides, as before.
bool owner_alive(pid_t pid);
// Removes the records of owners that are gone; returns how many.
int forget_dead_owners();

}  // namespace sbx::core
