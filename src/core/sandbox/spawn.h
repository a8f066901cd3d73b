// The supervisor side of a spawn: clone the child, write its id maps, let it go, learn whether
// its setup reached execve, and wait for its exit status.
#pragma once
#include <sys/types.h>

#include <optional>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"
#include "core/cgroup/cgroup.h"
#include "core/net/bridge.h"
#include "core/sandbox/spec.h"

namespace sbx::core {

struct SpawnIo {
  int stdio[3] = {-1, -1, -1};  // fds for the payload's 0, 1, 2; -1 inherits the supervisor's
  bool tty =
      false;  // stdio is a terminal: the payload gets a new session with it as controlling tty
  // With tty: the sandbox allocates the pty from its own /dev/ptmx (so `tty` inside names it) and
  // hands the master back; the Sandbox then holds it (take_tty()).
  bool own_pty = false;
  // With own_pty, an OCI console socket (connected; --console-socket): the master goes there, with
  // the pty's name as the message, instead of back to the Sandbox. -1: none.
  int console = -1;
  // With own_pty: the window size set on it before the payload runs (0: left as the kernel makes
  // it).
  unsigned short tty_rows = 0, tty_cols = 0;
  std::vector<int>
      keep_fds;  // fds (>= 3) the payload keeps at the same numbers; every other fd closes
  // "Created" (OCI create): spawn returns once everything is set up; the payload then waits until
  // a reader opens this FIFO (OCI start) and execs. Needs die_with_parent = false: the sandbox
  // outlives the caller (release() the Sandbox).
  std::string start_fifo;
};

struct ExitStatus {
  int code = -1;   // exit code when it exited
  int signal = 0;  // signal number when a signal ended it
  // What a shell reports: the code, or 128+N for signal N.
  int shell_code() const { return signal ? 128 + signal : code; }
};

// A running sandbox, owned: the destructor kills and reaps it if it was not waited for.
// Reaps the inits whose sandboxes ended by their word (Sandbox::wait returned before their own
// exit finished): spawn does it first, a process that outlives its sandboxes may call it.
void reap_told_inits();

class Sandbox {
 public:
  Sandbox() = default;
  Sandbox(pid_t pid, Fd pidfd, Fd status);
  Sandbox(Sandbox&& o) noexcept;
  Sandbox& operator=(Sandbox&& o) noexcept;
  ~Sandbox();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool running() const { return pid_ > 0 && !exit_; }
  const std::optional<ExitStatus>& exit_status() const { return exit_; }

  // Blocks until the sandbox ends (nohang: returns nullopt-filled result if still running).
  Result<std::optional<ExitStatus>> wait(bool nohang = false);
  // Sends a signal to the sandbox's first process (its init when it has a pid namespace).
  Status kill(int sig);
  // The sandbox's own cgroup (when it has limits); removed once the sandbox is reaped.
  const std::optional<Cgroup>& cgroup() const { return cgroup_; }
  void set_cgroup(Cgroup cg) { cgroup_ = std::move(cg); }
  // Stats and events as of the sandbox's end (read just before its group was removed).
  const std::optional<CgroupStat>& final_stat() const { return final_stat_; }
  // Its place on a host bridge (address, ports); released once the sandbox is reaped.
  const std::optional<BridgeAttachment>& net() const { return net_; }
  void set_net(BridgeAttachment at) { net_ = std::move(at); }
  // Its user-mode network (rootless): the tool is ended once the sandbox is reaped.
  const std::optional<UserNetAttachment>& user_net() const { return user_net_; }
  void set_user_net(UserNetAttachment at) { user_net_ = std::move(at); }
  // The master side of a pty the sandbox allocated itself (SpawnIo::own_pty).
  Fd take_tty() { return std::move(tty_); }
  void set_tty(Fd fd) { tty_ = std::move(fd); }
  // The listener of its seccomp filter's notify rules (SECCOMP_RET_USER_NOTIF), when it has some.
  Fd take_seccomp_listener() { return std::move(seccomp_listener_); }
  int seccomp_listener_fd() const { return seccomp_listener_.get(); }
  void set_seccomp_listener(Fd fd) { seccomp_listener_ = std::move(fd); }
  // Hands the sandbox on (an OCI create): not killed, waited for or its group removed by this
  // object any more. Returns its pid.
  pid_t release();
  const std::optional<CgroupEvents>& final_events() const { return final_events_; }

 private:
  void reap_now();
  pid_t pid_ = -1;
  pid_t owner_ = -1;
  Fd pidfd_;
  Fd status_;
  std::optional<ExitStatus> exit_;
  std::optional<Cgroup> cgroup_;
  std::optional<CgroupStat> final_stat_;
  std::optional<CgroupEvents> final_events_;
  std::optional<BridgeAttachment> net_;
  std::optional<UserNetAttachment> user_net_;
  Fd tty_;
  Fd seccomp_listener_;
};

// Validates the spec, starts it, and returns once the payload has been exec'd (or the setup
// failed: then the error names the step, e.g. "bind /srv/data on /data: No such file...").
// Check::process: the plan part was validated when the plan was made (core.plan); only the
// process part (argv, env, cwd, uid, gid) is checked here.
enum class Check { all, process };
Result<Sandbox> spawn(const Spec& spec, const SpawnIo& io = {}, Check check = Check::all);

// `sbx exec`: a new process in every namespace of the running sandbox whose init (or first
// process) is `target`, in its cgroup when `cgroup` is given, running spec.argv with spec's env,
// cwd, uid and gid. Returns once it was exec'd (or why not), like spawn.
Result<Sandbox> enter(pid_t target, const Spec& spec, const SpawnIo& io = {},
                      const std::string& cgroup = "");

// The directory new roots are assembled on, created on first use (see runtime_dir()).
Result<std::string> stage_dir();

// Each resource records the pid that made it; a forked child (sbx.sys.clone) never cleans up
// its parent's sandboxes, mounts or files.
bool owned_by_this_process(pid_t owner);

}  // namespace sbx::core
