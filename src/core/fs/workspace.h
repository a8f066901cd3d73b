// Workspaces: a host directory seen in a sandbox through an overlay whose upper directory keeps
// every change (the host's directory is the lower: never written during the run). Afterwards, what
// changed, and chosen changes applied to the host directory - each file written beside its target
// and renamed over it, deletions as deletions, symlinks recreated and never followed, setuid and
// setgid bits dropped, device nodes refused, and nothing applied over a host file that changed
// after the run started.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

struct WorkspaceChange {
  // 'A' added, 'M' modified (contents, link target or type), 'D' deleted, 'C' mode changed only
  char kind = 'M';
  std::string path;  // relative to the workspace, no leading '/'
  std::string
      type;  // file, dir, symlink, device, fifo, socket: the new entry's ('D': the old one's)
  std::string old_type;             // 'M': the host entry's type ("" for the others)
  uint32_t mode = 0, old_mode = 0;  // permission bits (07777)
  uint64_t size = 0, old_size = 0;
  std::string target;  // a symlink's target
};

// What the upper directory of a workspace overlay changed against its lower (the host directory),
// sorted by path. Whiteouts are deletions; an opaque directory deletes the lower entries it does
// not have; a file copied up but left as it was (same bytes and mode) is no change. Nothing is
// followed.
Result<std::vector<WorkspaceChange>> workspace_changes(const std::string& upper,
                                                       const std::string& lower);

struct PromoteOutcome {
  std::string path;
  bool applied = false;
  std::string why;  // when not applied
};

// Applies `chosen` (from workspace_changes) from `upper` to the host directory `host`. Every target
// is checked first: an entry that was added on the host, removed from it, or changed there (its
// ctime after `started_ns`, workspace_start_mark() when the run started) since the run
// started, a symlink or a file on the way to it, or a device node to write: an error naming each
// one, and nothing applied. New entries are owned by the owner of the host directory they land in;
// replaced ones keep their owner.
Result<std::vector<PromoteOutcome>> promote_changes(const std::string& upper,
                                                    const std::string& host,
                                                    const std::vector<WorkspaceChange>& chosen,
                                                    int64_t started_ns);

// The coarse realtime clock, in nanoseconds (the clock ctimes come from).
int64_t coarse_now_ns();
// A run's start mark: the coarse clock's reading, taken before its sandbox is spawned. The spawn
// lets the payload go only once that tick has passed (wait_past_tick: setup usually outlasts a
// tick, so nothing is waited for), so a host change the payload could not have seen has a ctime
// after the mark, and one before it was visible to the payload through the live lower layer.
int64_t workspace_start_mark();
// Waits (at most a few ms) until the coarse clock has left the tick of `mark`.
void wait_past_tick(int64_t mark);

}  // namespace sbx::core
