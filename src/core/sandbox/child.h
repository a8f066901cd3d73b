// The sandbox side of a spawn: runs in the cloned process, walks the Spec in C++ and ends in
// execve or _exit. No Lua runs here. Failures go to the parent over the sync socket.
#pragma once
#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "core/sandbox/spec.h"
#include "core/security/caps.h"

namespace sbx::core {

struct ChildChannels {
  int sync = -1;                // SOCK_SEQPACKET: parent sends "go", child sends one failure record
  int status = -1;              // pipe write end: the init writes the payload's exit status here
  int stdio[3] = {-1, -1, -1};  // fds to become 0, 1, 2 (-1: inherit)
  bool tty = false;             // 0 is a terminal: a new session, with it as the controlling tty
  bool own_pty = false;  // allocate that terminal from the sandbox's /dev/ptmx, send the master
  int console = -1;      // ... to this OCI console socket (with the pty's name) instead of on sync
  unsigned short tty_rows = 0, tty_cols = 0;  // its window size (0: unset)
  std::vector<std::string> seccomp;  // compiled filters (by the supervisor), installed last
  unsigned seccomp_flags = 0;        // SECCOMP_FILTER_FLAG_* they are installed with
  std::string seccomp_notify;  // the notify rules' own filter: installed early, its listener sent
                               // ('S'); empty: none
  std::vector<int> keep_fds;   // passed to the payload at the same numbers
  std::optional<std::vector<int>>
      caps;                            // capabilities kept (parsed by the supervisor), or unchanged
  std::optional<CapNumbers> cap_sets;  // with caps: the other sets (Spec::cap_sets)
  int join_mnt = -1;                   // a mount namespace to enter first (Spec::join mnt), or -1
  std::vector<int> op_trees;  // per op: its idmapped copy of the source (Op::uid_map), or -1
  std::string stage;          // directory the new root is assembled on
  std::string start_fifo;     // created mode: say 'R' on sync, wait for a reader of this FIFO, exec
  bool has_mask = false;      // the caller's signal mask before set-up blocked INT/TERM/HUP/QUIT:
  sigset_t mask{};            // what the payload starts with
};

// A failure record on the sync socket: errno then the message (step, object, cause).
struct FailureHeader {
  int32_t err;
};

[[noreturn]] void run_child(const Spec& spec, const ChildChannels& ch);
// `sbx exec`: joins every namespace of sandbox pid `target`, forks into its pid namespace and
// execs spec.argv there (env, cwd, uid, gid from spec); the forked middle passes the end on.
[[noreturn]] void run_entered_child(pid_t target, const Spec& spec, const ChildChannels& ch);

}  // namespace sbx::core
